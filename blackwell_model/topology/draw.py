"""Draw a rack or a small cluster with matplotlib (the ``plot`` extra)."""

from __future__ import annotations

from typing import Any

import networkx as nx

from ..errors import TopologyError

__all__ = ["draw", "layered_layout"]

# Rows from the bottom: devices, the scale-up switches, then the fabric tiers.
_ROW = {"cpu": 0.0, "gpu": 1.0, "nic": 2.0, "scale_up": 3.0, "leaf": 4.0, "spine": 5.0, "core": 6.0}
_COLOR = {"gpu": "#76b900", "cpu": "#1f77b4", "nic": "#ff7f0e", "switch": "#7f7f7f"}


def layered_layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Positions in rows by role (CPU, GPU, NIC, scale-up switch, leaf, spine, core).

    Each row is spread over ``[0, 1]`` in node order, so a tray's GPUs sit
    together and the switches above them.
    """
    rows: dict[float, list[str]] = {}
    for n, d in graph.nodes(data=True):
        kind = d.get("kind", "")
        row = (
            _ROW.get(d.get("tier", ""), _ROW.get(kind, 7.0))
            if kind == "switch"
            else _ROW.get(kind, 7.0)
        )
        rows.setdefault(row, []).append(n)
    pos = {}
    for row, nodes in rows.items():
        step = 1.0 / max(len(nodes), 1)
        for i, n in enumerate(nodes):
            pos[n] = ((i + 0.5) * step, row)
    return pos


def draw(
    graph: nx.DiGraph, *, ax: Any = None, labels: bool | None = None, max_nodes: int = 3000
) -> Any:
    """Draw the graph of a rack or a small cluster in layers; returns the Axes.

    Parameters
    ----------
    graph
        A graph from :func:`~blackwell_model.topology.to_graph`.
    ax
        Matplotlib Axes to draw on; a new figure when None.
    labels
        Show node ids; by default only when the graph has at most 100 nodes.
    max_nodes
        Refuse larger graphs (a 100,000-GPU drawing is a black square).

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install blackwell_model[plot]``).
    TopologyError
        If the graph has more than ``max_nodes`` nodes.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "drawing a topology needs matplotlib; install the 'plot' extra: "
            "pip install 'blackwell_model[plot]'"
        ) from exc
    n = graph.number_of_nodes()
    if n > max_nodes:
        raise TopologyError(
            f"the graph has {n} nodes, more than max_nodes = {max_nodes}; draw a rack or a "
            "small cluster, or raise max_nodes"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 6))
    pos = layered_layout(graph)
    colors = [_COLOR.get(k, "#bbbbbb") for _, k in graph.nodes(data="kind")]
    undirected = {tuple(sorted((u, v))) for u, v in graph.edges()}
    widths = []
    for u, v in undirected:
        d = graph.edges[u, v] if graph.has_edge(u, v) else graph.edges[v, u]
        widths.append(0.3 + min(float(d.get("links", 1)), 10.0) * 0.2)
    nx.draw_networkx_edges(
        graph.to_undirected(as_view=True),
        pos,
        edgelist=list(undirected),
        width=widths,
        alpha=0.3,
        ax=ax,
        arrows=False,
    )
    nx.draw_networkx_nodes(
        graph, pos, node_color=colors, node_size=max(5, 3000 // max(n, 1)), ax=ax
    )
    if labels if labels is not None else n <= 100:
        nx.draw_networkx_labels(graph, pos, font_size=6, ax=ax)
    ax.set_title(str(graph.graph.get("name", "")))
    ax.set_axis_off()
    return ax
