"""Inference validation: the published serving measurements, mapped to predictions.

The public cases (``data/public_cases.json``, phases
``infer-offline-static-batch`` and ``infer-latency``) are TensorRT-LLM 0.5 and
0.6.1 results from NVIDIA's performance table on H100 SXM (FP8) and A100 SXM
(FP16): static-batch output throughput (``gptSessionBenchmark``, in-flight
batching off) and batch-1 time to first token.  :func:`inference_cases`
maps each to a model, a cluster, a layout and a measured value;
:func:`evaluate_inference` predicts them; :func:`calibrate_inference` refits
the calibrated parameters of
:class:`~blackwell_model.solvers.serving.InferenceEfficiency` reproducibly;
:func:`inference_table_rst` writes the table of ``docs/inference.rst``.

Reading of the cases
--------------------
* Throughput is output tokens per second **per GPU**: the H100 column says
  so; the A100 column header says "out tok/s" and is read the same way (the
  LLaMA 7B and GPT-J rows run on one GPU, and a whole-deployment reading of
  the LLaMA 70B TP4 rows would make an FP8 H100 16x faster than an FP16 A100
  per GPU).
* Throughput is ``batch * output_tokens`` over the whole run, prefill
  included (``gptSessionBenchmark``): :func:`~blackwell_model.solvers.serving.static_serving`.
* H100 rows are FP8 weights and GEMMs with an FP8 KV cache (the TTFT rows
  say "FP8": FP8 weights, BF16 cache); A100 rows are FP16.
* TensorRT-LLM 0.5/0.6 decoded grouped-query attention with the masked
  multi-head attention kernel, which reads the cache once per query head:
  these cases run with :data:`~blackwell_model.solvers.serving.TRTLLM_LEGACY`
  (``grouped_kv_reads=False``).  This is a property of the framework
  version, the same for every case; there are no per-case factors.
* Cases are predicted with the memory check on; a published batch the
  memory model rejected would still be predicted and marked as not fitting
  in the table (a model defect; none is today).

The 2025 cases (phase ``infer-offline-max-throughput``) are NVIDIA's
TensorRT-LLM performance overview on H200 (``trtllm-bench throughput``,
PyTorch backend, all requests queued, fixed lengths; output tokens per
second per GPU).  They are predicted with the
:data:`~blackwell_model.solvers.serving_presets.TRTLLM_PYTORCH_2025` preset,
the same for every case:

* continuous batching at the batch the engine reaches: the smallest of the
  KV-cache memory (95 % of what the weights and workspace leave), the
  ``max_batch_size`` and ``max_num_tokens`` ``trtllm-bench`` derives from
  the model config (:func:`~blackwell_model.solvers.serving_presets.trtllm_bench_limits`),
  with decode steps padded to the published CUDA-graph batch sizes;
* the checkpoints of the overview's model list: NVIDIA ModelOpt FP8
  checkpoints (Llama 3.3 70B, Llama 3.1 405B, Qwen3-235B, Llama 4
  Maverick), which declare an FP8 KV cache, ``deepseek-ai/DeepSeek-R1-0528``
  (FP8 block-scaled weights; ``kv_cache_config: dtype: fp8`` in its
  ``llm_options.yml``) and ``openai/gpt-oss-120b`` (MXFP4 experts, BF16
  attention), which on Hopper runs the Triton MoE backend as W4A16 with a
  BF16 KV cache ("Hopper: use auto");
* attention data parallel plus expert parallel for "DEP" rows
  (``InferenceLayout(tp=1, dp=ep, ep=ep)``).

The three older Llama 3.1 405B rows come from an earlier revision of the
overview whose column reads "Total Output Throughput (tokens/sec)"; they are
read as the whole 8-GPU deployment's throughput (a per-GPU reading would
put an FP8 405B model at 3,330 tokens/s per H200, faster per GPU than the
70B model on the same page).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any

import attrs
import numpy as np

from ..errors import InfeasibleLayoutError, SpecError
from ..parallel.inference import InferenceLayout
from ..solvers.serving import TRTLLM_LEGACY, InferenceEfficiency
from ..solvers.serving_presets import TRTLLM_PYTORCH_2025, trtllm_bench_limits

__all__ = [
    "CALIBRATION_GRID_2025",
    "INFERENCE_PHASES",
    "CalibrationResult",
    "InferenceCase",
    "InferenceCaseResult",
    "calibrate_inference",
    "calibrate_serving_2025",
    "evaluate_inference",
    "inference_cases",
    "inference_table_rst",
    "median_abs_error",
    "median_signed_error",
]

#: Phases of ``public_cases.json`` that are inference measurements.
INFERENCE_PHASES: tuple[str, ...] = (
    "infer-offline-static-batch",
    "infer-latency",
    "infer-offline-max-throughput",
)

_MODELS = {
    "LLaMA 70B": "llama2-70b",
    "LLaMA 7B": "llama2-7b",
    "GPT-J 6B": "gpt-j-6b",
    "Falcon 180B": "falcon-180b",
    "Llama 3.3 70B": "llama3-70b",
    "Llama 3.1 405B": "llama3-405b",
    "DeepSeek-R1-0528": "deepseek-v3",
    "Qwen3-235B-A22B": "qwen3-235b-a22b",
    "Llama 4 Maverick": "llama4-maverick",
    "GPT-OSS-120B": "gpt-oss-120b",
}
_CLUSTERS = {"H100-SXM5-80GB": "DGX-H100", "A100-SXM4-80GB": "DGX-A100", "H200": "DGX-H200"}

#: The checkpoint each 2025 TensorRT-LLM row serves (perf-overview.md @ 03e27c7
#: "FP8 Models"; GPT-OSS from the model's own repository): weight format,
#: whether its ``hf_quant_config.json`` declares an FP8 KV cache (ModelOpt
#: exports ``kv_cache_quant_algo: FP8``) and the KV dtype the run used.
_CHECKPOINTS_2025: dict[str, tuple[str, bool, str]] = {
    "llama3-70b": ("fp8", True, "fp8"),  # nvidia/Llama-3.3-70B-Instruct-FP8
    "llama3-405b": ("fp8", True, "fp8"),  # nvidia/Llama-3.1-405B-Instruct-FP8
    "qwen3-235b-a22b": ("fp8", True, "fp8"),  # nvidia/Qwen3-235B-A22B-FP8
    "llama4-maverick": ("fp8", True, "fp8"),  # nvidia/Llama-4-Maverick-...-FP8
    "deepseek-v3": ("fp8", False, "fp8"),  # deepseek-ai/DeepSeek-R1-0528, kv dtype fp8
    "gpt-oss-120b": ("mxfp4-w4a16", False, "bf16"),  # openai/gpt-oss-120b, Hopper: auto
}


@attrs.frozen(kw_only=True)
class InferenceCase:
    """One published inference measurement, mapped to what the model needs.

    Parameters
    ----------
    id
        Case id in ``public_cases.json``.
    metric
        ``"throughput"`` (output tokens/s per GPU, static batch) or
        ``"ttft"`` (time to first token [s]).
    measured
        The published value (tokens/s per GPU, or seconds).
    model, system
        Catalog names of the model and of the scale-up system.
    gpus
        GPUs of the deployment.
    layout
        The :class:`~blackwell_model.parallel.inference.InferenceLayout`.
    batch, input_tokens, output_tokens
        Static batch (``None`` for a max-throughput run: continuous batching
        at the batch the engine reaches) and lengths [sequences, tokens].
    precision, kv_precision
        Weight/GEMM precision or weight-format name and KV-cache precision
        (``kv_precision`` may be ``None``: the engine-like default).
    framework
        As published (``"TensorRT-LLM v0.6.1 gptSessionBenchmark"``).
    limits
        :class:`~blackwell_model.solvers.serving_params.EngineLimits` of the
        run (``None`` for static batches).
    """

    id: str
    metric: str
    measured: float
    model: str
    system: str
    gpus: int
    layout: InferenceLayout
    batch: int | None
    input_tokens: int
    output_tokens: int
    precision: str
    kv_precision: str | None
    framework: str
    limits: Any = None

    @property
    def era_2025(self) -> bool:
        """True for the 2025 TensorRT-LLM PyTorch-backend runs."""
        return "PyTorch backend" in self.framework

    @property
    def moe(self) -> bool:
        """True when the served model is a mixture of experts."""
        from .. import catalog

        return bool(catalog.model(self.model).is_moe)

    def efficiency(self, base: InferenceEfficiency | None = None) -> InferenceEfficiency:
        """The efficiency preset of the case's framework version (from ``base``).

        The 2025 cases use
        :data:`~blackwell_model.solvers.serving_presets.TRTLLM_PYTORCH_2025`
        (``base`` is then ignored: its parameters are the preset's).
        """
        if self.era_2025:
            return TRTLLM_PYTORCH_2025.efficiency
        legacy = re.search(r"TensorRT-LLM v?0\.([0-9]+)", self.framework)
        base = base if base is not None else InferenceEfficiency()
        if legacy and int(legacy.group(1)) < 10:
            return attrs.evolve(base, grouped_kv_reads=TRTLLM_LEGACY.grouped_kv_reads)
        return base


def _load_raw() -> list[dict[str, Any]]:
    text = resources.files("blackwell_model.validation").joinpath("data/public_cases.json")
    return list(json.loads(text.read_text(encoding="utf-8")))


def _ints(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", text)]


def _map_2025(raw: dict[str, Any], model: str, system: str) -> InferenceCase:
    from .. import catalog

    m = catalog.model(model)
    fmt, declares_fp8_kv, kv = _CHECKPOINTS_2025[model]
    isl, osl = (int(x) for x in re.search(r"(\d+)/(\d+)", raw["seq"]).groups())  # type: ignore[union-attr]
    tp, ep = int(raw["tp"]), int(raw["ep"])
    dp = _ints(str(raw["dp"]))[0]
    gpus = int(raw["gpus"])
    meas = raw["measured"]
    if "output_tokens_per_s_per_GPU" in meas:
        value = float(meas["output_tokens_per_s_per_GPU"])
    else:  # "Total Output Throughput": the whole deployment
        value = float(meas["output_tokens_per_s"]) / gpus
    # trtllm-bench's view of the checkpoint: HF config heads (MLA configs carry
    # no head_dim: hidden / heads, num_key_value_heads = heads) and the stored
    # elements (MXFP4 packs two values per byte plus one scale per 32)
    mla = m.attention_kind.value == "mla"
    kv_heads = m.heads if mla else m.n_kv_heads
    head = m.hidden // m.heads if mla else m.qk_dim
    if fmt == "fp8":
        elements, per_elem = float(m.total_params), 1.0
    else:
        experts = float(m.experts * m.expert_params * m.n_moe_layers)
        elements = float(m.total_params) - experts + experts / 2.0 + experts / 32.0
        per_elem = 2.0
    acc = catalog.cluster(system, gpus=8).accelerator
    limits = trtllm_bench_limits(
        layers=m.layers, kv_heads=kv_heads, head_size=head, checkpoint_elements=elements,
        bytes_per_element=per_elem, kv_bytes=1.0 if declares_fp8_kv else 2.0,
        tp=tp * dp if ep > 1 else tp, pp=int(raw["pp"]), input_tokens=isl, output_tokens=osl,
        device_memory_bytes=float(acc.memory_capacity.m),
    )  # fmt: skip
    return InferenceCase(
        id=raw["id"],
        metric="throughput",
        measured=value,
        model=model,
        system=system,
        gpus=gpus,
        layout=InferenceLayout(tp=tp, pp=int(raw["pp"]), ep=ep, dp=dp),
        batch=None,
        input_tokens=isl,
        output_tokens=osl,
        precision=fmt,
        kv_precision=kv,
        framework=raw["framework"],
        limits=limits,
    )


def _map(raw: dict[str, Any]) -> InferenceCase:
    model = _MODELS.get(raw["model"])
    system = _CLUSTERS.get(raw["hw"])
    if model is None or system is None:
        raise SpecError(
            f"case {raw['id']!r}: no mapping for model {raw['model']!r} on {raw['hw']!r}"
        )
    if raw["phase"] == "infer-offline-max-throughput":
        return _map_2025(raw, model, system)
    h100 = raw["hw"].startswith("H100")
    prec = raw["precision"]
    precision = "fp8" if "FP8" in prec else "fp16"
    # "FP8" alone: FP8 weights, BF16 cache (TensorRT-LLM 0.5)
    kv = "fp8" if re.search(r"FP8 KV", prec) else ("bf16" if precision == "fp8" else None)
    seq = raw["seq"]
    isl = int(re.search(r"ISL (\d+)", seq).group(1))  # type: ignore[union-attr]
    osl_m = re.search(r"OSL (\d+)", seq)
    osl = int(osl_m.group(1)) if osl_m else 1
    batch = _ints(raw["gbs"])[0]
    meas = raw["measured"]
    if raw["phase"] == "infer-latency":
        metric, value = "ttft", float(meas["first_token_latency_ms"]) * 1e-3
    else:
        metric, value = "throughput", float(meas["throughput"])
    if not h100 and precision == "fp8":
        raise SpecError(f"case {raw['id']!r}: FP8 on A100")
    return InferenceCase(
        id=raw["id"],
        metric=metric,
        measured=value,
        model=model,
        system=system,
        gpus=int(raw["gpus"]),
        layout=InferenceLayout(
            tp=int(raw["tp"]), pp=int(raw["pp"]), ep=int(raw["ep"]), dp=int(raw["dp"])
        ),
        batch=batch,
        input_tokens=isl,
        output_tokens=osl,
        precision=precision,
        kv_precision=kv,
        framework=raw["framework"],
    )


def inference_cases(ids: Iterable[str] | None = None) -> tuple[InferenceCase, ...]:
    """The public inference cases, mapped (all of them, or those with the given ids).

    Examples
    --------
    >>> cases = inference_cases()
    >>> len(cases), sorted({c.metric for c in cases})
    (32, ['throughput', 'ttft'])
    """
    rows = [r for r in _load_raw() if r["phase"] in INFERENCE_PHASES]
    if ids is not None:
        wanted = set(ids)
        rows = [r for r in rows if r["id"] in wanted]
    return tuple(_map(r) for r in rows)


@attrs.frozen(kw_only=True)
class InferenceCaseResult:
    """A case, its prediction and the signed relative error.

    Parameters
    ----------
    case
        The :class:`InferenceCase`.
    predicted
        The prediction in the unit of ``case.measured``.
    error
        ``predicted / measured - 1``.
    fits
        True if the batch fits the catalog's memory capacity.
    """

    case: InferenceCase
    predicted: float
    error: float
    fits: bool


def evaluate_inference(
    cases: Sequence[InferenceCase] | None = None,
    *,
    efficiency: InferenceEfficiency | None = None,
    preset_efficiency: bool = False,
) -> tuple[InferenceCaseResult, ...]:
    """Predict every case with ``efficiency`` (framework presets applied per case).

    Parameters
    ----------
    cases
        Cases to predict; all public inference cases by default.
    efficiency
        Base :class:`~blackwell_model.solvers.serving.InferenceEfficiency`
        (the calibrated defaults when omitted) of the 2023 cases.
    preset_efficiency
        Use ``efficiency`` for the 2025 cases too, in place of the
        :data:`~blackwell_model.solvers.serving_presets.TRTLLM_PYTORCH_2025`
        preset's (for :func:`calibrate_serving_2025`).
    """
    from .. import catalog
    from ..predict.inference import predict_inference

    cases = inference_cases() if cases is None else cases
    out = []
    for case in cases:
        model = catalog.model(case.model)
        cluster = catalog.cluster(case.system, gpus=max(case.gpus, 8))
        memory = TRTLLM_PYTORCH_2025.memory if case.era_2025 else None
        kwargs: dict[str, Any] = dict(
            batch=case.batch,
            input_tokens=case.input_tokens,
            output_tokens=case.output_tokens,
            precision=case.precision,
            kv_precision=case.kv_precision,
            efficiency=(
                efficiency
                if (preset_efficiency and case.era_2025 and efficiency is not None)
                else case.efficiency(efficiency)
            ),
            memory=memory,
            limits=case.limits,
        )
        try:
            rep = predict_inference(model, cluster, case.layout, **kwargs)
        except InfeasibleLayoutError as exc:
            if exc.rule != "memory":
                raise
            # the published batch ran but the memory model says it does not fit: a
            # model defect, shown in the table (``fits`` False) with the prediction
            rep = predict_inference(model, cluster, case.layout, check_memory=False, **kwargs)
        if case.metric == "ttft":
            pred = float(rep.time_to_first_token.m)
        else:
            pred = float(rep.output_tokens_per_second_per_gpu.m)
        out.append(
            InferenceCaseResult(
                case=case, predicted=pred, error=pred / case.measured - 1.0, fits=rep.fits
            )
        )
    return tuple(out)


def median_abs_error(results: Sequence[InferenceCaseResult]) -> float:
    """Median of ``|predicted / measured - 1|`` over ``results``."""
    return float(np.median([abs(r.error) for r in results]))


def median_signed_error(results: Sequence[InferenceCaseResult]) -> float:
    """Median of ``predicted / measured - 1`` over ``results``: the sign bias."""
    return float(np.median([r.error for r in results]))


@attrs.frozen(kw_only=True)
class CalibrationResult:
    """Outcome of :func:`calibrate_inference`.

    Parameters
    ----------
    efficiency
        The fitted :class:`~blackwell_model.solvers.serving.InferenceEfficiency`.
    fitted
        Parameter name -> fitted value.
    median_abs_error
        Median absolute relative error at the fit.
    results
        Per-case results at the fit.
    """

    efficiency: InferenceEfficiency
    fitted: dict[str, float]
    median_abs_error: float
    results: tuple[InferenceCaseResult, ...]


def _best_on_grid(
    candidates: Iterable[InferenceEfficiency],
    evaluate: Callable[[InferenceEfficiency], Sequence[InferenceCaseResult]],
) -> tuple[InferenceEfficiency, tuple[InferenceCaseResult, ...]]:
    """The candidate with the smallest mean absolute log error, and its results."""
    best: tuple[float, InferenceEfficiency, tuple[InferenceCaseResult, ...]] | None = None
    for eff in candidates:
        res = tuple(evaluate(eff))
        score = float(np.mean([abs(math.log(r.predicted / r.case.measured)) for r in res]))
        if best is None or score < best[0]:
            best = (score, eff, res)
    if best is None:
        raise SpecError("grid must give at least one value per parameter")
    return best[1], best[2]


#: Grid searched by :func:`calibrate_inference`.
CALIBRATION_GRID: dict[str, tuple[float, ...]] = {
    "narrow_gemm": (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.0),
    "step_overhead_s": (0.0, 1e-3, 2e-3, 4e-3, 6e-3, 8e-3),
    "prefill_overhead_s": (0.0, 5e-3, 10e-3, 15e-3, 20e-3),
}


def calibrate_inference(
    cases: Sequence[InferenceCase] | None = None,
    *,
    base: InferenceEfficiency | None = None,
    grid: dict[str, Sequence[float]] | None = None,
) -> CalibrationResult:
    """Fit ``narrow_gemm``, ``step_overhead_s`` and ``prefill_overhead_s`` on the 2023 cases.

    An exhaustive search of :data:`CALIBRATION_GRID` (or ``grid``) that
    minimises the mean absolute log error :math:`|\\ln(p/m)|` over the cases
    (the median, the acceptance metric, is flat over much of the grid).
    Everything else stays at ``base`` (the documented defaults).

    Returns
    -------
    CalibrationResult
    """
    cases = tuple(c for c in (inference_cases() if cases is None else cases) if not c.era_2025)
    base = base or InferenceEfficiency()
    grid = dict(CALIBRATION_GRID if grid is None else grid)
    names = list(grid)
    eff, res = _best_on_grid(
        (
            attrs.evolve(base, **dict(zip(names, values, strict=True)))  # type: ignore[arg-type]
            for values in itertools.product(*(grid[n] for n in names))
        ),
        lambda e: evaluate_inference(cases, efficiency=e),
    )
    return CalibrationResult(
        efficiency=eff,
        fitted={n: float(getattr(eff, n)) for n in names},
        median_abs_error=median_abs_error(res),
        results=res,
    )


#: Grid searched by :func:`calibrate_serving_2025`: the per-kernel time of
#: CUDA-graph decode steps (``roofline.overhead_s``) and the expert
#: popularity spread of served traffic (``expert_load_cv``).
CALIBRATION_GRID_2025: dict[str, tuple[float, ...]] = {
    "overhead_s": (0.0, 2e-6, 4e-6, 6e-6, 8e-6, 10e-6),
    "expert_load_cv": (0.0, 1.0, 2.0, 3.0),
}


def calibrate_serving_2025(
    cases: Sequence[InferenceCase] | None = None,
    *,
    grid: dict[str, Sequence[float]] | None = None,
) -> CalibrationResult:
    """Fit the two global parameters of the 2025 preset on the 2025 cases.

    An exhaustive search of :data:`CALIBRATION_GRID_2025` minimising the mean
    absolute log error over the ``infer-offline-max-throughput`` cases, with
    every other parameter of
    :data:`~blackwell_model.solvers.serving_presets.TRTLLM_PYTORCH_2025` at
    its documented, sourced value.  ``overhead_s`` is set on the preset's
    kernel efficiency, ``expert_load_cv`` on the preset itself.

    Returns
    -------
    CalibrationResult
        ``fitted`` holds ``overhead_s`` and ``expert_load_cv``.
    """
    from ..solvers import serving_presets

    cases = tuple(c for c in (inference_cases() if cases is None else cases) if c.era_2025)
    grid = dict(CALIBRATION_GRID_2025 if grid is None else grid)
    preset = serving_presets.TRTLLM_PYTORCH_2025
    eff, res = _best_on_grid(
        (
            attrs.evolve(
                preset.efficiency,
                roofline=attrs.evolve(preset.efficiency.roofline, overhead_s=float(ov)),
                expert_load_cv=float(cv),
            )
            for ov, cv in itertools.product(grid["overhead_s"], grid["expert_load_cv"])
        ),
        lambda e: evaluate_inference(cases, efficiency=e, preset_efficiency=True),
    )
    return CalibrationResult(
        efficiency=eff,
        fitted={"overhead_s": eff.roofline.overhead_s, "expert_load_cv": eff.expert_load_cv},
        median_abs_error=median_abs_error(res),
        results=res,
    )


def inference_table_rst(results: Sequence[InferenceCaseResult] | None = None) -> str:
    """The predicted-vs-measured table of ``docs/inference.rst`` as reST."""
    results = evaluate_inference() if results is None else results
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - case",
        "     - metric",
        "     - measured",
        "     - predicted",
        "     - error",
    ]
    for r in results:
        c = r.case
        if c.metric == "ttft":
            meas, pred, metric = f"{c.measured * 1e3:.0f} ms", f"{r.predicted * 1e3:.0f} ms", "TTFT"
        else:
            meas, pred = f"{c.measured:,.0f}", f"{r.predicted:,.0f}"
            metric = "out tok/s/GPU" + (" (max-throughput)" if c.era_2025 else "")
        note = "" if r.fits else " (*)"
        lines += [
            f"   * - ``{c.id}``{note}",
            f"     - {metric}",
            f"     - {meas}",
            f"     - {pred}",
            f"     - {r.error:+.1%}",
        ]
    errs = [abs(r.error) for r in results]
    lines += [
        "",
        f"Median \\|error\\| {np.median(errs):.1%} over {len(errs)} cases; "
        f"largest {max(errs):.1%}.",
        "",
        ".. list-table:: By model family (sign bias: median signed error)",
        "   :header-rows: 1",
        "",
        "   * - family",
        "     - cases",
        "     - median \\|error\\|",
        "     - sign bias",
    ]
    for name, moe in (("dense", False), ("MoE", True)):
        sel = [r for r in results if r.case.moe == moe]
        if sel:
            lines += [
                f"   * - {name}",
                f"     - {len(sel)}",
                f"     - {median_abs_error(sel):.1%}",
                f"     - {median_signed_error(sel):+.1%}",
            ]
    if not all(r.fits for r in results):
        lines.append(
            "(*) needs more than the usable share of the catalog's 80e9 B capacity; "
            "the device has 80 GiB."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(inference_table_rst())
