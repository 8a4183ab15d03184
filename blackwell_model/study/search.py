"""Layout search: every valid training layout of a model on a cluster, ranked.

:func:`search_layouts` enumerates the cartesian product of parallel degrees,
micro-batch sizes, recomputation modes and ZeRO stages as numpy arrays,
drops the candidates that break a divisibility rule
(:func:`~blackwell_model.parallel.rule_masks`) or do not fit in memory
(:func:`~blackwell_model.parallel.memory_arrays`), counting each rejection
under the first rule it fails, and evaluates the survivors with one
:class:`~blackwell_model.solvers.training.TrainingSolver` in chunks.  With an
``executor`` (any :class:`concurrent.futures.Executor`, e.g. a Dask
``client.get_executor()``) the chunks run on its workers, each of which builds
and keeps its own solver.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import attrs
import numpy as np

from .._display import Display
from .._spec import as_part
from .._validate import check_callable, check_executor, check_instance
from ..errors import InfeasibleLayoutError, Interrupted, SpecError, UnknownNameError
from ..hardware.precision import Precision
from ..hardware.system import Cluster
from ..parallel.layout import (
    LAYOUT_RULES,
    RECOMPUTE_CODES,
    RECOMPUTE_MODULES,
    TRAINING_PRECISIONS,
    Layout,
    Recompute,
    modules_mask,
    rule_masks,
)
from ..parallel.memory import MemoryModel, memory_arrays
from ..predict.training import TrainingReport, predict_training
from ..solvers.training import BREAKDOWN_KEYS, TrainingEfficiency, TrainingSolver
from ..units import Q_, format_quantity
from ..workload import Transformer

__all__ = [
    "LAYOUT_KEYS",
    "OBJECTIVES",
    "SEARCH_RULES",
    "SearchResult",
    "candidate_arrays",
    "default_axes",
    "recompute_options",
    "search_layouts",
]

#: Integer layout columns of a search (and of :attr:`SearchResult.columns`).
LAYOUT_KEYS: tuple[str, ...] = (
    "tp",
    "pp",
    "dp",
    "cp",
    "ep",
    "etp",
    "vpp",
    "micro_batch",
    "recompute",
    "recompute_modules",
    "offload_layers",
    "zero",
    "sequence_parallel",
)

#: Columns a search fills from its template layout (not searched).
_TEMPLATE_KEYS: tuple[str, ...] = (
    "recompute_layers",
    "recompute_block",
    "grad_fp32",
    "moments_bits",
    "master_bytes",
    "lp_weights",
    "overlap_dp",
    "overlap_tp",
    "overlap_pp",
    "overlap_moe",
    "cuda_graphs",
    "placement",
    "first_stage_layers",
    "last_stage_layers",
    "embedding_in_split",
    "loss_in_split",
)

#: Rules a search rejects candidates by, in the order they are tried (each
#: rejected candidate is counted once, under the first rule it breaks).
#: ``gpus_divide``: ``tp * cp * pp`` does not divide the GPU count, so no
#: integer ``dp`` uses every GPU; then :data:`~blackwell_model.parallel.LAYOUT_RULES`;
#: last ``memory``: the busiest GPU needs more than the accelerator's HBM.
SEARCH_RULES: tuple[str, ...] = ("gpus_divide", *LAYOUT_RULES, "memory")

_CODE_TO_RECOMPUTE = {code: rc for rc, code in RECOMPUTE_CODES.items()}


def _minimise(key: str) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    def score(columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(columns[key], dtype=float)

    score.__name__ = key
    return score


def _maximise(key: str) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    def score(columns: Mapping[str, np.ndarray]) -> np.ndarray:
        return -np.asarray(columns[key], dtype=float)

    score.__name__ = key
    return score


#: Named objectives: name -> function of the result columns returning a score
#: per row, lower is better.  ``step_time`` (fastest step), ``memory`` (least
#: memory on the busiest GPU), ``mfu`` and ``hfu`` (highest utilisation),
#: ``tokens_per_second_per_gpu`` (highest throughput).  On a fixed GPU count,
#: batch and sequence, ``step_time``, ``mfu`` and ``tokens_per_second_per_gpu``
#: rank alike.
OBJECTIVES: Mapping[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]] = {
    "step_time": _minimise("step_time_s"),
    "memory": _minimise("memory_B"),
    "mfu": _maximise("mfu"),
    "hfu": _maximise("hfu"),
    "tokens_per_second_per_gpu": _maximise("tokens_per_second_per_gpu"),
}

Objective = str | Callable[[Mapping[str, np.ndarray]], Any]


# ------------------------------------------------------------------ result
def _frozen_columns(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in columns.items():
        arr = np.array(v)
        arr.setflags(write=False)
        out[k] = arr
    return out


@attrs.frozen(kw_only=True, eq=False, repr=False)
class SearchResult(Display):
    """Ranked outcome of :func:`search_layouts`.

    Rows are candidate layouts that pass every rule, best first; their data
    live in :attr:`columns` as read-only numpy arrays of equal length.

    Parameters
    ----------
    model_name, cluster_name
        What was searched.
    gpus
        GPUs every layout uses.
    global_batch
        Sequences per step.
    seq_len
        Tokens per sequence.
    precision
        GEMM precision of every layout.
    objective
        Name of the ranking objective (the function's name for a callable).
    columns
        Column name -> array, one entry per row: the :data:`LAYOUT_KEYS`
        (``recompute`` as :data:`~blackwell_model.parallel.RECOMPUTE_CODES`
        codes, ``sequence_parallel`` 0/1), ``step_time_s`` [s],
        ``tokens_per_second_per_gpu`` [1/s], ``mfu``, ``hfu``, ``memory_B``
        [B] with its parts ``weights_B``, ``gradients_B``, ``optimizer_B``,
        ``activations_B`` [B], ``score`` (the objective, lower is better) and
        the step-time breakdown as ``<part>_s`` [s] for each
        :data:`~blackwell_model.solvers.training.BREAKDOWN_KEYS` part.
    enumerated
        Candidates generated.
    feasible
        Candidates that pass every rule (rows kept may be fewer with ``top``).
    rejected
        Rule (:data:`SEARCH_RULES`) -> candidates rejected by it; each
        rejected candidate counts once, under the first rule it breaks, so
        the counts add up to ``enumerated - feasible``.
    reasons
        Rule -> the message of one candidate it rejected (for ``memory``, the
        candidate that needs the least memory).
    min_memory_rejected_B
        Least memory any memory-rejected candidate needs [B]; None when no
        candidate was rejected for memory.
    memory_capacity_B
        HBM of one GPU [B].
    best
        :func:`~blackwell_model.predict_training` report of the first row;
        None when no layout is feasible.
    elapsed_s
        Wall time of the search [s].
    template
        The layout whose fields the search did not vary (precision-aware
        optimizer, overlaps, pipeline split, MoE routing ...), or None.
    memory_headroom
        Fraction of HBM every kept layout leaves free.
    """

    model_name: str
    cluster_name: str
    gpus: int
    global_batch: int
    seq_len: int
    precision: Precision
    objective: str
    columns: Mapping[str, np.ndarray] = attrs.field(converter=_frozen_columns)
    enumerated: int
    feasible: int
    rejected: Mapping[str, int]
    reasons: Mapping[str, str]
    min_memory_rejected_B: float | None
    memory_capacity_B: float
    best: TrainingReport | None
    elapsed_s: float
    template: Layout | None = None
    memory_headroom: float = 0.0

    def __len__(self) -> int:
        return int(self.columns["step_time_s"].shape[0])

    @property
    def breakdown(self) -> dict[str, np.ndarray]:
        """Step-time part (:data:`~blackwell_model.solvers.training.BREAKDOWN_KEYS`) -> times per row [s]."""
        return {k: self.columns[f"{k}_s"] for k in BREAKDOWN_KEYS}

    @property
    def evaluations_per_second(self) -> float:
        """Candidates enumerated per second of wall time [1/s]."""
        return self.enumerated / self.elapsed_s if self.elapsed_s > 0 else math.inf

    def layout(self, i: int = 0) -> Layout:
        """The :class:`~blackwell_model.parallel.Layout` of row ``i`` (0 is the best)."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"row must be in [{-n}, {n}), got {i}")
        return _layout_at(
            {**self.columns, **_constant(self.global_batch, self.seq_len)},
            i if i >= 0 else n + i,
            self.precision,
            self.template,
        )

    def layouts(self, n: int | None = None) -> list[Layout]:
        """Layouts of the first ``n`` rows (all when None), best first."""
        count = len(self) if n is None else min(n, len(self))
        return [self.layout(i) for i in range(count)]

    def row(self, i: int = 0) -> dict[str, Any]:
        """Row ``i`` as plain Python data: layout fields and metrics (SI floats)."""
        c = self.columns
        out: dict[str, Any] = {}
        for key in LAYOUT_KEYS:
            code = int(c[key][i])
            if key == "recompute":
                out[key] = _CODE_TO_RECOMPUTE[code].value
            elif key == "recompute_modules":
                out[key] = [m for j, m in enumerate(RECOMPUTE_MODULES) if code & (1 << j)]
            elif key == "sequence_parallel":
                out[key] = bool(code)
            else:
                out[key] = code
        for key, values in c.items():
            if key not in out:
                out[key] = float(values[i])
        return out

    def to_records(self, n: int | None = None) -> list[dict[str, Any]]:
        """The first ``n`` rows (all when None) as dicts of plain Python data.

        Suitable for ``pandas.DataFrame.from_records`` or JSON.
        """
        count = len(self) if n is None else min(n, len(self))
        return [self.row(i) for i in range(count)]

    def check(self) -> None:
        """Raise :class:`~blackwell_model.errors.InfeasibleLayoutError` if no layout is feasible.

        The error names ``memory`` when any candidate passed every divisibility
        rule but did not fit (with the least memory needed), else the rule that
        rejected most candidates, with an example message.
        """
        if self.feasible:
            return
        if not self.rejected:
            raise InfeasibleLayoutError("empty", "the search enumerated no candidate layout")
        # memory is tried last: when it rejected any candidate, it is what binds
        if "memory" in self.rejected:
            rule = "memory"
        else:
            rule = max(self.rejected, key=lambda r: self.rejected[r])
        raise InfeasibleLayoutError(
            rule,
            f"no feasible layout of {self.model_name} on {self.gpus} GPUs of "
            f"{self.cluster_name}: {self.rejected[rule]} of {self.enumerated} candidates "
            f"break rule {rule!r}, e.g. {self.reasons.get(rule, '')}",
        )

    def summary(self, n: int = 10) -> str:
        """A readable table of the first ``n`` rows and the rejection counts."""
        head = (
            f"{self.model_name} on {self.gpus} GPUs of {self.cluster_name}, global batch "
            f"{self.global_batch} x {self.seq_len} tokens, {self.precision.value}, "
            f"objective {self.objective}"
        )
        lines = [
            head,
            f"  {self.enumerated:,} candidates, {self.feasible:,} feasible, searched in "
            f"{self.elapsed_s:.2f} s ({self.evaluations_per_second:,.0f} layouts/s)",
        ]
        if self.rejected:
            lines.append("  rejected by rule:")
            for rule in SEARCH_RULES:
                if rule in self.rejected:
                    lines.append(
                        f"    {rule:<12} {self.rejected[rule]:>10,}  e.g. {self.reasons[rule]}"
                    )
        if len(self):
            cap = Q_(self.memory_capacity_B, "B")
            lines.append(
                f"  {'#':>3} {'tp':>3} {'cp':>3} {'pp':>4} {'vpp':>3} {'dp':>6} {'ep':>3} "
                f"{'mb':>3} {'recompute':>9} {'zero':>4} {'step':>10} {'MFU':>6} "
                f"{'tok/s/GPU':>10} {'memory':>10}"
            )
            for i in range(min(n, len(self))):
                r = self.row(i)
                lines.append(
                    f"  {i + 1:>3} {r['tp']:>3} {r['cp']:>3} {r['pp']:>4} {r['vpp']:>3} "
                    f"{r['dp']:>6} {r['ep']:>3} {r['micro_batch']:>3} {r['recompute']:>9} "
                    f"{r['zero']:>4} {format_quantity(Q_(r['step_time_s'], 's')):>10} "
                    f"{r['mfu']:>6.1%} {r['tokens_per_second_per_gpu']:>10,.0f} "
                    f"{format_quantity(Q_(r['memory_B'], 'B')):>10}"
                )
            lines.append(f"  (memory per GPU of {format_quantity(cap)})")
        else:
            lines.append("  no feasible layout: " + self.why_none())
        return "\n".join(lines)

    def why_none(self) -> str:
        """One sentence on why nothing is feasible (empty when something is)."""
        if self.feasible:
            return ""
        main = max(self.rejected, key=lambda rule: self.rejected[rule]) if self.rejected else ""
        if self.rejected.get("gpus_divide", 0) + self.rejected.get("batch", 0) >= self.enumerated:
            return (
                f"no layout uses exactly {self.gpus} GPUs with a global batch of "
                f"{self.global_batch}; if the cluster was rounded up to whole scale-up domains, "
                "pass gpus= with the count you want to use"
            )
        if "memory" in self.rejected:
            need = format_quantity(Q_(self.min_memory_rejected_B, "B"))
            cap = format_quantity(Q_(self.memory_capacity_B, "B"))
            return (
                f"the leanest layout that divides still needs {need} per GPU of {cap}; use "
                "more GPUs, recomputation, ZeRO stages or a smaller micro-batch"
            )
        return f"most candidates break the {main!r} rule: {self.reasons.get(main, '')}"


# ------------------------------------------------------------- enumeration
def _powers_of_two(limit: int) -> tuple[int, ...]:
    return tuple(1 << k for k in range(max(0, int(limit)).bit_length()) if (1 << k) <= limit)


def _divisors(n: int, limit: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def _axis(name: str, values: Any, default: tuple[int, ...], minimum: int = 1) -> tuple[int, ...]:
    if values is None:
        return default
    seq = (values,) if isinstance(values, int | np.integer) else tuple(values)
    if not seq:
        raise SpecError(f"{name} must list at least one value, got {values!r}")
    out = []
    for v in seq:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < minimum:
            raise SpecError(f"{name} values must be integers >= {minimum}, got {v!r} in {values!r}")
        out.append(int(v))
    return tuple(dict.fromkeys(out))


def _recompute_axis(values: Any) -> tuple[tuple[int, int], ...]:
    """``(code, modules mask)`` options from modes, mode names or tuples of module names."""
    seq = (values,) if isinstance(values, str | Recompute) else tuple(values)
    if not seq:
        raise SpecError(f"recompute must list at least one mode, got {values!r}")
    out = []
    for v in seq:
        if isinstance(v, tuple | list | frozenset | set):
            bad = [m for m in v if m not in RECOMPUTE_MODULES]
            if bad or not v:
                raise SpecError(
                    "recompute module sets must name modules among "
                    f"{', '.join(RECOMPUTE_MODULES)}, got {v!r}"
                )
            out.append((RECOMPUTE_CODES[Recompute.SELECTIVE], modules_mask(v)))
            continue
        try:
            rc = v if isinstance(v, Recompute) else Recompute(str(v).lower())
        except ValueError:
            valid = ", ".join(repr(x.value) for x in Recompute)
            raise SpecError(
                f"recompute values must be one of {valid} or a tuple of module names, got {v!r}"
            ) from None
        mask = modules_mask(["core_attn"]) if rc is Recompute.SELECTIVE else 0
        out.append((RECOMPUTE_CODES[rc], mask))
    return tuple(dict.fromkeys(out))


def default_axes(
    model: Any, cluster: Cluster, *, gpus: int, global_batch: int, seq_len: int
) -> dict[str, tuple[int, ...]]:
    """The default enumeration of each axis (see :func:`search_layouts`).

    ``etp`` values are 0 (meaning ``etp = tp``, Megatron's default) and 1;
    ``offload_layers`` tries half the layers of a chunk only where the
    accelerators sit on a superchip (NVLink-C2C to the host).
    """
    domain = int(cluster.domain.gpus)
    experts = int(getattr(model, "experts", 0) or 0)
    from ..solvers.training import host_link_Bps

    c2c = getattr(getattr(cluster.domain, "node", None), "superchip", None) is not None
    offload: tuple[int, ...] = (0,)
    if c2c and host_link_Bps(cluster) > 0:
        offload = (0, max(1, int(model.layers) // 2))
    return {
        "tp": _powers_of_two(min(domain, gpus)),
        "cp": (1, *(c for c in _powers_of_two(64) if c > 1 and c * 1024 <= seq_len and c <= gpus)),
        "pp": _divisors(gpus, int(model.layers)),
        "ep": _powers_of_two(min(experts, gpus)) if experts else (1,),
        "etp": (0, 1) if experts else (0,),
        "vpp": (1, 2, 4, 8),
        "micro_batch": tuple(b for b in (1, 2, 4, 8) if b <= global_batch),
        "offload_layers": offload,
    }


def recompute_options(model: Any) -> tuple[tuple[int, int], ...]:
    """Default recomputation settings of a search: ``(recompute code, modules mask)`` pairs.

    None; full; and one selective set that saves memory for the model's kind:
    the norms and the dense MLP for dense models, the norms, the expert
    activation (and MLA's up-projections) for MoE models.  (Selective
    recomputation of the attention core alone saves nothing with a fused
    attention kernel, so it is not tried.)
    """
    mods = ["layernorm"]
    if getattr(model, "is_moe", False):
        mods.append("moe_act")
        if getattr(getattr(model, "attention_kind", None), "value", "") == "mla":
            mods.append("mla_up_proj")
    else:
        mods.append("mlp")
    return (
        (RECOMPUTE_CODES[Recompute.NONE], 0),
        (RECOMPUTE_CODES[Recompute.SELECTIVE], modules_mask(mods)),
        (RECOMPUTE_CODES[Recompute.FULL], 0),
    )


def candidate_arrays(
    axes: Mapping[str, Sequence[int]],
    *,
    gpus: int,
    global_batch: int,
    seq_len: int,
    template: Layout | None = None,
) -> dict[str, np.ndarray]:
    """Cartesian product of the axes as equal-length int64 arrays, ``dp`` derived.

    Parameters
    ----------
    axes
        Values of ``tp, cp, pp, ep, vpp, micro_batch, zero`` and
        ``sequence_parallel`` (0/1); optionally ``etp`` (0 means ``tp``),
        ``offload_layers`` and ``recompute`` as ``(code, modules mask)``
        pairs (or plain codes).
    gpus
        GPUs each layout must use: ``dp = gpus // (tp * cp * pp)``; where
        ``tp * cp * pp`` does not divide ``gpus`` the ``gpus_divide`` column
        is True (and ``dp`` is a placeholder).
    global_batch, seq_len
        Filled in as constant columns.
    template
        Layout whose other columns (overlaps, gradient and moment precision,
        pipeline split ...) every candidate copies; a default Layout when None.

    Returns
    -------
    dict of str to numpy.ndarray
        The columns :meth:`~blackwell_model.solvers.training.TrainingSolver.evaluate`,
        :func:`~blackwell_model.parallel.rule_masks` and
        :func:`~blackwell_model.parallel.memory_arrays` read, plus ``gpus_divide``.
    """
    rc_opts = [
        (int(v[0]), int(v[1])) if isinstance(v, tuple) else (int(v), 1 if int(v) == 1 else 0)
        for v in axes["recompute"]
    ]
    names = ("tp", "cp", "pp", "ep", "etp", "vpp", "micro_batch", "rc_opt", "offload_layers",
             "zero", "sequence_parallel")  # fmt: skip
    values = {
        **{k: axes[k] for k in axes if k != "recompute"},
        "rc_opt": range(len(rc_opts)),
        "etp": axes.get("etp", (0,)),
        "offload_layers": axes.get("offload_layers", (0,)),
    }
    grids = np.meshgrid(*(np.asarray(values[k], dtype=np.int64) for k in names), indexing="ij")
    cols = {k: g.ravel() for k, g in zip(names, grids, strict=True)}
    opt = cols.pop("rc_opt")
    rc_arr = np.array([o[0] for o in rc_opts], dtype=np.int64)
    mods_arr = np.array([o[1] for o in rc_opts], dtype=np.int64)
    cols["recompute"] = rc_arr[opt]
    cols["recompute_modules"] = mods_arr[opt]
    # etp 0 means "as tp"; an explicit etp equal to tp is the same candidate
    cols["etp"] = np.where(cols["etp"] == 0, cols["tp"], cols["etp"])
    keep = np.ones(cols["tp"].shape[0], dtype=bool)
    if "etp" in axes and len(axes["etp"]) > 1:
        explicit = np.asarray(values["etp"], dtype=np.int64)
        dup = np.zeros_like(keep)
        for e in explicit[explicit > 0].tolist():
            dup |= (grids[names.index("etp")].ravel() == 0) & (cols["tp"] == e)
        keep &= ~dup
    # offloading keeps no activations of recomputed layers: not both
    keep &= ~((cols["offload_layers"] > 0) & (cols["recompute"] == 2))
    if not keep.all():
        cols = {k: v[keep] for k, v in cols.items()}
    model_par = cols["tp"] * cols["cp"] * cols["pp"]
    cols["gpus_divide"] = gpus % model_par != 0
    cols["dp"] = np.maximum(1, gpus // model_par)
    n = cols["tp"].shape[0]
    cols["global_batch"] = np.full(n, global_batch, dtype=np.int64)
    cols["seq_len"] = np.full(n, seq_len, dtype=np.int64)
    base = (template or Layout(global_batch=1, seq_len=1)).columns()
    for k in _TEMPLATE_KEYS:
        cols[k] = np.full(n, int(base[k]), dtype=np.int64)
    return cols


# ---------------------------------------------------------------- chunks
@attrs.frozen(kw_only=True, eq=False)
class _ChunkTask:
    """Everything a worker needs to filter and evaluate one chunk of candidates."""

    model: Any
    cluster: Cluster
    efficiency: TrainingEfficiency | None
    memory: MemoryModel | None
    precision: Precision
    gpus: int
    columns: Mapping[str, np.ndarray]
    offset: int
    token: str
    objective: Any
    top: int | None
    headroom: float = 0.0
    shared: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True, eq=False)
class _ChunkOut:
    columns: dict[str, np.ndarray]
    counts: dict[str, int]
    first: dict[str, int]
    min_memory: tuple[float, int] | None


_SOLVERS: dict[str, TrainingSolver] = {}
_SOLVER_SLOTS = 4


def _worker_solver(task: _ChunkTask) -> TrainingSolver:
    """The solver of this search in this process, built once per search and worker."""
    solver = _SOLVERS.get(task.token)
    if solver is None:
        solver = TrainingSolver(task.model, task.cluster, task.efficiency, memory=task.memory)
        while len(_SOLVERS) >= _SOLVER_SLOTS:
            _SOLVERS.pop(next(iter(_SOLVERS)))
        _SOLVERS[task.token] = solver
    return solver


def _run_chunk(task: _ChunkTask, solver: TrainingSolver | None = None) -> _ChunkOut:
    """Filter one chunk by rule and memory and evaluate its survivors (picklable entry point)."""
    if solver is None:
        solver = _worker_solver(task)
    model = task.model
    cols = task.columns
    n = int(cols["tp"].shape[0])
    masks = rule_masks(model, cols, task.gpus)
    masks = {"gpus_divide": np.asarray(cols["gpus_divide"], dtype=bool), **masks}
    rejected = np.zeros(n, dtype=bool)
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for rule in SEARCH_RULES[:-1]:
        hit = masks[rule] & ~rejected
        count = int(np.count_nonzero(hit))
        if count:
            counts[rule] = count
            first[rule] = task.offset + int(np.argmax(hit))
            rejected |= hit
    idx = np.flatnonzero(~rejected)
    sub = {k: v[idx] for k, v in cols.items() if k != "gpus_divide"}
    mem = memory_arrays(
        model, {**sub, **task.shared, "precision": task.precision}, memory=task.memory
    )
    capacity = float(task.cluster.accelerator.memory_capacity.m) * (1.0 - task.headroom)
    fits = mem["total_B"] <= capacity
    min_memory = None
    if not fits.all():
        counts["memory"] = int(np.count_nonzero(~fits))
        over = np.flatnonzero(~fits)
        j = over[int(np.argmin(mem["total_B"][over]))]
        min_memory = (float(mem["total_B"][j]), task.offset + int(idx[j]))
        first["memory"] = min_memory[1]
    keep = np.flatnonzero(fits)
    out: dict[str, np.ndarray] = {k: v[keep] for k, v in sub.items()}
    out["index"] = task.offset + idx[keep]
    for k in ("weights_B", "gradients_B", "optimizer_B", "activations_B"):
        out[k] = mem[k][keep]
    out["memory_B"] = mem["total_B"][keep]
    if keep.size:
        flash = task.memory.flash_attention if task.memory is not None else True
        res = solver.evaluate(
            {
                **out,
                **task.shared,
                "precision": task.precision,  # type: ignore[dict-item]
                "flash_attention": np.full(keep.size, int(flash), dtype=np.int64),
            }
        )
        step = res.step_time_s
        for k in BREAKDOWN_KEYS:
            out[f"{k}_s"] = np.asarray(res.breakdown[k], dtype=float)
        hw = np.asarray(res.hardware_flops, dtype=float)
    else:
        step = np.zeros(0)
        for k in BREAKDOWN_KEYS:
            out[f"{k}_s"] = np.zeros(0)
        hw = np.zeros(0)
    out["step_time_s"] = np.asarray(step, dtype=float)
    _metrics(out, hw, model=model, cluster=task.cluster, precision=task.precision, gpus=task.gpus)
    if task.top is not None and keep.size > task.top:
        order = _rank(out, task.objective)[: task.top]
        out = {k: v[order] for k, v in out.items()}
    return _ChunkOut(columns=out, counts=counts, first=first, min_memory=min_memory)


def _metrics(
    out: dict[str, np.ndarray],
    hw_flops: np.ndarray,
    *,
    model: Any,
    cluster: Cluster,
    precision: Precision,
    gpus: int,
) -> None:
    step = out["step_time_s"]
    seq = out["seq_len"]
    tokens = (out["global_batch"] * seq).astype(float)
    peak = cluster.accelerator.peak_flops_per_s(precision)
    flops_tok = np.empty(step.shape)
    for s_val in np.unique(seq).tolist():
        flops_tok[seq == s_val] = model.training_flops_per_token(int(s_val))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["tokens_per_second_per_gpu"] = tokens / step / gpus
        out["mfu"] = flops_tok * tokens / (step * gpus * peak)
        out["hfu"] = hw_flops / (step * gpus * peak)


def _rank(columns: Mapping[str, np.ndarray], objective: Any) -> np.ndarray:
    """Row order, best first: by score, then step time, then memory (stable)."""
    fn = OBJECTIVES[objective] if isinstance(objective, str) else objective
    score = np.asarray(fn(columns), dtype=float)
    n = columns["step_time_s"].shape[0]
    if score.shape != (n,):
        raise SpecError(
            f"objective must return one score per row, shape ({n},), got shape {score.shape}"
        )
    return np.lexsort((columns["memory_B"], columns["step_time_s"], score))


# ---------------------------------------------------------------- search
def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _objective_name(objective: Objective) -> str:
    if isinstance(objective, str):
        if objective not in OBJECTIVES:
            raise UnknownNameError("objective", objective, list(OBJECTIVES))
        return objective
    if callable(objective):
        return str(getattr(objective, "__name__", repr(objective)))
    raise SpecError(
        f"objective must be one of {', '.join(OBJECTIVES)} or a callable, got {objective!r}"
    )


def _layout_at(
    cols: Mapping[str, np.ndarray], i: int, precision: Precision, template: Layout | None = None
) -> Layout:
    """The Layout of row ``i`` of candidate or result columns (other fields from ``template``)."""
    base = template or Layout(global_batch=1, seq_len=1)
    rc = _CODE_TO_RECOMPUTE[int(cols["recompute"][i])]
    mask = int(cols["recompute_modules"][i]) if "recompute_modules" in cols else -1
    modules = None
    if rc is Recompute.SELECTIVE and mask >= 0:
        modules = tuple(m for j, m in enumerate(RECOMPUTE_MODULES) if mask & (1 << j))
    tp = int(cols["tp"][i])
    etp = int(cols["etp"][i]) if "etp" in cols else tp
    return attrs.evolve(
        base,
        tp=tp,
        pp=int(cols["pp"][i]),
        dp=int(cols["dp"][i]),
        cp=int(cols["cp"][i]),
        ep=int(cols["ep"][i]),
        etp=None if etp == tp else etp,
        vpp=int(cols["vpp"][i]),
        micro_batch=int(cols["micro_batch"][i]),
        global_batch=int(cols["global_batch"][i if cols["global_batch"].size > 1 else 0]),
        seq_len=int(cols["seq_len"][i if cols["seq_len"].size > 1 else 0]),
        precision=precision,
        recompute=rc,
        recompute_modules=modules,
        recompute_layers=base.recompute_layers if rc is Recompute.FULL else None,
        offload_layers=int(cols["offload_layers"][i]) if "offload_layers" in cols else 0,
        zero=int(cols["zero"][i]),
        sequence_parallel=bool(cols["sequence_parallel"][i]),
    )


def _reason(
    rule: str,
    i: int,
    cols: Mapping[str, np.ndarray],
    *,
    model: Any,
    cluster: Cluster,
    gpus: int,
    precision: Precision,
    memory: MemoryModel | None,
    template: Layout | None = None,
) -> str:
    tp, cp, pp = int(cols["tp"][i]), int(cols["cp"][i]), int(cols["pp"][i])
    if rule == "gpus_divide":
        return (
            f"tp*cp*pp = {tp}*{cp}*{pp} = {tp * cp * pp} does not divide the {gpus} GPUs "
            "(no integer dp uses them all)"
        )
    lay = _layout_at(cols, i, precision, template)
    if rule == "memory":
        from ..parallel.memory import memory_per_gpu

        mem = memory_per_gpu(model, lay, memory=memory)
        acc = cluster.accelerator
        parts = ", ".join(f"{k} {format_quantity(v)}" for k, v in mem.as_dict().items())
        return (
            f"tp={lay.tp} cp={lay.cp} pp={lay.pp} vpp={lay.vpp} dp={lay.dp} ep={lay.ep} "
            f"micro_batch={lay.micro_batch} recompute={lay.recompute.value} zero={lay.zero} "
            f"needs {format_quantity(mem.total)} per GPU ({parts}) but {acc.name} has "
            f"{format_quantity(acc.memory_capacity)}"
        )
    for name, message in lay.violations(model, gpus):
        if name == rule:
            return message
    return rule


def search_layouts(
    model: Any,
    cluster: Cluster,
    *,
    global_batch: int,
    seq_len: int,
    precision: Precision | str = "bf16",
    gpus: int | None = None,
    objective: Objective = "step_time",
    top: int | None = None,
    recompute: Iterable[Any] | Recompute | str | None = None,
    zero: Iterable[int] | int = (1, 3),
    tp: Iterable[int] | int | None = None,
    pp: Iterable[int] | int | None = None,
    cp: Iterable[int] | int | None = None,
    ep: Iterable[int] | int | None = None,
    etp: Iterable[int] | int | None = None,
    vpp: Iterable[int] | int | None = None,
    micro_batch: Iterable[int] | int | None = None,
    offload_layers: Iterable[int] | int | None = None,
    sequence_parallel: Iterable[bool] | bool = (True,),
    template: Layout | None = None,
    memory_headroom: float = 0.0,
    efficiency: TrainingEfficiency | None = None,
    memory: MemoryModel | None = None,
    executor: Executor | None = None,
    chunk_size: int = 65_536,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Every valid training layout of ``model`` on ``gpus`` GPUs of ``cluster``, ranked.

    The candidates are the cartesian product of the axes below, with
    ``dp = gpus / (tp * cp * pp)`` so that every layout uses exactly ``gpus``
    GPUs.  Candidates that break a divisibility rule
    (:data:`SEARCH_RULES`) or need more memory than one GPU has are dropped
    and counted by the first rule they break; the rest are evaluated with one
    :class:`~blackwell_model.solvers.training.TrainingSolver` (vectorised over
    chunks of ``chunk_size`` candidates) and ranked by ``objective``.

    Default enumerations (``None``):

    * ``tp``: powers of two up to the scale-up domain size (8 on DGX H100,
      64 on GB200 NVL72); those that do not divide the heads are rejected.
    * ``cp``: powers of two up to 64 that leave at least 1024 tokens per rank.
    * ``pp``: every divisor of ``gpus`` up to the layer count (stages may be
      uneven: the busiest holds ``ceil(layers / pp)`` layers).
    * ``ep``: 1 for a dense model; powers of two up to the expert count for
      MoE (``ep`` is carved out of ``dp * cp``).
    * ``etp``: for MoE, 1 and ``tp`` (MoE parallel folding: expert groups
      over ``tp * cp * dp``).
    * ``vpp``: 1, 2, 4, 8 (interleaved 1F1B).
    * ``micro_batch``: 1, 2, 4, 8 (no larger than ``global_batch``).
    * ``recompute``: none; a selective set that saves memory for the model's
      kind (:func:`recompute_options`); full.
    * ``zero``: 1 (distributed optimizer) and 3 (FSDP).
    * ``offload_layers``: 0, and half the layers where the accelerators sit
      on a Grace superchip (activations offloaded over NVLink-C2C).

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or its catalog name.
    cluster
        The :class:`~blackwell_model.hardware.Cluster`.
    global_batch
        Sequences per optimizer step [sequences].
    seq_len
        Tokens per sequence [tokens].
    precision
        GEMM precision of every layout (bf16, fp16, fp8, fp4).
    gpus
        GPUs every layout must use; defaults to ``cluster.gpus``.
    objective
        Ranking: a name in :data:`OBJECTIVES` (``"step_time"``, ``"memory"``,
        ``"mfu"``, ``"hfu"``, ``"tokens_per_second_per_gpu"``) or a callable
        taking the result columns (see :attr:`SearchResult.columns`) and
        returning one score per row, lower is better.  Ties are broken by
        step time, then memory.  With an ``executor`` and ``top`` a callable
        must be picklable (a module-level function).
    top
        Keep only the best ``top`` rows (counts still cover every candidate).
    recompute
        Recomputation settings to try: modes (``"none"``, ``"selective"``
        (the attention core), ``"full"``) and tuples of module names (a
        selective set, e.g. ``("layernorm", "mlp")``); None for the defaults.
    zero
        ZeRO stages to try (0-3).
    tp, pp, cp, ep, etp, vpp, micro_batch, offload_layers
        Values to try for each degree, or None for the defaults above
        (``etp`` 0 stands for "equal to ``tp``").
    template
        A :class:`~blackwell_model.parallel.Layout` whose fields the search
        does not vary (gradient and moment precision, overlaps, CUDA graphs,
        placement, pipeline split, MoE capacity factor and load CV); its
        degrees, batch and precision are ignored.  Default: a plain Layout.
    memory_headroom
        Fraction of HBM each kept layout must leave free [0, 1), on top of the
        memory model's reserve; e.g. 0.1 keeps layouts below 90 % of HBM.
    sequence_parallel
        Sequence-parallel settings to try.
    efficiency
        :class:`~blackwell_model.solvers.training.TrainingEfficiency`.
    memory
        :class:`~blackwell_model.parallel.MemoryModel` constants.
    executor
        A :class:`concurrent.futures.Executor` (process pool, Dask
        ``client.get_executor()``, ...) to evaluate chunks on; each worker
        builds its own solver once per search.  None runs in this process.
    chunk_size
        Candidates per chunk [count].
    progress
        Called as ``progress(done, total)`` with candidates evaluated so far,
        after each chunk (the command line draws a progress bar with it).

    Returns
    -------
    SearchResult
        Ranked rows, counts of candidates enumerated, feasible and rejected
        by rule, and the :func:`~blackwell_model.predict_training` report of
        the best layout.

    Raises
    ------
    SpecError
        For malformed arguments (non-positive batch, unknown recompute mode,
        a zero stage outside 0-3 ...).
    InfeasibleLayoutError
        If ``gpus`` exceeds the cluster (rule ``"gpus"``).  A search in which
        no layout is feasible is an answer, not an error:
        :meth:`SearchResult.check` raises on it.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> from blackwell_model.study import search_layouts
    >>> model = bm.catalog.model("llama3-8b")
    >>> cluster = bm.catalog.cluster("DGX-H100", gpus=16)
    >>> res = search_layouts(model, cluster, global_batch=64, seq_len=8192)
    >>> res.layout(0).gpus
    16
    >>> sum(res.rejected.values()) == res.enumerated - res.feasible
    True
    """
    t0 = time.perf_counter()
    model = as_part(model, Transformer, "model", "model")
    check_instance(memory, (MemoryModel, type(None)), "memory", "a MemoryModel or None")
    if executor is not None:
        check_executor(executor)
    if progress is not None:
        check_callable(progress, "progress")
    if not isinstance(cluster, Cluster):
        raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
    global_batch = _check_int("global_batch", global_batch)
    seq_len = _check_int("seq_len", seq_len)
    prec = Precision.parse(precision)
    if prec not in TRAINING_PRECISIONS:
        valid = ", ".join(x.value for x in TRAINING_PRECISIONS)
        raise SpecError(f"precision must be one of {valid} for training, got {prec.value!r}")
    cluster.accelerator.peak_flops_per_s(prec)  # UnsupportedPrecisionError if the chip lacks it
    n_gpus = cluster.gpus if gpus is None else _check_int("gpus", gpus)
    if n_gpus > cluster.gpus:
        raise InfeasibleLayoutError(
            "gpus", f"gpus={n_gpus} but cluster {cluster.name!r} has {cluster.gpus} GPUs"
        )
    if top is not None:
        top = _check_int("top", top)
    chunk_size = _check_int("chunk_size", chunk_size)
    objective_name = _objective_name(objective)
    zeros = _axis("zero", zero, (1, 3), minimum=0)
    if template is not None and not isinstance(template, Layout):
        raise SpecError(f"template must be a Layout or None, got {type(template).__name__}")
    if isinstance(memory_headroom, bool) or not isinstance(memory_headroom, int | float):
        raise SpecError(f"memory_headroom must be a fraction in [0, 1), got {memory_headroom!r}")
    headroom = float(memory_headroom)
    if not 0.0 <= headroom < 1.0:
        raise SpecError(f"memory_headroom must be a fraction in [0, 1), got {memory_headroom!r}")
    if any(z > 3 for z in zeros):
        raise SpecError(f"zero values must be 0, 1, 2 or 3, got {zero!r}")
    sp_seq = (
        (sequence_parallel,) if isinstance(sequence_parallel, bool) else tuple(sequence_parallel)
    )
    if not sp_seq or not all(isinstance(v, bool | np.bool_) for v in sp_seq):
        raise SpecError(
            f"sequence_parallel must be True, False or a sequence of them, got {sequence_parallel!r}"
        )

    defaults = default_axes(model, cluster, gpus=n_gpus, global_batch=global_batch, seq_len=seq_len)
    axes: dict[str, Any] = {
        "tp": _axis("tp", tp, defaults["tp"]),
        "cp": _axis("cp", cp, defaults["cp"]),
        "pp": _axis("pp", pp, defaults["pp"]),
        "ep": _axis("ep", ep, defaults["ep"]),
        "etp": _axis("etp", etp, defaults["etp"], minimum=0),
        "vpp": _axis("vpp", vpp, defaults["vpp"]),
        "micro_batch": _axis("micro_batch", micro_batch, defaults["micro_batch"]),
        "offload_layers": _axis(
            "offload_layers", offload_layers, defaults["offload_layers"], minimum=0
        ),
        "recompute": (
            recompute_options(model) if recompute is None else _recompute_axis(recompute)
        ),
        "zero": zeros,
        "sequence_parallel": tuple(dict.fromkeys(int(bool(v)) for v in sp_seq)),
    }
    cols = candidate_arrays(
        axes, gpus=n_gpus, global_batch=global_batch, seq_len=seq_len, template=template
    )
    base_cols = (template or Layout(global_batch=1, seq_len=1)).columns()
    shared = {k: base_cols[k] for k in ("capacity_factor", "expert_load_cv")}
    n = int(cols["tp"].shape[0])

    token = uuid.uuid4().hex
    tasks = [
        _ChunkTask(
            model=model,
            cluster=cluster,
            efficiency=efficiency,
            memory=memory,
            precision=prec,
            gpus=n_gpus,
            columns={k: v[lo : lo + chunk_size] for k, v in cols.items()},
            offset=lo,
            token=token,
            objective=objective,
            top=top,
            headroom=headroom,
            shared=shared,
        )
        for lo in range(0, n, chunk_size)
    ]
    solver: TrainingSolver | None = None
    outs: list[_ChunkOut] = []
    done = 0
    stopped: str | None = None
    futures: list[Any] = []
    try:
        if executor is None:
            solver = TrainingSolver(model, cluster, efficiency, memory=memory)
            for t in tasks:
                outs.append(_run_chunk(t, solver))
                done = min(n, done + chunk_size)
                if progress is not None:
                    progress(done, n)
        else:
            futures = [executor.submit(_run_chunk, t) for t in tasks]
            for f in futures:
                outs.append(f.result())
                done = min(n, done + chunk_size)
                if progress is not None:
                    progress(done, n)
    except KeyboardInterrupt:
        # rank what was finished; the caller gets it as ``Interrupted.partial``
        for f in futures:
            f.cancel()
        stopped = f"search interrupted after {done:,} of {n:,} candidates"
        n = done

    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    min_memory: tuple[float, int] | None = None
    for o in outs:
        for rule, count in o.counts.items():
            counts[rule] = counts.get(rule, 0) + count
        for rule, i in o.first.items():
            first.setdefault(rule, i)
        if o.min_memory is not None and (min_memory is None or o.min_memory[0] < min_memory[0]):
            min_memory = o.min_memory
    if min_memory is not None:
        first["memory"] = min_memory[1]
    rejected = {rule: counts[rule] for rule in SEARCH_RULES if rule in counts}
    reasons = {
        rule: _reason(
            rule,
            first[rule],
            cols,
            model=model,
            cluster=cluster,
            gpus=n_gpus,
            precision=prec,
            memory=memory,
            template=template,
        )
        for rule in rejected
    }
    feasible = n - sum(rejected.values())

    keys = outs[0].columns.keys() if outs else ()
    merged = {k: np.concatenate([o.columns[k] for o in outs]) for k in keys}
    if not merged:
        merged = {
            k: np.zeros(0)
            for k in ("step_time_s", "memory_B", "mfu", "hfu", "tokens_per_second_per_gpu")
        }
    order = _rank(merged, objective)
    if top is not None:
        order = order[:top]
    ranked = {k: v[order] for k, v in merged.items()}
    fn = OBJECTIVES[objective] if isinstance(objective, str) else objective
    ranked["score"] = np.asarray(fn(ranked), dtype=float) if order.size else np.zeros(0)
    for k in ("index", "global_batch", "seq_len", *_TEMPLATE_KEYS):
        ranked.pop(k, None)

    best = None
    if order.size:
        best_layout = _layout_at({**ranked, **_constant(global_batch, seq_len)}, 0, prec, template)
        best = predict_training(
            model, cluster, best_layout, efficiency=efficiency, memory=memory, solver=solver
        )
    result = SearchResult(
        model_name=model.name,
        cluster_name=cluster.name,
        gpus=n_gpus,
        global_batch=global_batch,
        seq_len=seq_len,
        precision=prec,
        objective=objective_name,
        columns=ranked,
        enumerated=n,
        feasible=feasible,
        rejected=rejected,
        reasons=reasons,
        min_memory_rejected_B=None if min_memory is None else min_memory[0],
        memory_capacity_B=float(cluster.accelerator.memory_capacity.m),
        best=best,
        elapsed_s=time.perf_counter() - t0,
        template=template,
        memory_headroom=headroom,
    )
    if stopped is not None:
        raise Interrupted(stopped, partial=result)
    return result


def _constant(global_batch: int, seq_len: int) -> dict[str, np.ndarray]:
    return {
        "global_batch": np.array([global_batch], dtype=np.int64),
        "seq_len": np.array([seq_len], dtype=np.int64),
    }
