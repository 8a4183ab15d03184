"""The validation scatter: predicted against measured, with the y = x line."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecError
from ._common import _PALETTE, _axes, _style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["predicted_vs_measured"]


def _validation_points(table: Any) -> tuple[list[dict[str, Any]], str]:
    from ..validation.inference import InferenceCaseResult
    from ..validation.training import TrainingRow, ValidationTable

    if table is None:
        from ..validation.training import validation_table

        table = validation_table()
    if isinstance(table, ValidationTable):
        rows: list[Any] = list(table.rows)
    elif isinstance(table, TrainingRow | InferenceCaseResult):
        rows = [table]
    elif isinstance(table, Iterable) and not isinstance(table, str | bytes):
        rows = list(table)
    else:
        raise SpecError(
            "table must be a ValidationTable, or TrainingRows or InferenceCaseResults, got "
            f"{type(table).__name__}"
        )
    points = []
    metrics: dict[str, None] = {}
    for r in rows:
        if isinstance(r, TrainingRow):
            metrics["tokens/s per GPU"] = None
            points.append(
                {
                    "measured": r.measured,
                    "predicted": r.predicted,
                    "hardware": r.hardware,
                    "group": r.group,
                    "id": r.id,
                }
            )
        elif isinstance(r, InferenceCaseResult):
            metric = "time to first token [s]" if r.case.metric == "ttft" else "tokens/s per GPU"
            metrics[metric] = None
            points.append(
                {
                    "measured": r.case.measured,
                    "predicted": r.predicted,
                    "hardware": r.case.system,
                    "group": "TTFT" if r.case.metric == "ttft" else "throughput",
                    "id": r.case.id,
                }
            )
        else:
            raise SpecError(
                f"table must hold TrainingRows or InferenceCaseResults, got a {type(r).__name__}"
            )
    if not points:
        raise SpecError("table holds no row; nothing to draw")
    return points, "; ".join(metrics)


_GROUP_LABEL = {
    "narayanan": "Narayanan 2021",
    "narayanan-t2": "Narayanan 2021 (Table 2)",
    "korthikanti": "Korthikanti 2022",
    "megatron-core": "Megatron-Core",
    "nemo": "NeMo",
    "nemo-longseq": "NeMo long sequence",
}
_GROUP_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "h", "<", ">")


def predicted_vs_measured(
    table: Any = None,
    *,
    band: float = 0.2,
    title: str | None = None,
    ax: Any = None,
) -> Axes:
    """Log-log scatter of predicted against measured values, with y = x and a ±band.

    Colour gives the hardware (system), marker shape the source (the
    training case's group; throughput or TTFT for inference cases).  The
    title gives the median absolute error and the share of points within
    the band.

    Parameters
    ----------
    table
        A :class:`~blackwell_model.validation.ValidationTable` (default:
        :func:`~blackwell_model.validation.validation_table` with the shipped
        efficiencies), or TrainingRows, or
        :class:`~blackwell_model.validation.inference.InferenceCaseResult`
        (from :func:`~blackwell_model.validation.inference.evaluate_inference`).
    band
        Relative error drawn as dotted lines around y = x (0.2: ±20 %).
    title
        Title; a summary of the errors by default.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        One scatter collection (``gid`` ``"cases"``) per hardware and source;
        together they hold one point per row.

    Raises
    ------
    ImportError
        Without matplotlib.
    SpecError
        For an unsupported table or a band outside (0, 1).
    """
    if not (isinstance(band, int | float) and 0.0 < band < 1.0):
        raise SpecError(f"band must be a relative error in (0, 1), got {band!r}")
    points, metric = _validation_points(table)
    ax = _axes(ax, (6.8, 6.2))
    hardware = list(dict.fromkeys(p["hardware"] for p in points))
    groups = list(dict.fromkeys(p["group"] for p in points))
    for h_i, hw in enumerate(hardware):
        for g_i, grp in enumerate(groups):
            sel = [p for p in points if p["hardware"] == hw and p["group"] == grp]
            if not sel:
                continue
            sc = ax.scatter(
                [p["measured"] for p in sel],
                [p["predicted"] for p in sel],
                marker=_GROUP_MARKERS[g_i % len(_GROUP_MARKERS)],
                color=_PALETTE[h_i % len(_PALETTE)],
                s=34,
                alpha=0.8,
                edgecolors="white",
                linewidths=0.5,
                zorder=3,
            )
            sc.set_gid("cases")
    vals = [v for p in points for v in (p["measured"], p["predicted"]) if v > 0]
    lo, hi = min(vals) * 0.6, max(vals) * 1.6
    ax.plot([lo, hi], [lo, hi], color="#222222", lw=0.9, zorder=2)
    for f in (1.0 - band, 1.0 + band):
        ax.plot([lo, hi], [lo * f, hi * f], color="#555555", lw=0.7, ls=":", zorder=2)
    ax.fill_between(
        [lo, hi], [lo * (1 - band), hi * (1 - band)], [lo * (1 + band), hi * (1 + band)],
        color="#999999", alpha=0.12, lw=0, zorder=1,
    )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(f"measured {metric}")
    ax.set_ylabel(f"predicted {metric}")
    _style(ax, log=True)
    from matplotlib.lines import Line2D

    hw_handles = [
        Line2D([], [], ls="", marker="o", color=_PALETTE[i % len(_PALETTE)], label=h)
        for i, h in enumerate(hardware)
    ]
    grp_handles = [
        Line2D(
            [],
            [],
            ls="",
            marker=_GROUP_MARKERS[i % len(_GROUP_MARKERS)],
            color="#666666",
            label=_GROUP_LABEL.get(g, g),
        )
        for i, g in enumerate(groups)
    ]
    band_handle = Line2D([], [], color="#555555", ls=":", lw=0.7, label=f"±{band:.0%}")
    first = ax.legend(
        handles=[*hw_handles, band_handle], fontsize=7.5, loc="upper left", title="hardware",
        title_fontsize=8, framealpha=0.9,
    )  # fmt: skip
    ax.add_artist(first)
    ax.legend(
        handles=grp_handles, fontsize=7.5, loc="lower right", title="source",
        title_fontsize=8, framealpha=0.9,
    )  # fmt: skip
    errs = np.array([abs(p["predicted"] / p["measured"] - 1.0) for p in points])
    if title is None:
        title = (
            f"{len(points)} cases: median |error| {float(np.median(errs)):.1%}, "
            f"{float(np.mean(errs <= band + 1e-12)):.0%} within ±{band:.0%}"
        )
    ax.set_title(title, fontsize=10)
    return ax  # type: ignore[no-any-return]
