"""``predict_inference`` and ``inference_sweep``: a served model -> latency, throughput, memory.

Orchestration only: the algorithms are the serving solver's
(:mod:`blackwell_model.solvers.serving`): :func:`static_serving` for an
integer batch, :func:`continuous_serving` at the largest batch that fits for
``batch=None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pint

from .._display import Display
from .._spec import as_part
from .._validate import check_instance
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.precision import Precision
from ..hardware.system import Cluster
from ..parallel.inference import InferenceLayout
from ..solvers.energy import EnergyReport, PowerModel, inference_energy
from ..solvers.serving import (
    DECODE_BREAKDOWN_KEYS,
    EngineLimits,
    InferenceEfficiency,
    InferenceMemoryModel,
    ServingArrays,
    ServingSolver,
    WeightFormat,
    continuous_serving,
    static_serving,
)
from ..solvers.speculation import Speculation, as_speculation
from ..units import Q_, format_quantity, parse_quantity, ureg
from ..workload import Transformer

__all__ = [
    "InferenceCurve",
    "InferenceMemory",
    "InferencePoint",
    "InferenceReport",
    "candidate_batches",
    "inference_sweep",
    "latency_bound_batch",
    "predict_inference",
]

_S = ureg.Unit("s")
_PER_S = ureg.Unit("1/s")
_B = ureg.Unit("B")


@attrs.frozen(kw_only=True)
class InferenceMemory:
    """Bytes on the busiest GPU of a deployment (floats in bytes).

    Parameters
    ----------
    weights_B
        Weights of the GPU's shard [B].
    kv_cache_B
        KV cache of the batch at full length [B].
    activations_B
        Activation workspace and logits [B].
    usable_B
        Bytes the model may use: capacity times ``memory_utilization`` [B].
    capacity_B
        HBM capacity [B].
    """

    weights_B: float
    kv_cache_B: float
    activations_B: float
    usable_B: float
    capacity_B: float

    @property
    def total_B(self) -> float:
        """Weights + KV cache + activations [B]."""
        return self.weights_B + self.kv_cache_B + self.activations_B

    @property
    def total(self) -> pint.Quantity:
        """:attr:`total_B` as a Quantity [B]."""
        return Q_(self.total_B, _B)

    @property
    def fits(self) -> bool:
        """True when :attr:`total_B` is within :attr:`usable_B`."""
        return self.total_B <= self.usable_B

    def as_dict(self) -> dict[str, pint.Quantity]:
        """Each part as a Quantity [B]."""
        return {
            "weights": Q_(self.weights_B, _B),
            "kv_cache": Q_(self.kv_cache_B, _B),
            "activations": Q_(self.activations_B, _B),
        }


@attrs.frozen(kw_only=True, repr=False)
class InferenceReport(Display):
    """Predicted latency, throughput and memory of a served model.

    Parameters
    ----------
    model_name, cluster_name
        What was predicted.
    layout
        The :class:`~blackwell_model.parallel.inference.InferenceLayout`.
    precision, kv_precision
        Weight/GEMM and KV-cache precisions.
    batch
        Concurrent sequences per replica (``dp`` replicas run in parallel).
    static
        True for a static batch (prefill all, decode all), False for
        continuous batching at the largest batch that fits.
    input_tokens, output_tokens
        Prompt and generated tokens per request [tokens].
    time_to_first_token
        TTFT [s].
    time_per_output_token
        Mean time between output tokens of one request [s].
    output_tokens_per_second
        Output tokens per second of the whole deployment [1/s].
    prefill_time
        The prefill pass behind the first token [s].
    decode_breakdown
        Part of :attr:`time_per_output_token` -> time [s] (keys
        :data:`~blackwell_model.solvers.serving.DECODE_BREAKDOWN_KEYS` and
        ``prefill``); the parts add up to it.
    decode_busy
        Fraction of a decode step the ``tensor`` units, the ``memory``
        (HBM) and the ``network`` links are busy: the activity factors the
        energy model turns into power.
    prefill_busy
        The same for the prefill pass.  With
        :func:`blackwell_model.solvers.energy.inference_energy`, the energy
        of a static batch is ``inference_energy(cluster, gpus=rep.gpus,
        output_tokens=rep.batch * rep.layout.dp * rep.output_tokens,
        prefill_s=rep.prefill_time.m, decode_s=rep.decode_time.m,
        prefill_compute=rep.prefill_busy["tensor"], prefill_memory=
        rep.prefill_busy["memory"], decode_compute=rep.decode_busy["tensor"],
        decode_memory=rep.decode_busy["memory"])``.
    memory
        :class:`InferenceMemory` of the busiest GPU.
    gpus
        GPUs of the deployment.
    energy
        :class:`~blackwell_model.solvers.energy.EnergyReport` of the
        deployment at this operating point (facility energy, PUE included):
        a whole static batch, or one steady-state decode step of continuous
        batching with its share of interleaved prefill.
    assumptions
        What the prediction assumed, as readable strings: weight format, KV
        precision (and whether it is the engine-like default), lengths,
        batch and what limited it, engine limits, latency targets, how
        shared rack infrastructure is charged.
    inputs
        What the report was predicted from (``model``, ``cluster``,
        ``efficiency``, ``memory``, ``power``), kept for :meth:`interval`,
        :meth:`evidence` and :meth:`sensitivity`; None for a report built by
        hand.  Not compared by ``==``.
    """

    model_name: str
    cluster_name: str
    layout: InferenceLayout
    precision: Precision
    kv_precision: Precision
    batch: int
    static: bool
    input_tokens: int
    output_tokens: int
    time_to_first_token: pint.Quantity
    time_per_output_token: pint.Quantity
    output_tokens_per_second: pint.Quantity
    prefill_time: pint.Quantity
    decode_breakdown: Mapping[str, pint.Quantity]
    decode_busy: Mapping[str, float]
    prefill_busy: Mapping[str, float]
    memory: InferenceMemory
    gpus: int
    energy: EnergyReport
    assumptions: Mapping[str, str] = attrs.field(factory=dict)
    inputs: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

    def interval(self, level: float = 0.8) -> Any:
        """Low/high TPOT, TTFT, throughput and energy per token at coverage ``level``.

        From the validation residuals of comparable measured cases; see
        :func:`blackwell_model.trust.prediction_interval`.
        """
        from ..trust.intervals import prediction_interval

        return prediction_interval(self, level)

    def evidence(self) -> Any:
        """Published measurements behind this prediction (:func:`blackwell_model.trust.evidence`)."""
        from ..trust.intervals import evidence

        return evidence(self)

    def sensitivity(self, **kwargs: Any) -> Any:
        """Elasticity of the throughput (or a latency) to each hardware figure and efficiency.

        See :func:`blackwell_model.trust.sensitivity` for the keyword arguments.
        """
        from ..trust.sensitivity import sensitivity

        return sensitivity(self, **kwargs)

    @property
    def energy_per_token(self) -> pint.Quantity:
        """Facility energy per output token, prefill included [J]."""
        return self.energy.energy_per_token

    @property
    def average_power(self) -> pint.Quantity:
        """Average facility power of the deployment while serving [W]."""
        return self.energy.average_power

    @property
    def output_tokens_per_second_per_gpu(self) -> pint.Quantity:
        """Output tokens per second per GPU [1/s]."""
        return self.output_tokens_per_second / self.gpus

    @property
    def tokens_per_second_per_user(self) -> pint.Quantity:
        """Output tokens per second one request sees, 1 / TPOT [1/s] (0 for one output token)."""
        t = float(self.time_per_output_token.m)
        return Q_(1.0 / t if t > 0 else 0.0, _PER_S)

    @property
    def decode_time(self) -> pint.Quantity:
        """Decode time of one request after its first token, ``(n - 1) * TPOT`` [s]."""
        return self.time_per_output_token * float(self.output_tokens - 1)

    @property
    def concurrent_requests(self) -> int:
        """Requests in flight in the whole deployment: ``batch * dp``."""
        return self.batch * self.layout.dp

    @property
    def memory_per_gpu(self) -> pint.Quantity:
        """Memory needed on the busiest GPU [B]."""
        return self.memory.total

    @property
    def fits(self) -> bool:
        """True if the batch fits in the usable memory."""
        return self.memory.fits

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary (floats in SI units)."""
        return {
            "model": self.model_name,
            "cluster": self.cluster_name,
            "layout": self.layout.to_dict(),
            "precision": self.precision.value,
            "kv_precision": self.kv_precision.value,
            "batch": self.batch,
            "static": self.static,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "gpus": self.gpus,
            "time_to_first_token_s": float(self.time_to_first_token.m),
            "time_per_output_token_s": float(self.time_per_output_token.m),
            "output_tokens_per_second": float(self.output_tokens_per_second.m),
            "output_tokens_per_second_per_gpu": float(self.output_tokens_per_second_per_gpu.m),
            "decode_breakdown_s": {k: float(v.m) for k, v in self.decode_breakdown.items()},
            "decode_busy": dict(self.decode_busy),
            "prefill_busy": dict(self.prefill_busy),
            "memory_B": {k: float(v.m) for k, v in self.memory.as_dict().items()},
            "energy_per_token_J": float(self.energy_per_token.m),
            "assumptions": dict(self.assumptions),
            "energy": self.energy.to_dict(),
        }

    def summary(self) -> str:
        """A readable multi-line summary."""
        lay = self.layout
        mode = "static batch" if self.static else "continuous batching"
        lines = [
            f"{self.model_name} on {self.cluster_name}: {self.gpus} GPUs, tp={lay.tp} "
            f"pp={lay.pp} ep={lay.ep} dp={lay.dp}, {self.precision.value} "
            f"(KV {self.kv_precision.value})",
            f"  {mode}, batch {self.batch} per replica, "
            f"{self.input_tokens} in / {self.output_tokens} out",
            f"  time to first token   {format_quantity(self.time_to_first_token)}",
            f"  time per output token {format_quantity(self.time_per_output_token)}",
            f"  output tokens/s       {self.output_tokens_per_second.m:,.0f} "
            f"({self.output_tokens_per_second_per_gpu.m:,.0f} per GPU)",
            f"  memory per GPU        {format_quantity(self.memory.total)} of "
            f"{format_quantity(Q_(self.memory.usable_B, _B))} usable",
            "  decode step:",
        ]
        tpot = float(self.time_per_output_token.m)
        for k, v in self.decode_breakdown.items():
            if v.m > 0 and tpot > 0:
                lines.append(f"    {k:<12} {format_quantity(v):>10}  {v.m / tpot:6.1%}")
        if self.assumptions:
            lines.append("  assumptions:")
            lines.extend(f"    {k:<12} {v}" for k, v in self.assumptions.items())
        return "\n".join(lines)


def _parse_args(
    model: Any, cluster: Any, layout: Any, input_tokens: Any, output_tokens: Any
) -> tuple[Any, int, int]:
    model = as_part(model, Transformer, "model", "model")
    check_instance(cluster, Cluster, "cluster")
    check_instance(layout, InferenceLayout, "layout")
    lengths = []
    for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise SpecError(f"{name} must be an integer >= 1 tokens, got {value!r}")
        lengths.append(int(value))
    return model, lengths[0], lengths[1]


def _solver(
    *,
    model: Any,
    cluster: Cluster,
    layout: InferenceLayout,
    precision: Any,
    kv_precision: Any,
    efficiency: InferenceEfficiency | None,
    memory: InferenceMemoryModel | None,
    solver: ServingSolver | None,
    limits: EngineLimits | None = None,
    speculation: Speculation | None = None,
) -> ServingSolver:
    if solver is not None:
        check_instance(solver, ServingSolver, "solver", "a ServingSolver or None")
        for name, given, built in (
            ("model", model, solver.model),
            ("cluster", cluster, solver.cluster),
            ("layout", layout, solver.layout),
        ):
            if given is not built and given != built:
                label = getattr(built, "name", None) or built
                raise SpecError(
                    f"solver was built for another {name} ({label}); pass the same {name} "
                    f"or leave solver out"
                )
        if Precision.parse(precision) is not solver.precision:
            raise SpecError(
                f"solver was built for precision {solver.precision.value!r}, got "
                f"precision={Precision.parse(precision).value!r}"
            )
        if speculation is not None and speculation != solver.spec:
            raise SpecError(
                "solver was built for another speculation; pass the same speculation or "
                "leave solver out"
            )
        return solver
    return ServingSolver(
        model,
        cluster,
        layout,
        precision,
        kv_precision,
        efficiency=efficiency,
        memory=memory,
        limits=limits,
        speculation=speculation,
    )


def _max_batch_or_raise(s: ServingSolver, isl: int, osl: int) -> int:
    best = s.operating_batch(isl, osl)
    if best == 0:
        s.check_fits(1, isl, osl)  # raises with the bytes needed and available
    return best


def _target_s(value: Any, name: str) -> float | None:
    if value is None:
        return None
    return float(parse_quantity(value, "s", name=name).m)


def candidate_batches(top: int, dense_up_to: int = 8192, points: int = 512) -> np.ndarray:
    """Batches searched for a latency target: every integer up to ``top`` (or a dense grid).

    Every integer from 1 to ``top`` when ``top <= dense_up_to``; beyond, the
    integers up to 64 and ``points`` geometrically spaced ones up to ``top``.
    """
    if top <= dense_up_to:
        return np.arange(1.0, top + 1.0)
    grid = np.unique(np.round(np.geomspace(64.0, float(top), points)))
    return np.unique(np.concatenate([np.arange(1.0, 65.0), grid]))


def latency_bound_batch(
    s: ServingSolver,
    top: int,
    isl: int,
    osl: int,
    *,
    max_tpot_s: float | None = None,
    max_ttft_s: float | None = None,
) -> int:
    """Highest-throughput continuous-batching batch up to ``top`` meeting the latency targets.

    Evaluates :func:`~blackwell_model.solvers.serving.continuous_serving` at
    :func:`candidate_batches` and keeps those with TPOT <= ``max_tpot_s``
    and TTFT <= ``max_ttft_s``.

    Raises
    ------
    InfeasibleLayoutError
        Rule ``"latency"`` when not even a batch of one meets them, with the
        fastest point's latencies.
    """
    b = candidate_batches(top)
    res = continuous_serving(s, b, isl, osl)
    ok = np.ones(b.shape, dtype=bool)
    wanted = []
    if max_tpot_s is not None:
        ok &= res.tpot_s <= max_tpot_s
        wanted.append(f"time per output token <= {format_quantity(Q_(max_tpot_s, _S))}")
    if max_ttft_s is not None:
        ok &= res.ttft_s <= max_ttft_s
        wanted.append(f"time to first token <= {format_quantity(Q_(max_ttft_s, _S))}")
    if not ok.any():
        i = int(np.argmin(res.tpot_s))
        lay = s.layout
        raise InfeasibleLayoutError(
            "latency",
            f"{s.model.name} with tp={lay.tp} pp={lay.pp} ep={lay.ep} dp={lay.dp} on "
            f"{s.cluster.name}: no batch meets {' and '.join(wanted)}; the fastest point "
            f"(batch {int(b[i])}) has time per output token "
            f"{format_quantity(Q_(float(res.tpot_s[i]), _S))} and time to first token "
            f"{format_quantity(Q_(float(res.ttft_s[i]), _S))}",
        )
    idx = np.flatnonzero(ok)
    return int(b[idx[np.argmax(res.tokens_per_s[idx])]])


def predict_inference(
    model: Any,
    cluster: Cluster,
    layout: InferenceLayout,
    *,
    batch: int | None = None,
    input_tokens: int,
    output_tokens: int,
    precision: Precision | WeightFormat | str = Precision.BF16,
    kv_precision: Precision | str | None = None,
    efficiency: InferenceEfficiency | None = None,
    memory: InferenceMemoryModel | None = None,
    check_memory: bool = True,
    solver: ServingSolver | None = None,
    power: PowerModel | None = None,
    continuous: bool = False,
    limits: EngineLimits | None = None,
    max_tpot: pint.Quantity | str | None = None,
    max_ttft: pint.Quantity | str | None = None,
    charge: str = "gpus",
    speculation: Speculation | str | None = None,
) -> InferenceReport:
    """Predict time to first token, time per output token, throughput and memory of serving.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` (or catalog name).
    cluster
        A :class:`~blackwell_model.hardware.Cluster` with at least
        ``layout.gpus`` GPUs.
    layout
        The :class:`~blackwell_model.parallel.inference.InferenceLayout`.
    batch
        Concurrent sequences per replica.  An integer is a **static** batch
        (all prompts prefilled together, then decoded to the end, as
        offline benchmarks measure).  ``None`` is the throughput-optimal
        operating point: **continuous batching** with the largest batch the
        memory and the engine ``limits`` allow, and the latency targets
        ``max_tpot`` / ``max_ttft`` meet.  With ``continuous=True`` an
        integer batch is served by continuous batching too.
    input_tokens, output_tokens
        Prompt and generated tokens per request [tokens], each >= 1.
    precision
        Weight and GEMM precision (``"bf16"``, ``"fp16"``, ``"fp8"``,
        ``"fp4"``) or a mixed
        :class:`~blackwell_model.solvers.serving_params.WeightFormat` (or its
        name, e.g. ``"mxfp4-w4a16"``, ``"nvfp4-experts"``).
    kv_precision
        KV-cache precision; ``None`` is the engine-like default
        (:func:`~blackwell_model.solvers.serving.default_kv_precision`: FP8
        for 8-bit-or-narrower serving on parts with FP8, else the activation
        precision), stated in :attr:`InferenceReport.assumptions`.
    efficiency
        :class:`~blackwell_model.solvers.serving.InferenceEfficiency`.
    memory
        :class:`~blackwell_model.solvers.serving.InferenceMemoryModel`.
    check_memory
        Raise when an integer ``batch`` does not fit (False: return the
        report; :attr:`InferenceReport.fits` tells).
    solver
        A :class:`~blackwell_model.solvers.serving.ServingSolver` to reuse
        its caches (it must be for the same model, cluster, layout and
        precisions; the other arguments are then ignored).
    power
        :class:`~blackwell_model.solvers.energy.PowerModel` for
        :attr:`InferenceReport.energy`; the documented defaults when omitted.
    continuous
        Serve an integer ``batch`` with continuous batching instead of as
        one static batch (ignored for ``batch=None``, which is continuous).
    limits
        :class:`~blackwell_model.solvers.serving_params.EngineLimits` of the
        engine (``max_batch_size``, ``max_num_tokens``, CUDA-graph sizes).
    max_tpot, max_ttft
        Latency targets for ``batch=None`` [s] (``"30 ms"``): the operating
        batch is the highest-throughput one that meets them.
    charge
        ``"gpus"`` (default): shared rack infrastructure (NVLink switch
        trays) is charged in proportion to the GPUs used; ``"racks"``:
        whole racks.
    speculation
        Decode by speculative steps: a
        :class:`~blackwell_model.solvers.speculation.Speculation` or its
        text form (``"mtp:k=3,alpha=0.7"``); stated in
        :attr:`InferenceReport.assumptions`.  The time per output token is
        the speculative step over the mean accepted tokens per step, and
        the ``draft`` part of :attr:`InferenceReport.decode_breakdown` is
        the drafting.  ``None`` (default): one token per step.

    Returns
    -------
    InferenceReport

    Raises
    ------
    SpecError
        A length or batch below 1, or arguments of the wrong type.
    InfeasibleLayoutError
        The layout does not divide the model or needs more GPUs than the
        cluster has (``rule`` names which), the batch (or, for
        ``batch=None``, a batch of one) does not fit in memory (rule
        ``"memory"``, with the bytes needed and available), or no batch
        meets the latency targets (rule ``"latency"``).
    UnsupportedPrecisionError
        The accelerator has no peak at ``precision`` (FP8 on A100).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> from blackwell_model.parallel.inference import InferenceLayout
    >>> model = bm.catalog.model("llama3-70b")
    >>> cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    >>> rep = predict_inference(model, cluster, InferenceLayout(tp=8), batch=64,
    ...                         input_tokens=1000, output_tokens=1000, precision="fp8")
    >>> rep.time_per_output_token < rep.time_to_first_token * 10
    True
    >>> fast = predict_inference(model, cluster, InferenceLayout(tp=8), input_tokens=1000,
    ...                          output_tokens=1000, precision="fp8", max_tpot="30 ms")
    >>> fast.time_per_output_token.m <= 0.030
    True
    """
    model, isl, osl = _parse_args(model, cluster, layout, input_tokens, output_tokens)
    tpot_lim = _target_s(max_tpot, "max_tpot")
    ttft_lim = _target_s(max_ttft, "max_ttft")
    s = _solver(
        model=model,
        cluster=cluster,
        layout=layout,
        precision=precision,
        kv_precision=kv_precision,
        efficiency=efficiency,
        memory=memory,
        solver=solver,
        limits=limits,
        speculation=as_speculation(speculation),
    )
    limited_by = ""
    if batch is None:
        top = _max_batch_or_raise(s, isl, osl)
        limited_by = _batch_limit(s, top, isl, osl)
        b = top
        if tpot_lim is not None or ttft_lim is not None:
            b = latency_bound_batch(s, top, isl, osl, max_tpot_s=tpot_lim, max_ttft_s=ttft_lim)
            if b < top:
                limited_by = "latency target"
        res = continuous_serving(s, b, isl, osl)
        static = False
    else:
        if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1:
            raise SpecError(
                f"batch must be an integer >= 1 sequences or None (the largest that fits), "
                f"got {batch!r}"
            )
        b = int(batch)
        limited_by = "given"
        if check_memory:
            s.check_fits(b, isl, osl)
        if continuous:
            res = continuous_serving(s, b, isl, osl)
            static = False
        else:
            res = static_serving(s, b, isl, osl)
            static = True
    assumptions = _assumptions(
        s,
        precision_given=precision,
        kv_given=kv_precision,
        isl=isl,
        osl=osl,
        b=b,
        limited_by=limited_by,
        static=static,
        targets=(tpot_lim, ttft_lim),
        charge=charge,
    )
    return _report(
        model=model,
        cluster=cluster,
        layout=layout,
        s=s,
        res=res,
        b=b,
        static=static,
        isl=isl,
        osl=osl,
        power=power,
        charge=charge,
        assumptions=assumptions,
    )


def _batch_limit(s: ServingSolver, top: int, isl: int, osl: int) -> str:
    lim = s.limits
    if lim.max_batch_size is not None and top == lim.max_batch_size:
        return f"max_batch_size {lim.max_batch_size}"
    spec = s.spec
    tok = lim.token_limited_batch(
        isl,
        osl,
        verify_tokens=1 if spec is None else spec.verify_tokens,
        tokens_per_step=s.tokens_per_step,
    )
    if tok is not None and top == tok:
        return f"max_num_tokens {lim.max_num_tokens}"
    return "KV-cache memory"


def _assumptions(
    s: ServingSolver,
    *,
    precision_given: Any,
    kv_given: Any,
    isl: int,
    osl: int,
    b: int,
    limited_by: str,
    static: bool,
    targets: tuple[float | None, float | None],
    charge: str,
) -> dict[str, str]:
    fmt = s.format
    if fmt.experts is fmt.dense and fmt.expert_compute is fmt.dense:
        weights = fmt.dense.value
    else:
        weights = (
            f"{fmt.name}: dense/attention {fmt.dense.value}, experts {fmt.experts.value} "
            f"({fmt.expert_bytes * 8:.2f} bits with block scales) computing in "
            f"{fmt.expert_compute.value}"
        )
    kv = s.kv.value + (" (engine-like default)" if kv_given is None else "")
    lim = s.limits
    engine = []
    if lim.max_batch_size is not None:
        engine.append(f"max_batch_size {lim.max_batch_size}")
    engine.append(f"max_num_tokens {s.chunk_tokens}")
    if lim.cuda_graph_batch_sizes:
        engine.append(f"CUDA graphs up to batch {max(lim.cuda_graph_batch_sizes)} (padded)")
    if s.mem.kv_cache_fraction is not None:
        engine.append(f"KV cache {s.mem.kv_cache_fraction:.0%} of free memory")
    else:
        engine.append(f"memory utilisation {s.mem.memory_utilization:.0%}")
    out = {
        "weights": weights,
        "kv_cache": kv,
        "lengths": f"{isl} in / {osl} out tokens",
        "batch": f"{b} per replica ({'static' if static else 'continuous'}; {limited_by})",
        "engine": ", ".join(engine),
        "energy": (
            "shared rack switches charged per GPU used"
            if charge == "gpus"
            else "whole racks charged (switch trays of every occupied domain)"
        ),
    }
    tpot, ttft = targets
    if tpot is not None or ttft is not None:
        parts = []
        if tpot is not None:
            parts.append(f"TPOT <= {format_quantity(Q_(tpot, _S))}")
        if ttft is not None:
            parts.append(f"TTFT <= {format_quantity(Q_(ttft, _S))}")
        out["targets"] = ", ".join(parts)
    if s.spec is not None:
        out["speculation"] = s.spec.describe()
    return out


def _report(
    *,
    model: Any,
    cluster: Cluster,
    layout: InferenceLayout,
    s: ServingSolver,
    res: ServingArrays,
    b: int,
    static: bool,
    isl: int,
    osl: int,
    power: PowerModel | None = None,
    charge: str = "gpus",
    assumptions: Mapping[str, str] | None = None,
) -> InferenceReport:
    parts = s.memory_parts(float(b), isl, osl)
    mem = InferenceMemory(
        weights_B=float(parts["weights"]),
        kv_cache_B=float(parts["kv_cache"]),
        activations_B=float(parts["activations"]),
        usable_B=s.usable_B,
        capacity_B=s.capacity_B,
    )
    tpot = float(res.tpot_s[0])
    step = tpot if tpot > 0 else 1.0
    pre = float(res.prefill_s[0]) or 1.0
    keys = (*DECODE_BREAKDOWN_KEYS, "prefill")
    decode_busy = {
        "tensor": min(1.0, float(res.tensor_busy_s[0]) / step),
        "memory": min(1.0, float(res.memory_busy_s[0]) / step),
        "network": min(1.0, float(res.network_busy_s[0]) / step),
    }
    prefill_busy = {
        k: min(1.0, float(x[0]) / pre)
        for k, x in zip(("tensor", "memory", "network"), res.prefill_busy_s, strict=True)
    }
    breakdown = {k: Q_(float(res.breakdown[k][0]), _S) for k in keys}
    if static:
        prefill_s = float(res.prefill_s[0])
        decode_s = tpot * (osl - 1)
        produced = float(b * layout.dp * osl)
    else:
        prefill_s = float(breakdown["prefill"].m) if "prefill" in breakdown else 0.0
        decode_s = tpot - prefill_s
        produced = float(res.tokens_per_s[0]) * layout.dp * tpot
    energy = inference_energy(
        cluster,
        gpus=layout.gpus,
        output_tokens=produced,
        prefill_s=prefill_s,
        decode_s=max(decode_s, 0.0),
        prefill_compute=prefill_busy["tensor"],
        prefill_memory=prefill_busy["memory"],
        decode_compute=decode_busy["tensor"],
        decode_memory=decode_busy["memory"],
        power=power,
        charge=charge,
    )
    return InferenceReport(
        model_name=model.name,
        cluster_name=cluster.name,
        layout=layout,
        precision=s.precision,
        kv_precision=s.kv,
        batch=b,
        static=static,
        input_tokens=isl,
        output_tokens=osl,
        time_to_first_token=Q_(float(res.ttft_s[0]), _S),
        time_per_output_token=Q_(tpot, _S),
        output_tokens_per_second=Q_(float(res.tokens_per_s[0]) * layout.dp, _PER_S),
        prefill_time=Q_(float(res.prefill_s[0]), _S),
        decode_breakdown=breakdown,
        decode_busy=decode_busy,
        prefill_busy=prefill_busy,
        memory=mem,
        gpus=layout.gpus,
        energy=energy,
        assumptions=dict(assumptions or {}),
        inputs={
            "phase": "serving",
            "model": model,
            "cluster": cluster,
            "efficiency": s.eff,
            "memory": s.mem,
            "power": power,
        },
    )


# --------------------------------------------------------------------------- sweeps
@attrs.frozen(kw_only=True)
class InferencePoint:
    """One operating point of an :class:`InferenceCurve`.

    Parameters
    ----------
    batch
        Concurrent sequences per replica.
    time_to_first_token, time_per_output_token
        Latencies [s].
    tokens_per_second_per_user
        1 / TPOT [1/s].
    tokens_per_second_per_gpu
        Output tokens per second per GPU [1/s].
    memory_per_gpu
        Bytes needed on the busiest GPU [B].
    """

    batch: int
    time_to_first_token: pint.Quantity
    time_per_output_token: pint.Quantity
    tokens_per_second_per_user: pint.Quantity
    tokens_per_second_per_gpu: pint.Quantity
    memory_per_gpu: pint.Quantity


def _eq_arrays(a: Any, b: Any) -> bool:
    return bool(np.array_equal(a, b))


@attrs.frozen(kw_only=True, eq=False, repr=False)
class InferenceCurve(Display):
    """Latency/throughput curve of one deployment over batches (floats in SI units).

    Parameters
    ----------
    batch
        Batches per replica, increasing [sequences].
    ttft_s
        Time to first token [s].
    tpot_s
        Time per output token [s].
    tokens_per_second_per_user
        1 / TPOT [1/s].
    tokens_per_second_per_gpu
        Output tokens per second per GPU [1/s].
    memory_per_gpu_B
        Bytes needed on the busiest GPU [B].
    max_batch
        Largest batch that fits (the last point of a default sweep).
    static
        True for static batches, False for continuous batching.
    """

    batch: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    tokens_per_second_per_user: np.ndarray
    tokens_per_second_per_gpu: np.ndarray
    memory_per_gpu_B: np.ndarray
    max_batch: int
    static: bool

    def _text(self) -> str:
        mode = "static batches" if self.static else "continuous batching"
        lines = [
            f"latency/throughput curve, {mode}, {len(self.batch)} points up to batch "
            f"{self.max_batch}",
            f"  {'batch':>6} {'TTFT':>10} {'TPOT':>10} {'tok/s/user':>11} {'tok/s/GPU':>10}",
        ]
        for b, t, p, u, g in zip(
            self.batch,
            self.ttft_s,
            self.tpot_s,
            self.tokens_per_second_per_user,
            self.tokens_per_second_per_gpu,
            strict=True,
        ):
            lines.append(
                f"  {int(b):>6} {t * 1e3:>8.1f}ms {p * 1e3:>8.2f}ms {u:>11,.1f} {g:>10,.0f}"
            )
        return "\n".join(lines)

    def _records(self) -> list[dict[str, Any]]:
        return [
            {
                "batch": int(b),
                "ttft_s": float(t),
                "tpot_s": float(p),
                "tokens_per_second_per_user": float(u),
                "tokens_per_second_per_gpu": float(g),
            }
            for b, t, p, u, g in zip(
                self.batch,
                self.ttft_s,
                self.tpot_s,
                self.tokens_per_second_per_user,
                self.tokens_per_second_per_gpu,
                strict=True,
            )
        ]

    def __len__(self) -> int:
        return int(self.batch.size)

    def point(self, index: int) -> InferencePoint:
        """The operating point at ``index`` with Quantities."""
        i = int(index)
        return InferencePoint(
            batch=int(self.batch[i]),
            time_to_first_token=Q_(float(self.ttft_s[i]), _S),
            time_per_output_token=Q_(float(self.tpot_s[i]), _S),
            tokens_per_second_per_user=Q_(float(self.tokens_per_second_per_user[i]), _PER_S),
            tokens_per_second_per_gpu=Q_(float(self.tokens_per_second_per_gpu[i]), _PER_S),
            memory_per_gpu=Q_(float(self.memory_per_gpu_B[i]), _B),
        )

    def best_under(
        self,
        latency: pint.Quantity | str | None = None,
        *,
        ttft: pint.Quantity | str | None = None,
        tpot: pint.Quantity | str | None = None,
        min_tokens_per_second_per_user: pint.Quantity | str | float | None = None,
    ) -> InferencePoint:
        """The highest-throughput point meeting latency targets.

        Parameters
        ----------
        latency
            Largest time per output token, e.g. ``"50 ms"`` [s].
        ttft
            Largest time to first token [s].
        tpot
            The same as ``latency`` (give one of them).
        min_tokens_per_second_per_user
            Smallest tokens per second per user [1/s] (``"20 1/s"`` or a
            number); the same as ``latency = 1 / value``.

        Raises
        ------
        InfeasibleLayoutError
            If no point meets the targets (rule ``"latency"``), with the
            fastest point's values.
        """
        ok = np.ones(self.batch.shape, dtype=bool)
        wanted = []
        if tpot is not None:
            if latency is not None:
                raise SpecError("give latency or tpot, not both")
            latency = tpot
        if latency is not None:
            lim = parse_quantity(latency, "s", name="latency").m
            ok &= self.tpot_s <= lim
            wanted.append(f"time per output token <= {format_quantity(Q_(lim, _S))}")
        if ttft is not None:
            lim_t = parse_quantity(ttft, "s", name="ttft").m
            ok &= self.ttft_s <= lim_t
            wanted.append(f"time to first token <= {format_quantity(Q_(lim_t, _S))}")
        if min_tokens_per_second_per_user is not None:
            v = min_tokens_per_second_per_user
            rate = (
                float(v)
                if isinstance(v, int | float)
                else parse_quantity(v, "1/s", name="min_tokens_per_second_per_user").m
            )
            ok &= self.tokens_per_second_per_user >= rate
            wanted.append(f"tokens/s per user >= {rate:g}")
        if not ok.any():
            i = int(np.argmin(self.tpot_s))
            raise InfeasibleLayoutError(
                "latency",
                f"no batch meets {' and '.join(wanted)}; the fastest point (batch "
                f"{int(self.batch[i])}) has time per output token "
                f"{format_quantity(Q_(float(self.tpot_s[i]), _S))} and time to first token "
                f"{format_quantity(Q_(float(self.ttft_s[i]), _S))}",
            )
        idx = np.flatnonzero(ok)
        return self.point(int(idx[np.argmax(self.tokens_per_second_per_gpu[idx])]))


def inference_sweep(
    model: Any,
    cluster: Cluster,
    layout: InferenceLayout,
    *,
    input_tokens: int,
    output_tokens: int,
    precision: Precision | str = Precision.BF16,
    kv_precision: Precision | str | None = None,
    batches: Any = None,
    static: bool = False,
    points: int = 48,
    efficiency: InferenceEfficiency | None = None,
    memory: InferenceMemoryModel | None = None,
    solver: ServingSolver | None = None,
    speculation: Speculation | str | None = None,
) -> InferenceCurve:
    """The latency/throughput curve of a deployment over batch sizes.

    Parameters
    ----------
    model, cluster, layout, input_tokens, output_tokens, precision, kv_precision
        As for :func:`predict_inference`.
    batches
        Batches per replica to evaluate (integers >= 1); default ``points``
        batches spread geometrically from 1 to the largest that fits.
    static
        Static batches instead of continuous batching.
    points
        Points of the default sweep.
    efficiency, memory, solver, speculation
        As for :func:`predict_inference`.

    Returns
    -------
    InferenceCurve
        Use :meth:`InferenceCurve.best_under` to pick an operating point
        under a latency target.

    Raises
    ------
    InfeasibleLayoutError
        As :func:`predict_inference` (also when not even a batch of one fits).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> from blackwell_model.parallel.inference import InferenceLayout
    >>> curve = inference_sweep(bm.catalog.model("llama3-8b"),
    ...                         bm.catalog.cluster("DGX-H100", gpus=8), InferenceLayout(tp=1),
    ...                         input_tokens=1000, output_tokens=1000, precision="fp8")
    >>> point = curve.best_under(latency="30 ms")
    >>> point.time_per_output_token.m <= 0.030
    True
    """
    model, isl, osl = _parse_args(model, cluster, layout, input_tokens, output_tokens)
    s = _solver(
        model=model,
        cluster=cluster,
        layout=layout,
        precision=precision,
        kv_precision=kv_precision,
        efficiency=efficiency,
        memory=memory,
        solver=solver,
        speculation=as_speculation(speculation),
    )
    top = _max_batch_or_raise(s, isl, osl)
    if batches is None:
        if isinstance(points, bool) or not isinstance(points, int) or points < 2:
            raise SpecError(f"points must be an integer >= 2, got {points!r}")
        b = np.unique(np.round(np.geomspace(1.0, float(top), points)))
    else:
        b = np.asarray(batches, dtype=float).ravel()
        if b.size == 0 or not np.all(np.isfinite(b)) or np.any(b < 1) or np.any(b != np.round(b)):
            raise SpecError(f"batches must be integers >= 1 sequences, got {batches!r}")
        b = np.unique(b)
    res = (static_serving if static else continuous_serving)(s, b, isl, osl)
    tpot = res.tpot_s
    with np.errstate(divide="ignore"):
        per_user = np.where(tpot > 0, 1.0 / np.where(tpot > 0, tpot, 1.0), 0.0)
    return InferenceCurve(
        batch=b.astype(np.int64),
        ttft_s=res.ttft_s,
        tpot_s=tpot,
        tokens_per_second_per_user=per_user,
        tokens_per_second_per_gpu=res.tokens_per_s * layout.dp / layout.gpus,
        memory_per_gpu_B=s.memory_needed_B(b, isl, osl),
        max_batch=top,
        static=bool(static),
    )
