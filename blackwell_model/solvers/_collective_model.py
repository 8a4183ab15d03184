"""Alpha-beta plans of the collective algorithms on a :class:`GroupSpan` (private).

Every algorithm's cost is linear in the message size ``S``:

.. math:: t(S) = \\alpha + \\beta S, \\qquad
          \\beta = \\max_\\ell \\frac{b_\\ell}{B_\\ell\\,e_\\ell}

where ``b_l`` is the number of bytes each device sends across level ``l`` per
byte of ``S``.  A :class:`Plan` holds ``alpha``, ``beta`` and the ``b_l`` of one
algorithm; the public module caches the plans of a (collective, span,
efficiency) triple and evaluates them on floats or numpy arrays.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable

import attrs

from ..errors import SpecError
from ..topology.span import GroupSpan

__all__ = ["SCALE_UP_LEVELS", "Collective", "Plan", "build_plans"]

#: Level names that belong to the scale-up domain (NVLink class); all other
#: levels are scale-out network levels.
SCALE_UP_LEVELS: frozenset[str] = frozenset({"superchip", "scale_up"})


class Collective(enum.Enum):
    """A collective operation (or point-to-point transfer)."""

    ALL_REDUCE = "all_reduce"
    ALL_GATHER = "all_gather"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_TO_ALL = "all_to_all"
    BROADCAST = "broadcast"
    SEND_RECV = "send_recv"


@attrs.frozen
class Plan:
    """Cost coefficients of one algorithm on one span.

    ``time_s = alpha_s + beta_s_per_B * size_bytes``; ``coefs`` maps level name
    to bytes sent per device across that level per byte of message.
    """

    algorithm: str
    alpha_s: float
    beta_s_per_B: float
    coefs: tuple[tuple[str, float], ...]


@attrs.frozen
class _Level:
    name: str
    fanout: int
    bw: float  # effective bandwidth after bus efficiency [B/s]
    lat: float
    reduces: bool
    inner: bool


class _Loads:
    """Accumulates bytes-per-S and effective bandwidth per level; beta is the max."""

    def __init__(self, levels: Iterable[_Level]) -> None:
        self.names = [lv.name for lv in levels]
        self.coef = dict.fromkeys(self.names, 0.0)
        self.beta = 0.0

    def add(self, level: _Level, coef: float, bw: float) -> None:
        self.coef[level.name] += coef
        if coef > 0.0:
            self.beta = max(self.beta, self.coef[level.name] / bw)

    def plan(self, name: str, alpha: float) -> Plan:
        return Plan(name, alpha, self.beta, tuple((k, self.coef[k]) for k in self.names))


def _cumulative(levels: list[_Level], n: float) -> list[float]:
    """Devices under one child of each level: c_0 = 1, c_{i+1} = c_i f_i (capped at n)."""
    out, c = [], 1.0
    for lv in levels:
        out.append(c)
        c = min(c * lv.fanout, n)
    return out


def _ring_hops(levels: list[_Level], c: list[float], nsteps: float) -> float:
    """Latency of ``nsteps`` ring steps spread over the levels their edges cross.

    A fraction ``1/c_i - 1/c_{i+1}`` of a hierarchical ring's edges has level
    ``i`` as its highest crossed level (``1/c`` beyond the top is 0).
    """
    lat = 0.0
    for i, lv in enumerate(levels):
        upper = 1.0 / c[i + 1] if i + 1 < len(levels) else 0.0
        lat += nsteps * (1.0 / c[i] - upper) * lv.lat
    return lat


def _chain_hops(levels: list[_Level], c: list[float], n: float) -> float:
    """Latency of a chain through ``n`` devices (``n - 1`` hops) spread over levels."""
    lat = 0.0
    for i, lv in enumerate(levels):
        upper = n / c[i + 1] if i + 1 < len(levels) else 1.0
        lat += (n / c[i] - upper) * lv.lat
    return lat


def _tree_hops(levels: list[_Level]) -> float:
    """Depth of a binary tree over the levels: ceil(log2 f) hops per level."""
    return sum(math.ceil(math.log2(lv.fanout)) * lv.lat for lv in levels)


def _levels(
    span: GroupSpan, eff_up: float, eff_net: float, hop_factor: float
) -> tuple[list[_Level], float]:
    n = span.devices
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise SpecError(
            f"span.devices must be an integer >= 2 (a collective needs two devices), got {n!r}"
        )
    if not span.levels:
        raise SpecError(f"span.levels must list the levels a group of {n} devices crosses, got ()")
    out: list[_Level] = []
    inner = True
    for lv in span.levels:
        bw, lat, f = lv.bandwidth_Bps, lv.latency_s, lv.fanout
        if not (isinstance(bw, int | float) and math.isfinite(bw) and bw > 0):
            raise SpecError(
                f"bandwidth_Bps of level {lv.name!r} must be finite and > 0 B/s, got {bw!r}"
            )
        if not (isinstance(lat, int | float) and math.isfinite(lat) and lat >= 0):
            raise SpecError(
                f"latency_s of level {lv.name!r} must be finite and >= 0 s, got {lat!r}"
            )
        if not isinstance(f, int) or f < 1:
            raise SpecError(f"fanout of level {lv.name!r} must be an integer >= 1, got {f!r}")
        if f == 1:  # nothing crosses a level where only one member meets
            continue
        up = lv.name in SCALE_UP_LEVELS
        inner = inner and up
        out.append(
            _Level(
                lv.name,
                f,
                float(bw) * (eff_up if up else eff_net),
                float(lat),
                bool(lv.in_network_reduction),
                inner,
            )
        )
    if out and not out[-1].inner:
        # NCCL: scale-up hops are slower when the group also spans nodes
        out = [attrs.evolve(lv, lat=lv.lat * hop_factor) if lv.inner else lv for lv in out]
    if not out:
        raise SpecError(
            f"span of {n} devices has no level with fanout >= 2; levels: "
            f"{[(lv.name, lv.fanout) for lv in span.levels]}"
        )
    return out, float(n)


def build_plans(op: Collective, span: GroupSpan, eff: object) -> tuple[Plan, ...]:
    """Plans of every algorithm applicable to ``op`` on ``span``, in a fixed order.

    ``eff`` is a :class:`~blackwell_model.solvers.collectives.CollectiveEfficiency`.
    """
    e_up: float = eff.scale_up  # type: ignore[attr-defined]
    e_net: float = eff.network  # type: ignore[attr-defined]
    hop_factor: float = eff.multi_node_hop_factor  # type: ignore[attr-defined]
    levels, n = _levels(span, e_up, e_net, hop_factor)
    c = _cumulative(levels, n)
    inner = [lv for lv in levels if lv.inner]
    outer = [lv for lv in levels if not lv.inner]
    k = min(math.prod(lv.fanout for lv in inner), n) if inner else 1.0
    m = max(n / k, 1.0)
    c_in = c[: len(inner)]
    c_out = [ci / k for ci in c[len(inner) :]]  # rail peers under one child of each outer level
    nvls_level = next((lv for lv in reversed(inner) if lv.reduces), None)
    sharp_ok = bool(outer) and all(lv.reduces for lv in outer)
    base_ring: float = eff.ring_latency_s  # type: ignore[attr-defined]
    base_tree: float = eff.tree_latency_s  # type: ignore[attr-defined]
    lat_nvls: float = eff.nvls_latency_s  # type: ignore[attr-defined]
    lat_sharp: float = eff.sharp_latency_s  # type: ignore[attr-defined]
    f_tree: float = eff.tree  # type: ignore[attr-defined]
    f_nvls: float = eff.nvls  # type: ignore[attr-defined]
    f_sharp: float = eff.sharp  # type: ignore[attr-defined]
    plans: list[Plan] = []

    def new() -> _Loads:
        return _Loads(levels)

    if op is Collective.ALL_REDUCE or op in (Collective.ALL_GATHER, Collective.REDUCE_SCATTER):
        ar = op is Collective.ALL_REDUCE
        mult = 2.0 if ar else 1.0  # all-reduce = reduce-scatter + all-gather

        # ring over the whole group (hierarchically ordered, as NCCL builds it)
        ld = new()
        for i, lv in enumerate(levels):
            ld.add(lv, mult * (n - 1) / n / c[i], lv.bw)
        plans.append(ld.plan("ring", base_ring + _ring_hops(levels, c, mult * (n - 1))))

        def outer_ring(ld: _Loads) -> float:
            for i, lv in enumerate(outer):
                ld.add(lv, mult * (m - 1) / m / k / c_out[i], lv.bw)
            return _ring_hops(outer, c_out, mult * (m - 1))

        if ar:
            # NCCL tree: chain inside the domain, double binary tree across it
            ld = new()
            for i, lv in enumerate(levels):
                ld.add(lv, 2.0 / c[i], lv.bw * f_tree)
            lat = base_tree + 2.0 * (_chain_hops(inner, c_in, k) + _tree_hops(outer))
            plans.append(ld.plan("tree", lat))

        if inner and outer:
            ld = new()
            for i, lv in enumerate(inner):
                ld.add(lv, mult * (k - 1) / k / c_in[i], lv.bw)
            lat = base_ring + _ring_hops(inner, c_in, mult * (k - 1)) + outer_ring(ld)
            plans.append(ld.plan("hierarchical", lat))

        if nvls_level is not None:
            # in-switch reduction: S (+ S/k for all-reduce) each way through the switch
            nvls_coef = (1.0 + 1.0 / k) if ar else 1.0
            ld = new()
            ld.add(nvls_level, nvls_coef, nvls_level.bw * f_nvls)
            lat = lat_nvls + (outer_ring(ld) if outer else 0.0)
            plans.append(ld.plan("nvls", lat))
            if ar and outer:
                ld = new()
                ld.add(nvls_level, nvls_coef, nvls_level.bw * f_nvls)
                for i, lv in enumerate(outer):
                    ld.add(lv, 2.0 / k / c_out[i], lv.bw * f_tree)
                plans.append(ld.plan("nvls_tree", lat_nvls + 2.0 * _tree_hops(outer)))

        if ar and sharp_ok:

            def sharp_outer(ld: _Loads) -> None:
                for i, lv in enumerate(outer):
                    ld.add(lv, 1.0 / k / c_out[i], lv.bw * f_sharp)

            ld = new()
            lat = lat_sharp
            if inner:
                for i, lv in enumerate(inner):
                    ld.add(lv, 2.0 * (k - 1) / k / c_in[i], lv.bw)
                lat += base_ring + _ring_hops(inner, c_in, 2.0 * (k - 1))
            sharp_outer(ld)
            plans.append(ld.plan("sharp", lat))
            if nvls_level is not None:
                ld = new()
                ld.add(nvls_level, 1.0 + 1.0 / k, nvls_level.bw * f_nvls)
                sharp_outer(ld)
                plans.append(ld.plan("nvls_sharp", lat_nvls + lat_sharp))

    elif op is Collective.BROADCAST:
        # pipelined chain: every device forwards S once
        ld = new()
        for i, lv in enumerate(levels):
            ld.add(lv, 1.0 / c[i], lv.bw)
        plans.append(ld.plan("ring", base_ring + _chain_hops(levels, c, n)))

    elif op is Collective.ALL_TO_ALL:
        # each device sends S/n to every peer; bytes leaving a level-i child:
        # the share of peers outside it
        a2a: float = getattr(eff, "all_to_all", 1.0)
        peer_lat: float = getattr(eff, "all_to_all_peer_latency_s", 0.0)
        ld = new()
        for i, lv in enumerate(levels):
            ld.add(lv, (n - c[i]) / n, lv.bw * (a2a if lv.inner else 1.0))
        lat = base_ring + max(lv.lat for lv in levels) + (n - 1.0) * peer_lat
        plans.append(ld.plan("direct", lat))

    elif op is Collective.SEND_RECV:
        ld = new()
        for lv in levels:
            ld.add(lv, 1.0, lv.bw)
        plans.append(ld.plan("direct", base_ring + max(lv.lat for lv in levels)))

    return tuple(plans)
