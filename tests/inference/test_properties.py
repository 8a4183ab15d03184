"""Invariants of the serving model (Hypothesis).

* more HBM bandwidth never slows a decode step;
* a longer prompt never shortens the time to first token (at a given batch);
* the batch chosen for ``batch=None`` fits in memory and one more does not.
"""

from __future__ import annotations

import functools

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.parallel.inference import InferenceLayout
from blackwell_model.predict.inference import predict_inference
from blackwell_model.solvers.serving import ServingSolver, continuous_serving, static_serving

# (model, precision, layouts that divide it on one 8-GPU node)
DEPLOYMENTS = [
    (
        "llama2-7b",
        "bf16",
        [InferenceLayout(tp=1), InferenceLayout(tp=2), InferenceLayout(tp=1, pp=2)],
    ),
    (
        "llama3-70b",
        "fp8",
        [InferenceLayout(tp=4), InferenceLayout(tp=8), InferenceLayout(tp=4, pp=2)],
    ),
    (
        "mixtral-8x7b",
        "fp8",
        [
            InferenceLayout(tp=2),
            InferenceLayout(tp=1, dp=8, ep=8),
            InferenceLayout(tp=2, dp=4, ep=8),
        ],
    ),
    ("qwen3-30b-a3b", "bf16", [InferenceLayout(tp=1), InferenceLayout(tp=4, ep=4)]),
    ("gpt-oss-120b", "fp8", [InferenceLayout(tp=2), InferenceLayout(tp=1, dp=4, ep=4)]),
]

deployments = st.sampled_from(DEPLOYMENTS).flatmap(
    lambda d: st.tuples(st.just(d[0]), st.just(d[1]), st.sampled_from(d[2]))
)


@functools.cache
def _cluster(bandwidth_factor: float = 1.0) -> bm.Cluster:
    cluster = bm.catalog.cluster("DGX-H200", gpus=8)
    if bandwidth_factor == 1.0:
        return cluster
    node = cluster.domain.node
    assert node.accelerator is not None
    acc = attrs.evolve(
        node.accelerator, memory_bandwidth=node.accelerator.memory_bandwidth * bandwidth_factor
    )
    return attrs.evolve(
        cluster, domain=attrs.evolve(cluster.domain, node=attrs.evolve(node, accelerator=acc))
    )


@functools.cache
def _solver(
    model: str, precision: str, layout: InferenceLayout, bandwidth_factor: float = 1.0
) -> ServingSolver:
    return ServingSolver(bm.catalog.model(model), _cluster(bandwidth_factor), layout, precision)


@settings(max_examples=40)
@given(
    dep=deployments,
    batch=st.integers(min_value=1, max_value=2048),
    context=st.integers(min_value=1, max_value=32768),
    factor=st.sampled_from([1.25, 1.5, 2.0, 4.0]),
)
def test_more_hbm_bandwidth_never_slows_decode(
    dep: tuple[str, str, InferenceLayout], batch: int, context: int, factor: float
) -> None:
    model, precision, layout = dep
    slow = float(_solver(model, precision, layout).decode_step(batch, context).time_s)
    fast = float(_solver(model, precision, layout, factor).decode_step(batch, context).time_s)
    assert fast <= slow * (1 + 1e-12)


@settings(max_examples=40)
@given(
    dep=deployments,
    batch=st.integers(min_value=1, max_value=256),
    prompt=st.integers(min_value=1, max_value=16384),
    extra=st.integers(min_value=1, max_value=8192),
    output=st.integers(min_value=1, max_value=512),
    static=st.booleans(),
)
def test_longer_prompt_never_shortens_ttft(  # noqa: PLR0917 - Hypothesis arguments
    dep: tuple[str, str, InferenceLayout],
    batch: int,
    prompt: int,
    extra: int,
    output: int,
    static: bool,
) -> None:
    s = _solver(*dep)
    serve = static_serving if static else continuous_serving
    short = float(serve(s, batch, prompt, output).ttft_s[0])
    long = float(serve(s, batch, prompt + extra, output).ttft_s[0])
    assert long >= short * (1 - 1e-12)


@settings(max_examples=30)
@given(
    dep=deployments,
    prompt=st.integers(min_value=1, max_value=32768),
    output=st.integers(min_value=1, max_value=8192),
)
def test_max_batch_fits_and_one_more_does_not(
    dep: tuple[str, str, InferenceLayout], prompt: int, output: int
) -> None:
    s = _solver(*dep)
    best = s.max_batch(prompt, output)
    assert best >= 1  # every deployment above holds at least one request
    assert s.memory_needed_B(float(best), prompt, output) <= s.usable_B
    assert s.memory_needed_B(float(best + 1), prompt, output) > s.usable_B


@pytest.mark.parametrize("dep", [(d[0], d[1], d[2][0]) for d in DEPLOYMENTS])
def test_predict_batch_none_uses_max_batch(dep: tuple[str, str, InferenceLayout]) -> None:
    model, precision, layout = dep
    rep = predict_inference(
        model, _cluster(), layout, input_tokens=1024, output_tokens=1024, precision=precision
    )
    s = _solver(model, precision, layout)
    assert rep.batch == s.max_batch(1024, 1024)
    assert rep.fits
