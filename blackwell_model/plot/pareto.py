"""Pareto fronts of layout searches, and the vectorised energy of every search row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import SpecError, UnknownNameError
from ._common import _PALETTE, _axes, _items, _labels, _layout_tag, _log_ticks, _si, _spread, _style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..hardware.system import Cluster
    from ..solvers.energy import PowerModel
    from ..study.search import SearchResult

__all__ = ["PARETO_METRICS", "pareto_front", "pareto_mask", "search_energy"]


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
    from ..hardware.system import Cluster
    from ..solvers.energy import (
        DEFAULT_TRAINING_ACTIVITY,
        as_power_model,
        cluster_power,
        step_energy,
    )
    from ..solvers.training import BREAKDOWN_KEYS
    from ..study.search import SearchResult

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
    pm = as_power_model(power)
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
    from ..hardware.system import Cluster
    from ..study.search import SearchResult

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
                from ..parallel.layout import RECOMPUTE_CODES

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
