"""The facility: cooling and clocks, a power budget, cost alternatives, and the fleet plan."""

from __future__ import annotations

import pytest

import blackwell_model as bm
from blackwell_model.errors import SpecError
from blackwell_model.solvers.energy import PowerModel, cluster_power
from blackwell_model.solvers.site import (
    CostOptions,
    Facility,
    cost_options,
    domains_within_power,
    with_cooling,
)
from blackwell_model.study.fleet import plan_fleet

H100 = bm.catalog.cluster("DGX-H100", gpus=64)
LAYOUT = bm.Layout(tp=8, pp=2, dp=4, vpp=5, micro_batch=1, global_batch=64, seq_len=4096)


def test_liquid_cooling_raises_the_clock_and_lowers_the_pue() -> None:
    wet = with_cooling(H100, Facility(cooling="liquid"))
    assert wet.domain.cooling is bm.Cooling.LIQUID
    ratio = wet.accelerator.peak("bf16").m / H100.accelerator.peak("bf16").m
    assert ratio == pytest.approx(1.0 / 0.985)
    assert wet.accelerator.memory_bandwidth == H100.accelerator.memory_bandwidth
    assert cluster_power(wet).pue == PowerModel().pue_liquid
    assert with_cooling(H100, Facility()) is H100  # no cooling given: unchanged
    dry = bm.predict_training("llama3-70b", H100, LAYOUT)
    cooled = bm.predict_training("llama3-70b", wet, LAYOUT)
    assert cooled.step_time.m < dry.step_time.m  # faster clocks never slow a step
    assert Facility(pue=1.08).power_model().pue == 1.08
    with pytest.raises(SpecError, match="clock_air must be a fraction in"):
        Facility(clock_air=1.2)


def test_power_budget_bounds_the_racks_by_hand() -> None:
    fleet = bm.catalog.cluster("GB200-NVL72", gpus=72 * 40)
    budget_w = 3e6
    k = domains_within_power(fleet, "3 MW")

    def facility_w(n: int) -> float:
        cp = cluster_power(fleet, gpus=n * 72)
        return cp.max_it_power_W() * cp.pue

    assert facility_w(k) <= budget_w < facility_w(k + 1)
    assert domains_within_power(fleet, "1 GW") == 40  # capped at the cluster
    assert domains_within_power(fleet, "1 kW") == 0
    # a lower PUE runs more racks on the same budget
    assert domains_within_power(fleet, "3 MW", power=PowerModel(pue=1.05)) > k
    with pytest.raises(SpecError, match="budget must be > 0 W"):
        domains_within_power(fleet, "0 W")


def test_cost_options_by_hand() -> None:
    opts = CostOptions(
        tariff="0.1 USD/kWh",
        system_price="400000 USD",
        amortization="4 yr",
        gpu_hour_price="2 USD/h",
    )
    c = cost_options(
        opts, gpus=8, domains=1, duration_s=3600.0, energy_J=3.6e7 * 10, max_it_power_W=1e4
    )
    assert c.totals["energy"] == pytest.approx(100 * 0.1)  # 3.6e8 J = 100 kWh
    assert c.totals["rental"] == pytest.approx(16.0)
    capex = 400000 * 3600.0 / (4 * 365.25 * 86400)
    assert c.totals["owned"] == pytest.approx(capex + 10.0)
    assert c.used == "owned"  # a system price means owned hardware is what is charged
    assert c.total == c.totals["owned"]
    assert "<- charged" in c.summary()
    rent = cost_options(
        CostOptions(tariff="0.1 USD/kWh", gpu_hour_price="2 USD/h", use="energy"),
        gpus=8, domains=1, duration_s=3600.0, energy_J=0.0, max_it_power_W=0.0,
    )  # fmt: skip
    assert rent.used == "energy"
    with pytest.raises(SpecError, match="needs a tariff"):
        CostOptions()
    with pytest.raises(SpecError, match="that option has no price"):
        CostOptions(tariff="0.1 USD/kWh", use="rental")


def test_fleet_plan_by_power_budget_and_run() -> None:
    plan = plan_fleet("GB200-NVL72", power_budget="2 MW")
    assert plan.limited_by == "power budget"
    assert plan.facility_power_W <= 2e6
    bigger = plan_fleet("GB200-NVL72", power_budget="2 MW", facility=Facility(pue=1.05))
    assert bigger.domains > plan.domains
    small = plan_fleet("GB200-NVL72", gpus=144, power_budget="2 MW")
    assert small.limited_by == "gpus" and small.domains == 2
    lay = bm.Layout(tp=4, pp=2, dp=18, vpp=5, micro_batch=1, global_batch=144, seq_len=8192)
    run = plan_fleet(
        "GB200-NVL72", gpus=144, model="llama3-70b", layout=lay, tokens=1e11,
        costs=CostOptions(tariff="0.08 USD/kWh", gpu_hour_price="3 USD/h"),
    )  # fmt: skip
    assert run.run is not None and run.run.goodput_source == "modelled"
    assert run.cost is not None and run.cost.used == "rental"
    gpu_h = run.run.gpus * run.run.wall_time.m / 3600
    assert run.cost.totals["rental"] == pytest.approx(3.0 * gpu_h)
    assert "each way of paying" in run.summary()
    with pytest.raises(SpecError, match="needs gpus, a power_budget"):
        plan_fleet("GB200-NVL72")
    with pytest.raises(SpecError, match="together"):
        plan_fleet("GB200-NVL72", gpus=72, model="llama3-70b")
