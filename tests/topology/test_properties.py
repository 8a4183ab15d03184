"""Hypothesis: invariants of the topology queries.

Adding a link never lowers a bandwidth nor raises a latency; removing one never
raises a bandwidth nor lowers a latency; span fanouts multiply to at least the
group size (exactly, for uniform groups); bisection never exceeds what the
smaller half can inject.
"""

from __future__ import annotations

import math
from functools import cache

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from topology._parts import single_gpu_cluster

import blackwell_model as bm
from blackwell_model.errors import TopologyError
from blackwell_model.topology import (
    add_link,
    bisection_bandwidth,
    devices,
    group_span,
    path_bandwidth,
    path_latency,
    remove_link,
    to_graph,
)

NVLINK4 = bm.catalog.link("NVLink4")


@cache
def _base(which: str) -> nx.DiGraph:
    if which == "dgx":
        return to_graph(bm.catalog.cluster("DGX-H100", gpus=16))
    if which == "nvl72":
        return to_graph(bm.catalog.system("GB200-NVL72"))
    return to_graph(single_gpu_cluster(12, radix=6, oversubscription=2.0))


def _fresh(which: str) -> nx.DiGraph:
    g = _base(which).copy()  # plain dicts: the copy can be edited freely
    g.graph.update(_base(which).graph)
    return g


def _bw(g: nx.DiGraph, a: str, b: str, aggregate: bool) -> float:
    try:
        return path_bandwidth(g, a, b, aggregate=aggregate)
    except TopologyError:
        return 0.0


def _lat(g: nx.DiGraph, a: str, b: str) -> float:
    try:
        return path_latency(g, a, b)
    except TopologyError:
        return math.inf


graphs = st.sampled_from(["dgx", "nvl72", "fat_tree"])


@st.composite
def graph_and_pair(draw: st.DrawFn) -> tuple[str, str, str]:
    which = draw(graphs)
    dev = devices(_base(which))
    a = draw(st.sampled_from(dev))
    b = draw(st.sampled_from([d for d in dev if d != a]))
    return which, a, b


@given(graph_and_pair(), st.data(), st.booleans())
def test_adding_a_link_never_lowers_bandwidth_nor_raises_latency(
    case: tuple[str, str, str], data: st.DataObject, aggregate: bool
) -> None:
    which, a, b = case
    g = _fresh(which)
    nodes = sorted(g.nodes)
    u = data.draw(st.sampled_from(nodes))
    v = data.draw(st.sampled_from([n for n in nodes if n != u]))
    links = data.draw(st.integers(1, 3))
    before_bw, before_lat = _bw(g, a, b, aggregate), _lat(g, a, b)
    spec = None if g.has_edge(u, v) and g.has_edge(v, u) else NVLINK4
    add_link(g, u, v, spec, links=links)
    assert _bw(g, a, b, aggregate) >= before_bw * (1 - 1e-12)
    assert _lat(g, a, b) <= before_lat * (1 + 1e-12)


@given(graph_and_pair(), st.data(), st.booleans())
def test_removing_a_link_never_raises_bandwidth_nor_lowers_latency(
    case: tuple[str, str, str], data: st.DataObject, aggregate: bool
) -> None:
    which, a, b = case
    g = _fresh(which)
    # prefer edges near the pair, where removal matters
    near = [(u, v) for u, v in g.edges if u in (a, b) or v in (a, b)]
    edges = data.draw(st.sampled_from([near, sorted(g.edges)]))
    u, v = data.draw(st.sampled_from(edges))
    before_bw, before_lat = _bw(g, a, b, aggregate), _lat(g, a, b)
    remove_link(g, u, v, links=1, both_directions=data.draw(st.booleans()))
    assert _bw(g, a, b, aggregate) <= before_bw * (1 + 1e-12)
    assert _lat(g, a, b) >= before_lat * (1 - 1e-12)


@given(graphs, st.data())
def test_span_fanouts_cover_the_group(which: str, data: st.DataObject) -> None:
    g = _base(which)
    dev = devices(g)
    group = data.draw(st.lists(st.sampled_from(dev), min_size=1, max_size=len(dev), unique=True))
    span = group_span(g, group)
    assert span.devices == len(group)
    assert math.prod(lv.fanout for lv in span.levels) >= len(group)
    assert all(lv.fanout >= 2 for lv in span.levels)
    names = [lv.name for lv in span.levels]
    assert names == sorted(names, key=bm.topology.LEVELS.index)
    # the level a group spans is the level its farthest pair spans
    if len(group) >= 2:
        pairs = [group_span(g, [group[0], x]).level for x in group[1:]]
        assert bm.topology.LEVELS.index(span.level) >= max(
            bm.topology.LEVELS.index(p) for p in pairs
        )


@given(graphs, st.integers(1, 18), st.booleans())
def test_uniform_groups_fanouts_multiply_to_the_group_size(
    which: str, units: int, from_the_end: bool
) -> None:
    g = _base(which)
    dev = devices(g)
    # whole sub-groups: trays of 4 (NVL72), DGX boxes of 8, leaves of 4 GPUs (radix 6, 2:1)
    unit, most = {"nvl72": (4, 18), "dgx": (8, 2), "fat_tree": (4, 3)}[which]
    size = unit * min(units, most)
    group = dev[-size:] if from_the_end else dev[:size]
    span = group_span(g, group)
    assert math.prod(lv.fanout for lv in span.levels) == len(group)


@given(graphs, st.data())
def test_bisection_bounded_by_the_smaller_half(which: str, data: st.DataObject) -> None:
    g = _base(which)
    dev = devices(g)
    group = data.draw(st.lists(st.sampled_from(dev), min_size=2, max_size=len(dev), unique=True))
    span = group_span(g, group)
    best = max(lv.bandwidth_Bps for lv in span.levels)
    worst = min(lv.bandwidth_Bps for lv in span.levels)
    b = bisection_bandwidth(g, group)
    assert len(group) // 2 * worst * (1 - 1e-12) <= b <= len(group) // 2 * best * (1 + 1e-12)


def test_add_then_remove_restores_the_bandwidth() -> None:
    g = _fresh("dgx")
    a, b = "d0/tray0/gpu0", "d1/tray0/gpu0"
    before = path_bandwidth(g, a, b)
    add_link(g, "d0/tray0/nic0", "fabric/leaf0", links=1)
    assert g.edges["d0/tray0/nic0", "fabric/leaf0"]["links"] == 2
    assert path_bandwidth(g, a, b) == pytest.approx(before)  # the GPU-NIC port still limits
    add_link(g, a, "d0/tray0/nic0", links=1)
    add_link(g, "d1/tray0/nic0", b, links=1)
    add_link(g, "d1/tray0/nic0", "fabric/leaf0", links=1)
    assert path_bandwidth(g, a, b) == pytest.approx(2 * before)
    remove_link(g, a, "d0/tray0/nic0")
    assert path_bandwidth(g, a, b) == pytest.approx(before)
    with pytest.raises(TopologyError, match="has 1 link"):
        remove_link(g, a, "d0/tray0/nic0", links=2)
    with pytest.raises(TopologyError, match="no edge"):
        remove_link(g, a, "d1/tray0/gpu5")
    with pytest.raises(TopologyError, match="give the LinkSpec"):
        add_link(g, a, "d1/tray0/gpu5")
    with pytest.raises(TopologyError, match="links must be"):
        add_link(g, a, "d0/tray0/nic0", links=0)
    with pytest.raises(TopologyError, match="is not in the graph"):
        add_link(g, a, "nowhere", NVLINK4)
