"""Inference sweeps: tokens/s per user against tokens/s per GPU."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import _PALETTE, _axes, _fmt, _items, _labels, _log_ticks, _style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["latency_throughput"]


def latency_throughput(
    curves: Any,
    *,
    labels: Sequence[str] | None = None,
    latency: Any = None,
    annotate: bool = True,
    ax: Any = None,
) -> Axes:
    """Inference sweeps: output tokens/s per GPU against tokens/s per user.

    Each :class:`~blackwell_model.predict.InferenceCurve` (from
    :func:`~blackwell_model.predict.inference_sweep`) is a line from small
    batches (fast for each user, bottom right) to the largest batch that fits
    (most tokens per GPU, top left).  With ``latency`` the target is a
    vertical line at :math:`1/\\text{TPOT}` and each curve's best point under
    it (:meth:`~blackwell_model.predict.InferenceCurve.best_under`) a star.

    Parameters
    ----------
    curves
        An InferenceCurve, a sequence, or a mapping label -> curve.
    labels
        Curve names (default: a mapping's keys, else ``"curve 1"`` ...).
    latency
        Largest time per output token [s], e.g. ``"50 ms"``.
    annotate
        Write the batch size at the ends of each curve.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        One line per curve (``gid`` ``"curve:<label>"``) and, with
        ``latency``, its best point (``gid`` ``"best:<label>"``); x in
        tokens/s per user [1/s], y in tokens/s per GPU [1/s], both log scale.

    Raises
    ------
    ImportError
        Without matplotlib.
    SpecError
        For a wrong input or a wrong number of labels.
    """
    from ..errors import InfeasibleLayoutError
    from ..predict.inference import InferenceCurve
    from ..units import parse_quantity

    items, keys = _items(curves, InferenceCurve, "curves", "InferenceCurves")
    names = _labels(labels if labels is not None else keys, len(items), lambda i: f"curve {i + 1}")
    ax = _axes(ax, (8.0, 5.4))
    for i, (curve, name) in enumerate(zip(items, names, strict=True)):
        colour = _PALETTE[i % len(_PALETTE)]
        xs = np.asarray(curve.tokens_per_second_per_user, dtype=float)
        ys = np.asarray(curve.tokens_per_second_per_gpu, dtype=float)
        mode = "static" if curve.static else "continuous"
        (line,) = ax.plot(
            xs, ys, "-o", color=colour, ms=3.0, lw=1.6, label=f"{name} ({mode} batching)"
        )
        line.set_gid(f"curve:{name}")
        if annotate and len(curve):
            for j in {0, len(curve) - 1}:
                ax.annotate(
                    f"batch {int(curve.batch[j]):,}",
                    (xs[j], ys[j]),
                    xytext=(5, 4),
                    textcoords="offset points",
                    fontsize=7,
                    color=colour,
                )
        if latency is not None:
            try:
                best = curve.best_under(latency)
            except InfeasibleLayoutError:
                continue
            (star,) = ax.plot(
                [best.tokens_per_second_per_user.m],
                [best.tokens_per_second_per_gpu.m],
                "*",
                color=colour,
                ms=14,
                mec="#222222",
                mew=0.7,
                zorder=4,
            )
            star.set_gid(f"best:{name}")
    if latency is not None:
        lim = parse_quantity(latency, "s", name="latency").m
        ax.axvline(1.0 / lim, color="#d55e00", ls="--", lw=1.0)
        ax.annotate(
            f"TPOT ≤ {_fmt(lim, 's')}",
            (1.0 / lim, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize=8,
            color="#d55e00",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.margins(x=0.08, y=0.08)
    _log_ticks(ax.xaxis)
    _log_ticks(ax.yaxis)
    ax.set_xlabel("interactivity: output tokens/s per user [1/s]")
    ax.set_ylabel("throughput: output tokens/s per GPU [1/s]")
    _style(ax, log=True)
    handles, texts = ax.get_legend_handles_labels()
    if latency is not None:
        from matplotlib.lines import Line2D

        handles.append(
            Line2D([], [], ls="", marker="*", ms=11, color="#999999", mec="#222222", mew=0.7)
        )
        texts.append("most tokens/s per GPU within the target")
    ax.legend(handles, texts, fontsize=8, loc="lower left", framealpha=0.9)
    ax.set_title("Latency-throughput trade-off over batch size", fontsize=11)
    return ax  # type: ignore[no-any-return]
