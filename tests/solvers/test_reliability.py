"""Failure rates, blast radius, checkpoints, Young/Daly and stragglers.

Expected values are hand arithmetic on the formulas and the sources' figures,
or physical invariants (more failures never raise goodput; the Daly interval
is a maximum of Daly's goodput), never numbers read back from the code.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import SpecError
from blackwell_model.predict.run import predict_training_run
from blackwell_model.solvers.reliability import (
    RADII,
    SCOPES,
    CheckpointModel,
    FailureRate,
    FailureRates,
    ReliabilityModel,
    RestartModel,
    StragglerModel,
    checkpoint_time_s,
    daly_goodput,
    daly_interval_s,
    expected_max_normal,
    job_exposure,
    job_goodput,
    young_interval_s,
)

H = 3600.0
DAY = 86400.0


# ----------------------------------------------------------------- the data
def test_every_shipped_rate_has_a_source_scope_and_radius() -> None:
    raw = tomllib.loads(
        (resources.files("blackwell_model.solvers") / "data" / "failure_rates.toml").read_text(
            "utf-8"
        )
    )
    assert set(raw["part"]) == {
        "gpu", "hbm", "nic_link", "fabric_link", "fabric_switch", "scale_up_switch", "host",
        "cooling",
    }  # fmt: skip
    for name, part in raw["part"].items():
        assert len(part["source"]) > 40, name
        assert part["scope"] in SCOPES, name
        assert part["radius"] in RADII, name


def test_shipped_rates_are_the_sources_figures() -> None:
    r = FailureRates.default().rates
    # Delta (SC'25): 3 GSP errors in 2.1 M H100 GPU-hours; per-GB HBM3 MTBE 8,521,728 h
    assert r["gpu"].rate_per_s * H == pytest.approx(3 / 2.1e6)
    assert r["hbm"].rate_per_s * H == pytest.approx(1 / 8_521_728)
    # Alibaba HPN (SIGCOMM'24): 0.057 %/month of NIC-ToR links, 0.051 %/month of ToR switches
    month_h = 365.25 / 12 * 24
    assert r["nic_link"].rate_per_s * H == pytest.approx(0.00057 / month_h)
    assert r["fabric_switch"].rate_per_s * H == pytest.approx(0.00051 / month_h)
    # SoCC'10: 8 % of servers see >= 1 incident a year -> Poisson rate -ln(0.92)
    assert r["host"].per_year == pytest.approx(-math.log(0.92), rel=1e-3)


def test_rates_from_toml_and_bad_tables(tmp_path) -> None:
    f = tmp_path / "rates.toml"
    f.write_text(
        '[part.psu]\nscope = "node"\nevents = 1\nper = "100000 h"\nradius = "node"\n'
        'source = "vendor MTBF"\n'
    )
    rates = FailureRates.from_toml(f)
    assert rates.rates["psu"].rate_per_s == pytest.approx(1 / (1e5 * H))
    with pytest.raises(SpecError, match="scope must be one of"):
        FailureRate(part="x", scope="rack", events=1, per="1 yr", source="s")
    with pytest.raises(SpecError, match="radius must be one of"):
        FailureRate(part="x", scope="node", events=1, per="1 yr", radius="row", source="s")
    with pytest.raises(SpecError, match="events must be a finite number >= 0"):
        FailureRate(part="x", scope="node", events=-1, per="1 yr", source="s")
    with pytest.raises(SpecError, match="lacks source"):
        FailureRates.from_dict({"part": {"x": {"scope": "node", "events": 1, "per": "1 yr"}}})
    with pytest.raises(SpecError, match="unknown keys"):
        FailureRates.from_dict(
            {"part": {"x": {"scope": "node", "events": 1, "per": "1 yr", "source": "s", "a": 1}}}
        )
    with pytest.raises(SpecError, match=r"no failure rate for \['nope'\]"):
        FailureRates.default().without("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("[part.x\n")
    with pytest.raises(SpecError, match="cannot read failure rates"):
        FailureRates.from_toml(bad)


# ------------------------------------------------------------------ exposure
def test_blast_radius_of_an_nvl72_rack_takes_the_neighbours() -> None:
    rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    mine = job_exposure(rack, 32)
    assert mine.counts["accelerator"] == 72  # every GPU of the rack can stop the job
    assert mine.counts["node"] == 18
    assert mine.radius_gpus["node"] == 72
    assert mine.counts["liquid_domain"] == 1
    assert mine.counts["scale_up_switch"] == 18
    assert mine.counts["fabric_link"] == 0  # one domain: no fabric on the job's path
    alone = job_exposure(rack, 32, rack_blast_radius=False)
    assert alone.counts["accelerator"] == 32
    assert alone.counts["node"] == 8
    assert alone.radius_gpus["node"] == 4


def test_exposure_of_hgx_servers_by_hand() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=16384)
    e = job_exposure(cluster, 16384)
    assert e.counts["accelerator"] == 16384
    assert e.counts["node"] == 2048
    assert e.counts["nic"] == 16384
    assert e.counts["liquid_domain"] == 0  # air-cooled
    assert e.counts["scale_up_switch"] == 2048 * 4
    # 3-tier non-blocking fat-tree: two layers of switch-to-switch links, one per NIC each
    assert cluster.fabric.tiers == 3
    assert e.counts["fabric_link"] == 2 * 16384
    # 64-port switches: 512 leaves, 512 aggregation, 256 core
    assert e.counts["fabric_switch"] == 512 + 512 + 256
    assert e.counts["GiB"] == pytest.approx(16384 * 81559 / 1024)
    assert e.radius_gpus == {"node": 8, "domain": 8, "job": 0}


def test_exposure_rejects_bad_gpu_counts() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=16)
    with pytest.raises(SpecError, match=r"gpus must be an integer in \[1, 16\], got 17"):
        job_exposure(cluster, 17)
    with pytest.raises(SpecError, match="cluster must be a Cluster"):
        job_exposure("DGX-H100", 8)  # type: ignore[arg-type]


# --------------------------------------------------------- checkpoint, restart
def test_checkpoint_times_by_hand() -> None:
    # 405B parameters x 14 B = 5.67 TB over Meta's 2 TB/s storage
    ck = CheckpointModel(storage_bandwidth="2 TB/s")
    assert ck.write_time_s(405e9, 16384) == pytest.approx(5.67e12 / 2e12)
    # without a storage cap: 8 GPUs x 0.5 GB/s
    assert CheckpointModel().write_time_s(8e9, 8) == pytest.approx(8e9 * 14 / 4e9)
    # asynchronous: only the device-to-host copy of one shard blocks
    ck_async = CheckpointModel(asynchronous=True, host_copy_bandwidth="20 GB/s")
    assert ck_async.write_time_s(8e9, 8) == pytest.approx(8e9 * 14 / 8 / 20e9)
    assert checkpoint_time_s(0.0, 1.0) == 0.0
    with pytest.raises(SpecError, match="bandwidth_Bps > 0"):
        checkpoint_time_s(1.0, 0.0)
    with pytest.raises(SpecError, match="write_bandwidth must be > 0"):
        CheckpointModel(write_bandwidth="0 GB/s")
    assert RestartModel(detect="1 min", reschedule="0 s", initialize="30 s").fixed_s == 90.0


# ------------------------------------------------------------ Young and Daly
def test_young_and_daly_by_hand() -> None:
    assert young_interval_s(2.0, 3600.0) == pytest.approx(120.0)
    x = 2.0 / 7200.0
    assert daly_interval_s(2.0, 3600.0) == pytest.approx(120.0 * (1 + x**0.5 / 3 + x / 9) - 2.0)
    assert daly_interval_s(10_000.0, 3600.0) == 3600.0
    m, r, tau, d = 15000.0, 720.0, 300.0, 3.0
    assert daly_goodput(tau, d, r, m) == pytest.approx(
        tau / (m * math.exp(r / m) * (math.exp((tau + d) / m) - 1))
    )
    assert daly_goodput(100.0, 5.0, 0.0, math.inf) == pytest.approx(100 / 105)
    with pytest.raises(SpecError, match="mean time to interrupt must be > 0 s"):
        young_interval_s(1.0, 0.0)
    with pytest.raises(SpecError, match="tau_s must be > 0 s"):
        daly_goodput(0.0, 1.0, 1.0, 10.0)


@settings(max_examples=60, deadline=None)
@given(
    delta=st.floats(0.1, 600.0),
    mtti=st.floats(600.0, 1e6),
    restart=st.floats(0.0, 3600.0),
)
def test_daly_interval_maximises_daly_goodput(delta, mtti, restart) -> None:
    tau = daly_interval_s(delta, mtti)
    g = daly_goodput(tau, delta, restart, mtti)
    assert 0.0 < g <= 1.0
    for f in (0.7, 1.4):
        assert g >= daly_goodput(tau * f, delta, restart, mtti) - 1e-9
    # Daly's estimate tends to Young's when the checkpoint is short against M
    if delta / mtti < 1e-4:
        assert tau == pytest.approx(young_interval_s(delta, mtti), rel=0.02)


# ---------------------------------------------------------------- stragglers
def test_expected_maximum_of_normals_by_hand() -> None:
    assert expected_max_normal(1) == 0.0
    assert expected_max_normal(2) == pytest.approx(1 / math.sqrt(math.pi), abs=1e-6)
    assert expected_max_normal(3) == pytest.approx(1.5 / math.sqrt(math.pi), abs=1e-6)
    # tables of normal order statistics (Harter 1961): n = 10 -> 1.53875, n = 100 -> 2.50759
    assert expected_max_normal(10) == pytest.approx(1.53875, abs=1e-5)
    assert expected_max_normal(100) == pytest.approx(2.50759, abs=1e-5)
    assert StragglerModel(sigma=0.02).slowdown(10) == pytest.approx(1 + 0.02 * 1.53875, abs=1e-6)
    with pytest.raises(SpecError, match="n must be an integer >= 1"):
        expected_max_normal(0)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 200_000))
def test_more_ranks_never_straggle_less(n) -> None:
    assert expected_max_normal(n + 1) >= expected_max_normal(n)


# ------------------------------------------------------------------ goodput
def test_interruption_rate_is_the_sum_of_the_parts_by_hand() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=64)
    rel = ReliabilityModel()
    rep = job_goodput(cluster, 64, parameters=70e9, reliability=rel)
    e = job_exposure(cluster, 64)
    by_hand = sum(r.rate_per_s * e.counts[r.scope] for r in rel.rates.rates.values())
    assert rep.interruption_rate_per_s == pytest.approx(by_hand)
    assert rep.mtti.m == pytest.approx(1 / by_hand)
    assert rep.goodput + sum(rep.waste.values()) == pytest.approx(1.0)
    assert rep.interruptions("1 d")["planned"] == 0.0
    assert sum(rep.interruptions("2 d").values()) == pytest.approx(2 * rep.interruptions_per_day)


def test_no_failures_means_no_lost_time() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    rel = ReliabilityModel(rates=FailureRates(rates={}), stragglers=None)
    rep = job_goodput(cluster, 8, parameters=8e9, reliability=rel)
    assert rep.goodput == 1.0
    assert math.isinf(rep.mtti.m)
    assert rep.straggler_slowdown == 1.0


def test_planned_interruptions_cost_a_checkpoint_and_a_restart() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    none = ReliabilityModel(rates=FailureRates(rates={}))
    planned = attrs.evolve(none, planned_per_day=2.0)
    base = job_goodput(cluster, 8, parameters=8e9, reliability=none)
    rep = job_goodput(cluster, 8, parameters=8e9, reliability=planned)
    lost = 2.0 / DAY * (rep.restart_s + rep.checkpoint_s)
    assert rep.goodput == pytest.approx(base.goodput * (1 - lost))


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(1.0, 50.0), gpus=st.sampled_from([8, 64, 512, 4096]))
def test_more_failures_never_raise_goodput(scale, gpus) -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=4096)
    base = FailureRates.default()
    worse = FailureRates(
        rates={k: attrs.evolve(v, events=v.events * scale) for k, v in base.rates.items()}
    )
    g0 = job_goodput(cluster, gpus, parameters=70e9, reliability=ReliabilityModel(rates=base))
    g1 = job_goodput(cluster, gpus, parameters=70e9, reliability=ReliabilityModel(rates=worse))
    assert g1.goodput <= g0.goodput + 1e-12
    assert g1.interruption_rate_per_s == pytest.approx(scale * g0.interruption_rate_per_s)


def test_rack_blast_radius_costs_a_partial_rack_job_its_neighbours_failures() -> None:
    rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    shared = job_goodput(rack, 32, parameters=70e9)
    alone = job_goodput(
        rack, 32, parameters=70e9, reliability=ReliabilityModel(rack_blast_radius=False)
    )
    assert shared.interruption_rate_per_s > 2 * alone.interruption_rate_per_s
    assert shared.goodput < alone.goodput


def test_fixed_interval_and_bad_intervals() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    rep = job_goodput(cluster, 8, parameters=8e9, reliability=ReliabilityModel(interval="30 min"))
    assert rep.interval_s == 1800.0
    young = job_goodput(cluster, 8, parameters=8e9, reliability=ReliabilityModel(interval="young"))
    assert young.interval_s == pytest.approx(young_interval_s(young.checkpoint_s, young.mtti.m))
    with pytest.raises(SpecError, match="interval must be 'daly', 'young' or a duration > 0 s"):
        ReliabilityModel(interval="-5 min")


# ------------------------------------------------------ predict_training_run
def test_run_uses_the_goodput_model_by_default_and_says_so() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=64)
    layout = bm.Layout(tp=8, pp=4, dp=2, vpp=5, micro_batch=1, global_batch=128, seq_len=8192)
    step = bm.predict_training("llama3-70b", cluster, layout)
    run = predict_training_run("llama3-70b", cluster, layout, tokens=1e11, report=step)
    assert run.goodput_source == "modelled"
    assert run.reliability is not None
    assert run.goodput == pytest.approx(run.reliability.goodput)
    assert "(modelled)" in run.summary()
    assert "interruptions/day" in run.summary()
    assert run.to_dict()["goodput_source"] == "modelled"
    ideal = predict_training_run(
        "llama3-70b", cluster, layout, tokens=1e11, report=step, goodput=1.0
    )
    assert ideal.goodput_source == "given"
    assert ideal.straggler_slowdown == 1.0
    assert run.days == pytest.approx(ideal.days * run.straggler_slowdown / run.goodput)
    assert run.mwh == pytest.approx(ideal.mwh * run.straggler_slowdown / run.goodput)
    with pytest.raises(SpecError, match="not both"):
        predict_training_run(
            "llama3-70b", cluster, layout, tokens=1e11, report=step, goodput=0.9,
            reliability=ReliabilityModel(),
        )  # fmt: skip
