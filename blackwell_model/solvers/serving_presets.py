"""Named serving-engine presets: an engine and era's documented behaviour, as data.

A preset bundles the :class:`~blackwell_model.solvers.serving_params.InferenceEfficiency`,
:class:`~blackwell_model.solvers.serving_params.InferenceMemoryModel` and the
rule that gives the :class:`~blackwell_model.solvers.serving_params.EngineLimits`
of one serving engine release.  Validation applies a preset to *every* case of
its era (no per-case factors); users pick one to predict what an engine would
deliver.

* ``"trtllm-0.6"``: TensorRT-LLM 0.5-0.9 C++ runtime, static batches
  (``gptSessionBenchmark``), the masked multi-head attention kernel for
  grouped-query attention (:data:`~blackwell_model.solvers.serving_params.TRTLLM_LEGACY`).
* ``"trtllm-pytorch-2025"``: TensorRT-LLM's PyTorch backend (releases
  0.19-1.x, 2025) as run by ``trtllm-bench throughput`` for NVIDIA's
  performance overview: in-flight batching with the ``GUARANTEED_NO_EVICT``
  scheduler, CUDA graphs captured at the batch sizes of the published
  ``llm_options.yml`` with padding, the overlap scheduler, KV cache 95 % of
  the memory free after the weights, and the ``max_batch_size`` /
  ``max_num_tokens`` of :func:`trtllm_bench_limits`.

Every number is cited where it is defined.
"""

from __future__ import annotations

import math

import attrs

from .._spec import bool_field
from ..errors import SpecError, UnknownNameError
from ._efficiency import DEFAULT_EFFICIENCY
from .serving_params import (
    TRTLLM_LEGACY,
    EngineLimits,
    InferenceEfficiency,
    InferenceMemoryModel,
)

__all__ = [
    "SERVING_PRESETS",
    "TRTLLM_CUDA_GRAPH_BATCHES",
    "ServingPreset",
    "serving_preset",
    "trtllm_bench_limits",
]

#: CUDA-graph batch sizes of NVIDIA's published ``llm_options.yml`` for every
#: model of the TensorRT-LLM performance overview (``cuda_graph_config:
#: enable_padding: true, batch_sizes: [...]``; NVIDIA/TensorRT-LLM
#: docs/source/developer-guide/perf-overview.md @ 03e27c7).
TRTLLM_CUDA_GRAPH_BATCHES: tuple[int, ...] = (
    1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192,
)  # fmt: skip

_GIB = float(2**30)


def trtllm_bench_limits(
    *,
    layers: int,
    kv_heads: int,
    head_size: int,
    checkpoint_elements: float,
    bytes_per_element: float,
    kv_bytes: float,
    tp: int,
    pp: int,
    input_tokens: int,
    output_tokens: int,
    device_memory_bytes: float,
    kv_fraction: float = 0.95,
    attention_dp_imbalance: bool = False,
) -> EngineLimits:
    """``max_batch_size`` and ``max_num_tokens`` as ``trtllm-bench`` sets them.

    ``trtllm-bench throughput`` without explicit limits sizes them from the
    model's config (NVIDIA/TensorRT-LLM ``tensorrt_llm/bench/build/tuning.py``,
    ``calc_engine_setting`` and ``finetune_setting`` @ 04cba88):

    .. math::

        R = \\frac{f\\,(n M - W)}{2 L \\max(tp, h_{kv})\\, d\\, b_{kv} (s_{in} + s_{out})},
        \\qquad r = \\min(R, 4096) / pp

    with ``n = tp * pp`` GPUs of memory ``M``, the checkpoint's ``W`` bytes
    (stored elements times ``bytes_per_element``: 1 for FP8, 0.5 for NVFP4,
    2 for anything the tool's table lacks, MXFP4 included), then rounded up
    optimistically: ``max_batch_size`` is ``max(64, 32 ceil(r/32))`` below
    256, ``128 ceil(r/128)`` below 1024, else ``256 ceil(r/256)``;
    ``max_num_tokens`` from :math:`\\min(r (1 + s_{in}/s_{out}), 32768)`
    rounded up to 256 (at least 2048) below 4096, 512 below 8192, else 1024.

    Parameters
    ----------
    layers, kv_heads, head_size
        ``num_hidden_layers``, ``num_key_value_heads`` and ``head_dim`` as the
        Hugging Face config gives them (an MLA model's config has no
        ``head_dim``: ``hidden / heads``, with ``num_key_value_heads =
        heads``).
    checkpoint_elements
        Elements stored in the checkpoint's safetensors (packed 4-bit formats
        count two values per element).
    bytes_per_element
        The tool's bytes per element for the checkpoint's ``quant_algo``.
    kv_bytes
        The tool's bytes per KV element (1 when the checkpoint declares an
        FP8 KV cache, else 2).
    tp, pp
        Tensor (or attention-DP x EP) and pipeline sizes given to the tool.
    input_tokens, output_tokens
        Target lengths [tokens].
    device_memory_bytes
        One GPU's memory [B] (``torch.cuda.mem_get_info`` total).
    kv_fraction
        ``--kv_cache_free_gpu_mem_fraction`` (0.95 in the published runs).
    attention_dp_imbalance
        See :attr:`~blackwell_model.solvers.serving_params.EngineLimits.attention_dp_imbalance`.

    Returns
    -------
    EngineLimits
        With :data:`TRTLLM_CUDA_GRAPH_BATCHES`.

    Raises
    ------
    SpecError
        If the checkpoint does not fit the GPUs at all.

    Examples
    --------
    >>> lim = trtllm_bench_limits(layers=80, kv_heads=8, head_size=128,
    ...     checkpoint_elements=70.6e9, bytes_per_element=1.0, kv_bytes=1.0, tp=2, pp=1,
    ...     input_tokens=1000, output_tokens=1000, device_memory_bytes=143771 * 2**20)
    >>> lim.max_batch_size, lim.max_num_tokens
    (768, 2048)
    """
    n = tp * pp
    engine = checkpoint_elements * bytes_per_element / _GIB
    available = device_memory_bytes / _GIB * n - engine
    if available <= 0:
        raise SpecError(
            f"checkpoint_elements: {engine:.1f} GiB of weights do not fit {n} GPUs of "
            f"{device_memory_bytes / _GIB:.1f} GiB"
        )
    per_token = 2.0 * layers * max(tp, kv_heads) * head_size * kv_bytes / _GIB
    requests = kv_fraction * available / (per_token * (input_tokens + output_tokens))
    raw_bs = min(requests, 4096.0) / pp
    if raw_bs < 256:
        bs = max(64, 32 * math.ceil(raw_bs / 32))
    elif raw_bs < 1024:
        bs = 128 * math.ceil(raw_bs / 128)
    else:
        bs = 256 * math.ceil(raw_bs / 256)
    raw_tok = min(raw_bs * (1.0 + input_tokens / output_tokens), 32768.0)
    if raw_tok < 4096:
        tok = max(2048, 256 * math.ceil(raw_tok / 256))
    elif raw_tok < 8192:
        tok = 512 * math.ceil(raw_tok / 512)
    else:
        tok = 1024 * math.ceil(raw_tok / 1024)
    return EngineLimits(
        max_batch_size=int(bs),
        max_num_tokens=int(tok),
        cuda_graph_batch_sizes=TRTLLM_CUDA_GRAPH_BATCHES,
        attention_dp_imbalance=attention_dp_imbalance,
    )


@attrs.frozen(kw_only=True)
class ServingPreset:
    """A serving engine release's documented behaviour.

    Parameters
    ----------
    name
        Registry name (``"trtllm-pytorch-2025"``).
    description
        What engine, release and benchmark it stands for.
    efficiency
        :class:`~blackwell_model.solvers.serving_params.InferenceEfficiency`.
    memory
        :class:`~blackwell_model.solvers.serving_params.InferenceMemoryModel`.
    limits
        Default :class:`~blackwell_model.solvers.serving_params.EngineLimits`
        (``None``: none); a benchmark tool that derives them per run (such
        as :func:`trtllm_bench_limits`) overrides them.
    static
        True when the engine's published numbers are static batches.
    """

    name: str
    description: str
    efficiency: InferenceEfficiency
    memory: InferenceMemoryModel = attrs.field(factory=InferenceMemoryModel)
    limits: EngineLimits | None = None
    static: bool = bool_field(default=False)


#: Calibrated on the 13 public 2025 cases by
#: :func:`blackwell_model.validation.inference.calibrate_serving_2025` (the
#: test suite checks the fit reproduces them): the time every kernel of a
#: CUDA-graph decode step costs beyond its roofline (launch gap, ramp-up and
#: tail of small kernels) [s] and the expert-popularity spread of the
#: benchmark's random-token prompts.
_KERNEL_OVERHEAD_2025_S = 8.0e-6
_EXPERT_LOAD_CV_2025 = 3.0

#: TensorRT-LLM's PyTorch backend, 2025.  Sources per value:
#:
#: * ``narrow_gemm`` 1.0: FP8 GEMMs reach the same share of their (doubled)
#:   peak as BF16 ones: DeepGEMM's FP8 dense GEMMs on H800 run at 1,358-1,550
#:   TFLOP/s for the DeepSeek-V3 shapes, 0.69-0.78 of the 1,979 dense peak
#:   (deepseek-ai/DeepGEMM README @ 55ab91f), the 0.70 ``gemm_max`` of BF16.
#: * ``host_per_request_s`` 29 µs: the PyTorch executor's host step is
#:   45.11 ms per iteration at 1,536 requests per rank (GPT-OSS-120B on
#:   GB200, ADP2; NVIDIA/TensorRT-LLM PR #10273), i.e. 29.4 µs per request.
#: * ``host_overlap``: the overlap scheduler (default on) prepares iteration
#:   n+1 during iteration n.
#: * ``grouped_min_tile`` 16: MoE kernels size their row tile to the tokens
#:   per expert, at least 16 rows (Triton ``matmul_ogs`` opt_flags, the
#:   Hopper MoE backend of GPT-OSS).
#: * ``roofline.overhead_s`` and ``expert_load_cv``: calibrated (above).
#: * ``prefill_overhead_s`` 0: prompts are prefilled inside the running
#:   iterations (chunked prefill), their setup is part of the host time.
#: * memory: ``kv_cache_free_gpu_mem_fraction`` 0.95 ("we also use a higher
#:   KV cache percentage by setting 0.95", perf-overview.md @ 03e27c7) of the
#:   memory left after the weights and the activation workspace;
#:   ``memory_utilization`` 0.98 leaves ~2.8 GB of a 141 GB H200 to the CUDA
#:   context and NCCL buffers.
TRTLLM_PYTORCH_2025 = ServingPreset(
    name="trtllm-pytorch-2025",
    description=(
        "TensorRT-LLM PyTorch backend (0.19-1.x, 2025), trtllm-bench throughput: in-flight "
        "batching, GUARANTEED_NO_EVICT, CUDA graphs with padding, overlap scheduler"
    ),
    efficiency=InferenceEfficiency(
        roofline=attrs.evolve(DEFAULT_EFFICIENCY, overhead_s=_KERNEL_OVERHEAD_2025_S),
        narrow_gemm=1.0,
        prefill_overhead_s=0.0,
        host_per_request_s=29.4e-6,
        host_overlap=True,
        grouped_min_tile=16,
        expert_load_cv=_EXPERT_LOAD_CV_2025,
    ),
    memory=InferenceMemoryModel(memory_utilization=0.98, kv_cache_fraction=0.95),
    limits=EngineLimits(cuda_graph_batch_sizes=TRTLLM_CUDA_GRAPH_BATCHES),
)

#: TensorRT-LLM 0.5-0.9 (C++ runtime, static-batch gptSessionBenchmark).
TRTLLM_06 = ServingPreset(
    name="trtllm-0.6",
    description=(
        "TensorRT-LLM 0.5-0.9 C++ runtime, gptSessionBenchmark static batches, masked MHA "
        "decode attention for grouped-query models"
    ),
    efficiency=TRTLLM_LEGACY,
    static=True,
)

#: Named presets (:func:`serving_preset`).
SERVING_PRESETS: dict[str, ServingPreset] = {p.name: p for p in (TRTLLM_06, TRTLLM_PYTORCH_2025)}


def serving_preset(name: str | ServingPreset) -> ServingPreset:
    """The :class:`ServingPreset` called ``name`` (see :data:`SERVING_PRESETS`).

    Raises
    ------
    UnknownNameError
        Listing the valid names.

    Examples
    --------
    >>> serving_preset("trtllm-pytorch-2025").efficiency.narrow_gemm
    1.0
    """
    if isinstance(name, ServingPreset):
        return name
    found = SERVING_PRESETS.get(str(name).strip().lower())
    if found is None:
        raise UnknownNameError("serving preset", str(name), sorted(SERVING_PRESETS))
    return found
