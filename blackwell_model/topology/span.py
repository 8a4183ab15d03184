"""What a device group spans on the topology: the summary the collective solver reads.

A collective over a group of devices crosses one or more *levels* of the
hardware hierarchy (the scale-up domain, then the fabric's leaf, pod and core
tiers).  :class:`GroupSpan` lists those levels innermost first; each
:class:`SpanLevel` says how many members (or sub-groups) meet at that level and
what bandwidth and latency each device sees when traffic crosses it.  All
numbers are floats in SI units (rule 1 of the design: floats inside).
"""

from __future__ import annotations

import attrs

__all__ = ["LEVELS", "GroupSpan", "SpanLevel"]

#: Level names, innermost first.  ``device`` is a group of one.
LEVELS: tuple[str, ...] = ("device", "superchip", "scale_up", "leaf", "pod", "fabric")


@attrs.frozen(kw_only=True)
class SpanLevel:
    """One level of the hierarchy that a device group crosses.

    Parameters
    ----------
    name
        One of :data:`LEVELS` (``"scale_up"``, ``"leaf"``, ...).
    fanout
        Largest number of members (devices at the innermost level, sub-groups
        above it) that meet under one parent at this level.  For a uniform
        group the product of the fanouts is the group size.
    bandwidth_Bps
        Bandwidth each device can drive across this level, per direction
        [B/s] (after oversubscription above the leaf).
    latency_s
        One-way device-to-device latency of a message crossing this level,
        links and switch hops included [s].
    in_network_reduction
        Name of the reduction engine the level's switches offer (``"NVLS"``,
        ``"SHARPv3"``), or ``""``.
    links
        Parallel physical links each device has at this level (NVLink ports,
        NIC ports); ``bandwidth_Bps`` already includes all of them.
    """

    name: str
    fanout: int
    bandwidth_Bps: float
    latency_s: float
    in_network_reduction: str = ""
    links: int = 1


@attrs.frozen(kw_only=True)
class GroupSpan:
    """The levels a device group spans, innermost first.

    Parameters
    ----------
    devices
        Number of devices in the group.
    levels
        :class:`SpanLevel` per level crossed, innermost first; empty for a
        group of one device.
    """

    devices: int
    levels: tuple[SpanLevel, ...]

    @property
    def level(self) -> str:
        """Name of the outermost level crossed (``"device"`` for a single device)."""
        return self.levels[-1].name if self.levels else "device"

    @property
    def bottleneck_Bps(self) -> float:
        """Lowest per-device bandwidth over the levels crossed [B/s]."""
        return min((lv.bandwidth_Bps for lv in self.levels), default=float("inf"))
