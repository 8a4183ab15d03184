"""Serving solver and predict_inference: hand-derived formulas, composition rules, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import blackwell_model as bm
from blackwell_model.errors import InfeasibleLayoutError, SpecError, UnsupportedPrecisionError
from blackwell_model.parallel.inference import InferenceLayout
from blackwell_model.predict.inference import (
    InferenceCurve,
    InferenceReport,
    inference_sweep,
    predict_inference,
)
from blackwell_model.solvers.serving import (
    DECODE_BREAKDOWN_KEYS,
    InferenceEfficiency,
    InferenceMemoryModel,
    ServingSolver,
    context_points,
    continuous_serving,
    static_serving,
)

# H100 SXM datasheet: 3.35 TB/s HBM3, 989.4 TFLOP/s dense BF16, 80 GB (nvidia-smi: 81559 MiB).
H100_BW = 3.35e12
H100_BF16 = 989.4e12


@pytest.fixture(scope="module")
def dgx_h100() -> bm.Cluster:
    return bm.catalog.cluster("DGX-H100", gpus=8)


def _solver(
    model: str, cluster: bm.Cluster, precision: str = "bf16", kv: str | None = None, **lay: int
) -> ServingSolver:
    return ServingSolver(bm.catalog.model(model), cluster, InferenceLayout(**lay), precision, kv)


# ------------------------------------------------------------------- KV cache and weights
def test_kv_cache_gqa_heads_split_over_tp(dgx_h100: bm.Cluster) -> None:
    # Llama 2 70B: 80 layers, 8 KV heads of 128; tp=2 keeps 4 heads, K and V, 1 B in FP8
    s = _solver("llama2-70b", dgx_h100, "fp8", "fp8", tp=2)
    assert s.kv_bytes_per_sequence(1000.0)[0] == pytest.approx(80 * 4 * 2 * 128 * 1 * 1000)


def test_kv_cache_replicated_when_tp_exceeds_kv_heads() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=16)
    s = _solver("llama2-70b", cluster, "fp8", "fp8", tp=16)
    assert s.kv_bytes_per_sequence(10.0)[0] == pytest.approx(80 * 1 * 2 * 128 * 10)


def test_kv_cache_mla_latent_replicated_over_tp() -> None:
    # DeepSeek-V3: 61 layers, latent 512 + rope 64 per token, BF16, on every TP rank
    cluster = bm.catalog.cluster("DGX-H200", gpus=8)
    s = _solver("deepseek-v3", cluster, "fp8", "bf16", tp=8)
    assert s.kv_bytes_per_sequence(100.0)[0] == pytest.approx(61 * 576 * 2 * 100)


def test_kv_cache_sliding_window_layers_keep_the_window(dgx_h100: bm.Cluster) -> None:
    model = bm.catalog.model("gpt-oss-120b")
    s = ServingSolver(model, dgx_h100, InferenceLayout(tp=8), "fp8", "bf16")
    w = model.sliding_window
    windowed = sum(model.is_sliding_layer(i) for i in range(model.layers))
    full = model.layers - windowed
    per = max(1, model.n_kv_heads // 8) * 2 * model.qk_dim * 2
    c = 4 * w
    assert s.kv_bytes_per_sequence(float(c))[0] == pytest.approx(per * (full * c + windowed * w))


def test_weights_tp1_are_all_parameters(dgx_h100: bm.Cluster) -> None:
    model = bm.catalog.model("llama2-7b")
    s = _solver("llama2-7b", dgx_h100, "bf16", tp=1)
    assert s.memory_parts(1.0, 10, 10)["weights"] == pytest.approx(model.total_params * 2)


def test_weights_tp_shards_matrices_and_replicates_norms(dgx_h100: bm.Cluster) -> None:
    m = bm.catalog.model("llama2-7b")
    s = _solver("llama2-7b", dgx_h100, "bf16", tp=2)
    sharded = (
        m.layers * (m.attention_params + m.dense_mlp_params) + m.embedding_params + m.lm_head_params
    )
    replicated = m.layers * m.block_norm_params + m.norm_params
    assert s.memory_parts(1.0, 10, 10)["weights"] == pytest.approx((sharded / 2 + replicated) * 2)


def test_moe_weights_spread_over_ep(dgx_h100: bm.Cluster) -> None:
    m = bm.catalog.model("mixtral-8x7b")
    one = _solver("mixtral-8x7b", dgx_h100, "fp8", tp=1).memory_parts(1.0, 1, 1)["weights"]
    ep8 = _solver("mixtral-8x7b", dgx_h100, "fp8", tp=1, dp=8, ep=8).memory_parts(1.0, 1, 1)[
        "weights"
    ]
    experts_bytes = m.n_moe_layers * m.experts * m.expert_params * 1.0
    assert one - ep8 == pytest.approx(experts_bytes * (1 - 1 / 8))


# ------------------------------------------------------------------------- decode and prefill
def test_decode_batch1_reads_the_weights_once(dgx_h100: bm.Cluster) -> None:
    # a batch-1 decode step is memory-bound: time ~ weight bytes / achievable bandwidth
    model = bm.catalog.model("llama2-7b")
    s = _solver("llama2-7b", dgx_h100, "bf16", tp=1)
    t = float(s.decode_step(1, 16).time_s)
    weights_s = model.total_params * 2 / H100_BW
    assert weights_s < t < weights_s / 0.9 * 1.05


def test_decode_moe_batch1_reads_only_touched_experts(dgx_h100: bm.Cluster) -> None:
    # one token touches experts_per_token experts: the bytes read are the active weights
    m = bm.catalog.model("mixtral-8x7b")
    s = _solver("mixtral-8x7b", dgx_h100, "fp8", tp=1)
    busy = float(s.decode_step(1, 16).memory_busy_s)
    # FP8 GEMM weights (1 B) plus the BF16 router (2 B), read at 90 % of peak
    active_bytes = m.active_matmul_params * 1.0 + m.n_moe_layers * m.router_params * 1.0
    assert busy == pytest.approx(active_bytes / (0.9 * H100_BW), rel=0.03)
    all_bytes = m.total_params * 1.0
    assert busy < 0.5 * all_bytes / H100_BW


def test_decode_step_grows_linearly_with_context_when_kv_bound(dgx_h100: bm.Cluster) -> None:
    s = _solver("llama2-7b", dgx_h100, "bf16", tp=1)
    t = [float(s.decode_step(64, c).time_s) for c in (4000, 6000, 8000)]
    assert t[2] - t[1] == pytest.approx(t[1] - t[0], rel=1e-6)
    # KV slope: 64 sequences x 2000 tokens x 32 layers x 2 x 4096 x 2 B at 90 % of HBM
    slope = 64 * 2000 * 32 * 2 * 4096 * 2 / (0.9 * H100_BW)
    assert t[2] - t[1] == pytest.approx(slope, rel=0.01)


def test_prefill_is_compute_bound_at_long_prompts(dgx_h100: bm.Cluster) -> None:
    model = bm.catalog.model("llama2-7b")
    eff = InferenceEfficiency(prefill_overhead_s=0.0)
    s = ServingSolver(model, dgx_h100, InferenceLayout(tp=1), "bf16", efficiency=eff)
    t = float(s.prefill(1, 8192).time_s)
    ideal = model.forward_flops_per_token(8192, causal=True) * 8192 / H100_BF16
    assert ideal < t < ideal / 0.5


def test_pipeline_costs_latency_at_batch_one(dgx_h100: bm.Cluster) -> None:
    one = _solver("llama2-70b", dgx_h100, "fp8", tp=4)
    two = _solver("llama2-70b", dgx_h100, "fp8", tp=4, pp=2)
    assert float(two.decode_step(1, 100).time_s) >= float(one.decode_step(1, 100).time_s)


def test_context_points_weights_and_exactness() -> None:
    for n in (1, 2, 50, 129, 2048):
        ctx, w = context_points(128, n)
        assert w.sum() == pytest.approx(n - 1)
        # exact for a linear function of the context: sum over steps of (128 + i)
        assert (ctx * w).sum() == pytest.approx(sum(128 + i for i in range(1, n)))


# ------------------------------------------------------------------------------ serving modes
def test_static_single_token_throughput_is_batch_over_prefill(dgx_h100: bm.Cluster) -> None:
    s = _solver("llama2-7b", dgx_h100, "bf16", tp=1)
    r = static_serving(s, np.array([8.0]), 512, 1)
    assert r.tokens_per_s[0] == pytest.approx(8 / r.ttft_s[0])
    assert r.tpot_s[0] == 0.0


def test_static_throughput_formula(dgx_h100: bm.Cluster) -> None:
    s = _solver("llama2-7b", dgx_h100, "bf16", tp=1)
    b, isl, osl = 16, 100, 20
    r = static_serving(s, b, isl, osl)
    steps = sum(float(s.decode_step(b, isl + i).time_s) for i in range(1, osl))
    total = float(s.prefill(b, isl).time_s) + steps
    assert r.tokens_per_s[0] == pytest.approx(b * osl / total)
    assert r.tpot_s[0] == pytest.approx(steps / (osl - 1))


def test_continuous_throughput_formula(dgx_h100: bm.Cluster) -> None:
    s = _solver("llama2-7b", dgx_h100, "bf16", tp=1)
    r = continuous_serving(s, 32, 200, 101)
    assert r.tokens_per_s[0] == pytest.approx(32 * 101 / (100 * r.tpot_s[0]))
    step = float(s.decode_step(32, 200 + 101 / 2).time_s)
    assert r.tpot_s[0] == pytest.approx(step + 32 / 100 * s.prefill_per_request_s(200))


@pytest.mark.parametrize("batch", [None, 8])
def test_report_parts_add_up(dgx_h100: bm.Cluster, batch: int | None) -> None:
    rep = predict_inference(
        "mixtral-8x7b",
        dgx_h100,
        InferenceLayout(tp=2, ep=2),
        batch=batch,
        input_tokens=512,
        output_tokens=256,
        precision="fp8",
    )
    assert isinstance(rep, InferenceReport)
    total = sum(v.m for v in rep.decode_breakdown.values())
    assert total == pytest.approx(rep.time_per_output_token.m)
    assert set(rep.decode_breakdown) == {*DECODE_BREAKDOWN_KEYS, "prefill"}
    assert rep.decode_breakdown["ep_comm"].m > 0
    assert all(0.0 <= v <= 1.0 for v in rep.decode_busy.values())
    assert all(0.0 <= v <= 1.0 for v in rep.prefill_busy.values())
    assert rep.decode_time.m == pytest.approx(255 * rep.time_per_output_token.m)
    assert rep.memory.total_B == pytest.approx(
        rep.memory.weights_B + rep.memory.kv_cache_B + rep.memory.activations_B
    )
    assert rep.to_dict()["batch"] == rep.batch
    assert "time per output token" in rep.summary()


def test_data_parallel_replicas_multiply_throughput() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    kw: dict[str, Any] = dict(batch=16, input_tokens=128, output_tokens=64, precision="fp8")
    one = predict_inference("llama2-7b", cluster, InferenceLayout(tp=1), **kw)
    four = predict_inference("llama2-7b", cluster, InferenceLayout(tp=1, dp=4), **kw)
    assert four.output_tokens_per_second.m == pytest.approx(4 * one.output_tokens_per_second.m)
    assert four.time_per_output_token.m == pytest.approx(one.time_per_output_token.m)
    assert four.output_tokens_per_second_per_gpu.m == pytest.approx(
        one.output_tokens_per_second_per_gpu.m
    )
    assert four.concurrent_requests == 64


def test_batch_none_is_the_largest_that_fits(dgx_h100: bm.Cluster) -> None:
    rep = predict_inference(
        "llama2-70b",
        dgx_h100,
        InferenceLayout(tp=4),
        input_tokens=2048,
        output_tokens=512,
        precision="fp8",
        kv_precision="fp8",
    )
    assert not rep.static
    assert rep.fits
    s = _solver("llama2-70b", dgx_h100, "fp8", "fp8", tp=4)
    assert s.memory_needed_B(float(rep.batch + 1), 2048, 512) > s.usable_B
    # the usable share follows the documented utilisation
    assert rep.memory.usable_B == pytest.approx(0.95 * 81559 * 2**20)


def test_memory_utilization_is_explicit(dgx_h100: bm.Cluster) -> None:
    kw: dict[str, Any] = dict(input_tokens=2048, output_tokens=512, precision="fp8")
    big = predict_inference("llama2-70b", dgx_h100, InferenceLayout(tp=4), **kw)
    small = predict_inference(
        "llama2-70b",
        dgx_h100,
        InferenceLayout(tp=4),
        memory=InferenceMemoryModel(memory_utilization=0.9),
        **kw,
    )
    assert small.batch < big.batch


# ---------------------------------------------------------------------------------- sweeps
def test_sweep_curve_and_best_under(dgx_h100: bm.Cluster) -> None:
    curve = inference_sweep(
        "llama3-70b",
        dgx_h100,
        InferenceLayout(tp=8),
        input_tokens=1000,
        output_tokens=1000,
        precision="fp8",
    )
    assert isinstance(curve, InferenceCurve)
    assert curve.batch[0] == 1 and curve.batch[-1] == curve.max_batch
    assert np.all(np.diff(curve.tpot_s) >= 0)  # bigger batches never decode faster
    assert np.allclose(curve.tokens_per_second_per_user, 1 / curve.tpot_s)
    p = curve.best_under("40 ms")
    assert p.time_per_output_token.m <= 0.040
    ok = curve.tpot_s <= 0.040
    assert p.tokens_per_second_per_gpu.m == pytest.approx(curve.tokens_per_second_per_gpu[ok].max())
    q = curve.best_under(min_tokens_per_second_per_user=25)
    assert q.tokens_per_second_per_user.m >= 25
    with pytest.raises(InfeasibleLayoutError, match="no batch meets") as info:
        curve.best_under("10 us")
    assert info.value.rule == "latency"


def test_sweep_explicit_batches_static(dgx_h100: bm.Cluster) -> None:
    curve = inference_sweep(
        "llama2-7b",
        dgx_h100,
        InferenceLayout(tp=1),
        input_tokens=128,
        output_tokens=128,
        precision="fp8",
        batches=[1, 4, 16],
        static=True,
    )
    rep = predict_inference(
        "llama2-7b",
        dgx_h100,
        InferenceLayout(tp=1),
        batch=16,
        input_tokens=128,
        output_tokens=128,
        precision="fp8",
    )
    assert curve.static and len(curve) == 3
    assert curve.tokens_per_second_per_gpu[-1] == pytest.approx(
        rep.output_tokens_per_second_per_gpu.m
    )
    with pytest.raises(SpecError, match="batches must be integers >= 1"):
        inference_sweep(
            "llama2-7b",
            dgx_h100,
            InferenceLayout(tp=1),
            input_tokens=1,
            output_tokens=1,
            batches=[0, 2],
        )


# ---------------------------------------------------------------------------------- errors
def test_batch_that_does_not_fit_names_bytes(dgx_h100: bm.Cluster) -> None:
    with pytest.raises(InfeasibleLayoutError, match=r"needs .* per GPU .* offers 81.24 GB") as info:
        predict_inference(
            "llama2-70b",
            dgx_h100,
            InferenceLayout(tp=2),
            batch=4096,
            input_tokens=2048,
            output_tokens=2048,
            precision="fp8",
        )
    assert info.value.rule == "memory"
    assert "kv_cache" in str(info.value)


def test_batch_none_when_nothing_fits() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    with pytest.raises(InfeasibleLayoutError, match="batch 1 ") as info:
        predict_inference(
            "llama3-405b", cluster, InferenceLayout(tp=1), input_tokens=128, output_tokens=128
        )
    assert info.value.rule == "memory"


@pytest.mark.parametrize("field", ["input_tokens", "output_tokens"])
@pytest.mark.parametrize("value", [0, -5, 1.5])
def test_lengths_must_be_positive_integers(dgx_h100: bm.Cluster, field: str, value: float) -> None:
    kw: dict[str, Any] = {"input_tokens": 128, "output_tokens": 128, field: value}
    with pytest.raises(SpecError, match=f"{field} must be an integer >= 1 tokens, got"):
        predict_inference("llama2-7b", dgx_h100, InferenceLayout(), batch=1, **kw)


@pytest.mark.parametrize("batch", [0, -1, True, 2.0])
def test_batch_must_be_positive_integer(dgx_h100: bm.Cluster, batch: object) -> None:
    with pytest.raises(SpecError, match="batch must be an integer >= 1"):
        predict_inference(
            "llama2-7b",
            dgx_h100,
            InferenceLayout(),
            batch=batch,  # type: ignore[arg-type]
            input_tokens=1,
            output_tokens=1,
        )


def test_layout_the_model_cannot_divide(dgx_h100: bm.Cluster) -> None:
    with pytest.raises(InfeasibleLayoutError, match="tp = 3 must divide") as info:
        predict_inference(
            "llama2-7b", dgx_h100, InferenceLayout(tp=3), batch=1, input_tokens=8, output_tokens=8
        )
    assert info.value.rule == "tp_divides_heads"


def test_fp8_on_a100_is_refused() -> None:
    a100 = bm.catalog.cluster("DGX-A100", gpus=8)
    with pytest.raises(UnsupportedPrecisionError):
        predict_inference(
            "llama2-7b",
            a100,
            InferenceLayout(),
            batch=1,
            input_tokens=8,
            output_tokens=8,
            precision="fp8",
        )


def test_wrong_types_are_refused(dgx_h100: bm.Cluster) -> None:
    with pytest.raises(SpecError, match="layout must be an InferenceLayout"):
        predict_inference(
            "llama2-7b",
            dgx_h100,
            bm.Layout(global_batch=1, seq_len=8),  # type: ignore[arg-type]
            batch=1,
            input_tokens=8,
            output_tokens=8,
        )
    with pytest.raises(SpecError, match="cluster must be a Cluster"):
        predict_inference(
            "llama2-7b",
            "DGX-H100",  # type: ignore[arg-type]
            InferenceLayout(),
            batch=1,
            input_tokens=8,
            output_tokens=8,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("narrow_gemm", 0.0), ("step_overhead_s", -1.0), ("tp_overlap", 1.5)],
)
def test_efficiency_fields_are_validated(field: str, value: float) -> None:
    with pytest.raises(SpecError, match=field):
        InferenceEfficiency(**{field: value})  # type: ignore[arg-type]


def test_memory_model_fields_are_validated() -> None:
    with pytest.raises(SpecError, match="memory_utilization"):
        InferenceMemoryModel(memory_utilization=1.2)
    with pytest.raises(SpecError, match="prefill_chunk_tokens"):
        InferenceMemoryModel(prefill_chunk_tokens=0)


def test_decode_latency_term_dominates_small_tp_all_reduce(dgx_h100: bm.Cluster) -> None:
    # 2 all-reduces per layer of batch x hidden x 2 B: at batch 1 the alpha term dominates
    s = _solver("llama2-70b", dgx_h100, "fp8", tp=8)
    rep = static_serving(s, 1, 16, 2)
    per_ar = rep.breakdown["tp_comm"][0] / (2 * 80 + 2)
    assert 1e-6 < per_ar < 50e-6
    assert math.isfinite(per_ar)


def test_energy_hook_feeds_the_energy_model(dgx_h100: bm.Cluster) -> None:
    energy = pytest.importorskip("blackwell_model.solvers.energy")
    rep = predict_inference(
        "llama2-7b",
        dgx_h100,
        InferenceLayout(tp=1),
        batch=32,
        input_tokens=512,
        output_tokens=128,
        precision="fp8",
    )
    e = energy.inference_energy(
        dgx_h100,
        gpus=rep.gpus,
        output_tokens=rep.batch * rep.output_tokens,
        prefill_s=rep.prefill_time.m,
        decode_s=rep.decode_time.m,
        prefill_compute=rep.prefill_busy["tensor"],
        prefill_memory=rep.prefill_busy["memory"],
        decode_compute=rep.decode_busy["tensor"],
        decode_memory=rep.decode_busy["memory"],
    )
    assert e.energy_per_token.m > 0
