"""Builders: compose a part into the directed networkx graph of who is wired to whom.

:func:`to_graph` turns a :class:`~blackwell_model.hardware.Superchip`,
:class:`~blackwell_model.hardware.Node`,
:class:`~blackwell_model.hardware.ScaleUpDomain` or
:class:`~blackwell_model.hardware.Cluster` into a :class:`networkx.DiGraph`.

Graph conventions
-----------------
Nodes are hierarchical string ids, relative to the object given:

=====================  =============================  ===========================
object                 accelerator                    others
=====================  =============================  ===========================
Superchip              ``gpu1``                       ``cpu0``
Node                   ``gpu1``                       ``cpu0``, ``nic1``
ScaleUpDomain          ``tray7/gpu1``                 ``tray7/cpu0``, ``nvswitch5``
Cluster                ``d3/tray7/gpu1``              ``d3/nvswitch5``, ``fabric/leaf12``,
                                                      ``fabric/spine4``, ``fabric/core9``
=====================  =============================  ===========================

Every node has ``kind`` (``"gpu"`` for any accelerator, ``"cpu"``, ``"nic"``,
``"switch"``) and ``spec`` (the part object).  Accelerators also carry their
position: ``rank`` (index in :func:`devices`), ``domain``, ``tray``, ``local``
(index in the tray), ``superchip`` (index in the tray, -1 if none), ``leaf``,
``pod`` and ``rail`` (-1 where not applicable).  Switches carry ``tier``
(``"scale_up"``, ``"leaf"``, ``"spine"``, ``"core"``) and ``index``.

Each physical link is one edge per direction; parallel links between the same
pair are aggregated into one edge whose attributes are

``bandwidth``
    all aggregated links, one direction [B/s] (float);
``latency``
    one-way latency [s] (float), see below;
``links``
    number of aggregated physical links;
``spec``
    the :class:`~blackwell_model.hardware.LinkSpec`;
``plane``
    ``"scale_up"`` (NVLink, Infinity Fabric, ICI), ``"scale_out"`` (NICs and the
    fabric) or ``"host"`` (NVLink-C2C, PCIe to the CPU).

Latency convention: a link's latency is that of one device-to-device hop (NCCL's
convention: one NVLink hop GPU -> NVSwitch -> GPU is 0.6 us; one network step
NIC -> fabric -> NIC is 2.7 us).  A hop through a switch uses two cables, so an
edge between a device (GPU, CPU, NIC) and a switch carries half the link
latency; an edge *into* a switch also carries the switch's port-to-port
latency; other edges carry the full link latency.  The sum of edge latencies
along a path is therefore the hop latencies plus the switch latencies crossed.

The edge attribute dicts are shared by every edge of one link type (one dict
object for all ~3.6 million NVLink edges of a 100,000-GPU cluster) and are
read-only (:class:`EdgeData`).  Change links with :func:`add_link` and
:func:`remove_link`, which replace the dicts of the edges they touch.
"""

from __future__ import annotations

import copy
import math
from typing import Any, NoReturn

import attrs
import networkx as nx
import numpy as np

from ..errors import TopologyError
from ..hardware import (
    Cluster,
    DomainTopology,
    LinkKind,
    LinkSpec,
    Node,
    ScaleUpDomain,
    Superchip,
)
from ..units import Q_
from ._hierarchy import HIERARCHY_KEY, Hierarchy, hierarchy_of, unknown_node
from .span import SpanLevel

__all__ = [
    "PLANES",
    "RELAY_KINDS",
    "EdgeData",
    "add_link",
    "cluster_spans",
    "devices",
    "plane_of",
    "remove_link",
    "to_graph",
]

#: Network planes an edge can belong to.
PLANES: tuple[str, ...] = ("scale_up", "scale_out", "host")

#: Node kinds that forward traffic between other nodes (accelerators of a torus
#: domain forward too; see ``G.graph["relay_kinds"]``).
RELAY_KINDS: frozenset[str] = frozenset({"switch", "nic", "cpu"})

_KIND_PLANE: dict[LinkKind, str] = {
    LinkKind.NVLINK: "scale_up",
    LinkKind.INFINITY_FABRIC: "scale_up",
    LinkKind.ICI: "scale_up",
    LinkKind.NEURONLINK: "scale_up",
    LinkKind.INFINIBAND: "scale_out",
    LinkKind.ETHERNET: "scale_out",
    LinkKind.C2C: "host",
    LinkKind.PCIE: "host",
}

_ZERO_S = Q_(0.0, "s")


class EdgeData(dict):  # type: ignore[type-arg]
    """Read-only edge attribute dict, shared by every edge of one link type.

    Reading works as for any dict (networkx algorithms only read).  Writing
    raises :class:`~blackwell_model.errors.TopologyError`, because one write
    would change thousands of edges; use :func:`add_link` / :func:`remove_link`.
    ``G.copy()`` and :func:`copy.copy` give ordinary (writable) dicts.
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TopologyError(
            "edge attributes of a graph built by to_graph are shared by every edge of the "
            "same link type and are read-only; use blackwell_model.topology.add_link / "
            "remove_link, or G.remove_edge(u, v) then G.add_edge(u, v, ...)"
        )

    __setitem__ = _read_only
    __delitem__ = _read_only
    __ior__ = _read_only  # type: ignore[assignment]
    clear = _read_only
    pop = _read_only
    popitem = _read_only
    setdefault = _read_only
    update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> EdgeData:
        return type(self)(copy.deepcopy(dict(self), memo))


def plane_of(data: dict[str, Any]) -> str:
    """Plane of an edge from its attribute dict (``plane``, else from the spec's kind)."""
    plane = data.get("plane")
    if plane:
        return str(plane)
    spec = data.get("spec")
    if isinstance(spec, LinkSpec):
        return _KIND_PLANE.get(spec.kind, "other")
    return "other"


class _Builder:
    """Accumulates the node and adjacency tables, then hands them to a DiGraph."""

    def __init__(self) -> None:
        self.node: dict[str, dict[str, Any]] = {}
        self.succ: dict[str, dict[str, EdgeData]] = {}
        self.pred: dict[str, dict[str, EdgeData]] = {}
        self._data: dict[tuple[Any, ...], EdgeData] = {}
        self._attach: dict[int, LinkSpec] = {}

    def add(self, node: str, attrs_: dict[str, Any]) -> None:
        self.node[node] = attrs_
        self.succ[node] = {}
        self.pred[node] = {}

    def data(
        self,
        spec: LinkSpec,
        links: int,
        latency_s: float,
        plane: str,
        per_link_Bps: float | None = None,  # noqa: N803 - unit suffix (STYLE.md)
    ) -> EdgeData:
        """The shared attribute dict of ``links`` aggregated links of ``spec``."""
        bw = spec.bandwidth_Bps if per_link_Bps is None else per_link_Bps
        key = (id(spec), links, latency_s, plane, bw)
        d = self._data.get(key)
        if d is None:
            d = EdgeData(
                bandwidth=float(links * bw),
                latency=float(latency_s),
                links=int(links),
                spec=spec,
                plane=plane,
            )
            self._data[key] = d
        return d

    def link(self, u: str, v: str, forward: EdgeData, back: EdgeData) -> None:
        self.succ[u][v] = forward
        self.pred[v][u] = forward
        self.succ[v][u] = back
        self.pred[u][v] = back

    def attach_spec(self, nic: LinkSpec) -> LinkSpec:
        """Host side of a NIC: the GPU-NIC attachment (NIC speed, no latency)."""
        spec = self._attach.get(id(nic))
        if spec is None:
            spec = LinkSpec(
                name=f"{nic.name} host port",
                kind=nic.kind,
                bandwidth=nic.bandwidth,
                latency=_ZERO_S,
                notes="GPU-NIC attachment; the NIC's latency is on its cable to the fabric.",
            )
            self._attach[id(nic)] = spec
        return spec

    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        # Hand the tables to networkx directly: add_edges_from would copy every
        # attribute dict (one per edge) and take several times longer.
        g._node = self.node
        g._succ = self.succ
        g._adj = self.succ
        g._pred = self.pred
        return g


# ---------------------------------------------------------------------------
# Trays, superchips and scale-up domains
# ---------------------------------------------------------------------------


def _gpu_attrs(
    spec: Any, *, rank: int, domain: int, tray: int, local: int, superchip: int
) -> dict[str, Any]:
    return {
        "kind": "gpu",
        "spec": spec,
        "rank": rank,
        "domain": domain,
        "tray": tray,
        "local": local,
        "superchip": superchip,
        "leaf": -1,
        "pod": -1,
        "rail": -1,
    }


def _add_superchip(b: _Builder, sc: Superchip, prefix: str = "") -> list[str]:
    gpus = [f"{prefix}gpu{g}" for g in range(sc.accelerators)]
    cpus = [f"{prefix}cpu{c}" for c in range(sc.cpus)]
    for g, gid in enumerate(gpus):
        b.add(gid, _gpu_attrs(sc.accelerator, rank=g, domain=0, tray=0, local=g, superchip=0))
    for c, cid in enumerate(cpus):
        b.add(cid, {"kind": "cpu", "spec": sc.cpu, "domain": 0, "tray": 0, "index": c})
    spec = sc.c2c_link
    d = b.data(spec, 1, spec.latency_s, "host")
    for g, gid in enumerate(gpus):
        b.link(gid, cpus[g * sc.cpus // sc.accelerators], d, d)
    return gpus


def _add_tray(
    b: _Builder, node: Node, prefix: str, *, domain: int, tray: int, rank0: int
) -> tuple[list[str], list[list[str]]]:
    """Accelerators, CPUs and NICs of one node; returns GPU ids and NIC ids per GPU."""
    acc = node.accelerator
    n = node.accelerators
    sc = node.superchip
    per = sc.accelerators if sc is not None else 0
    gpus = [f"{prefix}gpu{g}" for g in range(n)]
    cpus = [f"{prefix}cpu{c}" for c in range(node.cpus)]
    for g, gid in enumerate(gpus):
        b.add(
            gid,
            _gpu_attrs(
                acc,
                rank=rank0 + g,
                domain=domain,
                tray=tray,
                local=g,
                superchip=g // per if per else -1,
            ),
        )
    for c, cid in enumerate(cpus):
        b.add(cid, {"kind": "cpu", "spec": node.cpu, "domain": domain, "tray": tray, "index": c})
    if sc is not None:
        d = b.data(sc.c2c_link, 1, sc.c2c_link.latency_s, "host")
        for g, gid in enumerate(gpus):
            s, j = divmod(g, per)
            b.link(gid, cpus[s * sc.cpus + j * sc.cpus // per], d, d)
    else:
        host = node.host_link if node.host_link is not None else acc.host_link  # type: ignore[union-attr]
        if host is not None and cpus:
            d = b.data(host, 1, host.latency_s, "host")
            for g, gid in enumerate(gpus):
                b.link(gid, cpus[g * len(cpus) // n], d, d)
    nics: list[list[str]] = []
    m = node.nics_per_accelerator if node.nic is not None else 0
    if m:
        nic = node.nic
        d = b.data(b.attach_spec(nic), 1, 0.0, "scale_out")  # type: ignore[arg-type]
        for g, gid in enumerate(gpus):
            ids = [f"{prefix}nic{g * m + j}" for j in range(m)]
            for nid in ids:
                b.add(nid, {"kind": "nic", "spec": nic, "gpu": gid, "leaf": -1})
                b.link(gid, nid, d, d)
            nics.append(ids)
    return gpus, nics


def _spread(links: int, switches: int) -> list[int]:
    """Links per switch, as even as they go; extras alternate from both ends.

    18 links over 4 switches gives 5, 4, 4, 5 (HGX H100).
    """
    base, extra = divmod(links, switches)
    counts = [base] * switches
    order = [i // 2 if i % 2 == 0 else switches - 1 - i // 2 for i in range(switches)]
    for s in order[:extra]:
        counts[s] += 1
    return counts


def _wire_domain(
    b: _Builder, dom: ScaleUpDomain, gpus: list[str], prefix: str, domain: int
) -> None:
    n = len(gpus)
    if n < 2 or dom.link is None:
        return
    link = dom.link
    lat = link.latency_s
    links = dom.links_per_accelerator
    if dom.topology is DomainTopology.SWITCHED:
        sw = dom.switch
        if sw is None:  # pragma: no cover - ScaleUpDomain validates this
            raise TopologyError(f"switched domain {dom.name!r} has no switch")
        counts = _spread(links, dom.switches)
        for s, c in enumerate(counts):
            if c * n > sw.ports:
                raise TopologyError(
                    f"domain {dom.name!r}: switch {s} of {dom.switches} ({sw.name}) needs "
                    f"{n} accelerators x {c} links = {c * n} ports, but has {sw.ports}"
                )
        label = "nvswitch" if sw.kind is LinkKind.NVLINK else "switch"
        sw_lat = float(sw.latency.m)
        sids = [f"{prefix}{label}{s}" for s in range(dom.switches)]
        up_pairs, down_pairs = [], []
        for s, sid in enumerate(sids):
            b.add(
                sid,
                {"kind": "switch", "spec": sw, "tier": "scale_up", "index": s, "domain": domain},
            )
            c = counts[s]
            if not c:
                continue
            up = b.data(link, c, lat / 2 + sw_lat, "scale_up")
            down = b.data(link, c, lat / 2, "scale_up")
            up_pairs.append((sid, up))
            down_pairs.append((sid, down))
            b.succ[sid].update(dict.fromkeys(gpus, down))
            b.pred[sid].update(dict.fromkeys(gpus, up))
        for gid in gpus:
            b.succ[gid].update(up_pairs)
            b.pred[gid].update(down_pairs)
    elif dom.topology is DomainTopology.MESH:
        per_pair = links // (n - 1)
        if per_pair < 1:
            raise TopologyError(
                f"mesh domain {dom.name!r}: {n} accelerators need at least {n - 1} links each "
                f"(one per peer), got links_per_accelerator = {links}"
            )
        d = b.data(link, per_pair, lat, "scale_up")
        for gid in gpus:
            pairs = [(other, d) for other in gpus if other is not gid]
            b.succ[gid].update(pairs)
            b.pred[gid].update(pairs)
    else:  # torus
        shape = dom.torus_shape
        active = [k for k in shape if k > 1]
        slots = 2 * len(active)
        per_nbr = links // slots if slots else 0
        if slots and per_nbr < 1:
            raise TopologyError(
                f"torus domain {dom.name!r} of shape {list(shape)} needs at least {slots} links "
                f"per accelerator (two per dimension), got links_per_accelerator = {links}"
            )
        bundle: dict[tuple[int, int], int] = {}
        stride = 1
        for k in reversed(shape):  # row-major: the last dimension varies fastest
            if k > 1:
                for i in range(n):
                    coord = (i // stride) % k
                    j = i + ((coord + 1) % k - coord) * stride
                    bundle[(i, j)] = bundle.get((i, j), 0) + per_nbr
                    bundle[(j, i)] = bundle.get((j, i), 0) + per_nbr
            stride *= k
        for (i, j), c in bundle.items():
            d = b.data(link, c, lat, "scale_up")
            b.succ[gpus[i]][gpus[j]] = d
            b.pred[gpus[j]][gpus[i]] = d


def _add_domain(
    b: _Builder, dom: ScaleUpDomain, prefix: str, domain: int, rank0: int
) -> tuple[list[str], list[list[str]]]:
    gpus: list[str] = []
    nics: list[list[str]] = []
    per_tray = dom.node.accelerators
    for t in range(dom.nodes):
        g, n = _add_tray(
            b, dom.node, f"{prefix}tray{t}/", domain=domain, tray=t, rank0=rank0 + t * per_tray
        )
        gpus.extend(g)
        nics.extend(n)
    _wire_domain(b, dom, gpus, prefix, domain)
    return gpus, nics


# ---------------------------------------------------------------------------
# Level templates (per-device bandwidth and latency of each hierarchy level)
# ---------------------------------------------------------------------------


def _scale_up_level(dom: ScaleUpDomain) -> SpanLevel | None:
    n = dom.gpus
    link = dom.link
    if n < 2 or link is None:
        return None
    links = dom.links_per_accelerator
    latency = link.latency_s
    reduction = ""
    if dom.topology is DomainTopology.SWITCHED:
        sw = dom.switch
        if sw is not None:
            latency += float(sw.latency.m)
            reduction = sw.in_network_reduction
    elif dom.topology is DomainTopology.MESH:
        links = (links // (n - 1)) * (n - 1)
    else:
        active = sum(1 for k in dom.torus_shape if k > 1)
        links = (links // (2 * active)) * 2 * active if active else 0
    return SpanLevel(
        name="scale_up",
        fanout=1,
        bandwidth_Bps=links * link.bandwidth_Bps,
        latency_s=latency,
        in_network_reduction=reduction,
        links=max(links, 1),
    )


def _superchip_level(sc: Superchip | None, scale_up: SpanLevel | None) -> SpanLevel | None:
    """GPU-to-GPU traffic inside a superchip: over the scale-up network if there is one
    (it is faster than going through the CPU), else through the CPU over NVLink-C2C."""
    if sc is None or sc.accelerators < 2:
        return None
    if scale_up is not None:
        return attrs.evolve(scale_up, name="superchip")
    c2c = sc.c2c_link
    return SpanLevel(
        name="superchip",
        fanout=1,
        bandwidth_Bps=c2c.bandwidth_Bps,
        latency_s=2.0 * c2c.latency_s,
        links=1,
    )


# ---------------------------------------------------------------------------
# Scale-out fat-tree
# ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True, eq=False)
class _FatTree:
    """A folded-Clos fat-tree sized for a cluster: switch counts and leaf of each rank."""

    tiers: int
    radix: int
    rails: int  # 0 when not rail-optimised
    aligned: bool  # whole domains under a leaf block and whole blocks in a pod
    leaf: np.ndarray  # leaf index of each rank
    leaves: int
    leaves_per_pod: int  # 3 tiers; else = leaves
    pods: int
    spines_per_pod: int  # 2 tiers: all spines
    leaf_spine_links: int  # parallel links between a leaf and each of its spines
    cores_per_group: int  # 3 tiers: core group g serves spine g of every pod
    spine_core_links: int


def _fewest_switches(uplinks: int, ends: int, ports: int) -> int:
    """Fewest switches ``s`` (a divisor of ``uplinks``) such that ``ends`` lower switches,
    each spreading ``uplinks`` links evenly over the ``s``, fit in ``ports`` ports each."""
    for s in range(1, uplinks + 1):
        if uplinks % s == 0 and ends * (uplinks // s) <= ports:
            return s
    return uplinks


def _leaf_layout(cluster: Cluster, gpl: int, rails: int, aligned: bool) -> tuple[np.ndarray, int]:
    """Leaf of each rank, and the number of leaves per "unit" (one domain or one block).

    Rail-optimised: accelerator ``i`` of every node is on rail ``i``; nodes form
    blocks and each block has one leaf per rail.  Otherwise accelerators fill
    leaves in rank order.  ``aligned`` keeps every domain inside one block (or
    one run of leaves of its own), so that the hierarchy nests.
    """
    dom = cluster.domain
    gpn = dom.node.accelerators
    n = cluster.installed_gpus
    ranks = np.arange(n, dtype=np.int64)
    domain = ranks // dom.gpus
    if rails:
        npd = dom.nodes
        node_in_dom = (ranks % dom.gpus) // gpn
        local = ranks % gpn
        if not aligned:
            block = (ranks // gpn) // gpl
            return block * rails + local, rails
        if gpl >= npd:
            block = domain // (gpl // npd)
            return block * rails + local, rails
        per_dom = math.ceil(npd / gpl)
        block = domain * per_dom + node_in_dom // gpl
        return block * rails + local, rails * per_dom
    if not aligned:
        return ranks // gpl, 1
    if gpl >= dom.gpus:
        return domain // (gpl // dom.gpus), 1
    per_dom = math.ceil(dom.gpus / gpl)
    return domain * per_dom + (ranks % dom.gpus) // gpl, per_dom


def _plan_fat_tree(cluster: Cluster) -> _FatTree:
    fab = cluster.fabric
    if fab is None:  # pragma: no cover - callers check
        raise TopologyError(f"cluster {cluster.name!r} has no fabric")
    k = fab.switch.ports
    t = fab.tiers
    r = fab.oversubscription
    node = cluster.domain.node
    m = node.nics_per_accelerator
    if t == 1:
        down, up = k, 0
    else:
        down = int(k * r / (1.0 + r))
        up = min(k - down, math.ceil(down / r))
    gpl = down // m
    where = (
        f"cluster {cluster.name!r}: a {t}-tier fat-tree of {k}-port {fab.switch.name} "
        f"(oversubscription {r:g}, rail_optimized={fab.rail_optimized})"
    )
    if gpl < 1 or (t > 1 and up < 1):
        raise TopologyError(
            f"{where}: a leaf has {down} down and {up} up ports, but each accelerator needs "
            f"{m} NIC ports; use a larger radix or a lower oversubscription"
        )
    gpn = node.accelerators
    rails = gpn if (fab.rail_optimized and t > 1 and gpn > 1) else 0
    if t == 1:
        if cluster.installed_gpus > gpl:
            raise TopologyError(
                f"{where}: one switch connects {gpl} accelerators of {m} NIC port(s), but the "
                f"cluster has {cluster.installed_gpus}; add a tier or use a larger switch"
            )
        return _FatTree(
            tiers=1,
            radix=k,
            rails=0,
            aligned=True,
            leaf=np.zeros(cluster.installed_gpus, dtype=np.int64),
            leaves=1,
            leaves_per_pod=1,
            pods=1,
            spines_per_pod=0,
            leaf_spine_links=0,
            cores_per_group=0,
            spine_core_links=0,
        )
    lpp_max = k // 2
    failure = ""
    for aligned in (True, False):
        leaf, unit = _leaf_layout(cluster, gpl, rails, aligned)
        leaves = int(leaf[-1]) + 1
        need = (
            f"{cluster.installed_gpus} accelerators x {m} NIC port(s) need {leaves} leaves of "
            f"{gpl} accelerators"
        )
        if t == 2:
            if leaves > k:
                failure = (
                    f"{where}: the spines reach at most {k} leaves, but {need}; add a tier or "
                    "use a larger switch" + (" or rail_optimized=False" if rails else "")
                )
                continue
            spines = _fewest_switches(up, leaves, k)
            return _FatTree(
                tiers=2,
                radix=k,
                rails=rails,
                aligned=aligned,
                leaf=leaf,
                leaves=leaves,
                leaves_per_pod=leaves,
                pods=1,
                spines_per_pod=spines,
                leaf_spine_links=up // spines,
                cores_per_group=0,
                spine_core_links=0,
            )
        lpp = (lpp_max // unit) * unit if aligned and unit <= lpp_max else lpp_max
        pods = math.ceil(leaves / lpp)
        if pods > k:
            failure = (
                f"{where}: the cores reach at most {k} pods of {lpp} leaves, but {need} "
                f"({pods} pods); use a larger switch or a higher oversubscription"
                + (" or rail_optimized=False" if rails else "")
            )
            continue
        in_pod = min(lpp, leaves)
        spines = _fewest_switches(up, in_pod, k // 2)
        spine_up = in_pod * (up // spines)
        cores = _fewest_switches(spine_up, pods, k)
        return _FatTree(
            tiers=3,
            radix=k,
            rails=rails,
            aligned=aligned,
            leaf=leaf,
            leaves=leaves,
            leaves_per_pod=lpp,
            pods=pods,
            spines_per_pod=spines,
            leaf_spine_links=up // spines,
            cores_per_group=cores,
            spine_core_links=spine_up // cores,
        )
    raise TopologyError(failure)


def _fabric_levels(cluster: Cluster) -> dict[str, SpanLevel]:
    fab = cluster.fabric
    node = cluster.domain.node
    if fab is None or node.nic is None:
        return {}
    m = node.nics_per_accelerator
    nic_Bps = min(  # noqa: N806 - unit suffix (STYLE.md)
        node.nic.bandwidth_Bps, float(fab.switch.port_bandwidth.m)
    )
    sw_lat = float(fab.switch.latency.m)
    cable_lat = fab.link.latency_s if fab.link is not None else 0.0
    names = {1: ("fabric",), 2: ("leaf", "fabric"), 3: ("leaf", "pod", "fabric")}[fab.tiers]
    reduction = fab.switch.in_network_reduction if fab.sharp else ""
    out = {}
    for tier, name in enumerate(names, start=1):
        bw = nic_Bps * m / (fab.oversubscription if tier > 1 else 1.0)
        out[name] = SpanLevel(
            name=name,
            fanout=1,
            bandwidth_Bps=bw,
            latency_s=node.nic.latency_s + (2 * tier - 1) * sw_lat + 2 * (tier - 1) * cable_lat,
            in_network_reduction=reduction,
            links=m,
        )
    return out


def _add_fabric(
    b: _Builder, cluster: Cluster, plan: _FatTree, gpus: list[str], nics: list[list[str]]
) -> dict[str, np.ndarray]:
    """Add the fabric switches and cables; return the leaf/pod/rail of each rank."""
    fab = cluster.fabric
    node = cluster.domain.node
    if fab is None or node.nic is None:  # pragma: no cover - callers check
        raise TopologyError(f"cluster {cluster.name!r} has no fabric")
    sw = fab.switch
    sw_lat = float(sw.latency.m)
    cable = fab.link if fab.link is not None else sw.port_link()
    n = cluster.installed_gpus
    leaf = plan.leaf
    if plan.rails:
        rail = np.arange(n, dtype=np.int64) % node.accelerators
    else:
        rail = np.full(n, -1, dtype=np.int64)
    pod = leaf // plan.leaves_per_pod if plan.tiers == 3 else np.full(n, -1, dtype=np.int64)

    leaf_ids = [f"fabric/leaf{i}" for i in range(plan.leaves)]
    for i, lid in enumerate(leaf_ids):
        b.add(
            lid,
            {
                "kind": "switch",
                "spec": sw,
                "tier": "leaf",
                "index": i,
                "pod": i // plan.leaves_per_pod if plan.tiers == 3 else -1,
                "rail": i % plan.rails if plan.rails else -1,
            },
        )
    # NIC cables: half the NIC latency on each, plus the leaf's latency going in.
    nic = node.nic
    per_link = min(nic.bandwidth_Bps, float(sw.port_bandwidth.m))
    half = nic.latency_s / 2
    into_leaf = b.data(nic, 1, half + sw_lat, "scale_out", per_link)
    out_of_leaf = b.data(nic, 1, half, "scale_out", per_link)
    leaf_list = leaf.tolist()
    pod_list = pod.tolist()
    rail_list = rail.tolist()
    node_attrs = b.node
    for r, gid in enumerate(gpus):
        lid = leaf_ids[leaf_list[r]]
        a = node_attrs[gid]
        a["leaf"] = leaf_list[r]
        a["pod"] = pod_list[r]
        a["rail"] = rail_list[r]
        for nid in nics[r]:
            node_attrs[nid]["leaf"] = leaf_list[r]
            b.link(nid, lid, into_leaf, out_of_leaf)
    if plan.tiers >= 2:
        up = b.data(cable, plan.leaf_spine_links, cable.latency_s + sw_lat, "scale_out")
        spine_ids = [f"fabric/spine{j}" for j in range(plan.pods * plan.spines_per_pod)]
        for j, sid in enumerate(spine_ids):
            b.add(
                sid,
                {
                    "kind": "switch",
                    "spec": sw,
                    "tier": "spine",
                    "index": j,
                    "pod": j // plan.spines_per_pod if plan.tiers == 3 else -1,
                    "rail": -1,
                },
            )
        for p in range(plan.pods):
            pod_leaves = leaf_ids[p * plan.leaves_per_pod : (p + 1) * plan.leaves_per_pod]
            pod_spines = spine_ids[p * plan.spines_per_pod : (p + 1) * plan.spines_per_pod]
            for lid in pod_leaves:
                b.succ[lid].update(dict.fromkeys(pod_spines, up))
                b.pred[lid].update(dict.fromkeys(pod_spines, up))
            for sid in pod_spines:
                b.succ[sid].update(dict.fromkeys(pod_leaves, up))
                b.pred[sid].update(dict.fromkeys(pod_leaves, up))
        if plan.tiers == 3:
            c_up = b.data(cable, plan.spine_core_links, cable.latency_s + sw_lat, "scale_out")
            cpg = plan.cores_per_group
            core_ids = [f"fabric/core{c}" for c in range(plan.spines_per_pod * cpg)]
            for c, cid in enumerate(core_ids):
                b.add(
                    cid,
                    {
                        "kind": "switch",
                        "spec": sw,
                        "tier": "core",
                        "index": c,
                        "pod": -1,
                        "rail": -1,
                    },
                )
            for g in range(plan.spines_per_pod):
                group = core_ids[g * cpg : (g + 1) * cpg]
                spines = spine_ids[g :: plan.spines_per_pod]
                for sid in spines:
                    b.succ[sid].update(dict.fromkeys(group, c_up))
                    b.pred[sid].update(dict.fromkeys(group, c_up))
                for cid in group:
                    b.succ[cid].update(dict.fromkeys(spines, c_up))
                    b.pred[cid].update(dict.fromkeys(spines, c_up))
    return {"leaf": leaf, "pod": pod}


# ---------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------


def _finish(
    b: _Builder,
    obj: Any,
    *,
    kind: str,
    gpus: list[str],
    keys: dict[str, np.ndarray],
    levels: dict[str, SpanLevel | None],
    relay: frozenset[str],
) -> nx.DiGraph:
    g = b.graph()
    kept = {k: v for k, v in levels.items() if v is not None}
    h = Hierarchy(
        kind=kind,
        name=obj.name,
        devices=tuple(gpus),
        index={gid: r for r, gid in enumerate(gpus)},
        keys={k: np.asarray(v, dtype=np.int64) for k, v in keys.items() if k in kept},
        levels=kept,
    )
    g.graph.update(name=obj.name, kind=kind, spec=obj, relay_kinds=relay)
    g.graph[HIERARCHY_KEY] = h
    return g


def to_graph(obj: Superchip | Node | ScaleUpDomain | Cluster) -> nx.DiGraph:
    """Build the directed graph of a part: devices, switches and every link.

    Parameters
    ----------
    obj
        A :class:`~blackwell_model.hardware.Superchip` (CPUs and accelerators
        over NVLink-C2C), :class:`~blackwell_model.hardware.Node` (adds host
        links and one node per NIC port), :class:`~blackwell_model.hardware.ScaleUpDomain`
        (adds the scale-up network: NVLink switches, a full mesh or a torus)
        or :class:`~blackwell_model.hardware.Cluster` (adds the scale-out
        fat-tree).

    Returns
    -------
    networkx.DiGraph
        Node ids, attributes and edge attributes as described in
        :mod:`blackwell_model.topology.build`.  ``G.graph`` holds ``name``,
        ``kind`` (``"superchip"``, ``"node"``, ``"domain"``, ``"cluster"``),
        ``spec`` (``obj``), ``relay_kinds`` (node kinds that forward traffic)
        and ``hierarchy`` (the index that :func:`group_span` reads).

    Raises
    ------
    TopologyError
        If the parts cannot be wired as given: a switch with too few ports for
        its share of links, a mesh or torus with too few links per
        accelerator, or a fabric whose radix and tiers cannot reach every
        leaf (the message names the part, the expected and the given numbers).

    Notes
    -----
    The scale-out fabric is a folded-Clos fat-tree built from
    ``cluster.fabric``: each leaf splits its ``k`` ports into
    ``d = floor(k r / (1 + r))`` down ports (all NIC ports of an accelerator
    go to the same leaf) and ``ceil(d / r)`` up ports, ``r`` being the
    oversubscription.  Rail-optimised fabrics give accelerator ``i`` of every
    node to rail ``i``: nodes form blocks with one leaf per rail; otherwise
    accelerators fill leaves in rank order.  Whole domains are kept under one
    leaf block (or a run of leaves of their own) and whole blocks in one pod
    when the radix allows, so that the hierarchy nests; else leaves are packed.
    Two tiers: leaves are joined by the fewest spines that give every leaf the
    same number of parallel links to each spine.  Three tiers: pods of up to
    ``k / 2`` leaves with their own spines; spine ``j`` of every pod links to
    core group ``j``.  Upper tiers are non-blocking.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> from blackwell_model.topology import to_graph, path_bandwidth
    >>> g = to_graph(bm.catalog.system("GB200-NVL72"))
    >>> sum(1 for _, k in g.nodes(data="kind") if k == "gpu")
    72
    >>> path_bandwidth(g, "tray0/gpu0", "tray17/gpu3") / 1e9
    900.0
    """
    b = _Builder()
    relay = RELAY_KINDS
    if isinstance(obj, Superchip):
        gpus = _add_superchip(b, obj)
        sc_level = _superchip_level(obj, None)
        ranks = np.arange(len(gpus))
        return _finish(
            b,
            obj,
            kind="superchip",
            gpus=gpus,
            keys={"superchip": ranks * 0},
            levels={"superchip": sc_level},
            relay=relay,
        )
    if isinstance(obj, Node):
        gpus, _ = _add_tray(b, obj, "", domain=0, tray=0, rank0=0)
        sc = obj.superchip
        ranks = np.arange(len(gpus))
        key = ranks // sc.accelerators if sc is not None else ranks
        return _finish(
            b,
            obj,
            kind="node",
            gpus=gpus,
            keys={"superchip": key},
            levels={"superchip": _superchip_level(sc, None)},
            relay=relay,
        )
    if isinstance(obj, ScaleUpDomain):
        dom = obj
        if dom.topology is DomainTopology.TORUS:
            relay = relay | {"gpu"}
        gpus, _ = _add_domain(b, dom, "", 0, 0)
        su = _scale_up_level(dom)
        sc = dom.node.superchip
        ranks = np.arange(len(gpus))
        keys = {
            "superchip": ranks // sc.accelerators if sc is not None else ranks,
            "scale_up": ranks * 0,
        }
        return _finish(
            b,
            dom,
            kind="domain",
            gpus=gpus,
            keys=keys,
            levels={"superchip": _superchip_level(sc, su), "scale_up": su},
            relay=relay,
        )
    if isinstance(obj, Cluster):
        return _cluster_graph(b, obj)
    raise TopologyError(
        "to_graph needs a Superchip, Node, ScaleUpDomain or Cluster, got "
        f"{type(obj).__name__} {obj!r:.80}"
    )


def _cluster_index(
    cluster: Cluster, plan: _FatTree | None
) -> tuple[dict[str, np.ndarray], dict[str, SpanLevel | None]]:
    """Hierarchy keys (by rank) and level templates of a cluster."""
    dom = cluster.domain
    ranks = np.arange(cluster.installed_gpus, dtype=np.int64)
    sc = dom.node.superchip
    keys: dict[str, np.ndarray] = {
        "superchip": ranks // sc.accelerators if sc is not None else ranks,
        "scale_up": ranks // dom.gpus,
    }
    su = _scale_up_level(dom)
    levels: dict[str, SpanLevel | None] = {"superchip": _superchip_level(sc, su), "scale_up": su}
    if plan is not None:
        fabric_levels = _fabric_levels(cluster)
        levels.update(fabric_levels)
        if "leaf" in fabric_levels:
            keys["leaf"] = plan.leaf
        if "pod" in fabric_levels:
            keys["pod"] = plan.leaf // plan.leaves_per_pod
        keys["fabric"] = ranks * 0
    return keys, levels


def _cluster_graph(b: _Builder, cluster: Cluster) -> nx.DiGraph:
    dom = cluster.domain
    relay = RELAY_KINDS | ({"gpu"} if dom.topology is DomainTopology.TORUS else set())
    plan = _plan_fat_tree(cluster) if cluster.fabric is not None else None
    per = dom.gpus
    gpus: list[str] = []
    nics: list[list[str]] = []
    for d in range(cluster.domains):
        g, n = _add_domain(b, dom, f"d{d}/", d, d * per)
        gpus.extend(g)
        nics.extend(n)
    if plan is not None:
        _add_fabric(b, cluster, plan, gpus, nics)
    keys, levels = _cluster_index(cluster, plan)
    return _finish(
        b, cluster, kind="cluster", gpus=gpus, keys=keys, levels=levels, relay=frozenset(relay)
    )


def cluster_spans(obj: Superchip | Node | ScaleUpDomain | Cluster) -> Hierarchy:
    """The hierarchy index of a part, without building its graph.

    Layout searches ask for thousands of group spans and never need a path:
    this gives the same answers as :func:`group_span` on ``to_graph(obj)``
    (same device ids and ranks, same levels) in a fraction of the time and
    memory (a 100,000-GPU cluster: ~0.05 s instead of ~3 s).

    Parameters
    ----------
    obj
        A cluster or scale-up domain (a superchip or node is small: its graph
        is built).

    Returns
    -------
    Hierarchy
        Use ``.span(devices)`` for a :class:`GroupSpan`, ``.bisection()``
        for the bisection bandwidth [B/s], ``.devices`` for the ids.

    Raises
    ------
    TopologyError
        As :func:`to_graph`, when the fabric cannot be wired.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> h = bm.topology.cluster_spans(bm.catalog.cluster("GB200-NVL72", gpus=4096))
    >>> h.span(range(72)).level
    'scale_up'
    """
    if isinstance(obj, Cluster):
        plan = _plan_fat_tree(obj) if obj.fabric is not None else None
        keys, levels = _cluster_index(obj, plan)
        dom = obj.domain
        gpn = dom.node.accelerators
        ids = [
            f"d{d}/tray{t}/gpu{g}"
            for d in range(obj.domains)
            for t in range(dom.nodes)
            for g in range(gpn)
        ]
        kept = {k: v for k, v in levels.items() if v is not None}
        return Hierarchy(
            kind="cluster",
            name=obj.name,
            devices=tuple(ids),
            index={gid: r for r, gid in enumerate(ids)},
            keys={k: np.asarray(v, dtype=np.int64) for k, v in keys.items() if k in kept},
            levels=kept,
        )
    if isinstance(obj, Superchip | Node | ScaleUpDomain):
        return hierarchy_of(to_graph(obj))
    raise TopologyError(
        "cluster_spans needs a Superchip, Node, ScaleUpDomain or Cluster, got "
        f"{type(obj).__name__} {obj!r:.80}"
    )


def devices(graph: nx.DiGraph) -> tuple[str, ...]:
    """Accelerator ids of a graph built by :func:`to_graph`, in rank order.

    Rank ``r`` is domain-major: ``domain * gpus_per_domain + tray *
    gpus_per_tray + local``.
    """
    return hierarchy_of(graph).devices


def _require_nodes(graph: nx.DiGraph, *nodes: str) -> None:
    for n in nodes:
        if n not in graph:
            raise unknown_node(graph, n)


def add_link(
    graph: nx.DiGraph,
    u: str,
    v: str,
    spec: LinkSpec | None = None,
    *,
    links: int = 1,
    both_directions: bool = True,
    plane: str | None = None,
) -> None:
    """Add ``links`` physical links between two existing nodes (in place).

    If the edge exists, its ``links`` and ``bandwidth`` grow (``spec``
    defaults to the edge's own); otherwise a new edge is made with the full
    latency of ``spec``.  The edge's attribute dict is replaced, never
    mutated, so other edges of the same type are unaffected.

    Parameters
    ----------
    graph
        A graph from :func:`to_graph` (or any DiGraph using its conventions).
    u, v
        Existing node ids.
    spec
        The link; required when there is no edge yet.
    links
        Number of links to add (>= 1).
    both_directions
        Also add the ``v -> u`` direction.
    plane
        Plane of a new edge; defaults to the plane of ``spec``'s kind.

    Raises
    ------
    TopologyError
        If a node is not in the graph, ``links`` < 1, or ``spec`` is missing
        for a new edge.
    """
    if isinstance(links, bool) or not isinstance(links, int) or links < 1:
        raise TopologyError(f"links must be an integer >= 1, got {links!r}")
    _require_nodes(graph, u, v)
    pairs = [(u, v), (v, u)] if both_directions else [(u, v)]
    for a, c in pairs:
        old = graph._succ[a].get(c)
        if old is None:
            if spec is None:
                raise TopologyError(f"there is no edge {a!r} -> {c!r}; give the LinkSpec to add")
            new = EdgeData(
                bandwidth=links * spec.bandwidth_Bps,
                latency=spec.latency_s,
                links=links,
                spec=spec,
                plane=plane or _KIND_PLANE.get(spec.kind, "other"),
            )
        else:
            s = spec if spec is not None else old.get("spec")
            per_link = (
                s.bandwidth_Bps if isinstance(s, LinkSpec) else old["bandwidth"] / old["links"]
            )
            new = EdgeData(
                {
                    **old,
                    "bandwidth": old["bandwidth"] + links * per_link,
                    "links": old.get("links", 1) + links,
                }
            )
            graph.remove_edge(a, c)
        graph.add_edge(a, c)
        graph._succ[a][c] = new
        graph._pred[c][a] = new


def remove_link(
    graph: nx.DiGraph, u: str, v: str, *, links: int = 1, both_directions: bool = True
) -> None:
    """Remove ``links`` physical links between ``u`` and ``v`` (in place).

    The edge loses ``links`` links and their share of its bandwidth; an edge
    left with no link is removed.

    Raises
    ------
    TopologyError
        If a node is not in the graph, there is no such edge, or ``links`` is
        not between 1 and the edge's link count.
    """
    if isinstance(links, bool) or not isinstance(links, int) or links < 1:
        raise TopologyError(f"links must be an integer >= 1, got {links!r}")
    _require_nodes(graph, u, v)
    pairs = [(u, v), (v, u)] if both_directions else [(u, v)]
    for a, c in pairs:
        old = graph._succ[a].get(c)
        if old is None:
            raise TopologyError(f"there is no edge {a!r} -> {c!r} to remove a link from")
        have = int(old.get("links", 1))
        if links > have:
            raise TopologyError(f"edge {a!r} -> {c!r} has {have} link(s), cannot remove {links}")
        graph.remove_edge(a, c)
        if links < have:
            new = EdgeData(
                {
                    **old,
                    "bandwidth": old["bandwidth"] * (have - links) / have,
                    "links": have - links,
                }
            )
            graph.add_edge(a, c)
            graph._succ[a][c] = new
            graph._pred[c][a] = new
