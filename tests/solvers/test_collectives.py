"""Tests of blackwell_model.solvers.collectives.

Span-level tests use hand-made GroupSpan objects (the topology contract); the
graph-level tests at the end build real graphs from the catalog.

Measured references (nccl-tests, large messages):

* 8x H100 SXM, one node: ring all-reduce 365-370 GB/s busbw; NVLS ~480 GB/s
  busbw, algbw ~275 GB/s (NVIDIA/nccl#1455; sjeaugey in NVIDIA/nccl-tests#212).
* GB200 NVL72, 72 GPUs: all-reduce 835-847 GB/s busbw at 4-8 GiB, 681-724 GB/s
  at 1 GiB (coreweave/nccl-tests#43).
* 2 x 8 B200, 8x 400G NDR per node: all-reduce 690 GB/s busbw at 8 GiB;
  2 x 8 H100: 441 GB/s (coreweave/nccl-tests#92).
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from solvers.strategies_collectives import group_spans, ops, sizes

from blackwell_model.errors import SpecError, TopologyError, UnitMismatchError, UnknownNameError
from blackwell_model.solvers import collectives as col
from blackwell_model.solvers.collectives import (
    BLACKWELL,
    HOPPER,
    CollectiveEfficiency,
    applicable_algorithms,
    bus_factor,
    collective,
    collective_time,
)
from blackwell_model.topology.span import GroupSpan, SpanLevel

GiB = 2.0**30
GB = 1e9


def nvlink(fanout: int, bw: float = 450e9, reduction: str = "NVLS") -> SpanLevel:
    return SpanLevel(
        name="scale_up",
        fanout=fanout,
        bandwidth_Bps=bw,
        latency_s=0.6e-6,
        in_network_reduction=reduction,
        links=18,
    )


def leaf(fanout: int, reduction: str = "SHARPv3") -> SpanLevel:
    return SpanLevel(
        name="leaf",
        fanout=fanout,
        bandwidth_Bps=50e9,
        latency_s=2.9e-6,
        in_network_reduction=reduction,
    )


#: DGX H100: 8 GPUs on 4 NVSwitch gen3, 18 NVLink4 links x 25 GB/s each way.
HGX8 = GroupSpan(devices=8, levels=(nvlink(8),))
#: Two DGX H100 joined by one 400G NDR NIC per GPU.
HGX16 = GroupSpan(devices=16, levels=(nvlink(8), leaf(2)))
#: Eight GPUs, one per DGX H100 node (a data-parallel rail).
RAIL8 = GroupSpan(devices=8, levels=(nvlink(1), leaf(8)))
#: GB200 NVL72: 72 GPUs, 18 NVLink5 links x 50 GB/s each way.
NVL72 = GroupSpan(devices=72, levels=(nvlink(72, bw=900e9),))


# --------------------------------------------------------------------------- issue checks


def test_dgx_h100_ring_busbw_in_measured_range() -> None:
    r = collective("all_reduce", HGX8, GiB, algorithm="ring")
    # measured 365-370 GB/s; below the 450 GB/s link peak
    assert 350 * GB < r.busbw_Bps < 390 * GB
    assert r.busbw_Bps < 450 * GB


def test_dgx_h100_auto_is_nvls_and_matches_measurement() -> None:
    r = collective("all_reduce", HGX8, 8 * GiB)
    assert r.algorithm == "nvls"
    # measured busbw ~480 GB/s, algbw ~275 GB/s; algbw stays below the link peak
    assert r.busbw_Bps == pytest.approx(480 * GB, rel=0.05)
    assert r.algbw_Bps == pytest.approx(275 * GB, rel=0.05)
    assert r.algbw_Bps < 450 * GB


def test_nvls_algbw_grows_with_group_size_as_measured() -> None:
    # NVIDIA/nccl#1455: NVLS algbw 258 GB/s at 5 GPUs rising to 273 GB/s at 8
    algbw = [
        collective(
            "all_reduce", GroupSpan(devices=n, levels=(nvlink(n),)), 4 * GiB, algorithm="nvls"
        ).algbw_Bps
        for n in (5, 6, 7, 8)
    ]
    assert algbw == sorted(algbw)
    assert algbw[0] == pytest.approx(258 * GB, rel=0.05)
    assert algbw[-1] == pytest.approx(273 * GB, rel=0.05)


def test_small_all_reduce_uses_ring_latency() -> None:
    # NCCL picks ring/LL for small messages: 6.6 us + 14 hops x 0.6 us
    r = collective("all_reduce", HGX8, 8.0)
    assert r.algorithm == "ring"
    assert r.time_s == pytest.approx(6.6e-6 + 14 * 0.6e-6, rel=1e-3)


def test_nvls_beats_ring_for_large_messages_in_nvl72() -> None:
    for eff in (BLACKWELL, HOPPER):
        nvls = collective_time("all_reduce", NVL72, GiB, algorithm="nvls", efficiency=eff)
        ring = collective_time("all_reduce", NVL72, GiB, algorithm="ring", efficiency=eff)
        assert nvls < ring
    assert collective("all_reduce", NVL72, GiB, efficiency=BLACKWELL).algorithm == "nvls"


def test_nvl72_calibration_point() -> None:
    r = collective("all_reduce", NVL72, 8 * GiB, efficiency=BLACKWELL)
    assert r.busbw_Bps == pytest.approx(840 * GB, rel=0.03)  # measured 835-847 GB/s


def test_two_node_b200_matches_measurement() -> None:
    b200x16 = GroupSpan(devices=16, levels=(nvlink(8, bw=900e9), leaf(2, reduction="")))
    r = collective("all_reduce", b200x16, 8 * GiB, efficiency=BLACKWELL)
    assert r.busbw_Bps == pytest.approx(690 * GB, rel=0.05)  # measured 690 GB/s
    assert r.bytes_per_level["leaf"] == pytest.approx(8 * GiB / 8)


def test_crossing_the_fabric_is_slower_than_staying_in_the_domain() -> None:
    for op in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast"):
        for size in (1e3, 1e6, GiB):
            inside = collective_time(op, HGX8, size)
            across = collective_time(op, RAIL8, size)
            assert across > inside, (op, size)
    # same group size, one 16-GPU domain vs two 8-GPU domains joined by the fabric
    one_domain = GroupSpan(devices=16, levels=(nvlink(16),))
    for size in (1e3, 1e6, GiB):
        assert collective_time("all_reduce", HGX16, size) > collective_time(
            "all_reduce", one_domain, size
        )


def test_cross_node_per_nic_busbw() -> None:
    # one GPU per node over 400G NDR: nccl-tests rings reach ~40-48 GB/s busbw
    r = collective("all_reduce", RAIL8, GiB, algorithm="ring")
    assert 40 * GB < r.busbw_Bps < 48 * GB
    # SHARP reduces in the switches: each NIC carries S once each way instead of ~2S
    sharp = collective("all_reduce", RAIL8, GiB)
    assert sharp.algorithm == "sharp"
    assert sharp.busbw_Bps == pytest.approx(2 * 7 / 8 * 50 * GB * 0.92 * 0.85, rel=0.01)


def test_ring_all_reduce_by_hand() -> None:
    n, s, bw = 8, GiB, 450e9 * HOPPER.scale_up
    expected = 6.6e-6 + 2 * (n - 1) * 0.6e-6 + 2 * (n - 1) / n * s / bw
    assert collective_time("all_reduce", HGX8, s, algorithm="ring") == pytest.approx(expected)


def test_hierarchical_bytes_per_level_by_hand() -> None:
    r = collective("all_reduce", HGX16, GiB, algorithm="hierarchical")
    assert r.bytes_per_level["scale_up"] == pytest.approx(2 * 7 / 8 * GiB)
    # all-reduce across the 2 nodes of each device's 1/8 share
    assert r.bytes_per_level["leaf"] == pytest.approx(2 * 1 / 2 * GiB / 8)


def test_all_to_all_bytes_over_the_nic() -> None:
    r = collective("all_to_all", HGX16, GiB)
    assert r.algorithm == "direct"
    assert r.bytes_per_level["scale_up"] == pytest.approx(15 / 16 * GiB)
    assert r.bytes_per_level["leaf"] == pytest.approx(8 / 16 * GiB)  # peers in the other node


def test_sharp_needs_reduction_on_every_network_level() -> None:
    assert "sharp" in applicable_algorithms("all_reduce", HGX16)
    no_sharp = GroupSpan(devices=16, levels=(nvlink(8), leaf(2, reduction="")))
    assert "sharp" not in applicable_algorithms("all_reduce", no_sharp)
    assert applicable_algorithms("all_reduce", HGX8) == ("ring", "tree", "nvls")
    assert applicable_algorithms("all_gather", HGX16) == ("ring", "hierarchical", "nvls")
    assert applicable_algorithms("broadcast", HGX16) == ("ring",)


def test_result_fields_and_quantities() -> None:
    r = collective("all_gather", HGX8, GiB)
    assert r.op == "all_gather" and r.group_size == 8 and r.size_bytes == GiB
    assert r.algbw_Bps == pytest.approx(GiB / r.time_s)
    assert r.busbw_Bps == pytest.approx(r.algbw_Bps * 7 / 8)
    assert r.time.to("ms").m == pytest.approx(r.time_s * 1e3)
    assert r.busbw.to("GB/s").m == pytest.approx(r.busbw_Bps / 1e9)
    assert r.size.to("GiB").m == pytest.approx(1.0)
    assert 0 < r.latency_s < r.time_s
    with pytest.raises(TypeError):
        r.bytes_per_level["scale_up"] = 0.0  # type: ignore[index]
    assert hash(r) == hash(attrs.evolve(r))


def test_bus_factor() -> None:
    assert bus_factor("all_reduce", 8) == pytest.approx(1.75)
    assert bus_factor("all_gather", 8) == pytest.approx(0.875)
    assert bus_factor(col.Collective.ALL_TO_ALL, 4) == pytest.approx(0.75)
    assert bus_factor("broadcast", 8) == 1.0


def test_efficiency_presets() -> None:
    import blackwell_model as bm

    assert col.efficiency_for(bm.catalog.accelerator("H100-SXM")) is HOPPER
    assert col.efficiency_for(bm.catalog.accelerator("B200-GB200")) is BLACKWELL
    assert col.efficiency_for(bm.catalog.system("GB200-NVL72")) is BLACKWELL
    assert col.efficiency_for(bm.catalog.link("NVLink4")) is HOPPER
    # the preset follows the link generation, not a what-if bandwidth
    fast = attrs.evolve(bm.catalog.link("NVLink4"), bandwidth="100 GB/s")
    assert col.efficiency_for(fast) is HOPPER
    assert set(col.EFFICIENCY_SOURCES) <= {f.name for f in attrs.fields(CollectiveEfficiency)}


def test_efficiency_is_validated() -> None:
    with pytest.raises(SpecError, match="network"):
        attrs.evolve(HOPPER, network=1.5)
    with pytest.raises(SpecError, match="ring_latency_s"):
        attrs.evolve(HOPPER, ring_latency_s=-1e-6)
    with pytest.raises(TypeError, match="CollectiveEfficiency"):
        collective_time("all_reduce", HGX8, 1.0, efficiency=0.8)  # type: ignore[arg-type]


def test_lower_efficiency_is_slower() -> None:
    slow = attrs.evolve(HOPPER, scale_up=0.5)
    assert collective_time("all_reduce", HGX8, GiB, efficiency=slow) > collective_time(
        "all_reduce", HGX8, GiB
    )


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_scalar_size(bad: float) -> None:
    with pytest.raises(SpecError, match="size_bytes"):
        collective_time("all_reduce", HGX8, bad)
    with pytest.raises(SpecError, match="size_bytes"):
        collective("all_reduce", HGX8, bad)


def test_bad_array_size() -> None:
    with pytest.raises(SpecError, match=r"size_bytes.*-5"):
        collective_time("all_reduce", HGX8, np.array([1.0, -5.0, 3.0]))
    with pytest.raises(SpecError, match="size_bytes"):
        collective_time("all_reduce", HGX8, np.array([1.0, np.nan]))


def test_group_of_one() -> None:
    one = GroupSpan(devices=1, levels=())
    with pytest.raises(SpecError, match=r"devices must be an integer >= 2.*got 1"):
        collective_time("all_reduce", one, 1.0)


def test_span_without_crossed_level() -> None:
    with pytest.raises(SpecError, match="fanout >= 2"):
        collective_time("all_reduce", GroupSpan(devices=2, levels=(nvlink(1),)), 1.0)


def test_bad_level_values() -> None:
    bad_bw = GroupSpan(devices=8, levels=(attrs.evolve(nvlink(8), bandwidth_Bps=0.0),))
    with pytest.raises(SpecError, match=r"bandwidth_Bps of level 'scale_up' must be.*> 0"):
        collective_time("all_reduce", bad_bw, 1.0)
    bad_lat = GroupSpan(devices=8, levels=(attrs.evolve(nvlink(8), latency_s=math.nan),))
    with pytest.raises(SpecError, match="latency_s"):
        collective_time("all_reduce", bad_lat, 1.0)


def test_unknown_algorithm_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown algorithm 'rign'.*'ring'"):
        collective_time("all_reduce", HGX8, 1.0, algorithm="rign")
    with pytest.raises(KeyError):
        collective_time("all_reduce", HGX8, 1.0, algorithm="bogus")


def test_unknown_collective() -> None:
    with pytest.raises(UnknownNameError, match="all_reduce"):
        collective_time("allreduce", HGX8, 1.0)


def test_algorithm_not_applicable() -> None:
    no_nvls = GroupSpan(devices=8, levels=(nvlink(8, reduction=""),))
    with pytest.raises(SpecError, match=r"'nvls' does not apply.*NVLS.*applicable: 'ring', 'tree'"):
        collective_time("all_reduce", no_nvls, 1.0, algorithm="nvls")
    with pytest.raises(SpecError, match="SHARP"):
        collective_time("all_reduce", HGX8, 1.0, algorithm="sharp")
    with pytest.raises(SpecError, match="all_gather has no 'tree'"):
        collective_time("all_gather", HGX8, 1.0, algorithm="tree")
    with pytest.raises(SpecError, match="hierarchical"):
        collective_time("all_reduce", HGX8, 1.0, algorithm="hierarchical")


def test_span_type_checked() -> None:
    with pytest.raises(TypeError, match="GroupSpan"):
        collective_time("all_reduce", [8], 1.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties


@given(span=group_spans(), size=sizes)
def test_ring_all_reduce_never_beats_bandwidth_bound(span: GroupSpan, size: float) -> None:
    n = span.devices
    # every byte of the ring leaves each device through its innermost crossed level
    first = next(lv for lv in span.levels if lv.fanout > 1)
    bound = 2 * (n - 1) / n * size / first.bandwidth_Bps
    assert collective_time("all_reduce", span, size, algorithm="ring") >= bound * (1 - 1e-12)
    # the other algorithms without in-network reduction move the same bytes per
    # device, but may spread them over several levels' links at once
    total = sum(lv.bandwidth_Bps for lv in span.levels if lv.fanout > 1)
    for algorithm in applicable_algorithms("all_reduce", span):
        # algorithms that reduce in the switch (nvls, nvls_tree, sharp, nvls_sharp) move less
        if "nvls" not in algorithm and "sharp" not in algorithm:
            t = collective_time("all_reduce", span, size, algorithm=algorithm)
            assert t >= 2 * (n - 1) / n * size / total * (1 - 1e-12)


@given(span=group_spans(), op=ops, a=sizes, b=sizes)
def test_time_is_monotone_in_size(span: GroupSpan, op: str, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    for algorithm in ("auto", *applicable_algorithms(op, span)):
        t_lo = collective_time(op, span, lo, algorithm=algorithm)
        t_hi = collective_time(op, span, hi, algorithm=algorithm)
        assert t_lo <= t_hi
        assert t_lo > 0


@given(
    span=group_spans(), op=ops, size=sizes, level=st.integers(0, 3), factor=st.floats(1.0, 100.0)
)
def test_more_bandwidth_is_never_slower(
    span: GroupSpan, op: str, size: float, level: int, factor: float
) -> None:
    i = level % len(span.levels)
    levels = list(span.levels)
    levels[i] = attrs.evolve(levels[i], bandwidth_Bps=levels[i].bandwidth_Bps * factor)
    faster = attrs.evolve(span, levels=tuple(levels))
    assert collective_time(op, faster, size) <= collective_time(op, span, size)


@given(span=group_spans(), op=ops, size=sizes, factor=st.floats(1.0, 10.0))
def test_more_latency_is_never_faster(span: GroupSpan, op: str, size: float, factor: float) -> None:
    slower = attrs.evolve(
        span, levels=tuple(attrs.evolve(lv, latency_s=lv.latency_s * factor) for lv in span.levels)
    )
    assert collective_time(op, slower, size) >= collective_time(op, span, size)


@given(span=group_spans(), op=ops, data=st.lists(sizes, min_size=1, max_size=20))
def test_vectorised_equals_scalar(span: GroupSpan, op: str, data: list[float]) -> None:
    arr = np.array(data)
    for algorithm in ("auto", *applicable_algorithms(op, span)):
        vec = collective_time(op, span, arr, algorithm=algorithm)
        assert isinstance(vec, np.ndarray) and vec.shape == arr.shape
        scalar = [collective_time(op, span, s, algorithm=algorithm) for s in data]
        np.testing.assert_allclose(vec, scalar, rtol=1e-12)
    grid = collective_time(op, span, arr.reshape(-1, 1))
    assert grid.shape == (len(data), 1)


@given(span=group_spans(), op=ops, size=sizes)
def test_auto_is_the_fastest_and_result_agrees(span: GroupSpan, op: str, size: float) -> None:
    times = {
        a: collective_time(op, span, size, algorithm=a) for a in applicable_algorithms(op, span)
    }
    auto = collective_time(op, span, size)
    assert auto == pytest.approx(min(times.values()))
    r = collective(op, span, size)
    assert r.time_s == pytest.approx(auto)
    assert times[r.algorithm] == pytest.approx(auto)
    assert isinstance(r.time_s, float) and isinstance(r.busbw_Bps, float)
    assert set(r.bytes_per_level) <= {lv.name for lv in span.levels}
    assert all(v >= 0 for v in r.bytes_per_level.values())
    if size > 0:
        assert r.busbw_Bps == pytest.approx(size / r.time_s * bus_factor(op, span.devices))


def test_scalar_types() -> None:
    assert isinstance(collective_time("all_reduce", HGX8, 1024), float)
    assert isinstance(collective_time("all_reduce", HGX8, np.float32(1024)), float)
    assert isinstance(collective_time("all_reduce", HGX8, np.array(1024.0)), float)
    out = collective_time("all_reduce", HGX8, [1.0, 2.0])
    assert isinstance(out, np.ndarray)


# --------------------------------------------------------------------------- graph level


def _graph(system: str, gpus: int):  # type: ignore[no-untyped-def]
    import blackwell_model as bm
    from blackwell_model.topology import to_graph

    return to_graph(bm.catalog.cluster(system, gpus=gpus))


def _devices(graph) -> list[str]:  # type: ignore[no-untyped-def]
    from blackwell_model import topology

    return list(topology.devices(graph))


def test_graph_dgx_h100_all_reduce() -> None:
    g = _graph("DGX-H100", 16)
    devs = _devices(g)
    assert len(devs) == 16
    r = col.all_reduce(g, devs[:8], "1 GiB", algorithm="ring")
    assert 330 * GB < r.busbw_Bps < 450 * GB
    auto = col.all_reduce(g, devs[:8], "1 GiB")
    assert auto.time_s <= r.time_s
    across = col.all_reduce(g, devs, "1 GiB")
    assert across.group_size == 16
    assert across.time_s > auto.time_s
    assert set(across.bytes_per_level) >= {"scale_up"}


def test_graph_all_ops_and_p2p() -> None:
    g = _graph("DGX-H100", 16)
    devs = _devices(g)
    for fn in (col.all_gather, col.reduce_scatter, col.all_to_all, col.broadcast):
        r = fn(g, devs, "256 MiB")
        assert r.time_s > 0 and r.group_size == 16
    near = col.send_recv(g, devs[0], devs[1], "256 MiB")
    far = col.send_recv(g, devs[0], devs[-1], "256 MiB")
    assert near.algorithm == "direct" and far.time_s > near.time_s


def test_graph_nvl72_prefers_nvls() -> None:
    g = _graph("GB200-NVL72", 72)
    devs = _devices(g)
    r = col.all_reduce(g, devs, "1 GiB")
    assert r.algorithm == "nvls"
    ring = col.all_reduce(g, devs, "1 GiB", algorithm="ring")
    assert r.time_s < ring.time_s


def test_graph_bad_input() -> None:
    g = _graph("DGX-H100", 16)
    devs = _devices(g)
    with pytest.raises(SpecError, match="at least 2 devices"):
        col.all_reduce(g, devs[:1], "1 GiB")
    with pytest.raises(SpecError, match="size"):
        col.all_reduce(g, devs, "-1 GiB")
    with pytest.raises(UnitMismatchError):
        col.all_reduce(g, devs, 1024.0)  # type: ignore[arg-type]
    with pytest.raises(UnitMismatchError):
        col.all_reduce(g, devs, "1 s")
    with pytest.raises(TopologyError):
        col.all_reduce(g, [devs[0], "no/such/gpu"], "1 GiB")
