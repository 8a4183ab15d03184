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


def test_partial_rack_pays_its_share_of_the_capital():
    # 8 GPUs of a 72-GPU NVL72 rack pay 8/72 of the rack price per unit time
    rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    lay8 = bm.Layout(tp=4, dp=2, micro_batch=1, global_batch=64, seq_len=4096)
    lay72 = bm.Layout(tp=4, dp=18, micro_batch=1, global_batch=72, seq_len=4096)
    price = bm.Pricing(system_price="3000000 USD", amortization="4 yr")
    r8 = bm.predict_training("llama3-8b", rack, lay8)
    r72 = bm.predict_training("llama3-8b", rack, lay72)
    per_s_8 = r8.energy.cost(price).total.m / r8.step_time.m
    per_s_72 = r72.energy.cost(price).total.m / r72.step_time.m
    assert per_s_8 == pytest.approx(per_s_72 * 8 / 72)
    assert per_s_72 == pytest.approx(3e6 / (4 * 365.25 * 86400))
