"""Prediction intervals and evidence: from the validation residuals of comparable cases."""

from __future__ import annotations

import math

import pytest

import blackwell_model as bm
from blackwell_model.errors import SpecError
from blackwell_model.trust import intervals
from blackwell_model.trust.intervals import (
    interval_factors,
    leave_one_out_coverage,
    student_t_quantile,
    validation_residuals,
)

LAYOUT = bm.Layout(tp=1, dp=8, global_batch=64, seq_len=4096)


def _train(system: str, model: str = "llama3-8b", layout: bm.Layout = LAYOUT):
    return bm.predict_training(
        model, bm.catalog.cluster(system, gpus=8), layout, check_memory=False
    )


@pytest.mark.parametrize(
    ("p", "dof", "table"),
    [(0.975, 5, 2.571), (0.9, 10, 1.372), (0.95, 30, 1.697), (0.9, 100, 1.290)],
)
def test_student_t_quantile_matches_tables(p, dof, table):
    assert student_t_quantile(p, dof) == pytest.approx(table, rel=0.01)


def test_interval_brackets_the_prediction_and_grows_with_level():
    rep = _train("DGX-H100")
    i80, i95 = rep.interval(0.8), rep.interval(0.95)
    assert i80.low < rep.step_time < i80.high
    assert i95.low < i80.low and i95.high > i80.high
    lo, mid, hi = i80.values["tokens_per_second"]
    assert lo < mid < hi
    # throughput gets the reciprocal factors of the step time
    assert (hi.m * i80.low.m) == pytest.approx(mid.m * rep.step_time.m)
    assert i80.group == "training, NVIDIA Hopper, dense"
    assert i80.contains("step_time", rep.step_time)
    assert set(i80.to_dict()["values"]) == {"step_time_s", "tokens_per_second", "energy_per_step_J"}


def test_intervals_widen_without_measured_cases():
    h100 = _train("DGX-H100").interval(0.8)
    h200 = _train("DGX-H200").interval(0.8)  # same generation, part never measured
    mi300 = _train("MI300X-8").interval(0.8)  # no case of its generation
    width = [math.log(i.high.m / i.low.m) for i in (h100, h200, mi300)]
    assert width[0] < width[1] < width[2]
    assert h200.widened == ("part",) and mi300.widened == ("generation", "part")


def test_moe_training_interval_accounts_for_bias():
    """Blackwell MoE training rows run slower than predicted: the interval's centre is
    the mean log residual of exactly those cases, and it lies inside the interval."""
    f = interval_factors(intervals._Target(phase="training", accelerator="B200-GB200",
                                           system="GB200-NVL72", moe=True), 0.8)  # fmt: skip
    moe = [
        r.log_error for r in validation_residuals()
        if r.phase == "training" and r.moe and r.generation == "NVIDIA Blackwell"
    ]  # fmt: skip
    assert f["bias"] == pytest.approx(sum(moe) / len(moe), rel=1e-12)
    assert f["bias"] > 0
    assert f["low"] < math.exp(f["bias"]) < f["high"]
    assert f["cases"] == len(moe)


def test_serving_interval_and_moe_serving_widened():
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    rep = bm.predict_inference("llama3-8b", cluster, bm.InferenceLayout(tp=1), batch=8,
                               input_tokens=500, output_tokens=100)  # fmt: skip
    iv = rep.interval()
    assert iv.values["time_per_output_token"][0] < rep.time_per_output_token
    assert "serving" in iv.group
    moe = bm.predict_inference("mixtral-8x7b", cluster, bm.InferenceLayout(tp=8), batch=8,
                               input_tokens=500, output_tokens=100)  # fmt: skip
    assert "class" not in moe.interval().widened  # H200 MoE serving cases are Hopper
    a100 = bm.catalog.cluster("DGX-A100", gpus=8)
    moe = bm.predict_inference("mixtral-8x7b", a100, bm.InferenceLayout(tp=8), batch=8,
                               input_tokens=500, output_tokens=100)  # fmt: skip
    assert "class" in moe.interval().widened  # Ampere serving cases are all dense


@pytest.mark.parametrize(
    "system", ["MI300X-8", "Gaudi3-HLS-3", "TPU-v5p-6144", "Trn2-16", "Maia100-4"]
)
def test_other_vendors_are_extrapolated(system):
    c = (
        bm.catalog.cluster(system, gpus=8)
        if system != "TPU-v5p-6144"
        else bm.catalog.cluster(system, gpus=16)
    )
    layout = bm.Layout(tp=1, dp=c.gpus if c.gpus <= 16 else 8, global_batch=64, seq_len=4096)
    rep = bm.predict_training("llama3-8b", c, layout, check_memory=False)
    ev = rep.evidence()
    assert not ev.validated and ev.accelerator_cases == 0
    assert ev.note.startswith("extrapolated")


def test_measured_parts_are_validated():
    ev = _train("DGX-H100").evidence()
    assert ev.validated and ev.accelerator_cases > 30
    assert _train("DGX-A100").evidence().validated
    assert not _train("DGX-H200").evidence().validated


def test_reports_without_inputs_and_bad_levels():
    import attrs

    rep = attrs.evolve(_train("DGX-H100"), inputs=None)
    with pytest.raises(SpecError, match="does not carry its inputs"):
        rep.interval()
    with pytest.raises(SpecError, match="level must be in"):
        _train("DGX-H100").interval(1.5)


@pytest.mark.validation
def test_leave_one_out_coverage_is_near_the_level():
    for level in (0.5, 0.8, 0.9):
        inside, n = leave_one_out_coverage(level)["all"]
        assert abs(inside / n - level) < 0.1, (level, inside, n)


@pytest.mark.validation
def test_stored_residuals_are_current():
    """``python -m blackwell_model.trust.check --residuals`` rewrites them after a model change."""
    stored = {r.id: r for r in validation_residuals()}
    fresh = validation_residuals(recompute=True)
    assert {r.id for r in fresh} == set(stored)
    for r in fresh:
        assert r.log_error == pytest.approx(stored[r.id].log_error, abs=1e-6), r.id
        assert (r.phase, r.accelerator, r.moe) == (
            stored[r.id].phase, stored[r.id].accelerator, stored[r.id].moe,
        )  # fmt: skip


def test_docs_holdout_table_matches_the_stored_records():
    from pathlib import Path

    from blackwell_model.trust.check import holdout_table_rst

    page = (Path(__file__).resolve().parents[2] / "docs" / "trust.rst").read_text("utf-8")
    assert holdout_table_rst() in page


@pytest.mark.slow
@pytest.mark.validation
def test_holdout_a100_row_is_reproduced():
    """``python -m blackwell_model.trust.check --holdout`` wrote the stored table."""
    from blackwell_model.trust.check import generation_holdout, load_holdout

    stored = {r["generation"]: r for r in load_holdout()}["A100"]
    (fresh,) = generation_holdout(["A100"])
    for key in ("median_default", "median_calibrated", "bias_calibrated"):
        assert fresh[key] == pytest.approx(stored[key], abs=1e-4), key
    # calibrating on half of the A100 cases removes most of their bias on the other half
    assert abs(fresh["bias_calibrated"]) < abs(fresh["bias_default"])
