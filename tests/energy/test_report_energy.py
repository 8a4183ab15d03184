"""Energy on TrainingReport: parts add up, caps slow the step and never raise power."""

from __future__ import annotations

import pytest

import blackwell_model as bm
from blackwell_model.predict.training import with_energy

CLUSTER = bm.catalog.cluster("DGX-H100", gpus=8)
LAYOUT = bm.Layout(tp=2, dp=4, micro_batch=1, global_batch=64, seq_len=4096)


def report(**kw):
    return bm.predict_training("llama3-8b", CLUSTER, LAYOUT, **kw)


def test_report_energy_is_power_times_step_time():
    rep = report()
    assert rep.energy_per_step.m == pytest.approx(rep.average_power.m * rep.step_time.m, rel=1e-9)
    assert sum(v.m for v in rep.energy_breakdown.values()) == pytest.approx(rep.energy_per_step.m)
    assert rep.energy_per_token.m == pytest.approx(rep.energy_per_step.m / LAYOUT.tokens_per_step)
    assert rep.peak_power >= rep.average_power


def test_power_cap_slows_the_step_and_never_raises_power():
    free = report()
    capped = report(power=bm.PowerModel(power_cap="450 W"))
    assert capped.step_time > free.step_time
    assert capped.peak_power <= free.peak_power
    assert capped.average_power <= free.average_power
    # the capped breakdown still adds up to the capped step time
    assert sum(v.m for v in capped.breakdown.values()) == pytest.approx(capped.step_time.m)
    assert capped.uncapped_breakdown is not None
    assert sum(v.m for v in capped.uncapped_breakdown.values()) == pytest.approx(free.step_time.m)


def test_recomputing_energy_does_not_cap_twice():
    cap = bm.PowerModel(power_cap="450 W")
    capped = report(power=cap)
    again = with_energy(capped, CLUSTER, power=cap)
    assert again.step_time.m == pytest.approx(capped.step_time.m)
    uncapped = with_energy(capped, CLUSTER)
    assert uncapped.step_time.m == pytest.approx(report().step_time.m)


def test_run_uses_the_capped_step():
    cap = bm.PowerModel(power_cap="450 W")
    run = bm.predict_training_run("llama3-8b", CLUSTER, LAYOUT, tokens=1e9, power=cap)
    free = bm.predict_training_run("llama3-8b", CLUSTER, LAYOUT, tokens=1e9)
    assert run.days > free.days
