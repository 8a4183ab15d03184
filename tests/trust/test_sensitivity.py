"""Sensitivity: elasticities by finite differences; the sum rule of a homogeneous step."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import SpecError
from blackwell_model.solvers.collectives import efficiency_for
from blackwell_model.trust import scale_hardware

CLUSTER = bm.catalog.cluster("DGX-H100", gpus=16)
LAYOUTS = [
    bm.Layout(tp=2, dp=8, global_batch=64, seq_len=4096, precision="fp8"),
    bm.Layout(tp=4, pp=2, dp=2, global_batch=64, seq_len=4096, overlap_dp_comm=False),
]


def _no_fixed_times():
    """Efficiencies without fixed times: the step is work at rates and hardware latencies."""
    coll = attrs.evolve(
        efficiency_for(CLUSTER), ring_latency_s=0.0, tree_latency_s=0.0, nvls_latency_s=0.0,
        sharp_latency_s=0.0, all_to_all_peer_latency_s=0.0,
    )  # fmt: skip
    roof = attrs.evolve(bm.TrainingEfficiency().roofline, overhead_s=0.0, group_overhead_s=0.0)
    train = bm.TrainingEfficiency(roofline=roof, collectives=coll, host_launch_s=0.0)
    serve = bm.InferenceEfficiency(
        roofline=attrs.evolve(bm.InferenceEfficiency().roofline, overhead_s=0.0),
        collectives=coll, step_overhead_s=0.0, prefill_overhead_s=0.0,
    )  # fmt: skip
    return train, serve


def _scaled(cluster, k):
    return scale_hardware(
        cluster, compute=k, memory_bandwidth=k, scale_up_bandwidth=k, scale_out_bandwidth=k,
        host_bandwidth=k, scale_up_latency=1 / k, scale_out_latency=1 / k,
    )  # fmt: skip


@settings(max_examples=10, deadline=None)
@given(k=st.floats(0.25, 4.0), which=st.sampled_from([0, 1]))
def test_every_rate_times_k_divides_the_step_by_k(k, which):
    train, _ = _no_fixed_times()
    layout = LAYOUTS[which]
    base = bm.predict_training("llama3-8b", CLUSTER, layout, efficiency=train)
    fast = bm.predict_training("llama3-8b", _scaled(CLUSTER, k), layout, efficiency=train)
    assert fast.step_time.m == pytest.approx(base.step_time.m / k, rel=1e-9)


@settings(max_examples=5, deadline=None)
@given(k=st.floats(0.25, 4.0))
def test_every_rate_times_k_scales_serving_by_k(k):
    _, serve = _no_fixed_times()
    c8 = bm.catalog.cluster("DGX-H100", gpus=8)
    args = dict(batch=16, input_tokens=1000, output_tokens=200, precision="fp8", efficiency=serve)
    base = bm.predict_inference("llama3-70b", c8, bm.InferenceLayout(tp=8), **args)
    fast = bm.predict_inference("llama3-70b", _scaled(c8, k), bm.InferenceLayout(tp=8), **args)
    assert fast.time_per_output_token.m == pytest.approx(base.time_per_output_token.m / k, rel=1e-9)
    assert fast.output_tokens_per_second.m == pytest.approx(
        base.output_tokens_per_second.m * k, rel=1e-9
    )


@pytest.mark.parametrize("which", [0, 1])
def test_elasticities_sum_to_minus_one_without_fixed_times(which):
    train, _ = _no_fixed_times()
    rep = bm.predict_training("llama3-8b", CLUSTER, LAYOUTS[which], efficiency=train)
    s = rep.sensitivity(efficiency=False)
    assert s.homogeneity == pytest.approx(-1.0, abs=0.01)
    assert all(v <= 1e-9 for k, v in s.hardware.items() if s.kinds[k] == "rate")
    assert all(v >= -1e-9 for k, v in s.hardware.items() if s.kinds[k] == "latency")


def test_fixed_overheads_take_their_share_of_the_sum():
    """With the shipped overheads the sum is -(1 - share of the fixed times)."""
    rep = bm.predict_training("llama3-8b", CLUSTER, LAYOUTS[0])
    s = rep.sensitivity()
    assert -1.0 < s.homogeneity < -0.8
    assert s.elasticities["roofline.overhead_s"] > 0  # a fixed time lengthens the step
    assert s.ranked("rate")[0][0] == "peak_flops[bf16]"
    assert s.elasticities["peak_flops[fp64]"] == 0.0


def test_serving_throughput_elasticities():
    c8 = bm.catalog.cluster("DGX-H100", gpus=8)
    rep = bm.predict_inference("llama3-70b", c8, bm.InferenceLayout(tp=8), batch=1,
                               input_tokens=1000, output_tokens=200, precision="fp8")  # fmt: skip
    tpot = rep.sensitivity(metric="time_per_output_token")
    # batch-1 decode streams the weights: HBM bandwidth, not FLOP/s, sets it
    assert tpot.elasticities["memory_bandwidth"] < -0.3
    assert abs(tpot.elasticities["peak_flops[fp8]"]) < 0.05
    tput = rep.sensitivity()
    assert tput.metric == "output_tokens_per_second"
    assert tput.elasticities["memory_bandwidth"] > 0.3
    assert "elasticity of output_tokens_per_second" in tput.summary()
    with pytest.raises(SpecError, match="metric must be one of"):
        rep.sensitivity(metric="step_time")


def test_scale_hardware_checks_and_keeps_the_name():
    fast = scale_hardware(CLUSTER, scale_out_bandwidth=2.0, scale_up_latency=0.5)
    assert fast.name == CLUSTER.name
    assert fast.domain.node.nic.bandwidth.m == pytest.approx(
        2 * CLUSTER.domain.node.nic.bandwidth.m
    )
    assert fast.domain.link.latency.m == pytest.approx(0.5 * CLUSTER.domain.link.latency.m)
    assert fast.accelerator.memory_bandwidth == CLUSTER.accelerator.memory_bandwidth
    with pytest.raises(SpecError, match="memory_bandwidth must be a factor > 0"):
        scale_hardware(CLUSTER, memory_bandwidth=0.0)
    with pytest.raises(SpecError, match="cluster must be a Cluster"):
        scale_hardware("DGX-H100")  # type: ignore[arg-type]


def test_sensitivity_plot():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    rep = bm.predict_training("llama3-8b", CLUSTER, LAYOUTS[0])
    ax = bm.plot.sensitivity_bars(rep.sensitivity(), top=6)
    kinds = {p.get_gid() for p in ax.patches}
    assert len(ax.patches) == 6 and kinds <= {"rate", "latency", "efficiency"}
    ax2 = bm.plot.sensitivity_bars(rep, kinds=("rate",))
    assert {p.get_gid() for p in ax2.patches} == {"rate"}
    with pytest.raises(SpecError, match="must be a Sensitivity"):
        bm.plot.sensitivity_bars(42)
    import matplotlib.pyplot as plt

    plt.close("all")
