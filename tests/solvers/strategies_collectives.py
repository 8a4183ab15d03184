"""Hypothesis strategies for the collective solver: random group spans."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from blackwell_model.topology.span import GroupSpan, SpanLevel

# Level names in hierarchy order, as the topology emits them.
_ORDER = ("superchip", "scale_up", "leaf", "pod", "fabric")


@st.composite
def span_levels(draw: st.DrawFn) -> tuple[SpanLevel, ...]:
    """1-4 levels in hierarchy order, at least one with fanout >= 2."""
    count = draw(st.integers(1, 4))
    start = draw(st.integers(0, len(_ORDER) - count))
    names = _ORDER[start : start + count]
    levels = []
    for i, name in enumerate(names):
        fanout = draw(st.integers(2 if i == 0 else 1, 9))
        levels.append(
            SpanLevel(
                name=name,
                fanout=fanout,
                bandwidth_Bps=draw(st.floats(1e9, 2e12)),
                latency_s=draw(st.floats(0.0, 2e-5)),
                in_network_reduction=draw(st.sampled_from(["", "NVLS", "SHARPv3"])),
                links=draw(st.integers(1, 18)),
            )
        )
    return tuple(levels)


@st.composite
def group_spans(draw: st.DrawFn) -> GroupSpan:
    """A uniform group: devices = product of the fanouts (>= 2)."""
    levels = draw(span_levels())
    return GroupSpan(devices=math.prod(lv.fanout for lv in levels), levels=levels)


sizes = st.floats(0.0, 1e11, allow_nan=False)
ops = st.sampled_from(
    ["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "send_recv"]
)
