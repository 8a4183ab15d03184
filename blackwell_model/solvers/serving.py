"""Serving solver: prefill time, decode-step time and memory of an inference deployment.

Composed from the roofline (:mod:`~blackwell_model.solvers.roofline`) and
collective (:mod:`~blackwell_model.solvers.collectives`) solvers, like the
training step (:mod:`~blackwell_model.solvers.training`).  Everything is
evaluated on numpy arrays of batches and context lengths, so a
latency/throughput sweep is a few array passes.

Per-operator coefficients
-------------------------
The operators of one layer (:func:`~blackwell_model.workload.layer_operators`)
are built once per layer type at one sequence (batch 1) and turned into
arrays.  For a batch :math:`B` (sequences on one GPU in the pass) and a
context :math:`c`:

* dense GEMMs have :math:`m = m_1 B` rows (the weight is read once for the
  whole batch) and the shape-dependent efficiency of
  :meth:`Efficiency.gemm <blackwell_model.solvers.Efficiency.gemm>`;
* routed-expert GEMMs touch :math:`E_{hit}(B) = (E / ep)\\,(1 - (1 - k/E)^{g B})`
  experts of :math:`m = t_r B k / E_{hit}` rows each (:math:`g` tokens of the
  expert-parallel group per sequence), so at small batch only the touched
  experts' weights are read;
* attention is affine in the context: FLOPs :math:`B (f_0 + f_1 c')` and
  bytes :math:`B (b_0 + b_1 c')` with :math:`c' = \\min(c, w)` on windowed
  layers (the KV cache is read once per sequence);
* norms, activations, cache writes, embedding and sampling are linear in
  :math:`B`.

Each operator costs :math:`\\max(F/(\\eta_c P), \\text{bytes}/(\\eta_m B_{mem})) + t_0`
(the roofline).  A pipeline stage's pass adds the exposed communication:

.. math::

   t_{stage}(B, c) = \\sum_{\\ell \\in stage} \\Big(\\sum_{op} t_{op}(B, c)
       + n_{ar}\\, t_{AR}^{tp}(B h b_a) + [\\text{MoE}]\\, 2\\, t_{A2A}^{ep}(t_r B k h b_a)\\Big)
       + t_{edge}

with :math:`n_{ar} = 2` all-reduces per layer (1 for parallel attention
blocks), the collective times from :func:`collective_time` on the span of the
TP and EP groups (alpha-beta: the latency term dominates at decode sizes).

Pipeline parallelism
--------------------
The batch of a replica is split into :math:`m = \\min(B, pp)` micro-batches
that circulate through the stages (TensorRT-LLM and vLLM pipeline
scheduling): with :math:`m = pp` every stage is busy, each micro-batch
advances one token per round, and

.. math::

   \\text{TPOT} = pp\\, \\big(t_{stage}(B / m) + t_{p2p}\\big) + t_{step}

so pipeline stages cost latency at equal throughput, and the weights of a
stage are read once per micro-batch.  A static prefill of :math:`B` prompts
runs :math:`m = \\min(B, pp)` micro-batches through the pipeline in
:math:`(m + pp - 1)` stage times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.precision import Precision
from ..parallel.inference import InferenceLayout
from ..topology.span import GroupSpan
from ..workload.moe import expert_load_factor
from ..workload.operators import (
    Operator,
    OpKind,
    elementwise_op,
    gemm_op,
    layer_operators,
    model_operators,
)
from ..workload.transformer import AttentionKind, LayerType, Transformer
from .collectives import collective_time, efficiency_for
from .serving_modes import ServingArrays, context_points, continuous_serving, static_serving
from .serving_params import (
    TRTLLM_LEGACY,
    EngineLimits,
    GemmCeilings,
    InferenceEfficiency,
    InferenceMemoryModel,
    WeightFormat,
    gemm_ceilings_for,
    weight_format,
)
from .speculation import Speculation

__all__ = [
    "DECODE_BREAKDOWN_KEYS",
    "TRTLLM_LEGACY",
    "EngineLimits",
    "InferenceEfficiency",
    "InferenceMemoryModel",
    "ServingArrays",
    "ServingSolver",
    "StepArrays",
    "WeightFormat",
    "context_points",
    "continuous_serving",
    "default_kv_precision",
    "static_serving",
]

#: Parts of a decode step (and of a prefill pass), in the order of
#: :attr:`StepArrays.breakdown`.  ``weights``: memory-bound GEMMs (reading the
#: weights); ``kv_cache``: memory-bound attention and cache writes (reading
#: the KV cache); ``compute``: compute-bound GEMMs and attention;
#: ``elementwise``: norms, activations, embedding, sampling; then the exposed
#: tensor-, expert- and pipeline-parallel communication, the drafting of
#: speculative decoding (:class:`~blackwell_model.solvers.speculation.Speculation`;
#: 0 without it) and the fixed per-step overhead.
DECODE_BREAKDOWN_KEYS: tuple[str, ...] = (
    "weights",
    "kv_cache",
    "compute",
    "elementwise",
    "tp_comm",
    "ep_comm",
    "pp_comm",
    "draft",
    "overhead",
)

_CAT = {k: i for i, k in enumerate(DECODE_BREAKDOWN_KEYS)}


@attrs.frozen(kw_only=True, eq=False)
class StepArrays:
    """Times of forward passes for arrays of cases (floats in SI units).

    Parameters
    ----------
    time_s
        Time of the pass [s] (a decode step: the time per output token).
    breakdown
        Part (:data:`DECODE_BREAKDOWN_KEYS`) -> time [s]; the parts add up to
        ``time_s``.
    tensor_busy_s
        Sum over operators of their compute time at the achieved efficiency
        [s]: how long the tensor/vector units are busy (energy model hook).
    memory_busy_s
        Sum over operators of their memory time [s]: how long HBM is busy.
    network_busy_s
        Communication time [s]: how long the scale-up/scale-out links are busy.
    """

    time_s: np.ndarray
    breakdown: Mapping[str, np.ndarray]
    tensor_busy_s: np.ndarray
    memory_busy_s: np.ndarray
    network_busy_s: np.ndarray


def default_kv_precision(fmt: WeightFormat | Precision | str, accelerator: Any) -> Precision:
    """The engine-like default KV-cache precision of a deployment.

    FP8 when the weights are 8 bits or narrower and the accelerator has an
    FP8 peak (Hopper, Blackwell: TensorRT-LLM's FP8 and NVFP4 checkpoints
    carry ``kv_cache_quant_algo = FP8``, and vLLM/SGLang FP8 deployments set
    ``kv_cache_dtype=fp8``); otherwise the activation precision (BF16 for
    narrow weights on parts without FP8, else the weight precision).

    Parameters
    ----------
    fmt
        The :class:`~blackwell_model.solvers.serving_params.WeightFormat` (or
        a precision) of the deployment.
    accelerator
        The :class:`~blackwell_model.hardware.Accelerator`.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> default_kv_precision("fp8", bm.catalog.accelerator("H100-SXM")).value
    'fp8'
    >>> default_kv_precision("fp16", bm.catalog.accelerator("A100-SXM-80GB")).value
    'fp16'
    """
    f = weight_format(fmt)
    narrow = min(f.dense.bytes, f.expert_compute.bytes) <= 1.0
    if narrow and accelerator.supports(Precision.FP8):
        return Precision.FP8
    return Precision.BF16 if f.dense.bytes < 2.0 else f.dense


# --------------------------------------------------------------------------- op tables
class _Table:
    """Array coefficients of the operators of one layer type (or the edges).

    ``g_*``: dense GEMMs (column vectors, one row per GEMM; ``m = g_m1 * B``);
    ``moe``: routed-expert GEMMs and the expert-touch parameters, or None;
    ``l_*``: every other operator, FLOPs ``B (l_f0 + l_f1 c')`` and bytes
    ``B (l_b0 + l_b1 c')``, with their efficiencies and breakdown categories.
    """

    __slots__ = (
        "g_b_in",
        "g_b_out",
        "g_b_w",
        "g_count",
        "g_k",
        "g_m1",
        "g_n",
        "g_peak",
        "g_scale",
        "l_b0",
        "l_b1",
        "l_cat_c",
        "l_cat_m",
        "l_ce",
        "l_f0",
        "l_f1",
        "l_me",
        "l_peak",
        "l_window",
        "moe",
        "n_ops",
    )
    g_b_in: np.ndarray
    g_b_out: np.ndarray
    g_b_w: np.ndarray
    g_count: np.ndarray
    g_k: np.ndarray
    g_m1: np.ndarray
    g_n: np.ndarray
    g_peak: np.ndarray
    g_scale: np.ndarray
    l_b0: np.ndarray
    l_b1: np.ndarray
    l_cat_c: np.ndarray
    l_cat_m: np.ndarray
    l_ce: np.ndarray
    l_f0: np.ndarray
    l_f1: np.ndarray
    l_me: np.ndarray
    l_peak: np.ndarray
    l_window: np.ndarray
    moe: dict[str, Any] | None
    n_ops: int

    def __init__(self) -> None:
        self.n_ops = 0


def _gemm_rows(ops: list[Operator], acc: Any, weight_bytes: Any = None) -> tuple[np.ndarray, ...]:
    """``(m1, n, k, count, act_bytes, weight_bytes, out_bytes, peak)`` arrays of GEMM operators.

    ``weight_bytes(op)`` gives the stored bytes per weight (block scales
    included); by default the operator's precision.
    """
    m1 = np.array([o.m for o in ops])
    n = np.array([o.n for o in ops])
    k = np.array([o.k for o in ops])
    c = np.array([o.count for o in ops])
    b_a = np.array([o.precision.bytes for o in ops])
    b_w = np.array([o.precision.bytes if weight_bytes is None else weight_bytes(o) for o in ops])
    b_out = np.array(
        [o.bytes_written / (o.m * o.n * o.count) if o.m * o.n * o.count else 0.0 for o in ops]
    )
    peak = np.array([acc.peak_flops_per_s(o.precision) for o in ops])
    return m1, n, k, c, b_a, b_w, b_out, peak


class ServingSolver:
    """Prefill, decode-step and memory model of one model on one deployment, with caches.

    Build it once per ``(model, cluster, layout, precision, kv_precision)``
    and evaluate as many batches and context lengths as needed; operator
    coefficients and collective spans are cached.

    Parameters
    ----------
    model
        The :class:`~blackwell_model.workload.Transformer`.
    cluster
        The :class:`~blackwell_model.hardware.Cluster` (its accelerator and
        topology).
    layout
        The :class:`~blackwell_model.parallel.inference.InferenceLayout`.
    precision
        Weight and GEMM precision (``"fp8"``, ``"bf16"``, ``"fp4"``...) or a
        mixed :class:`~blackwell_model.solvers.serving_params.WeightFormat`
        (a name of :data:`~blackwell_model.solvers.serving_params.WEIGHT_FORMATS`
        such as ``"mxfp4-w4a16"`` or ``"nvfp4-experts"``): experts and the
        other layers stored and computed in their own precisions, block
        scales counted.
    kv_precision
        KV-cache precision; ``None`` is :func:`default_kv_precision` (FP8 for
        8-bit-or-narrower serving on parts with FP8, else the activation
        precision).
    efficiency
        :class:`InferenceEfficiency`.
    memory
        :class:`InferenceMemoryModel`.
    limits
        :class:`EngineLimits` (batch, token and CUDA-graph limits of the
        engine); no limits when omitted.
    speculation
        :class:`~blackwell_model.solvers.speculation.Speculation`: decode by
        speculative steps (see :meth:`decode_step`); ``None`` (default)
        decodes one token per step.

    Raises
    ------
    InfeasibleLayoutError
        If the layout does not divide the model or needs more GPUs than the
        cluster has.
    UnsupportedPrecisionError
        If the accelerator has no peak at ``precision``.
    """

    def __init__(
        self,
        model: Transformer,
        cluster: Any,
        layout: InferenceLayout,
        precision: Precision | str,
        kv_precision: Precision | str | None = None,
        *,
        efficiency: InferenceEfficiency | None = None,
        memory: InferenceMemoryModel | None = None,
        limits: EngineLimits | None = None,
        speculation: Speculation | None = None,
    ) -> None:
        if not isinstance(model, Transformer):
            raise SpecError(f"model must be a Transformer, got {type(model).__name__}")
        if not isinstance(layout, InferenceLayout):
            raise SpecError(
                f"layout must be an InferenceLayout, got {type(layout).__name__} {layout!r}"
            )
        if efficiency is not None and not isinstance(efficiency, InferenceEfficiency):
            raise SpecError(
                f"efficiency must be an InferenceEfficiency, got {type(efficiency).__name__}"
            )
        if memory is not None and not isinstance(memory, InferenceMemoryModel):
            raise SpecError(f"memory must be an InferenceMemoryModel, got {type(memory).__name__}")
        if limits is not None and not isinstance(limits, EngineLimits):
            raise SpecError(f"limits must be an EngineLimits, got {type(limits).__name__}")
        if speculation is not None and not isinstance(speculation, Speculation):
            raise SpecError(
                f"speculation must be a Speculation or None, got {type(speculation).__name__}"
            )
        layout.check(model, int(cluster.gpus))
        self.model = model
        self.cluster = cluster
        self.layout = layout
        self.accelerator = cluster.accelerator
        self.format = weight_format(precision)
        self.precision = self.format.dense
        self.act = Precision.BF16 if self.precision.bytes < 2.0 else self.precision
        self.kv = (
            default_kv_precision(self.format, cluster.accelerator)
            if kv_precision is None
            else Precision.parse(kv_precision)
        )
        self.limits = limits or EngineLimits()
        self.eff = efficiency or InferenceEfficiency()
        roof = self.eff.roofline
        units = self.accelerator.compute_units
        # wave quantisation over the accelerator's own SM/CU count, when the catalog gives it
        self.kernel_eff = (
            attrs.evolve(roof, compute_units=units) if units and roof.compute_units else roof
        )
        tile = self.eff.grouped_min_tile
        self._small_tile_eff = (
            attrs.evolve(self.kernel_eff, tile_m=tile)
            if tile is not None and tile < self.kernel_eff.tile_m
            else None
        )
        self.mem = memory or InferenceMemoryModel()
        self.coll = self.eff.collectives or efficiency_for(self.accelerator)
        self.ceilings: GemmCeilings = self.eff.gemm_ceilings or gemm_ceilings_for(self.accelerator)
        self.hbm_Bps = float(self.accelerator.memory_bandwidth.m)
        self.capacity_B = float(self.accelerator.memory_capacity.m)
        # raises UnsupportedPrecisionError early, with the accelerator's message
        self.accelerator.peak_flops_per_s(self.precision)
        if model.is_moe:
            self.accelerator.peak_flops_per_s(self.format.expert_compute)
        self.types: tuple[LayerType, ...] = tuple(dict.fromkeys(model.layer_types()))
        type_index = {t: i for i, t in enumerate(self.types)}
        per_stage = layout.stage_layers(model.layers)
        self.stage_counts = np.zeros((layout.pp, len(self.types)))
        for i, t in enumerate(model.layer_types()):
            self.stage_counts[min(i // per_stage, layout.pp - 1), type_index[t]] += 1.0
        self._tables: dict[tuple[Any, ...], tuple[_Table, ...]] = {}
        self._spans: dict[tuple[int, ...], GroupSpan | None] = {}
        self._hierarchy: Any = None
        self.spec = speculation
        self._head: LayerType | None = None
        self._draft: ServingSolver | None = None
        if speculation is not None:
            self._setup_speculation(speculation)
        self._weights = self._weights_per_stage()
        self._kv_per_token = self._kv_per_token_per_stage()

    # ------------------------------------------------------------------ tables
    def _ops_common(self) -> dict[str, Any]:
        lay = self.layout
        return dict(
            precision=self.precision,
            tp=lay.tp,
            ep=lay.ep,
            etp=lay.etp,
            kv_precision=self.kv,
        )

    def _tables_for(self, phase: str, seq_len: int) -> tuple[_Table, ...]:
        """Op tables per layer type plus the first-stage and last-stage edges.

        ``seq_len``: new tokens per sequence in the pass (the prompt for a
        prefill; 1 for a decode step, :math:`k + 1` for a speculative
        verification step).
        """
        key = (phase, seq_len)
        hit = self._tables.get(key)
        if hit is not None:
            return hit
        common = self._ops_common()
        model = self.model
        out = [self._layer_table(phase, seq_len, lt) for lt in self.types]
        kw: dict[str, Any] = dict(batch=1, layers=range(0), **common)
        if phase == "decode":
            edge = model_operators(model, phase="decode", seq_len=seq_len, kv_len=seq_len, **kw)
        else:
            edge = model_operators(model, phase="prefill", seq_len=seq_len, **kw)
        out.append(self._table(list(edge.pre), list(edge.pre), math.inf, moe=False, seq=1))
        out.append(self._table(list(edge.post), list(edge.post), math.inf, moe=False, seq=1))
        result = tuple(out)
        self._tables[key] = result
        return result

    def _layer_table(self, phase: str, seq_len: int, lt: LayerType) -> _Table:
        """Op table of one layer of type ``lt`` (cached)."""
        key = (phase, seq_len, lt)
        hit = self._tables.get(key)
        if hit is not None:
            return hit[0]
        common = self._ops_common()
        model = self.model
        if phase == "decode":
            # affine in the context: evaluated at contexts seq_len and seq_len + 1
            a = layer_operators(
                model, phase="decode", batch=1, seq_len=seq_len, kv_len=seq_len, layer=lt, **common
            )
            b = layer_operators(
                model, phase="decode", batch=1, seq_len=seq_len, kv_len=seq_len + 1, layer=lt,
                **common,
            )  # fmt: skip
        else:
            a = layer_operators(
                model, phase="prefill", batch=1, seq_len=seq_len, layer=lt, **common
            )
            b = a
        window = float(model.sliding_window) if lt.sliding and model.sliding_window else math.inf
        tab = self._table(
            a,
            b,
            window,
            moe=lt.moe,
            seq=seq_len,
            kv_reads=self._kv_read_factor() if phase == "decode" else 1.0,
            context0=float(seq_len) if phase == "decode" else 1.0,
        )
        self._tables[key] = (tab,)
        return tab

    def _kv_read_factor(self) -> float:
        """How many times decode attention reads each cached K/V head (1 when grouped)."""
        model = self.model
        if self.eff.grouped_kv_reads or model.attention_kind is AttentionKind.MLA:
            return 1.0
        tp = self.layout.tp
        kv_local = model.n_kv_heads // tp if model.n_kv_heads >= tp else 1
        return (model.heads // tp) / kv_local

    def _table(
        self,
        ops_a: Any,
        ops_b: Any,
        window: float,
        *,
        moe: bool,
        seq: int,
        kv_reads: float = 1.0,
        context0: float = 1.0,
    ) -> _Table:
        acc = self.accelerator
        eff = self.kernel_eff
        tab = _Table()
        gemms = [o for o in ops_a if o.kind is OpKind.GEMM]
        experts = [o for o in ops_a if o.kind is OpKind.MOE_GEMM]
        others = [(o, p) for o, p in zip(ops_a, ops_b, strict=True) if not o.kind.is_gemm]
        tab.n_ops = len(ops_a)
        fmt = self.format
        dense_p = self.precision

        def dense_w(o: Operator) -> float:
            return fmt.dense_bytes if o.precision is dense_p else o.precision.bytes

        (
            tab.g_m1, tab.g_n, tab.g_k, tab.g_count, tab.g_b_in, tab.g_b_w, tab.g_b_out,
            tab.g_peak,
        ) = (x[:, None] for x in _gemm_rows(gemms, acc, dense_w))  # fmt: skip
        tab.g_scale = np.array([self._gemm_scale(o.precision) for o in gemms])[:, None]
        tab.moe = None
        if experts:
            lay = self.layout
            _m1, n, k, _c, _ba, _bw, b_out, _pk = _gemm_rows(experts, acc)
            comp = fmt.expert_compute
            # FP4 activations carry a scale per 16 values (NVFP4)
            a_bytes = comp.bytes + (fmt.scale_bytes / 16.0 if comp.bytes < 1.0 else 0.0)
            model = self.model
            # tokens each rank routes per sequence, and of the EP group
            t_r1 = seq * lay.etp / lay.tp
            tab.moe = dict(
                n=n[:, None],
                k=k[:, None],
                b_in=np.full((len(experts), 1), a_bytes),
                b_w=np.full((len(experts), 1), fmt.expert_bytes),
                b_out=b_out[:, None],
                peak=np.full((len(experts), 1), acc.peak_flops_per_s(comp)),
                scale=np.full((len(experts), 1), self._gemm_scale(comp)),
                t_r1=t_r1,
                group1=t_r1 * lay.ep,
                local=model.experts / lay.ep,
                ratio=model.experts_per_token / model.experts,
                topk=float(model.experts_per_token),
            )
        f_a = np.array([o.flops for o, _ in others])
        f_b = np.array([p.flops for _, p in others])
        b_a = np.array([o.bytes for o, _ in others])
        b_b = np.array([p.bytes for _, p in others])
        # ``ops_a`` at context ``context0``, ``ops_b`` one token later
        tab.l_f1 = (f_b - f_a)[:, None]
        tab.l_f0 = (f_a - context0 * (f_b - f_a))[:, None]
        is_attn = np.array([o.kind is OpKind.ATTENTION for o, _ in others], dtype=bool)
        tab.l_b1 = ((b_b - b_a) * np.where(is_attn, kv_reads, 1.0))[:, None]
        tab.l_b0 = (b_a - context0 * (b_b - b_a))[:, None]
        tab.l_window = np.full((len(others), 1), window)
        tab.l_peak = np.array([acc.peak_flops_per_s(o.precision) for o, _ in others])[:, None]
        fr = [eff(o) for o, _ in others]
        tab.l_ce = np.array([c for c, _ in fr])[:, None]
        tab.l_me = np.array([m for _, m in fr])[:, None]
        cat_c, cat_m = [], []
        for o, _ in others:
            if o.kind is OpKind.ATTENTION:
                cat_c.append(_CAT["compute"])
                cat_m.append(_CAT["kv_cache"])
            elif o.name == "kv_cache_write":
                cat_c.append(_CAT["kv_cache"])
                cat_m.append(_CAT["kv_cache"])
            else:
                cat_c.append(_CAT["elementwise"])
                cat_m.append(_CAT["elementwise"])
        tab.l_cat_c = np.array(cat_c, dtype=np.int64)
        tab.l_cat_m = np.array(cat_m, dtype=np.int64)
        return tab

    def gemm_fraction(
        self, m: float, n: float, k: float, precision: Precision | str, count: float = 1.0
    ) -> float:
        """Fraction of the dense peak at ``precision`` a GEMM of this shape reaches here.

        The shape model of the deployment's kernel efficiency (tile, wave
        and reduction factors over the accelerator's compute units) times
        the generation's ceiling for ``precision``
        (:attr:`InferenceEfficiency.gemm_ceilings`) or ``narrow_gemm``;
        what the decode and prefill passes use for their dense GEMMs.

        Parameters
        ----------
        m, n, k
            GEMM shape: rows (tokens), columns (output features) and
            reduction length [elements].
        precision
            Precision the GEMM computes in.
        count
            Identical GEMMs run together (grouped GEMMs) [dimensionless].

        Returns
        -------
        float
            The fraction, in (0, 1].
        """
        p = Precision.parse(precision)
        shape = float(self.kernel_eff.gemm(float(m), float(n), float(k), float(count)))
        return shape * self._gemm_scale(p)

    def _gemm_scale(self, precision: Precision) -> float:
        """Factor on the shape model's GEMM fraction for GEMMs computing in ``precision``."""
        return self.ceilings.factor(precision, self.kernel_eff.gemm_max, self.eff.narrow_gemm)

    def _eval_table(
        self,
        tab: _Table,
        batch: np.ndarray,
        context: np.ndarray,
        padded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-category time [s], compute-busy [s] and memory-busy [s] of one table.

        ``batch`` and ``context`` are 1-D arrays of equal length; ``padded``
        (default ``batch``) is the batch the GEMMs and per-token kernels run
        at (a CUDA graph's size), attention's context terms use ``batch``.
        Returns ``(parts[len(keys), N], tensor_busy[N], memory_busy[N])``.
        """
        eff = self.kernel_eff
        bw = self.hbm_Bps
        n_cases = batch.shape[0]
        parts = np.zeros((len(DECODE_BREAKDOWN_KEYS), n_cases))
        t_busy = np.zeros(n_cases)
        m_busy = np.zeros(n_cases)
        ov = eff.overhead_s
        b = batch[None, :]
        bp = b if padded is None else padded[None, :]
        small = self._small_tile_eff

        def gemm(  # noqa: PLR0917 - the GEMM coefficient arrays, in gemm_op order
            m: Any, n: Any, k: Any, c: Any, b_in: Any, b_w: Any, b_out: Any, peak: Any,
            scale: Any, grouped: bool = False,
        ) -> None:  # fmt: skip
            flops = 2.0 * m * n * k * c
            moved = (m * k * b_in + k * n * b_w + m * n * b_out) * c
            ce = np.asarray(eff.gemm(m, n, k, c), dtype=float)
            if grouped and small is not None:
                # the row tile shrinks to the tokens per expert (at least ``small``)
                ce = np.where(m < eff.tile_m, np.asarray(small.gemm(m, n, k, c)), ce)
            # per-precision ceiling (Blackwell) or narrow_gemm below 16 bits
            ce = ce * scale
            ct = flops / (peak * ce)
            mt = moved / (bw * eff.hbm)
            cb = ct > mt
            if grouped:
                # grouped GEMM: the shorter of compute and memory is only partly hidden
                t = (
                    np.maximum(ct, mt)
                    + (1.0 - eff.grouped_overlap) * np.minimum(ct, mt)
                    + ov
                    + c * eff.group_overhead_s
                )
            else:
                t = np.maximum(ct, mt) + ov
            parts[_CAT["compute"]] += np.where(cb, t, 0.0).sum(axis=0)
            parts[_CAT["weights"]] += np.where(cb, 0.0, t).sum(axis=0)
            t_busy[:] += ct.sum(axis=0)
            m_busy[:] += mt.sum(axis=0)

        if tab.g_m1.size:
            gemm(
                tab.g_m1 * bp, tab.g_n, tab.g_k, tab.g_count, tab.g_b_in, tab.g_b_w,
                tab.g_b_out, tab.g_peak, tab.g_scale,
            )  # fmt: skip
        if tab.moe is not None:
            d = tab.moe
            tokens = d["t_r1"] * bp
            if d["ratio"] < 1.0:
                hit = -np.expm1(d["group1"] * bp * math.log1p(-d["ratio"]))
            else:
                hit = np.ones_like(bp)
            count = d["local"] * hit
            load = self._expert_load(d["group1"] * bp)
            m_e = tokens * d["topk"] * load / count
            gemm(
                m_e, d["n"], d["k"], count, d["b_in"], d["b_w"], d["b_out"], d["peak"],
                d["scale"], grouped=True,
            )  # fmt: skip
        if tab.l_f0.size:
            c_eff = np.minimum(context[None, :], tab.l_window)
            flops = bp * tab.l_f0 + b * tab.l_f1 * c_eff
            moved = bp * tab.l_b0 + b * tab.l_b1 * c_eff
            ct = flops / (tab.l_peak * tab.l_ce)
            mt = moved / (bw * tab.l_me)
            t = np.maximum(ct, mt) + ov
            cat = np.where(ct > mt, tab.l_cat_c[:, None], tab.l_cat_m[:, None])
            for idx in np.unique(cat).tolist():
                parts[idx] += np.where(cat == idx, t, 0.0).sum(axis=0)
            t_busy += ct.sum(axis=0)
            m_busy += mt.sum(axis=0)
        return parts, t_busy, m_busy

    def _expert_load(self, group_tokens: Any) -> Any:
        """Busiest expert-parallel rank's routed tokens over the mean rank's (>= 1)."""
        model = self.model
        ep = self.layout.ep
        if ep < 2 or not model.is_moe:
            return 1.0
        return expert_load_factor(
            group_tokens, model.experts, model.experts_per_token, ep, self.eff.expert_load_cv
        )

    # ----------------------------------------------------------- communication
    def span(self, ranks: tuple[int, ...]) -> GroupSpan | None:
        """Span of a group of ranks (None for a group of one); cached."""
        if len(ranks) < 2:
            return None
        hit = self._spans.get(ranks)
        if hit is not None:
            return hit
        if self._hierarchy is None:
            from ..topology import cluster_spans

            self._hierarchy = cluster_spans(self.cluster)
        span = self._hierarchy.span(list(ranks))
        self._spans[ranks] = span
        return span

    def _comm(self, op: str, ranks: tuple[int, ...], size_bytes: np.ndarray) -> np.ndarray:
        span = self.span(ranks)
        if span is None:
            return np.zeros_like(size_bytes)
        return np.asarray(collective_time(op, span, size_bytes, efficiency=self.coll), dtype=float)

    def _stage_comm(
        self, tokens: np.ndarray, head_tokens: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(tp per layer [s], ep per MoE layer [s], tp edge first/last stage [s]) for token arrays."""
        lay = self.layout
        model = self.model
        h = float(model.hidden)
        a = self.act.bytes
        tp_ranks = tuple(range(lay.tp))
        n_ar = 1.0 if model.parallel_attention else 2.0
        exposed_tp = 1.0 - self.eff.tp_overlap
        tp_layer = n_ar * self._comm("all_reduce", tp_ranks, tokens * h * a) * exposed_tp
        ep_layer = np.zeros_like(tokens)
        if lay.ep > 1 and model.is_moe:
            ep_ranks = tuple(range(lay.ep))
            # the busiest rank receives load x the mean; dispatch in FP8 when the
            # experts compute in 8 bits or fewer, combine in the activation precision
            load = self._expert_load(tokens * lay.etp / lay.tp * lay.ep)
            routed = tokens * lay.etp / lay.tp * model.experts_per_token * h * load
            d_b = 1.0 if (self.eff.dispatch_fp8 and self.format.expert_compute.bytes <= 1.0) else a
            ep_layer = (
                self._comm("all_to_all", ep_ranks, routed * d_b)
                + self._comm("all_to_all", ep_ranks, routed * a)
            ) * (1.0 - self.eff.ep_overlap)
        # vocabulary-parallel embedding (all-reduce) and LM head (gather the logits)
        first = self._comm("all_reduce", tp_ranks, tokens * h * a) * exposed_tp
        vocab = math.ceil(model.vocab / lay.tp) * lay.tp
        last = self._comm("all_gather", tp_ranks, head_tokens * vocab * a) * exposed_tp
        return tp_layer, ep_layer, first, last

    def _p2p(self, tokens: np.ndarray) -> np.ndarray:
        lay = self.layout
        if lay.pp == 1:
            return np.zeros_like(tokens)
        stride = max(lay.tp, lay.ep)
        size = tokens * float(self.model.hidden) * self.act.bytes
        return self._comm("send_recv", (0, stride), size)

    # ------------------------------------------------------------- passes
    def _stage_pass(
        self,
        phase: str,
        seq_len: int,
        micro: np.ndarray,
        context: np.ndarray,
        padded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Busiest stage's pass over ``micro`` sequences: (time, parts, tensor, memory, network).

        ``padded``: the batch GEMMs, per-token kernels and communication run
        at (a CUDA graph's size); ``micro`` by default.
        """
        tables = self._tables_for(phase, seq_len)
        n_types = len(self.types)
        n = micro.shape[0]
        keys = len(DECODE_BREAKDOWN_KEYS)
        per_type = []
        for tab in tables:
            per_type.append(self._eval_table(tab, micro, context, padded))
        run = micro if padded is None else padded
        tokens = run * float(seq_len)
        tp_l, ep_l, tp_first, tp_last = self._stage_comm(
            tokens, tokens if phase == "decode" else run
        )
        pp = self.layout.pp
        parts = np.zeros((pp, keys, n))
        tensor = np.zeros((pp, n))
        memory = np.zeros((pp, n))
        network = np.zeros((pp, n))
        for s in range(pp):
            for j in range(n_types):
                cnt = self.stage_counts[s, j]
                if cnt == 0.0:
                    continue
                p, tb, mb = per_type[j]
                parts[s] += cnt * p
                tensor[s] += cnt * tb
                memory[s] += cnt * mb
                parts[s, _CAT["tp_comm"]] += cnt * tp_l
                network[s] += cnt * tp_l
                if self.types[j].moe:
                    parts[s, _CAT["ep_comm"]] += cnt * ep_l
                    network[s] += cnt * ep_l
            for edge, on, comm in (
                (n_types, s == 0, tp_first),
                (n_types + 1, s == pp - 1, tp_last),
            ):
                if on:
                    p, tb, mb = per_type[edge]
                    parts[s] += p
                    tensor[s] += tb
                    memory[s] += mb
                    parts[s, _CAT["tp_comm"]] += comm
                    network[s] += comm
        totals = parts.sum(axis=1)
        busiest = np.argmax(totals, axis=0)
        cols = np.arange(n)
        return (
            totals[busiest, cols],
            parts[busiest, :, cols].T,
            tensor[busiest, cols],
            memory[busiest, cols],
            network[busiest, cols],
        )

    def decode_step(self, batch: Any, context: Any) -> StepArrays:
        """Time per output token of a replica decoding ``batch`` sequences at ``context``.

        Parameters
        ----------
        batch
            Sequences in flight on one replica [sequences] (array or scalar).
        context
            Tokens each sequence attends to (prompt plus generated) [tokens]
            (array or scalar; broadcasts with ``batch``).

        Returns
        -------
        StepArrays
            With ``pp`` stages the batch circulates as ``m = min(batch, pp)``
            micro-batches of ``batch / m`` sequences and a token takes one
            round: ``pp * (stage(batch / m) + p2p) + step_overhead_s``.

        Notes
        -----
        With :attr:`speculation` (:math:`k` drafted tokens, :math:`\\tau`
        tokens per step), one step is a verification pass of the target over
        :math:`k + 1` tokens per sequence (GEMMs of :math:`B (k + 1)` rows,
        the KV cache read once for the :math:`k + 1` queries, the LM head and
        sampling on every verified position), plus the drafting (``draft``
        part: :math:`k` sequential passes of the MTP/EAGLE head or of the
        draft model, the first over the :math:`k + 1` positions just
        verified, the others over one token), plus
        :attr:`Speculation.step_overhead
        <blackwell_model.solvers.speculation.Speculation.step_overhead>`; the
        time per output token is that step over :math:`\\tau`:

        .. math::

           \\text{TPOT} = \\frac{t_{verify}(B, c, k + 1) + t_{draft}(B, c, k)
               + t_{step}}{\\tau}

        At small batch the verification costs about one ordinary step (the
        weights are read once either way) and TPOT falls by nearly
        :math:`\\tau`; at large batch the GEMMs are compute-bound, the
        verification costs :math:`k + 1` times the work, and the gain
        vanishes or turns into a loss.
        """
        b, c = np.broadcast_arrays(np.asarray(batch, dtype=float), np.asarray(context, dtype=float))
        shape = b.shape
        b, c = b.ravel(), c.ravel()
        spec = self.spec
        q = 1 if spec is None else spec.verify_tokens
        parts, tensor, memory, network = self._decode_pass(b, c, q)
        parts[_CAT["overhead"]] += self.eff.step_overhead_s
        if spec is None:
            return self._arrays(parts, tensor, memory, network, shape)
        d_parts, d_tensor, d_memory, d_network = self._draft_decode(b, c)
        parts[_CAT["draft"]] += d_parts.sum(axis=0)
        parts[_CAT["overhead"]] += spec.step_overhead_s
        tau = spec.tokens_per_step
        return self._arrays(
            parts / tau,
            (tensor + d_tensor) / tau,
            (memory + d_memory) / tau,
            (network + d_network) / tau,
            shape,
        )

    @property
    def tokens_per_step(self) -> float:
        """Mean output tokens per decode step per sequence [tokens]: 1, or :math:`\\tau` with speculation."""
        return 1.0 if self.spec is None else self.spec.tokens_per_step

    def _decode_pass(
        self, b: np.ndarray, c: np.ndarray, q: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A decode round of ``q`` new tokens per sequence, without the step overhead.

        Returns ``(parts, tensor_busy, memory_busy, network_busy)`` (parts of
        shape ``(len(DECODE_BREAKDOWN_KEYS), N)``).
        """
        pp = float(self.layout.pp)
        micro = b / np.minimum(b, pp)
        padded = self.padded_batch(micro)
        _t, parts, tensor, memory, network = self._stage_pass("decode", q, micro, c, padded)
        p2p = self._p2p(micro * q)
        parts = parts * pp
        parts[_CAT["pp_comm"]] += pp * p2p if self.layout.pp > 1 else 0.0
        return parts, tensor * pp, memory * pp, network * pp + p2p * pp

    # ------------------------------------------------------------ speculation
    def _setup_speculation(self, spec: Speculation) -> None:
        """Check the method against the model and build the draft's pieces."""
        model = self.model
        if spec.method == "mtp":
            if model.mtp_layers < 1:
                raise SpecError(
                    f"speculation method 'mtp' needs a model with MTP modules (mtp_layers >= 1); "
                    f"{model.name} has mtp_layers 0: use method 'eagle' or 'draft'"
                )
            self._head = model.layer_types()[-1]
            self._head_inputs = 2.0
        elif spec.method == "eagle":
            if model.ffn_hidden < 1:
                raise SpecError(
                    f"speculation method 'eagle' needs a dense MLP width for its decoder layer; "
                    f"{model.name} has ffn_hidden 0: use method 'draft' with a draft model"
                )
            self._head = LayerType(moe=False, sliding=False)
            self._head_inputs = 3.0
        elif spec.method == "draft":
            tp = spec.draft_tp or self.layout.tp
            if tp > self.layout.replica_gpus:
                raise InfeasibleLayoutError(
                    "draft_tp",
                    f"draft_tp = {tp} exceeds the {self.layout.replica_gpus} GPUs of a replica "
                    f"of {model.name}",
                )
            self._draft = ServingSolver(
                spec.draft_model,
                self.cluster,
                InferenceLayout(tp=tp),
                self.precision,
                self.kv,
                efficiency=self.eff,
                memory=self.mem,
                limits=self.limits,
            )

    def _fc_table(self, phase: str, seq_len: int) -> _Table:
        """The head's input projection (``inputs * hidden -> hidden``) and input norms."""
        key = ("head_fc", phase, seq_len)
        hit = self._tables.get(key)
        if hit is not None:
            return hit[0]
        h = float(self.model.hidden)
        t = float(seq_len)
        width = self._head_inputs * h
        ops = [
            elementwise_op(
                "head_norms", t * width, t * width, flops_per_element=4.0,
                precision=self.act, kind=OpKind.NORM,
            ),
            gemm_op(
                "head_proj", t, self.model.hidden, width, precision=self.precision,
                out_bytes=self.act.bytes,
            ),
        ]  # fmt: skip
        tab = self._table(ops, ops, math.inf, moe=False, seq=seq_len)
        self._tables[key] = (tab,)
        return tab

    def _head_pass(
        self, phase: str, seq_len: int, batch: np.ndarray, context: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One pass of the MTP/EAGLE head over ``seq_len`` tokens of ``batch`` sequences.

        Its layer, the input projection and norms, the shared embedding, the
        LM head and sampling, with the layer's tensor- and expert-parallel
        communication; on the replica's whole batch.
        """
        lt = self._head or LayerType(moe=False, sliding=False)  # set with a head method
        padded = self.padded_batch(batch) if phase == "decode" else None
        edges = self._tables_for(phase, seq_len)[-2:]
        n = batch.shape[0]
        parts = np.zeros((len(DECODE_BREAKDOWN_KEYS), n))
        tensor = np.zeros(n)
        memory = np.zeros(n)
        for tab in (self._layer_table(phase, seq_len, lt), *edges, self._fc_table(phase, seq_len)):
            p, tb, mb = self._eval_table(tab, batch, context, padded)
            parts += p
            tensor += tb
            memory += mb
        run = batch if padded is None else padded
        tokens = run * float(seq_len)
        tp_l, ep_l, first, last = self._stage_comm(tokens, tokens if phase == "decode" else run)
        network = tp_l + first + last
        parts[_CAT["tp_comm"]] += network
        if lt.moe:
            parts[_CAT["ep_comm"]] += ep_l
            network = network + ep_l
        return parts, tensor, memory, network

    def _draft_decode(
        self, b: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Drafting of one speculative step: ``k`` sequential passes (parts, busy times)."""
        spec = self.spec
        n = b.shape[0]
        if spec is None or spec.method == "ngram":
            z = np.zeros(n)
            return np.zeros((len(DECODE_BREAKDOWN_KEYS), n)), z, z, z
        q = spec.verify_tokens
        rest = float(spec.draft_tokens - 1)
        if self._draft is not None:
            first = self._draft._decode_pass(b, c, q)
            later = self._draft._decode_pass(b, c, 1)
        else:
            first = self._head_pass("decode", q, b, c)
            later = self._head_pass("decode", 1, b, c)
        return tuple(x + rest * y for x, y in zip(first, later, strict=True))  # type: ignore[return-value]

    def _draft_prefill(
        self, batch: np.ndarray, input_tokens: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The draft's pass over the prompts (fills its KV cache, drafts the first tokens)."""
        spec = self.spec
        if spec is None or spec.method == "ngram":
            return None
        ctx = np.full_like(batch, float(input_tokens))
        if self._draft is not None:
            _t, parts, tensor, memory, network = self._draft._stage_pass(
                "prefill", input_tokens, batch, ctx
            )
            return parts, tensor, memory, network
        return self._head_pass("prefill", input_tokens, batch, ctx)

    def padded_batch(self, batch: Any) -> np.ndarray | None:
        """Batch a decode step of ``batch`` sequences runs at (``None`` without CUDA graphs).

        The smallest captured size of :attr:`EngineLimits.cuda_graph_batch_sizes`
        at or above the batch (rounded up to whole sequences).
        """
        lim = self.limits
        if not lim.cuda_graph_batch_sizes:
            return None
        sizes = [float(x) for x in lim.cuda_graph_batch_sizes]
        if lim.max_batch_size is not None:
            sizes = [x for x in sizes if x <= lim.max_batch_size] + [float(lim.max_batch_size)]
        grid = np.unique(np.array(sizes))
        b = np.asarray(batch, dtype=float)
        idx = np.searchsorted(grid, np.ceil(b - 1e-9))
        top = grid[np.minimum(idx, grid.size - 1)]
        return np.where(idx < grid.size, np.maximum(top, b), b)

    def prefill(self, batch: Any, input_tokens: int) -> StepArrays:
        """Time of the prefill pass of ``batch`` prompts of ``input_tokens`` on one replica.

        With ``pp`` stages the batch runs as ``m = min(batch, pp)`` micro-batches
        through the pipeline: ``(m + pp - 1) * (stage + p2p) + step_overhead_s``.
        The pass produces the first output token of every sequence.
        """
        b = np.asarray(batch, dtype=float)
        shape = b.shape
        b = b.ravel()
        pp = self.layout.pp
        m = np.minimum(b, float(pp))
        micro = b / m
        ctx = np.full_like(b, float(input_tokens))
        _t, parts, tensor, memory, network = self._stage_pass("prefill", input_tokens, micro, ctx)
        p2p = self._p2p(micro * input_tokens)
        rounds = m + pp - 1.0
        parts = parts * rounds
        parts[_CAT["pp_comm"]] += rounds * p2p if pp > 1 else 0.0
        parts[_CAT["overhead"]] += self.eff.prefill_overhead_s
        tensor, memory, network = tensor * rounds, memory * rounds, network * rounds
        draft = self._draft_prefill(micro, input_tokens)
        if draft is not None:
            # the draft prefills each micro-batch after the target's last stage
            parts[_CAT["draft"]] += m * draft[0].sum(axis=0)
            tensor, memory, network = (
                x + m * y for x, y in zip((tensor, memory, network), draft[1:], strict=True)
            )
        return self._arrays(parts, tensor, memory, network, shape)

    def prefill_per_request_s(self, input_tokens: int) -> float:
        """Prefill time per request when prompts are batched in chunks [s].

        Continuous batching prefills new prompts in chunks of
        ``prefill_chunk_tokens`` tokens (at least one prompt) alongside the
        decode steps; this is the busiest stage's work on one chunk divided by
        the prompts in it, without the fixed per-pass overhead (the chunk
        shares the decode step's).
        """
        per_chunk = max(1, self.chunk_tokens // input_tokens)
        b = np.array([float(per_chunk)])
        _t, parts, _tb, _mb, _nb = self._stage_pass(
            "prefill", input_tokens, b, np.array([float(input_tokens)])
        )
        draft = self._draft_prefill(b, input_tokens)
        extra = 0.0 if draft is None else float(draft[0].sum())
        return float((parts.sum() + extra) / per_chunk)

    @staticmethod
    def _arrays(
        parts: np.ndarray,
        tensor: np.ndarray,
        memory: np.ndarray,
        network: np.ndarray,
        shape: tuple[int, ...],
    ) -> StepArrays:
        total = parts.sum(axis=0)
        return StepArrays(
            time_s=total.reshape(shape),
            breakdown={k: parts[i].reshape(shape) for i, k in enumerate(DECODE_BREAKDOWN_KEYS)},
            tensor_busy_s=tensor.reshape(shape),
            memory_busy_s=memory.reshape(shape),
            network_busy_s=network.reshape(shape),
        )

    # ------------------------------------------------------------------ memory
    def _weights_per_stage(self) -> np.ndarray:
        """Weight bytes per GPU of each pipeline stage [B]."""
        model = self.model
        lay = self.layout
        wb = self.format.dense_bytes
        eb = self.format.expert_bytes
        tp = lay.tp
        attn = float(model.attention_params)
        if model.attention_kind is AttentionKind.MLA:
            rope = int(model.qk_rope_head_dim or 0)
            kvr = int(model.kv_lora_rank or 0)
            replicated = model.hidden * ((model.q_lora_rank or 0) + kvr + rope)
            attn_local = replicated + (attn - replicated) / tp
        else:
            attn_local = attn / tp
        norms = float(model.block_norm_params)
        dense = float(model.dense_mlp_params) / tp
        if model.is_moe:
            routed = model.experts * float(model.expert_params) / (lay.ep * lay.etp)
            moe = (
                float(model.router_params) + model.shared_experts * float(model.expert_params) / tp
            ) * wb + routed * eb
        else:
            moe = 0.0

        def layer_B(t: LayerType) -> float:
            return (attn_local + norms) * wb + (moe if t.moe else dense * wb)

        per_type = np.array([layer_B(t) for t in self.types])
        stages = self.stage_counts @ per_type
        stages[0] += model.embedding_params / tp * self.act.bytes
        stages[-1] += (model.lm_head_params / tp + model.norm_params) * wb
        if self._head is not None:
            # MTP/EAGLE head on the last stage: its layer, projection and norms
            # (embedding and LM head shared with the model)
            width = self._head_inputs * model.hidden
            stages[-1] += layer_B(self._head) + (width * model.hidden / tp + width) * wb
        if self._draft is not None:
            stages[0] += float(self._draft._weights[0])
        return stages

    def _kv_local_elements(self) -> float:
        """KV-cache elements per token and layer on one GPU (heads split over TP)."""
        model = self.model
        if model.attention_kind is AttentionKind.MLA:
            return float(model.kv_elements_per_token_layer())
        kvh = model.n_kv_heads
        local = kvh // self.layout.tp if kvh >= self.layout.tp else 1
        return float(local * (model.qk_dim + model.v_dim))

    def _kv_per_token_per_stage(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(full-attention layers, windowed layers per stage, window) for KV sizing."""
        full = np.zeros(self.layout.pp)
        windowed = np.zeros(self.layout.pp)
        for j, t in enumerate(self.types):
            if t.sliding and self.model.sliding_window:
                windowed += self.stage_counts[:, j]
            else:
                full += self.stage_counts[:, j]
        if self._head is not None:
            full[-1] += 1.0  # the head's layer keeps its own KV cache
        return full, windowed, float(self.model.sliding_window or 0)

    def kv_bytes_per_sequence(self, context: Any) -> np.ndarray:
        """KV-cache bytes one sequence of ``context`` tokens holds on each stage's GPU [B].

        Returns an array of shape ``(pp,) + shape(context)``.  With
        speculation, the MTP/EAGLE head's layer (last stage) or the draft
        model (first stage) adds its own cache.
        """
        c = np.asarray(context, dtype=float)
        full, windowed, window = self._kv_per_token
        per = self._kv_local_elements() * self.kv.bytes
        kept_w = np.minimum(c, window) if window else c
        out = per * (np.multiply.outer(full, c) + np.multiply.outer(windowed, kept_w))
        if self._draft is not None:
            out[0] += self._draft.kv_bytes_per_sequence(c)[0]
        return out

    def activation_bytes(self, batch: Any, input_tokens: int) -> np.ndarray:
        """Activation workspace and logits on one GPU [B].

        Sized for one forward pass of ``min(batch * input_tokens,
        prefill_chunk_tokens) + batch * q`` tokens (``q`` = 1, or
        :math:`k + 1` verified tokens with speculation), each holding the
        residual stream, the attention projections and the widest MLP
        intermediate of one layer (kernels reuse the buffers layer after
        layer), plus the FP32 logits of the ``batch * q`` decoded positions.
        """
        b = np.asarray(batch, dtype=float)
        model = self.model
        lay = self.layout
        q = 1.0 if self.spec is None else float(self.spec.verify_tokens)
        tokens = np.minimum(b * input_tokens, float(self.chunk_tokens)) + b * q
        up = 2.0 if model.activation.matrices == 3 else 1.0
        ffn = float(model.ffn_hidden) / lay.tp
        if model.is_moe:
            ffn = max(
                ffn,
                model.experts_per_token * float(model.expert_ffn_hidden) / lay.etp
                + model.shared_experts * float(model.expert_ffn_hidden) / lay.tp,
            )
        width = 3.0 * model.hidden + 2.0 * model.q_width / lay.tp + (1.0 + up) * ffn
        logits = b * q * math.ceil(model.vocab / lay.tp) * self.mem.logits_bytes
        return tokens * width * self.act.bytes + logits

    def memory_parts(
        self, batch: Any, input_tokens: int, output_tokens: int
    ) -> dict[str, np.ndarray]:
        """Bytes on the busiest GPU for ``batch`` sequences of ``input + output`` tokens [B].

        Keys ``weights``, ``kv_cache``, ``activations`` (arrays of the shape
        of ``batch``).  The KV cache holds every sequence at its full length
        (static batching; continuous batching that never evicts a request
        reserves the same), plus the :math:`k` drafted tokens a speculative
        step writes before verification.
        """
        b = np.asarray(batch, dtype=float)
        extra = 0.0 if self.spec is None else float(self.spec.draft_tokens)
        kv = self.kv_bytes_per_sequence(float(input_tokens + output_tokens) + extra)
        w = self._weights
        kv_b = np.multiply.outer(kv, b)  # (pp,) + shape(b)
        act = self.activation_bytes(b, input_tokens)
        total = w.reshape((-1,) + (1,) * b.ndim) + kv_b + act
        busiest = np.argmax(total, axis=0)
        pick = np.take_along_axis
        idx = busiest[None, ...]
        w_full = np.broadcast_to(w.reshape((-1,) + (1,) * b.ndim), total.shape)
        return {
            "weights": pick(w_full, idx, axis=0)[0],
            "kv_cache": pick(kv_b, idx, axis=0)[0],
            "activations": act,
        }

    @property
    def chunk_tokens(self) -> int:
        """Most prompt tokens one pass prefills [tokens]: ``max_num_tokens`` or ``prefill_chunk_tokens``."""
        lim = self.limits.max_num_tokens
        return int(lim) if lim is not None else self.mem.prefill_chunk_tokens

    @property
    def usable_B(self) -> float:
        """Bytes of HBM weights, KV cache and activations may use [B]."""
        return self.capacity_B * self.mem.memory_utilization

    def memory_needed_B(self, batch: Any, input_tokens: int, output_tokens: int) -> np.ndarray:
        """Total bytes on the busiest GPU [B] (sum of :meth:`memory_parts`)."""
        parts = self.memory_parts(batch, input_tokens, output_tokens)
        return parts["weights"] + parts["kv_cache"] + parts["activations"]

    def max_batch(self, input_tokens: int, output_tokens: int) -> int:
        """Largest batch per replica whose memory fits in :attr:`usable_B` (0 if none).

        Memory grows with the batch, so an integer bisection finds it.
        """
        usable = self.usable_B
        frac = self.mem.kv_cache_fraction

        def fits(b: int) -> bool:
            parts = self.memory_parts(float(b), input_tokens, output_tokens)
            if frac is None:
                need = parts["weights"] + parts["kv_cache"] + parts["activations"]
                return bool(need <= usable)
            free = usable - parts["weights"] - parts["activations"]
            return bool(parts["kv_cache"] <= frac * free)

        if not fits(1):
            return 0
        lo, hi = 1, 2
        while fits(hi):
            lo, hi = hi, hi * 2
            if hi > 1 << 40:
                raise SpecError("max_batch did not converge: the KV cache takes no memory")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        return lo

    def operating_batch(self, input_tokens: int, output_tokens: int) -> int:
        """Largest batch the engine runs: memory, ``max_batch_size`` and ``max_num_tokens``.

        The smallest of :meth:`max_batch` (memory), the engine's
        ``max_batch_size`` and the batch whose decode tokens plus the
        prefill chunks of its replacements fit ``max_num_tokens``
        (:meth:`EngineLimits.token_limited_batch`); 0 if nothing fits.
        """
        best = self.max_batch(input_tokens, output_tokens)
        lim = self.limits
        if lim.max_batch_size is not None:
            best = min(best, lim.max_batch_size)
        spec = self.spec
        tok = lim.token_limited_batch(
            input_tokens,
            output_tokens,
            verify_tokens=1 if spec is None else spec.verify_tokens,
            tokens_per_step=self.tokens_per_step,
        )
        if tok is not None and best > 0:
            best = min(best, tok)
        return best

    def check_fits(self, batch: int, input_tokens: int, output_tokens: int) -> None:
        """Raise InfeasibleLayoutError (rule ``"memory"``) if ``batch`` does not fit."""
        parts = self.memory_parts(float(batch), input_tokens, output_tokens)
        need = float(sum(float(v) for v in parts.values()))
        frac = self.mem.kv_cache_fraction
        if frac is None and need <= self.usable_B:
            return
        if frac is not None:
            free = self.usable_B - float(parts["weights"]) - float(parts["activations"])
            if float(parts["kv_cache"]) <= frac * free:
                return
        from ..units import Q_, format_quantity

        detail = ", ".join(f"{k} {format_quantity(Q_(float(v), 'B'))}" for k, v in parts.items())
        lay = self.layout
        raise InfeasibleLayoutError(
            "memory",
            f"{self.model.name} with tp={lay.tp} pp={lay.pp} ep={lay.ep} dp={lay.dp}, batch "
            f"{batch} of {input_tokens}+{output_tokens} tokens at {self.precision.value} "
            f"(KV {self.kv.value}) needs {format_quantity(Q_(need, 'B'))} per GPU ({detail}) "
            f"but {self.accelerator.name} offers {format_quantity(Q_(self.usable_B, 'B'))} "
            f"({self.mem.memory_utilization:.0%} of {format_quantity(Q_(self.capacity_B, 'B'))})",
        )
