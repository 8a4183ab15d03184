"""Sphinx extension: tables of the blackwell_model hardware catalog.

Usage in a reST page::

    .. bm-catalog-table:: accelerator

renders one table with the key numbers of every catalog entry of that kind
(in convenient units), followed by each entry's notes and the source of every
number.  Options:

``:names:``
    Comma-separated entry names to show instead of all of them.
``:no-sources:``
    Leave out the per-entry sources.

The directive writes reST (a ``list-table`` and bullet lists) and parses it
with ``nested_parse``, so the output is themed like any hand-written table.
Add ``docs/_ext`` to ``sys.path`` and ``"bm_catalog"`` to ``extensions`` in
``conf.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

__all__ = ["CatalogTable", "catalog_rst", "setup"]

_DASH = "–"


# ------------------------------------------------------------------- helpers


def _escape(text: Any) -> str:
    """Escape reST inline markup characters in catalog text."""
    out = str(text)
    for ch in ("\\", "*", "`", "|", "_"):
        out = out.replace(ch, "\\" + ch)
    return out


def _num(value: float | None) -> str:
    """A number for a table cell: thousands separators, no noise digits."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return _DASH
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def _q(q: Any, unit: str, scale: float = 1.0) -> str:
    """A quantity in ``unit`` (times ``scale``), or a dash when absent."""
    if q is None:
        return _DASH
    return _num(float(q.to(unit).m) * scale)


def _name(part: Any) -> str:
    return _DASH if part is None else _escape(getattr(part, "name", part))


def _peak(acc: Any, precision: str) -> str:
    if not acc.supports(precision):
        return _DASH
    return _q(acc.peak(precision), "TFLOP/s")


# -------------------------------------------------------------- column sets

Column = tuple[str, Callable[[Any], str]]


def _accelerator_columns() -> list[Column]:
    return [
        ("Vendor", lambda a: _escape(a.vendor)),
        ("BF16 TFLOP/s", lambda a: _peak(a, "bf16")),
        ("FP8 TFLOP/s", lambda a: _peak(a, "fp8")),
        ("FP4 TFLOP/s", lambda a: _peak(a, "fp4")),
        ("Memory GB", lambda a: _q(a.memory_capacity, "GB")),
        ("Memory TB/s", lambda a: _q(a.memory_bandwidth, "TB/s")),
        ("TDP W", lambda a: _q(a.tdp, "W")),
        (
            "Scale-up GB/s per direction",
            lambda a: (
                f"{_q(a.scale_up_bandwidth, 'GB/s')} ({a.scale_up_ports} x {_name(a.scale_up_link)})"
                if a.scale_up_link is not None
                else _DASH
            ),
        ),
        ("NIC", lambda a: _name(a.nic)),
    ]


def _cpu_columns() -> list[Column]:
    return [
        ("Vendor", lambda c: _escape(c.vendor)),
        ("Cores", lambda c: _num(c.cores)),
        ("Base GHz", lambda c: _q(c.frequency, "GHz")),
        ("Memory GB", lambda c: _q(c.memory_capacity, "GB")),
        ("Memory GB/s", lambda c: _q(c.memory_bandwidth, "GB/s")),
        ("TDP W", lambda c: _q(c.tdp, "W")),
    ]


def _link_columns() -> list[Column]:
    return [
        ("Kind", lambda lk: _escape(lk.kind.value)),
        ("GB/s per direction", lambda lk: _q(lk.bandwidth, "GB/s")),
        ("Gb/s per direction", lambda lk: _q(lk.bandwidth, "Gbit/s")),
        ("GB/s both directions", lambda lk: _q(lk.bidirectional_bandwidth, "GB/s")),
        ("Latency µs", lambda lk: _q(lk.latency, "us")),
    ]


def _switch_columns() -> list[Column]:
    return [
        ("Kind", lambda s: _escape(s.kind.value)),
        ("Ports", lambda s: _num(s.ports)),
        ("Port Gb/s per direction", lambda s: _q(s.port_bandwidth, "Gbit/s")),
        ("All ports, both directions Tb/s", lambda s: _q(s.switching_capacity, "Tbit/s")),
        ("Latency ns", lambda s: _q(s.latency, "ns")),
        ("In-network reduction", lambda s: _escape(s.in_network_reduction) or _DASH),
        ("Power W", lambda s: _q(s.power, "W")),
    ]


def _superchip_columns() -> list[Column]:
    return [
        ("CPUs", lambda s: f"{s.cpus} x {_name(s.cpu)}"),
        ("Accelerators", lambda s: f"{s.accelerators} x {_name(s.accelerator)}"),
        ("C2C GB/s per direction", lambda s: _q(s.c2c_link.bandwidth, "GB/s")),
        ("Max power kW", lambda s: _q(s.max_power, "kW")),
    ]


def _node_columns() -> list[Column]:
    return [
        ("Accelerators", lambda n: f"{n.accelerators} x {_name(n.accelerator)}"),
        ("CPUs", lambda n: f"{n.cpus} x {_name(n.cpu)}" if n.cpu is not None else _DASH),
        ("NIC", lambda n: _name(n.nic)),
        ("NICs per accelerator", lambda n: _num(n.nics_per_accelerator)),
        ("NIC GB/s per accelerator", lambda n: _q(n.nic_bandwidth, "GB/s")),
        ("Max power kW", lambda n: _q(n.max_power, "kW")),
    ]


def _system_wiring(d: Any) -> str:
    if d.switch is not None and d.switches:
        return f"{d.topology.value}: {d.switches} x {_name(d.switch)}"
    if d.torus_shape:
        return f"{d.topology.value} {' x '.join(map(str, d.torus_shape))}"
    return d.topology.value


def _system_columns() -> list[Column]:
    return [
        ("Accelerators", lambda d: f"{d.gpus} x {_name(d.accelerator)}"),
        ("Wiring", _system_wiring),
        ("Scale-up GB/s per GPU per direction", lambda d: _q(d.scale_up_bandwidth, "GB/s")),
        (
            "Scale-up TB/s all GPUs both directions",
            lambda d: _q(d.total_scale_up_bandwidth, "TB/s"),
        ),
        (
            "Dense BF16 PFLOP/s",
            lambda d: _num(d.gpus * d.accelerator.peak("bf16").to("PFLOP/s").m),
        ),
        ("Memory TB", lambda d: _num(d.gpus * d.accelerator.memory_capacity.to("TB").m)),
        ("Cooling", lambda d: d.cooling.value),
        ("Max power kW", lambda d: _q(d.max_power, "kW")),
        ("Default fabric", lambda d: _escape(_meta(d).get("default_fabric", _DASH))),
    ]


def _fabric_columns() -> list[Column]:
    return [
        ("Switch", lambda f: _name(f.switch)),
        ("Radix", lambda f: _num(f.switch.ports)),
        ("Port Gb/s", lambda f: _q(f.switch.port_bandwidth, "Gbit/s")),
        ("Oversubscription", lambda f: f"{f.oversubscription:g}:1"),
        ("Rail-optimised", lambda f: "yes" if f.rail_optimized else "no"),
        (
            "In-network reduction",
            lambda f: "yes" if f.sharp and f.switch.supports_reduction else "no",
        ),
        (
            "Max NICs (1 / 2 / 3 tiers)",
            lambda f: " / ".join(_num(_capacity(f, t)) for t in (1, 2, 3)),
        ),
    ]


def _capacity(fabric: Any, tiers: int) -> int:
    from blackwell_model.hardware import fat_tree_capacity

    return fat_tree_capacity(fabric.switch.ports, tiers, fabric.oversubscription)


def _meta(part: Any) -> dict[str, Any]:
    from blackwell_model import catalog

    return catalog.entry_metadata(type(part).catalog_kind, part.name)


COLUMNS: dict[str, Callable[[], list[Column]]] = {
    "accelerator": _accelerator_columns,
    "cpu": _cpu_columns,
    "link": _link_columns,
    "switch": _switch_columns,
    "superchip": _superchip_columns,
    "node": _node_columns,
    "system": _system_columns,
    "fabric": _fabric_columns,
}


# ---------------------------------------------------------------- rendering


def _table_rst(kind: str, parts: Sequence[Any]) -> list[str]:
    columns = COLUMNS[kind]()
    lines = [
        f".. list-table:: {kind.capitalize()} catalog",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "",
        "   * - Name",
    ]
    lines += [f"     - {header}" for header, _ in columns]
    for part in parts:
        lines.append(f"   * - {_escape(part.name)}")
        for _, cell in columns:
            text = cell(part) or _DASH
            lines.append(f"     - {text}")
    lines.append("")
    return lines


def _sources_rst(kind: str, parts: Sequence[Any]) -> list[str]:
    lines = [f".. rubric:: {kind.capitalize()} sources", ""]
    for part in parts:
        aliases = _meta(part).get("aliases", [])
        head = f"**{_escape(part.name)}**"
        if aliases:
            head += " (also: " + ", ".join(_escape(a) for a in aliases) + ")"
        lines += [head, ""]
        if part.notes:
            lines += [_escape(part.notes), ""]
        if part.sources:
            for key, text in part.sources.items():
                lines.append(f"- ``{key}``: {_escape(text)}")
        else:
            lines.append("- no numeric field needs a source")
        lines.append("")
    return lines


def catalog_rst(kind: str, names: Sequence[str] | None = None, sources: bool = True) -> list[str]:
    """reST lines for the table (and sources) of catalog ``kind``.

    Raises
    ------
    ValueError
        If ``kind`` has no table layout.
    """
    from blackwell_model import catalog

    if kind not in COLUMNS:
        raise ValueError(f"no catalog table for kind {kind!r}; valid kinds: {', '.join(COLUMNS)}")
    wanted = list(names) if names else list(catalog.names(kind))
    parts = [catalog.get(kind, n) for n in wanted]
    lines = _table_rst(kind, parts)
    if sources:
        lines += _sources_rst(kind, parts)
    return lines


class CatalogTable(SphinxDirective):
    """``.. bm-catalog-table:: KIND`` renders the catalog entries of KIND."""

    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {  # noqa: RUF012 - docutils reads this class attribute
        "names": directives.unchanged,
        "no-sources": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        kind = self.arguments[0].strip().lower()
        names = [n.strip() for n in self.options.get("names", "").split(",") if n.strip()]
        try:
            lines = catalog_rst(kind, names or None, sources="no-sources" not in self.options)
        except Exception as exc:  # report in the build log, pointing at the directive
            raise self.error(f"bm-catalog-table {kind!r}: {exc}") from None
        container = nodes.container(classes=["bm-catalog", f"bm-catalog-{kind}"])
        source = f"<bm-catalog-table {kind}>"
        self.state.nested_parse(StringList(lines, source=source), self.content_offset, container)
        return [container]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``bm-catalog-table`` directive."""
    app.add_directive("bm-catalog-table", CatalogTable)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
