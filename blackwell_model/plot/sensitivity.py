"""Tornado chart of a :class:`~blackwell_model.trust.Sensitivity`: what to buy more of."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ._common import _PALETTE, _axes, _style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["sensitivity_bars"]

_KIND_COLOR = {"rate": _PALETTE[0], "latency": _PALETTE[1], "efficiency": _PALETTE[2]}
_KIND_LABEL = {"rate": "hardware rate", "latency": "hardware latency", "efficiency": "efficiency"}


def sensitivity_bars(
    sensitivity: Any,
    *,
    top: int = 14,
    kinds: tuple[str, ...] = ("rate", "latency", "efficiency"),
    min_abs: float = 1e-3,
    title: str | None = None,
    ax: Any = None,
) -> Axes:
    """Horizontal bars of the elasticities, the largest benefit at the top.

    A bar of -0.6 on ``memory_bandwidth`` for a step time reads: 10 % more HBM
    bandwidth, about 6 % shorter step.  Colour gives the kind (hardware rate,
    hardware latency, efficiency parameter).

    Parameters
    ----------
    sensitivity
        A :class:`~blackwell_model.trust.Sensitivity` (``report.sensitivity()``),
        or a report (its default sensitivity is computed).
    top
        Most bars drawn.
    kinds
        Which kinds to draw (``"rate"``, ``"latency"``, ``"efficiency"``).
    min_abs
        Bars with a smaller absolute elasticity are left out.
    title
        Title; the metric and its value by default.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per elasticity drawn; each patch's ``gid`` is its kind.

    Raises
    ------
    SpecError
        ``sensitivity`` is neither a Sensitivity nor a report, or nothing is
        left to draw.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rep = bm.predict_training("llama3-8b", bm.catalog.cluster("DGX-H100", gpus=8),
    ...                           bm.Layout(tp=1, dp=8, global_batch=64, seq_len=4096))
    >>> ax = bm.plot.sensitivity_bars(rep.sensitivity())  # doctest: +SKIP
    """
    from ..trust.sensitivity import Sensitivity

    sens = sensitivity
    if not isinstance(sens, Sensitivity):
        if hasattr(sens, "sensitivity") and hasattr(sens, "inputs"):
            sens = sens.sensitivity()
        else:
            raise SpecError(
                f"sensitivity must be a Sensitivity or a report, got {type(sensitivity).__name__}"
            )
    rows = [(k, v) for k, v in sens.ranked() if sens.kinds[k] in kinds and abs(v) >= min_abs][:top]
    if not rows:
        raise SpecError(f"no elasticity of {sens.metric} reaches {min_abs:g}; nothing to draw")
    ax = _axes(ax, (7.0, 0.35 * len(rows) + 1.4))
    y = list(range(len(rows)))[::-1]
    for kind in kinds:
        idx = [i for i, (k, _) in enumerate(rows) if sens.kinds[k] == kind]
        if not idx:
            continue
        bars = ax.barh(
            [y[i] for i in idx],
            [rows[i][1] for i in idx],
            color=_KIND_COLOR[kind],
            label=_KIND_LABEL[kind],
            height=0.7,
        )
        for patch in bars:
            patch.set_gid(kind)
    ax.set_yticks(y, [k for k, _ in rows])
    ax.axvline(0.0, color="#444444", lw=0.8)
    ax.set_xlabel(f"elasticity of {sens.metric}: % change per +1 % of the figure")
    _style(ax)
    ax.legend(loc="best", frameon=False, fontsize="small")
    ax.set_title(title if title is not None else f"{sens.metric} = {sens.value:~.4gP}")
    return ax
