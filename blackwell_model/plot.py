"""Figures with matplotlib: roofline, step-time breakdown, Pareto front, validation, topology.

Every function draws on the matplotlib Axes given as ``ax`` (a new figure
when None), returns that Axes, and never calls ``plt.show()``: save with
``ax.figure.savefig(...)`` or show it yourself.  Matplotlib is imported when a
function is called, so ``import blackwell_model`` never needs it; without it
the functions raise :class:`ImportError` naming the ``plot`` extra
(``pip install "blackwell_model[plot]"``).

* :func:`roofline_chart`: the roofline of one or several accelerators with
  the operators of a model placed at their arithmetic intensity and achieved
  FLOP/s.
* :func:`breakdown_bars`: stacked bars of the step-time breakdown of
  training reports, of search rows, or of the decode step of inference
  reports.
* :func:`pareto_front`: the rows of one or several layout searches in a plane
  (step time, energy per step, memory, GPUs, MFU ...) with the Pareto-optimal
  rows connected.  Energy per row comes from :func:`search_energy`, the
  energy model of :func:`~blackwell_model.solvers.energy.training_energy`
  evaluated on every row at once (exact: step energy is linear in the phase
  times).
* :func:`predicted_vs_measured`: the validation scatter with the y = x line
  and a relative-error band.
* :func:`topology`: a rack or a small cluster drawn in rows (switches,
  GPUs, CPUs, NICs, fabric), links coloured by network plane.
* :func:`latency_throughput`: inference sweeps, tokens/s per user against
  tokens/s per GPU.

Plain-number helpers that need no matplotlib: :func:`pareto_mask` and
:func:`search_energy`.

Examples
--------
>>> import blackwell_model as bm
>>> from blackwell_model import plot
>>> ax = plot.roofline_chart(["H100-SXM", "B200"], model="llama3-8b",
...                          phase="forward", seq_len=4096)  # doctest: +SKIP
>>> ax.figure.savefig("roofline.png", dpi=150)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .errors import SpecError, TopologyError, UnknownNameError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .hardware.chip import Accelerator
    from .hardware.system import Cluster
    from .solvers.energy import PowerModel
    from .study.search import SearchResult

__all__ = [
    "PARETO_METRICS",
    "breakdown_bars",
    "latency_throughput",
    "pareto_front",
    "pareto_mask",
    "predicted_vs_measured",
    "roofline_chart",
    "search_energy",
    "topology",
]

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
    "dp_comm": "DP comm. (exposed)",
    "pipeline_bubble": "pipeline bubble",
    "kv_cache": "KV-cache reads",
    "weights": "weight reads",
    "elementwise": "element-wise",
    "prefill": "interleaved prefill",
}
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


# --------------------------------------------------------------------------- helpers
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


# --------------------------------------------------------------------------- roofline
def _accelerator(value: Any) -> Accelerator:
    from .hardware.chip import Accelerator

    if isinstance(value, Accelerator):
        return value
    if isinstance(value, str):
        from . import catalog

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
    from .workload.operators import Operator, model_operators

    if operators is not None and model is not None:
        raise SpecError("give operators= or model=, not both")
    if model is not None:
        if isinstance(model, str):
            from . import catalog

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
    from .hardware.precision import Precision
    from .solvers.roofline import DEFAULT_EFFICIENCY, Efficiency, roofline

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


# --------------------------------------------------------------------------- breakdown
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


def _breakdown_rows(
    reports: Any, top: int
) -> tuple[list[dict[str, float]], list[str], str, list[str], str]:
    """Parts per bar [s], default labels, x-axis quantity, notes per bar and a title."""
    from .predict.inference import InferenceReport
    from .predict.training import TrainingReport
    from .study.search import SearchResult

    if isinstance(reports, SearchResult):
        from .solvers.training import BREAKDOWN_KEYS

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


# --------------------------------------------------------------------------- pareto
def pareto_mask(
    x: npt.ArrayLike, y: npt.ArrayLike, *, maximize: tuple[bool, bool] = (False, False)
) -> np.ndarray:
    """True for the points no other point dominates (lower is better on both axes).

    A point dominates another when it is no worse on both coordinates and
    strictly better on one; duplicates of a non-dominated point are all
    kept.  Non-finite points are never on the front and dominate nothing.
    Runs in :math:`O(n \\log n)`.

    Parameters
    ----------
    x, y
        Coordinates, 1-D arrays of equal length.
    maximize
        Which coordinates are better when larger.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one entry per point.

    Raises
    ------
    SpecError
        If ``x`` and ``y`` are not 1-D of equal length.

    Examples
    --------
    >>> pareto_mask([1.0, 2.0, 3.0, 2.0], [3.0, 1.0, 2.0, 1.0]).tolist()
    [True, True, False, True]
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if xs.ndim != 1 or ys.shape != xs.shape:
        raise SpecError(
            f"x and y must be 1-D arrays of equal length, got shapes {xs.shape} and {ys.shape}"
        )
    if maximize[0]:
        xs = -xs
    if maximize[1]:
        ys = -ys
    out = np.zeros(xs.shape, dtype=bool)
    ok = np.flatnonzero(np.isfinite(xs) & np.isfinite(ys))
    if ok.size == 0:
        return out
    order = ok[np.lexsort((ys[ok], xs[ok]))]
    sx, sy = xs[order], ys[order]
    start = np.searchsorted(sx, sx, side="left")  # first index of each equal-x group
    running = np.minimum.accumulate(sy)
    before = np.where(start > 0, running[np.maximum(start - 1, 0)], np.inf)
    front = (sy == sy[start]) & (sy < before)
    out[order] = front
    return out


def search_energy(
    result: SearchResult, cluster: Cluster, *, power: PowerModel | None = None
) -> dict[str, np.ndarray]:
    """Energy of one step for every row of a layout search, vectorised.

    :func:`~blackwell_model.solvers.energy.training_energy` adds power x
    time over the phases of a step; every term is proportional to a phase
    time (a power cap stretches a phase by a factor that depends only on
    its activity).  So the energy of each phase per second of its time is
    computed once, with :func:`~blackwell_model.solvers.energy.step_energy`
    on unit times, and applied to the ``<part>_s`` columns of every row:
    the result equals ``predict_training(...).energy_per_step`` of each row
    (to rounding) at the cost of one numpy product.

    Parameters
    ----------
    result
        A :class:`~blackwell_model.study.SearchResult`.
    cluster
        The cluster the search ran on.
    power
        :class:`~blackwell_model.solvers.energy.PowerModel`; defaults to the
        documented defaults.

    Returns
    -------
    dict of str to numpy.ndarray
        ``energy_per_step_J`` [J] (facility energy, PUE included),
        ``energy_per_token_J`` [J], ``average_power_W`` [W] and
        ``step_time_s`` [s] (the row's step time, stretched by a power cap
        when ``power`` has one), one entry per row.

    Raises
    ------
    SpecError
        If ``result`` is not a SearchResult or ``cluster`` has fewer GPUs than
        the search used.
    """
    from .hardware.system import Cluster
    from .solvers.energy import (
        DEFAULT_TRAINING_ACTIVITY,
        PowerModel,
        cluster_power,
        step_energy,
    )
    from .solvers.training import BREAKDOWN_KEYS
    from .study.search import SearchResult

    if not isinstance(result, SearchResult):
        raise SpecError(f"result must be a SearchResult, got {type(result).__name__}")
    if not isinstance(cluster, Cluster):
        raise SpecError(
            f"cluster must be the Cluster the search of {result.model_name} ran on, got "
            f"{type(cluster).__name__}"
        )
    if cluster.gpus < result.gpus:
        raise SpecError(
            f"cluster must have at least the {result.gpus} GPUs of the search of "
            f"{result.model_name}, got {cluster.name} with {cluster.gpus}"
        )
    pm = power or PowerModel()
    parts = cluster_power(cluster, gpus=result.gpus, power=pm)
    unit = step_energy(
        dict.fromkeys(BREAKDOWN_KEYS, 1.0),
        DEFAULT_TRAINING_ACTIVITY,
        parts,
        busy_accelerators=result.gpus,
        power_cap_W=None if pm.power_cap is None else float(pm.power_cap.m),
        clock_exponent=pm.clock_exponent,
    )
    n = len(result)
    energy = np.zeros(n)
    time = np.zeros(n)
    for k in BREAKDOWN_KEYS:
        t = np.asarray(result.columns[f"{k}_s"], dtype=float)
        energy += unit.phase_energy_J[k] * t
        time += unit.phase_time_s[k] * t
    tokens = float(result.global_batch * result.seq_len)
    with np.errstate(divide="ignore", invalid="ignore"):
        power_w = np.where(time > 0, energy / np.where(time > 0, time, 1.0), 0.0)
    return {
        "energy_per_step_J": energy,
        "energy_per_token_J": energy / tokens,
        "average_power_W": power_w,
        "step_time_s": time,
    }


#: Axes :func:`pareto_front` can plot: name -> (axis label, unit, larger is better).
PARETO_METRICS: Mapping[str, tuple[str, str, bool]] = {
    "step_time": ("step time", "s", False),
    "energy_per_step": ("energy per step", "J", False),
    "energy_per_token": ("energy per token", "J", False),
    "average_power": ("average power", "W", False),
    "memory": ("memory per GPU", "B", False),
    "gpus": ("GPUs", "", False),
    "mfu": ("MFU", "%", True),
    "tokens_per_second_per_gpu": ("tokens/s per GPU", "1/s", True),
    "tokens_per_second": ("tokens/s", "1/s", True),
}
_ENERGY_METRICS = ("energy_per_step", "energy_per_token", "average_power")


def _metric(name: str, what: str) -> tuple[str, str, bool]:
    if name not in PARETO_METRICS:
        raise UnknownNameError(f"{what} metric", name, tuple(PARETO_METRICS))
    return PARETO_METRICS[name]


def _result_columns(result: Any, cluster: Any, power: Any, needed: set[str]) -> dict[str, Any]:
    c = result.columns
    n = len(result)
    out: dict[str, Any] = {
        "step_time": np.asarray(c["step_time_s"], dtype=float),
        "memory": np.asarray(c["memory_B"], dtype=float),
        "gpus": np.full(n, float(result.gpus)),
        "mfu": np.asarray(c["mfu"], dtype=float) * 100.0,
        "tokens_per_second_per_gpu": np.asarray(c["tokens_per_second_per_gpu"], dtype=float),
    }
    out["tokens_per_second"] = out["tokens_per_second_per_gpu"] * result.gpus
    if needed & set(_ENERGY_METRICS):
        e = search_energy(result, cluster, power=power)
        out["energy_per_step"] = e["energy_per_step_J"]
        out["energy_per_token"] = e["energy_per_token_J"]
        out["average_power"] = e["average_power_W"]
        out["step_time"] = e["step_time_s"]
    for key in c:
        if key not in out:
            out[key] = np.asarray(c[key])
    return out


def pareto_front(
    results: Any,
    *,
    x: str = "step_time",
    y: str = "energy_per_step",
    color: str | None = "gpus",
    clusters: Any = None,
    power: PowerModel | None = None,
    labels: Sequence[str] | None = None,
    annotate: int = 8,
    log: bool = True,
    ax: Any = None,
) -> Axes:
    """Rows of one or several layout searches in a plane, the Pareto front connected.

    Each feasible row of each :class:`~blackwell_model.study.SearchResult`
    is a point; the points that no other point (of any of the results)
    beats on both axes (see :func:`pareto_mask`, with the better direction of
    each metric) are outlined and joined by a line, and with ``annotate``
    labelled with their layout.  Searches at several GPU counts (or on
    several clusters, e.g. from :func:`~blackwell_model.study.search_many`)
    show the trade-off of time against energy and GPUs.

    Energy metrics use :func:`search_energy`: the energy model of
    :func:`~blackwell_model.solvers.energy.training_energy` applied to every
    row at once, exact for each row, so the front is computed on every
    feasible layout and not only on a short list.

    Parameters
    ----------
    results
        A SearchResult, a sequence of them, or a mapping label -> SearchResult.
    x, y
        Metrics (:data:`PARETO_METRICS`): ``"step_time"`` [s],
        ``"energy_per_step"`` [J], ``"energy_per_token"`` [J],
        ``"average_power"`` [W], ``"memory"`` (per GPU) [B], ``"gpus"``,
        ``"mfu"`` [%], ``"tokens_per_second_per_gpu"`` [1/s],
        ``"tokens_per_second"`` [1/s].
    color
        Colour points by ``"gpus"``, by ``"result"`` (one colour per search),
        by a layout column (``"tp"``, ``"pp"``, ``"dp"``, ``"micro_batch"``,
        ``"recompute"`` ...) or a metric; None for one colour.  Up to 12
        distinct values get a legend, more a colour bar.
    clusters
        The Cluster each search ran on (one, a sequence in the order of
        ``results``, or a mapping with the same labels); required for energy
        metrics.
    power
        :class:`~blackwell_model.solvers.energy.PowerModel` for the energy
        metrics (a power cap also stretches the step time).
    labels
        Names of the results (default: a mapping's keys, else
        ``"<cluster> (<gpus> GPUs)"``).
    annotate
        Number up to ``annotate`` points of the front (spread along it) and
        list their layouts, times and values beside the axes; 0 for none.
    log
        Log scale on both axes (the default: a few slow layouts otherwise
        squeeze the front into a corner).
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
        The rows are the collections with ``gid`` ``"rows"`` (one per colour
        group), the front the line with ``gid`` ``"pareto"``; coordinates in
        the units on the axes.

    Raises
    ------
    ImportError
        Without matplotlib.
    SpecError
        For a wrong input, or energy metrics without ``clusters``.
    UnknownNameError
        For an unknown metric or colour column.
    """
    from .hardware.system import Cluster
    from .study.search import SearchResult

    items, keys = _items(results, SearchResult, "results", "SearchResults")
    xl, xu, xmax = _metric(x, "x")
    yl, yu, ymax = _metric(y, "y")
    names = _labels(
        labels if labels is not None else keys,
        len(items),
        lambda i: f"{items[i].cluster_name} ({items[i].gpus:,} GPUs)",
    )
    needed = {x, y, color or ""}
    cl: list[Any] = [None] * len(items)
    if needed & set(_ENERGY_METRICS):
        if clusters is None:
            raise SpecError(
                f"pareto_front with {'x' if x in _ENERGY_METRICS else 'y'}="
                f"{x if x in _ENERGY_METRICS else y!r} needs clusters= (the Cluster each "
                "search ran on) to evaluate the energy model"
            )
        if isinstance(clusters, Cluster):
            cl = [clusters] * len(items)
        elif isinstance(clusters, Mapping):
            if keys is None or set(keys) - set(clusters):
                raise SpecError(
                    "clusters given as a mapping must have the labels of results (a mapping "
                    f"too), got labels {list(clusters)} for results {keys}"
                )
            cl = [clusters[k] for k in keys]
        else:
            cl = list(clusters)
            if len(cl) != len(items):
                raise SpecError(
                    f"clusters must give one Cluster per search ({len(items)}), got {len(cl)}"
                )
    cols = [_result_columns(r, c, power, needed) for r, c in zip(items, cl, strict=True)]
    if color not in (None, "result") and color not in cols[0]:
        raise UnknownNameError(
            "colour column", str(color), ("result", *sorted(set(cols[0]) | set(PARETO_METRICS)))
        )
    xs = np.concatenate([c[x] for c in cols])
    ys = np.concatenate([c[y] for c in cols])
    owner = np.concatenate([np.full(len(r), i) for i, r in enumerate(items)])
    row = np.concatenate([np.arange(len(r)) for r in items])
    if xs.size == 0:
        raise SpecError("results hold no feasible row; nothing to draw")
    xdiv, xunit = (1.0, xu) if xu in ("", "%") else _si(xs, xu)
    ydiv, yunit = (1.0, yu) if yu in ("", "%") else _si(ys, yu)
    px, py = xs / xdiv, ys / ydiv
    ax = _axes(ax, (10.0, 5.6))

    if color is None:
        groups = np.zeros(xs.size, dtype=int)
        group_names = ["layouts"]
        cvals = None
    elif color == "result":
        groups = owner
        group_names = names
        cvals = None
    else:
        cvals = np.concatenate([np.asarray(c[color], dtype=float) for c in cols])
        uniq = np.unique(cvals)
        if uniq.size <= 12:
            groups = np.searchsorted(uniq, cvals)
            if color == "gpus":
                group_names = [f"{int(u):,} GPUs" for u in uniq]
            elif color == "recompute":
                from .parallel.layout import RECOMPUTE_CODES

                rev = {v: k.value for k, v in RECOMPUTE_CODES.items()}
                group_names = [f"recompute {rev.get(int(u), int(u))}" for u in uniq]
            else:
                group_names = [f"{color} = {u:g}" for u in uniq]
            cvals = None
        else:
            groups = np.zeros(xs.size, dtype=int)
            group_names = [""]
    if cvals is not None:
        sc = ax.scatter(px, py, c=cvals, cmap="viridis", s=14, alpha=0.7, linewidths=0)
        sc.set_gid("rows")
        ax.figure.colorbar(sc, ax=ax, label=color, pad=0.01)
    else:
        for g, gname in enumerate(group_names):
            sel = groups == g
            if not sel.any():
                continue
            sc = ax.scatter(
                px[sel],
                py[sel],
                s=16,
                alpha=0.65,
                color=_PALETTE[g % len(_PALETTE)],
                linewidths=0,
                label=gname if len(group_names) > 1 or color is not None else None,
            )
            sc.set_gid("rows")
    front = pareto_mask(xs, ys, maximize=(xmax, ymax))
    idx = np.flatnonzero(front)
    idx = idx[np.lexsort((py[idx], px[idx]))]
    (line,) = ax.plot(
        px[idx],
        py[idx],
        "-",
        color="#222222",
        lw=1.3,
        marker="o",
        ms=7,
        mfc="none",
        mec="#222222",
        mew=1.3,
        zorder=4,
        label=f"Pareto front ({idx.size} layouts)",
    )
    line.set_gid("pareto")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    if isinstance(annotate, bool) or not isinstance(annotate, int) or annotate < 0:
        raise SpecError(f"annotate must be an integer >= 0 points, got {annotate!r}")
    if log:
        _log_ticks(ax.xaxis)
        _log_ticks(ax.yaxis)
    if annotate and idx.size:
        picked = _spread(ax, [(float(px[i]), float(py[i])) for i in idx], annotate)
        lines = []
        for number, k in enumerate(picked, start=1):
            i = idx[k]
            res = items[int(owner[i])]
            ax.annotate(
                str(number),
                (px[i], py[i]),
                xytext=(-7 if not xmax else 7, -7 if not ymax else 7),
                textcoords="offset points",
                ha="center",
                va="center",
                fontsize=7.5,
                fontweight="bold",
                zorder=5,
            )
            where = f", {res.gpus:,} GPUs" if len(items) > 1 else ""
            lines.append(
                f"{number}  {_layout_tag(res.layout(int(row[i])))}{where}\n"
                f"    {px[i]:.3g} {xunit or xl}, {py[i]:.3g} {yunit or yl}"
            )
        ax.text(
            1.02,
            0.0,
            "Pareto-optimal layouts\n" + "\n".join(lines),
            transform=ax.transAxes,
            fontsize=7.5,
            va="bottom",
            ha="left",
            family="monospace",
            linespacing=1.35,
        )
    ax.set_xlabel(f"{xl} [{xunit}]" if xunit else xl)
    ax.set_ylabel(f"{yl} [{yunit}]" if yunit else yl)
    _style(ax, log=log)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    better = f"{'right' if xmax else 'left'} and {'up' if ymax else 'down'} is better"
    model = items[0].model_name
    ax.set_title(
        f"{model}: {xs.size:,} feasible layouts, {yl} vs {xl} ({better})",
        fontsize=10.5,
    )
    return ax  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- validation
def _validation_points(table: Any) -> tuple[list[dict[str, Any]], str]:
    from .validation.inference import InferenceCaseResult
    from .validation.training import TrainingRow, ValidationTable

    if table is None:
        from .validation.training import validation_table

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


# --------------------------------------------------------------------------- topology
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

    from .topology import to_graph

    if isinstance(graph_or_part, nx.Graph):
        graph = graph_or_part
    else:
        part = graph_or_part
        if isinstance(part, str):
            from . import catalog

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


# --------------------------------------------------------------------------- inference
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
    from .errors import InfeasibleLayoutError
    from .predict.inference import InferenceCurve
    from .units import parse_quantity

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
