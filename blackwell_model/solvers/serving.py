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

from .._spec import bool_field
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.precision import Precision
from ..parallel.inference import InferenceLayout
from ..topology.span import GroupSpan
from ..units import finite_non_negative, fraction
from ..workload.operators import Operator, OpKind, layer_operators, model_operators
from ..workload.transformer import AttentionKind, LayerType, Transformer
from ._efficiency import DEFAULT_EFFICIENCY, Efficiency
from .collectives import CollectiveEfficiency, collective_time, efficiency_for

_FRACTION = fraction()
_OPEN_FRACTION = fraction(open_low=True)

__all__ = [
    "DECODE_BREAKDOWN_KEYS",
    "InferenceEfficiency",
    "InferenceMemoryModel",
    "ServingArrays",
    "ServingSolver",
    "StepArrays",
    "context_points",
    "continuous_serving",
    "static_serving",
]

#: Parts of a decode step (and of a prefill pass), in the order of
#: :attr:`StepArrays.breakdown`.  ``weights``: memory-bound GEMMs (reading the
#: weights); ``kv_cache``: memory-bound attention and cache writes (reading
#: the KV cache); ``compute``: compute-bound GEMMs and attention;
#: ``elementwise``: norms, activations, embedding, sampling; then the exposed
#: tensor-, expert- and pipeline-parallel communication and the fixed
#: per-step overhead.
DECODE_BREAKDOWN_KEYS: tuple[str, ...] = (
    "weights",
    "kv_cache",
    "compute",
    "elementwise",
    "tp_comm",
    "ep_comm",
    "pp_comm",
    "overhead",
)

_CAT = {k: i for i, k in enumerate(DECODE_BREAKDOWN_KEYS)}


def _positive_int(inst: Any, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{attribute.name} must be an integer >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class InferenceEfficiency:
    """Explicit, documented efficiency parameters of the serving model.

    Kernel and collective efficiencies are the shared
    :class:`~blackwell_model.solvers.Efficiency` and
    :class:`~blackwell_model.solvers.CollectiveEfficiency`; the fields below
    are the few that only inference needs.  The defaults of
    ``narrow_gemm`` and ``step_overhead_s`` are calibrated on the public
    TensorRT-LLM cases by
    :func:`blackwell_model.validation.inference.calibrate_inference`
    (see ``docs/inference.rst``).

    Parameters
    ----------
    roofline
        Kernel efficiencies (GEMM shape model, attention, HBM).
    collectives
        Collective bus efficiencies and latencies; ``None`` picks the preset
        of the accelerator's NVLink generation
        (:func:`~blackwell_model.solvers.efficiency_for`).
    narrow_gemm
        Factor on the GEMM compute fraction for weights narrower than 16 bits
        (FP8, FP6, FP4, INT8) [fraction].  Narrow-precision GEMMs reach a
        smaller share of their doubled peak: quantising activations, scaling
        epilogues and less mature kernels.  Calibrated: 0.80 (TensorRT-LLM
        0.5/0.6, FP8 on H100).
    step_overhead_s
        Fixed time per decode step [s]: host scheduling, sampling and
        synchronisation not covered by the kernels.  Calibrated: 0 (the
        TensorRT-LLM 0.6 decode loop adds no measurable fixed cost beyond the
        kernels at the published batch sizes).
    prefill_overhead_s
        Fixed time per prefill pass [s]: request setup, input preparation,
        KV-cache allocation and synchronisation before the first token.
        Calibrated: 15 ms (TensorRT-LLM 0.5 batch-1 time to first token).
    grouped_kv_reads
        The decode attention kernel reads each key/value head once for the
        query heads of its group (FlashAttention/FlashInfer decode, the
        TensorRT-LLM XQA kernel).  False: it reads the KV cache once per
        *query* head, as the masked multi-head attention kernel of
        TensorRT-LLM before XQA did for grouped-query attention (XQA for
        Llama 2 70B on Hopper was integrated in release 0.10.0; the 0.5/0.6
        cases need False).  The cache bytes of decode attention are then
        multiplied by ``heads / kv_heads``.  Default True.
    tp_overlap
        Fraction of tensor-parallel all-reduce time hidden under GEMMs
        [fraction].  Default 0: TensorRT-LLM and vLLM run them in line.
    ep_overlap
        Fraction of expert-parallel all-to-all time hidden (two-batch
        overlap, as in DeepSeek's and SGLang's deployments) [fraction].
        Default 0.

    Examples
    --------
    >>> import attrs
    >>> eff = InferenceEfficiency()
    >>> no_overhead = attrs.evolve(eff, prefill_overhead_s=0.0)
    """

    roofline: Efficiency = attrs.field(default=DEFAULT_EFFICIENCY)
    collectives: CollectiveEfficiency | None = None
    narrow_gemm: float = attrs.field(default=0.80, validator=_OPEN_FRACTION)
    step_overhead_s: float = attrs.field(default=0.0, validator=finite_non_negative)
    prefill_overhead_s: float = attrs.field(default=15.0e-3, validator=finite_non_negative)
    grouped_kv_reads: bool = bool_field(default=True)
    tp_overlap: float = attrs.field(default=0.0, validator=_FRACTION)
    ep_overlap: float = attrs.field(default=0.0, validator=_FRACTION)


#: The calibrated defaults with TensorRT-LLM 0.5-0.9's grouped-query decode
#: attention (``grouped_kv_reads=False``), for results of those releases.
TRTLLM_LEGACY: InferenceEfficiency = InferenceEfficiency(grouped_kv_reads=False)


@attrs.frozen(kw_only=True)
class InferenceMemoryModel:
    """Documented constants of the serving memory model.

    Parameters
    ----------
    memory_utilization
        Fraction of the HBM capacity weights, KV cache and activations may
        use [fraction]; the rest is the reserve for the CUDA context, library
        workspaces and allocator fragmentation.  Default 0.95 (4 GB of an
        80 GB GPU).  vLLM's ``gpu_memory_utilization`` and TensorRT-LLM's
        ``kv_cache_free_gpu_mem_fraction`` default to 0.9; set 0.9 to
        reproduce their more conservative sizing.
    prefill_chunk_tokens
        Most prompt tokens one forward pass processes (TensorRT-LLM's
        ``max_num_tokens``, vLLM's ``max_num_batched_tokens``); sizes the
        activation workspace and the prefill chunks of continuous batching
        [tokens].  Default 8192.
    logits_bytes
        Bytes per logit kept for sampling [B] (FP32: 4).
    """

    memory_utilization: float = attrs.field(default=0.95, validator=_OPEN_FRACTION)
    prefill_chunk_tokens: int = attrs.field(default=8192, validator=_positive_int)
    logits_bytes: float = attrs.field(default=4.0, validator=finite_non_negative)


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


def context_points(
    input_tokens: int, output_tokens: int, bins: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Context lengths of the decode steps of a request and their weights.

    Decode step :math:`i = 1 \\dots n-1` (for ``output_tokens`` :math:`n`;
    the first output token comes from the prefill) attends to
    :math:`s_{in} + i` tokens.  With at most ``bins`` steps every step is a
    point (weight 1); otherwise the steps are grouped into ``bins`` equal bins
    evaluated at their mid-context (exact for the linear parts of the step
    time, which is piecewise linear in the context).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Contexts [tokens] and weights [steps]; the weights sum to
        ``output_tokens - 1``.
    """
    n = output_tokens - 1
    if n <= 0:
        return np.zeros(0), np.zeros(0)
    if n <= bins:
        return input_tokens + np.arange(1, n + 1, dtype=float), np.ones(n)
    edges = np.linspace(0.0, n, bins + 1)
    mids = input_tokens + 0.5 + 0.5 * (edges[:-1] + edges[1:])
    return mids, np.diff(edges)


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
        "g_count",
        "g_k",
        "g_m1",
        "g_n",
        "g_peak",
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
    g_count: np.ndarray
    g_k: np.ndarray
    g_m1: np.ndarray
    g_n: np.ndarray
    g_peak: np.ndarray
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


def _gemm_rows(ops: list[Operator], acc: Any) -> tuple[np.ndarray, ...]:
    m1 = np.array([o.m for o in ops])
    n = np.array([o.n for o in ops])
    k = np.array([o.k for o in ops])
    c = np.array([o.count for o in ops])
    b_in = np.array([o.precision.bytes for o in ops])
    b_out = np.array(
        [o.bytes_written / (o.m * o.n * o.count) if o.m * o.n * o.count else 0.0 for o in ops]
    )
    peak = np.array([acc.peak_flops_per_s(o.precision) for o in ops])
    return m1, n, k, c, b_in, b_out, peak


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
        Weight and GEMM precision (``"fp8"``, ``"bf16"``, ``"fp4"``...).
    kv_precision
        KV-cache precision; ``None`` is the activation precision (BF16 for
        8-bit-or-narrower weights, else ``precision``).
    efficiency
        :class:`InferenceEfficiency`.
    memory
        :class:`InferenceMemoryModel`.

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
        layout.check(model, int(cluster.gpus))
        self.model = model
        self.cluster = cluster
        self.layout = layout
        self.accelerator = cluster.accelerator
        self.precision = Precision.parse(precision)
        self.act = Precision.BF16 if self.precision.bytes < 2.0 else self.precision
        self.kv = self.act if kv_precision is None else Precision.parse(kv_precision)
        self.eff = efficiency or InferenceEfficiency()
        roof = self.eff.roofline
        units = self.accelerator.compute_units
        # wave quantisation over the accelerator's own SM/CU count, when the catalog gives it
        self.kernel_eff = (
            attrs.evolve(roof, compute_units=units) if units and roof.compute_units else roof
        )
        self.mem = memory or InferenceMemoryModel()
        self.coll = self.eff.collectives or efficiency_for(self.accelerator)
        self.hbm_Bps = float(self.accelerator.memory_bandwidth.m)
        self.capacity_B = float(self.accelerator.memory_capacity.m)
        # raises UnsupportedPrecisionError early, with the accelerator's message
        self.accelerator.peak_flops_per_s(self.precision)
        self.types: tuple[LayerType, ...] = tuple(dict.fromkeys(model.layer_types()))
        type_index = {t: i for i, t in enumerate(self.types)}
        per_stage = layout.stage_layers(model.layers)
        self.stage_counts = np.zeros((layout.pp, len(self.types)))
        for i, t in enumerate(model.layer_types()):
            self.stage_counts[min(i // per_stage, layout.pp - 1), type_index[t]] += 1.0
        self._tables: dict[tuple[Any, ...], tuple[_Table, ...]] = {}
        self._spans: dict[tuple[int, ...], GroupSpan | None] = {}
        self._hierarchy: Any = None
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
        """Op tables per layer type plus the first-stage and last-stage edges."""
        key = (phase, seq_len)
        hit = self._tables.get(key)
        if hit is not None:
            return hit
        common = self._ops_common()
        model = self.model
        out: list[_Table] = []
        for lt in self.types:
            if phase == "decode":
                a = layer_operators(model, phase="decode", batch=1, kv_len=1, layer=lt, **common)
                b = layer_operators(model, phase="decode", batch=1, kv_len=2, layer=lt, **common)
            else:
                a = layer_operators(
                    model, phase="prefill", batch=1, seq_len=seq_len, layer=lt, **common
                )
                b = a
            window = (
                float(model.sliding_window) if lt.sliding and model.sliding_window else math.inf
            )
            out.append(
                self._table(
                    a,
                    b,
                    window,
                    moe=lt.moe,
                    seq=1 if phase == "decode" else seq_len,
                    kv_reads=self._kv_read_factor() if phase == "decode" else 1.0,
                )
            )
        kw: dict[str, Any] = dict(batch=1, layers=range(0), **common)
        if phase == "decode":
            edge = model_operators(model, phase="decode", kv_len=1, **kw)
        else:
            edge = model_operators(model, phase="prefill", seq_len=seq_len, **kw)
        out.append(self._table(list(edge.pre), list(edge.pre), math.inf, moe=False, seq=1))
        out.append(self._table(list(edge.post), list(edge.post), math.inf, moe=False, seq=1))
        result = tuple(out)
        self._tables[key] = result
        return result

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
    ) -> _Table:
        acc = self.accelerator
        eff = self.kernel_eff
        tab = _Table()
        gemms = [o for o in ops_a if o.kind is OpKind.GEMM]
        experts = [o for o in ops_a if o.kind is OpKind.MOE_GEMM]
        others = [(o, p) for o, p in zip(ops_a, ops_b, strict=True) if not o.kind.is_gemm]
        tab.n_ops = len(ops_a)
        tab.g_m1, tab.g_n, tab.g_k, tab.g_count, tab.g_b_in, tab.g_b_out, tab.g_peak = (
            x[:, None] for x in _gemm_rows(gemms, acc)
        )
        tab.moe = None
        if experts:
            lay = self.layout
            _m1, n, k, _c, b_in, b_out, peak = _gemm_rows(experts, acc)
            model = self.model
            # tokens each rank routes per sequence, and of the EP group
            t_r1 = seq * lay.etp / lay.tp
            tab.moe = dict(
                n=n[:, None],
                k=k[:, None],
                b_in=b_in[:, None],
                b_out=b_out[:, None],
                peak=peak[:, None],
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
        tab.l_f1 = (f_b - f_a)[:, None]
        tab.l_f0 = (f_a - (f_b - f_a))[:, None]
        is_attn = np.array([o.kind is OpKind.ATTENTION for o, _ in others], dtype=bool)
        tab.l_b1 = ((b_b - b_a) * np.where(is_attn, kv_reads, 1.0))[:, None]
        tab.l_b0 = (b_a - (b_b - b_a))[:, None]
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

    def _eval_table(
        self, tab: _Table, batch: np.ndarray, context: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-category time [s], compute-busy [s] and memory-busy [s] of one table.

        ``batch`` and ``context`` are 1-D arrays of equal length; returns
        ``(parts[len(keys), N], tensor_busy[N], memory_busy[N])``.
        """
        eff = self.kernel_eff
        bw = self.hbm_Bps
        narrow = self.eff.narrow_gemm
        n_cases = batch.shape[0]
        parts = np.zeros((len(DECODE_BREAKDOWN_KEYS), n_cases))
        t_busy = np.zeros(n_cases)
        m_busy = np.zeros(n_cases)
        ov = eff.overhead_s
        b = batch[None, :]

        def gemm(  # noqa: PLR0917 - the GEMM coefficient arrays, in gemm_op order
            m: Any, n: Any, k: Any, c: Any, b_in: Any, b_out: Any, peak: Any
        ) -> None:
            flops = 2.0 * m * n * k * c
            moved = ((m * k + k * n) * b_in + m * n * b_out) * c
            ce = np.asarray(eff.gemm(m, n, k, c), dtype=float)
            ce = ce * np.where(b_in < 2.0, narrow, 1.0)
            ct = flops / (peak * ce)
            mt = moved / (bw * eff.hbm)
            cb = ct > mt
            t = np.maximum(ct, mt) + ov
            parts[_CAT["compute"]] += np.where(cb, t, 0.0).sum(axis=0)
            parts[_CAT["weights"]] += np.where(cb, 0.0, t).sum(axis=0)
            t_busy[:] += ct.sum(axis=0)
            m_busy[:] += mt.sum(axis=0)

        if tab.g_m1.size:
            gemm(tab.g_m1 * b, tab.g_n, tab.g_k, tab.g_count, tab.g_b_in, tab.g_b_out, tab.g_peak)
        if tab.moe is not None:
            d = tab.moe
            tokens = d["t_r1"] * b
            if d["ratio"] < 1.0:
                hit = -np.expm1(d["group1"] * b * math.log1p(-d["ratio"]))
            else:
                hit = np.ones_like(b)
            count = d["local"] * hit
            m_e = tokens * d["topk"] / count
            gemm(m_e, d["n"], d["k"], count, d["b_in"], d["b_out"], d["peak"])
        if tab.l_f0.size:
            c_eff = np.minimum(context[None, :], tab.l_window)
            flops = b * (tab.l_f0 + tab.l_f1 * c_eff)
            moved = b * (tab.l_b0 + tab.l_b1 * c_eff)
            ct = flops / (tab.l_peak * tab.l_ce)
            mt = moved / (bw * tab.l_me)
            t = np.maximum(ct, mt) + ov
            cat = np.where(ct > mt, tab.l_cat_c[:, None], tab.l_cat_m[:, None])
            for idx in np.unique(cat).tolist():
                parts[idx] += np.where(cat == idx, t, 0.0).sum(axis=0)
            t_busy += ct.sum(axis=0)
            m_busy += mt.sum(axis=0)
        return parts, t_busy, m_busy

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
            routed = tokens * lay.etp / lay.tp * model.experts_per_token * h * a
            ep_layer = (
                2.0 * self._comm("all_to_all", ep_ranks, routed) * (1.0 - self.eff.ep_overlap)
            )
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
        self, phase: str, seq_len: int, micro: np.ndarray, context: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Busiest stage's pass over ``micro`` sequences: (time, parts, tensor, memory, network)."""
        tables = self._tables_for(phase, seq_len)
        n_types = len(self.types)
        n = micro.shape[0]
        keys = len(DECODE_BREAKDOWN_KEYS)
        per_type = []
        for tab in tables:
            per_type.append(self._eval_table(tab, micro, context))
        tokens = micro * (1.0 if phase == "decode" else float(seq_len))
        tp_l, ep_l, tp_first, tp_last = self._stage_comm(tokens, micro)
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
        """
        b, c = np.broadcast_arrays(np.asarray(batch, dtype=float), np.asarray(context, dtype=float))
        shape = b.shape
        b, c = b.ravel(), c.ravel()
        pp = float(self.layout.pp)
        micro = b / np.minimum(b, pp)
        _t, parts, tensor, memory, network = self._stage_pass("decode", 1, micro, c)
        p2p = self._p2p(micro)
        parts = parts * pp
        parts[_CAT["pp_comm"]] += pp * p2p if self.layout.pp > 1 else 0.0
        parts[_CAT["overhead"]] += self.eff.step_overhead_s
        return self._arrays(parts, tensor * pp, memory * pp, network * pp + p2p * pp, shape)

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
        return self._arrays(parts, tensor * rounds, memory * rounds, network * rounds, shape)

    def prefill_per_request_s(self, input_tokens: int) -> float:
        """Prefill time per request when prompts are batched in chunks [s].

        Continuous batching prefills new prompts in chunks of
        ``prefill_chunk_tokens`` tokens (at least one prompt) alongside the
        decode steps; this is the busiest stage's work on one chunk divided by
        the prompts in it, without the fixed per-pass overhead (the chunk
        shares the decode step's).
        """
        per_chunk = max(1, self.mem.prefill_chunk_tokens // input_tokens)
        b = np.array([float(per_chunk)])
        _t, parts, _tb, _mb, _nb = self._stage_pass(
            "prefill", input_tokens, b, np.array([float(input_tokens)])
        )
        return float(parts.sum() / per_chunk)

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
        wb = self.precision.bytes
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
                float(model.router_params)
                + model.shared_experts * float(model.expert_params) / tp
                + routed
            )
        else:
            moe = 0.0
        per_type = np.array([attn_local + norms + (moe if t.moe else dense) for t in self.types])
        stages = self.stage_counts @ per_type * wb
        stages[0] += model.embedding_params / tp * self.act.bytes
        stages[-1] += (model.lm_head_params / tp + model.norm_params) * wb
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
        return full, windowed, float(self.model.sliding_window or 0)

    def kv_bytes_per_sequence(self, context: Any) -> np.ndarray:
        """KV-cache bytes one sequence of ``context`` tokens holds on each stage's GPU [B].

        Returns an array of shape ``(pp,) + shape(context)``.
        """
        c = np.asarray(context, dtype=float)
        full, windowed, window = self._kv_per_token
        per = self._kv_local_elements() * self.kv.bytes
        kept_w = np.minimum(c, window) if window else c
        return per * (np.multiply.outer(full, c) + np.multiply.outer(windowed, kept_w))

    def activation_bytes(self, batch: Any, input_tokens: int) -> np.ndarray:
        """Activation workspace and logits on one GPU [B].

        Sized for one forward pass of ``min(batch * input_tokens,
        prefill_chunk_tokens) + batch`` tokens, each holding the residual
        stream, the attention projections and the widest MLP intermediate of
        one layer (kernels reuse the buffers layer after layer), plus the FP32
        logits of the batch.
        """
        b = np.asarray(batch, dtype=float)
        model = self.model
        lay = self.layout
        tokens = np.minimum(b * input_tokens, float(self.mem.prefill_chunk_tokens)) + b
        up = 2.0 if model.activation.matrices == 3 else 1.0
        ffn = float(model.ffn_hidden) / lay.tp
        if model.is_moe:
            ffn = max(
                ffn,
                model.experts_per_token * float(model.expert_ffn_hidden) / lay.etp
                + model.shared_experts * float(model.expert_ffn_hidden) / lay.tp,
            )
        width = 3.0 * model.hidden + 2.0 * model.q_width / lay.tp + (1.0 + up) * ffn
        logits = b * math.ceil(model.vocab / lay.tp) * self.mem.logits_bytes
        return tokens * width * self.act.bytes + logits

    def memory_parts(
        self, batch: Any, input_tokens: int, output_tokens: int
    ) -> dict[str, np.ndarray]:
        """Bytes on the busiest GPU for ``batch`` sequences of ``input + output`` tokens [B].

        Keys ``weights``, ``kv_cache``, ``activations`` (arrays of the shape
        of ``batch``).  The KV cache holds every sequence at its full length
        (static batching; continuous batching that never evicts a request
        reserves the same).
        """
        b = np.asarray(batch, dtype=float)
        kv = self.kv_bytes_per_sequence(float(input_tokens + output_tokens))
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

        def fits(b: int) -> bool:
            return bool(self.memory_needed_B(float(b), input_tokens, output_tokens) <= usable)

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

    def check_fits(self, batch: int, input_tokens: int, output_tokens: int) -> None:
        """Raise InfeasibleLayoutError (rule ``"memory"``) if ``batch`` does not fit."""
        parts = self.memory_parts(float(batch), input_tokens, output_tokens)
        need = float(sum(float(v) for v in parts.values()))
        if need <= self.usable_B:
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


# --------------------------------------------------------------------------- serving modes
@attrs.frozen(kw_only=True, eq=False)
class ServingArrays:
    """Latency and throughput of a replica at arrays of batches (floats in SI units).

    Parameters
    ----------
    batch
        Sequences per replica [sequences].
    ttft_s
        Time to first token [s].
    tpot_s
        Mean time per output token after the first [s] (0 when one token is
        generated).
    tokens_per_s
        Output tokens per second of one replica [1/s].
    prefill_s
        Time of the prefill pass the first token waits for [s].
    breakdown
        Part of the mean time per output token -> time [s]: the keys of
        :data:`DECODE_BREAKDOWN_KEYS` plus ``prefill`` (the prompts
        continuous batching interleaves with the decode steps; 0 for a static
        batch).  The parts add up to ``tpot_s``.
    tensor_busy_s, memory_busy_s, network_busy_s
        Of a mean decode step: time the compute units, HBM and links are busy
        [s] (for the energy model).
    prefill_busy_s
        ``(tensor, memory, network)`` busy times of the prefill pass [s].
    """

    batch: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    tokens_per_s: np.ndarray
    prefill_s: np.ndarray
    breakdown: Mapping[str, np.ndarray]
    tensor_busy_s: np.ndarray
    memory_busy_s: np.ndarray
    network_busy_s: np.ndarray
    prefill_busy_s: tuple[np.ndarray, np.ndarray, np.ndarray]


def _check_lengths(input_tokens: Any, output_tokens: Any) -> tuple[int, int]:
    out = []
    for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise SpecError(f"{name} must be an integer >= 1 tokens, got {value!r}")
        out.append(int(value))
    return out[0], out[1]


def static_serving(
    solver: ServingSolver, batch: Any, input_tokens: int, output_tokens: int
) -> ServingArrays:
    """A static batch: prefill all prompts, then decode until every sequence is done.

    .. math::

        T = t_{prefill}(B, s_{in}) + \\sum_{i=1}^{n-1} t_{decode}(B, s_{in} + i),
        \\qquad \\text{throughput} = \\frac{B\\,n}{T}

    for ``output_tokens`` :math:`n` (the first comes from the prefill), as
    TensorRT-LLM's ``gptSessionBenchmark`` measures.  The sum over the growing
    context uses :func:`context_points`.  TTFT is the prefill of the whole
    batch; TPOT the mean decode step.

    Parameters
    ----------
    solver
        The deployment's :class:`ServingSolver`.
    batch
        Sequences per replica (scalar or 1-D array).
    input_tokens, output_tokens
        Prompt and generated tokens per sequence [tokens].
    """
    isl, osl = _check_lengths(input_tokens, output_tokens)
    b = np.atleast_1d(np.asarray(batch, dtype=float))
    pre = solver.prefill(b, isl)
    ctx, w = context_points(isl, osl)
    steps = float(osl - 1)
    if steps > 0:
        grid = solver.decode_step(b[:, None], ctx[None, :])
        decode = {k: (v * w).sum(axis=1) for k, v in grid.breakdown.items()}
        busy = [
            (x * w).sum(axis=1) / steps
            for x in (grid.tensor_busy_s, grid.memory_busy_s, grid.network_busy_s)
        ]
        decode_total = grid.time_s @ w
        tpot = decode_total / steps
        breakdown = {k: v / steps for k, v in decode.items()}
    else:
        zero = np.zeros_like(b)
        decode_total = zero
        tpot = zero
        breakdown = {k: zero for k in DECODE_BREAKDOWN_KEYS}
        busy = [zero, zero, zero]
    breakdown["prefill"] = np.zeros_like(b)
    total = pre.time_s + decode_total
    return ServingArrays(
        batch=b,
        ttft_s=pre.time_s,
        tpot_s=tpot,
        tokens_per_s=b * osl / total,
        prefill_s=pre.time_s,
        breakdown=breakdown,
        tensor_busy_s=busy[0],
        memory_busy_s=busy[1],
        network_busy_s=busy[2],
        prefill_busy_s=(pre.tensor_busy_s, pre.memory_busy_s, pre.network_busy_s),
    )


def continuous_serving(
    solver: ServingSolver, batch: Any, input_tokens: int, output_tokens: int
) -> ServingArrays:
    """Continuous (in-flight) batching at a steady state of ``batch`` requests per replica.

    Requests are at uniformly spread stages of generation, so a decode step
    attends to the mean context :math:`s_{in} + n/2` (attention work is a sum
    over sequences, so the mean is exact).  Each step also prefills, in
    chunks, the :math:`B/(n-1)` prompts that replace finished requests:

    .. math::

        \\text{TPOT} = t_{decode}(B, s_{in} + n/2) + \\frac{B}{n-1}\\, p_{req},
        \\qquad \\text{throughput} = \\frac{B\\, n}{(n-1)\\,\\text{TPOT}}

    with :math:`p_{req}` from :meth:`ServingSolver.prefill_per_request_s`
    (for :math:`n = 1` the throughput is :math:`1/p_{req}`).  A new request
    waits on average half a step, then runs its prefill in a step that also
    decodes the batch: :math:`\\text{TTFT} = \\text{TPOT}/2 +
    t_{prefill}(1, s_{in}) + t_{decode}(B)` (no queueing).
    """
    isl, osl = _check_lengths(input_tokens, output_tokens)
    b = np.atleast_1d(np.asarray(batch, dtype=float))
    p_req = solver.prefill_per_request_s(isl)
    alone = solver.prefill(np.array([1.0]), isl)
    step = solver.decode_step(b, np.full_like(b, isl + osl / 2.0))
    breakdown = dict(step.breakdown)
    if osl > 1:
        share = b / (osl - 1) * p_req
        tpot = step.time_s + share
        tps = b * osl / ((osl - 1) * tpot)
        ttft = tpot / 2.0 + float(alone.time_s[0]) + step.time_s
    else:
        share = np.zeros_like(b)
        tpot = np.zeros_like(b)
        tps = np.full_like(b, 1.0 / p_req)
        ttft = np.full_like(b, float(alone.time_s[0]))
        breakdown = {k: np.zeros_like(b) for k in DECODE_BREAKDOWN_KEYS}
    breakdown["prefill"] = share
    return ServingArrays(
        batch=b,
        ttft_s=ttft,
        tpot_s=tpot,
        tokens_per_s=tps,
        prefill_s=np.full_like(b, float(alone.time_s[0])),
        breakdown=breakdown,
        tensor_busy_s=step.tensor_busy_s,
        memory_busy_s=step.memory_busy_s,
        network_busy_s=step.network_busy_s,
        prefill_busy_s=tuple(
            np.full_like(b, float(x[0]))
            for x in (alone.tensor_busy_s, alone.memory_busy_s, alone.network_busy_s)
        ),  # type: ignore[arg-type]
    )
