"""Stacked bars of where the time of a training or decode step goes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecError
from ._common import (
    _PALETTE,
    _PART_COLOR,
    _PART_LABEL,
    _axes,
    _fmt,
    _items,
    _labels,
    _layout_tag,
    _si,
    _style,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["breakdown_bars"]


def _breakdown_rows(
    reports: Any, top: int
) -> tuple[list[dict[str, float]], list[str], str, list[str], str]:
    """Parts per bar [s], default labels, x-axis quantity, notes per bar and a title."""
    from ..predict.inference import InferenceReport
    from ..predict.training import TrainingReport
    from ..study.search import SearchResult

    if isinstance(reports, SearchResult):
        from ..solvers.training import BREAKDOWN_KEYS

        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise SpecError(f"top must be an integer >= 1 rows, got {top!r}")
        n = min(top, len(reports))
        if n == 0:
            raise SpecError(
                f"reports is a SearchResult with no feasible row ({reports.model_name} on "
                f"{reports.cluster_name}); nothing to draw"
            )
        rows = [{k: float(reports.columns[f"{k}_s"][i]) for k in BREAKDOWN_KEYS} for i in range(n)]
        labels = [f"#{i + 1} {_layout_tag(reports.layout(i))}" for i in range(n)]
        notes = [f"MFU {float(reports.columns['mfu'][i]):.0%}" for i in range(n)]
        title = f"{reports.model_name} on {reports.gpus:,} GPUs of {reports.cluster_name}"
        return rows, labels, "step time", notes, title
    items, names = _items(
        reports,
        (TrainingReport, InferenceReport),
        "reports",
        "TrainingReports, InferenceReports or a SearchResult",
    )
    kinds = {type(r) for r in items}
    if len(kinds) > 1:
        raise SpecError(
            "reports must be all TrainingReports or all InferenceReports (a step time and a "
            "time per output token do not share an axis), got both"
        )
    training = isinstance(items[0], TrainingReport)
    rows = []
    for r in items:
        parts = r.breakdown if training else r.decode_breakdown
        rows.append({k: float(v.to("s").m) for k, v in parts.items()})
    if names is None:
        base = [f"{r.model_name}\n{r.cluster_name}" for r in items]
        if len(set(base)) < len(base):
            base = [f"{b}\n{_layout_tag(r.layout)}" for b, r in zip(base, items, strict=True)]
            if not training:
                base = [f"{b} batch {r.batch}" for b, r in zip(base, items, strict=True)]
        names = base
    if training:
        notes = [f"MFU {r.mfu:.0%}" for r in items]
    else:
        notes = [f"{r.output_tokens_per_second_per_gpu.m:,.0f} tokens/s per GPU" for r in items]
    models = {r.model_name for r in items}
    title = models.pop() if len(models) == 1 else ""
    what = "step time" if training else "time per output token"
    return rows, [str(s) for s in names], what, notes, title


def breakdown_bars(
    reports: Any,
    *,
    labels: Sequence[str] | None = None,
    normalize: bool = False,
    top: int = 5,
    ax: Any = None,
) -> Axes:
    """Stacked horizontal bars of where the time of a step goes.

    One bar per report: the parts of
    :attr:`~blackwell_model.predict.TrainingReport.breakdown` (compute,
    recomputation, each exposed communication, pipeline bubble, optimizer,
    overhead) or of an inference report's
    :attr:`~blackwell_model.predict.InferenceReport.decode_breakdown`, laid
    end to end so that each bar's length is the step time (time per output
    token), which is written at its end.  Parts that are zero in every bar
    are left out of the legend.

    Parameters
    ----------
    reports
        A :class:`~blackwell_model.predict.TrainingReport` or
        :class:`~blackwell_model.predict.InferenceReport`, a sequence of
        one kind, a mapping label -> report, or a
        :class:`~blackwell_model.study.SearchResult` (its first ``top`` rows).
    labels
        Bar labels (default: model and cluster, plus the layout when those
        repeat; a mapping's keys).
    normalize
        Show fractions of each bar's total [%] instead of times.
    top
        Rows of a SearchResult to show.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        Bars top to bottom in the order given; each part's bars are one
        ``BarContainer`` in ``ax.containers`` labelled with the part, whose
        rectangles have ``gid`` ``"part:<key>"``; widths are in the unit
        named on the x-axis (s, ms or µs) or in %.

    Raises
    ------
    ImportError
        Without matplotlib.
    SpecError
        For mixed or unsupported inputs or a wrong number of labels.
    """
    rows, default_labels, what, notes, title = _breakdown_rows(reports, top)
    names = _labels(labels, len(rows), lambda i: default_labels[i])
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    keys = [k for k in keys if any(row.get(k, 0.0) > 0.0 for row in rows)]
    totals = np.array([sum(row.values()) for row in rows])
    if normalize:
        div, unit = 1.0, "%"
        scale = 100.0 / np.where(totals > 0, totals, 1.0)
    else:
        div, unit = _si(totals, "s")
        scale = np.full(len(rows), 1.0 / div)
    ax = _axes(ax, (9.0, 1.6 + 0.55 * len(rows)))
    y = np.arange(len(rows))
    left = np.zeros(len(rows))
    for j, key in enumerate(keys):
        widths = np.array([row.get(key, 0.0) for row in rows]) * scale
        color = _PART_COLOR.get(key, _PALETTE[j % len(_PALETTE)])
        bars = ax.barh(
            y,
            widths,
            left=left,
            height=0.62,
            color=color,
            edgecolor="white",
            linewidth=0.6,
            label=_PART_LABEL.get(key, key.replace("_", " ")),
        )
        for patch in bars:
            patch.set_gid(f"part:{key}")
        left = left + widths
    ax.set_yticks(y, names, fontsize=8.5)
    ax.invert_yaxis()
    end = float(left.max()) if len(left) else 1.0
    for i, total in enumerate(totals):
        text = f"{total / div:.3g} {unit}" if not normalize else _fmt(float(total), "s")
        text += f"  ({notes[i]})"
        ax.annotate(
            text,
            (left[i], y[i]),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8.5,
        )
    ax.set_xlim(0, end * 1.3 if end > 0 else 1.0)
    if normalize:
        ax.set_xticks(np.arange(0, 101, 20))
    ax.set_xlabel(f"{what} share [%]" if normalize else f"{what} [{unit}]")
    _style(ax)
    ax.grid(False, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(f"{title + ': ' if title else ''}where the {what} goes", fontsize=11)
    return ax  # type: ignore[no-any-return]
