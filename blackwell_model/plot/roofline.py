"""Roofline charts: accelerators' ceilings with a model's operators placed on them."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecError
from ._common import _PALETTE, _axes, _stagger, _style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..hardware.chip import Accelerator

__all__ = ["roofline_chart"]

_KIND_MARKER = {
    "gemm": "o",
    "moe_gemm": "h",
    "attention": "D",
    "elementwise": "v",
    "norm": "^",
    "embedding": "s",
    "loss": "P",
}
_KIND_COLOR = {
    "gemm": "#0072b2",
    "moe_gemm": "#56b4e9",
    "attention": "#009e73",
    "elementwise": "#d55e00",
    "norm": "#cc79a7",
    "embedding": "#e69f00",
    "loss": "#8c6d57",
}
_KIND_LABEL = {
    "gemm": "GEMM",
    "moe_gemm": "MoE GEMM",
    "attention": "attention",
    "elementwise": "element-wise",
    "norm": "norm",
    "embedding": "embedding",
    "loss": "loss / softmax",
}


def _accelerator(value: Any) -> Accelerator:
    from ..hardware.chip import Accelerator

    if isinstance(value, Accelerator):
        return value
    if isinstance(value, str):
        from .. import catalog

        acc: Accelerator = catalog.accelerator(value)
        return acc
    raise SpecError(
        f"accelerator must be an Accelerator or a catalog name such as 'B200', got "
        f"{type(value).__name__} {value!r}"
    )


def _operators(
    operators: Any,
    model: Any,
    *,
    phase: Any,
    batch: int,
    seq_len: int | None,
    kv_len: int | None,
    precision: Any,
    tp: int,
    cp: int,
    ep: int,
) -> list[Any]:
    from ..workload.operators import Operator, model_operators

    if operators is not None and model is not None:
        raise SpecError("give operators= or model=, not both")
    if model is not None:
        if isinstance(model, str):
            from .. import catalog

            model = catalog.model(model)
        operators = model_operators(
            model,
            phase=phase,
            batch=batch,
            seq_len=seq_len,
            kv_len=kv_len,
            precision=precision,
            tp=tp,
            cp=cp,
            ep=ep,
        )
    if operators is None:
        return []
    if isinstance(operators, Operator):
        return [operators]
    ops = list(operators)
    for op in ops:
        if not isinstance(op, Operator):
            raise SpecError(
                f"operators must hold Operators (see blackwell_model.workload."
                f"layer_operators), got a {type(op).__name__}"
            )
    return ops


def roofline_chart(
    accelerator: Any,
    precision: Any = "bf16",
    *,
    operators: Any = None,
    model: Any = None,
    phase: Any = "forward",
    batch: int = 1,
    seq_len: int | None = None,
    kv_len: int | None = None,
    tp: int = 1,
    cp: int = 1,
    ep: int = 1,
    efficiency: Any = None,
    annotate: int = 4,
    intensity_range: tuple[float, float] | None = None,
    ax: Any = None,
) -> Axes:
    """Log-log roofline of one or several accelerators, with operators placed on it.

    For each accelerator: the ideal roofline :math:`\\min(P, B I)` (solid),
    its ridge point :math:`I^* = P / B` (marked, with a dotted drop line) and,
    when ``efficiency`` is an :class:`~blackwell_model.solvers.roofline.Efficiency`,
    the achievable roofline :math:`\\min(\\eta_{gemm} P, \\eta_{hbm} B I)`
    (dashed).  Each distinct operator is placed at its arithmetic intensity
    :math:`I` and the FLOP/s the :func:`~blackwell_model.solvers.roofline`
    solver predicts it achieves; marker shape gives its kind, marker area
    its share of the pass's time.

    Parameters
    ----------
    accelerator
        An :class:`~blackwell_model.hardware.Accelerator`, a catalog name
        (``"H100-SXM"``), or a sequence of them to overlay.
    precision
        Precision of the drawn ceilings and of the model's GEMMs (operators
        are priced at their own precision).
    operators
        Operators to place (an iterable such as
        :func:`~blackwell_model.workload.layer_operators`'s result or a
        :class:`~blackwell_model.workload.ModelOperators`).
    model
        Instead of ``operators``: a :class:`~blackwell_model.workload.Transformer`
        or its catalog name; its operators come from
        :func:`~blackwell_model.workload.model_operators` with ``phase``,
        ``batch`` [sequences], ``seq_len`` [tokens], ``kv_len`` [tokens],
        ``tp``, ``cp`` and ``ep``.
    efficiency
        :class:`~blackwell_model.solvers.roofline.Efficiency` (default: the
        solver's :data:`~blackwell_model.solvers.roofline.DEFAULT_EFFICIENCY`)
        or any callable ``op -> (compute_fraction, memory_fraction)`` (then no
        achievable line is drawn).
    annotate
        Name the ``annotate`` operators that take the most time.
    intensity_range
        x-axis limits [FLOP/B]; by default they cover the ridge points and
        the operators.
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        x is arithmetic intensity [FLOP/B], y is performance [TFLOP/s].
        Artists carry ``gid`` ``"roofline:<name>"``, ``"achievable:<name>"``,
        ``"ridge:<name>"`` and ``"operators:<name>:<kind>"``.

    Raises
    ------
    ImportError
        Without matplotlib.
    SpecError
        For a wrong accelerator, operator or argument combination.
    UnsupportedPrecisionError
        If an accelerator has no peak at ``precision``.
    """
    from ..hardware.precision import Precision
    from ..solvers.roofline import DEFAULT_EFFICIENCY, Efficiency, roofline

    if isinstance(accelerator, str) or not isinstance(accelerator, Iterable):
        accs = [_accelerator(accelerator)]
    else:
        accs = [_accelerator(a) for a in accelerator]
        if not accs:
            raise SpecError("accelerator must name at least one accelerator, got none")
    p = Precision.parse(precision)
    ops = _operators(
        operators,
        model,
        phase=phase,
        batch=batch,
        seq_len=seq_len,
        kv_len=kv_len,
        precision=p,
        tp=tp,
        cp=cp,
        ep=ep,
    )
    if isinstance(annotate, bool) or not isinstance(annotate, int) or annotate < 0:
        raise SpecError(f"annotate must be an integer >= 0 operators, got {annotate!r}")
    eff = DEFAULT_EFFICIENCY if efficiency is None else efficiency
    ax = _axes(ax, (8.0, 5.6))
    tera = 1e12

    # distinct operators with their multiplicity (identical layers share ops)
    counts: dict[Any, int] = {}
    for op in ops:
        if op.flops > 0.0 and op.bytes > 0.0:
            counts[op] = counts.get(op, 0) + 1
    ridges = [a.peak_flops_per_s(p) / float(a.memory_bandwidth.m) for a in accs]
    ais = [op.arithmetic_intensity for op in counts]
    if intensity_range is None:
        lo = min([r / 30.0 for r in ridges] + [a / 1.5 for a in ais])
        hi = max([r * 30.0 for r in ridges] + [a * 1.5 for a in ais])
        lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
    else:
        lo, hi = (float(v) for v in intensity_range)
        if not 0.0 < lo < hi:
            raise SpecError(
                f"intensity_range must be (low, high) FLOP/B with 0 < low < high, got "
                f"{intensity_range!r}"
            )
    x = np.geomspace(lo, hi, 400)
    several = len(accs) > 1
    kinds_seen: dict[str, None] = {}
    notes: list[tuple[list[tuple[float, float]], list[str]]] = []
    y_min = math.inf
    y_max = 0.0
    for i, (acc, ridge) in enumerate(zip(accs, ridges, strict=True)):
        color = _PALETTE[i % len(_PALETTE)] if several else "#222222"
        peak = acc.peak_flops_per_s(p)
        bw = float(acc.memory_bandwidth.m)
        (line,) = ax.plot(
            x,
            np.minimum(peak, bw * x) / tera,
            color=color,
            lw=2.0,
            label=f"{acc.name} {p.value}: {peak / tera:,.0f} TFLOP/s, {bw / 1e12:.3g} TB/s",
        )
        line.set_gid(f"roofline:{acc.name}")
        y_min = min(y_min, bw * lo / tera)
        y_max = max(y_max, peak / tera)
        if isinstance(eff, Efficiency):
            (dash,) = ax.plot(
                x,
                np.minimum(eff.gemm_max * peak, eff.hbm * bw * x) / tera,
                color=color,
                lw=1.2,
                ls="--",
                label=f"{acc.name} achievable (GEMM {eff.gemm_max:.0%} of peak, "
                f"{eff.hbm:.0%} of HBM)",
            )
            dash.set_gid(f"achievable:{acc.name}")
        (mark,) = ax.plot([ridge], [peak / tera], "o", ms=7, mfc="white", mec=color, mew=1.8)
        mark.set_gid(f"ridge:{acc.name}")
        ax.axvline(ridge, color=color, lw=0.8, ls=":", alpha=0.8)
        ax.annotate(
            f"ridge {ridge:,.0f} FLOP/B",
            (ridge, peak / tera),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
            color=color,
        )
        if not counts:
            continue
        results = [(op, roofline(op, acc, efficiency=efficiency)) for op in counts]
        total = sum(r.time_s * counts[op] for op, r in results) or 1.0
        by_kind: dict[str, list[tuple[Any, Any]]] = {}
        for op, r in results:
            by_kind.setdefault(op.kind.value, []).append((op, r))
        for kind, rows in by_kind.items():
            kinds_seen[kind] = None
            xs = [r.arithmetic_intensity for _, r in rows]
            ys = [r.achieved_flops_per_s / tera for _, r in rows]
            share = np.array([r.time_s * counts[op] / total for op, r in rows])
            y_min = min(y_min, *ys)
            kc = color if several else _KIND_COLOR.get(kind, "#777777")
            sc = ax.scatter(
                xs,
                ys,
                s=25.0 + 400.0 * share,
                marker=_KIND_MARKER.get(kind, "o"),
                color=kc,
                alpha=0.75,
                edgecolors="white",
                linewidths=0.6,
                zorder=3,
            )
            sc.set_gid(f"operators:{acc.name}:{kind}")
        if annotate and i == 0:
            top = sorted(results, key=lambda t: -t[1].time_s * counts[t[0]])[:annotate]
            notes.append(
                (
                    [(r.arithmetic_intensity, r.achieved_flops_per_s / tera) for _, r in top],
                    [f"{op.name} ({r.time_s * counts[op] / total:.0%})" for op, r in top],
                )
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(max(y_min / 3.0, 1e-3), y_max * 2.5)
    ax.set_xlabel("arithmetic intensity [FLOP/B]")
    ax.set_ylabel("performance [TFLOP/s]")
    _style(ax, log=True)
    for points, texts in notes:
        _stagger(ax, points, texts)
    roofs = ax.legend(fontsize=7.5, loc="lower right", framealpha=0.9)
    if kinds_seen:
        from matplotlib.lines import Line2D

        kind_handles = [
            Line2D(
                [],
                [],
                ls="",
                marker=_KIND_MARKER.get(kind, "o"),
                ms=7,
                color="#777777" if several else _KIND_COLOR.get(kind, "#777777"),
                label=_KIND_LABEL.get(kind, kind),
            )
            for kind in kinds_seen
        ]
        ax.add_artist(roofs)
        ax.legend(
            handles=kind_handles,
            fontsize=7.5,
            loc="upper left",
            title="operators (area ∝ share of time)",
            title_fontsize=7.5,
            framealpha=0.9,
        )
    names = " vs ".join(a.name for a in accs)
    what = ""
    if model is not None:
        mname = model if isinstance(model, str) else getattr(model, "name", "model")
        what = f": {mname} {getattr(phase, 'value', phase)} operators"
    elif counts:
        what = f": {len(counts)} operators"
    ax.set_title(f"Roofline, {names} ({p.value}){what}", fontsize=11)
    return ax  # type: ignore[no-any-return]
