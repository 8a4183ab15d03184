"""The array forms of the layout rules and the memory model agree with the scalar ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.parallel import (
    LAYOUT_RULES,
    MEMORY_KEYS,
    Layout,
    MemoryModel,
    Recompute,
    activation_bytes_arrays,
    activation_bytes_per_layer,
    memory_arrays,
    memory_per_gpu,
    rule_masks,
    stack_layouts,
)
from blackwell_model.predict.training import layout_arrays

MODELS = {name: bm.catalog.model(name) for name in ("llama3-8b", "llama3-405b", "mixtral-8x7b")}

small = st.sampled_from([1, 2, 3, 4, 8, 16])

layouts = st.builds(
    Layout,
    tp=small,
    pp=st.sampled_from([1, 2, 3, 4, 8, 16, 64, 128]),
    dp=small,
    cp=st.sampled_from([1, 2, 3, 4]),
    ep=st.sampled_from([1, 2, 3, 8]),
    vpp=st.sampled_from([1, 2, 4]),
    micro_batch=st.sampled_from([1, 2, 3]),
    global_batch=st.sampled_from([6, 16, 48, 64, 96, 256]),
    seq_len=st.sampled_from([2048, 4096, 6000]),
    recompute=st.sampled_from(list(Recompute)),
    zero=st.integers(0, 3),
    sequence_parallel=st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(lays=st.lists(layouts, min_size=1, max_size=12), name=st.sampled_from(sorted(MODELS)))
def test_rule_masks_match_violations(lays, name):
    model = MODELS[name]
    masks = rule_masks(model, stack_layouts(lays), gpus=64)
    assert set(masks) == set(LAYOUT_RULES)
    for i, lay in enumerate(lays):
        from_masks = [rule for rule in LAYOUT_RULES if masks[rule][i]]
        assert from_masks == [rule for rule, _ in lay.violations(model, 64)]


@settings(max_examples=40, deadline=None)
@given(lays=st.lists(layouts, min_size=1, max_size=12), name=st.sampled_from(sorted(MODELS)))
def test_memory_arrays_match_memory_per_gpu(lays, name):
    model = MODELS[name]
    lays = [lay for lay in lays if not lay.violations(model)]
    if not lays:
        return
    mem = MemoryModel(flash_attention=False, dropout=True)
    arr = memory_arrays(model, stack_layouts(lays), memory=mem)
    assert set(MEMORY_KEYS) <= set(arr)
    for i, lay in enumerate(lays):
        one = memory_per_gpu(model, lay, memory=mem)
        assert arr["total_B"][i] == pytest.approx(one.total_B, rel=1e-12)
        assert arr["activations_B"][i] == pytest.approx(one.activations_B, rel=1e-12)
        assert arr["optimizer_B"][i] == pytest.approx(one.optimizer_B, rel=1e-12)


def test_memory_per_gpu_returns_plain_floats():
    m = memory_per_gpu(MODELS["llama3-8b"], Layout(dp=8, global_batch=64, seq_len=8192))
    assert all(type(v) is float for v in (m.weights_B, m.activations_B, m.total_B))
    got = activation_bytes_per_layer(MODELS["llama3-8b"], micro_batch=1, seq_len=8192, tp=2)
    assert type(got) is float


def test_activation_arrays_broadcast():
    model = MODELS["llama3-405b"]
    tp = np.array([1, 2, 4, 8])
    rc = np.array([0, 1, 2, 0])
    arr = activation_bytes_arrays(model, micro_batch=1, seq_len=8192, tp=tp, recompute=rc)
    assert arr.shape == (4,)
    for t, r, v in zip(tp, rc, arr, strict=True):
        mode = list(Recompute)[r]
        one = activation_bytes_per_layer(
            model, micro_batch=1, seq_len=8192, tp=int(t), recompute=mode
        )
        assert v == pytest.approx(one)


def test_stack_layouts_matches_layout_arrays():
    lays = [
        Layout(tp=8, pp=4, dp=2, global_batch=64, seq_len=4096, recompute="full"),
        Layout(tp=2, cp=2, dp=4, global_batch=64, seq_len=4096, zero=3),
    ]
    ours = stack_layouts(lays)
    theirs = layout_arrays(lays)
    for k, v in ours.items():
        if k == "precision":
            assert v is theirs[k]
        else:
            np.testing.assert_array_equal(v, theirs[k])


def test_stack_layouts_rejects_mixed_or_no_layouts():
    with pytest.raises(bm.SpecError, match="at least one Layout"):
        stack_layouts([])
    with pytest.raises(bm.SpecError, match="share a precision"):
        stack_layouts(
            [
                Layout(global_batch=8, seq_len=8, precision="bf16"),
                Layout(global_batch=8, seq_len=8, precision="fp8"),
            ]
        )
