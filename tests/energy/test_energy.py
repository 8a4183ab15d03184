"""Energy model: parts add up, caps and PUE behave, datasheet maxima, pricing by hand, errors."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import SpecError, UnitMismatchError
from blackwell_model.hardware import Cooling, LinkSpec
from blackwell_model.predict.run import predict_training_run
from blackwell_model.solvers.energy import (
    DEFAULT_TRAINING_ACTIVITY,
    PART_KEYS,
    ClusterPower,
    PhaseActivity,
    PowerModel,
    Pricing,
    accelerator_power_W,
    capped_phase,
    cluster_power,
    cost_breakdown_usd,
    fabric_switch_count,
    inference_energy,
    step_energy,
    training_energy,
)
from blackwell_model.solvers.training import BREAKDOWN_KEYS

# ------------------------------------------------------------------ strategies
fraction = st.floats(0.0, 1.0)
activity = st.builds(PhaseActivity, fraction, fraction)


@st.composite
def cluster_parts(draw: st.DrawFn) -> ClusterPower:
    tdp = draw(st.floats(100.0, 2000.0))
    idle = draw(st.floats(0.0, 0.5)) * tdp
    return ClusterPower(
        accelerators=draw(st.integers(1, 4096)),
        tdp_W=tdp,
        idle_W=idle,
        cpus=draw(st.integers(0, 1024)),
        cpu_W=draw(st.floats(0.0, 500.0)),
        cpu_max_W=500.0,
        nics=draw(st.integers(0, 4096)),
        nic_W=draw(st.floats(0.0, 60.0)),
        scale_up_switches=draw(st.integers(0, 512)),
        scale_up_switch_W=draw(st.floats(0.0, 300.0)),
        fabric_switches=draw(st.integers(0, 300)),
        fabric_switch_W=draw(st.floats(0.0, 2000.0)),
        rack_overhead=draw(st.floats(0.0, 0.5)),
        pue=draw(st.floats(1.0, 2.0)),
        compute_share=draw(fraction),
    )


@st.composite
def phases(draw: st.DrawFn) -> tuple[dict[str, float], dict[str, PhaseActivity]]:
    keys = draw(st.lists(st.sampled_from(BREAKDOWN_KEYS), min_size=1, unique=True))
    times = {k: draw(st.floats(0.0, 100.0)) for k in keys}
    assume(sum(times.values()) > 1e-6)
    acts = {k: draw(activity) for k in keys}
    return times, acts


# ------------------------------------------------------------------ invariants
@given(cluster_parts(), phases(), st.none() | fraction)
def test_parts_and_phases_add_up_to_the_energy(
    parts: ClusterPower, ph: tuple[dict[str, float], dict[str, PhaseActivity]], cap: float | None
) -> None:
    times, acts = ph
    cap_w = (
        None
        if cap is None
        else min(parts.tdp_W, parts.idle_W + max(cap, 1e-3) * (parts.tdp_W - parts.idle_W))
    )
    e = step_energy(times, acts, parts, power_cap_W=cap_w)
    assert sum(e.part_energy_J.values()) == pytest.approx(e.energy_J, rel=1e-12)
    assert sum(e.phase_energy_J.values()) == pytest.approx(e.energy_J, rel=1e-12)
    # energy is the integral of power over the phases
    integral = sum(e.phase_power_W[k] * e.phase_time_s[k] for k in times)
    assert integral == pytest.approx(e.energy_J, rel=1e-12)
    assert e.average_power_W == pytest.approx(e.energy_J / e.step_time_s, rel=1e-12)
    assert e.average_power_W <= e.peak_power_W * (1 + 1e-12)
    assert e.it_energy_J * parts.pue == pytest.approx(e.energy_J, rel=1e-12)
    assert set(e.part_energy_J) == set(PART_KEYS)


@given(cluster_parts(), phases(), st.floats(1e-3, 1.0))
def test_a_power_cap_never_raises_power_nor_speeds_a_step(
    parts: ClusterPower, ph: tuple[dict[str, float], dict[str, PhaseActivity]], level: float
) -> None:
    times, acts = ph
    cap_w = min(parts.tdp_W, parts.idle_W + level * (parts.tdp_W - parts.idle_W))
    free = step_energy(times, acts, parts)
    capped = step_energy(times, acts, parts, power_cap_W=cap_w)
    assert capped.step_time_s >= free.step_time_s * (1 - 1e-12)
    assert capped.peak_power_W <= free.peak_power_W * (1 + 1e-12)
    assert capped.average_power_W <= free.average_power_W * (1 + 1e-9)
    for k in times:
        assert capped.accelerator_power_W[k] <= cap_w * (1 + 1e-12)
        assert capped.accelerator_power_W[k] <= free.accelerator_power_W[k] * (1 + 1e-12)
        assert 0.0 < capped.clock_ratio[k] <= 1.0


@given(cluster_parts(), phases(), st.floats(1.0, 2.0), st.floats(1.0, 2.0))
def test_a_better_pue_never_raises_facility_energy(
    parts: ClusterPower,
    ph: tuple[dict[str, float], dict[str, PhaseActivity]],
    a: float,
    b: float,
) -> None:
    times, acts = ph
    lo, hi = sorted((a, b))
    e_lo = step_energy(times, acts, attrs.evolve(parts, pue=lo))
    e_hi = step_energy(times, acts, attrs.evolve(parts, pue=hi))
    assert e_lo.energy_J <= e_hi.energy_J * (1 + 1e-12)
    assert e_lo.it_energy_J == pytest.approx(e_hi.it_energy_J, rel=1e-12)


@given(st.floats(100, 2000), st.floats(0, 0.5), st.tuples(fraction, fraction, fraction, fraction))
def test_accelerator_power_is_monotone_and_between_idle_and_tdp(
    tdp: float, idle_frac: float, acts: tuple[float, float, float, float]
) -> None:
    c1, c2, m1, m2 = acts
    idle = idle_frac * tdp
    lo = accelerator_power_W(tdp, idle, min(c1, c2), min(m1, m2))
    hi = accelerator_power_W(tdp, idle, max(c1, c2), max(m1, m2))
    assert idle - 1e-9 <= lo <= hi + 1e-9
    assert hi <= tdp + 1e-9


# ------------------------------------------------------------------ by hand
def test_energy_is_power_times_time_by_hand() -> None:
    parts = ClusterPower(
        accelerators=2, tdp_W=700.0, idle_W=100.0, cpus=1, cpu_W=200.0, nics=2, nic_W=30.0,
        scale_up_switches=1, scale_up_switch_W=90.0, fabric_switches=1, fabric_switch_W=1000.0,
        rack_overhead=0.1, pue=1.2, compute_share=0.75,
    )  # fmt: skip
    acts = {"compute": PhaseActivity(1.0, 0.4), "pipeline_bubble": PhaseActivity(0.0, 0.0)}
    e = step_energy({"compute": 3.0, "pipeline_bubble": 1.0}, acts, parts)
    p_acc = 100.0 + 600.0 * (0.75 * 1.0 + 0.25 * 0.4)  # 610 W
    assert e.accelerator_power_W["compute"] == pytest.approx(p_acc)
    rack = lambda pa: (2 * pa + 200.0 + 60.0 + 90.0) * 1.1  # noqa: E731
    it_c = rack(p_acc) + 1000.0
    it_b = rack(100.0) + 1000.0
    assert e.phase_power_W["compute"] == pytest.approx(1.2 * it_c)
    assert e.energy_J == pytest.approx(1.2 * (3.0 * it_c + 1.0 * it_b))
    assert e.part_energy_J["accelerators"] == pytest.approx(2 * p_acc * 3.0 + 2 * 100.0 * 1.0)
    assert e.part_energy_J["fabric_switches"] == pytest.approx(4000.0)
    assert e.peak_power_W == pytest.approx(1.2 * it_c)


def test_power_cap_by_hand() -> None:
    # dynamic 600 W at full compute; a cap at idle + 600/8 W halves the clock
    p, slow, r = capped_phase(700.0, 100.0, 175.0, 1.0)
    assert (p, r, slow) == pytest.approx((175.0, 0.5, 2.0))
    # memory-bound phase: power capped, no slowdown
    p, slow, r = capped_phase(700.0, 100.0, 175.0, 0.0)
    assert (p, slow) == pytest.approx((175.0, 1.0))
    # below the cap nothing changes
    assert capped_phase(300.0, 100.0, 500.0, 1.0) == (300.0, 1.0, 1.0)


def test_fabric_switch_count_by_hand() -> None:
    fab = bm.catalog.fabric("IB-NDR-fat-tree")  # 64-port QM9700, non-blocking
    assert fabric_switch_count(attrs.evolve(fab, tiers=1), 48) == 1
    # 2 tiers: 2048 / 32 = 64 leaves, 64 x 32 up / 64 = 32 spines
    assert fabric_switch_count(attrs.evolve(fab, tiers=2), 2048) == 96
    # 3 tiers: 512 leaves, 512 aggregation, 256 core
    assert fabric_switch_count(attrs.evolve(fab, tiers=3), 16384) == 1280
    assert fabric_switch_count(fab, 0) == 0


def test_pricing_modes_by_hand() -> None:
    rent = Pricing(gpu_hour_price="2.5 USD/h")
    c = cost_breakdown_usd(
        rent, gpus=16, domains=2, duration_s=7200.0, energy_J=3.6e9, max_it_power_W=1e4
    )
    assert c == pytest.approx({"rental": 80.0, "capital": 0.0, "electricity": 0.0, "facility": 0.0})
    own = Pricing(
        system_price="350000 USD",
        network_price_per_gpu="5000 USD",
        amortization="5 yr",
        electricity_price="0.10 USD/kWh",
        facility_price="1000 USD/(kW*yr)",
    )
    year = 365.25 * 86400.0
    c = cost_breakdown_usd(
        own, gpus=16, domains=2, duration_s=year, energy_J=3.6e9 * 1000, max_it_power_W=2e4
    )
    assert c["capital"] == pytest.approx((2 * 350000 + 16 * 5000) / 5)
    assert c["electricity"] == pytest.approx(100_000.0)  # 1,000 MWh x $0.10/kWh
    assert c["facility"] == pytest.approx(20 * 1000.0)  # 20 kW x $1,000/kW/yr
    assert c["rental"] == 0.0


# ------------------------------------------------------- datasheet maxima
def _full_load_kw(system: str) -> float:
    c = bm.catalog.cluster(system, gpus=bm.catalog.system(system).gpus)
    return cluster_power(c).max_it_power_W() / 1e3


def test_dgx_h100_full_load_stays_under_its_rating() -> None:
    kw = _full_load_kw("DGX-H100")
    assert kw < 10.2  # NVIDIA DGX H100 datasheet maximum
    assert kw == pytest.approx(8.4, rel=0.1)  # Latif et al. 2025: 8.4 kW max observed


@pytest.mark.parametrize("system", ["DGX-A100", "DGX-B200", "DGX-H200", "GB200-NVL72"])
def test_systems_at_full_load_stay_under_their_rating(system: str) -> None:
    rating = bm.catalog.system(system).max_power.to("kW").m
    assert _full_load_kw(system) <= rating


def test_gb200_nvl72_rack_lands_in_its_class() -> None:
    kw = _full_load_kw("GB200-NVL72")
    assert 110.0 <= kw <= 132.0  # ~120 kW typical, 132 kW power-shelf capacity


def test_full_load_is_the_all_busy_step() -> None:
    c = bm.catalog.cluster("GB200-NVL72", gpus=72)
    parts = attrs.evolve(cluster_power(c), cpu_W=cluster_power(c).cpu_max_W)
    e = step_energy({"compute": 1.0}, {"compute": PhaseActivity(1.0, 1.0)}, parts)
    assert e.it_energy_J == pytest.approx(parts.max_it_power_W())


# ------------------------------------------------------------- integration
@pytest.fixture(scope="module")
def dgx_step() -> tuple[bm.TrainingReport, bm.Cluster]:
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    layout = bm.Layout(tp=2, dp=4, micro_batch=1, global_batch=64, seq_len=4096)
    return bm.predict_training("llama3-8b", cluster, layout), cluster


def test_training_energy_follows_the_step(dgx_step: tuple[bm.TrainingReport, bm.Cluster]) -> None:
    rep, cluster = dgx_step
    e = training_energy(rep, cluster)
    assert e.step_time.m == pytest.approx(rep.step_time.m)
    total = sum(v.m for v in e.breakdown.values())
    assert total == pytest.approx(e.energy_per_step.m)
    assert sum(v.m for v in e.by_phase.values()) == pytest.approx(e.energy_per_step.m)
    assert e.energy_per_token.m == pytest.approx(e.energy_per_step.m / rep.layout.tokens_per_step)
    assert e.pue == PowerModel().pue_for(Cooling.AIR)
    assert set(e.to_dict()["phases_J"]) == set(BREAKDOWN_KEYS)
    assert "by part" in e.summary()


@pytest.mark.validation
def test_dgx_h100_training_power_matches_measurements(
    dgx_step: tuple[bm.TrainingReport, bm.Cluster],
) -> None:
    # SMC MLPerf Training v4.0: 5.8-6.7 kW per 8 x H100 node fine-tuning an LLM;
    # Latif et al. 2025: up to 8.4 kW.  IT power, before PUE.
    rep, cluster = dgx_step
    kw = training_energy(rep, cluster).average_it_power.to("kW").m
    assert 5.5 <= kw <= 7.5


def test_power_cap_slows_compute_and_lowers_power(
    dgx_step: tuple[bm.TrainingReport, bm.Cluster],
) -> None:
    rep, cluster = dgx_step
    free = training_energy(rep, cluster)
    capped = training_energy(rep, cluster, power=PowerModel(power_cap="400 W"))
    assert capped.step_time.m > free.step_time.m
    assert capped.peak_power.m < free.peak_power.m
    assert capped.average_power.m < free.average_power.m
    assert capped.result.accelerator_power_W["compute"] == pytest.approx(400.0)


def test_better_pue_lowers_facility_energy(dgx_step: tuple[bm.TrainingReport, bm.Cluster]) -> None:
    rep, cluster = dgx_step
    a = training_energy(rep, cluster, power=PowerModel(pue=1.1))
    b = training_energy(rep, cluster, power=PowerModel(pue=1.5))
    assert a.energy_per_step.m < b.energy_per_step.m
    assert a.it_energy_per_step.m == pytest.approx(b.it_energy_per_step.m)


def test_step_cost_by_hand(dgx_step: tuple[bm.TrainingReport, bm.Cluster]) -> None:
    rep, cluster = dgx_step
    e = training_energy(rep, cluster)
    cost = e.cost(Pricing(gpu_hour_price="3 USD/h"))
    assert cost.total.m == pytest.approx(8 * 3.0 * rep.step_time.m / 3600.0)
    assert cost.per_million_tokens.m == pytest.approx(cost.total.m * 1e6 / (64 * 4096))


def test_training_run_totals(dgx_step: tuple[bm.TrainingReport, bm.Cluster]) -> None:
    rep, cluster = dgx_step
    run = predict_training_run(
        "llama3-8b", cluster, rep.layout, tokens=1e9, goodput=0.8, report=rep,
        pricing=Pricing(gpu_hour_price="2 USD/h", electricity_price="0.1 USD/kWh"),
        carbon_intensity="500 gCO2e/kWh",
    )  # fmt: skip
    steps = math.ceil(1e9 / (64 * 4096))
    wall = steps * rep.step_time.m / 0.8
    assert run.steps == steps
    assert run.gpu_hours == pytest.approx(8 * wall / 3600)
    assert run.days == pytest.approx(wall / 86400)
    e_run = steps * run.energy.energy_per_step.m / 0.8
    assert run.mwh == pytest.approx(e_run / 3.6e9)
    assert run.tco2e == pytest.approx(run.mwh * 1000 * 500 / 1e6)
    assert run.dollars == pytest.approx(8 * 2.0 * wall / 3600 + e_run / 3.6e6 * 0.1)
    assert run.to_dict()["gpu_hours"] == run.gpu_hours
    assert "GPU-hours" in run.summary()


def test_inference_energy_per_output_token() -> None:
    c = bm.catalog.cluster("DGX-H100", gpus=8)
    e = inference_energy(c, gpus=8, output_tokens=1000.0, prefill_s=0.2, decode_s=10.0)
    assert e.energy_per_token.m == pytest.approx(e.energy_per_step.m / 1000.0)
    assert e.step_time.m == pytest.approx(10.2)
    more = inference_energy(c, gpus=8, output_tokens=1000.0, prefill_s=0.4, decode_s=10.0)
    assert more.energy_per_token.m > e.energy_per_token.m
    # a cap lowers decode power without slowing a purely memory-bound decode
    capped = inference_energy(
        c, gpus=8, output_tokens=1000.0, prefill_s=0.0, decode_s=10.0, decode_compute=0.0,
        power=PowerModel(power_cap="300 W"),
    )  # fmt: skip
    assert capped.step_time.m == pytest.approx(10.0)


def test_link_power_round_trips() -> None:
    nic = bm.catalog.link("IB-NDR-400G")
    assert nic.power is not None
    assert LinkSpec.from_dict(nic.to_dict()) == nic
    assert attrs.evolve(nic, power="40 W").power.m == 40.0


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gpu_hour_price": "-1 USD/h"}, "gpu_hour_price must be >= 0"),
        ({"electricity_price": "-0.1 USD/kWh"}, "electricity_price must be >= 0"),
        ({"system_price": "1 USD", "gpu_hour_price": "2 USD/h"}, "not both"),
        ({}, "at least one price"),
        ({"gpu_hour_price": "2 USD/h", "amortization": "0 yr"}, "amortization must be > 0"),
    ],
)
def test_pricing_errors(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        Pricing(**kwargs)


def test_pricing_needs_units() -> None:
    with pytest.raises(UnitMismatchError, match="gpu_hour_price"):
        Pricing(gpu_hour_price=2.0)  # type: ignore[arg-type]
    with pytest.raises(UnitMismatchError, match="electricity_price"):
        Pricing(electricity_price="0.1 USD/h")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pue": 0.9}, r"pue must be a power usage effectiveness >= 1"),
        ({"pue_air": 0.5}, r"pue_air must be"),
        ({"idle_fraction": 1.5}, r"idle_fraction must be a fraction in \[0, 1\]"),
        ({"clock_exponent": 0.5}, "clock_exponent must be"),
        ({"power_cap": "-5 W"}, "power_cap must be > 0"),
    ],
)
def test_power_model_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        PowerModel(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("cap", ["900 W", "50 W"])
def test_power_cap_outside_idle_and_tdp_is_refused(cap: str) -> None:
    c = bm.catalog.cluster("DGX-H100", gpus=8)
    with pytest.raises(SpecError, match=r"power_cap must be in \(77 W idle, 700 W TDP\]"):
        cluster_power(c, power=PowerModel(power_cap=cap))


def test_step_energy_errors() -> None:
    parts = ClusterPower(accelerators=1, tdp_W=700.0, idle_W=70.0)
    act = {"compute": PhaseActivity(1.0, 1.0)}
    with pytest.raises(SpecError, match="phase time 'compute' must be a finite number >= 0"):
        step_energy({"compute": -1.0}, act, parts)
    with pytest.raises(SpecError, match="no activity for phase 'bubble'"):
        step_energy({"bubble": 1.0}, act, parts)
    with pytest.raises(SpecError, match="add up to > 0 s"):
        step_energy({"compute": 0.0}, act, parts)
    with pytest.raises(SpecError, match=r"power_cap must be in \(70 W idle"):
        step_energy({"compute": 1.0}, act, parts, power_cap_W=800.0)
    with pytest.raises(SpecError, match=r"compute must be a fraction in \[0, 1\]"):
        PhaseActivity(1.2, 0.0)
    with pytest.raises(SpecError, match="idle_W must be < tdp_W"):
        ClusterPower(accelerators=1, tdp_W=100.0, idle_W=200.0)
    with pytest.raises(SpecError, match="pue must be >= 1"):
        ClusterPower(accelerators=1, tdp_W=100.0, idle_W=20.0, pue=0.8)


def test_run_errors(dgx_step: tuple[bm.TrainingReport, bm.Cluster]) -> None:
    rep, cluster = dgx_step
    with pytest.raises(SpecError, match="tokens must be a finite number > 0"):
        predict_training_run("llama3-8b", cluster, rep.layout, tokens=0, report=rep)
    with pytest.raises(SpecError, match=r"goodput must be a fraction in \(0, 1\]"):
        predict_training_run("llama3-8b", cluster, rep.layout, tokens=1e9, goodput=1.5, report=rep)
    with pytest.raises(UnitMismatchError, match="carbon_intensity"):
        predict_training_run(
            "llama3-8b", cluster, rep.layout, tokens=1e9, report=rep, carbon_intensity="3 W"
        )
    with pytest.raises(SpecError, match="gpus must be an integer in"):
        cluster_power(cluster, gpus=9)
    with pytest.raises(SpecError, match="output_tokens must be a number > 0"):
        inference_energy(cluster, gpus=8, output_tokens=0, prefill_s=1.0, decode_s=1.0)


def test_default_activity_covers_every_training_phase() -> None:
    assert set(DEFAULT_TRAINING_ACTIVITY) == set(BREAKDOWN_KEYS)


def test_comparison_example_runs() -> None:
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "compare_gb200_h100.py"
    ns = runpy.run_path(str(path), run_name="example")
    train = ns["compare"]()
    assert train["GB200-NVL72"]["days"] < train["DGX-H100"]["days"]
    serve = ns["serve"]()
    assert serve["GB200-NVL72"]["joules_per_token"] > 0
