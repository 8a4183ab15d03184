"""Topology drawings: a rack or a small cluster in rows, links coloured by plane."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import TopologyError
from ._common import _axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["topology"]

_NODE_STYLE = {
    # role: (row, colour, marker, legend label)
    "scale_up": (0.0, "#76b900", "s", "scale-up switch"),
    "gpu": (1.0, "#2f6fb3", "o", "GPU"),
    "cpu": (1.8, "#8c6d57", "D", "CPU"),
    "nic": (2.6, "#e69f00", "o", "NIC port"),
    "leaf": (3.6, "#666666", "s", "leaf switch"),
    "spine": (4.6, "#444444", "s", "spine switch"),
    "core": (5.6, "#222222", "s", "core switch"),
}
_PLANE_STYLE = {
    "scale_up": ("#76b900", "scale-up"),
    "scale_out": ("#1f77b4", "scale-out (fabric)"),  # link names: NIC and switch ports
    "host": ("#8c6d57", "host"),
}


def _role(data: Mapping[str, Any]) -> str:
    kind = str(data.get("kind", ""))
    if kind == "switch":
        return str(data.get("tier", "scale_up"))
    return kind


def topology(
    graph_or_part: Any,
    *,
    labels: bool | None = None,
    max_nodes: int = 3000,
    ax: Any = None,
) -> Axes:
    """Draw a rack or a small cluster in rows, links coloured by network plane.

    Rows from the bottom: scale-up switches (NVLink switches), GPUs, CPUs,
    NIC ports, then the fabric's leaf, spine and core switches; each row is
    spread over the width in node order, so a tray's GPUs sit together.
    Links are coloured by plane (scale-up, scale-out, host) and thicker for
    more parallel links; direct device-to-device links (a mesh or a torus)
    are arcs below the device row.  The legend counts the nodes of each role
    and the links of each plane, with the parts' names.

    Parameters
    ----------
    graph_or_part
        A graph from :func:`~blackwell_model.topology.to_graph`, a part it
        accepts (:class:`~blackwell_model.hardware.Cluster`,
        :class:`~blackwell_model.hardware.ScaleUpDomain`, ``Node``,
        ``Superchip``) or a system's catalog name (``"GB200-NVL72"``).
    labels
        Write node names; by default when there are at most 40 nodes.
    max_nodes
        Refuse larger graphs (draw a rack, not a 100,000-GPU cluster).
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        Nodes are scatter collections with ``gid`` ``"nodes:<role>"``, links
        line collections with ``gid`` ``"links:<plane>"``.

    Raises
    ------
    ImportError
        Without matplotlib.
    TopologyError
        If the graph has more than ``max_nodes`` nodes, or ``graph_or_part``
        is neither a graph nor a part :func:`~blackwell_model.topology.to_graph`
        accepts.
    UnknownNameError
        For an unknown system name.
    """
    import networkx as nx

    from ..topology import to_graph

    if isinstance(graph_or_part, nx.Graph):
        graph = graph_or_part
    else:
        part = graph_or_part
        if isinstance(part, str):
            from .. import catalog

            part = catalog.system(part)
        graph = to_graph(part)
    n = graph.number_of_nodes()
    if n > max_nodes:
        raise TopologyError(
            f"the graph has {n} nodes, more than max_nodes = {max_nodes}; draw a rack or a "
            "small cluster, or raise max_nodes"
        )
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    ax = _axes(ax, (11.0, 5.4))
    rows: dict[str, list[Any]] = {}
    for node, data in graph.nodes(data=True):
        rows.setdefault(_role(data), []).append(node)
    pos: dict[Any, tuple[float, float]] = {}
    extra = max(s[0] for s in _NODE_STYLE.values()) + 1.0
    for role, nodes in rows.items():
        y = _NODE_STYLE[role][0] if role in _NODE_STYLE else extra
        step = 1.0 / len(nodes)
        for i, node in enumerate(nodes):
            pos[node] = ((i + 0.5) * step, y)
    segs: dict[str, list[Any]] = {}
    widths: dict[str, list[float]] = {}
    link_names: dict[str, dict[str, None]] = {}
    seen: set[tuple[Any, Any]] = set()
    arc_t = np.linspace(0.0, 1.0, 13)
    for u, v, data in graph.edges(data=True):
        key = (u, v) if str(u) <= str(v) else (v, u)
        if key in seen:
            continue
        seen.add(key)
        plane = str(data.get("plane", "other"))
        (x0, y0), (x1, y1) = pos[u], pos[v]
        if y0 == y1:  # a direct device-to-device link (mesh, torus): an arc below the row
            depth = min(0.12 + 0.5 * abs(x1 - x0), 0.45)
            seg: Any = np.column_stack((x0 + (x1 - x0) * arc_t, y0 - depth * np.sin(np.pi * arc_t)))
        else:
            seg = ((x0, y0), (x1, y1))
        segs.setdefault(plane, []).append(seg)
        widths.setdefault(plane, []).append(0.4 + 0.15 * min(float(data.get("links", 1)), 8.0))
        spec = data.get("spec")
        if spec is not None and hasattr(spec, "name"):
            link_names.setdefault(plane, {})[str(spec.name)] = None
    handles = []
    for plane, lines in segs.items():
        colour, text = _PLANE_STYLE.get(plane, ("#aaaaaa", plane))
        if plane != "scale_out" and link_names.get(plane):
            text = f"{text.split(' (')[0]} ({', '.join(list(link_names[plane])[:2])})"
        alpha = 0.25 if len(lines) > 200 else 0.5
        lc = LineCollection(lines, colors=colour, linewidths=widths[plane], alpha=alpha, zorder=1)
        lc.set_gid(f"links:{plane}")
        ax.add_collection(lc)
        handles.append(Line2D([], [], color=colour, lw=1.5, label=f"{text}: {len(lines):,} links"))
    size = float(np.clip(2400.0 / max(n, 1), 6.0, 90.0))
    for role, nodes in rows.items():
        y, colour, marker, text = _NODE_STYLE.get(role, (extra, "#aaaaaa", "o", role))
        xy = np.array([pos[node] for node in nodes])
        sc = ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=size * (1.6 if marker == "s" else 1.0),
            c=colour,
            marker=marker,
            edgecolors="white",
            linewidths=0.4,
            zorder=3,
        )
        sc.set_gid(f"nodes:{role}")
        spec = graph.nodes[nodes[0]].get("spec")
        what = f"{text}: {len(nodes):,}"
        if role in ("gpu", "cpu") and spec is not None and hasattr(spec, "name"):
            what += f" x {spec.name}"
        handles.append(Line2D([], [], ls="", marker=marker, color=colour, label=what))
        ax.annotate(
            f"{text}s" if len(nodes) > 1 else text,
            (0.0, y),
            xytext=(-8, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=8,
            color="#444444",
        )
    if labels if labels is not None else n <= 40:
        for node, (px, py) in pos.items():
            ax.annotate(
                str(node).rsplit("/", 1)[-1],
                (px, py),
                xytext=(0, -9),
                textcoords="offset points",
                ha="center",
                fontsize=6,
            )
    ys = [p[1] for p in pos.values()] or [0.0]
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(min(ys) - 0.55, max(ys) + 0.5)
    ax.set_axis_off()
    ax.legend(
        handles=handles,
        fontsize=7.5,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
    )
    name = str(graph.graph.get("name", ""))
    gpus = len(rows.get("gpu", []))
    ax.set_title(f"{name}: {gpus:,} GPUs, {n:,} nodes, {len(seen):,} links", fontsize=11)
    return ax  # type: ignore[no-any-return]
