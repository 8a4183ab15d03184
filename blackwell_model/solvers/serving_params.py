"""Documented parameters of the serving model: efficiencies, memory, engine limits, formats.

The serving solver (:mod:`~blackwell_model.solvers.serving`) reads four
groups of plain, frozen parameters:

* :class:`InferenceEfficiency`: kernel and collective efficiencies and the
  few time constants only inference needs (per-step and per-request host
  time, expert load imbalance, communication overlap);
* :class:`InferenceMemoryModel`: how much of the HBM the weights, KV cache
  and activations may use;
* :class:`EngineLimits`: the scheduler limits serving engines expose
  (``max_batch_size``, ``max_num_tokens``, the KV-cache fraction, the
  CUDA-graph batch sizes), which set the operating batch as much as memory
  does;
* :class:`WeightFormat`: the precision of each layer group (attention and
  dense layers vs routed experts), with block scales counted, for
  mixed-precision checkpoints (NVFP4/MXFP4 experts, W4A16/W4A8 modes).

Named bundles of these for an engine and era are in
:mod:`~blackwell_model.solvers.serving_presets`.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._spec import bool_field
from .._validate import check_instance
from ..errors import SpecError, UnknownNameError
from ..hardware.precision import Precision
from ..units import finite_non_negative, fraction
from ._efficiency import DEFAULT_EFFICIENCY, Efficiency
from .collectives import CollectiveEfficiency

__all__ = [
    "BLACKWELL_GEMM_CEILINGS",
    "NO_GEMM_CEILINGS",
    "TRTLLM_LEGACY",
    "WEIGHT_FORMATS",
    "EngineLimits",
    "GemmCeilings",
    "InferenceEfficiency",
    "InferenceMemoryModel",
    "WeightFormat",
    "gemm_ceilings_for",
    "weight_format",
]

_FRACTION = fraction()
_OPEN_FRACTION = fraction(open_low=True)


def _positive_int(inst: Any, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{attribute.name} must be an integer >= 1, got {value!r}")


def _optional_positive_int(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if value is not None:
        _positive_int(inst, attribute, value)


def _optional_fraction(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if value is not None:
        _OPEN_FRACTION(inst, attribute, value)


@attrs.frozen(kw_only=True)
class GemmCeilings:
    """Measured large-GEMM ceilings of narrow precisions on one GPU generation.

    The GEMM shape model (:meth:`Efficiency.gemm
    <blackwell_model.solvers.Efficiency.gemm>`) scales a single ceiling,
    ``gemm_max``, by tile, wave and reduction factors.  On Hopper an FP8 GEMM
    reaches the same share of its doubled peak as a BF16 one (DeepGEMM,
    0.69-0.78 of the 1,979 TFLOP/s dense peak), so one ceiling serves every
    precision.  On Blackwell (SM100) the published kernel tables do not: the
    tensor cores double or quadruple their rate at FP8 and FP4 while operand
    delivery, block-scale loads and the power-limited clock do not, and a
    large GEMM sustains a smaller share of the peak the narrower it is.  A
    field set here replaces ``gemm_max`` for GEMMs *computing* in that
    precision (the shape factors still apply) and supersedes
    :attr:`InferenceEfficiency.narrow_gemm` for it.

    Parameters
    ----------
    name
        Label shown in reprs and docs.
    fp8
        Ceiling of FP8 GEMMs [fraction of the dense FP8 peak]; ``None``:
        ``gemm_max x narrow_gemm``.
    fp6
        The same for FP6 GEMMs.
    fp4
        The same for FP4 (NVFP4/MXFP4) GEMMs.

    Examples
    --------
    >>> from blackwell_model.hardware.precision import Precision
    >>> BLACKWELL_GEMM_CEILINGS.ceiling(Precision.FP4)
    0.44
    >>> NO_GEMM_CEILINGS.ceiling(Precision.FP4) is None
    True
    """

    name: str = ""
    fp8: float | None = attrs.field(default=None, validator=_optional_fraction)
    fp6: float | None = attrs.field(default=None, validator=_optional_fraction)
    fp4: float | None = attrs.field(default=None, validator=_optional_fraction)

    def ceiling(self, precision: Precision) -> float | None:
        """The ceiling for GEMMs computing in ``precision`` [fraction], or ``None``."""
        if precision is Precision.FP8:
            return self.fp8
        if precision is Precision.FP6:
            return self.fp6
        if precision is Precision.FP4:
            return self.fp4
        return None

    def factor(self, precision: Precision, gemm_max: float, narrow_gemm: float) -> float:
        """Multiplier on the shape model's fraction for GEMMs in ``precision`` [dimensionless].

        ``ceiling / gemm_max`` where a ceiling is set; else ``narrow_gemm``
        for precisions narrower than 16 bits and 1 otherwise.
        """
        c = self.ceiling(precision)
        if c is not None:
            return c / gemm_max
        return narrow_gemm if precision.bytes < 2.0 else 1.0


#: No measured ceilings: every precision uses the roofline's ``gemm_max``
#: (times ``narrow_gemm`` below 16 bits), the behaviour on Ampere and Hopper.
NO_GEMM_CEILINGS: GemmCeilings = GemmCeilings(name="none")

#: Blackwell (SM100: B200, GB200; applied to the NVLink 5 family, B300/GB300
#: included, for lack of SM103 tables).  Each ceiling is the published kernel
#: throughput divided by the dense peak and by the shape model's tile, wave and
#: reduction factors at the published shape:
#:
#: * ``fp4`` 0.44: NVFP4 GEMM on B200, m=1024, n=7168, k=4608: 3,370 TFLOP/s
#:   with FlashInfer's CUTLASS backend, 2,976 with cuDNN (flashinfer-ai/flashinfer
#:   PR #1979, "On SM100 (B200)"), 0.374 of the 9,000 TFLOP/s dense peak over a
#:   shape factor of 0.853; vLLM's CUTLASS NVFP4 GEMM on SM100 at n=6144,
#:   k=4096 and m = 4,096-16,384: 3,646-3,904 TFLOP/s without activation
#:   quantisation (vllm-project/vllm PR #20646), 0.405-0.434 over 0.973.
#: * ``fp8`` 0.58: vLLM's CUTLASS FP8 GEMM on B200 at n=6144, k=4096,
#:   m=16,384: 2,545 TFLOP/s per-tensor scaled, 2,447 per-channel
#:   (vllm-project/vllm PR #19566), 0.566 of 4,500 over 0.973; the GB200 FP8
#:   GEMM micro-benchmark of Azure ND GB200 v6 sustains 2,744 of 5,000 TFLOP/s
#:   (0.549; hardware_specs.md section 21).
#: * BF16 keeps the roofline's 0.70: torch BF16 GEMMs in the same vLLM tables
#:   reach 1,360-1,513 TFLOP/s (0.60-0.67 of 2,250, within 12 %).
BLACKWELL_GEMM_CEILINGS: GemmCeilings = GemmCeilings(name="blackwell", fp8=0.58, fp4=0.44)


def gemm_ceilings_for(accelerator: Any) -> GemmCeilings:
    """The measured GEMM ceilings of an accelerator's generation.

    Parameters
    ----------
    accelerator
        An :class:`~blackwell_model.hardware.Accelerator`.

    Returns
    -------
    GemmCeilings
        :data:`BLACKWELL_GEMM_CEILINGS` for parts on NVLink 5 or later (the
        generation is read from the scale-up link's *name*, as
        :func:`~blackwell_model.solvers.efficiency_for` does, so a what-if on
        peaks or bandwidth never switches it), else :data:`NO_GEMM_CEILINGS`.
    """
    from .collectives import BLACKWELL, efficiency_for

    if efficiency_for(accelerator) is BLACKWELL:
        return BLACKWELL_GEMM_CEILINGS
    return NO_GEMM_CEILINGS


def _ceilings(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    check_instance(value, (GemmCeilings, type(None)), attribute.name, "a GemmCeilings or None")


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
        Kernel efficiencies (GEMM shape model, attention, HBM).  Its
        ``overhead_s`` is the fixed time of every kernel of a decode step
        [s]: small with CUDA graphs, several µs per launch without.
    collectives
        Collective bus efficiencies and latencies; ``None`` picks the preset
        of the accelerator's NVLink generation
        (:func:`~blackwell_model.solvers.efficiency_for`).
    narrow_gemm
        Factor on the GEMM compute fraction for weights narrower than 16 bits
        (FP8, FP6, FP4, INT8) [fraction].  Narrow-precision GEMMs reach a
        smaller share of their doubled peak: quantising activations, scaling
        epilogues and less mature kernels.  Calibrated: 0.80 (TensorRT-LLM
        0.5/0.6, FP8 on H100).  Not applied to a precision with a measured
        ceiling in ``gemm_ceilings``.
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
    host_per_request_s
        Host (CPU) time per request in the batch per iteration [s]:
        scheduling, input preparation and sampler bookkeeping of a Python
        executor.  Default 0 (a C++ runtime).
    host_per_step_s
        Fixed host time per iteration [s].  Default 0.
    host_overlap
        True when the engine prepares the next iteration while the GPU runs
        the current one (TensorRT-LLM's overlap scheduler, vLLM's async
        scheduling): a step takes ``max(gpu, host)``.  False: ``gpu + host``.
    expert_load_cv
        Coefficient of variation of expert popularity in served traffic
        [dimensionless]: the busiest expert-parallel rank computes
        :func:`~blackwell_model.workload.moe.expert_load_factor` times the
        mean rank's routed tokens, and every rank waits for it at the
        combine.  Default 0 (multinomial noise only).
    dispatch_fp8
        Expert-parallel dispatch sends FP8 tokens when the expert GEMMs run
        at 8 bits or fewer (DeepEP, TensorRT-LLM); the combine returns BF16.
        Default True.
    grouped_min_tile
        Fewest rows of a grouped (MoE) GEMM tile [rows]: MoE kernels size
        their row tile to the tokens per expert, ``max(16, min(next_pow2(m),
        128))`` in Triton's ``matmul_ogs`` (triton-lang/triton
        python/triton_kernels opt_flags), so a decode step with a few tokens
        per expert wastes less than a fixed 64-row tile.  ``None``: the
        roofline's ``tile_m``.
    gemm_ceilings
        Measured large-GEMM ceilings per narrow precision
        (:class:`GemmCeilings`); ``None`` picks the accelerator generation's
        (:func:`gemm_ceilings_for`: :data:`BLACKWELL_GEMM_CEILINGS` on
        Blackwell, none on Ampere and Hopper).  Pass
        :data:`NO_GEMM_CEILINGS` to use ``gemm_max`` and ``narrow_gemm``
        everywhere (e.g. after fitting them to your own GEMM sweep).

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
    host_per_request_s: float = attrs.field(default=0.0, validator=finite_non_negative)
    host_per_step_s: float = attrs.field(default=0.0, validator=finite_non_negative)
    host_overlap: bool = bool_field(default=True)
    expert_load_cv: float = attrs.field(default=0.0, validator=finite_non_negative)
    dispatch_fp8: bool = bool_field(default=True)
    grouped_min_tile: int | None = attrs.field(default=None, validator=_optional_positive_int)
    gemm_ceilings: GemmCeilings | None = attrs.field(default=None, validator=_ceilings)


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
        [tokens].  Default 8192.  :attr:`EngineLimits.max_num_tokens`, when
        set, takes its place.
    logits_bytes
        Bytes per logit kept for sampling [B] (FP32: 4).
    kv_cache_fraction
        ``None``: the KV cache may use whatever the weights and activations
        leave of ``memory_utilization``.  A fraction: the KV cache gets that
        share of the memory left after the weights and activations
        (TensorRT-LLM's ``kv_cache_free_gpu_mem_fraction``, 0.9 by default,
        0.95 in NVIDIA's published throughput runs) [fraction].
    """

    memory_utilization: float = attrs.field(default=0.95, validator=_OPEN_FRACTION)
    prefill_chunk_tokens: int = attrs.field(default=8192, validator=_positive_int)
    logits_bytes: float = attrs.field(default=4.0, validator=finite_non_negative)
    kv_cache_fraction: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_OPEN_FRACTION)
    )


def _graph_sizes(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        sizes = tuple(sorted({int(v) for v in value}))
    except (TypeError, ValueError):
        raise SpecError(
            f"cuda_graph_batch_sizes must be integers >= 1 or None, got {value!r}"
        ) from None
    if not sizes or sizes[0] < 1 or any(float(v) != int(v) for v in value):
        raise SpecError(f"cuda_graph_batch_sizes must be integers >= 1 or None, got {value!r}")
    return sizes


@attrs.frozen(kw_only=True)
class EngineLimits:
    """Scheduler limits of a serving engine: they set the operating batch with memory.

    Parameters
    ----------
    max_batch_size
        Most requests one replica (attention group) schedules at once
        (TensorRT-LLM ``max_batch_size``, vLLM ``max_num_seqs``); ``None``:
        no limit but memory [requests].
    max_num_tokens
        Most tokens one forward pass processes, decode tokens and prefill
        chunks together (TensorRT-LLM ``max_num_tokens``, vLLM
        ``max_num_batched_tokens``) [tokens].  Continuous batching must
        prefill :math:`B s_{in}/(n-1)` prompt tokens per step beside its
        :math:`B` decode tokens, so a batch is sustainable only if
        :math:`B (1 + s_{in}/(n-1)) \\le` ``max_num_tokens``.  It also sizes
        the activation workspace.  ``None``: the memory model's
        ``prefill_chunk_tokens``.
    cuda_graph_batch_sizes
        Batch sizes with a captured CUDA graph; a decode step of ``B``
        requests runs the graph of the smallest captured size ``>= B``
        (padding, as TensorRT-LLM's ``enable_padding`` and vLLM do), so its
        GEMMs and element-wise kernels work on the padded batch (attention
        only on the real requests).  ``None``: no padding.  A batch above the
        largest size is not padded.
    attention_dp_imbalance
        With attention data parallelism, each rank admits its own new
        requests, so a step waits for the rank with the most prefill work
        (:func:`~blackwell_model.solvers.serving_modes.prefill_imbalance`).
        Default False: new requests are spread over the ranks together
        (TensorRT-LLM fetches new requests for all attention-DP ranks at once
        and assigns them by load; ``attention_dp_config: enable_balance``
        aligns them further).

    Examples
    --------
    >>> lim = EngineLimits(max_batch_size=256, cuda_graph_batch_sizes=(1, 2, 4, 8, 64, 256))
    >>> lim.padded_batch(65)
    256
    """

    max_batch_size: int | None = attrs.field(default=None, validator=_optional_positive_int)
    max_num_tokens: int | None = attrs.field(default=None, validator=_optional_positive_int)
    cuda_graph_batch_sizes: tuple[int, ...] | None = attrs.field(
        default=None, converter=_graph_sizes
    )
    attention_dp_imbalance: bool = bool_field(default=False)

    def padded_batch(self, batch: int) -> int:
        """The batch a decode step of ``batch`` requests runs at (its CUDA graph's size)."""
        sizes = self.cuda_graph_batch_sizes
        if not sizes:
            return int(batch)
        if self.max_batch_size is not None:
            sizes = (*(s for s in sizes if s <= self.max_batch_size), self.max_batch_size)
        for s in sorted(sizes):
            if s >= batch:
                return int(s)
        return int(batch)

    def token_limited_batch(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        verify_tokens: int = 1,
        tokens_per_step: float = 1.0,
    ) -> int | None:
        """Largest batch whose decode tokens and prefill chunks fit ``max_num_tokens``.

        ``floor(max_num_tokens / (q + tau * input_tokens / (output_tokens - 1)))``
        (at least 1); ``None`` without a token limit.  ``verify_tokens``
        :math:`q` is the tokens each sequence runs per step (:math:`k + 1`
        with speculative decoding) and ``tokens_per_step`` :math:`\\tau` the
        tokens it yields (requests finish, and are replaced, :math:`\\tau`
        times sooner); both 1 without speculation.
        """
        if self.max_num_tokens is None:
            return None
        if output_tokens <= 1:
            return max(1, self.max_num_tokens // max(input_tokens, 1))
        per = verify_tokens + tokens_per_step * input_tokens / (output_tokens - 1.0)
        return max(1, int(self.max_num_tokens / per))


def _parse_precision(value: Any) -> Precision:
    return Precision.parse(value)


@attrs.frozen(kw_only=True)
class WeightFormat:
    """Precision of each layer group of a checkpoint, with block scales counted.

    Parameters
    ----------
    name
        Label shown in reports.
    dense
        Weights and GEMMs of attention (MLA included), dense MLPs, shared
        experts, router and LM head.
    experts
        Storage precision of the routed experts' weights.
    expert_compute
        Precision the expert GEMMs compute in (the activation side):
        ``bf16`` for W4A16 (weights dequantised in the kernel, the MXFP4
        path of Hopper), ``fp8`` for W4A8, ``fp4`` for W4A4 (NVFP4 on
        Blackwell).
    expert_block
        Elements per block scale of the expert weights (32 for MXFP4, 16 for
        NVFP4; 0: per-tensor scales only).
    dense_block
        The same for the ``dense`` weights when they are 4-bit.
    scale_bytes
        Bytes per block scale (1: E8M0 for MX formats, E4M3 for NVFP4) [B].

    Examples
    --------
    >>> f = weight_format("mxfp4-w4a16")
    >>> f.expert_bytes  # 4 bits + one 8-bit scale per 32 elements
    0.53125
    """

    name: str
    dense: Precision = attrs.field(converter=_parse_precision)
    experts: Precision = attrs.field(converter=_parse_precision)
    expert_compute: Precision = attrs.field(converter=_parse_precision)
    expert_block: int = attrs.field(default=0)
    dense_block: int = attrs.field(default=0)
    scale_bytes: float = attrs.field(default=1.0, validator=finite_non_negative)

    @property
    def expert_bytes(self) -> float:
        """Bytes per routed-expert weight, block scales included [B]."""
        extra = self.scale_bytes / self.expert_block if self.expert_block else 0.0
        return self.experts.bytes + extra

    @property
    def dense_bytes(self) -> float:
        """Bytes per dense/attention weight, block scales included [B]."""
        extra = self.scale_bytes / self.dense_block if self.dense_block else 0.0
        return self.dense.bytes + extra

    @classmethod
    def uniform(cls, precision: Precision | str) -> WeightFormat:
        """Every layer group in ``precision`` (the experts computing in it too)."""
        p = Precision.parse(precision)
        block = 16 if p is Precision.FP4 else 0
        return cls(
            name=p.value, dense=p, experts=p, expert_compute=p, expert_block=block,
            dense_block=block,
        )  # fmt: skip


#: Named mixed-precision formats (``weight_format(name)``).  Block sizes: OCP
#: Microscaling spec v1.0 (MXFP4: 32 FP4 E2M1 values share one E8M0 scale);
#: NVIDIA Blackwell NVFP4 (16 values share one FP8 E4M3 scale, plus a
#: per-tensor FP32 scale, not counted).
WEIGHT_FORMATS: dict[str, WeightFormat] = {
    # GPT-OSS on Hopper: MXFP4 experts dequantised to BF16 in the MoE kernel
    # (Triton matmul_ogs), attention in BF16
    "mxfp4-w4a16": WeightFormat(
        name="mxfp4-w4a16", dense="bf16", experts="fp4", expert_compute="bf16", expert_block=32
    ),
    # MXFP4 experts with FP8 activations (W4A8), attention in FP8
    "mxfp4-w4a8": WeightFormat(
        name="mxfp4-w4a8", dense="fp8", experts="fp4", expert_compute="fp8", expert_block=32
    ),
    # Blackwell MXFP4 experts computing in FP4, attention in BF16 (GPT-OSS checkpoints)
    "mxfp4": WeightFormat(
        name="mxfp4", dense="bf16", experts="fp4", expert_compute="fp4", expert_block=32
    ),
    # NVFP4 experts with FP8 attention/MLA and dense layers (NVIDIA's DeepSeek-R1
    # FP4 checkpoints quantise the MoE GEMMs only)
    "nvfp4-experts": WeightFormat(
        name="nvfp4-experts", dense="fp8", experts="fp4", expert_compute="fp4", expert_block=16
    ),
    # every linear layer in NVFP4
    "nvfp4": WeightFormat(
        name="nvfp4",
        dense="fp4",
        experts="fp4",
        expert_compute="fp4",
        expert_block=16,
        dense_block=16,
    ),
}


def weight_format(value: WeightFormat | Precision | str) -> WeightFormat:
    """A :class:`WeightFormat` from a name in :data:`WEIGHT_FORMATS` or a precision.

    Raises
    ------
    UnknownNameError
        If ``value`` is neither a format name nor a precision.
    """
    if isinstance(value, WeightFormat):
        return value
    if isinstance(value, str) and value.strip().lower() in WEIGHT_FORMATS:
        return WEIGHT_FORMATS[value.strip().lower()]
    try:
        return WeightFormat.uniform(value)
    except UnknownNameError:
        valid = sorted(WEIGHT_FORMATS) + [p.value for p in Precision]
        raise UnknownNameError("precision", str(value), valid) from None
