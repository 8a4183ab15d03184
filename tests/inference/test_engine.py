"""Engine behaviour (issue 13): limits, CUDA-graph padding, KV precision, weight formats,
MoE load imbalance, host time, energy fairness, frontier and sizing."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import InfeasibleLayoutError, SpecError, UnknownNameError
from blackwell_model.predict.inference import predict_inference
from blackwell_model.solvers.facility import cluster_power
from blackwell_model.solvers.serving import ServingSolver, default_kv_precision
from blackwell_model.solvers.serving_modes import continuous_serving
from blackwell_model.solvers.serving_params import (
    EngineLimits,
    InferenceEfficiency,
    weight_format,
)
from blackwell_model.solvers.serving_presets import serving_preset, trtllm_bench_limits

H100 = bm.catalog.cluster("DGX-H100", gpus=8)


def test_max_batch_size_and_token_limit_bound_the_operating_batch() -> None:
    model = bm.catalog.model("llama3-8b")
    free = ServingSolver(model, H100, bm.InferenceLayout(tp=1), "fp8")
    top = free.operating_batch(1000, 1000)
    capped = ServingSolver(
        model, H100, bm.InferenceLayout(tp=1), "fp8", limits=EngineLimits(max_batch_size=48)
    )
    assert capped.operating_batch(1000, 1000) == min(48, top)
    # B (1 + s_in / (n - 1)) <= max_num_tokens: 2048 / (1 + 8000/999) -> 227
    tok = ServingSolver(
        model, H100, bm.InferenceLayout(tp=1), "fp8", limits=EngineLimits(max_num_tokens=2048)
    )
    top_long = tok.max_batch(8000, 1000)  # its smaller workspace leaves more memory
    assert tok.operating_batch(8000, 1000) == min(int(2048 / (1 + 8000 / 999)), top_long)


def test_cuda_graph_padding_costs_gemm_time_not_attention() -> None:
    model = bm.catalog.model("llama3-8b")
    lay = bm.InferenceLayout(tp=1)
    plain = ServingSolver(model, H100, lay, "fp8")
    padded = ServingSolver(
        model, H100, lay, "fp8", limits=EngineLimits(cuda_graph_batch_sizes=(64, 128))
    )
    assert padded.padded_batch(np.array([65.0]))[0] == 128
    a = plain.decode_step(np.array([65.0]), np.array([2000.0]))
    b = padded.decode_step(np.array([65.0]), np.array([2000.0]))
    c = plain.decode_step(np.array([128.0]), np.array([2000.0]))
    assert a.time_s[0] <= b.time_s[0] <= c.time_s[0]
    # the KV-cache reads are those of the 65 real requests
    assert b.breakdown["kv_cache"][0] == pytest.approx(a.breakdown["kv_cache"][0], rel=0.05)


def test_engine_limits_validate() -> None:
    with pytest.raises(SpecError, match="max_batch_size"):
        EngineLimits(max_batch_size=0)
    with pytest.raises(SpecError, match="cuda_graph_batch_sizes"):
        EngineLimits(cuda_graph_batch_sizes=(0, 8))


def test_kv_precision_default_is_engine_like() -> None:
    assert default_kv_precision("fp8", bm.catalog.accelerator("H100-SXM")).value == "fp8"
    assert default_kv_precision("fp4", bm.catalog.accelerator("B200")).value == "fp8"
    assert default_kv_precision("bf16", bm.catalog.accelerator("H100-SXM")).value == "bf16"
    rep = predict_inference(
        "llama3-8b", H100, bm.InferenceLayout(tp=1), batch=8, input_tokens=100,
        output_tokens=10, precision="fp8",
    )  # fmt: skip
    assert rep.kv_precision.value == "fp8"
    assert "engine-like default" in rep.assumptions["kv_cache"]


def test_weight_format_block_scales_counted() -> None:
    # MXFP4: 4 bits + one 8-bit scale per 32 values; NVFP4: per 16
    assert weight_format("mxfp4-w4a16").expert_bytes == pytest.approx(0.5 + 1 / 32)
    assert weight_format("nvfp4").dense_bytes == pytest.approx(0.5 + 1 / 16)
    with pytest.raises(UnknownNameError):
        weight_format("int3")
    model = bm.catalog.model("gpt-oss-120b")
    lay = bm.InferenceLayout(tp=1)
    h200 = bm.catalog.cluster("DGX-H200", gpus=8)
    w4 = ServingSolver(model, h200, lay, "mxfp4-w4a16")
    bf = ServingSolver(model, h200, lay, "bf16")
    experts = model.experts * model.expert_params * model.n_moe_layers
    saved = experts * (2.0 - (0.5 + 1 / 32))
    assert float(bf._weights.sum() - w4._weights.sum()) == pytest.approx(saved, rel=1e-6)


def test_expert_load_imbalance_slows_ep_decode_only() -> None:
    model = bm.catalog.model("qwen3-235b-a22b")
    h200 = bm.catalog.cluster("DGX-H200", gpus=8)
    lay = bm.InferenceLayout(tp=1, dp=8, ep=8)
    even = ServingSolver(model, h200, lay, "fp8")
    skew = ServingSolver(
        model, h200, lay, "fp8", efficiency=InferenceEfficiency(expert_load_cv=2.0)
    )
    b, c = np.array([256.0]), np.array([2000.0])
    assert skew.decode_step(b, c).time_s[0] > even.decode_step(b, c).time_s[0]
    tp = bm.InferenceLayout(tp=8)
    assert ServingSolver(
        model, h200, tp, "fp8", efficiency=InferenceEfficiency(expert_load_cv=2.0)
    ).decode_step(b, c).time_s[0] == pytest.approx(
        ServingSolver(model, h200, tp, "fp8").decode_step(b, c).time_s[0]
    )


@settings(max_examples=25, deadline=None)
@given(per_request=st.floats(0.0, 1e-3), batch=st.integers(1, 256))
def test_host_time_never_speeds_up_a_step(per_request: float, batch: int) -> None:
    model = bm.catalog.model("llama3-8b")
    lay = bm.InferenceLayout(tp=1)
    base = ServingSolver(model, H100, lay, "fp8")
    eff = InferenceEfficiency(host_per_request_s=per_request)
    hosted = ServingSolver(model, H100, lay, "fp8", efficiency=eff)
    serial = ServingSolver(
        model, H100, lay, "fp8", efficiency=attrs.evolve(eff, host_overlap=False)
    )
    t0 = continuous_serving(base, batch, 1000, 200).tpot_s[0]
    t1 = continuous_serving(hosted, batch, 1000, 200).tpot_s[0]
    t2 = continuous_serving(serial, batch, 1000, 200).tpot_s[0]
    assert t0 <= t1 <= t2
    # overlapped: the step is max(gpu, host); serial: gpu + host
    assert t1 == pytest.approx(max(t0, per_request * batch))
    assert t2 == pytest.approx(t0 + per_request * batch)


def test_trtllm_bench_limits_by_hand() -> None:
    """Llama 3.3 70B FP8, TP2 on H200, 1000/1000: 670 requests -> 768, tokens 2048."""
    lim = trtllm_bench_limits(
        layers=80, kv_heads=8, head_size=128, checkpoint_elements=70.6e9, bytes_per_element=1.0,
        kv_bytes=1.0, tp=2, pp=1, input_tokens=1000, output_tokens=1000,
        device_memory_bytes=143771 * 2**20,
    )  # fmt: skip
    gib = 2**30
    avail = 2 * 143771 * 2**20 / gib - 70.6e9 / gib
    req = 0.95 * avail / (2 * 80 * 8 * 128 / gib * 2000)
    assert 512 < req < 768
    assert lim.max_batch_size == 128 * math.ceil(req / 128)
    assert lim.max_num_tokens == 2048
    with pytest.raises(UnknownNameError):
        serving_preset("vllm-1999")


def test_shared_switches_charged_per_gpu_by_default() -> None:
    rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    share = cluster_power(rack, gpus=8)
    whole = cluster_power(rack, gpus=8, charge="racks")
    full = cluster_power(rack, gpus=72)
    assert share.scale_up_switch_W * share.scale_up_switches == pytest.approx(
        whole.scale_up_switch_W * whole.scale_up_switches * 8 / 72
    )
    assert full.scale_up_switch_W == pytest.approx(whole.scale_up_switch_W)
    with pytest.raises(SpecError, match="charge"):
        cluster_power(rack, gpus=8, charge="nodes")
    a = predict_inference(
        "llama3-70b", rack, bm.InferenceLayout(tp=8), input_tokens=1000, output_tokens=1000,
        precision="fp8",
    )  # fmt: skip
    b = predict_inference(
        "llama3-70b", rack, bm.InferenceLayout(tp=8), input_tokens=1000, output_tokens=1000,
        precision="fp8", charge="racks",
    )  # fmt: skip
    assert a.energy_per_token < b.energy_per_token
    assert "per GPU" in a.assumptions["energy"] and "whole racks" in b.assumptions["energy"]


def test_frontier_best_under_and_sizing() -> None:
    front = bm.serving_frontier("llama3-8b", H100, input_tokens=1000, output_tokens=200, points=8)
    pareto = front.pareto()
    users = [p.tokens_per_second_per_user for p in pareto]
    gpus = [p.tokens_per_second_per_gpu for p in pareto]
    assert users == sorted(users, reverse=True) and gpus == sorted(gpus)
    pt = front.best_under(ttft="1 s", tpot="15 ms")
    assert pt.tpot_s <= 0.015 and pt.ttft_s <= 1.0
    ok = [p for p in front.points if p.tpot_s <= 0.015 and p.ttft_s <= 1.0]
    assert pt.tokens_per_second_per_gpu == max(p.tokens_per_second_per_gpu for p in ok)
    with pytest.raises(InfeasibleLayoutError, match="latency"):
        front.best_under(tpot="0.01 ms")
    size = bm.size_deployment(
        "llama3-8b", [H100], request_rate=10, input_tokens=1000, output_tokens=200,
        ttft="1 s", tpot="15 ms", points=8,
    )  # fmt: skip
    row = size.rows[0]
    # enough GPUs for 10 req/s x 200 tokens at the chosen point's tokens/s/GPU
    assert row["gpus"] * row["tokens_per_second_per_gpu"] >= 10 * 200 * 0.999
    assert row["racks"] == math.ceil(row["gpus"] / 8)
    assert row["usd_per_million_tokens"] > 0 and row["joules_per_token"] > 0
