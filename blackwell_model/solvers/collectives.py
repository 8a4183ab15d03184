"""Collective communication costs: alpha-beta models of NCCL's algorithms.

Two layers, like the rest of the solvers:

* **Span level** (floats in, floats out): :func:`collective_time` and
  :func:`collective` take the :class:`~blackwell_model.topology.span.GroupSpan`
  of a device group (the levels of the hierarchy it crosses, with per-device
  bandwidth and latency) and a message size in bytes, as a float or a numpy
  array.  A training-layout search computes one span per group shape and calls
  these for thousands of sizes at once.
* **Graph level** (Quantities in, a result out): :func:`all_reduce`,
  :func:`all_gather`, :func:`reduce_scatter`, :func:`all_to_all`,
  :func:`broadcast` and :func:`send_recv` take the topology graph, a group of
  device ids and a size as a Quantity or a string such as ``"1 GiB"``; they
  compute the span with :func:`blackwell_model.topology.group_span` and return
  a :class:`CollectiveResult`.

Every algorithm costs

.. math:: t(S) = \\alpha + S \\max_\\ell \\frac{b_\\ell}{B_\\ell\\, e_\\ell}

where :math:`b_\\ell` is the number of bytes each device sends across level
:math:`\\ell` per byte of message, :math:`B_\\ell` the level's per-device
bandwidth and :math:`e_\\ell` the bus efficiency of :class:`CollectiveEfficiency`.
Levels are pipelined (NCCL streams chunks through all of them at once), so the
slowest level sets the bandwidth term.  ``algorithm="auto"`` takes the fastest
applicable algorithm, as NCCL's tuner does.  See ``docs/collectives.rst`` for
the per-algorithm formulas.

Size conventions are those of nccl-tests: ``S`` is the per-device buffer of
all-reduce and broadcast, the **total output** of all-gather, the **total
input** of reduce-scatter and the per-device send buffer of all-to-all.
Algorithm bandwidth is ``S / t`` and bus bandwidth is algorithm bandwidth times
:func:`bus_factor`.

Examples
--------
>>> from blackwell_model.topology.span import GroupSpan, SpanLevel
>>> hgx = GroupSpan(devices=8, levels=(SpanLevel(name="scale_up", fanout=8,
...     bandwidth_Bps=450e9, latency_s=0.6e-6, in_network_reduction="NVLS", links=18),))
>>> r = collective("all_reduce", hgx, 2**30, algorithm="ring")
>>> round(r.busbw_Bps / 1e9)
368
>>> collective("all_reduce", hgx, 2**30).algorithm
'nvls'
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Mapping, Sequence
from typing import Any, Final, overload

import attrs
import numpy as np
import numpy.typing as npt
import pint

from ..errors import SpecError, UnknownNameError
from ..topology.span import GroupSpan
from ..units import Q_, in_range, parse_quantity
from ._collective_model import SCALE_UP_LEVELS, Collective, Plan, build_plans

__all__ = [
    "ALGORITHMS",
    "BLACKWELL",
    "DEFAULT_EFFICIENCY",
    "EFFICIENCY_SOURCES",
    "HOPPER",
    "SCALE_UP_LEVELS",
    "Collective",
    "CollectiveEfficiency",
    "CollectiveResult",
    "all_gather",
    "all_reduce",
    "all_to_all",
    "applicable_algorithms",
    "broadcast",
    "bus_factor",
    "collective",
    "collective_time",
    "efficiency_for",
    "reduce_scatter",
    "send_recv",
]

#: Every algorithm name, and what it is.
ALGORITHMS: Final[Mapping[str, str]] = types.MappingProxyType(
    {
        "auto": "the fastest applicable algorithm (NCCL's tuner)",
        "ring": "ring through the whole group, ordered by hierarchy (broadcast: pipelined chain)",
        "tree": "all-reduce: chain inside the scale-up domain, double binary tree across it",
        "hierarchical": "ring inside the domain, ring across domains on 1/k of the data",
        "nvls": "NVLink SHARP in-switch reduction inside the domain (+ ring across)",
        "nvls_tree": "all-reduce: NVLS inside the domain, double binary tree across",
        "sharp": "all-reduce: ring inside the domain, InfiniBand SHARP reduction across",
        "nvls_sharp": "all-reduce: NVLS inside the domain, InfiniBand SHARP across",
        "direct": "all-to-all and send/recv: every device sends straight to its peers",
    }
)

_ALLOWED: Final[dict[Collective, tuple[str, ...]]] = {
    Collective.ALL_REDUCE: (
        "ring",
        "tree",
        "hierarchical",
        "nvls",
        "nvls_tree",
        "sharp",
        "nvls_sharp",
    ),
    Collective.ALL_GATHER: ("ring", "hierarchical", "nvls"),
    Collective.REDUCE_SCATTER: ("ring", "hierarchical", "nvls"),
    Collective.BROADCAST: ("ring",),
    Collective.ALL_TO_ALL: ("direct",),
    Collective.SEND_RECV: ("direct",),
}

_OPS: Final[dict[Any, Collective]] = {
    **{c.value: c for c in Collective},
    **{c: c for c in Collective},
}

_unit_fraction = in_range(1e-6, 1.0)


def _latency(inst: Any, attribute: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise SpecError(f"{attribute.name} must be a latency in [0, 1] s, got {value!r}")


def _hop_factor(inst: Any, attribute: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
    if not (math.isfinite(value) and 1.0 <= value <= 100.0):
        raise SpecError(f"{attribute.name} must be a factor in [1, 100], got {value!r}")


def _frac() -> Any:
    return attrs.field(converter=float, validator=_unit_fraction)


def _lat() -> Any:
    return attrs.field(converter=float, validator=_latency)


@attrs.frozen(kw_only=True)
class CollectiveEfficiency:
    """Achievable fractions of peak and latency constants of the collective model.

    Bus efficiencies multiply a level's per-direction bandwidth; the factors of
    tree, NVLS and SHARP multiply the bus efficiency of the level they use.
    Defaults (:data:`HOPPER`) and the Blackwell preset (:data:`BLACKWELL`) are
    documented with their sources in :data:`EFFICIENCY_SOURCES`.

    Parameters
    ----------
    scale_up
        Bus efficiency of scale-up levels (``superchip``, ``scale_up``:
        NVLink through NVSwitch) [fraction of link rate].
    network
        Bus efficiency of scale-out levels (``leaf``, ``pod``, ``fabric``)
        [fraction of NIC rate].
    tree
        Extra factor of the double-binary-tree algorithm [fraction].
    nvls
        Extra factor of NVLink SHARP (in-switch reduction) [fraction].
    sharp
        Extra factor of InfiniBand SHARP (in-network reduction) [fraction].
    ring_latency_s
        Base latency of ring-family algorithms and point-to-point [s].
    tree_latency_s
        Base latency of the tree algorithm [s].
    nvls_latency_s
        Latency of one NVLS reduction through the switch [s].
    sharp_latency_s
        Latency of one SHARP reduction through the fabric [s].
    multi_node_hop_factor
        Multiplier of scale-up hop latencies when the group also crosses the
        network [dimensionless, >= 1].
    all_to_all
        Extra factor on the scale-up bus efficiency for all-to-all traffic
        [fraction]: many concurrent peer streams through the NVLink switches.
    all_to_all_peer_latency_s
        Latency added per peer of an all-to-all [s]: NCCL issues one send/receive
        pair per peer.
    name
        Label shown in reprs and docs.

    Examples
    --------
    >>> import attrs
    >>> slow_net = attrs.evolve(HOPPER, network=0.7, name="congested fabric")
    >>> slow_net.network
    0.7
    """

    scale_up: float = _frac()
    network: float = _frac()
    tree: float = _frac()
    nvls: float = _frac()
    sharp: float = _frac()
    ring_latency_s: float = _lat()
    tree_latency_s: float = _lat()
    nvls_latency_s: float = _lat()
    sharp_latency_s: float = _lat()
    multi_node_hop_factor: float = attrs.field(converter=float, validator=_hop_factor)
    all_to_all: float = attrs.field(default=1.0, converter=float, validator=_unit_fraction)
    all_to_all_peer_latency_s: float = attrs.field(
        default=1.0e-6, converter=float, validator=_latency
    )
    name: str = ""


_NCCL_LAT = dict(
    ring_latency_s=6.6e-6,
    tree_latency_s=6.8e-6,
    nvls_latency_s=25e-6,
    sharp_latency_s=30e-6,
    multi_node_hop_factor=1.8,
)

#: Hopper / NVLink 4 / NDR InfiniBand calibration (the default).
HOPPER: Final[CollectiveEfficiency] = CollectiveEfficiency(
    scale_up=0.82, network=0.92, tree=0.92, nvls=0.85, sharp=0.85, name="hopper", **_NCCL_LAT
)
#: Blackwell / NVLink 5 calibration.
BLACKWELL: Final[CollectiveEfficiency] = CollectiveEfficiency(
    scale_up=0.80, network=0.92, tree=0.92, nvls=0.60, sharp=0.85, all_to_all=0.70,
    name="blackwell", **_NCCL_LAT,
)  # fmt: skip
#: What ``efficiency=None`` means at span level.
DEFAULT_EFFICIENCY: Final[CollectiveEfficiency] = HOPPER

#: Source of every default (field -> where the number comes from).
EFFICIENCY_SOURCES: Final[Mapping[str, str]] = types.MappingProxyType(
    {
        "scale_up": (
            "Hopper 0.82: NCCL models 20.6 GB/s effective per 25 GB/s NVLink4 link "
            "(topo.h SM90_NVLINK_BW, 0.824); 8x H100 ring all-reduce measures 365-370 GB/s "
            "busbw on 450 GB/s (NVIDIA/nccl#1455, NVIDIA/nccl-tests#212). Blackwell 0.80: "
            "NCCL SM100_NVLINK_BW 40.1 of 50 GB/s per NVLink5 link"
        ),
        "network": (
            "0.92: 2 x 8 B200 over 8x 400G NDR all-reduce measures 690 GB/s busbw "
            "(coreweave/nccl-tests#92), i.e. 46 GB/s per 50 GB/s NIC; single-NIC busbw "
            "on 400G is 40-48 GB/s"
        ),
        "tree": "0.92: NCCL tuning.cc, tree busBw *= 0.92",
        "nvls": (
            "Hopper 0.85: NCCL tuning.cc nvlsEfficiency (SM90); gives 488 GB/s busbw for "
            "8x H100 vs ~480 measured (NVIDIA/nccl-tests#212, NVIDIA/nccl#1455). Blackwell "
            "0.60: calibrated to 835-847 GB/s busbw of a 72-GPU GB200 NVL72 all-reduce at "
            "4-8 GiB (coreweave/nccl-tests#43); NCCL's own model uses 0.74"
        ),
        "sharp": "0.85: NCCL tuning.cc CollNet busBw *= 0.85 on SM90+",
        "ring_latency_s": "6.6 us: NCCL 2.30.7 tuning.cc baseLat Ring/LL",
        "tree_latency_s": "6.8 us: NCCL 2.30.7 tuning.cc baseLat Tree/LL",
        "nvls_latency_s": "25 us: NCCL 2.30.7 tuning.cc hwLat NVLink NVLS/Simple",
        "sharp_latency_s": "30 us: NCCL 2.30.7 tuning.cc hwLat NET CollNet/Simple (30-31 us)",
        "multi_node_hop_factor": "1.8: NCCL tuning.cc, intraLat *= 1.8 for LL when nNodes > 1",
        "all_to_all": (
            "Hopper 1.0: NCCL all-to-all on 8 NVLink4 GPUs measures 383 GB/s busbw at 1 GB "
            "(rapidsai/rapidsmpf#590), the scale-up efficiency of the other collectives; "
            "Blackwell 0.70: expert-parallel dispatch/combine inside a GB200 NVL72 reaches "
            "479-550 GB/s (BF16, 8-36 ranks) of 900 GB/s per direction "
            "(DeepEP hybrid-ep docs/README_Hybrid-EP.md @ 94a9f8f), 0.53-0.61 of the link "
            "= 0.70 x the 0.80 scale-up efficiency"
        ),
        "all_to_all_peer_latency_s": (
            "1 us per peer: DeepEP's low-latency kernels (128 tokens, hidden 7168, top-8, "
            "H800) take 77 -> 194 us to dispatch and 114 -> 360 us to combine from 8 to 256 "
            "peers, about 0.5 and 1.0 us per added peer (deepseek-ai/DeepEP docs/legacy.md "
            "@ dd758caf)"
        ),
    }
)


def efficiency_for(part: Any) -> CollectiveEfficiency:
    """The calibrated efficiency preset for a part's NVLink generation.

    Parameters
    ----------
    part
        An :class:`~blackwell_model.hardware.Accelerator`, a
        :class:`~blackwell_model.hardware.ScaleUpDomain` or
        :class:`~blackwell_model.hardware.Cluster` (its scale-up link is
        read), or a :class:`~blackwell_model.hardware.LinkSpec`.

    Returns
    -------
    CollectiveEfficiency
        :data:`BLACKWELL` for NVLink 5 (or later) parts, else :data:`HOPPER`.
        The choice follows the link's *name*, not its bandwidth, so a what-if
        on bandwidth never switches presets.
    """
    link = part
    for attr in ("domain", "link", "scale_up_link"):
        inner = getattr(link, attr, None)
        if inner is not None and not isinstance(inner, str | int | float):
            link = inner
    name = str(getattr(link, "name", "")).lower().replace("-", "").replace(" ", "")
    for gen in ("nvlink5", "nvlink6", "nvlink7"):
        if gen in name:
            return BLACKWELL
    return HOPPER


def bus_factor(op: Collective | str, n: int) -> float:
    """nccl-tests' bus-bandwidth factor: busbw = algbw x factor.

    ``2(n-1)/n`` for all-reduce, ``(n-1)/n`` for all-gather, reduce-scatter
    and all-to-all, ``1`` for broadcast and send/recv.
    """
    c = _op(op)
    if c is Collective.ALL_REDUCE:
        return 2.0 * (n - 1) / n
    if c in (Collective.ALL_GATHER, Collective.REDUCE_SCATTER, Collective.ALL_TO_ALL):
        return (n - 1) / n
    return 1.0


def _op(op: Collective | str) -> Collective:
    try:
        return _OPS[op]
    except (KeyError, TypeError):
        raise UnknownNameError("collective", str(op), [c.value for c in Collective]) from None


@functools.lru_cache(maxsize=4096)
def _plans(op: Collective, span: GroupSpan, eff: CollectiveEfficiency) -> tuple[Plan, ...]:
    return build_plans(op, span, eff)


def _check_eff(efficiency: Any) -> CollectiveEfficiency:
    if efficiency is None:
        return DEFAULT_EFFICIENCY
    if not isinstance(efficiency, CollectiveEfficiency):
        raise TypeError(
            f"efficiency must be a CollectiveEfficiency or None, got {type(efficiency).__name__}"
        )
    return efficiency


def _select(
    op: Collective, span: GroupSpan, algorithm: str, eff: CollectiveEfficiency
) -> tuple[Plan, ...]:
    if not isinstance(span, GroupSpan):
        raise TypeError(f"span must be a GroupSpan, got {type(span).__name__}")
    plans = _plans(op, span, eff)
    if algorithm == "auto":
        return plans
    for p in plans:
        if p.algorithm == algorithm:
            return (p,)
    if algorithm not in ALGORITHMS:
        raise UnknownNameError("algorithm", str(algorithm), list(ALGORITHMS))
    valid = ", ".join(repr(p.algorithm) for p in plans)
    if algorithm not in _ALLOWED[op]:
        why = f"{op.value} has no {algorithm!r} algorithm"
    elif algorithm.startswith("nvls"):
        why = "no scale-up level of the span has in-network reduction (NVLS)"
    elif "sharp" in algorithm:
        why = "the span crosses no network level, or one without in-network reduction (SHARP)"
    else:
        why = "the span does not cross both the scale-up domain and the network"
    raise SpecError(
        f"algorithm {algorithm!r} does not apply to {op.value} on this span ({why}); "
        f"applicable: {valid}, or 'auto'"
    )


def _check_scalar_size(size: float, name: str = "size_bytes") -> float:
    s = float(size)
    if not (math.isfinite(s) and s >= 0.0):
        raise SpecError(f"{name} must be a finite number of bytes >= 0, got {size!r}")
    return s


def _check_array(sizes: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(sizes, dtype=float)
    bad = ~(np.isfinite(arr) & (arr >= 0.0))
    if bad.any():
        first = arr[bad].flat[0]
        raise SpecError(
            f"size_bytes must be finite numbers of bytes >= 0; {int(bad.sum())} are not, "
            f"e.g. {first!r}"
        )
    return arr


def applicable_algorithms(
    op: Collective | str, span: GroupSpan, *, efficiency: CollectiveEfficiency | None = None
) -> tuple[str, ...]:
    """Names of the algorithms that apply to ``op`` on ``span``, in evaluation order."""
    return tuple(p.algorithm for p in _plans(_op(op), span, _check_eff(efficiency)))


@overload
def collective_time(
    op: Collective | str,
    span: GroupSpan,
    size_bytes: float,
    *,
    algorithm: str = ...,
    efficiency: CollectiveEfficiency | None = ...,
) -> float: ...
@overload
def collective_time(
    op: Collective | str,
    span: GroupSpan,
    size_bytes: np.ndarray,
    *,
    algorithm: str = ...,
    efficiency: CollectiveEfficiency | None = ...,
) -> np.ndarray: ...


def collective_time(
    op: Collective | str,
    span: GroupSpan,
    size_bytes: float | npt.ArrayLike,
    *,
    algorithm: str = "auto",
    efficiency: CollectiveEfficiency | None = None,
) -> float | np.ndarray:
    """Time of a collective on a device group's span [s]; floats or arrays.

    Parameters
    ----------
    op
        :class:`Collective` or its name (``"all_reduce"``, ``"all_gather"``,
        ``"reduce_scatter"``, ``"all_to_all"``, ``"broadcast"``,
        ``"send_recv"``).
    span
        The group's :class:`~blackwell_model.topology.span.GroupSpan`
        (at least 2 devices).
    size_bytes
        Message size ``S`` in nccl-tests' convention [B]: a float, or an array
        of any shape (evaluated element-wise).
    algorithm
        A name of :data:`ALGORITHMS`; ``"auto"`` takes the fastest applicable
        one for each size.
    efficiency
        :class:`CollectiveEfficiency`; ``None`` means :data:`DEFAULT_EFFICIENCY`.

    Returns
    -------
    float or numpy.ndarray
        Time [s]: a float for a scalar size, else an array of the sizes' shape.

    Raises
    ------
    SpecError
        Negative or non-finite size, a span of fewer than 2 devices, or an
        algorithm that does not apply to the span.
    UnknownNameError
        Unknown collective or algorithm name (the message lists valid ones).
    """
    plans = _select(_op(op), span, algorithm, _check_eff(efficiency))
    if isinstance(size_bytes, int | float):
        s = _check_scalar_size(size_bytes)
        return min(p.alpha_s + p.beta_s_per_B * s for p in plans)
    arr = _check_array(size_bytes)
    if arr.ndim == 0:
        s = float(arr)
        return min(p.alpha_s + p.beta_s_per_B * s for p in plans)
    best = plans[0].alpha_s + plans[0].beta_s_per_B * arr
    for p in plans[1:]:
        np.minimum(best, p.alpha_s + p.beta_s_per_B * arr, out=best)
    return best


def _mapping(value: Mapping[str, float]) -> Mapping[str, float]:
    return types.MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class CollectiveResult:
    """What one collective costs, and why.

    Parameters
    ----------
    op
        Collective name (``"all_reduce"`` ...).
    algorithm
        Algorithm that was evaluated (the fastest one for ``"auto"``).
    group_size
        Devices in the group.
    size_bytes
        Message size ``S`` in nccl-tests' convention [B].
    time_s
        Predicted time [s].
    latency_s
        The size-independent (alpha) part of ``time_s`` [s].
    algbw_Bps
        Algorithm bandwidth ``S / time`` [B/s].
    busbw_Bps
        Bus bandwidth, ``algbw x`` :func:`bus_factor` [B/s].
    bytes_per_level
        Level name -> bytes each device sends across that level, per
        direction [B] (read-only mapping).
    """

    op: str
    algorithm: str
    group_size: int
    size_bytes: float
    time_s: float
    latency_s: float
    algbw_Bps: float
    busbw_Bps: float
    bytes_per_level: Mapping[str, float] = attrs.field(converter=_mapping, hash=False)

    @property
    def time(self) -> pint.Quantity:
        """Predicted time [s]."""
        return Q_(self.time_s, "s")

    @property
    def size(self) -> pint.Quantity:
        """Message size [B]."""
        return Q_(self.size_bytes, "B")

    @property
    def algbw(self) -> pint.Quantity:
        """Algorithm bandwidth [B/s]."""
        return Q_(self.algbw_Bps, "B/s")

    @property
    def busbw(self) -> pint.Quantity:
        """Bus bandwidth [B/s]."""
        return Q_(self.busbw_Bps, "B/s")


def collective(
    op: Collective | str,
    span: GroupSpan,
    size_bytes: float,
    *,
    algorithm: str = "auto",
    efficiency: CollectiveEfficiency | None = None,
) -> CollectiveResult:
    """Cost of one collective on a span, with its breakdown.

    Parameters are those of :func:`collective_time`, with a scalar
    ``size_bytes`` [B].

    Returns
    -------
    CollectiveResult
        Time, algorithm, algorithm and bus bandwidth, bytes on each level.
    """
    c = _op(op)
    plans = _select(c, span, algorithm, _check_eff(efficiency))
    s = _check_scalar_size(size_bytes)
    best = min(plans, key=lambda p: p.alpha_s + p.beta_s_per_B * s)
    t = best.alpha_s + best.beta_s_per_B * s
    n = span.devices
    algbw = s / t if t > 0 else 0.0
    return CollectiveResult(
        op=c.value,
        algorithm=best.algorithm,
        group_size=n,
        size_bytes=s,
        time_s=t,
        latency_s=best.alpha_s,
        algbw_Bps=algbw,
        busbw_Bps=algbw * bus_factor(c, n),
        bytes_per_level={name: coef * s for name, coef in best.coefs},
    )


# --------------------------------------------------------------------------- graph level


def _infer_efficiency(graph: Any, device: str) -> CollectiveEfficiency:
    """Preset for the accelerator stored on a device node, else the default."""
    from ..hardware import Accelerator, Cluster

    cluster = getattr(graph, "graph", {}).get("cluster")
    if isinstance(cluster, Cluster):
        return efficiency_for(cluster.accelerator)
    try:
        data = graph.nodes[device]
    except (KeyError, AttributeError, TypeError):
        return DEFAULT_EFFICIENCY
    for value in data.values():
        if isinstance(value, Accelerator):
            return efficiency_for(value)
    return DEFAULT_EFFICIENCY


def _graph_collective(
    op: Collective,
    graph: Any,
    group: Sequence[str],
    size: pint.Quantity | str,
    *,
    algorithm: str,
    efficiency: CollectiveEfficiency | None,
) -> CollectiveResult:
    from ..topology import group_span

    if isinstance(group, str):
        raise TypeError(f"group must be a sequence of device ids, got the string {group!r}")
    devices = list(group)
    if len(devices) < 2:
        raise SpecError(
            f"group must hold at least 2 devices for {op.value}, got {len(devices)}: {devices!r}"
        )
    size_bytes = parse_quantity(size, "B", name="size").m
    _check_scalar_size(size_bytes, "size")
    span = group_span(graph, devices)
    eff = _infer_efficiency(graph, devices[0]) if efficiency is None else efficiency
    return collective(op, span, size_bytes, algorithm=algorithm, efficiency=eff)


_GRAPH_DOC = """{summary}

    Parameters
    ----------
    graph
        Topology graph from :func:`blackwell_model.topology.to_graph`.
    group
        Device node ids (at least 2).
    size
        {size} as a Quantity or a string such as ``"1 GiB"`` [B]; bare numbers
        are refused (use :func:`collective` with floats in bytes instead).
    algorithm
        A name of :data:`ALGORITHMS` or ``"auto"``.
    efficiency
        :class:`CollectiveEfficiency`; ``None`` picks the preset of the
        accelerator found on the graph (:func:`efficiency_for`), else
        :data:`DEFAULT_EFFICIENCY`.

    Returns
    -------
    CollectiveResult

    Raises
    ------
    TopologyError
        A device is not in the graph.
    SpecError
        A group of fewer than 2 devices, a negative or non-finite size, or an
        algorithm that does not apply.
    UnitMismatchError
        ``size`` is not an amount of data.
    """


def all_reduce(
    graph: Any,
    group: Sequence[str],
    size: pint.Quantity | str,
    *,
    algorithm: str = "auto",
    efficiency: CollectiveEfficiency | None = None,
) -> CollectiveResult:
    return _graph_collective(
        Collective.ALL_REDUCE, graph, group, size, algorithm=algorithm, efficiency=efficiency
    )


def all_gather(
    graph: Any,
    group: Sequence[str],
    size: pint.Quantity | str,
    *,
    algorithm: str = "auto",
    efficiency: CollectiveEfficiency | None = None,
) -> CollectiveResult:
    return _graph_collective(
        Collective.ALL_GATHER, graph, group, size, algorithm=algorithm, efficiency=efficiency
    )


def reduce_scatter(
    graph: Any,
    group: Sequence[str],
    size: pint.Quantity | str,
    *,
    algorithm: str = "auto",
    efficiency: CollectiveEfficiency | None = None,
) -> CollectiveResult:
    return _graph_collective(
        Collective.REDUCE_SCATTER, graph, group, size, algorithm=algorithm, efficiency=efficiency
    )


def all_to_all(
    graph: Any,
    group: Sequence[str],
    size: pint.Quantity | str,
    *,
    algorithm: str = "auto",
    efficiency: CollectiveEfficiency | None = None,
) -> CollectiveResult:
    return _graph_collective(
        Collective.ALL_TO_ALL, graph, group, size, algorithm=algorithm, efficiency=efficiency
    )


def broadcast(
    graph: Any,
    group: Sequence[str],
    size: pint.Quantity | str,
    *,
    algorithm: str = "auto",
    efficiency: CollectiveEfficiency | None = None,
) -> CollectiveResult:
    return _graph_collective(
        Collective.BROADCAST, graph, group, size, algorithm=algorithm, efficiency=efficiency
    )


def send_recv(
    graph: Any,
    src: str,
    dst: str,
    size: pint.Quantity | str,
    *,
    efficiency: CollectiveEfficiency | None = None,
) -> CollectiveResult:
    """Point-to-point transfer of ``size`` from ``src`` to ``dst``.

    Parameters
    ----------
    graph
        Topology graph from :func:`blackwell_model.topology.to_graph`.
    src, dst
        Device node ids (distinct).
    size
        Bytes sent, as a Quantity or a string such as ``"256 MiB"`` [B].
    efficiency
        As for :func:`all_reduce`.

    Returns
    -------
    CollectiveResult
        ``algorithm`` is ``"direct"``; bus bandwidth equals algorithm bandwidth.
    """
    return _graph_collective(
        Collective.SEND_RECV, graph, [src, dst], size, algorithm="auto", efficiency=efficiency
    )


all_reduce.__doc__ = _GRAPH_DOC.format(
    summary="All-reduce of a per-device buffer of ``size`` over ``group`` on ``graph``.",
    size="Per-device buffer",
)
all_gather.__doc__ = _GRAPH_DOC.format(
    summary="All-gather over ``group``; ``size`` is the total gathered output (nccl-tests).",
    size="Total output size (every device ends with ``size``)",
)
reduce_scatter.__doc__ = _GRAPH_DOC.format(
    summary="Reduce-scatter over ``group``; ``size`` is each device's full input (nccl-tests).",
    size="Per-device input (each device ends with ``size / n``)",
)
all_to_all.__doc__ = _GRAPH_DOC.format(
    summary="All-to-all over ``group``; each device sends ``size / n`` to every member.",
    size="Per-device send buffer",
)
broadcast.__doc__ = _GRAPH_DOC.format(
    summary="Broadcast of ``size`` from the first device of ``group`` to the others.",
    size="Buffer size",
)
