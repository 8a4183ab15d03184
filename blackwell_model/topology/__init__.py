"""Topology: compose hardware parts into a networkx graph and query it.

:func:`to_graph` turns a superchip, node, scale-up domain or cluster into a
:class:`networkx.DiGraph` (string node ids, SI floats on the edges, the spec
object as an attribute).  Graph-first queries answer the questions the
collective solver asks: :func:`path_bandwidth` and :func:`path_latency` between
two devices, :func:`group_span` (which levels of the hierarchy a device group
crosses, with the per-device bandwidth at each) and
:func:`bisection_bandwidth`.

Examples
--------
>>> import blackwell_model as bm
>>> from blackwell_model import topology
>>> g = topology.to_graph(bm.catalog.cluster("DGX-H100", gpus=128))
>>> topology.path_bandwidth(g, "d0/tray0/gpu0", "d0/tray0/gpu5") / 1e9
450.0
>>> topology.path_bandwidth(g, "d0/tray0/gpu0", "d1/tray0/gpu0") / 1e9
50.0
>>> topology.group_span(g, topology.devices(g)[:16]).level
'leaf'
"""

from ._hierarchy import Hierarchy
from .build import (
    PLANES,
    RELAY_KINDS,
    EdgeData,
    add_link,
    cluster_spans,
    devices,
    plane_of,
    remove_link,
    to_graph,
)
from .draw import draw, layered_layout
from .export import plain_graph, to_graphml, to_node_link_json
from .query import (
    bisection_bandwidth,
    group_span,
    hierarchy_levels,
    path_bandwidth,
    path_latency,
)
from .span import LEVELS, GroupSpan, SpanLevel

__all__ = [
    "LEVELS",
    "PLANES",
    "RELAY_KINDS",
    "EdgeData",
    "GroupSpan",
    "Hierarchy",
    "SpanLevel",
    "add_link",
    "bisection_bandwidth",
    "cluster_spans",
    "devices",
    "draw",
    "group_span",
    "hierarchy_levels",
    "layered_layout",
    "path_bandwidth",
    "path_latency",
    "plain_graph",
    "plane_of",
    "remove_link",
    "to_graph",
    "to_graphml",
    "to_node_link_json",
]
