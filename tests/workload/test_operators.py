"""Per-GPU operator lists: shapes, FLOPs, bytes, sharding, caching and errors."""

from __future__ import annotations

import attrs
import pytest

import blackwell_model as bm
from blackwell_model.errors import InfeasibleLayoutError, SpecError
from blackwell_model.hardware import Precision
from blackwell_model.workload import (
    LayerType,
    Operator,
    OpKind,
    Phase,
    backward_ops,
    gemm_op,
    layer_operators,
    model_operators,
)


def by_name(ops: tuple[Operator, ...]) -> dict[str, Operator]:
    return {o.name: o for o in ops}


def gemm_flops(ops: tuple[Operator, ...]) -> float:
    return sum(o.flops for o in ops if o.kind.is_gemm)


def test_gemm_hand_computed() -> None:
    op = gemm_op("x", 4096, 1024, 512, precision=Precision.BF16)
    assert op.flops == 2 * 4096 * 1024 * 512
    assert op.bytes_read == (4096 * 512 + 512 * 1024) * 2
    assert op.bytes_written == 4096 * 1024 * 2
    assert op.arithmetic_intensity == pytest.approx(op.flops / op.bytes)
    fp8 = gemm_op("x", 4096, 1024, 512, precision=Precision.FP8, out_bytes=2)
    assert fp8.bytes_read == (4096 * 512 + 512 * 1024) * 1
    assert fp8.bytes_written == 4096 * 1024 * 2


def test_backward_gemm_is_dgrad_plus_wgrad() -> None:
    op = gemm_op("w", 8192, 3072, 4096)
    dgrad, wgrad = backward_ops(op)
    assert (dgrad.m, dgrad.n, dgrad.k) == (8192, 4096, 3072)
    assert (wgrad.m, wgrad.n, wgrad.k) == (4096, 3072, 8192)
    assert dgrad.flops == wgrad.flops == op.flops
    assert dgrad.backward and wgrad.backward


def test_llama3_8b_forward_shapes_tp2() -> None:
    m = bm.catalog.model("llama3-8b")
    ops = by_name(layer_operators(m, phase="forward", batch=2, seq_len=4096, tp=2))
    t = 2 * 4096
    qkv = ops["qkv_proj"]
    # 32 heads / 2 + 2 x 8 KV heads / 2, head_dim 128
    assert (qkv.m, qkv.n, qkv.k) == (t, (16 + 2 * 4) * 128, 4096)
    assert qkv.flops == 2 * t * 3072 * 4096
    up = ops["mlp_up"]
    assert (up.m, up.n, up.k) == (t, 2 * 14336 // 2, 4096)
    down = ops["mlp_down"]
    assert (down.m, down.n, down.k) == (t, 4096, 14336 // 2)
    att = ops["attention"]
    pairs = 2 * 4096 * 4097 / 2  # causal
    assert att.flops == pytest.approx(2 * pairs * 16 * (128 + 128))
    # sequence parallel: the norm runs on tokens / tp
    assert ops["attn_norm"].bytes_read == pytest.approx(t / 2 * 4096 * 2)


def test_backward_doubles_forward() -> None:
    m = bm.catalog.model("llama3-70b")
    kw = dict(batch=1, seq_len=4096, tp=4)
    fwd = layer_operators(m, phase="forward", **kw)
    bwd = layer_operators(m, phase="backward", **kw)
    assert gemm_flops(bwd) == pytest.approx(2 * gemm_flops(fwd))
    att = [o for o in bwd if o.kind is OpKind.ATTENTION]
    assert att[0].flops == pytest.approx(2 * by_name(fwd)["attention"].flops)
    assert all(o.backward for o in bwd)


@pytest.mark.parametrize("tp", [2, 4, 8])
def test_tp_splits_gemm_flops(tp: int) -> None:
    m = bm.catalog.model("llama3-70b")
    one = layer_operators(m, phase="forward", batch=1, seq_len=2048)
    split = layer_operators(m, phase="forward", batch=1, seq_len=2048, tp=tp)
    assert gemm_flops(split) * tp == pytest.approx(gemm_flops(one))


@pytest.mark.parametrize("cp", [2, 4])
def test_cp_splits_work(cp: int) -> None:
    m = bm.catalog.model("llama3-8b")
    one = layer_operators(m, phase="forward", batch=1, seq_len=8192)
    split = layer_operators(m, phase="forward", batch=1, seq_len=8192, cp=cp)
    total = sum(o.flops for o in one if o.kind.is_matmul)
    assert sum(o.flops for o in split if o.kind.is_matmul) * cp == pytest.approx(total)


def test_ep_splits_expert_flops() -> None:
    m = bm.catalog.model("mixtral-8x7b")
    one = layer_operators(m, phase="forward", batch=4, seq_len=4096)
    split = layer_operators(m, phase="forward", batch=4, seq_len=4096, ep=8)
    experts = [o for o in one if o.kind is OpKind.MOE_GEMM]
    experts8 = [o for o in split if o.kind is OpKind.MOE_GEMM]
    # each EP rank routes its own tokens: the expert work per GPU is unchanged
    assert sum(o.flops for o in experts8) == pytest.approx(sum(o.flops for o in experts))
    assert experts8[0].count == pytest.approx(1.0)
    assert experts[0].count == pytest.approx(8.0)
    # top-2 of 8: an expert sees tokens * 2 / 8 tokens
    assert experts[0].m == pytest.approx(4 * 4096 * 2 / 8)


def test_decode_small_batch_reads_only_experts_hit() -> None:
    m = bm.catalog.model("deepseek-v3")
    ops = by_name(layer_operators(m, phase="decode", batch=1, kv_len=1000, layer=10))
    up = ops["expert_up"]
    assert up.count == pytest.approx(8.0)  # one token, top-8
    assert up.m == pytest.approx(1.0)


def test_decode_reads_the_kv_cache() -> None:
    m = bm.catalog.model("llama3-70b")
    ops = by_name(layer_operators(m, phase="decode", batch=16, kv_len=4096))
    att = ops["attention"]
    kv_bytes = 16 * 4096 * 2 * 8 * 128 * 2
    assert att.bytes_read == pytest.approx(kv_bytes + 16 * 64 * 128 * 2)
    fp8 = by_name(layer_operators(m, phase="decode", batch=16, kv_len=4096, kv_precision="fp8"))
    assert fp8["attention"].bytes_read == pytest.approx(kv_bytes / 2 + 16 * 64 * 128 * 2)
    assert att.flops == pytest.approx(2 * 16 * 4096 * 64 * 256)
    assert ops["qkv_proj"].m == 16


def test_mla_decode_reads_the_latent() -> None:
    m = bm.catalog.model("deepseek-v3")
    ops = by_name(layer_operators(m, phase="decode", batch=8, kv_len=2048, layer=0))
    att = ops["attention"]
    latent = 8 * 2048 * (512 + 64) * 2
    assert att.bytes_read == pytest.approx(latent + 8 * 128 * 576 * 2)
    assert "q_absorb" in ops and "v_absorb" in ops and "kv_up" not in ops
    # absorbed decode does the same weight FLOPs per token as the naive form
    fwd = by_name(layer_operators(m, phase="forward", batch=1, seq_len=8, layer=0))
    absorbed = ops["q_absorb"].flops + ops["v_absorb"].flops
    assert absorbed == pytest.approx(fwd["kv_up"].flops)


def test_sliding_window_caps_attention() -> None:
    m = bm.catalog.model("gpt-oss-120b")
    win = by_name(layer_operators(m, phase="decode", batch=1, kv_len=10_000, layer=0))
    full = by_name(layer_operators(m, phase="decode", batch=1, kv_len=10_000, layer=1))
    assert win["attention"].flops == pytest.approx(full["attention"].flops * 128 / 10_000)


def test_prefill_lm_head_only_last_token() -> None:
    m = bm.catalog.model("llama3-8b")
    ops = model_operators(m, phase="prefill", batch=4, seq_len=1000)
    head = by_name(ops.post)["lm_head"]
    assert head.m == 4
    assert "kv_cache_write" in by_name(ops.layers[0])


def test_model_operators_structure_and_stage_slice() -> None:
    m = bm.catalog.model("llama3-405b")
    ops = model_operators(m, phase="forward", batch=1, seq_len=2048, tp=8)
    assert len(ops.layers) == 126
    assert ops.layers[0] is ops.layers[1]  # identical layers share the cached tuple
    stage = model_operators(
        m, phase="forward", batch=1, seq_len=2048, tp=8, layers=range(0, 8), lm_head=False
    )
    assert len(stage.layers) == 8 and stage.post == () and stage.pre
    assert ops.all()[0].name == "embedding"
    bwd = model_operators(m, phase="backward", batch=1, seq_len=2048, tp=8)
    assert bwd.all()[0].name.startswith("loss")
    assert bwd.phase is Phase.BACKWARD


def test_results_are_cached() -> None:
    m = bm.catalog.model("llama3-8b")
    a = layer_operators(m, phase="forward", batch=1, seq_len=512)
    b = layer_operators(m, phase="forward", batch=1, seq_len=512)
    assert a is b


def test_layer_type_argument() -> None:
    m = bm.catalog.model("deepseek-v3")
    moe = layer_operators(m, phase="forward", batch=1, seq_len=64, layer=LayerType(True, False))
    assert any(o.kind is OpKind.MOE_GEMM for o in moe)
    dense = layer_operators(m, phase="forward", batch=1, seq_len=64, layer=0)
    assert not any(o.kind is OpKind.MOE_GEMM for o in dense)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch": 0, "seq_len": 8}, "batch must be an integer >= 1"),
        ({"batch": -2, "seq_len": 8}, "batch must be an integer >= 1"),
        ({"batch": 1, "seq_len": -8}, "seq_len must be an integer >= 1"),
        ({"batch": 1, "seq_len": 8.5}, "seq_len must be an integer"),
        ({"batch": 1}, "seq_len .* is required"),
        ({"batch": 1, "seq_len": 8, "phase": "train"}, "phase must be one of"),
        ({"batch": 1, "seq_len": 8, "kv_len": 4}, "kv_len must be >= seq_len"),
        ({"batch": 1, "seq_len": 8, "layer": 99}, r"layer must be an index in \[0, 31\]"),
        ({"batch": 1, "seq_len": 8, "precision": "fp7"}, "unknown precision"),
    ],
)
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    m = bm.catalog.model("llama3-8b")
    args = {"phase": "forward", **kwargs}
    with pytest.raises((SpecError, bm.UnknownNameError), match=match):
        layer_operators(m, **args)  # type: ignore[arg-type]


def test_decode_needs_kv_len() -> None:
    with pytest.raises(SpecError, match="kv_len"):
        layer_operators(bm.catalog.model("llama3-8b"), phase="decode", batch=1)


@pytest.mark.parametrize(
    ("name", "kwargs", "rule"),
    [
        ("llama3-8b", {"tp": 3}, "tp_divides_heads"),
        ("falcon-180b", {"tp": 29}, "tp_kv_heads"),  # 232 heads, 8 KV heads
        ("llama3-8b", {"cp": 3}, "cp_divides_seq"),
        ("llama3-8b", {"ep": 2}, "ep_needs_moe"),
        ("mixtral-8x7b", {"ep": 3}, "ep_divides_experts"),
    ],
)
def test_infeasible_layouts(name: str, kwargs: dict[str, int], rule: str) -> None:
    args = {"phase": "forward", "batch": 1, "seq_len": 1024, **kwargs}
    with pytest.raises(InfeasibleLayoutError) as info:
        layer_operators(bm.catalog.model(name), **args)  # type: ignore[arg-type]
    assert info.value.rule == rule


def test_tp_beyond_kv_heads_replicates() -> None:
    m = bm.catalog.model("llama3-70b")  # 8 KV heads
    ops = by_name(layer_operators(m, phase="forward", batch=1, seq_len=64, tp=16))
    assert ops["qkv_proj"].n == (64 // 16 + 2) * 128


def test_operator_rejects_negative_sizes() -> None:
    with pytest.raises(SpecError, match="flops of operator 'x' must be a finite number >= 0"):
        Operator(name="x", kind=OpKind.GEMM, flops=-1.0, bytes_read=0.0, bytes_written=0.0)
    with pytest.raises(SpecError, match="m of operator 'x' must be"):
        gemm_op("x", -4, 4, 4)
    op = gemm_op("x", 4, 4, 4)
    with pytest.raises(SpecError, match="m of operator"):
        attrs.evolve(op, m=float("nan"))


def test_fp8_activations_default_to_bf16() -> None:
    m = bm.catalog.model("llama3-8b")
    ops = by_name(layer_operators(m, phase="forward", batch=1, seq_len=128, precision="fp8"))
    assert ops["qkv_proj"].precision is Precision.FP8
    assert ops["attention"].precision is Precision.BF16
    assert ops["mlp_act"].precision is Precision.BF16
