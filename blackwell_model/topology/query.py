"""Queries on a topology graph: path bandwidth and latency, group spans, bisection.

Graph first, plain results back (floats in SI units, or a
:class:`~blackwell_model.topology.GroupSpan`).

Two families of questions, answered two ways:

* **Pairs** (:func:`path_bandwidth`, :func:`path_latency`) search the graph
  itself, so they see every link, including those changed with
  :func:`~blackwell_model.topology.add_link`.  Searches are bidirectional and
  stop as soon as the answer is proven, so a pair on a 100,000-GPU graph costs
  milliseconds, not a sweep of the graph.
* **Groups** (:func:`group_span`, :func:`bisection_bandwidth`) answer from the
  hierarchy index stored by :func:`~blackwell_model.topology.to_graph`, in
  time proportional to the group size, with no path search.

Accelerators and NICs are end points; traffic is forwarded only by the node
kinds in ``G.graph["relay_kinds"]`` (switches, NICs, CPUs, and the chips of a
torus, which route their neighbours' traffic).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np

from ..errors import TopologyError
from ._hierarchy import Hierarchy, hierarchy_of, ordered_levels, unknown_node
from .build import RELAY_KINDS, plane_of
from .span import GroupSpan, SpanLevel

__all__ = [
    "bisection_bandwidth",
    "bisection_of",
    "group_span",
    "hierarchy_levels",
    "path_bandwidth",
    "path_latency",
    "span_of",
]

_INF = float("inf")


def _endpoints(graph: nx.DiGraph, source: str, target: str) -> None:
    if not isinstance(graph, nx.DiGraph):
        raise TopologyError(
            f"expected a networkx.DiGraph from to_graph, got {type(graph).__name__}"
        )
    for n in (source, target):
        if n not in graph:
            raise unknown_node(graph, n)


def _relay_test(graph: nx.DiGraph, source: str, target: str) -> Any:
    kinds = graph.graph.get("relay_kinds", RELAY_KINDS)
    nodes = graph._node

    def ok(x: str) -> bool:
        return x in (source, target) or nodes[x].get("kind") in kinds

    return ok


def _widest(graph: nx.DiGraph, s: str, t: str) -> float:
    """Largest bottleneck bandwidth over single paths (bidirectional maximin search)."""
    succ, pred = graph._succ, graph._pred
    relay = _relay_test(graph, s, t)
    label = ({s: _INF}, {t: _INF})
    done: tuple[set[str], set[str]] = (set(), set())
    heaps: tuple[list[tuple[float, int, str]], list[tuple[float, int, str]]] = (
        [(-_INF, 0, s)],
        [(-_INF, 0, t)],
    )
    tick = itertools.count(1)
    best = -1.0
    while heaps[0] and heaps[1]:
        if -heaps[0][0][0] <= best or -heaps[1][0][0] <= best:
            break
        side = 0 if len(heaps[0]) <= len(heaps[1]) else 1
        neg, _, x = heapq.heappop(heaps[side])
        if x in done[side]:
            continue
        done[side].add(x)
        if x != (s, t)[side] and (x in (s, t) or not relay(x)):
            continue  # an end point (or non-relay node) is not crossed
        w = -neg
        own, other = label[side], label[1 - side]
        adj = succ[x] if side == 0 else pred[x]
        for y, d in adj.items():
            if not relay(y):
                continue
            c = min(w, d["bandwidth"])
            if y in other:
                best = max(best, min(c, other[y]))
            if c > own.get(y, -1.0):
                own[y] = c
                heapq.heappush(heaps[side], (-c, next(tick), y))
    if best < 0:
        raise TopologyError(f"no path from {s!r} to {t!r}")
    return best


def _planes_between(graph: nx.DiGraph, s: str, t: str) -> list[str]:
    out_planes = {plane_of(d) for d in graph._succ[s].values()}
    in_planes = {plane_of(d) for d in graph._pred[t].values()}
    return sorted(out_planes & in_planes)


def _max_flow(graph: nx.DiGraph, s: str, t: str, plane: str) -> float:
    """Max flow from ``s`` to ``t`` over edges of one plane (Edmonds-Karp with
    bidirectional BFS for augmenting paths; intermediate nodes must relay)."""
    succ, pred = graph._succ, graph._pred
    relay = _relay_test(graph, s, t)
    flow: dict[tuple[str, str], float] = {}
    pushed_from: dict[str, set[str]] = {}  # x -> nodes y with positive flow y -> x
    pushed_to: dict[str, set[str]] = {}  # x -> nodes y with positive flow x -> y

    def cap(x: str, y: str) -> float:
        d = succ[x].get(y)
        return d["bandwidth"] if d is not None and plane_of(d) == plane else 0.0

    def residual(x: str, y: str) -> float:
        return cap(x, y) - flow.get((x, y), 0.0)

    def forward(x: str) -> Iterable[str]:
        for y, d in succ[x].items():
            if (
                plane_of(d) == plane
                and d["bandwidth"] - flow.get((x, y), 0.0) > 1e-9 * d["bandwidth"]
            ):
                yield y
        yield from pushed_from.get(x, ())

    def backward(y: str) -> Iterable[str]:
        for x, d in pred[y].items():
            if (
                plane_of(d) == plane
                and d["bandwidth"] - flow.get((x, y), 0.0) > 1e-9 * d["bandwidth"]
            ):
                yield x
        yield from pushed_to.get(y, ())

    total = 0.0
    while True:
        path = _augmenting_path(s, t, forward, backward, relay)
        if path is None:
            return total
        push = min(residual(a, c) for a, c in itertools.pairwise(path))
        if push <= 0:  # pragma: no cover - guarded by the residual tests above
            return total
        for a, c in itertools.pairwise(path):
            f = flow.get((a, c), 0.0) + push
            flow[(a, c)] = f
            flow[(c, a)] = -f
            if f > 0:
                pushed_from.setdefault(c, set()).add(a)
                pushed_to.setdefault(a, set()).add(c)
                pushed_from.get(a, set()).discard(c)
                pushed_to.get(c, set()).discard(a)
            elif f < 0:
                pushed_from.get(c, set()).discard(a)
                pushed_to.get(a, set()).discard(c)
                pushed_from.setdefault(a, set()).add(c)
                pushed_to.setdefault(c, set()).add(a)
            else:
                for m in (pushed_from, pushed_to):
                    m.get(a, set()).discard(c)
                    m.get(c, set()).discard(a)
        total += push


def _augmenting_path(s: str, t: str, forward: Any, backward: Any, relay: Any) -> list[str] | None:
    parent_f: dict[str, str | None] = {s: None}
    parent_b: dict[str, str | None] = {t: None}
    front_f, front_b = [s], [t]
    while front_f and front_b:
        if len(front_f) <= len(front_b):
            nxt = []
            for x in front_f:
                if x != s and not relay(x):
                    continue
                for y in forward(x):
                    if y in parent_f or not relay(y):
                        continue
                    parent_f[y] = x
                    if y in parent_b:
                        return _join(y, parent_f, parent_b)
                    nxt.append(y)
            front_f = nxt
        else:
            nxt = []
            for y in front_b:
                if y != t and not relay(y):
                    continue
                for x in backward(y):
                    if x in parent_b or not relay(x):
                        continue
                    parent_b[x] = y
                    if x in parent_f:
                        return _join(x, parent_f, parent_b)
                    nxt.append(x)
            front_b = nxt
    return None


def _join(meet: str, parent_f: dict[str, str | None], parent_b: dict[str, str | None]) -> list[str]:
    head: list[str] = []
    x: str | None = meet
    while x is not None:
        head.append(x)
        x = parent_f[x]
    head.reverse()
    x = parent_b[meet]
    while x is not None:
        head.append(x)
        x = parent_b[x]
    return head


def path_bandwidth(graph: nx.DiGraph, source: str, target: str, *, aggregate: bool = True) -> float:
    """Bandwidth from ``source`` to ``target``, one direction [B/s].

    Parameters
    ----------
    graph
        A graph from :func:`~blackwell_model.topology.to_graph`.
    source, target
        Node ids (accelerators, CPUs, NICs or switches).
    aggregate
        True (default): what the hardware delivers by striping over parallel
        paths, i.e. the maximum flow from ``source`` to ``target`` within one
        network plane (``scale_up``, ``scale_out`` or ``host``), the best
        plane winning.  NCCL stripes a transfer over all NVLink ports (all
        NVSwitch chips) or all NIC rails of a GPU, never over NVLink and the
        network at once.  False: the bottleneck of the single widest path,
        over any plane.

    Returns
    -------
    float
        Bandwidth [B/s]; ``inf`` when ``source == target``.

    Raises
    ------
    TopologyError
        If a node is not in the graph, or no path joins them.

    Notes
    -----
    Accelerators are end points (except in a torus, whose chips route), so
    paths do not borrow another GPU's links.  A single transfer is not
    limited by oversubscription (one flow fits in an oversubscribed uplink);
    the per-device bandwidth of a group whose members all talk at once is
    :func:`group_span`'s.  Both values are monotone: adding a link never
    lowers them, removing one never raises them.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> g = bm.topology.to_graph(bm.catalog.system("DGX-H100"))
    >>> bm.topology.path_bandwidth(g, "tray0/gpu0", "tray0/gpu7") / 1e9
    450.0
    """
    _endpoints(graph, source, target)
    if source == target:
        return _INF
    if not aggregate:
        return _widest(graph, source, target)
    best = 0.0
    for plane in _planes_between(graph, source, target):
        best = max(best, _max_flow(graph, source, target, plane))
    if best <= 0.0:
        raise TopologyError(f"no path from {source!r} to {target!r}")
    return best


def path_latency(graph: nx.DiGraph, source: str, target: str) -> float:
    """Lowest one-way latency from ``source`` to ``target`` over any path [s].

    The sum of the edge latencies along the path: link hops plus the switches
    crossed (see the latency convention in
    :mod:`blackwell_model.topology.build`).  Bidirectional Dijkstra.

    Raises
    ------
    TopologyError
        If a node is not in the graph, or no path joins them.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> g = bm.topology.to_graph(bm.catalog.system("GB200-NVL72"))
    >>> round(bm.topology.path_latency(g, "tray0/gpu0", "tray9/gpu1") * 1e6, 3)
    0.6
    """
    _endpoints(graph, source, target)
    if source == target:
        return 0.0
    succ, pred = graph._succ, graph._pred
    relay = _relay_test(graph, source, target)
    dist = ({source: 0.0}, {target: 0.0})
    done: tuple[set[str], set[str]] = (set(), set())
    heaps: tuple[list[tuple[float, int, str]], list[tuple[float, int, str]]] = (
        [(0.0, 0, source)],
        [(0.0, 0, target)],
    )
    tick = itertools.count(1)
    best = _INF
    while heaps[0] and heaps[1]:
        if heaps[0][0][0] + heaps[1][0][0] >= best:
            break
        side = 0 if len(heaps[0]) <= len(heaps[1]) else 1
        dx, _, x = heapq.heappop(heaps[side])
        if x in done[side]:
            continue
        done[side].add(x)
        if x != (source, target)[side] and (x in (source, target) or not relay(x)):
            continue
        own, other = dist[side], dist[1 - side]
        adj = succ[x] if side == 0 else pred[x]
        for y, d in adj.items():
            if not relay(y):
                continue
            dy = dx + d["latency"]
            if y in other:
                best = min(best, dy + other[y])
            if dy < own.get(y, _INF):
                own[y] = dy
                heapq.heappush(heaps[side], (dy, next(tick), y))
    if best == _INF:
        raise TopologyError(f"no path from {source!r} to {target!r}")
    return best


# ---------------------------------------------------------------------------
# Group spans, from the hierarchy
# ---------------------------------------------------------------------------


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` without its one-off import cost)."""
    v = np.sort(values, kind="stable")
    if v.size:
        v = v[np.concatenate(([True], v[1:] != v[:-1]))]
    return v


def _dense(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel non-negative integers as 0..k-1 (order kept); returns labels and k."""
    if values.size == 0:
        return values.astype(np.int64), 0
    lo = int(values.min())
    span = int(values.max()) - lo + 1
    if lo < 0 or span > 4 * values.size + 1024:
        uniq = _unique(values)
        return np.searchsorted(uniq, values).astype(np.int64), len(uniq)
    present = np.zeros(span, dtype=bool)
    present[values - lo] = True
    remap = np.cumsum(present, dtype=np.int64) - 1
    return remap[values - lo], int(remap[-1]) + 1


def _merge(prev: np.ndarray, n_prev: int, key: np.ndarray) -> tuple[np.ndarray, int]:
    """Components of "same previous component or same key" (union-find on pairs)."""
    key_d, n_key = _dense(key)
    first = np.empty(n_prev, dtype=np.int64)
    first[prev] = key_d
    if np.array_equal(first[prev], key_d):
        # Each previous component lies under one key: the key alone decides.
        return key_d, n_key
    pairs = _unique(prev * n_key + key_d)
    pc, pk = pairs // n_key, pairs % n_key
    parent = list(range(n_prev + n_key))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, k in zip(pc.tolist(), pk.tolist(), strict=True):
        ra, rk = find(a), find(n_prev + k)
        if ra != rk:
            parent[ra] = rk
    roots = np.array([find(i) for i in range(n_prev)], dtype=np.int64)
    labels, n = _dense(roots)
    return labels[prev], n


class _Crossed:
    """One crossed level: the level, each member's component, and each previous
    (inner) component's parent component."""

    __slots__ = ("comp", "level", "n_comp", "parent_of_prev")

    def __init__(self, level: SpanLevel, comp: np.ndarray, n_comp: int, parent_of_prev: np.ndarray):
        self.level = level
        self.comp = comp
        self.n_comp = n_comp
        self.parent_of_prev = parent_of_prev


def _crossed_levels(h: Hierarchy, ranks: np.ndarray) -> list[_Crossed]:
    """Levels the group crosses, innermost first, with each member's component there."""
    comp = np.arange(len(ranks), dtype=np.int64)
    n_comp = len(ranks)
    crossed: list[_Crossed] = []
    for name in ordered_levels(h.levels):
        key = h.keys.get(name)
        if key is None:
            continue
        new, n_new = _merge(comp, n_comp, key[ranks])
        if n_new < n_comp:
            parent_of = np.empty(n_comp, dtype=np.int64)
            parent_of[comp] = new
            crossed.append(_Crossed(h.levels[name], new, n_new, parent_of))
            comp, n_comp = new, n_new
        if n_comp == 1:
            break
    if n_comp > 1:
        raise TopologyError(
            f"the {len(ranks)} devices are not joined by any level of the hierarchy of "
            f"{h.name!r} ({h.kind}; levels: {', '.join(ordered_levels(h.levels)) or 'none'}); "
            "build the graph of the enclosing domain or cluster"
        )
    return crossed


def group_span(graph: nx.DiGraph, devices: Iterable[str | int]) -> GroupSpan:
    """The hierarchy levels a device group spans, innermost first.

    Parameters
    ----------
    graph
        A graph from :func:`~blackwell_model.topology.to_graph`.
    devices
        Accelerator node ids (or integer ranks, see
        :func:`~blackwell_model.topology.devices`), each once.

    Returns
    -------
    GroupSpan
        One :class:`SpanLevel` per level crossed: ``superchip`` (GB200-style
        modules), ``scale_up`` (the NVLink domain), then the fabric tiers
        (``leaf``, ``pod``, ``fabric`` for three tiers; ``leaf``, ``fabric``
        for two; ``fabric`` for one).  Bandwidth, latency and reduction engine
        of each level are per device (see :func:`hierarchy_levels`).

    Raises
    ------
    TopologyError
        If an id is not an accelerator of this graph (a NIC, a switch, an id
        from a graph of another part), a device is listed twice, or the graph
        has no level joining the group.

    Notes
    -----
    Two members *meet* at a level when they share its key: the same superchip,
    the same domain, the same leaf switch, the same pod.  The levels are nested
    by closure: the sub-groups at a level are the connected components of
    "meet at this level or an inner one".  A level is *crossed* when it joins
    sub-groups of the next inner crossed level (or single devices).  In a
    rail-optimised fabric the domains of one leaf block meet at the leaf
    level through their rail leaves, as NCCL's rail-local (PXN) traffic does.

    ``fanout`` of a level is the largest number of sub-groups of the next
    inner crossed level (single devices for the innermost) inside one
    sub-group of this level.  For a uniform group (every parent with the same
    number of children) the product of the fanouts is the group size; for a
    non-uniform one it is the largest parent that counts, e.g. 3 GPUs of one
    NVL72 and 1 of another give ``scale_up`` fanout 3 and ``leaf`` (or
    ``fabric``) fanout 2.

    The answer costs O(group size) (numpy over the stored index); no path is
    searched.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> g = bm.topology.to_graph(bm.catalog.system("GB200-NVL72"))
    >>> span = bm.topology.group_span(g, [f"tray{t}/gpu{i}" for t in range(2) for i in range(4)])
    >>> [(lv.name, lv.fanout) for lv in span.levels]
    [('superchip', 2), ('scale_up', 4)]
    >>> span.bottleneck_Bps / 1e9
    900.0
    """
    return span_of(hierarchy_of(graph), devices, graph)


def hierarchy_levels(graph: nx.DiGraph) -> tuple[SpanLevel, ...]:
    """Every level of the graph's hierarchy, innermost first (``fanout`` 1).

    The per-device bandwidth and latency a group would see at each level:
    ``scale_up`` = links x link bandwidth, latency of one hop and the switch's
    reduction engine (NVLS) when switched; ``superchip`` = ``scale_up`` when
    the GPUs of a superchip talk over the scale-up network, else their
    NVLink-C2C through the CPU; fabric tiers = NIC bandwidth x NICs per
    accelerator (divided by the oversubscription above the leaf), NIC latency
    plus the switch hops (1 at the leaf, 3 through a spine, 5 through a core),
    and the switch's SHARP engine when ``fabric.sharp``.
    """
    h = hierarchy_of(graph)
    return tuple(h.levels[name] for name in ordered_levels(h.levels))


def bisection_bandwidth(graph: nx.DiGraph, devices: Iterable[str | int] | None = None) -> float:
    """Bisection bandwidth of a device group, one direction [B/s].

    The least bandwidth that can cross a cut splitting the group into two
    halves (``floor(n / 2)`` and ``ceil(n / 2)`` devices), from the
    hierarchy of :func:`group_span`.

    Parameters
    ----------
    graph
        A graph from :func:`~blackwell_model.topology.to_graph`.
    devices
        Accelerator ids or ranks; all accelerators of the graph when None.

    Returns
    -------
    float
        [B/s]; 0 for a single device.

    Notes
    -----
    The cut is built top-down along the levels of :func:`group_span`: at the
    outermost level crossed, whole sub-groups go to the smaller half, largest
    first, while they fit; the rest is taken from the smallest sub-group left,
    which is split the same way one level down.  Each device of the smaller
    half is charged once, at the per-device bandwidth ``B_l`` of the level
    where it leaves its sub-group:

    .. math:: B_{bisect}(P, k) = (k - r)\\,B_l + B_{bisect}(c, \\min(r, |c| - r))

    with ``k = floor(n / 2)`` devices moved at the top, ``c`` the sub-group
    that is split and ``r`` the devices taken from it.  For ``N`` GPUs filling
    a non-blocking fat-tree this is ``N/2`` NIC links; with 2:1
    oversubscription above the leaf, ``N/4``; for one NVL72, 36 x 900 GB/s.
    Exact for groups that split evenly at their outermost level; otherwise a
    documented heuristic (the exact minimum bisection is NP-hard in general).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> g = bm.topology.to_graph(bm.catalog.system("GB200-NVL72"))
    >>> bm.topology.bisection_bandwidth(g) / 1e12  # 36 GPUs x 900 GB/s
    32.4
    """
    return bisection_of(hierarchy_of(graph), devices, graph)


def span_of(
    h: Hierarchy, devices: Iterable[str | int], graph: nx.DiGraph | None = None
) -> GroupSpan:
    """:func:`group_span` on a :class:`Hierarchy` (``graph`` only improves messages)."""
    ranks = h.ranks(graph, devices)
    if len(ranks) == 0:
        raise TopologyError("a device group needs at least one device, got none")
    if len(ranks) == 1:
        return GroupSpan(devices=1, levels=())
    crossed = _crossed_levels(h, ranks)
    out = []
    for c in crossed:
        fanout = int(np.bincount(c.parent_of_prev, minlength=c.n_comp).max())
        lv = c.level
        out.append(
            SpanLevel(
                name=lv.name,
                fanout=fanout,
                bandwidth_Bps=lv.bandwidth_Bps,
                latency_s=lv.latency_s,
                in_network_reduction=lv.in_network_reduction,
                links=lv.links,
            )
        )
    return GroupSpan(devices=len(ranks), levels=tuple(out))


def bisection_of(
    h: Hierarchy, devices: Iterable[str | int] | None = None, graph: nx.DiGraph | None = None
) -> float:
    """:func:`bisection_bandwidth` on a :class:`Hierarchy`."""
    ranks = (
        np.arange(len(h.devices), dtype=np.int64) if devices is None else h.ranks(graph, devices)
    )
    n = len(ranks)
    if n < 2:
        return 0.0
    crossed = _crossed_levels(h, ranks)
    # sizes[j][c]: devices in component c of the level inside crossed level j.
    sizes = [np.ones(n, dtype=np.int64)]
    sizes += [np.bincount(c.comp, minlength=c.n_comp) for c in crossed]

    def cut(level: int, comp: int, k: int) -> float:
        """Bandwidth to move ``k`` devices out of component ``comp`` of a crossed level."""
        if k <= 0 or level < 0:
            return 0.0
        kid_sizes = sizes[level]
        kids = np.nonzero(crossed[level].parent_of_prev == comp)[0]
        order = kids[np.argsort(-kid_sizes[kids], kind="stable")]
        left = k
        rest = []
        for child in order.tolist():
            size = int(kid_sizes[child])
            if size <= left:
                left -= size
            else:
                rest.append(child)
        total = (k - left) * crossed[level].level.bandwidth_Bps
        if left:
            child = min(rest, key=lambda x: int(kid_sizes[x]))
            size = int(kid_sizes[child])
            total += cut(level - 1, child, min(left, size - left))
        return total

    return cut(len(crossed) - 1, 0, n // 2)
