"""Sphinx extension: the predicted-vs-measured table of the public training cases.

Usage in a reST page::

    .. bm-validation-table::

renders, at build time, one row per predicted training case (id, hardware,
model, GPUs, measured and predicted tokens/s per GPU, error), the summary
statistics, and the excluded cases with their reasons.  Options:

``:summary-only:``
    Only the summary statistics.
``:excluded:``
    Only the excluded cases, with their reasons.
``:logo:``
    The stored leave-one-group-out table
    (:func:`blackwell_model.validation.calibrate.load_logo`).
``:presets:``
    The framework presets and their sources.

When the build starts the extension also draws
``_static/validation_scatter.png`` with
:func:`blackwell_model.plot.predicted_vs_measured`, the figure of
``examples/validation_scatter.py`` (skipped without matplotlib).  The table comes from :func:`blackwell_model.validation.validation_table` with
the shipped (calibrated) defaults, so it always matches the code.  Add
``docs/_ext`` to ``sys.path`` and ``"bm_validation"`` to ``extensions`` in
``conf.py``.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

__all__ = [
    "ValidationTable",
    "excluded_rst",
    "logo_rst",
    "presets_rst",
    "setup",
    "summary_rst",
    "table_rst",
]


def _esc(text: Any) -> str:
    out = str(text)
    for ch in ("\\", "*", "`", "|", "_"):
        out = out.replace(ch, "\\" + ch)
    return out


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def table_rst(table: Any) -> list[str]:
    """reST ``list-table`` lines of every row of a ValidationTable."""
    lines = [
        ".. list-table:: Predicted vs measured training throughput (tokens/s per GPU)",
        "   :header-rows: 1",
        "   :widths: 30 11 14 5 9 9 7 9",
        "",
        "   * - case",
        "     - system",
        "     - model",
        "     - GPUs",
        "     - measured",
        "     - predicted",
        "     - error",
        "     - memory (of HBM)",
    ]
    for r in table.rows:
        mem = (
            f"{r.memory_B / 1e9:,.0f} GB ({r.memory_B / r.capacity_B:.0%})"
            if r.fits
            else f"**does not fit**: {r.memory_B / 1e9:,.0f} GB"
        )
        lines += [
            f"   * - {_esc(r.id)}",
            f"     - {_esc(r.hardware)}",
            f"     - {_esc(r.model)}",
            f"     - {r.gpus:,}",
            f"     - {_num(r.measured)}",
            f"     - {_num(r.predicted)}",
            f"     - {r.error:+.1%}",
            f"     - {mem}",
        ]
    return [*lines, ""]


def summary_rst(table: Any) -> list[str]:
    """reST bullet list of the summary statistics."""
    s = table.summary()
    return [
        f"- cases predicted: {len(table.rows)}; excluded: {len(table.excluded)}",
        f"- median \\|error\\| of tokens/s per GPU: {s['median_abs_error']:.1%} (bound 10 %)",
        f"- mean \\|error\\|: {s['mean_abs_error']:.1%}",
        f"- within 10 %: {s['within_10']:.0%}; within 20 %: {s['within_20']:.0%} (bound 80 %);"
        f" within 35 %: {s['within_35']:.0%}",
        f"- Korthikanti et al. 2022, 8 A100 step times: mean \\|error\\| "
        f"{s['korthikanti_mean_step_error']:.1%} (bound 5 %)",
        f"- dense models: {len(table.dense.rows)} cases, median \\|error\\| "
        f"{table.dense.median_abs_error:.1%} (bound 6 %), bias {table.dense.bias:+.1%}",
        f"- MoE models: {len(table.moe.rows)} cases, median \\|error\\| "
        f"{table.moe.median_abs_error:.1%} (bound 15 %), bias {table.moe.bias:+.1%} "
        "(bound 8 %)",
        f"- published layouts the memory model rejects: {len(table.not_fitting)}"
        + (
            " (" + ", ".join(_esc(r.id) for r in table.not_fitting) + ")"
            if table.not_fitting
            else ""
        ),
        "",
    ]


def logo_rst() -> list[str]:
    """reST list-table of the stored leave-one-group-out records."""
    from blackwell_model.validation.calibrate import load_logo

    lines = [
        ".. list-table:: Leave one group out: fit without the group, predict it",
        "   :header-rows: 1",
        "   :widths: 34 8 14 14 14 14",
        "",
        "   * - held-out group",
        "     - cases",
        "     - median \\|error\\|, fit on all",
        "     - median \\|error\\|, held out",
        "     - bias, fit on all",
        "     - bias, held out",
    ]
    for r in load_logo():
        lines += [
            f"   * - {_esc(r['description'])}",
            f"     - {int(float(r['cases']))}",
            f"     - {float(r['median_in_sample']):.1%}",
            f"     - {float(r['median_held_out']):.1%}",
            f"     - {float(r['bias_in_sample']):+.1%}",
            f"     - {float(r['bias_held_out']):+.1%}",
        ]
    return [*lines, ""]


def presets_rst() -> list[str]:
    """reST definition list of the framework presets, their settings and sources."""
    from blackwell_model.validation.training import FRAMEWORK_PRESETS, PRESET_SOURCES

    lines: list[str] = []
    for name, fields in FRAMEWORK_PRESETS.items():
        shown = ", ".join(f"``{k}={v!r}``" for k, v in fields.items() if k != "memory")
        if "memory" in fields:
            shown += ", ``memory=MemoryModel.megatron_2022()``"
        lines += [f"``{name}``", f"   {shown}; source: {_esc(PRESET_SOURCES[name])}", ""]
    return lines


def excluded_rst(table: Any) -> list[str]:
    """reST bullet list of the excluded cases and their reasons."""
    lines = []
    for e in table.excluded:
        lines.append(f"- **{_esc(e.id)}** ({_esc(e.phase)}): {_esc(e.reason)}")
    return [*lines, ""]


class ValidationTable(SphinxDirective):
    """The ``bm-validation-table`` directive."""

    has_content = False
    option_spec = {  # noqa: RUF012 - docutils API
        "summary-only": directives.flag,
        "excluded": directives.flag,
        "logo": directives.flag,
        "presets": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        from blackwell_model.validation import validation_table

        if "logo" in self.options:
            return self._parse(logo_rst())
        if "presets" in self.options:
            return self._parse(presets_rst())
        table = validation_table()
        if "summary-only" in self.options:
            lines = summary_rst(table)
        elif "excluded" in self.options:
            lines = excluded_rst(table)
        else:
            lines = [*table_rst(table), *summary_rst(table)]
        return self._parse(lines)

    def _parse(self, lines: list[str]) -> list[nodes.Node]:
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(lines, source="bm-validation-table"), 0, node)
        return list(node.children)


def _make_plot(app: Sphinx) -> None:
    """Draw ``_static/validation_scatter.png`` with :func:`blackwell_model.plot.predicted_vs_measured`."""
    from pathlib import Path

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # matplotlib (the plot extra) missing: no figure
        return
    from blackwell_model.plot import predicted_vs_measured
    from blackwell_model.validation import validation_table

    out = Path(app.srcdir) / "_static" / "validation_scatter.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.8, 6.2), layout="constrained")
    predicted_vs_measured(validation_table(), ax=ax)
    fig.savefig(out, dpi=150)
    plt.close(fig)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directive and draw the scatter plot when the build starts."""
    app.add_directive("bm-validation-table", ValidationTable)
    app.connect("builder-inited", _make_plot)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
