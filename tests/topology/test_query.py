"""Queries: path bandwidth and latency, group spans, bisection; numbers derived by hand."""

from __future__ import annotations

import networkx as nx
import pytest
from topology._parts import NIC_Bps, SWITCH_LATENCY_s, mesh_domain, single_gpu_cluster, torus_domain

import blackwell_model as bm
from blackwell_model.errors import TopologyError
from blackwell_model.topology import (
    GroupSpan,
    bisection_bandwidth,
    devices,
    group_span,
    hierarchy_levels,
    path_bandwidth,
    path_latency,
    to_graph,
)

GB = 1e9
NIC_LATENCY_s = 2.7e-6
NVLINK_LATENCY_s = 0.6e-6


@pytest.fixture(scope="module")
def nvl72_cluster() -> nx.DiGraph:
    return to_graph(bm.catalog.cluster("GB200-NVL72", gpus=4 * 72))


@pytest.fixture(scope="module")
def dgx_cluster() -> nx.DiGraph:
    return to_graph(bm.catalog.cluster("DGX-H100", gpus=8 * 16))


# --- the figures of the issue -------------------------------------------------------------


def test_nvl72_any_two_gpus_see_900_GBps_each_way(nvl72_cluster: nx.DiGraph) -> None:
    g = nvl72_cluster
    for a, b in [
        ("d1/tray0/gpu0", "d1/tray0/gpu1"),
        ("d1/tray0/gpu0", "d1/tray17/gpu3"),
        ("d2/tray9/gpu2", "d2/tray3/gpu1"),
    ]:
        assert path_bandwidth(g, a, b) == pytest.approx(900 * GB)  # 18 links x 50 GB/s
        assert path_bandwidth(g, b, a) == pytest.approx(900 * GB)


def test_dgx_h100_any_two_gpus_see_450_GBps_each_way(dgx_cluster: nx.DiGraph) -> None:
    for a in range(8):
        for b in range(8):
            if a != b:
                bw = path_bandwidth(dgx_cluster, f"d3/tray0/gpu{a}", f"d3/tray0/gpu{b}")
                assert bw == pytest.approx(450 * GB)  # 18 links x 25 GB/s


def test_gpus_in_different_domains_see_the_nic(
    nvl72_cluster: nx.DiGraph, dgx_cluster: nx.DiGraph
) -> None:
    assert path_bandwidth(nvl72_cluster, "d0/tray0/gpu0", "d3/tray5/gpu2") == pytest.approx(50 * GB)
    assert path_bandwidth(dgx_cluster, "d0/tray0/gpu0", "d9/tray0/gpu7") == pytest.approx(50 * GB)


def test_grace_to_its_b200_450_GBps_each_way(nvl72_cluster: nx.DiGraph) -> None:
    g = nvl72_cluster
    for gpu in ("d2/tray4/gpu0", "d2/tray4/gpu1"):
        assert path_bandwidth(g, "d2/tray4/cpu0", gpu) == pytest.approx(450 * GB)
        assert path_bandwidth(g, gpu, "d2/tray4/cpu0") == pytest.approx(450 * GB)
    sc = to_graph(bm.catalog.superchip("GB200"))
    assert path_bandwidth(sc, "cpu0", "gpu1") == pytest.approx(450 * GB)


def test_single_widest_path_versus_striping(nvl72_cluster: nx.DiGraph) -> None:
    g = nvl72_cluster
    # one NVLink path carries one 50 GB/s link; the hardware stripes over 18 switches
    assert path_bandwidth(g, "d0/tray0/gpu0", "d0/tray9/gpu0", aggregate=False) == pytest.approx(
        50 * GB
    )
    # inside a superchip the single widest path is through Grace (2 x C2C at 450 GB/s)
    assert path_bandwidth(g, "d0/tray0/gpu0", "d0/tray0/gpu1", aggregate=False) == pytest.approx(
        450 * GB
    )


def test_latency_nvlink_hop_and_fat_tree_hops() -> None:
    g = to_graph(bm.catalog.system("GB200-NVL72"))
    assert path_latency(g, "tray0/gpu0", "tray11/gpu2") == pytest.approx(NVLINK_LATENCY_s)
    c = to_graph(single_gpu_cluster(16, radix=4, tiers=3))
    # one leaf; leaf-spine-leaf; leaf-spine-core-spine-leaf
    for b, hops in [("d1", 1), ("d2", 3), ("d4", 5)]:
        assert path_latency(c, "d0/tray0/gpu0", f"{b}/tray0/gpu0") == pytest.approx(
            NIC_LATENCY_s + hops * SWITCH_LATENCY_s
        )


def test_mesh_and_torus_paths() -> None:
    g = to_graph(mesh_domain())
    assert path_bandwidth(g, "tray0/gpu0", "tray0/gpu7") == pytest.approx(64 * GB)
    t = to_graph(torus_domain((4, 4), links=4))
    # (0,0) -> (0,2): two shortest routes of 100 GB/s links, through (0,1) and (0,3)
    assert path_bandwidth(t, "tray0/gpu0", "tray2/gpu0") == pytest.approx(400 * GB)
    assert path_latency(t, "tray0/gpu0", "tray2/gpu0") == pytest.approx(2e-6)
    assert path_latency(t, "tray0/gpu0", "tray10/gpu0") == pytest.approx(4e-6)


def test_same_device_and_unknown_ids(nvl72_cluster: nx.DiGraph) -> None:
    g = nvl72_cluster
    assert path_bandwidth(g, "d0/tray0/gpu0", "d0/tray0/gpu0") == float("inf")
    assert path_latency(g, "d0/tray0/gpu0", "d0/tray0/gpu0") == 0.0
    with pytest.raises(TopologyError, match="'d9/tray0/gpu0' is not in the graph"):
        path_bandwidth(g, "d0/tray0/gpu0", "d9/tray0/gpu0")
    with pytest.raises(TopologyError, match=r"'tray0/gpu1'.*mix graphs"):
        path_latency(g, "d0/tray0/gpu0", "tray0/gpu1")


def test_no_path_is_an_error() -> None:
    g = to_graph(bm.catalog.node("GB200-tray"))  # no NVLink switches in a bare tray
    with pytest.raises(TopologyError, match="no path"):
        path_bandwidth(g, "gpu0", "gpu2")
    with pytest.raises(TopologyError, match="no path"):
        path_latency(g, "gpu0", "gpu2")


# --- group spans ---------------------------------------------------------------------------


def test_span_of_one_device() -> None:
    g = to_graph(bm.catalog.system("GB200-NVL72"))
    span = group_span(g, ["tray0/gpu0"])
    assert span == GroupSpan(devices=1, levels=())
    assert span.level == "device"


def test_span_inside_a_superchip_and_a_rack() -> None:
    g = to_graph(bm.catalog.system("GB200-NVL72"))
    pair = group_span(g, ["tray3/gpu2", "tray3/gpu3"])
    assert pair.level == "superchip"
    assert pair.levels[0].fanout == 2
    assert pair.bottleneck_Bps == pytest.approx(900 * GB)
    rack = group_span(g, devices(g))
    assert [(lv.name, lv.fanout) for lv in rack.levels] == [("superchip", 2), ("scale_up", 36)]
    su = rack.levels[-1]
    assert su.bandwidth_Bps == pytest.approx(18 * 50 * GB)
    assert su.links == 18
    assert su.latency_s == pytest.approx(NVLINK_LATENCY_s)
    assert su.in_network_reduction == "NVLS"


def test_span_across_the_fabric_levels() -> None:
    g = to_graph(single_gpu_cluster(16, radix=4, tiers=3))
    d = devices(g)
    assert group_span(g, d[:2]).level == "leaf"
    assert group_span(g, d[:4]).level == "pod"
    span = group_span(g, d)
    assert [(lv.name, lv.fanout) for lv in span.levels] == [("leaf", 2), ("pod", 2), ("fabric", 4)]
    assert [lv.latency_s for lv in span.levels] == pytest.approx(
        [NIC_LATENCY_s + h * SWITCH_LATENCY_s for h in (1, 3, 5)]
    )
    assert all(lv.bandwidth_Bps == pytest.approx(NIC_Bps) for lv in span.levels)
    assert all(lv.in_network_reduction == "SHARPv3" for lv in span.levels)


def test_oversubscription_divides_bandwidth_above_the_leaf() -> None:
    g = to_graph(single_gpu_cluster(16, radix=6, oversubscription=2.0, sharp=False))
    span = group_span(g, devices(g))
    assert [lv.name for lv in span.levels] == ["leaf", "fabric"]
    assert span.levels[0].bandwidth_Bps == pytest.approx(NIC_Bps)
    assert span.levels[1].bandwidth_Bps == pytest.approx(NIC_Bps / 2)
    assert span.levels[1].in_network_reduction == ""


def test_dgx_cluster_span_from_domains_to_the_leaf(dgx_cluster: nx.DiGraph) -> None:
    g = dgx_cluster  # 16 DGX, 128 NICs on one 2-tier rail-optimised fat-tree
    span = group_span(g, devices(g)[:32])
    assert [(lv.name, lv.fanout) for lv in span.levels] == [("scale_up", 8), ("leaf", 4)]
    dp = [f"d{d}/tray0/gpu3" for d in range(16)]  # same rail: one leaf
    assert [(lv.name, lv.fanout) for lv in group_span(g, dp).levels] == [("leaf", 16)]


def test_non_uniform_group_fanout() -> None:
    g = to_graph(bm.catalog.cluster("GB200-NVL72", gpus=144))
    span = group_span(g, ["d0/tray0/gpu0", "d0/tray5/gpu0", "d0/tray9/gpu0", "d1/tray0/gpu0"])
    assert span.levels[0].name == "scale_up"
    assert span.levels[0].fanout == 3
    assert span.levels[1].fanout == 2


def test_ranks_are_accepted(dgx_cluster: nx.DiGraph) -> None:
    assert group_span(dgx_cluster, range(16)) == group_span(dgx_cluster, devices(dgx_cluster)[:16])


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (["d0/tray0/gpu0", "d0/tray0/nic0"], "'d0/tray0/nic0' is a nic, not an accelerator"),
        (["d0/tray0/gpu0", "d0/tray0/gpu0"], "appears 2 times"),
        (["d0/tray0/gpu0", "tray0/gpu1"], "'tray0/gpu1' is not in the graph.*mix graphs"),
        (["d0/tray0/gpu0", "d99/tray0/gpu1"], "'d99/tray0/gpu1' is not in the graph"),
        ([0, 4096], "rank 4096 is out of range"),
        ([0, 1.5], "a device must be a node id"),
        ([], "at least one device"),
    ],
)
def test_bad_groups(dgx_cluster: nx.DiGraph, group: list, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(TopologyError, match=message):
        group_span(dgx_cluster, group)


def test_group_of_a_graph_not_from_to_graph() -> None:
    with pytest.raises(TopologyError, match=r"built by blackwell_model\.to_graph"):
        group_span(nx.DiGraph(), ["a"])


def test_group_not_joined_by_any_level() -> None:
    g = to_graph(bm.catalog.node("GB200-tray"))
    assert group_span(g, ["gpu0", "gpu1"]).level == "superchip"
    with pytest.raises(TopologyError, match="not joined by any level"):
        group_span(g, ["gpu0", "gpu2"])


def test_hierarchy_levels_of_a_cluster(nvl72_cluster: nx.DiGraph) -> None:
    names = [lv.name for lv in hierarchy_levels(nvl72_cluster)]
    assert names == ["superchip", "scale_up", "leaf", "fabric"]


# --- bisection -----------------------------------------------------------------------------


def _cut_between(g: nx.DiGraph, left: list[str], right: list[str]) -> float:
    """Min cut between two device sets on the graph itself (networkx max-flow)."""
    h = nx.DiGraph()
    for u, v, d in g.edges(data="bandwidth"):
        h.add_edge(u, v, capacity=d)
    for a in left:
        h.add_edge("SRC", a)  # no capacity attribute: infinite
    for b in right:
        h.add_edge(b, "SNK")
    return float(nx.maximum_flow_value(h, "SRC", "SNK"))


@pytest.mark.parametrize("n", [8, 16, 32])
def test_bisection_of_a_non_blocking_fat_tree_is_n_over_2_nic_links(n: int) -> None:
    g = to_graph(single_gpu_cluster(n, radix=8))
    expected = n / 2 * NIC_Bps  # by hand
    assert bisection_bandwidth(g) == pytest.approx(expected)
    d = devices(g)
    assert _cut_between(g, list(d[: n // 2]), list(d[n // 2 :])) == pytest.approx(expected)


@pytest.mark.parametrize("n", [8, 16, 24])
def test_bisection_halves_with_2_to_1_oversubscription(n: int) -> None:
    g = to_graph(single_gpu_cluster(n, radix=6, oversubscription=2.0))
    expected = n / 4 * NIC_Bps  # by hand: N/2 links, halved
    assert bisection_bandwidth(g) == pytest.approx(expected)
    d = devices(g)
    assert _cut_between(g, list(d[: n // 2]), list(d[n // 2 :])) == pytest.approx(expected)


def test_bisection_of_racks() -> None:
    g = to_graph(bm.catalog.system("GB200-NVL72"))
    assert bisection_bandwidth(g) == pytest.approx(36 * 900 * GB)
    g = to_graph(bm.catalog.system("DGX-H100"))
    assert bisection_bandwidth(g) == pytest.approx(4 * 450 * GB)
    c = to_graph(bm.catalog.cluster("GB200-NVL72", gpus=4 * 72))
    assert bisection_bandwidth(c) == pytest.approx(144 * 50 * GB)  # whole racks per side
    assert bisection_bandwidth(c, ["d0/tray0/gpu0"]) == 0.0


# --- the hierarchy without a graph ---------------------------------------------------------


@pytest.mark.parametrize(
    "part",
    [
        bm.catalog.cluster("GB200-NVL72", gpus=4 * 72),
        bm.catalog.cluster("DGX-H100", gpus=8 * 16),
        single_gpu_cluster(16, radix=4, tiers=3),
        bm.catalog.system("GB200-NVL72"),
    ],
    ids=["nvl72x4", "dgx16", "ft3", "nvl72"],
)
def test_cluster_spans_agree_with_the_graph(part: object) -> None:
    from blackwell_model.topology import Hierarchy, cluster_spans

    g = to_graph(part)  # type: ignore[arg-type]
    h = cluster_spans(part)  # type: ignore[arg-type]
    assert isinstance(h, Hierarchy)
    assert h.devices == devices(g)
    d = devices(g)
    for group in (d[:2], d[:5], d[::3], d[-9:], d):
        assert h.span(group) == group_span(g, group)
        assert h.bisection(group) == pytest.approx(bisection_bandwidth(g, group))
    with pytest.raises(TopologyError, match="'nope' is not an accelerator"):
        h.span([d[0], "nope"])


def test_cluster_spans_refuses_other_objects() -> None:
    from blackwell_model.topology import cluster_spans

    with pytest.raises(TopologyError, match="cluster_spans needs"):
        cluster_spans(42)  # type: ignore[arg-type]
