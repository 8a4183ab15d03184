"""Speculative decoding and MTP: the expected-tokens formula, the step cost, the API and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import SpecError
from blackwell_model.parallel.inference import InferenceLayout
from blackwell_model.solvers.serving import ServingSolver
from blackwell_model.solvers.speculation import (
    Speculation,
    acceptance_rate_for,
    expected_tokens_per_step,
)

_8B = bm.catalog.model("llama3-8b")
_H100 = bm.catalog.cluster("DGX-H100", gpus=8)


def _solvers(spec: Speculation, model=_8B, cluster=_H100, tp=1):
    lay = InferenceLayout(tp=tp)
    return (
        ServingSolver(model, cluster, lay, "fp8"),
        ServingSolver(model, cluster, lay, "fp8", speculation=spec),
    )


# --------------------------------------------------------------------------- formula
@pytest.mark.parametrize(
    ("alpha", "k", "tau"),
    [
        (0.5, 1, 1.5),  # 1 + a
        (0.5, 2, 1.75),  # 1 + a + a^2
        (0.8, 1, 1.8),
        (0.7, 3, 1 + 0.7 + 0.49 + 0.343),
        (0.0, 5, 1.0),
        (1.0, 4, 5.0),
    ],
)
def test_expected_tokens_hand_values(alpha, k, tau):
    assert expected_tokens_per_step(alpha, k) == pytest.approx(tau)


@given(st.floats(0.0, 0.999), st.integers(1, 16))
def test_expected_tokens_bounds_and_inverse(alpha, k):
    tau = expected_tokens_per_step(alpha, k)
    assert 1.0 - 1e-12 <= tau <= k + 1.0
    # Leviathan et al. eq. 1 is the geometric sum
    assert tau == pytest.approx(sum(alpha**i for i in range(k + 1)))
    assert expected_tokens_per_step(acceptance_rate_for(tau, k), k) == pytest.approx(tau)


def test_speculation_rate_and_length_agree():
    a = Speculation(method="ngram", draft_tokens=2, acceptance_rate=0.5)
    b = Speculation(method="ngram", draft_tokens=2, acceptance_length=1.75)
    assert a.tokens_per_step == pytest.approx(b.tokens_per_step)
    assert b.per_token_acceptance == pytest.approx(0.5)
    assert a.verify_tokens == 3


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "medusa", "draft_tokens": 2, "acceptance_rate": 0.5}, "method"),
        ({"method": "mtp", "draft_tokens": 0, "acceptance_rate": 0.5}, "draft_tokens"),
        ({"method": "mtp", "draft_tokens": 2, "acceptance_rate": 1.0}, "acceptance_rate"),
        ({"method": "mtp", "draft_tokens": 2, "acceptance_rate": -0.1}, "acceptance_rate"),
        ({"method": "mtp", "draft_tokens": 2, "acceptance_length": 3.5}, "acceptance_length"),
        ({"method": "mtp", "draft_tokens": 2, "acceptance_length": 0.5}, "acceptance_length"),
        ({"method": "mtp", "draft_tokens": 2}, "acceptance_rate"),
        (
            {"method": "mtp", "draft_tokens": 2, "acceptance_rate": 0.5, "acceptance_length": 2},
            "acceptance_length",
        ),
        ({"method": "draft", "draft_tokens": 2, "acceptance_rate": 0.5}, "draft_model"),
        (
            {"method": "eagle", "draft_tokens": 2, "acceptance_rate": 0.5, "draft_model": _8B},
            "draft_model",
        ),
        (
            {"method": "mtp", "draft_tokens": 2, "acceptance_rate": 0.5, "step_overhead": "-1 s"},
            "step_overhead",
        ),
    ],
)
def test_invalid_speculation_names_the_field(kwargs, field):
    with pytest.raises(SpecError, match=field):
        Speculation(**kwargs)


def test_mtp_needs_mtp_modules():
    spec = Speculation(method="mtp", draft_tokens=1, acceptance_rate=0.85)
    with pytest.raises(SpecError, match="mtp_layers"):
        ServingSolver(_8B, _H100, InferenceLayout(tp=1), "fp8", speculation=spec)


def test_parse_text_form():
    spec = Speculation.parse("draft:k=4,length=3,draft=llama3-8b,draft_tp=1,overhead=50us")
    assert spec.method == "draft"
    assert spec.draft_tokens == 4
    assert spec.acceptance_length == 3.0
    assert spec.draft_model.name == _8B.name
    assert spec.step_overhead_s == pytest.approx(50e-6)
    for bad in ("mtp", "mtp:k=2,beta=0.5", "mtp:alpha=0.5", ""):
        with pytest.raises(SpecError, match="speculation"):
            Speculation.parse(bad)


# --------------------------------------------------------------------------- step cost
@settings(max_examples=25, deadline=None)
@given(st.integers(1, 512), st.integers(16, 8192), st.integers(1, 6))
def test_no_acceptance_is_never_faster(batch, context, k):
    """alpha = 0: one token per step, and a step verifies k + 1 >= 1 tokens plus drafting."""
    for method in ("ngram", "eagle"):
        spec = Speculation(method=method, draft_tokens=k, acceptance_rate=0.0)
        base, s = _solvers(spec)
        assert s.decode_step(batch, context).time_s >= base.decode_step(batch, context).time_s


def test_tpot_is_step_over_tokens_per_step():
    """The same step divided by tau: TPOT(tau) * tau is the step at tau = 1."""
    one = Speculation(method="eagle", draft_tokens=3, acceptance_length=1.0)
    for tau in (1.5, 2.5, 4.0):
        spec = Speculation(method="eagle", draft_tokens=3, acceptance_length=tau)
        _b, s1 = _solvers(one)
        _b, s = _solvers(spec)
        b = np.array([1.0, 16.0, 256.0])
        np.testing.assert_allclose(
            s.decode_step(b, 2000).time_s * tau, s1.decode_step(b, 2000).time_s, rtol=1e-12
        )


def test_batch_one_speedup_close_to_tokens_per_step():
    """Memory-bound batch-1 decode: verifying 4 tokens reads the same weights and KV cache.

    The verification pass differs from a plain step only by 3 more tokens of
    activations, logits and attention FLOPs; with n-gram drafting (no GPU
    drafting cost) the speedup is tau times (plain step / verification step),
    and that step ratio is within a few per cent of 1 at batch 1.
    """
    spec = Speculation(method="ngram", draft_tokens=3, acceptance_rate=0.7)
    base, s = _solvers(spec)
    t0 = float(base.decode_step(1, 2000).time_s)
    verify = float(s.decode_step(1, 2000).time_s) * spec.tokens_per_step
    # weights: 8.0e9 params x 1 B at 3.35 TB/s: the step is >= 2.4 ms either way
    assert t0 > 8.0e9 / 3.35e12
    assert 1.0 <= verify / t0 < 1.05
    speedup = t0 / float(s.decode_step(1, 2000).time_s)
    assert speedup == pytest.approx(spec.tokens_per_step * t0 / verify)
    assert speedup > 0.95 * spec.tokens_per_step


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 1024), st.sampled_from([256, 2000, 8000]))
def test_gain_shrinks_as_batch_grows(batch, context):
    """Verification is free while decode is memory-bound; at large batch it costs k+1 x compute."""
    spec = Speculation(method="ngram", draft_tokens=3, acceptance_rate=0.7)
    base, s = _solvers(spec)
    b = np.array([1.0, float(batch)])
    gain = base.decode_step(b, context).time_s / s.decode_step(b, context).time_s
    assert gain[1] <= gain[0] * 1.01


def test_large_batch_short_context_loses():
    """Compute-bound GEMMs at batch 1024: verifying 4 tokens costs ~4x, tau = 2.5 < 4."""
    spec = Speculation(method="ngram", draft_tokens=3, acceptance_rate=0.7)
    base, s = _solvers(spec)
    gain = float(base.decode_step(1024, 256).time_s / s.decode_step(1024, 256).time_s)
    assert gain < 1.0


# --------------------------------------------------------------------------- predictions
def test_predict_inference_mtp_deepseek():
    model = bm.catalog.model("deepseek-v3")
    cluster = bm.catalog.cluster("GB200-NVL72", gpus=8)
    lay = InferenceLayout(tp=8)
    kw = dict(batch=4, input_tokens=1000, output_tokens=500, precision="fp8")
    base = bm.predict_inference(model, cluster, lay, **kw)
    rep = bm.predict_inference(model, cluster, lay, speculation="mtp:k=1,alpha=0.85", **kw)
    assert "speculation" in rep.assumptions
    assert "speculation" not in base.assumptions
    assert rep.decode_breakdown["draft"].m > 0
    assert base.decode_breakdown["draft"].m == 0
    total = sum(v.m for v in rep.decode_breakdown.values())
    assert total == pytest.approx(rep.time_per_output_token.m)
    assert rep.time_per_output_token < base.time_per_output_token
    # the MTP module's weights (one MoE layer) and its KV cache, plus 1 drafted token
    assert rep.memory.weights_B > base.memory.weights_B
    assert rep.memory.kv_cache_B > base.memory.kv_cache_B


def test_draft_model_costs_its_passes():
    spec = Speculation(method="draft", draft_tokens=4, acceptance_rate=0.0, draft_model=_8B)
    model = bm.catalog.model("llama3-70b")
    base, s = _solvers(spec, model=model, tp=8)
    step = s.decode_step(1, 2000)
    # with nothing accepted, the step is the verification plus four draft passes
    assert float(step.breakdown["draft"]) > 3.0 * 8.0e9 / 8 / 3.35e12
    assert float(step.time_s) > float(base.decode_step(1, 2000).time_s)


def test_frontier_with_speculation_runs():
    f = bm.serving_frontier(
        "llama3-8b", _H100, input_tokens=1000, output_tokens=200, points=6,
        speculation="eagle:k=3,alpha=0.7", disaggregated=False,
    )  # fmt: skip
    g = bm.serving_frontier(
        "llama3-8b", _H100, input_tokens=1000, output_tokens=200, points=6, disaggregated=False
    )
    assert max(p.tokens_per_second_per_user for p in f.points) > max(
        p.tokens_per_second_per_user for p in g.points
    )


# --------------------------------------------------------------------------- CLI
def _cli(capsys, *argv):
    from blackwell_model.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_speculation_json(capsys):
    code, out, _err = _cli(
        capsys, "infer", "--model", "llama3-8b", "--tp", "1", "--batch", "1",
        "--precision", "fp8", "--speculation", "eagle:k=3,alpha=0.7", "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    text = json.dumps(data)
    assert "eagle, 3 drafted tokens" in text


@pytest.mark.parametrize(
    "value", ["mtp:k=3,alpha=1.5", "eagle:k=3", "medusa:k=2,alpha=0.5", "eagle:k=x,alpha=0.5"]
)
def test_cli_speculation_errors_are_one_line(capsys, value):
    code, _out, err = _cli(
        capsys, "infer", "--model", "llama3-8b", "--tp", "1", "--speculation", value
    )
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1
    assert "--speculation" in lines[0]
    assert repr(value) in lines[0]
    assert "METHOD:k=K" in lines[0]
