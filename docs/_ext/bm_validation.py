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

__all__ = ["ValidationTable", "excluded_rst", "setup", "summary_rst", "table_rst"]


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
        "   :widths: 34 12 16 6 10 10 8",
        "",
        "   * - case",
        "     - system",
        "     - model",
        "     - GPUs",
        "     - measured",
        "     - predicted",
        "     - error",
    ]
    for r in table.rows:
        lines += [
            f"   * - {_esc(r.id)}",
            f"     - {_esc(r.hardware)}",
            f"     - {_esc(r.model)}",
            f"     - {r.gpus:,}",
            f"     - {_num(r.measured)}",
            f"     - {_num(r.predicted)}",
            f"     - {r.error:+.1%}",
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
        "",
    ]


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
    }

    def run(self) -> list[nodes.Node]:
        from blackwell_model.validation import validation_table

        table = validation_table()
        if "summary-only" in self.options:
            lines = summary_rst(table)
        elif "excluded" in self.options:
            lines = excluded_rst(table)
        else:
            lines = [*table_rst(table), *summary_rst(table)]
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
