"""Shared helpers of the figure modules: matplotlib import, axes, styles, SI labels (private)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SpecError

__all__: list[str] = []

_INSTALL = 'pip install "blackwell_model[plot]"'

#: Colours of the step-time parts, fixed so that every figure agrees.
_PART_COLOR = {
    # training (BREAKDOWN_KEYS)
    "compute": "#2f6fb3",
    "recompute": "#8db7e3",
    "tp_comm": "#d9482b",
    "cp_comm": "#f28e2b",
    "ep_comm": "#e9c33f",
    "pp_comm": "#a66fa0",
    "offload": "#c9a0dc",
    "pipeline_bubble": "#b8b0a8",
    "dp_comm": "#4e9a45",
    "optimizer": "#6bb7b0",
    "overhead": "#8c6d57",
    # inference decode (DECODE_BREAKDOWN_KEYS)
    "weights": "#2f6fb3",
    "kv_cache": "#8db7e3",
    "elementwise": "#6bb7b0",
    "prefill": "#b8b0a8",
}
_PART_LABEL = {
    "tp_comm": "TP comm.",
    "cp_comm": "CP comm.",
    "ep_comm": "EP comm.",
    "pp_comm": "PP comm.",
    "offload": "host offload",
    "dp_comm": "DP comm. (exposed)",
    "pipeline_bubble": "pipeline bubble",
    "kv_cache": "KV-cache reads",
    "weights": "weight reads",
    "elementwise": "element-wise",
    "prefill": "interleaved prefill",
}
# Colour-blind-safe qualitative palette (Okabe-Ito, then Tableau).
_PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#d55e00",
    "#cc79a7",
    "#56b4e9",
    "#f0e442",
    "#000000",
    "#59a14f",
    "#9c755f",
    "#bab0ac",
    "#76b7b2",
)


def _pyplot() -> Any:
    """Import and return ``matplotlib.pyplot`` or raise an ImportError naming the extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"blackwell_model.plot needs matplotlib; install the 'plot' extra: {_INSTALL}"
        ) from exc
    return plt


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    elif not hasattr(ax, "figure") or not hasattr(ax, "plot"):
        raise SpecError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _style(ax: Any, *, log: bool = False) -> None:
    ax.grid(True, which="major", color="#d0d0d0", lw=0.6)
    if log:
        ax.grid(True, which="minor", color="#ececec", lw=0.4)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _si(values: npt.ArrayLike, unit: str) -> tuple[float, str]:
    """A power-of-1000 divisor and prefixed unit so that typical values read 1-1000."""
    arr = np.abs(np.asarray(values, dtype=float))
    arr = arr[np.isfinite(arr) & (arr > 0)]
    if arr.size == 0:
        return 1.0, unit
    ref = float(np.median(arr))
    prefixes: tuple[tuple[float, str], ...] = (
        (1e-9, "n"),
        (1e-6, "µ"),
        (1e-3, "m"),
        (1.0, ""),
        (1e3, "k"),
        (1e6, "M"),
        (1e9, "G"),
        (1e12, "T"),
        (1e15, "P"),
    )
    if unit == "s":  # no ks, Ms for times
        prefixes = prefixes[:4]
    choice = prefixes[0]
    for p in prefixes:
        if ref >= p[0] * 0.999:
            choice = p
    return choice[0], f"{choice[1]}{unit}"


def _fmt(value: float, unit: str) -> str:
    """``value`` [``unit``] with an SI prefix and 3 significant digits."""
    div, u = _si([value], unit)
    return f"{value / div:.3g} {u}"


def _labels(given: Any, n: int, default: Callable[[int], str]) -> list[str]:
    if given is None:
        return [default(i) for i in range(n)]
    out = [str(x) for x in given]
    if len(out) != n:
        raise SpecError(f"labels must give one label per item ({n}), got {len(out)}")
    return out


def _items(obj: Any, kind: type | tuple[type, ...], name: str, what: str) -> tuple[list[Any], Any]:
    """Normalise one item, a sequence or a mapping label -> item into (items, labels)."""
    if isinstance(obj, kind):
        return [obj], None
    if isinstance(obj, Mapping):
        items, labels = list(obj.values()), list(obj)
    elif isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
        items, labels = list(obj), None
    else:
        raise SpecError(f"{name} must be {what}, got {type(obj).__name__}")
    if not items:
        raise SpecError(f"{name} must hold at least one item ({what}), got none")
    for it in items:
        if not isinstance(it, kind):
            raise SpecError(f"{name} must hold only {what}, got a {type(it).__name__}")
    return items, labels


def _stagger(
    ax: Any, xy: Sequence[tuple[float, float]], texts: Sequence[str], *, fontsize: float = 7.0
) -> None:
    """Annotate points with labels to their right, pushed down so that they do not overlap."""
    if not texts:
        return
    ax.autoscale_view()
    to_pt = 72.0 / ax.figure.dpi
    disp = ax.transData.transform(np.asarray(xy, dtype=float)) * to_pt
    gap = 1.3 * fontsize * max(t.count("\n") + 1 for t in texts)
    order = np.argsort(-disp[:, 1])
    last = math.inf
    for i in order:
        y = min(float(disp[i, 1]), last - gap)
        last = y
        dy = y - float(disp[i, 1])
        ax.annotate(
            texts[i],
            xy[i],
            xytext=(10.0, dy - 3.0),
            textcoords="offset points",
            fontsize=fontsize,
            color="#333333",
            va="center",
            arrowprops={
                "arrowstyle": "-",
                "lw": 0.5,
                "color": "#888888",
                "shrinkA": 0,
                "shrinkB": 3,
            },
            zorder=5,
        )


def _log_ticks(axis: Any) -> None:
    """Log ticks labelled as plain numbers (``0.5``, ``20``), denser on short ranges."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.axes.autoscale_view()
    lo, hi = sorted(axis.get_view_interval())
    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 3.0
    subs: tuple[float, ...] = (1.0,)
    if decades < 1.5:
        subs = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    elif decades < 4.0:
        subs = (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10.0, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.6g}" if v < 1e5 else f"{v:.0e}"))
    axis.set_minor_formatter(NullFormatter())


def _spread(ax: Any, xy: Sequence[tuple[float, float]], limit: int) -> list[int]:
    """Indices of at most ``limit`` points of ``xy`` at least 14 pt apart on screen (ends first)."""
    ax.autoscale_view()
    pts = ax.transData.transform(np.asarray(xy, dtype=float)) * (72.0 / ax.figure.dpi)
    n = len(xy)
    order = [0, n - 1, *range(1, n - 1)] if n > 1 else [0]
    chosen: list[int] = []
    for k in order:
        if len(chosen) >= limit:
            break
        if all(np.hypot(*(pts[k] - pts[c])) >= 14.0 for c in chosen):
            chosen.append(k)
    return sorted(chosen)


def _layout_tag(layout: Any) -> str:
    """Short text of a layout: ``"tp8 pp4 dp16 mb1 selective"`` (cp, ep, vpp when > 1)."""
    parts = []
    for key in ("tp", "cp", "pp", "vpp", "dp", "ep"):
        value = getattr(layout, key, None)
        if value is not None and (value > 1 or key in ("tp", "pp", "dp")):
            parts.append(f"{key}{value}")
    mb = getattr(layout, "micro_batch", None)
    if mb is not None:
        parts.append(f"mb{mb}")
    rc = getattr(layout, "recompute", None)
    if rc is not None and getattr(rc, "value", rc) != "none":
        parts.append(str(getattr(rc, "value", rc)))
    return " ".join(parts)
