"""Step time of a training layout, composed from the roofline and collective solvers.

One code path serves a single prediction and a layout search: the step is
evaluated on numpy arrays of candidate layouts (a single layout is an array of
length one).  Per-layer compute times come from
:func:`~blackwell_model.solvers.roofline` on the operators of
:func:`~blackwell_model.workload.layer_operators` (MoE blocks from
:mod:`blackwell_model.workload.moe`) and are cached per layer shape;
communication times come from :func:`~blackwell_model.solvers.collective_time`
on the span of each parallel group (expert groups folded over the stage's
``tp x cp x dp`` ranks), cached per group shape.

The composition, per pipeline rank ``r`` holding :math:`n_r` dense and
:math:`n'_r` MoE layers, with :math:`m` micro-batches, :math:`p` stages and
:math:`v` virtual chunks:

.. math::

   T_r = n_r\\,t_{dense} + n'_r\\,t_{moe} + t_{edge,r} + t_{pp}, \\qquad
   t_{layer} = t_f + t_b + t_{rc} + t_{tp} + t_{cp} + t_{ep} + t_{off}

.. math::

   T_{step} = m \\max_r T_r + \\frac{p - 1}{v} \\max_r T_r + t_{dp} + t_{opt} + t_0

where :math:`t_f, t_b` are a layer's forward and backward compute,
:math:`t_{rc}` the recomputed forward of the checkpointed modules (the whole
layer for full recomputation), :math:`t_{tp}, t_{cp}, t_{ep}` the exposed
tensor-, context- and expert-parallel communication (the expert all-to-all
hidden under the shared experts, or under another micro-batch's compute with
``overlap_moe_comm``), :math:`t_{off}` the exposed activation offload to host
memory, :math:`t_{edge,r}` the embedding (first rank), LM head, loss and MTP
modules (last rank), :math:`t_{pp}` the exposed pipeline transfers,
:math:`t_{dp}` the exposed data-parallel gradient and weight collectives of
the slowest rank and :math:`t_{opt}` the optimizer step.  The slowest rank
sets the pace, so an uneven split (fewer layers on the first and last stage)
shows in the step time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import attrs
import numpy as np

from .._spec import bool_field
from .._validate import check_instance
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.precision import Precision
from ..parallel.layout import RECOMPUTE_MODULES, stage_layer_arrays
from ..parallel.memory import (
    MemoryModel,
    activation_bytes_arrays,
    stage_moe_layers,
    stage_param_arrays,
)
from ..topology.span import GroupSpan
from ..units import finite_non_negative, fraction
from ..workload.moe import expert_load_factor
from ..workload.operators import OpKind, layer_operators, model_operators
from ._efficiency import Efficiency
from .collectives import CollectiveEfficiency, collective_time, efficiency_for
from .moe import dispatch_bytes, expert_comm_exposure
from .roofline import roofline
from .serving_params import GemmCeilings, gemm_ceilings_for

_FRACTION = fraction()

__all__ = [
    "BREAKDOWN_KEYS",
    "CALIBRATED_ROOFLINE",
    "TE_GROUPED_GEMM_GROUP_S",
    "UNFUSED_SCORE_BYTES",
    "LayerTimes",
    "StepArrays",
    "TrainingEfficiency",
    "TrainingSolver",
    "host_link_Bps",
]

#: Parts of a training step, in the order of :attr:`StepArrays.breakdown`.
BREAKDOWN_KEYS: tuple[str, ...] = (
    "compute",
    "recompute",
    "tp_comm",
    "cp_comm",
    "ep_comm",
    "pp_comm",
    "offload",
    "pipeline_bubble",
    "dp_comm",
    "optimizer",
    "overhead",
)

#: Bytes moved per attention-score element by an unfused attention core
#: (forward, backward): 16-bit scores written by the first GEMM (2), read and
#: written by the fused scale-mask-softmax (4), dropout read, write and 1-byte
#: mask (5), read by the second GEMM (2); backward: the gradient GEMM output
#: (2), dropout backward (5), softmax backward reading probabilities and
#: gradient and writing the result (6), read by two GEMMs (4).
UNFUSED_SCORE_BYTES: tuple[float, float] = (13.0, 17.0)

#: Operator modules whose forward each recompute module re-runs (the
#: Megatron-Core ``--recompute-modules``); ``moe`` also repeats the dispatch
#: and combine all-to-all.
_MODULE_OPS: Mapping[str, tuple[str, ...]] = {
    "core_attn": ("core_attn",),
    "layernorm": ("layernorm",),
    "mla_up_proj": ("mla_up_proj",),
    "mlp": ("mlp",),
    "moe_act": ("moe_act",),
    "moe": ("moe_router", "moe_dispatch", "moe_experts", "moe_act", "shared_experts"),
    "shared_experts": ("shared_experts",),
}


def _activation(precision: Precision) -> Precision:
    """Activation precision of a training recipe: BF16 under 8-bit and narrower GEMMs."""
    return Precision.BF16 if precision.bytes < 2.0 else precision


#: Fixed time per expert of a grouped GEMM as Megatron-Core runs it through
#: Transformer Engine (one GEMM per local expert) [s].  14 µs: 128 experts x
#: (512 x 1536 x 2048) BF16 on H100 take 2.57 ms with the CUTLASS grouped kernel
#: (3.18 ms looping cuBLAS) against 0.83 ms for the roofline with
#: ``grouped_overlap`` (tgale96/grouped_gemm PR #37, the Qwen3-30B-A3B
#: up-projection shape).  With few large groups (8 x 4096 or 16 x 2048 rows of
#: 768 x 2048, NVIDIA/TransformerEngine PR #2045) the kernels run within 4 µs per
#: group of the roofline, so this is pessimistic there by at most that.  A
#: kernel-level figure, not fitted to the training cases.
TE_GROUPED_GEMM_GROUP_S = 14.0e-6

#: Kernel efficiencies of the training model, calibrated against the public
#: measured training cases (``python -m blackwell_model.validation.calibrate``;
#: see ``docs/validation.rst``).  Fields not listed keep the
#: :class:`~blackwell_model.solvers.Efficiency` priors.
CALIBRATED_ROOFLINE = Efficiency(
    gemm_max=0.72,  # calibrated (prior 0.70)
    attention=0.35,  # calibrated (prior 0.55)
    attention_backward=0.2545,  # linked: 0.35 x 0.40 / 0.55 (ratio of the priors)
    overhead_s=2.4e-5,  # calibrated: 24 us per kernel (launch and inter-kernel gaps)
    group_overhead_s=TE_GROUPED_GEMM_GROUP_S,  # kernel measurement, not calibrated
)


def _efficiency(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if not isinstance(value, Efficiency):
        raise SpecError(
            f"{attribute.name} must be an Efficiency, got {type(value).__name__} {value!r}"
        )


def _ceilings(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    check_instance(value, (GemmCeilings, type(None)), attribute.name, "a GemmCeilings or None")


def _collective_eff(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if value is not None and not isinstance(value, CollectiveEfficiency):
        raise SpecError(
            f"{attribute.name} must be a CollectiveEfficiency or None, got {type(value).__name__} {value!r}"
        )


@attrs.frozen(kw_only=True)
class TrainingEfficiency:
    """Explicit, documented efficiency parameters of the training step model.

    The defaults of the fields marked *calibrated* come from
    :func:`blackwell_model.validation.calibrate.calibrate`, which fits them to
    the public measured training cases by a deterministic grid search
    (``python -m blackwell_model.validation.calibrate`` reproduces them); the
    others are documented priors.  No parameter is per case, per model or per
    hardware generation; the generation enters only through physics
    (peaks, bandwidths, SM counts, link speeds).

    Parameters
    ----------
    roofline
        Kernel efficiencies (:class:`~blackwell_model.solvers.Efficiency`);
        default :data:`CALIBRATED_ROOFLINE` (``gemm_max``, ``attention``,
        ``attention_backward`` and ``overhead_s`` calibrated).
    collectives
        Collective bus efficiencies; None picks the preset matching the
        accelerator (:func:`~blackwell_model.solvers.efficiency_for`).
    gemm_ceilings
        Large-GEMM ceilings of the narrow precisions
        (:class:`~blackwell_model.solvers.serving_params.GemmCeilings`), in place of
        ``roofline.gemm_max`` for GEMMs computing at FP8/FP6/FP4; ``None`` takes the
        accelerator generation's published ones
        (:func:`~blackwell_model.solvers.serving_params.gemm_ceilings_for`:
        Blackwell's, none on Hopper and Ampere), as serving does.
    units_from_accelerator
        Use the accelerator's ``compute_units`` (SM or CU count, from the
        catalog) for the GEMM wave quantisation instead of
        ``roofline.compute_units`` (when the accelerator gives one).
    low_precision_gemm_fraction
        Fraction of the transformer-layer GEMM work that runs at the FP8 (or
        FP4) rate when the layout's precision is 8-bit or narrower; the rest
        runs at the BF16 rate.  FP8 recipes (Transformer Engine delayed or
        current scaling) quantise the inputs of every linear layer, but the
        casts, amax reductions and transposes add memory-bound work and FP8
        GEMMs reach a lower fraction of their peak than BF16 ones; this one
        number stands for all of that (calibrated).  The LM head and the
        attention core always run in BF16.
    tp_overlap
        Fraction of tensor-parallel communication hidden under GEMMs when
        ``Layout.overlap_tp_comm`` is set (userbuffers / TE comm-GEMM overlap)
        (calibrated).
    cp_overlap
        Fraction of a layer's attention time that can hide the ring exchange of
        keys and values in context parallelism.
    ep_overlap
        Fraction of a layer's compute (another micro-batch's) that can hide the
        expert-parallel all-to-all with ``Layout.overlap_moe_comm`` (Megatron's
        1F1B all-to-all overlap).  Without it the dispatch and combine hide
        only under the shared experts of the same layer.
    dp_overlap
        Fraction of a stage's backward (forward) compute of one micro-batch
        that can hide the gradient reduce-scatter (parameter all-gather) when
        ``Layout.overlap_dp_comm`` is set (calibrated).
    pp_overlap
        Fraction of pipeline send/receive hidden when ``Layout.overlap_pp_comm``
        is set.
    offload_overlap
        Fraction of a layer's forward (backward) compute that can hide the
        copy of its activations to (from) host memory.
    optimizer_bytes
        HBM traffic of the Adam update per local parameter [B]: read FP32
        master weight, two moments and gradient (16), write them back (12) and
        the BF16 weight (2).
    host_launch_s
        Host time to launch one kernel from the framework [s] (PyTorch eager
        dispatch plus the CUDA launch; prior 5 µs).  A layer's forward
        (backward) takes at least its launches times this, unless the layout
        runs CUDA graphs; the kernels of :mod:`blackwell_model.workload`
        carry their launch counts (a grouped GEMM issued per expert, the
        router's small kernels, one quantisation per FP8 GEMM input).
    step_overhead_s
        Fixed time per step [s] (data loading, logging, launch gaps)
        (calibrated).
    """

    roofline: Efficiency = attrs.field(factory=lambda: CALIBRATED_ROOFLINE, validator=_efficiency)
    collectives: CollectiveEfficiency | None = attrs.field(default=None, validator=_collective_eff)
    units_from_accelerator: bool = bool_field(default=True)
    gemm_ceilings: GemmCeilings | None = attrs.field(default=None, validator=_ceilings)
    # calibrated (prior 1.0): 55 % of the layer GEMM time at the FP8 rate
    low_precision_gemm_fraction: float = attrs.field(default=0.55, validator=_FRACTION)
    tp_overlap: float = attrs.field(default=0.9, validator=_FRACTION)  # calibrated (prior 0.5)
    cp_overlap: float = attrs.field(default=0.8, validator=_FRACTION)
    ep_overlap: float = attrs.field(default=0.8, validator=_FRACTION)
    dp_overlap: float = attrs.field(default=0.7, validator=_FRACTION)  # calibrated (prior 0.9)
    pp_overlap: float = attrs.field(default=0.9, validator=_FRACTION)
    offload_overlap: float = attrs.field(default=0.9, validator=_FRACTION)
    optimizer_bytes: float = attrs.field(default=30.0, validator=finite_non_negative)
    host_launch_s: float = attrs.field(default=5.0e-6, validator=finite_non_negative)
    step_overhead_s: float = attrs.field(default=0.0, validator=finite_non_negative)


@attrs.frozen(kw_only=True)
class StepArrays:
    """Step times of candidate layouts (arrays of equal length, floats in SI units).

    Parameters
    ----------
    step_time_s
        Predicted step time [s].
    breakdown
        Part name (:data:`BREAKDOWN_KEYS`) -> time [s]; the parts add up to
        ``step_time_s``.
    hardware_flops
        FLOPs executed per step over all GPUs, recomputation included [FLOP].
    stage_time_s
        Time of one micro-batch on the first, busiest middle and last
        pipeline rank, shape ``(3, n)`` [s] (0 where a rank does not exist).
    """

    step_time_s: np.ndarray
    breakdown: Mapping[str, np.ndarray]
    hardware_flops: np.ndarray
    stage_time_s: np.ndarray


class LayerTimes(NamedTuple):
    """Times of one layer on one GPU for one micro-batch [s] (and its forward FLOPs).

    ``modules`` is the forward time of the kernels of each recompute module
    (:data:`~blackwell_model.parallel.layout.RECOMPUTE_MODULES` order);
    ``module_flops`` their forward FLOPs [FLOP].
    """

    fwd: float
    bwd: float
    attn_fwd: float
    attn_bwd: float
    flops: float
    modules: tuple[float, ...]
    module_flops: tuple[float, ...]
    shared_fwd: float
    shared_bwd: float


def host_link_Bps(cluster: Any) -> float:
    """Bandwidth of one accelerator's link to host memory, per direction [B/s] (0 if unknown).

    NVLink-C2C on a superchip (GB200: 450 GB/s each way per GPU), else the
    node's host link (PCIe), else the accelerator's own ``host_link``.
    """
    node = getattr(getattr(cluster, "domain", None), "node", None)
    if node is not None:
        sc = getattr(node, "superchip", None)
        if sc is not None and getattr(sc, "c2c_link", None) is not None:
            return float(sc.c2c_link.bandwidth.m)
        link = getattr(node, "host_link", None)
        if link is not None:
            return float(link.bandwidth.m)
    link = getattr(getattr(cluster, "accelerator", None), "host_link", None)
    if link is not None:
        return float(link.bandwidth.m)
    return 0.0


def _groups(*cols: np.ndarray) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Rows grouped by equal values of the integer columns: ``[(values, row indices)]``.

    One 1-D sort instead of a boolean mask per group, so the cost stays
    ``O(n log n)`` however many groups there are.
    """
    n = cols[0].shape[0]
    if n == 0:
        return []
    key = np.zeros(n, dtype=np.int64)
    for col in cols:
        _, inv = np.unique(col, return_inverse=True)
        key = key * (int(inv.max()) + 1) + inv.reshape(-1)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    ends = np.r_[starts[1:], n]
    out = []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        rows = order[lo:hi]
        first = rows[0]
        out.append((tuple(int(c[first]) for c in cols), rows))
    return out


def _col(c: Mapping[str, Any], key: str, n: int, default: int) -> np.ndarray:
    if key not in c:
        return np.full(n, default, dtype=np.int64)
    return np.broadcast_to(np.asarray(c[key], dtype=np.int64), (n,))


class TrainingSolver:
    """Evaluates training steps of one model on one cluster, with caches.

    Build it once and call :meth:`evaluate` with as many candidate layouts as
    needed; per-layer compute and per-group communication are cached across
    calls.

    Parameters
    ----------
    model
        The :class:`~blackwell_model.workload.Transformer`.
    cluster
        The :class:`~blackwell_model.hardware.Cluster`.
    efficiency
        :class:`TrainingEfficiency`; defaults to the documented defaults.
    hierarchy
        Optional :class:`~blackwell_model.topology.Hierarchy`-like object with
        ``span(ranks) -> GroupSpan``; built from the cluster when omitted.
    memory
        :class:`~blackwell_model.parallel.MemoryModel` used to size the
        activations that offloading moves (defaults to the documented model).
    """

    def __init__(
        self,
        model: Any,
        cluster: Any,
        efficiency: TrainingEfficiency | None = None,
        *,
        hierarchy: Any = None,
        memory: MemoryModel | None = None,
    ) -> None:
        from ..hardware.system import Cluster
        from ..workload.transformer import Transformer

        if not isinstance(model, Transformer):
            raise SpecError(f"model must be a Transformer, got {type(model).__name__} {model!r}")
        if not isinstance(cluster, Cluster):
            raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
        if memory is not None and not isinstance(memory, MemoryModel):
            raise SpecError(f"memory must be a MemoryModel or None, got {type(memory).__name__}")
        self.model = model
        self.cluster = cluster
        self.accelerator = cluster.accelerator
        self.eff = efficiency or TrainingEfficiency()
        if not isinstance(self.eff, TrainingEfficiency):
            raise SpecError(
                f"efficiency must be a TrainingEfficiency or None, got {type(self.eff).__name__}"
            )
        self.memory = memory or MemoryModel()
        self.coll = self.eff.collectives or efficiency_for(self.accelerator)
        roof = self.eff.roofline
        units = self.accelerator.compute_units
        if self.eff.units_from_accelerator and units is not None and roof.compute_units:
            roof = attrs.evolve(roof, compute_units=units)
        #: The kernel efficiencies used (``roofline`` with the accelerator's SM count).
        self.kernel_eff = roof
        # GEMMs at 8 bits or fewer run under their precision's ceiling where one is
        # set (Blackwell's published ones by default) in place of gemm_max
        ceilings = self.eff.gemm_ceilings or gemm_ceilings_for(self.accelerator)
        self._narrow_eff: dict[Precision, Any] = {}
        for p in (Precision.FP8, Precision.FP6, Precision.FP4):
            c = ceilings.ceiling(p)
            if c is not None:
                self._narrow_eff[p] = attrs.evolve(roof, gemm_max=c)
        if hierarchy is None:
            from ..topology import cluster_spans

            hierarchy = cluster_spans(cluster)
        self.spans = hierarchy
        self._layers: dict[tuple[Any, ...], dict[bool, LayerTimes]] = {}
        self._edges: dict[tuple[Any, ...], tuple[float, float, float, float]] = {}
        self._span_cache: dict[tuple[int, ...], GroupSpan | None] = {}
        self._rank_span_cache: dict[tuple[Any, ...], GroupSpan | None] = {}
        self.hbm_Bps = float(self.accelerator.memory_bandwidth.m)
        self.host_Bps = host_link_Bps(cluster)

    def matches(self, model: Any, cluster: Any) -> bool:
        """True if this solver was built for ``model`` and ``cluster`` (equal objects)."""
        return bool(
            (self.model is model or self.model == model)
            and (self.cluster is cluster or self.cluster == cluster)
        )

    # ---------------------------------------------------------------- compute
    def _time(self, ops: Any) -> tuple[float, float, float, dict[str, tuple[float, float]]]:
        total = attn = flops = 0.0
        by_module: dict[str, list[float]] = {}
        launches = 0.0
        for op in ops:
            launches += op.launches * (2.0 if op.kind.is_gemm and op.precision.bytes < 2.0 else 1.0)
            eff = self._narrow_eff.get(op.precision) if op.kind.is_gemm else None
            r = roofline(op, self.accelerator, efficiency=eff or self.kernel_eff)
            total += r.time_s
            flops += op.flops
            if op.kind is OpKind.ATTENTION:
                attn += r.time_s
            acc = by_module.setdefault(op.module, [0.0, 0.0])
            acc[0] += r.time_s
            acc[1] += op.flops
        out = {k: (v[0], v[1]) for k, v in by_module.items()}
        out["_host"] = (launches * self.eff.host_launch_s, launches)
        return total, attn, flops, out

    def _layer_times_at(  # noqa: PLR0917 - positional arguments are the cache key / hot path
        self,
        precision: Precision,
        micro_batch: int,
        seq_len: int,
        tp: int,
        cp: int,
        ep: int,
        etp: int,
        sp: bool,
        load: float,
        grad_bytes: float,
        graphs: bool,
        router_fp32: bool = False,
    ) -> dict[bool, LayerTimes]:
        out: dict[bool, LayerTimes] = {}
        counts: dict[bool, int] = {}
        for lt in self.model.distinct_layer_types():
            common: dict[str, Any] = dict(
                batch=micro_batch, seq_len=seq_len, precision=precision, tp=tp, cp=cp,
                ep=ep if lt.moe else 1, etp=etp if lt.moe else None, layer=lt,
                sequence_parallel=sp, activation_precision=_activation(precision),
                expert_load=load if lt.moe else 1.0, router_fp32=router_fp32 and lt.moe,
            )  # fmt: skip
            fwd, attn, flops, mods = self._time(
                layer_operators(self.model, phase="forward", **common)
            )
            bwd, attn_b, _, mods_b = self._time(
                layer_operators(self.model, phase="backward", grad_accum_bytes=grad_bytes, **common)
            )
            if not graphs:
                # without CUDA graphs the host launches every kernel: a layer whose
                # kernels are shorter than their launches waits for the host
                fwd = max(fwd, mods["_host"][0])
                bwd = max(bwd, mods_b["_host"][0])
            rc_t = tuple(
                sum(mods.get(name, (0.0, 0.0))[0] for name in _MODULE_OPS[m])
                for m in RECOMPUTE_MODULES
            )
            rc_f = tuple(
                sum(mods.get(name, (0.0, 0.0))[1] for name in _MODULE_OPS[m])
                for m in RECOMPUTE_MODULES
            )
            vals = LayerTimes(
                fwd, bwd, attn, attn_b, flops, rc_t, rc_f,
                mods.get("shared_experts", (0.0, 0.0))[0],
                mods_b.get("shared_experts", (0.0, 0.0))[0],
            )  # fmt: skip
            prev = out.get(lt.moe)
            # layers of one MoE-ness may differ by window; average them (by count)
            w = self.model.layer_type_counts()[lt]
            if prev is None:
                out[lt.moe] = vals
                counts[lt.moe] = w
            else:
                c0 = counts[lt.moe]
                out[lt.moe] = _blend(prev, vals, w / (c0 + w))
                counts[lt.moe] = c0 + w
        return out

    def layer_times(  # noqa: PLR0917 - positional arguments are the cache key / hot path
        self,
        precision: Precision,
        micro_batch: int,
        seq_len: int,
        tp: int,
        cp: int,
        ep: int,
        sp: bool,
        etp: int | None = None,
        load: float = 1.0,
        grad_bytes: float = 4.0,
        graphs: bool = False,
        router_fp32: bool = False,
    ) -> dict[bool, LayerTimes]:
        """Per-layer :class:`LayerTimes`, dense (False) and MoE (True).

        For 8-bit and narrower precisions the times blend the layer at that
        precision and at BF16 with
        :attr:`TrainingEfficiency.low_precision_gemm_fraction` (the non-GEMM
        kernels are the same in both).  ``load`` is the busiest expert-parallel
        rank's share of routed tokens over the mean
        (:func:`~blackwell_model.workload.moe.expert_load_factor`);
        ``grad_bytes`` the bytes per weight of the main-gradient buffer that
        the weight-gradient GEMMs accumulate into (4 for FP32, 2 for BF16);
        ``graphs`` that the layers run as CUDA graphs (no host launch cost);
        ``router_fp32`` that the MoE router's GEMM runs in FP32.
        """
        et = tp if etp is None else etp
        load = round(float(load), 6)
        key = (
            precision, micro_batch, seq_len, tp, cp, ep, et, sp, load, grad_bytes, graphs,
            router_fp32,
        )  # fmt: skip
        hit = self._layers.get(key)
        if hit is not None:
            return hit
        args = (
            micro_batch, seq_len, tp, cp, ep, et, sp, load, float(grad_bytes), bool(graphs),
            bool(router_fp32),
        )  # fmt: skip
        out = self._layer_times_at(precision, *args)
        if precision.bytes < 2.0:
            phi = self.eff.low_precision_gemm_fraction
            wide = self._layer_times_at(Precision.BF16, *args)
            out = {k: _blend(wide[k], v, phi) for k, v in out.items()}
        self._layers[key] = out
        return out

    def edge_times(  # noqa: PLR0917 - positional arguments are the cache key / hot path
        self, precision: Precision, micro_batch: int, seq_len: int, tp: int, cp: int, sp: bool
    ) -> tuple[float, float, float, float]:
        """(embedding fwd+bwd [s], LM head+loss fwd+bwd [s], fwd FLOPs emb, fwd FLOPs head).

        The LM head runs in BF16 under 8-bit and narrower recipes (Megatron's
        output layer is not a Transformer Engine FP8 layer).
        """
        key = (precision, micro_batch, seq_len, tp, cp, sp)
        hit = self._edges.get(key)
        if hit is not None:
            return hit
        head_precision = Precision.BF16 if precision.bytes < 2.0 else precision
        common: dict[str, Any] = dict(
            batch=micro_batch, seq_len=seq_len, precision=head_precision, tp=tp, cp=cp,
            sequence_parallel=sp, layers=range(0),
        )  # fmt: skip
        res = []
        for phase in ("forward", "backward"):
            mo = model_operators(self.model, phase=phase, **common)
            res.append((self._time(mo.pre), self._time(mo.post)))
        emb = res[0][0][0] + res[1][0][0]
        head = res[0][1][0] + res[1][1][0]
        out = (emb, head, res[0][0][2], res[0][1][2])
        self._edges[key] = out
        return out

    def unfused_attention_times(
        self, precision: Precision, micro_batch: int, seq_len: int, tp: int, cp: int
    ) -> tuple[float, float]:
        """Forward and backward time [s] of one layer's attention core without a fused kernel.

        Before FlashAttention (Megatron-LM 2021/2022) the core was two batched
        GEMMs over every query-key pair (no causal skipping) plus
        memory-bound kernels on the :math:`s \\times s` score matrix in 16-bit:
        :data:`UNFUSED_SCORE_BYTES` bytes per score element forward (GEMM
        output, fused scale-mask-softmax read and write, dropout read, write
        and mask, second GEMM read) and backward.
        """
        act = _activation(precision)
        heads = self.model.heads / tp
        pairs = float(micro_batch) * (seq_len / cp) * seq_len * heads
        flops = 2.0 * pairs * (self.model.qk_dim + self.model.v_dim)
        peak = self.accelerator.peak_flops_per_s(act) * self.kernel_eff.gemm_max
        bw = self.hbm_Bps * self.kernel_eff.elementwise
        b_fwd, b_bwd = UNFUSED_SCORE_BYTES
        return flops / peak + pairs * b_fwd / bw, 2.0 * flops / peak + pairs * b_bwd / bw

    # ---------------------------------------------------------- communication
    def span(
        self, size: int, stride: int, extra: tuple[int, int] | None = None
    ) -> GroupSpan | None:
        """Span of the group of rank 0 with ``size`` members ``stride`` ranks apart.

        ``extra`` = ``(size2, stride2)`` makes a two-dimensional group (e.g.
        data parallel over ``dp`` and ``cp``).  Returns None for a group of one.
        """
        key = (size, stride) + (extra or (1, 1))
        if key in self._span_cache:
            return self._span_cache[key]
        ranks = [i * stride for i in range(size)]
        if extra is not None and extra[0] > 1:
            ranks = [r + j * extra[1] for r in ranks for j in range(extra[0])]
        span = None if len(ranks) < 2 else self.spans.span(ranks)
        self._span_cache[key] = span
        return span

    def _stage_span(
        self, members: tuple[int, ...], tp: int, cp: int, pp: int, order: int
    ) -> GroupSpan | None:
        """Span of a group given by stage-local indices ``j`` in ``[0, tp*cp*dp)``.

        Stage-local index ``j = tp_r + tp * (cp_r + cp * dp_r)`` is mapped to
        the global rank of pipeline stage 0 under the placement: ``j`` itself
        for ``tp-cp-ep-dp-pp``; ``tp_r + tp * cp_r + tp * cp * pp * dp_r`` for
        ``tp-cp-ep-pp-dp``.
        """
        if len(members) < 2:
            return None
        key = (members, tp, cp, pp, order)
        if key in self._rank_span_cache:
            return self._rank_span_cache[key]
        if order == 0:
            ranks = list(members)
        else:
            block = tp * cp
            ranks = [j % block + block * pp * (j // block) for j in members]
        span = self.spans.span(ranks)
        self._rank_span_cache[key] = span
        return span

    def _placement_spans(  # noqa: PLR0917 - positional arguments are the cache key
        self, tp: int, cp: int, ep: int, etp: int, pp: int, dp: int, order: int
    ) -> tuple[GroupSpan | None, ...]:
        """Spans of the (cp, pp, dense-dp, ep, expert-dp, etp) groups of rank 0.

        Dense groups follow the placement; expert groups fold over the
        stage's ``tp * cp * dp`` ranks in Megatron's expert order: ``etp``
        innermost, then ``ep``, then expert data parallel.
        """
        s_cp = self.span(cp, tp)
        if order == 0:  # tp-cp-ep-dp-pp: the cp x dp ranks of a stage are contiguous
            s_pp = self.span(pp, tp * cp * dp)
            s_dp = self.span(cp * dp, tp)
        else:  # tp-cp-ep-pp-dp: pp stride tp*cp, dp stride tp*cp*pp
            s_pp = self.span(pp, tp * cp)
            s_dp = self.span(dp, tp * cp * pp, (cp, tp) if cp > 1 else None)
        if not self.model.is_moe:
            return s_cp, s_pp, s_dp, None, None, None
        edp = max(1, tp * cp * dp // (ep * etp))
        if order == 0:  # stage-local index = global rank of stage 0: arithmetic groups
            s_ep = self.span(ep, etp)
            s_edp = self.span(edp, etp * ep)
            s_etp = self.span(etp, 1)
        else:
            s_ep = self._stage_span(tuple(etp * i for i in range(ep)), tp, cp, pp, order)
            s_edp = self._stage_span(tuple(etp * ep * i for i in range(edp)), tp, cp, pp, order)
            s_etp = self._stage_span(tuple(range(etp)), tp, cp, pp, order)
        return s_cp, s_pp, s_dp, s_ep, s_edp, s_etp

    def comm(self, op: str, span: GroupSpan | None, size_bytes: np.ndarray) -> np.ndarray:
        """Collective time [s] of ``op`` over ``span`` for each size (0 for a group of one)."""
        if span is None:
            return np.zeros_like(size_bytes, dtype=float)
        return np.asarray(collective_time(op, span, size_bytes, efficiency=self.coll), dtype=float)

    # ------------------------------------------------------------- evaluation
    def evaluate(self, c: Mapping[str, Any]) -> StepArrays:
        """Step times of candidate layouts given as equal-length integer arrays.

        Keys as :meth:`~blackwell_model.parallel.Layout.columns` (``tp, cp,
        ep, pp, vpp, dp, micro_batch, global_batch, seq_len, recompute, zero,
        sequence_parallel, overlap_dp, overlap_tp, overlap_pp`` required; the
        others default to a plain layout's values), the ``precision`` (the
        same for all) and optionally ``flash_attention`` (0/1, default 1: a
        fused attention kernel; 0: the unfused core of
        :meth:`unfused_attention_times`).

        Raises
        ------
        InfeasibleLayoutError
            If a candidate offloads activations but the cluster has no known
            host link.
        """
        model = self.model
        eff = self.eff
        tp, cp, ep, pp = (np.asarray(c[k], dtype=np.int64) for k in ("tp", "cp", "ep", "pp"))
        n = tp.shape[0]
        vpp, dp, mb = (np.asarray(c[k], dtype=np.int64) for k in ("vpp", "dp", "micro_batch"))
        etp = _col(c, "etp", n, 0)
        etp = np.where(etp > 0, etp, tp)
        gb = np.asarray(c["global_batch"], dtype=np.int64)
        seq = np.asarray(c["seq_len"], dtype=np.int64)
        rc = np.asarray(c["recompute"], dtype=np.int64)
        mods = _col(c, "recompute_modules", n, -1)
        mods = np.where(mods < 0, np.where(rc == 1, 1, 0), np.where(rc == 1, mods, 0))
        rc_layers = _col(c, "recompute_layers", n, 0)
        rc_block = _col(c, "recompute_block", n, 0)
        offload = _col(c, "offload_layers", n, 0)
        zero = np.asarray(c["zero"], dtype=np.int64)
        grad_b = np.where(_col(c, "grad_fp32", n, 1) == 1, 4.0, 2.0)
        lp_w = _col(c, "lp_weights", n, 0)
        sp = np.asarray(c["sequence_parallel"], dtype=bool) & (tp > 1)
        ov_dp = np.asarray(c["overlap_dp"], dtype=bool)
        ov_tp = np.asarray(c["overlap_tp"], dtype=bool)
        ov_pp = np.asarray(c["overlap_pp"], dtype=bool)
        ov_moe = _col(c, "overlap_moe", n, 0).astype(bool)
        flash = np.broadcast_to(np.asarray(c.get("flash_attention", 1), dtype=bool), tp.shape)
        order = np.broadcast_to(np.asarray(c.get("placement", 0), dtype=np.int64), tp.shape)
        precision: Precision = c["precision"]
        cap = float(c.get("capacity_factor", 0.0) or 0.0)
        cv = float(c.get("expert_load_cv", 0.0) or 0.0)
        if np.any(offload > 0) and self.host_Bps <= 0.0:
            raise InfeasibleLayoutError(
                "offload",
                f"offload_layers > 0 needs a host link, but {self.cluster.name} has none "
                "(no superchip C2C link or host_link)",
            )
        s_loc = seq // cp
        m = gb // (dp * mb)
        mf = m.astype(float)
        layers = model.layers
        first, middle, last = stage_layer_arrays(layers, c)
        first_moe, middle_moe, last_moe = stage_moe_layers(model, first, middle, last, vpp)
        h = float(model.hidden)
        tok = (mb * s_loc).astype(float)
        tok_sp = tok / np.where(sp, tp, 1)
        act_b = 2.0

        # --- per-layer compute and recomputation, by distinct shape
        n_mod = len(RECOMPUTE_MODULES)
        names = ("f", "b", "a", "ab", "fl", "sf", "sb")
        dense = {k: np.zeros(n) for k in names}
        moe = {k: np.zeros(n) for k in names}
        d_mod = np.zeros((n_mod, n))
        m_mod = np.zeros((n_mod, n))
        d_modf = np.zeros((n_mod, n))
        m_modf = np.zeros((n_mod, n))
        load = np.ones(n)
        e_emb = np.empty(n)
        e_head = np.empty(n)
        fl_edge = np.empty(n)
        grad_code = (grad_b == 4.0).astype(np.int64)
        graphs = _col(c, "cuda_graphs", n, 0)
        router32 = _col(c, "router_fp32", n, 0)
        for (mb_i, s_i, tp_i, cp_i, ep_i, etp_i, sp_i, g_i, gr_i, r32_i), sel in _groups(
            mb, s_loc, tp, cp, ep, etp, sp.astype(np.int64), grad_code, graphs, router32
        ):
            ld = 1.0
            if model.is_moe:
                toks = mb_i * s_i / (tp_i if sp_i else 1) * etp_i * ep_i
                ld = float(
                    expert_load_factor(toks, model.experts, model.experts_per_token, ep_i, cv, cap)
                )
            lt = self.layer_times(
                precision, mb_i, s_i * cp_i, tp_i, cp_i, ep_i, bool(sp_i), etp_i, ld,
                4.0 if g_i else 2.0, bool(gr_i), bool(r32_i),
            )  # fmt: skip
            load[sel] = ld
            d_lt = lt.get(False, lt.get(True))
            m_lt = lt.get(True, d_lt)
            if d_lt is None or m_lt is None:
                raise SpecError(f"model {model.name!r} has no transformer layers to time")
            for store, vals, mod, modf in (
                (dense, d_lt, d_mod, d_modf),
                (moe, m_lt, m_mod, m_modf),
            ):
                store["f"][sel] = vals.fwd
                store["b"][sel] = vals.bwd
                store["a"][sel] = vals.attn_fwd
                store["ab"][sel] = vals.attn_bwd
                store["fl"][sel] = vals.flops
                store["sf"][sel] = vals.shared_fwd
                store["sb"][sel] = vals.shared_bwd
                mod[:, sel] = np.asarray(vals.modules)[:, None]
                modf[:, sel] = np.asarray(vals.module_flops)[:, None]
            unfused = sel[~flash[sel]]
            if unfused.size:
                uf, ub = self.unfused_attention_times(precision, mb_i, s_i * cp_i, tp_i, cp_i)
                for store, mod in ((dense, d_mod), (moe, m_mod)):
                    store["f"][unfused] += uf - store["a"][unfused]
                    store["b"][unfused] += ub - store["ab"][unfused]
                    store["a"][unfused] = uf
                    store["ab"][unfused] = ub
                    mod[0, unfused] = uf
            emb, head, fe, fh = self.edge_times(precision, mb_i, s_i * cp_i, tp_i, cp_i, bool(sp_i))
            e_emb[sel], e_head[sel], fl_edge[sel] = emb, head, fe + fh

        # --- communication per layer and per step, by distinct group shape
        tp_d = np.zeros(n)  # exposed TP comm of a dense layer (all passes)
        tp_m = np.zeros(n)
        tp_fwd_d = np.zeros(n)  # unexposed forward TP comm (what recomputation repeats)
        tp_fwd_m = np.zeros(n)
        cp_t = np.zeros(n)
        a2a_f = np.zeros(n)  # dispatch + combine, forward, of one MoE layer
        etp_t = np.zeros(n)
        pp_t = np.zeros(n)
        dp_keys = np.zeros(n, dtype=np.int64)
        spans_by_key: dict[int, tuple[Any, Any]] = {}
        shared_tp = bool(model.is_moe and model.shared_experts)
        for gi, ((tp_i, cp_i, ep_i, etp_i, pp_i, dp_i, order_i), sel) in enumerate(
            _groups(tp, cp, ep, etp, pp, dp, order)
        ):
            s_cp, s_pp, s_dp, s_ep, s_edp, s_etp = self._placement_spans(
                tp_i, cp_i, ep_i, etp_i, pp_i, dp_i, order_i
            )
            spans_by_key[gi] = (s_dp, s_edp)
            dp_keys[sel] = gi
            s_tp = self.span(tp_i, 1)
            if s_tp is not None:
                sz = tok[sel] * h * act_b
                ag = self.comm("all_gather", s_tp, sz)
                rs = self.comm("reduce_scatter", s_tp, sz)
                ar = self.comm("all_reduce", s_tp, sz)
                pair = np.where(sp[sel], ag + rs, ar)
                exposed = np.where(ov_tp[sel], 1.0 - eff.tp_overlap, 1.0)
                # a dense block: attention + MLP, one collective pair each, per pass;
                # an MoE block: attention (+ the shared experts, which are TP-split)
                tp_fwd_d[sel] = 2.0 * pair
                tp_fwd_m[sel] = (1.0 + shared_tp) * pair
                tp_d[sel] = 2.0 * tp_fwd_d[sel] * exposed
                tp_m[sel] = 2.0 * tp_fwd_m[sel] * exposed
            if s_cp is not None:
                kv_bytes = tok[sel] * 2.0 * model.n_kv_heads * model.qk_dim * act_b / tp_i
                step = self.comm("send_recv", s_cp, kv_bytes)
                # ring attention: cp - 1 exchanges in forward, twice that in backward,
                # each hidden under the attention of one chunk
                cp_t[sel] = step * (cp_i - 1) * 3.0  # raw; hidden below
            if s_ep is not None and model.is_moe:
                # each rank sends its routed token copies (BF16) and gets them back;
                # the busiest rank moves ``load`` times the mean
                a2a_bytes = dispatch_bytes(
                    tok_sp[sel], etp=etp_i, experts_per_token=model.experts_per_token,
                    hidden=model.hidden, load=load[sel], element_bytes=act_b,
                )  # fmt: skip
                a2a_f[sel] = 2.0 * self.comm("all_to_all", s_ep, a2a_bytes)
            if s_etp is not None and model.is_moe:
                routed = tok_sp[sel] * etp_i * model.experts_per_token * load[sel] * h * act_b
                etp_t[sel] = 2.0 * (
                    self.comm("all_gather", s_etp, routed)
                    + self.comm("reduce_scatter", s_etp, routed)
                )
            if s_pp is not None:
                # Megatron's scatter/gather optimisation (Narayanan et al. 2021, §4.1):
                # each TP rank sends 1/tp of the activation
                pp_bytes = tok[sel] * h * act_b / tp_i
                p2p = self.comm("send_recv", s_pp, pp_bytes)
                exposed = np.where(ov_pp[sel], 1.0 - eff.pp_overlap, 1.0)
                pp_t[sel] = 2.0 * vpp[sel] * p2p * exposed

        # --- recomputation per layer
        def selective(mod: np.ndarray) -> np.ndarray:
            out = np.zeros(n)
            for i in range(n_mod):
                out = out + np.where((mods & (1 << i)) != 0, mod[i], 0.0)
            return out

        moe_bit = 1 << RECOMPUTE_MODULES.index("moe")
        # recomputing the attention core saves memory only where something of it is
        # stored: the score matrix of an unfused kernel, or the 16-bit attention output
        # beside the projection's FP8 copy; a fused BF16 kernel keeps nothing more
        # than its inputs, so checkpointing it costs no time because it saves nothing
        core_saves = (~flash) | (precision.bytes < 2.0)
        d_mod[0] = np.where(core_saves, d_mod[0], 0.0)
        m_mod[0] = np.where(core_saves, m_mod[0], 0.0)
        d_modf[0] = np.where(core_saves, d_modf[0], 0.0)
        m_modf[0] = np.where(core_saves, m_modf[0], 0.0)
        sel_d = selective(d_mod)
        sel_m = selective(m_mod) + np.where((mods & moe_bit) != 0, a2a_f + etp_t / 2.0, 0.0)
        full_d = dense["f"] + tp_fwd_d * np.where(ov_tp, 1.0 - eff.tp_overlap, 1.0)
        full_m = moe["f"] + tp_fwd_m * np.where(ov_tp, 1.0 - eff.tp_overlap, 1.0) + a2a_f
        rc_d = np.where(rc == 2, full_d, np.where(rc == 1, sel_d, 0.0))
        rc_m = np.where(rc == 2, full_m, np.where(rc == 1, sel_m, 0.0))
        rc_fl_d = np.where(rc == 2, dense["fl"], np.where(rc == 1, selective(d_modf), 0.0))
        rc_fl_m = np.where(rc == 2, moe["fl"], np.where(rc == 1, selective(m_modf), 0.0))

        # --- hiding communication under compute.  Each second of a layer's compute can
        # hide at most one second of communication: the context-parallel ring under
        # the attention, then the expert all-to-all (under another micro-batch's
        # compute with overlap_moe_comm, else forward and backward apart under the
        # shared experts), then activation offload copies, each from what the earlier
        # ones left; the data-parallel reduction hides under what is left of the
        # last micro-batch.  Exposed time therefore never grows faster than compute
        # shrinks: more FLOP/s or bandwidth never makes a step slower.
        budget_d = dense["f"] + dense["b"]
        budget_m = moe["f"] + moe["b"]
        cp_hid_d = np.minimum(
            np.minimum(cp_t, eff.cp_overlap * (dense["a"] + dense["ab"])), budget_d
        )
        cp_hid_m = np.minimum(np.minimum(cp_t, eff.cp_overlap * (moe["a"] + moe["ab"])), budget_m)
        budget_d = budget_d - cp_hid_d
        budget_m = budget_m - cp_hid_m
        cp_d = cp_t - cp_hid_d
        cp_m = cp_t - cp_hid_m
        a2a_half = a2a_f + etp_t / 2.0  # forward (or backward) dispatch + combine
        ep_exposed, ep_hid = expert_comm_exposure(
            a2a_half, fwd=moe["f"], bwd=moe["b"], shared_fwd=moe["sf"], shared_bwd=moe["sb"],
            overlap=ov_moe, ep_overlap=eff.ep_overlap, budget=budget_m,
        )  # fmt: skip
        budget_m = budget_m - ep_hid
        # recomputation of the whole MoE block (or layer) repeats the forward all-to-all
        ep_rc = np.where(
            (rc == 2) | ((rc == 1) & ((mods & moe_bit) != 0)),
            np.maximum(0.0, a2a_half - np.where(ov_moe, 0.0, moe["sf"])),
            0.0,
        )
        ep_m = ep_exposed + ep_rc

        # --- activation offload: per offloaded layer, a copy out in forward and back in
        # backward over the host link, hidden under that layer's remaining compute
        off_d = np.zeros(n)
        off_m = np.zeros(n)
        off_hid_d = np.zeros(n)
        off_hid_m = np.zeros(n)
        if np.any(offload > 0):
            kw: dict[str, Any] = dict(
                micro_batch=mb, seq_len=s_loc, tp=tp, sequence_parallel=sp,
                recompute=rc, modules=mods, memory=self.memory, etp=etp, load=load,
                gemm_bytes=(precision.bytes if precision.bytes < 2.0 else None),
            )  # fmt: skip
            for store, out_arr, hid_arr, budget, is_moe in (
                (dense, off_d, off_hid_d, budget_d, False),
                (moe, off_m, off_hid_m, budget_m, True),
            ):
                nbytes = activation_bytes_arrays(model, moe=is_moe and model.is_moe, **kw)
                xfer = nbytes / self.host_Bps
                hid = np.minimum(xfer, eff.offload_overlap * store["f"]) + np.minimum(
                    xfer, eff.offload_overlap * store["b"]
                )
                hid_arr[:] = np.minimum(hid, budget)
                out_arr[:] = 2.0 * xfer - hid_arr

        # --- per-rank composition
        t_d = {
            "compute": dense["f"] + dense["b"],
            "recompute": rc_d,
            "tp_comm": tp_d,
            "cp_comm": cp_d,
            "ep_comm": np.zeros(n),
        }
        t_m = {
            "compute": moe["f"] + moe["b"],
            "recompute": rc_m,
            "tp_comm": tp_m,
            "cp_comm": cp_m,
            "ep_comm": ep_m,
        }
        # communication each layer hides under its own compute (not step time)
        hidden_d = cp_hid_d
        hidden_m = cp_hid_m + ep_hid
        # full recomputation of a block of layers per chunk recomputes only those
        chunk = np.maximum(first, 1) / np.maximum(vpp, 1)
        rc_frac = np.where(
            (rc == 2) & (rc_block == 1) & (rc_layers > 0),
            np.minimum(rc_layers / np.maximum(chunk, 1.0), 1.0),
            1.0,
        )
        t_d["recompute"] = t_d["recompute"] * rc_frac
        t_m["recompute"] = t_m["recompute"] * rc_frac
        single = pp == 1
        n_mtp = float(model.mtp_layers)
        last_is_moe = bool(model.is_moe and model.is_moe_layer(layers - 1))
        mtp_layer = t_m if last_is_moe else t_d

        def stage(
            n_all: np.ndarray,
            n_moe: np.ndarray,
            extra: np.ndarray,
            mtp: np.ndarray,
            off: np.ndarray,
        ) -> dict[str, np.ndarray]:
            nd = n_all.astype(float) - n_moe
            parts = {k: nd * t_d[k] + n_moe * t_m[k] + mtp * mtp_layer[k] for k in t_d}
            parts["compute"] = parts["compute"] + extra
            parts["pp_comm"] = np.where(single, 0.0, pp_t)
            # offloaded layers: the first ``offload_layers`` of each model chunk
            n_off = np.minimum(off * vpp, n_all).astype(float)
            frac_moe = np.where(n_all > 0, n_moe / np.maximum(n_all, 1), 0.0)
            parts["offload"] = n_off * ((1.0 - frac_moe) * off_d + frac_moe * off_m)
            hid_last = hidden_m if last_is_moe else hidden_d
            parts["_hidden"] = (
                nd * hidden_d + n_moe * hidden_m + mtp * hid_last
                + n_off * ((1.0 - frac_moe) * off_hid_d + frac_moe * off_hid_m)
            )  # fmt: skip
            return parts

        mtp_first = np.where(single, n_mtp, 0.0)
        mtp_last = np.where(single, 0.0, n_mtp)
        head_mtp = e_head * (1.0 + n_mtp)
        ranks = (
            stage(first, first_moe, e_emb + np.where(single, head_mtp, 0.0), mtp_first, offload),
            stage(middle, middle_moe, np.zeros(n), np.zeros(n), offload),
            stage(last, last_moe, np.where(single, 0.0, head_mtp), mtp_last, offload),
        )
        hidden_rank = [r.pop("_hidden") for r in ranks]
        stage_t = np.stack([sum(r.values()) for r in ranks])  # type: ignore[arg-type]
        stage_t[1] = np.where(pp > 2, stage_t[1], 0.0)
        stage_t[2] = np.where(single, 0.0, stage_t[2])
        slow = np.argmax(stage_t, axis=0)
        t_mb = np.take_along_axis(stage_t, slow[None, :], axis=0)[0]
        bubble = (pp - 1) / vpp * t_mb

        # --- data parallel, per rank (each rank reduces its own parameters)
        cols = {k: c[k] for k in c if k != "precision"}
        rank_params = stage_param_arrays(model, cols)
        w_b = np.where(lp_w == 1, precision.bytes, 2.0)
        dp_rank = []
        opt_rank = []
        for r, (d_raw, e_raw) in enumerate(rank_params):
            d_p = np.broadcast_to(d_raw, (n,))
            e_p = np.broadcast_to(e_raw, (n,))
            # what the layers' own communication left of the rank's compute
            comp = np.maximum(0.0, ranks[r]["compute"] - hidden_rank[r])
            dp_rank.append(
                self._dp_time(dp_keys, spans_by_key, d_p, e_p, zero, ov_dp, comp, mf, grad_b, w_b)
            )
            shard = np.where(zero >= 1, dp * cp, 1).astype(float)
            edp = np.maximum(1.0, (tp * cp * dp) / (ep * etp))
            eshard = np.where(zero >= 1, edp, 1.0)
            opt_p = d_p / shard + e_p / eshard
            opt_rank.append(opt_p * eff.optimizer_bytes / (self.hbm_Bps * eff.roofline.elementwise))
        exists = np.stack([np.ones(n, bool), pp > 2, pp > 1])
        dp_t = np.max(np.where(exists, np.stack(dp_rank), 0.0), axis=0)
        optimizer = np.max(np.where(exists, np.stack(opt_rank), 0.0), axis=0)
        overhead = np.full(n, eff.step_overhead_s)

        parts: dict[str, np.ndarray] = {}
        for key in ("compute", "recompute", "tp_comm", "cp_comm", "ep_comm", "pp_comm", "offload"):
            per = np.stack([r[key] for r in ranks])
            parts[key] = mf * np.take_along_axis(per, slow[None, :], axis=0)[0]
        parts["pipeline_bubble"] = bubble
        parts["dp_comm"] = dp_t
        parts["optimizer"] = optimizer
        parts["overhead"] = overhead
        total = np.zeros(n)
        for k in BREAKDOWN_KEYS:
            total = total + parts[k]

        # executed FLOPs: the model's (6N + 12lhs convention) plus the recomputed forward
        frac = model.n_moe_layers / layers
        rc_fl = ((1.0 - frac) * rc_fl_d + frac * rc_fl_m) * rc_frac
        hw = np.empty(n)
        tokens = (gb * seq).astype(float)
        for s_val in np.unique(seq).tolist():
            per_tok = model.training_flops_per_token(int(s_val))
            sel = seq == s_val
            hw[sel] = tokens[sel] * per_tok
        hw = hw + rc_fl * layers * mf * (tp * cp * dp).astype(float)
        return StepArrays(
            step_time_s=total, breakdown=parts, hardware_flops=hw, stage_time_s=stage_t
        )

    def _dp_time(  # noqa: PLR0917 - positional arguments are the hot path
        self,
        keys: np.ndarray,
        spans: Mapping[int, tuple[Any, Any]],
        dense_p: np.ndarray,
        expert_p: np.ndarray,
        zero: np.ndarray,
        overlap: np.ndarray,
        compute: np.ndarray,
        m: np.ndarray,
        grad_b: np.ndarray,
        w_b: np.ndarray,
    ) -> np.ndarray:
        """Exposed data-parallel time of one rank [s].

        ZeRO 0 all-reduces the gradients; ZeRO 1-2 reduce-scatter them and
        all-gather the updated weights; ZeRO 3 gathers the weights for forward
        and backward and reduce-scatters the gradients every micro-batch.
        Each hides under a fraction ``dp_overlap`` of the rank's backward
        (forward) compute of one micro-batch (``compute`` is forward plus
        backward; backward is taken as 2/3 of it).
        """
        eff = self.eff
        out = np.zeros(dense_p.shape[0])
        bwd_stage = compute * (2.0 / 3.0)
        fwd_stage = compute / 3.0
        hide_all = np.where(overlap, eff.dp_overlap, 0.0)
        for gi, (s_dp, s_edp) in spans.items():
            sel = np.flatnonzero(keys == gi)
            if sel.size == 0:
                continue

            def both(
                op: str,
                d_bytes: np.ndarray,
                e_bytes: np.ndarray,
                s_dp: Any = s_dp,
                s_edp: Any = s_edp,
            ) -> np.ndarray:
                return self.comm(op, s_dp, d_bytes) + self.comm(op, s_edp, e_bytes)

            g = grad_b[sel]
            w = w_b[sel]
            dp_ = dense_p[sel]
            ep_ = expert_p[sel]
            ar = both("all_reduce", dp_ * g, ep_ * g)
            rs = both("reduce_scatter", dp_ * g, ep_ * g)
            ag = both("all_gather", dp_ * w, ep_ * w)
            hide = hide_all[sel]
            b = bwd_stage[sel]
            f = fwd_stage[sel]
            z0 = np.maximum(0.0, ar - hide * b)
            z12 = np.maximum(0.0, rs - hide * b) + np.maximum(0.0, ag - hide * f)
            z3 = m[sel] * np.maximum(0.0, 2.0 * ag + rs - hide * (f + b))
            z = zero[sel]
            out[sel] = np.where(z == 0, z0, np.where(z >= 3, z3, z12))
        return out


def _blend(a: LayerTimes, b: LayerTimes, w: float) -> LayerTimes:
    """``(1 - w) * a + w * b`` field by field."""

    def mix(x: Any, y: Any) -> Any:
        if isinstance(x, tuple):
            return tuple((1.0 - w) * p + w * q for p, q in zip(x, y, strict=True))
        return (1.0 - w) * x + w * y

    return LayerTimes(*(mix(x, y) for x, y in zip(a, b, strict=True)))
