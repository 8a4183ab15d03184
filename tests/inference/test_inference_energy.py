"""Energy per output token of a serving prediction: physical invariants."""

from __future__ import annotations

import pytest

import blackwell_model as bm

MODEL = "llama3-70b"


def predict(batch=64, cluster=None, **kw):
    cluster = cluster or bm.catalog.cluster("DGX-H100", gpus=8)
    return bm.predict_inference(
        MODEL,
        cluster,
        bm.InferenceLayout(tp=8),
        batch=batch,
        input_tokens=1000,
        output_tokens=1000,
        precision="fp8",
        **kw,
    )


def test_static_batch_energy_is_power_times_time():
    rep = predict()
    tokens = rep.batch * rep.layout.dp * rep.output_tokens
    period = rep.prefill_time.m + rep.decode_time.m
    # E/token x tokens = average power x duration of the batch
    assert rep.energy_per_token.m * tokens == pytest.approx(rep.average_power.m * period, rel=1e-9)
    # 8 H100 under load draw between their idle floor and TDP plus overheads
    assert 8 * 0.1 * 700 < rep.average_power.m < 8 * 700 * 2.0


def test_better_pue_never_costs_more_energy():
    base = predict()
    better = predict(power=bm.PowerModel(pue=1.05))
    worse = predict(power=bm.PowerModel(pue=1.6))
    assert better.energy_per_token <= base.energy_per_token <= worse.energy_per_token


def test_larger_batch_amortises_weights_per_token():
    # decode of a 70B model at batch 1 is bound by reading the weights: far more J/token
    assert predict(batch=1).energy_per_token > predict(batch=64).energy_per_token


def test_continuous_batching_has_energy():
    rep = predict(batch=None)
    # one steady-state step: the tokens it produces are the throughput times its duration
    assert rep.energy.tokens == pytest.approx(
        rep.output_tokens_per_second.m * rep.time_per_output_token.m
    )
    assert rep.energy_per_token.m * rep.energy.tokens == pytest.approx(
        rep.average_power.m * rep.time_per_output_token.m, rel=1e-9
    )


def test_continuous_batching_at_a_chosen_batch_matches_the_sweep():
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    layout = bm.InferenceLayout(tp=8)
    curve = bm.inference_sweep(
        MODEL, cluster, layout, input_tokens=1000, output_tokens=1000, precision="fp8"
    )
    i = len(curve.batch) // 2
    b = int(curve.batch[i])
    rep = bm.predict_inference(
        MODEL,
        cluster,
        layout,
        batch=b,
        input_tokens=1000,
        output_tokens=1000,
        precision="fp8",
        continuous=True,
    )
    assert not rep.static and rep.batch == b
    assert rep.time_per_output_token.m == pytest.approx(float(curve.tpot_s[i]))
    # its decode breakdown adds up to the time per output token
    assert sum(v.m for v in rep.decode_breakdown.values()) == pytest.approx(
        rep.time_per_output_token.m
    )
