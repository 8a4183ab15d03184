"""Memory model against Korthikanti et al. 2022 and hand arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blackwell_model.errors import InfeasibleLayoutError, SpecError
from blackwell_model.parallel.layout import Layout, Recompute
from blackwell_model.parallel.memory import (
    MemoryModel,
    activation_bytes_per_layer,
    memory_per_gpu,
)
from blackwell_model.workload.transformer import Transformer

# GPT-3 175B as in Korthikanti et al. 2022 Table 3: a=96, h=12288, l=96, s=2048
GPT175 = Transformer(
    name="gpt-175b",
    layers=96,
    hidden=12288,
    heads=96,
    ffn_hidden=4 * 12288,
    vocab=51200,
    activation="gelu",
    norm="layernorm",
    bias=True,
)
KORTHIKANTI = MemoryModel(flash_attention=False, dropout=True)


def per_layer(model=GPT175, **kw):
    base = dict(micro_batch=1, seq_len=2048, memory=KORTHIKANTI)
    base.update(kw)
    return activation_bytes_per_layer(model, **base)


def test_no_parallelism_matches_eq_1():
    # Korthikanti eq. (1): s*b*h*(34 + 5*a*s/h)
    s, b, h, a = 2048, 1, 12288, 96
    expected = s * b * h * (34 + 5 * a * s / h)
    assert per_layer(tp=1, sequence_parallel=False) == pytest.approx(expected)


@pytest.mark.parametrize("t", [2, 4, 8])
def test_tensor_parallel_matches_eq_2(t):
    # eq. (2): s*b*h*(10 + 24/t + 5*a*s/(h*t))
    s, b, h, a = 2048, 1, 12288, 96
    expected = s * b * h * (10 + 24 / t + 5 * a * s / (h * t))
    assert per_layer(tp=t, sequence_parallel=False) == pytest.approx(expected)


@pytest.mark.parametrize("t", [2, 8])
def test_sequence_parallel_matches_eq_4(t):
    # eq. (4): s*b*h/t * (34 + 5*a*s/h)
    s, b, h, a = 2048, 1, 12288, 96
    expected = s * b * h / t * (34 + 5 * a * s / h)
    assert per_layer(tp=t, sequence_parallel=True) == pytest.approx(expected)


def test_selective_recompute_matches_eq_6():
    # eq. (6): 34*s*b*h/t
    s, b, h, t = 2048, 1, 12288, 8
    got = per_layer(tp=t, sequence_parallel=True, recompute="selective")
    assert got == pytest.approx(34 * s * b * h / t)


def test_full_recompute_keeps_layer_input():
    s, b, h, t = 2048, 4, 12288, 8
    got = per_layer(micro_batch=b, tp=t, sequence_parallel=True, recompute=Recompute.FULL)
    assert got == pytest.approx(2 * s * b * h / t)


def test_flash_attention_drops_the_score_matrix():
    with_scores = per_layer(tp=8, sequence_parallel=True)
    flash = per_layer(tp=8, sequence_parallel=True, memory=MemoryModel(dropout=True))
    assert flash == pytest.approx(34 * 2048 * 12288 / 8)
    assert with_scores > flash


def test_gqa_stores_smaller_keys_and_values():
    gqa = Transformer(
        name="gqa",
        layers=2,
        hidden=4096,
        heads=32,
        kv_heads=8,
        ffn_hidden=16384,
        vocab=1000,
        activation="gelu",
    )
    mha = Transformer(
        name="mha", layers=2, hidden=4096, heads=32, ffn_hidden=16384, vocab=1000, activation="gelu"
    )
    mem = MemoryModel(dropout=True)
    kw = dict(micro_batch=1, seq_len=1024, memory=mem)
    sbh = 1024 * 4096
    # K and V shrink from 2 + 2 to 0.5 + 0.5 bytes per sbh: 3 sbh fewer bytes
    diff = activation_bytes_per_layer(mha, **kw) - activation_bytes_per_layer(gqa, **kw)
    assert diff == pytest.approx(3 * sbh)


def test_weights_and_optimizer_bytes_by_zero_stage():
    # Megatron distributed optimizer: 6 + 12/d bytes per parameter (2 weight + 4 grad + 12 Adam)
    lay = dict(tp=8, pp=8, dp=4, global_batch=64, seq_len=2048)
    z0 = memory_per_gpu(GPT175, Layout(zero=0, **lay))
    z1 = memory_per_gpu(GPT175, Layout(zero=1, **lay))
    z3 = memory_per_gpu(GPT175, Layout(zero=3, **lay))
    params = z0.weights_B / 2
    assert z0.optimizer_B == pytest.approx(12 * params)
    assert z1.optimizer_B == pytest.approx(12 * params / 4)
    assert z1.gradients_B == pytest.approx(4 * params)
    assert z3.weights_B < z1.weights_B
    # 175B / (tp 8 * pp 8) is about 2.7e9 parameters per GPU (+ embedding on stage 0)
    assert 2.6e9 < params < 2.9e9


def test_parts_add_up():
    m = memory_per_gpu(GPT175, Layout(tp=8, pp=8, dp=4, global_batch=64, seq_len=2048))
    parts = sum(q.m for q in m.as_dict().values())
    assert m.total_B == pytest.approx(parts)
    assert m.total.to("GB").m == pytest.approx(m.total_B / 1e9)


@given(
    b=st.integers(1, 8),
    s=st.sampled_from([512, 1024, 2048, 4096]),
    t=st.sampled_from([1, 2, 4, 8]),
)
def test_activations_grow_with_batch_and_sequence(b, s, t):
    kw = dict(tp=t, memory=KORTHIKANTI)
    base = activation_bytes_per_layer(GPT175, micro_batch=b, seq_len=s, **kw)
    assert activation_bytes_per_layer(GPT175, micro_batch=b + 1, seq_len=s, **kw) > base
    assert activation_bytes_per_layer(GPT175, micro_batch=b, seq_len=2 * s, **kw) > base
    for rc in ("selective", "full"):
        assert (
            activation_bytes_per_layer(GPT175, micro_batch=b, seq_len=s, recompute=rc, **kw) <= base
        )


def test_layout_rules():
    lay = Layout(tp=8, pp=16, dp=64, micro_batch=1, global_batch=2048, seq_len=8192)
    assert lay.gpus == 8192 and lay.micro_batches == 32
    with pytest.raises(InfeasibleLayoutError, match="exceed") as info:
        Layout(pp=128, global_batch=128, seq_len=2048).check(GPT175)
    assert info.value.rule == "pp_layers"
    with pytest.raises(InfeasibleLayoutError) as info:
        Layout(dp=3, micro_batch=2, global_batch=64, seq_len=2048).check(GPT175)
    assert info.value.rule == "batch" and "dp*micro_batch = 3*2 = 6" in str(info.value)
    with pytest.raises(InfeasibleLayoutError) as info:
        Layout(tp=7, global_batch=8, seq_len=2048).check(GPT175)
    assert info.value.rule == "tp_heads"
    with pytest.raises(InfeasibleLayoutError) as info:
        lay.check(GPT175, gpus=4096)
    assert info.value.rule == "gpus" and "8192 GPUs but the cluster has 4096" in str(info.value)
    with pytest.raises(InfeasibleLayoutError) as info:
        Layout(ep=2, dp=2, global_batch=8, seq_len=2048).check(GPT175)
    assert info.value.rule == "ep_dense"
    with pytest.raises(InfeasibleLayoutError) as info:
        Layout(cp=3, dp=1, global_batch=8, seq_len=2048).check(GPT175)
    assert info.value.rule == "cp_seq"
    with pytest.raises(SpecError, match="precision"):
        Layout(global_batch=8, seq_len=8, precision="fp64")
    with pytest.raises(SpecError, match="zero must be"):
        Layout(global_batch=8, seq_len=8, zero=4)


def test_uneven_pipeline_stages():
    # Llama 3 405B: 126 layers over pp=8 x vpp=8 chunks -> busiest stage 8 x ceil(126/64) = 16
    assert Layout(pp=8, vpp=8, dp=1, global_batch=64, seq_len=8192).stage_layers(126) == 16


def test_matches_megatron_theoretical_memory_where_its_assumptions_hold():
    """Megatron-LM ``report_theoretical_memory`` (megatron/training/theoretical_memory_usage.py).

    Its assumptions: BF16 weights with FP32 gradients and Adam (18 B per parameter,
    6 + 12/d with the distributed optimizer), sequence parallelism with the attention
    core recomputed, activations s*b*h*(18 + 4F/h)/t per layer (Korthikanti et al.
    Table 2 with dropout and an unfused core), and p*(1 + (p-1)/(p*v)) layer sets of
    L/p layers in flight on the first stage.  Written out here by hand.
    """
    t, p, v, d = 8, 4, 2, 4
    b, s = 1, 2048
    model = GPT175
    h, f, layers = model.hidden, model.ffn_hidden, model.layers
    lay = Layout(
        tp=t, pp=p, vpp=v, dp=d, micro_batch=b, global_batch=64, seq_len=s,
        recompute="selective", zero=1, grad_reduce_in_fp32=True,
    )  # fmt: skip
    mem = memory_per_gpu(model, lay, memory=KORTHIKANTI)
    # weights and optimizer: the most loaded shard (first stage: its layers + embedding)
    per_layer = model.attention_params + model.block_norm_params + model.dense_mlp_params
    shard = (layers / p * per_layer + model.embedding_params) / t
    want_static = shard * (6 + 12 / d)
    got_static = mem.weights_B + mem.gradients_B + mem.optimizer_B
    assert got_static == pytest.approx(want_static, rel=0.01)
    # activations of the first stage
    per_layer_act = s * b * h * (18 + 4 * f / h) / t
    want_act = per_layer_act * layers / p * p * (1 + (p - 1) / (p * v))
    # Megatron also counts the embedding's int64 token ids and dropout (8sb + sbh per
    # stage in flight), a few hundred MB: within 2 %
    assert mem.activations_B == pytest.approx(want_act, rel=0.02)
