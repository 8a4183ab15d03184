"""Parallel layouts for training: how a model and its batch are split over GPUs.

A :class:`Layout` holds what a Megatron-Core run is configured with: the
parallel degrees (``tp``, ``pp``, ``dp``, ``cp``, ``ep`` and the expert
tensor-parallel ``etp`` of MoE parallel folding), the batch, the precision,
the memory savers (recomputation by module, activation offload to host
memory, ZeRO/FSDP sharding, gradient and optimizer-state precision), the
pipeline split and the MoE routing.  :meth:`Layout.columns` gives the same
configuration as plain integers, the form the vectorised memory model, the
step solver and the layout search read; :func:`rule_masks` checks the
divisibility rules on arrays of candidates.

References
----------
.. [1] D. Liu et al., "MoE Parallel Folding: Heterogeneous Parallelism Mappings
   for Efficient Large-Scale MoE Model Training with Megatron Core",
   arXiv:2504.14960 (expert groups folded over TP x CP x DP).
.. [2] Megatron-Core ``TransformerConfig``: ``recompute_granularity``,
   ``recompute_method``, ``recompute_num_layers``, ``recompute_modules``,
   ``cpu_offloading_num_layers``, ``num_layers_in_first_pipeline_stage``,
   ``account_for_embedding_in_pipeline_split``, ``moe_expert_capacity_factor``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from .._spec import Spec, bool_field, enum_field, int_field
from .._validate import MAX_INT
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.precision import Precision

__all__ = [
    "LAYOUT_RULES",
    "MOMENT_PRECISIONS",
    "PLACEMENTS",
    "RECOMPUTE_CODES",
    "RECOMPUTE_MODULES",
    "SHARED_COLUMNS",
    "TRAINING_PRECISIONS",
    "Layout",
    "Recompute",
    "modules_mask",
    "rule_masks",
    "stack_layouts",
    "stage_layer_arrays",
]

#: Precisions a training layout may compute its GEMMs in.
TRAINING_PRECISIONS: tuple[Precision, ...] = (
    Precision.BF16,
    Precision.FP16,
    Precision.FP8,
    Precision.FP4,
)

#: Precisions the Adam moments may be stored in (``bf16``, ``fp16``, ``fp8``:
#: Megatron-Core's precision-aware optimizer, ``--use-precision-aware-optimizer
#: --exp-avg-dtype/--exp-avg-sq-dtype``).
MOMENT_PRECISIONS: tuple[Precision, ...] = (
    Precision.FP32,
    Precision.BF16,
    Precision.FP16,
    Precision.FP8,
)


#: Rank placements a layout may ask for, innermost dimension first, and their codes
#: in the array form.  ``tp-cp-ep-dp-pp`` is Megatron-Core's default (pipeline
#: stages outermost); ``tp-cp-ep-pp-dp`` puts pipeline neighbours next to each
#: other and data-parallel replicas outermost.  Expert layers fold their groups
#: over the ``tp x cp x dp`` ranks of a stage in Megatron's expert order
#: (``etp`` innermost, then ``ep``, then expert data parallel).
PLACEMENTS: dict[str, int] = {"tp-cp-ep-dp-pp": 0, "tp-cp-ep-pp-dp": 1}

#: Modules Megatron-Core's selective recomputation can checkpoint
#: (``--recompute-modules``), and their bit in :func:`modules_mask`:
#: ``core_attn`` the attention core (softmax(QK^T)V), ``layernorm`` the two
#: norms of a block (their outputs, the QKV and fc1 GEMM inputs, are dropped),
#: ``mla_up_proj`` MLA's query and key/value up-projections, ``mlp`` the whole
#: dense MLP, ``moe_act`` the activation function inside the experts,
#: ``moe`` the whole MoE block (router, dispatch, experts, combine),
#: ``shared_experts`` the shared experts of an MoE block.
RECOMPUTE_MODULES: tuple[str, ...] = (
    "core_attn",
    "layernorm",
    "mla_up_proj",
    "mlp",
    "moe_act",
    "moe",
    "shared_experts",
)

#: Columns of :meth:`Layout.columns` that are one value for a whole call (not
#: per candidate): :func:`stack_layouts` requires the stacked layouts to agree.
SHARED_COLUMNS: tuple[str, ...] = ("precision", "capacity_factor", "expert_load_cv")


def modules_mask(modules: Iterable[str]) -> int:
    """Bit mask of recompute modules (bit ``i`` is ``RECOMPUTE_MODULES[i]``).

    Examples
    --------
    >>> modules_mask(["core_attn", "mlp"])
    9
    """
    mask = 0
    for name in modules:
        mask |= 1 << RECOMPUTE_MODULES.index(name)
    return mask


def _placement(value: Any, field: attrs.Attribute) -> str:  # type: ignore[type-arg]
    text = str(value).strip().lower()
    if text not in PLACEMENTS:
        valid = ", ".join(repr(k) for k in PLACEMENTS)
        raise SpecError(f"{field.name} must be one of {valid}, got {value!r}")
    return text


class Recompute(enum.Enum):
    """Activation recomputation granularity (Korthikanti et al. 2022; Megatron-Core).

    ``selective`` recomputes the modules of :attr:`Layout.recompute_modules`
    (by default the attention core); ``full`` recomputes whole layers
    (all of them, or :attr:`Layout.recompute_layers` per model chunk).
    """

    #: Keep every activation for the backward pass.
    NONE = "none"
    #: Recompute chosen modules (default: only the attention core).
    SELECTIVE = "selective"
    #: Keep only each layer's input; recompute the whole forward in backward.
    FULL = "full"


class RecomputeMethod(enum.Enum):
    """How full recomputation picks its layers (Megatron's ``--recompute-method``).

    ``uniform``: the layers of a model chunk are checkpointed in groups of
    ``recompute_layers`` (the input of each group is kept, every layer is
    recomputed).  ``block``: only the first ``recompute_layers`` layers of each
    model chunk are recomputed; the others keep their activations.
    """

    UNIFORM = "uniform"
    BLOCK = "block"


#: Integer code of each recompute mode in candidate arrays (what
#: :meth:`~blackwell_model.solvers.training.TrainingSolver.evaluate` reads).
RECOMPUTE_CODES: Mapping[Recompute, int] = {
    Recompute.NONE: 0,
    Recompute.SELECTIVE: 1,
    Recompute.FULL: 2,
}

#: Names of the divisibility rules, in the order :meth:`Layout.violations` and
#: :func:`rule_masks` report them.  ``gpus``: the layout needs more GPUs than
#: given; ``batch``: ``dp * micro_batch`` does not divide ``global_batch``;
#: ``tp_heads``: ``tp`` does not divide the attention heads; ``tp_kv_heads``:
#: ``tp`` and the key/value heads do not divide one another; ``pp_layers``:
#: more model chunks (``pp * vpp``) than layers; ``pp_split``: the first/last
#: stage layer counts do not fit the model; ``vpp``: interleaving without
#: pipelining, or micro-batches not divisible by ``pp``; ``cp_seq``:
#: ``2 * cp`` does not divide ``seq_len``; ``ep_dense``: ``ep > 1`` or
#: ``etp > 1`` on a dense model; ``ep_experts``: ``ep`` does not divide the
#: experts; ``ep_dp``: ``ep * etp`` does not divide ``tp * cp * dp`` (MoE
#: parallel folding); ``offload``: more offloaded or recomputed layers than a
#: model chunk holds.
LAYOUT_RULES: tuple[str, ...] = (
    "gpus",
    "batch",
    "tp_heads",
    "tp_kv_heads",
    "pp_layers",
    "pp_split",
    "vpp",
    "cp_seq",
    "ep_dense",
    "ep_experts",
    "ep_dp",
    "offload",
)


def _training_precision(value: Any, field: attrs.Attribute) -> Precision:  # type: ignore[type-arg]
    p = Precision.parse(value)
    if p not in TRAINING_PRECISIONS:
        valid = ", ".join(x.value for x in TRAINING_PRECISIONS)
        raise SpecError(f"{field.name} must be one of {valid} for training, got {p.value!r}")
    return p


def _moment_precision(value: Any, field: attrs.Attribute) -> Precision:  # type: ignore[type-arg]
    p = Precision.parse(value)
    if p not in MOMENT_PRECISIONS:
        valid = ", ".join(x.value for x in MOMENT_PRECISIONS)
        raise SpecError(f"{field.name} must be one of {valid}, got {p.value!r}")
    return p


def _opt_count(value: Any, field: attrs.Attribute) -> int | None:  # type: ignore[type-arg]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise SpecError(f"{field.name} must be an integer >= 0 or None, got {value!r}")
    if value < 0:
        raise SpecError(f"{field.name} must be an integer >= 0 or None, got {value!r}")
    return int(value)


def _opt_count_field(doc: str = "") -> Any:
    return attrs.field(
        default=None,
        converter=attrs.Converter(_opt_count, takes_field=True),  # type: ignore[call-overload]
        metadata={"doc": doc},
    )


def _modules(value: Any, field: attrs.Attribute) -> tuple[str, ...] | None:  # type: ignore[type-arg]
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, Iterable):
        raise SpecError(
            f"{field.name} must be a list of module names ({', '.join(RECOMPUTE_MODULES)}), "
            f"got {value!r}"
        )
    out = []
    for item in value:
        name = str(item).strip().lower() if isinstance(item, str) else item
        if name not in RECOMPUTE_MODULES:
            raise SpecError(
                f"{field.name} must name modules among {', '.join(RECOMPUTE_MODULES)}, got {item!r}"
            )
        out.append(name)
    # canonical order, no repeats
    return tuple(m for m in RECOMPUTE_MODULES if m in out)


def _opt_positive_float(value: Any, field: attrs.Attribute) -> float | None:  # type: ignore[type-arg]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise SpecError(f"{field.name} must be a number > 0 or None, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        raise SpecError(f"{field.name} must be a finite number > 0 or None, got {value!r}")
    return v


def _non_negative_float(value: Any, field: attrs.Attribute) -> float:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise SpecError(f"{field.name} must be a number >= 0, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and 0.0 <= v <= 10.0):
        raise SpecError(f"{field.name} must be a finite number in [0, 10], got {value!r}")
    return v


@attrs.frozen(kw_only=True, repr=False)
class Layout(Spec):
    """A training layout: parallel degrees, batch, precision, memory savers and routing.

    The GPUs used are ``tp * cp * pp * dp``.  Expert layers fold their own
    groups over the same ``tp * cp * dp`` ranks of a pipeline stage (MoE
    parallel folding): ``etp`` ranks split each expert's width, ``ep`` groups
    hold disjoint experts, and the remaining
    ``edp = tp * cp * dp / (ep * etp)`` replicas are the expert data-parallel
    group that reduces expert gradients and shards their optimizer state.
    ``ep * etp`` must divide ``tp * cp * dp``; with ``etp = tp`` (Megatron's
    default) this is the classic rule that ``ep`` divides ``dp * cp``.

    Parameters
    ----------
    tp
        Tensor-parallel degree (innermost, inside the scale-up domain).
    pp
        Pipeline stages.
    dp
        Data-parallel replicas.
    cp
        Context-parallel degree (the sequence is split ``cp`` ways).
    ep
        Expert-parallel degree of MoE layers.
    etp
        Expert tensor-parallel degree (each expert's width split ``etp``
        ways); ``None`` means ``tp`` (Megatron-Core's default).
    vpp
        Virtual pipeline chunks per stage (interleaved 1F1B); 1 is plain 1F1B.
    micro_batch
        Sequences per micro-batch per data-parallel replica.
    global_batch
        Sequences per optimizer step, all replicas together.
    seq_len
        Tokens per sequence.
    precision
        GEMM precision: bf16, fp16, fp8 or fp4 (mixed precision with FP32
        master weights).
    recompute
        :class:`Recompute` granularity ("none", "selective", "full").
    recompute_modules
        Modules checkpointed by selective recomputation (names of
        :data:`RECOMPUTE_MODULES`); ``None`` means ``("core_attn",)`` under
        selective recomputation, as Megatron-Core defaults.  Giving modules
        with ``recompute="none"`` selects selective recomputation.
    recompute_method
        ``"uniform"`` or ``"block"`` (:class:`RecomputeMethod`), for full
        recomputation.
    recompute_layers
        Full recomputation: layers per checkpoint group (uniform) or layers
        recomputed per model chunk (block); ``None`` means 1 (uniform) or
        every layer of the chunk (block).
    offload_layers
        Layers per model chunk whose activations are kept in host memory
        between their forward and backward pass (Megatron's
        ``cpu_offloading_num_layers``); the transfers run over the
        accelerator's host link (NVLink-C2C on Grace superchips, PCIe on x86
        hosts).
    zero
        ZeRO stage over the data-parallel group: 0 replicates everything, 1
        shards optimizer state (Megatron's distributed optimizer), 2 also
        gradients, 3 also weights (FSDP; Megatron-FSDP).
    grad_reduce_in_fp32
        Gradients are accumulated and reduced in FP32 (Megatron's default
        with the distributed optimizer); False keeps a BF16 gradient buffer
        and reduces in BF16 (``--grad-reduce-in-bf16``).
    moments_precision
        Storage precision of Adam's two moments (``fp32``; ``bf16`` with the
        precision-aware optimizer).  Master weights stay FP32.
    master_remainders
        Keep the FP32 master weights as the 16 low bits beside the BF16 weights
        (Apex ``DistributedFusedAdam(store_param_remainders=True)``, NeMo 1.x
        with BF16 models): 2 bytes per parameter instead of 4.
    low_precision_weights
        Under FP8/FP4 recipes, keep the model's working weights in the GEMM
        precision instead of BF16 (Transformer Engine ``fp8_model_init``,
        Megatron's ``--fp8-param-gather``): one byte per weight, gathered in
        FP8 by ZeRO-3; the FP32 master copy stays in the optimizer.
    sequence_parallel
        Megatron sequence parallelism for the non-GEMM regions when ``tp > 1``.
    overlap_dp_comm
        Overlap the data-parallel gradient reduction (and ZeRO-3 weight
        gathers) with backward/forward compute.
    overlap_tp_comm
        Overlap tensor-parallel collectives with GEMMs (userbuffers-style).
    overlap_pp_comm
        Overlap pipeline send/receive with compute.
    cuda_graphs
        The layers run as captured CUDA graphs (Megatron's
        ``--enable-cuda-graph``): no host launch cost per kernel.
    overlap_moe_comm
        Overlap the expert-parallel all-to-all with the compute of another
        micro-batch (Megatron's 1F1B all-to-all overlap,
        ``--overlap-moe-expert-parallel-comm``) and the shared experts.
    placement
        Order in which the parallel dimensions are laid onto the ranks,
        innermost first (one of :data:`PLACEMENTS`).
    first_stage_layers, last_stage_layers
        Transformer layers on the first and last pipeline stage
        (``num_layers_in_first/last_pipeline_stage``); ``None`` splits evenly.
        The other stages share the rest evenly.
    embedding_in_split, loss_in_split
        Count the embedding (loss and LM head) as one layer when splitting
        (``account_for_embedding/loss_in_pipeline_split``): the first (last)
        stage gets one transformer layer fewer.
    capacity_factor
        MoE token dropping: each expert takes at most ``capacity_factor``
        times its mean share of the tokens (the rest are dropped); ``None``
        is dropless.
    router_fp32
        The MoE router's GEMM runs in FP32 (``moe_router_dtype = "fp32"``, as
        the DeepSeek-V3 recipes set it) instead of BF16.
    expert_load_cv
        Coefficient of variation of the tokens routed to each expert
        [dimensionless]: 0 is perfectly balanced routing (Megatron's
        ``--moe-router-force-load-balancing`` benchmarks); real routers with a
        load-balancing loss stay within roughly 0.1-0.3.  The busiest
        expert-parallel rank sets the pace of the grouped GEMMs and of the
        all-to-all.

    Examples
    --------
    >>> lay = Layout(tp=8, pp=16, dp=64, micro_batch=1, global_batch=2048, seq_len=8192)
    >>> lay.gpus, lay.micro_batches
    (8192, 32)
    >>> moe = Layout(tp=2, dp=32, ep=64, etp=1, global_batch=1024, seq_len=4096)
    >>> moe.expert_tp, moe.expert_dp
    (1, 1)
    """

    tp: int = int_field(minimum=1, default=1)
    pp: int = int_field(minimum=1, default=1)
    dp: int = int_field(minimum=1, default=1)
    cp: int = int_field(minimum=1, default=1)
    ep: int = int_field(minimum=1, default=1)
    etp: int | None = attrs.field(
        default=None,
        converter=attrs.Converter(  # type: ignore[misc]
            lambda v, f: None if v is None else _positive(v, f), takes_field=True
        ),
    )
    vpp: int = int_field(minimum=1, default=1)
    micro_batch: int = int_field(minimum=1, default=1)
    global_batch: int = int_field(minimum=1)
    seq_len: int = int_field(minimum=1)
    precision: Precision = attrs.field(
        default=Precision.BF16,
        converter=attrs.Converter(_training_precision, takes_field=True),  # type: ignore[call-overload,misc]
        metadata={"bm_kind": "enum"},
    )
    recompute: Recompute = enum_field(Recompute, default=Recompute.NONE)
    recompute_modules: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=attrs.Converter(_modules, takes_field=True),  # type: ignore[call-overload,misc]
    )
    recompute_method: RecomputeMethod = enum_field(RecomputeMethod, default=RecomputeMethod.UNIFORM)
    recompute_layers: int | None = _opt_count_field()
    offload_layers: int = int_field(minimum=0, default=0)
    zero: int = int_field(minimum=0, default=1)
    grad_reduce_in_fp32: bool = bool_field(default=True)
    moments_precision: Precision = attrs.field(
        default=Precision.FP32,
        converter=attrs.Converter(_moment_precision, takes_field=True),  # type: ignore[call-overload,misc]
        metadata={"bm_kind": "enum"},
    )
    master_remainders: bool = bool_field(default=False)
    low_precision_weights: bool = bool_field(default=False)
    sequence_parallel: bool = bool_field(default=True)
    overlap_dp_comm: bool = bool_field(default=True)
    overlap_tp_comm: bool = bool_field(default=True)
    overlap_pp_comm: bool = bool_field(default=True)
    overlap_moe_comm: bool = bool_field(default=False)
    cuda_graphs: bool = bool_field(default=False)
    placement: str = attrs.field(
        default="tp-cp-ep-dp-pp",
        converter=attrs.Converter(_placement, takes_field=True),  # type: ignore[call-overload,misc]
    )
    first_stage_layers: int | None = _opt_count_field()
    last_stage_layers: int | None = _opt_count_field()
    embedding_in_split: bool = bool_field(default=False)
    loss_in_split: bool = bool_field(default=False)
    router_fp32: bool = bool_field(default=False)
    capacity_factor: float | None = attrs.field(
        default=None,
        converter=attrs.Converter(_opt_positive_float, takes_field=True),  # type: ignore[call-overload,misc]
    )
    expert_load_cv: float = attrs.field(
        default=0.0,
        converter=attrs.Converter(_non_negative_float, takes_field=True),  # type: ignore[call-overload,misc]
    )

    def __attrs_post_init__(self) -> None:
        if self.gpus > MAX_INT:  # products of the degrees run in 64-bit arrays
            raise SpecError(
                f"gpus = tp*cp*pp*dp must be <= {MAX_INT:,}, got {self.tp}*{self.cp}*"
                f"{self.pp}*{self.dp} = {self.gpus:,}"
            )
        modules = self.recompute_modules
        if modules is not None:
            if self.recompute is Recompute.FULL:
                raise SpecError(
                    "recompute_modules apply to selective recomputation, got recompute='full' "
                    f"with recompute_modules={list(modules)!r}"
                )
            if modules and self.recompute is Recompute.NONE:
                object.__setattr__(self, "recompute", Recompute.SELECTIVE)
            if not modules and self.recompute is Recompute.SELECTIVE:
                raise SpecError(
                    "recompute_modules must name at least one module under selective "
                    "recomputation (or use recompute='none'), got []"
                )
        if self.recompute_layers is not None:
            if self.recompute is not Recompute.FULL:
                raise SpecError(
                    "recompute_layers applies to full recomputation, got "
                    f"recompute={self.recompute.value!r} with recompute_layers="
                    f"{self.recompute_layers}"
                )
            if self.recompute_layers < 1:
                raise SpecError(
                    f"recompute_layers must be an integer >= 1 or None, got {self.recompute_layers}"
                )

    @zero.validator
    def _check_zero(self, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
        if value > 3:
            raise SpecError(f"zero must be 0, 1, 2 or 3, got {value}")

    @property
    def gpus(self) -> int:
        """GPUs the layout occupies: ``tp * cp * pp * dp``."""
        return self.tp * self.cp * self.pp * self.dp

    @property
    def expert_tp(self) -> int:
        """Expert tensor-parallel degree (``etp``, or ``tp`` when not given)."""
        return self.tp if self.etp is None else self.etp

    @property
    def expert_dp(self) -> int:
        """Expert data-parallel degree ``tp * cp * dp / (ep * etp)`` (at least 1)."""
        return max(1, (self.tp * self.cp * self.dp) // (self.ep * self.expert_tp))

    @property
    def micro_batches(self) -> int:
        """Micro-batches per step per pipeline: ``global_batch / (dp * micro_batch)``."""
        return self.global_batch // (self.dp * self.micro_batch)

    @property
    def tokens_per_step(self) -> int:
        """Tokens processed per optimizer step: ``global_batch * seq_len``."""
        return self.global_batch * self.seq_len

    @property
    def modules(self) -> tuple[str, ...]:
        """Recomputed modules in effect (empty unless selective recomputation)."""
        if self.recompute is not Recompute.SELECTIVE:
            return ()
        return self.recompute_modules or ("core_attn",)

    @property
    def label(self) -> str:
        """Compact one-line form, e.g. ``'tp8 cp1 pp16 vpp1 dp64 ep1 mb1 bf16 rc=none zero1'``.

        Options that differ from their defaults are appended (``etp1``,
        ``rc=selective[mlp,moe_act]``, ``offload2``, ``grad-bf16``,
        ``moments-bf16``, ``cf1.0``).
        """
        rc = self.recompute.value
        if self.recompute is Recompute.SELECTIVE and self.modules != ("core_attn",):
            rc += "[" + ",".join(self.modules) + "]"
        if self.recompute is Recompute.FULL and self.recompute_layers is not None:
            rc += f"[{self.recompute_method.value}{self.recompute_layers}]"
        text = (
            f"tp{self.tp} cp{self.cp} pp{self.pp} vpp{self.vpp} dp{self.dp} ep{self.ep} "
            f"mb{self.micro_batch} {self.precision.value} rc={rc} zero{self.zero}"
        )
        extra = []
        if self.etp is not None and self.etp != self.tp:
            extra.append(f"etp{self.etp}")
        if self.offload_layers:
            extra.append(f"offload{self.offload_layers}")
        if not self.grad_reduce_in_fp32:
            extra.append("grad-bf16")
        if self.moments_precision is not Precision.FP32:
            extra.append(f"moments-{self.moments_precision.value}")
        if self.low_precision_weights and self.precision.bytes < 2.0:
            extra.append(f"{self.precision.value}-weights")
        if self.capacity_factor is not None:
            extra.append(f"cf{self.capacity_factor:g}")
        return " ".join([text, *extra])

    @property
    def fsdp(self) -> bool:
        """True for ZeRO stage 3 (fully sharded data parallel)."""
        return self.zero == 3

    def check(self, model: Any, gpus: int | None = None) -> None:
        """Raise :class:`~blackwell_model.errors.InfeasibleLayoutError` if the layout cannot run.

        Checks every divisibility rule; memory is checked by the training
        predictor.  The error's ``rule`` names the rule that fails.

        Parameters
        ----------
        model
            A :class:`~blackwell_model.workload.Transformer`.
        gpus
            GPUs available; the layout may not need more.
        """
        for rule, message in self.violations(model, gpus):
            raise InfeasibleLayoutError(rule, message)

    def violations(self, model: Any, gpus: int | None = None) -> list[tuple[str, str]]:
        """Every rule the layout breaks, as ``(rule, message)`` pairs (empty if none).

        The rules are those of :func:`rule_masks` (one implementation serves a
        single layout and an array of candidates), in :data:`LAYOUT_RULES` order.
        """
        masks = rule_masks(model, self.columns(), gpus)
        return [(rule, _MESSAGES[rule](self, model, gpus)) for rule in LAYOUT_RULES if masks[rule]]

    def columns(self) -> dict[str, Any]:
        """The layout as the plain columns :func:`rule_masks` and the array models read.

        Integers for the degrees and batch (``etp`` resolved), the
        :data:`RECOMPUTE_CODES` code of ``recompute``, the :func:`modules_mask`
        of the recomputed modules, ``recompute_layers`` (0: every layer) and
        ``recompute_block`` (0 uniform, 1 block), ``moments_bits``, -1 for an
        unset first/last stage size, 0/1 for the flags, and the
        :data:`SHARED_COLUMNS` (the :class:`Precision`, the capacity factor
        or 0.0 for dropless, the expert load CV) as plain values.
        """
        return {
            "tp": self.tp,
            "cp": self.cp,
            "ep": self.ep,
            "etp": self.expert_tp,
            "pp": self.pp,
            "vpp": self.vpp,
            "dp": self.dp,
            "micro_batch": self.micro_batch,
            "global_batch": self.global_batch,
            "seq_len": self.seq_len,
            "recompute": RECOMPUTE_CODES[self.recompute],
            "recompute_modules": modules_mask(self.modules),
            "recompute_layers": self.recompute_layers or 0,
            "recompute_block": int(self.recompute_method is RecomputeMethod.BLOCK),
            "offload_layers": self.offload_layers,
            "zero": self.zero,
            "grad_fp32": int(self.grad_reduce_in_fp32),
            "moments_bits": int(self.moments_precision.bits),
            "master_bytes": 2 if self.master_remainders else 4,
            "lp_weights": int(self.low_precision_weights and self.precision.bytes < 2.0),
            "sequence_parallel": int(self.sequence_parallel),
            "overlap_dp": int(self.overlap_dp_comm),
            "overlap_tp": int(self.overlap_tp_comm),
            "overlap_pp": int(self.overlap_pp_comm),
            "overlap_moe": int(self.overlap_moe_comm),
            "cuda_graphs": int(self.cuda_graphs),
            "router_fp32": int(self.router_fp32),
            "placement": PLACEMENTS[self.placement],
            "first_stage_layers": -1
            if self.first_stage_layers is None
            else self.first_stage_layers,
            "last_stage_layers": -1 if self.last_stage_layers is None else self.last_stage_layers,
            "embedding_in_split": int(self.embedding_in_split),
            "loss_in_split": int(self.loss_in_split),
            "precision": self.precision,
            "capacity_factor": 0.0 if self.capacity_factor is None else self.capacity_factor,
            "expert_load_cv": self.expert_load_cv,
        }

    def stage_layers(self, layers: int) -> int:
        """Transformer layers on the busiest pipeline stage.

        With an even split, ``vpp * ceil(layers / (pp * vpp))``; with
        ``first_stage_layers``, ``last_stage_layers`` or the embedding/loss
        counted as layers, the largest of the stages' counts
        (:func:`stage_layer_arrays`).
        """
        first, middle, last = stage_layer_arrays(layers, self.columns())
        return int(max(first, middle, last))


def _positive(value: Any, field: attrs.Attribute) -> int:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise SpecError(f"{field.name} must be an integer >= 1 or None, got {value!r}")
    if value < 1:
        raise SpecError(f"{field.name} must be an integer >= 1 or None, got {value!r}")
    return int(value)


def _int_column(columns: Mapping[str, Any], key: str, default: int | None = None) -> np.ndarray:
    if key not in columns and default is not None:
        return np.asarray(default, dtype=np.int64)
    return np.asarray(columns[key], dtype=np.int64)


def stage_layer_arrays(
    layers: int, columns: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transformer layers on the first, the busiest middle, and the last pipeline stage.

    Parameters
    ----------
    layers
        Transformer layers of the model.
    columns
        ``pp``, ``vpp`` and optionally ``first_stage_layers``,
        ``last_stage_layers`` (-1: not set), ``embedding_in_split`` and
        ``loss_in_split`` (0/1), as in :meth:`Layout.columns`; scalars or
        arrays.

    Returns
    -------
    (first, middle, last) : numpy.ndarray
        Layers per stage (all model chunks of the stage together).  With one
        stage all three are ``layers``; with two, ``middle`` is the larger of
        the two.  Uneven even-splits round up (the busiest stage holds
        ``ceil``).

    Examples
    --------
    >>> f, m, l = stage_layer_arrays(126, {"pp": 8, "vpp": 8})
    >>> int(f), int(m), int(l)
    (16, 16, 16)
    >>> f, m, l = stage_layer_arrays(61, {"pp": 16, "vpp": 1, "embedding_in_split": 1,
    ...                                   "loss_in_split": 1})
    >>> int(f), int(m), int(l)
    (3, 4, 3)
    """
    pp = _int_column(columns, "pp")
    vpp = _int_column(columns, "vpp", 1)
    first_set = _int_column(columns, "first_stage_layers", -1)
    last_set = _int_column(columns, "last_stage_layers", -1)
    emb = _int_column(columns, "embedding_in_split", 0)
    loss = _int_column(columns, "loss_in_split", 0)
    pp, vpp, first_set, last_set, emb, loss = np.broadcast_arrays(
        pp, vpp, first_set, last_set, emb, loss
    )
    lay = np.int64(layers)
    has_first = first_set >= 0
    has_last = last_set >= 0
    # stages without an explicit count share what the explicit ones leave
    n_free = pp - has_first.astype(np.int64) - has_last.astype(np.int64)
    rest = lay - np.where(has_first, first_set, 0) - np.where(has_last, last_set, 0)
    # embedding and loss counted as layers occupy a slot of the free first/last stage
    units = rest + np.where(has_first, 0, emb) + np.where(has_last, 0, loss)
    chunks = np.maximum(n_free, 1) * vpp
    per_free = vpp * -(-np.maximum(units, 0) // chunks)
    first = np.where(has_first, first_set, np.maximum(per_free - emb, 0))
    last = np.where(has_last, last_set, np.maximum(per_free - loss, 0))
    middle = np.where(pp > 2, per_free, np.maximum(first, last))
    single = pp == 1
    first = np.where(single, lay, first)
    last = np.where(single, lay, last)
    middle = np.where(single, lay, middle)
    return first, middle, last


def rule_masks(
    model: Any, columns: Mapping[str, Any], gpus: int | None = None
) -> dict[str, np.ndarray]:
    """Which candidate layouts break which divisibility rule, as boolean arrays.

    The vectorised form of :meth:`Layout.violations`: both use this function,
    so a single layout and a search over a million candidates obey the same
    rules.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer`.
    columns
        Equal-length integer arrays (or scalars) keyed ``tp, pp, dp, cp, ep,
        vpp, micro_batch, global_batch, seq_len`` and optionally ``etp``
        (default ``tp``), ``first_stage_layers``, ``last_stage_layers``,
        ``embedding_in_split``, ``loss_in_split``, ``offload_layers``,
        ``recompute`` and ``recompute_layers`` (as in :meth:`Layout.columns`;
        other keys are ignored).
    gpus
        GPUs available [count]; ``None`` skips the ``gpus`` rule.

    Returns
    -------
    dict of str to numpy.ndarray
        Rule name (:data:`LAYOUT_RULES`) -> boolean array, True where the
        candidate breaks the rule.

    Examples
    --------
    >>> import numpy as np
    >>> import blackwell_model as bm
    >>> model = bm.catalog.model("llama3-8b")
    >>> cols = dict(tp=np.array([8, 3]), pp=1, dp=np.array([2, 2]), cp=1, ep=1, vpp=1,
    ...             micro_batch=1, global_batch=64, seq_len=8192)
    >>> rule_masks(model, cols)["tp_heads"].tolist()
    [False, True]
    """
    tp, pp, dp, cp, ep, vpp = (
        _int_column(columns, k) for k in ("tp", "pp", "dp", "cp", "ep", "vpp")
    )
    etp = _int_column(columns, "etp") if "etp" in columns else tp
    mb = _int_column(columns, "micro_batch")
    gb = _int_column(columns, "global_batch")
    seq = _int_column(columns, "seq_len")
    offload = _int_column(columns, "offload_layers", 0)
    rc = _int_column(columns, "recompute", 0)
    rc_layers = _int_column(columns, "recompute_layers", 0)
    shape = np.broadcast_shapes(
        tp.shape, pp.shape, dp.shape, cp.shape, ep.shape, etp.shape, vpp.shape, mb.shape,
        gb.shape, seq.shape, offload.shape, rc.shape, rc_layers.shape,
    )  # fmt: skip
    heads = int(model.heads)
    kv_heads = int(getattr(model, "n_kv_heads", None) or getattr(model, "kv_heads", heads) or heads)
    layers = int(model.layers)
    experts = int(getattr(model, "experts", 0) or 0)

    dp_mb = dp * mb
    batch = gb % dp_mb != 0
    tp_heads = heads % tp != 0
    pipelined = vpp > 1
    first, middle, last = stage_layer_arrays(layers, columns)
    first_set = _int_column(columns, "first_stage_layers", -1)
    last_set = _int_column(columns, "last_stage_layers", -1)
    explicit = (first_set >= 0) | (last_set >= 0)
    both_two = (pp == 2) & (first_set >= 0) & (last_set >= 0) & (first_set + last_set != layers)
    over = np.where(first_set >= 0, first_set, 0) + np.where(last_set >= 0, last_set, 0) > layers
    chunk_layers = np.minimum(np.minimum(first, last), middle) // np.maximum(vpp, 1)
    split = explicit & ((pp == 1) | over | both_two)
    masks = {
        "gpus": (np.zeros(shape, dtype=bool) if gpus is None else tp * cp * pp * dp > int(gpus)),
        "batch": batch,
        "tp_heads": tp_heads,
        "tp_kv_heads": ~tp_heads & (kv_heads % tp != 0) & (tp % kv_heads != 0),
        "pp_layers": pp * vpp > layers,
        "pp_split": split,
        "vpp": pipelined & ((pp == 1) | (~batch & ((gb // dp_mb) % pp != 0))),
        "cp_seq": (cp > 1) & (seq % (2 * cp) != 0),
        "ep_dense": ((ep > 1) | (etp > 1) & (etp != tp)) & (experts == 0),
        "ep_experts": (ep > 1) & (experts != 0) & ((experts % ep) != 0),
        "ep_dp": (experts != 0) & (((tp * cp * dp) % (ep * etp)) != 0),
        "offload": (offload > np.maximum(chunk_layers, 0))
        | ((rc == 2) & (rc_layers > np.maximum(chunk_layers, 1))),
    }
    return {k: np.broadcast_to(v, shape) for k, v in masks.items()}


def stack_layouts(layouts: Sequence[Layout]) -> dict[str, Any]:
    """Stack layouts into column arrays (keys of :meth:`Layout.columns`).

    Integer arrays of equal length for every key but the
    :data:`SHARED_COLUMNS` (precision, capacity factor, expert load CV), which
    must be the same for all layouts and are returned as single values.

    Raises
    ------
    SpecError
        If ``layouts`` is empty or mixes precisions or MoE routing settings.
    """
    if not layouts:
        raise SpecError("layouts must hold at least one Layout, got an empty sequence")
    bad = [type(x).__name__ for x in layouts if not isinstance(x, Layout)]
    if bad:
        raise SpecError(f"layouts must hold Layout objects, got {bad[0]}")
    precisions = {lay.precision for lay in layouts}
    if len(precisions) != 1:
        got = sorted(p.value for p in precisions)
        raise SpecError(f"layouts of one call must share a precision, got {got}")
    rows = [lay.columns() for lay in layouts]
    out: dict[str, Any] = {
        k: np.array([r[k] for r in rows], dtype=np.int64)
        for k in rows[0]
        if k not in SHARED_COLUMNS
    }
    for key in SHARED_COLUMNS:
        values = {r[key] for r in rows}
        if len(values) != 1:
            raise SpecError(f"layouts of one call must share {key}, got {sorted(map(str, values))}")
        out[key] = rows[0][key]
    return out


def _msg_gpus(lay: Layout, model: Any, gpus: int | None) -> str:
    return (
        f"layout needs tp*cp*pp*dp = {lay.tp}*{lay.cp}*{lay.pp}*{lay.dp} = "
        f"{lay.gpus} GPUs but the cluster has {gpus}"
    )


def _msg_batch(lay: Layout, model: Any, gpus: int | None) -> str:
    return (
        f"global_batch {lay.global_batch} is not divisible by dp*micro_batch = "
        f"{lay.dp}*{lay.micro_batch} = {lay.dp * lay.micro_batch}"
    )


def _msg_tp_heads(lay: Layout, model: Any, gpus: int | None) -> str:
    return f"tp={lay.tp} does not divide the {int(model.heads)} attention heads"


def _msg_tp_kv_heads(lay: Layout, model: Any, gpus: int | None) -> str:
    kv_heads = int(getattr(model, "n_kv_heads", None) or model.heads)
    return f"tp={lay.tp} and the {kv_heads} key/value heads must divide one another"


def _msg_pp_layers(lay: Layout, model: Any, gpus: int | None) -> str:
    return (
        f"pp*vpp = {lay.pp}*{lay.vpp} = {lay.pp * lay.vpp} model chunks exceed "
        f"the {int(model.layers)} layers"
    )


def _msg_pp_split(lay: Layout, model: Any, gpus: int | None) -> str:
    first, middle, last = (int(x) for x in stage_layer_arrays(int(model.layers), lay.columns()))
    if lay.pp == 1:
        return "first_stage_layers/last_stage_layers need pipeline parallelism (pp > 1)"
    return (
        f"first_stage_layers={lay.first_stage_layers} and last_stage_layers="
        f"{lay.last_stage_layers} do not split the {int(model.layers)} layers over pp={lay.pp} "
        f"stages (first {first}, middle {middle}, last {last} layers; the given counts may "
        "not exceed the layers, and with two stages they must add up to them)"
    )


def _msg_vpp(lay: Layout, model: Any, gpus: int | None) -> str:
    if lay.pp == 1:
        return f"vpp={lay.vpp} needs pipeline parallelism (pp > 1)"
    return (
        f"interleaved schedule needs micro-batches ({lay.micro_batches}) divisible by pp ({lay.pp})"
    )


def _msg_cp_seq(lay: Layout, model: Any, gpus: int | None) -> str:
    return (
        f"seq_len {lay.seq_len} must be divisible by 2*cp = {2 * lay.cp} "
        "(load-balanced causal context parallelism)"
    )


def _msg_ep_dense(lay: Layout, model: Any, gpus: int | None) -> str:
    return f"ep={lay.ep} etp={lay.expert_tp} but {model.name} has no experts"


def _msg_ep_experts(lay: Layout, model: Any, gpus: int | None) -> str:
    return f"ep={lay.ep} does not divide the {int(getattr(model, 'experts', 0) or 0)} experts"


def _msg_ep_dp(lay: Layout, model: Any, gpus: int | None) -> str:
    return (
        f"ep*etp = {lay.ep}*{lay.expert_tp} = {lay.ep * lay.expert_tp} must divide "
        f"tp*cp*dp = {lay.tp * lay.cp * lay.dp} (expert groups fold over the "
        "tensor-, context- and data-parallel ranks of a stage)"
    )


def _msg_offload(lay: Layout, model: Any, gpus: int | None) -> str:
    first, middle, last = (int(x) for x in stage_layer_arrays(int(model.layers), lay.columns()))
    chunk = min(first, middle, last) // lay.vpp
    return (
        f"offload_layers={lay.offload_layers} and recompute_layers={lay.recompute_layers} "
        f"may not exceed the {chunk} layers of a model chunk"
    )


_MESSAGES: Mapping[str, Callable[[Layout, Any, int | None], str]] = {
    "gpus": _msg_gpus,
    "batch": _msg_batch,
    "tp_heads": _msg_tp_heads,
    "tp_kv_heads": _msg_tp_kv_heads,
    "pp_layers": _msg_pp_layers,
    "pp_split": _msg_pp_split,
    "vpp": _msg_vpp,
    "cp_seq": _msg_cp_seq,
    "ep_dense": _msg_ep_dense,
    "ep_experts": _msg_ep_experts,
    "ep_dp": _msg_ep_dp,
    "offload": _msg_offload,
}
