"""Step time of a training layout, composed from the roofline and collective solvers.

One code path serves a single prediction and a layout search: the step is
evaluated on numpy arrays of candidate layouts (a single layout is an array of
length one).  Per-layer compute times come from
:func:`~blackwell_model.solvers.roofline` on the operators of
:func:`~blackwell_model.workload.layer_operators` and are cached per
``(micro_batch, tp, cp, ep)`` shape; communication times come from
:func:`~blackwell_model.solvers.collective_time` on the span of each parallel
group, cached per group shape.

The composition, per GPU of the busiest pipeline stage holding :math:`L_s`
layers, with :math:`m` micro-batches, :math:`p` stages and :math:`v` virtual
chunks:

.. math::

   T_{mb} = L_s \\left(t_f + t_b + t_{rc} + t_{tp} + t_{cp} + t_{ep}\\right)
            + t_{edge} + t_{pp}, \\qquad
   T_{step} = m\\,T_{mb} + \\frac{p - 1}{v} T_{mb} + t_{dp} + t_{opt} + t_0

where :math:`t_f, t_b` are a layer's forward and backward compute,
:math:`t_{rc}` the recomputed forward (all of it for full recomputation, the
attention core for selective), :math:`t_{tp}, t_{cp}, t_{ep}` the exposed
tensor-, context- and expert-parallel communication, :math:`t_{edge}` the
embedding, LM head and loss, :math:`t_{pp}` the exposed pipeline transfers,
:math:`t_{dp}` the exposed data-parallel gradient and weight collectives and
:math:`t_{opt}` the optimizer step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from ..errors import SpecError
from ..hardware.precision import Precision
from ..parallel.layout import Recompute
from ..topology.span import GroupSpan
from ..units import finite_non_negative, fraction
from ..workload.operators import OpKind, layer_operators, model_operators
from ._efficiency import Efficiency
from .collectives import CollectiveEfficiency, collective_time, efficiency_for
from .roofline import roofline

_FRACTION = fraction()

__all__ = [
    "BREAKDOWN_KEYS",
    "CALIBRATED_ROOFLINE",
    "UNFUSED_SCORE_BYTES",
    "StepArrays",
    "TrainingEfficiency",
    "TrainingSolver",
]

#: Parts of a training step, in the order of :attr:`StepArrays.breakdown`.
BREAKDOWN_KEYS: tuple[str, ...] = (
    "compute",
    "recompute",
    "tp_comm",
    "cp_comm",
    "ep_comm",
    "pp_comm",
    "pipeline_bubble",
    "dp_comm",
    "optimizer",
    "overhead",
)

_RECOMPUTE_CODE = {Recompute.NONE: 0, Recompute.SELECTIVE: 1, Recompute.FULL: 2}


#: Bytes moved per attention-score element by an unfused attention core
#: (forward, backward): 16-bit scores written by the first GEMM (2), read and
#: written by the fused scale-mask-softmax (4), dropout read, write and 1-byte
#: mask (5), read by the second GEMM (2); backward: the gradient GEMM output
#: (2), dropout backward (5), softmax backward reading probabilities and
#: gradient and writing the result (6), read by two GEMMs (4).
UNFUSED_SCORE_BYTES: tuple[float, float] = (13.0, 17.0)


def _activation(precision: Precision) -> Precision:
    """Activation precision of a training recipe: BF16 under 8-bit and narrower GEMMs."""
    return Precision.BF16 if precision.bytes < 2.0 else precision


#: Kernel efficiencies of the training model, calibrated against the public
#: measured training cases (``python -m blackwell_model.validation.calibrate``;
#: see ``docs/validation.rst``).  Fields not listed keep the
#: :class:`~blackwell_model.solvers.Efficiency` priors.
CALIBRATED_ROOFLINE = Efficiency(
    gemm_max=0.72,  # calibrated (prior 0.70)
    attention=0.35,  # calibrated (prior 0.55)
    attention_backward=0.2545,  # linked: 0.35 x 0.40 / 0.55 (ratio of the priors)
    overhead_s=1.0e-5,  # calibrated: 10 us per kernel (launch and inter-kernel gaps)
)


def _efficiency(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if not isinstance(value, Efficiency):
        raise SpecError(
            f"{attribute.name} must be an Efficiency, got {type(value).__name__} {value!r}"
        )


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
        Fraction of expert-parallel all-to-all hidden under compute.
    dp_overlap
        Fraction of a stage's backward (forward) compute of one micro-batch
        that can hide the gradient reduce-scatter (parameter all-gather) when
        ``Layout.overlap_dp_comm`` is set (calibrated).
    pp_overlap
        Fraction of pipeline send/receive hidden when ``Layout.overlap_pp_comm``
        is set.
    grad_reduce_bytes
        Bytes per gradient element in the data-parallel reduction [B] (FP32
        main gradients: 4).
    optimizer_bytes
        HBM traffic of the Adam update per local parameter [B]: read FP32
        master weight, two moments and gradient (16), write them back (12) and
        the BF16 weight (2).
    step_overhead_s
        Fixed time per step [s] (data loading, logging, launch gaps)
        (calibrated).
    """

    roofline: Efficiency = attrs.field(factory=lambda: CALIBRATED_ROOFLINE, validator=_efficiency)
    collectives: CollectiveEfficiency | None = attrs.field(default=None, validator=_collective_eff)
    units_from_accelerator: bool = True
    # calibrated (prior 1.0): half of the layer GEMM time at the FP8 rate
    low_precision_gemm_fraction: float = attrs.field(default=0.5, validator=_FRACTION)
    tp_overlap: float = attrs.field(default=0.7, validator=_FRACTION)  # calibrated (prior 0.5)
    cp_overlap: float = attrs.field(default=0.8, validator=_FRACTION)
    ep_overlap: float = attrs.field(default=0.0, validator=_FRACTION)
    dp_overlap: float = attrs.field(default=1.0, validator=_FRACTION)  # calibrated (prior 0.9)
    pp_overlap: float = attrs.field(default=0.9, validator=_FRACTION)
    grad_reduce_bytes: float = attrs.field(default=4.0, validator=finite_non_negative)
    optimizer_bytes: float = attrs.field(default=30.0, validator=finite_non_negative)
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
    """

    step_time_s: np.ndarray
    breakdown: Mapping[str, np.ndarray]
    hardware_flops: np.ndarray


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
    """

    def __init__(
        self,
        model: Any,
        cluster: Any,
        efficiency: TrainingEfficiency | None = None,
        *,
        hierarchy: Any = None,
    ) -> None:
        self.model = model
        self.cluster = cluster
        self.accelerator = cluster.accelerator
        self.eff = efficiency or TrainingEfficiency()
        if not isinstance(self.eff, TrainingEfficiency):
            raise SpecError(
                f"efficiency must be a TrainingEfficiency or None, got {type(self.eff).__name__}"
            )
        self.coll = self.eff.collectives or efficiency_for(self.accelerator)
        roof = self.eff.roofline
        units = self.accelerator.compute_units
        if self.eff.units_from_accelerator and units is not None and roof.compute_units:
            roof = attrs.evolve(roof, compute_units=units)
        #: The kernel efficiencies used (``roofline`` with the accelerator's SM count).
        self.kernel_eff = roof
        if hierarchy is None:
            from ..topology import cluster_spans

            hierarchy = cluster_spans(cluster)
        self.spans = hierarchy
        self._layers: dict[tuple[Any, ...], dict[bool, tuple[float, ...]]] = {}
        self._edges: dict[tuple[Any, ...], tuple[float, float, float, float]] = {}
        self._span_cache: dict[tuple[int, ...], GroupSpan | None] = {}
        self._coll_cache: dict[tuple[Any, ...], float] = {}
        self.moe_fraction = model.n_moe_layers / model.layers
        self.hbm_Bps = float(self.accelerator.memory_bandwidth.m)

    # ---------------------------------------------------------------- compute
    def _time(self, ops: Any) -> tuple[float, float, float]:
        total = attn = flops = 0.0
        for op in ops:
            r = roofline(op, self.accelerator, efficiency=self.kernel_eff)
            total += r.time_s
            flops += op.flops
            if op.kind is OpKind.ATTENTION:
                attn += r.time_s
        return total, attn, flops

    def _layer_times_at(  # noqa: PLR0917 - positional arguments are the cache key / hot path
        self,
        precision: Precision,
        micro_batch: int,
        seq_len: int,
        tp: int,
        cp: int,
        ep: int,
        sp: bool,
    ) -> dict[bool, tuple[float, ...]]:
        out: dict[bool, tuple[float, ...]] = {}
        for lt in dict.fromkeys(self.model.layer_types()):
            common: dict[str, Any] = dict(
                batch=micro_batch, seq_len=seq_len, precision=precision, tp=tp, cp=cp, ep=ep,
                layer=lt, sequence_parallel=sp, activation_precision=_activation(precision),
            )  # fmt: skip
            fwd, attn, flops = self._time(layer_operators(self.model, phase="forward", **common))
            bwd, attn_b, _ = self._time(layer_operators(self.model, phase="backward", **common))
            prev = out.get(lt.moe)
            vals = (fwd, bwd, attn, flops, attn_b)
            # layers of one MoE-ness may differ by window; average them
            if prev is None:
                out[lt.moe] = vals
            else:
                out[lt.moe] = tuple((a + b) / 2 for a, b in zip(prev, vals, strict=True))  # type: ignore[assignment]
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
    ) -> dict[bool, tuple[float, ...]]:
        """Per-layer ``(fwd_s, bwd_s, attn_fwd_s, fwd_flops, attn_bwd_s)``, dense (False) and MoE (True).

        For 8-bit and narrower precisions the times blend the layer at that
        precision and at BF16 with
        :attr:`TrainingEfficiency.low_precision_gemm_fraction` (the non-GEMM
        kernels are the same in both).
        """
        key = (precision, micro_batch, seq_len, tp, cp, ep, sp)
        hit = self._layers.get(key)
        if hit is not None:
            return hit
        args = (micro_batch, seq_len, tp, cp, ep, sp)
        out = self._layer_times_at(precision, *args)
        if precision.bytes < 2.0:
            phi = self.eff.low_precision_gemm_fraction
            wide = self._layer_times_at(Precision.BF16, *args)
            out = {
                k: tuple(phi * a + (1.0 - phi) * b for a, b in zip(v, wide[k], strict=True))  # type: ignore[misc]
                for k, v in out.items()
            }
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

    def _placement_spans(
        self, tp: int, cp: int, ep: int, pp: int, dp: int, *, order: int
    ) -> tuple[GroupSpan | None, ...]:
        """Spans of the (cp, ep, pp, dense-dp, expert-dp) groups of rank 0 under a placement."""
        if order == 0:  # tp-cp-ep-dp-pp: the cp x dp ranks of a stage are contiguous
            return (
                self.span(cp, tp),
                self.span(ep, tp),
                self.span(pp, tp * cp * dp),
                self.span(cp * dp, tp),
                self.span(cp * dp // ep, tp * ep),
            )
        # tp-cp-ep-pp-dp: cp stride tp, pp stride tp*cp, dp stride tp*cp*pp
        dp_stride = tp * cp * pp
        s_dp = self.span(dp, dp_stride, (cp, tp) if cp > 1 else None)
        if cp % ep == 0:  # the ep group lies inside the cp ranks
            s_ep = self.span(ep, tp)
            s_edp = self.span(dp, dp_stride, (cp // ep, tp * ep) if cp // ep > 1 else None)
        elif ep % cp == 0:  # ep spans all cp ranks and ep / cp data-parallel replicas
            s_ep = self.span(ep // cp, dp_stride, (cp, tp) if cp > 1 else None)
            s_edp = self.span(dp * cp // ep, dp_stride * (ep // cp))
        else:  # neither divides the other: approximate by the Megatron-order groups
            s_ep = self.span(ep, tp)
            s_edp = self.span(cp * dp // ep, tp * ep)
        return self.span(cp, tp), s_ep, self.span(pp, tp * cp), s_dp, s_edp

    def comm(self, op: str, span: GroupSpan | None, size_bytes: np.ndarray) -> np.ndarray:
        """Collective time [s] of ``op`` over ``span`` for each size (0 for a group of one)."""
        if span is None:
            return np.zeros_like(size_bytes, dtype=float)
        return np.asarray(collective_time(op, span, size_bytes, efficiency=self.coll), dtype=float)

    # ------------------------------------------------------------- evaluation
    def evaluate(self, c: Mapping[str, np.ndarray]) -> StepArrays:
        """Step times of candidate layouts given as equal-length integer arrays.

        Keys: ``tp, cp, ep, pp, vpp, dp, micro_batch, global_batch, seq_len,
        recompute`` (0 none, 1 selective, 2 full), ``zero``, ``precision``
        (a :class:`Precision`, the same for all), ``sequence_parallel``,
        ``overlap_dp``, ``overlap_tp``, ``overlap_pp`` (0/1 arrays) and
        optionally ``flash_attention`` (0/1, default 1: a fused attention
        kernel; 0: the unfused core of :meth:`unfused_attention_times`).
        """
        model = self.model
        eff = self.eff
        tp, cp, ep, pp = (np.asarray(c[k], dtype=np.int64) for k in ("tp", "cp", "ep", "pp"))
        vpp, dp, mb = (np.asarray(c[k], dtype=np.int64) for k in ("vpp", "dp", "micro_batch"))
        gb = np.asarray(c["global_batch"], dtype=np.int64)
        seq = np.asarray(c["seq_len"], dtype=np.int64)
        rc = np.asarray(c["recompute"], dtype=np.int64)
        zero = np.asarray(c["zero"], dtype=np.int64)
        sp = np.asarray(c["sequence_parallel"], dtype=bool) & (tp > 1)
        ov_dp = np.asarray(c["overlap_dp"], dtype=bool)
        ov_tp = np.asarray(c["overlap_tp"], dtype=bool)
        ov_pp = np.asarray(c["overlap_pp"], dtype=bool)
        flash = np.broadcast_to(np.asarray(c.get("flash_attention", 1), dtype=bool), tp.shape)
        order = np.broadcast_to(np.asarray(c.get("placement", 0), dtype=np.int64), tp.shape)
        precision: Precision = c["precision"]  # type: ignore[assignment]
        n = tp.shape[0]
        s_loc = seq // cp
        m = gb // (dp * mb)
        layers = model.layers
        stage = vpp * -(-layers // (pp * vpp))
        frac = self.moe_fraction

        # per-layer compute, looked up per distinct shape
        f = np.empty(n)
        b = np.empty(n)
        a = np.empty(n)
        fl = np.empty(n)
        e_emb = np.empty(n)
        e_head = np.empty(n)
        fl_edge = np.empty(n)
        for (mb_i, s_i, tp_i, cp_i, ep_i, sp_i), sel in _groups(
            mb, s_loc, tp, cp, ep, sp.astype(np.int64)
        ):
            lt = self.layer_times(precision, mb_i, s_i * cp_i, tp_i, cp_i, ep_i, bool(sp_i))
            dense = lt.get(False, lt.get(True))
            moe = lt.get(True, dense)
            vals = [(1.0 - frac) * dv + frac * mv for dv, mv in zip(dense, moe, strict=True)]  # type: ignore[arg-type]
            f[sel], b[sel], a[sel], fl[sel], a_b = vals
            unfused = sel[~flash[sel]]
            if unfused.size:
                uf, ub = self.unfused_attention_times(precision, mb_i, s_i * cp_i, tp_i, cp_i)
                f[unfused] += uf - a[unfused]
                b[unfused] += ub - a_b
                a[unfused] = uf
            emb, head, fe, fh = self.edge_times(precision, mb_i, s_i * cp_i, tp_i, cp_i, bool(sp_i))
            e_emb[sel], e_head[sel], fl_edge[sel] = emb, head, fe + fh
        edge = np.where(pp == 1, e_emb + e_head, np.maximum(e_emb, e_head))
        rc_time = np.where(rc == 2, f, np.where(rc == 1, a, 0.0))

        # tensor parallel: 4 collectives per layer forward (AG+RS or AR per block), 4 backward
        act = 2.0
        tok = (mb * s_loc).astype(float)
        h = float(model.hidden)
        tp_size = tok * h * act
        tp_t = np.zeros(n)
        cp_t = np.zeros(n)
        ep_t = np.zeros(n)
        pp_t = np.zeros(n)
        dp_t = np.zeros(n)
        for (tp_i, cp_i, ep_i, pp_i, dp_i, order_i), sel in _groups(tp, cp, ep, pp, dp, order):
            # placement 0, Megatron-Core's tp-cp-ep-dp-pp:
            #   rank = tp_r + tp * (c + cp * dp * pp_r) with c = cp_r + cp * dp_r
            # placement 1, tp-cp-ep-pp-dp:
            #   rank = tp_r + tp * (cp_r + cp * (pp_r + pp * dp_r))
            # expert layers read the cp x dp ranks of a stage as ep (inner) x expert-dp
            s_cp_, s_ep_, s_pp_, s_dp_, s_edp_ = self._placement_spans(
                tp_i, cp_i, ep_i, pp_i, dp_i, order=order_i
            )
            s_tp = self.span(tp_i, 1)
            if s_tp is not None:
                sz = tp_size[sel]
                ag = self.comm("all_gather", s_tp, sz)
                rs = self.comm("reduce_scatter", s_tp, sz)
                ar = self.comm("all_reduce", s_tp, sz)
                per_layer = np.where(sp[sel], 2.0 * (ag + rs), 2.0 * ar)
                passes = 2.0 + (rc[sel] == 2)
                exposed = np.where(ov_tp[sel], 1.0 - eff.tp_overlap, 1.0)
                tp_t[sel] = per_layer * passes * exposed
            s_cp = s_cp_
            if s_cp is not None:
                kv_bytes = tok[sel] * 2.0 * model.n_kv_heads * model.qk_dim * act / tp_i
                step = self.comm("send_recv", s_cp, kv_bytes)
                comm = step * (cp_i - 1) * (3.0 + (rc[sel] == 2))
                hide = eff.cp_overlap * a[sel] * 3.0
                cp_t[sel] = np.maximum(0.0, comm - hide)
            s_ep = s_ep_
            if s_ep is not None and model.is_moe:
                a2a_bytes = tok[sel] * model.experts_per_token * h * act
                a2a = self.comm("all_to_all", s_ep, a2a_bytes)
                ep_t[sel] = frac * 4.0 * a2a * (1.0 - eff.ep_overlap)
            s_pp = s_pp_
            if s_pp is not None:
                # Megatron's scatter/gather optimisation (Narayanan et al. 2021, §4.1):
                # each TP rank sends 1/tp of the activation and the receiver
                # all-gathers it over the scale-up links
                pp_bytes = tok[sel] * h * act / tp_i
                p2p = self.comm("send_recv", s_pp, pp_bytes)
                exposed = np.where(ov_pp[sel], 1.0 - eff.pp_overlap, 1.0)
                pp_t[sel] = 2.0 * vpp[sel] * p2p * exposed
            # data parallel: dense gradients over dp x cp, expert gradients over dp x cp / ep
            dense_p, expert_p = self._local_params(tp_i, pp_i, ep_i, stage[sel])
            s_dp, s_edp = s_dp_, s_edp_
            dp_t[sel] = self._dp_time(
                sel,
                s_dp,
                s_edp,
                dense_p,
                expert_p,
                zero[sel],
                ov_dp[sel],
                f[sel],
                b[sel],
                stage[sel],
                m[sel],
            )
        t_layer = f + b + rc_time + tp_t + cp_t + ep_t
        t_mb = stage * t_layer + edge + pp_t
        bubble = (pp - 1) / vpp * t_mb
        dense_p, expert_p = self._local_params_arrays(tp, pp, ep, stage)
        shard = np.where(zero >= 1, dp * cp, 1)
        eshard = np.where(zero >= 1, np.maximum(1, dp * cp // ep), 1)
        opt_params = dense_p / shard + expert_p / eshard
        optimizer = opt_params * eff.optimizer_bytes / (self.hbm_Bps * eff.roofline.elementwise)
        overhead = np.full(n, eff.step_overhead_s)
        mf = m.astype(float)
        parts = {
            "compute": mf * (stage * (f + b) + edge),
            "recompute": mf * stage * rc_time,
            "tp_comm": mf * stage * tp_t,
            "cp_comm": mf * stage * cp_t,
            "ep_comm": mf * stage * ep_t,
            "pp_comm": mf * pp_t,
            "pipeline_bubble": bubble,
            "dp_comm": dp_t,
            "optimizer": optimizer,
            "overhead": overhead,
        }
        total = np.zeros(n)
        for k in BREAKDOWN_KEYS:
            total = total + parts[k]
        # executed FLOPs: the model's (6N + 12lhs convention) plus the recomputed forward
        hw = np.empty(n)
        tokens = (gb * seq).astype(float)
        for s_val in np.unique(seq).tolist():
            per_tok = model.training_flops_per_token(int(s_val))
            full = model.training_flops_per_token(int(s_val), recompute=True) - per_tok
            attn = model.attention_flops_per_token(int(s_val))
            sel = seq == s_val
            extra = np.where(rc[sel] == 2, full, np.where(rc[sel] == 1, attn, 0.0))
            hw[sel] = tokens[sel] * (per_tok + extra)
        return StepArrays(step_time_s=total, breakdown=parts, hardware_flops=hw)

    def _local_params(
        self, tp: int, pp: int, ep: int, stage: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._local_params_arrays(
            np.full(stage.shape, tp), np.full(stage.shape, pp), np.full(stage.shape, ep), stage
        )

    def _local_params_arrays(
        self, tp: np.ndarray, pp: np.ndarray, ep: np.ndarray, stage: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(dense, expert) parameters on one GPU of the busiest stage."""
        model = self.model
        frac = self.moe_fraction
        att = float(model.attention_params + model.block_norm_params)
        dense_ffn = float(model.dense_mlp_params)
        n_moe = stage * frac
        dense = ((stage - n_moe) * (att + dense_ffn) + n_moe * att) / tp
        emb = np.where(
            pp == 1,
            float(model.embedding_params + model.lm_head_params),
            float(max(model.embedding_params, model.lm_head_params)),
        )
        dense = dense + emb / tp
        if model.is_moe:
            dense = dense + n_moe * (
                model.router_params + model.shared_experts * model.expert_params / tp
            )
            expert = n_moe * model.experts * model.expert_params / (ep * tp)
        else:
            expert = np.zeros_like(dense)
        return dense, expert

    def _dp_time(  # noqa: PLR0917 - positional arguments are the cache key / hot path
        self,
        sel: np.ndarray,
        s_dp: GroupSpan | None,
        s_edp: GroupSpan | None,
        dense_p: np.ndarray,
        expert_p: np.ndarray,
        zero: np.ndarray,
        overlap: np.ndarray,
        f: np.ndarray,
        b: np.ndarray,
        stage: np.ndarray,
        m: np.ndarray,
    ) -> np.ndarray:
        eff = self.eff
        g = eff.grad_reduce_bytes
        w = 2.0

        def both(op: str, dense_bytes: np.ndarray, expert_bytes: np.ndarray) -> np.ndarray:
            return self.comm(op, s_dp, dense_bytes) + self.comm(op, s_edp, expert_bytes)

        ar = both("all_reduce", dense_p * g, expert_p * g)
        rs = both("reduce_scatter", dense_p * g, expert_p * g)
        ag = both("all_gather", dense_p * w, expert_p * w)
        bwd_stage = stage * b
        fwd_stage = stage * f
        hide = np.where(overlap, eff.dp_overlap, 0.0)
        z0 = np.maximum(0.0, ar - hide * bwd_stage)
        z12 = np.maximum(0.0, rs - hide * bwd_stage) + np.maximum(0.0, ag - hide * fwd_stage)
        # ZeRO-3: gather weights for forward and backward and reduce-scatter grads, every micro-batch
        z3_mb = 2.0 * ag + rs
        z3 = m * np.maximum(0.0, z3_mb - hide * (fwd_stage + bwd_stage))
        return np.where(zero == 0, z0, np.where(zero >= 3, z3, z12))
