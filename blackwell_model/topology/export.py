"""Export a topology graph: GraphML and node-link JSON.

Spec objects are replaced by their names, so the files hold only strings,
integers and floats (``bandwidth`` in B/s, ``latency`` in s).
"""

from __future__ import annotations

import json
import os
from typing import Any

import networkx as nx

from ..errors import TopologyError

__all__ = ["plain_graph", "to_graphml", "to_node_link_json"]

_SCALARS = (str, int, float, bool)


def _plain(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if hasattr(value, "name") and isinstance(value.name, str):
        return value.name
    if isinstance(value, frozenset | set | tuple | list):
        return ",".join(sorted(str(v) for v in value))
    return None


def _attrs(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        plain = _plain(value)
        if plain is not None:
            out[key] = plain
    return out


def plain_graph(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy of ``graph`` whose attributes are plain scalars (specs -> their names).

    ``G.graph`` keeps its scalar entries, ``spec`` (as its name) and
    ``relay_kinds`` (comma-separated); the hierarchy index is dropped.
    """
    if not isinstance(graph, nx.DiGraph):
        raise TopologyError(f"expected a networkx.DiGraph, got {type(graph).__name__}")
    out = nx.DiGraph()
    out.graph.update(_attrs({k: v for k, v in graph.graph.items() if k != "hierarchy"}))
    out.add_nodes_from((n, _attrs(d)) for n, d in graph.nodes(data=True))
    cache: dict[int, dict[str, Any]] = {}
    for u, v, d in graph.edges(data=True):
        plain = cache.get(id(d))
        if plain is None:
            plain = cache[id(d)] = _attrs(d)
        out.add_edge(u, v, **plain)
    return out


def to_graphml(graph: nx.DiGraph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` as GraphML (readable by networkx, Gephi, yEd, Cytoscape).

    Examples
    --------
    >>> import tempfile, pathlib, networkx as nx, blackwell_model as bm
    >>> g = bm.topology.to_graph(bm.catalog.superchip("GB200"))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gb200.graphml"
    >>> bm.topology.to_graphml(g, path)
    >>> nx.read_graphml(path).edges["gpu0", "cpu0"]["spec"]
    'NVLink-C2C'
    """
    nx.write_graphml(plain_graph(graph), os.fspath(path))


def to_node_link_json(graph: nx.DiGraph, path: str | os.PathLike[str] | None = None) -> str:
    """``graph`` as node-link JSON (``{"nodes": [...], "edges": [...]}``).

    Parameters
    ----------
    graph
        A graph from :func:`~blackwell_model.topology.to_graph`.
    path
        Also write the text to this file when given.

    Returns
    -------
    str
        The JSON text; load it back with ``networkx.node_link_graph(json.loads(text),
        edges="edges")``.
    """
    data = nx.node_link_data(plain_graph(graph), edges="edges")
    text = json.dumps(data)
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text
