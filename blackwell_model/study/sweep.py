"""Sweeps over hardware what-ifs, on any :class:`concurrent.futures.Executor`.

:func:`sweep` maps a picklable function over items, in this process or on an
executor (a process pool, a Dask ``client.get_executor()``, Ray's
``RayExecutor``...), keeping the items' order.  :func:`search_many` runs one
:func:`~blackwell_model.study.search_layouts` per cluster (each on one worker)
and :func:`comparison` tabulates their winners; :func:`with_accelerator`
builds the what-if clusters (``memory_bandwidth="10 TB/s"``...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from ..errors import SpecError
from ..hardware.system import Cluster
from ..hardware.whatif import with_accelerator
from ..units import Q_, format_quantity
from .search import SearchResult, search_layouts

__all__ = ["comparison", "search_many", "sweep", "with_accelerator"]

# re-exported: the what-if helper lives with the parts it changes

T = TypeVar("T")
R = TypeVar("R")


def sweep(func: Callable[[T], R], items: Iterable[T], executor: Executor | None = None) -> list[R]:
    """``[func(x) for x in items]``, on ``executor`` when given, in the items' order.

    Parameters
    ----------
    func
        A picklable (module-level) function of one item when an executor
        runs in other processes.
    items
        What to map over (clusters, accelerators, precisions, models...).
    executor
        A :class:`concurrent.futures.Executor`; None runs here, one by one.

    Returns
    -------
    list
        ``func(item)`` for each item, in order.  The first exception a call
        raises is raised here.

    Examples
    --------
    >>> sweep(abs, [-2, 3])
    [2, 3]
    """
    seq = list(items)
    if executor is None:
        return [func(x) for x in seq]
    futures = [executor.submit(func, x) for x in seq]
    return [f.result() for f in futures]


def _search_one(args: tuple[Any, Cluster, Mapping[str, Any]]) -> SearchResult:
    model, cluster, kwargs = args
    return search_layouts(model, cluster, **kwargs)


def search_many(
    model: Any,
    clusters: Mapping[str, Cluster] | Sequence[Cluster],
    *,
    global_batch: int,
    seq_len: int,
    executor: Executor | None = None,
    **kwargs: Any,
) -> dict[str, SearchResult]:
    """One :func:`~blackwell_model.study.search_layouts` per cluster, one per worker.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or its catalog name.
    clusters
        Label -> cluster, or clusters labelled by their names (which must
        then differ).  Build what-ifs with :func:`with_accelerator` or
        :func:`attrs.evolve`.
    global_batch, seq_len
        As in :func:`~blackwell_model.study.search_layouts`.
    executor
        Runs each cluster's search as one task; None runs them here.
    **kwargs
        Passed to every search (``top``, ``precision``, ``objective``,
        axes...; ``gpus`` defaults to each cluster's own).  Must pickle when
        the executor runs in other processes.

    Returns
    -------
    dict of str to SearchResult
        Label -> result, in the order given.
    """
    if "executor" in kwargs:
        raise SpecError("search_many runs each search on executor=; pass it once, not in kwargs")
    if isinstance(clusters, Mapping):
        labelled = dict(clusters)
    else:
        labelled = {}
        for c in clusters:
            if not isinstance(c, Cluster):
                raise SpecError(f"clusters must hold Clusters, got {type(c).__name__} {c!r}")
            if c.name in labelled:
                raise SpecError(
                    f"clusters must have distinct names to label the results, got {c.name!r} "
                    "twice; pass a mapping label -> cluster"
                )
            labelled[c.name] = c
    if not labelled:
        raise SpecError("clusters must hold at least one Cluster, got none")
    if isinstance(model, str):
        from .. import catalog

        model = catalog.model(model)
    common = {"global_batch": global_batch, "seq_len": seq_len, **kwargs}
    results = sweep(_search_one, [(model, c, common) for c in labelled.values()], executor)
    return dict(zip(labelled, results, strict=True))


def comparison(results: Mapping[str, SearchResult]) -> str:
    """A table of each search's best layout: step time, MFU, tokens/s/GPU, memory.

    Parameters
    ----------
    results
        Label -> :class:`~blackwell_model.study.SearchResult` (as from
        :func:`search_many`).
    """
    width = max([len(k) for k in results] + [7])
    lines = [
        f"{'cluster':<{width}} {'gpus':>6} {'feasible':>9} {'best layout':<34} {'step':>10} "
        f"{'MFU':>6} {'tok/s/GPU':>10} {'memory':>10}"
    ]
    for label, res in results.items():
        if not len(res):
            lines.append(f"{label:<{width}} {res.gpus:>6} {res.feasible:>9} (no feasible layout)")
            continue
        r = res.row(0)
        lay = (
            f"tp{r['tp']} cp{r['cp']} pp{r['pp']} vpp{r['vpp']} dp{r['dp']} "
            f"mb{r['micro_batch']} {r['recompute']}"
        )
        lines.append(
            f"{label:<{width}} {res.gpus:>6} {res.feasible:>9} {lay:<34} "
            f"{format_quantity(Q_(r['step_time_s'], 's')):>10} {r['mfu']:>6.1%} "
            f"{r['tokens_per_second_per_gpu']:>10,.0f} {format_quantity(Q_(r['memory_B'], 'B')):>10}"
        )
    return "\n".join(lines)
