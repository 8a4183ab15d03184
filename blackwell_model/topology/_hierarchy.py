"""The hierarchy index that :func:`~blackwell_model.topology.to_graph` stores in ``G.graph``.

Queries such as :func:`~blackwell_model.topology.group_span` answer from this
index in time proportional to the group size, without searching the graph.
It is a read-only snapshot of the hierarchy at build time: editing links with
:func:`~blackwell_model.topology.add_link` changes path queries, not spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import networkx as nx
import numpy as np

from ..errors import TopologyError
from .span import LEVELS, GroupSpan, SpanLevel

__all__ = ["HIERARCHY_KEY", "Hierarchy", "hierarchy_of"]

#: Key of the :class:`Hierarchy` in ``G.graph``.
HIERARCHY_KEY = "hierarchy"


@attrs.frozen(kw_only=True, eq=False)
class Hierarchy:
    """Position of every accelerator in the hierarchy, by rank.

    Built by :func:`~blackwell_model.topology.to_graph` (as ``G.graph["hierarchy"]``)
    or, without a graph, by :func:`~blackwell_model.topology.cluster_spans`.
    :meth:`span` and :meth:`bisection` answer in O(group size).

    Parameters
    ----------
    kind
        What the graph was built from: ``"superchip"``, ``"node"``,
        ``"domain"`` or ``"cluster"``.
    name
        Name of that part.
    devices
        Accelerator node ids in rank order.
    index
        Accelerator node id -> rank.
    keys
        Level name -> integer array (one entry per rank): two accelerators
        share a level when their keys at that level are equal.  Only the
        levels this graph has are present, innermost first.
    levels
        Level name -> :class:`SpanLevel` template (``fanout`` 1) with the
        per-device bandwidth, latency and reduction engine of the level.
    """

    kind: str
    name: str
    devices: tuple[str, ...]
    index: dict[str, int]
    keys: dict[str, np.ndarray]
    levels: dict[str, SpanLevel]

    def span(self, devices: Iterable[Any]) -> GroupSpan:
        """The :class:`GroupSpan` of ``devices`` (ids or ranks); see ``group_span``."""
        from .query import span_of

        return span_of(self, devices)

    def bisection(self, devices: Iterable[Any] | None = None) -> float:
        """Bisection bandwidth of ``devices`` [B/s]; see ``bisection_bandwidth``."""
        from .query import bisection_of

        return bisection_of(self, devices)

    def ranks(self, graph: nx.DiGraph | None, group: Iterable[Any]) -> np.ndarray:
        """Ranks of the accelerators in ``group`` (node ids or integer ranks).

        Raises
        ------
        TopologyError
            If an id is not an accelerator of this graph, a rank is out of
            range, or a device appears twice.
        """
        if group is self.devices:
            return np.arange(len(self.devices), dtype=np.int64)
        members = group if isinstance(group, list | tuple) else list(group)
        try:
            ranks = np.fromiter(
                map(self.index.__getitem__, members), dtype=np.int64, count=len(members)
            )
        except (KeyError, TypeError):
            ranks = np.array([self._rank(graph, d) for d in members], dtype=np.int64)
        if len(ranks) > 1:
            counts = np.bincount(ranks, minlength=len(self.devices))
            if counts.max() > 1:
                dup = int(np.argmax(counts))
                raise TopologyError(
                    f"device {self.devices[dup]!r} appears {int(counts[dup])} times in the "
                    "group; a device group must list each accelerator once"
                )
        return ranks

    def _rank(self, graph: nx.DiGraph, device: Any) -> int:
        if isinstance(device, bool) or not isinstance(device, int | str | np.integer):
            raise TopologyError(
                f"a device must be a node id (str) or a rank (int), got "
                f"{type(device).__name__} {device!r}"
            )
        if isinstance(device, int | np.integer):
            r = int(device)
            if not 0 <= r < len(self.devices):
                raise TopologyError(
                    f"rank {r} is out of range for {self.name!r}: expected 0 <= rank < "
                    f"{len(self.devices)}"
                )
            return r
        if device in self.index:
            return self.index[device]
        if graph is None:
            raise TopologyError(
                f"device {device!r} is not an accelerator of {self.name!r} ({len(self.devices)} "
                f"accelerators; ids look like {self.devices[0]!r})"
            )
        node = graph._node.get(device)
        if node is not None:
            raise TopologyError(
                f"node {device!r} is a {node.get('kind', '?')}, not an accelerator; a device "
                f"group holds accelerator ids such as {self.devices[0]!r}"
            )
        raise unknown_node(graph, device)


def unknown_node(graph: nx.DiGraph, node: Any) -> TopologyError:
    """The error for a node id that is not in ``graph``, with a hint about mixed graphs."""
    name = graph.graph.get("name", "this graph")
    h = graph.graph.get(HIERARCHY_KEY)
    example = h.devices[0] if isinstance(h, Hierarchy) and h.devices else next(iter(graph), "")
    hint = ""
    if isinstance(node, str) and isinstance(example, str):
        prefix_node = node.split("/", 1)[0]
        prefix_example = example.split("/", 1)[0]
        if node.count("/") != example.count("/") or (prefix_node[:1] != prefix_example[:1]):
            hint = (
                "; it looks like an id from a graph of another kind of part (ids are relative "
                "to the object given to to_graph), so the group may mix graphs"
            )
    return TopologyError(
        f"node {node!r} is not in the graph of {name!r} ({graph.number_of_nodes()} nodes; "
        f"accelerator ids look like {example!r}){hint}"
    )


def hierarchy_of(graph: nx.DiGraph) -> Hierarchy:
    """Return the :class:`Hierarchy` stored by ``to_graph``.

    Raises
    ------
    TopologyError
        If ``graph`` was not built by :func:`~blackwell_model.topology.to_graph`.
    """
    h = graph.graph.get(HIERARCHY_KEY) if isinstance(graph, nx.Graph) else None
    if not isinstance(h, Hierarchy):
        raise TopologyError(
            f"expected a graph built by blackwell_model.to_graph (with "
            f"G.graph[{HIERARCHY_KEY!r}]), got {type(graph).__name__} without one"
        )
    return h


def ordered_levels(levels: Mapping[str, SpanLevel]) -> list[str]:
    """Level names present in ``levels``, innermost first (the order of :data:`LEVELS`)."""
    return [name for name in LEVELS if name in levels]
