"""Parallel layouts for training: how a model and its batch are split over GPUs."""

from __future__ import annotations

import enum
import math
from typing import Any

import attrs

from .._spec import Spec, enum_field, int_field
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.precision import Precision

__all__ = ["TRAINING_PRECISIONS", "Layout", "Recompute"]

#: Precisions a training layout may compute its GEMMs in.
TRAINING_PRECISIONS: tuple[Precision, ...] = (
    Precision.BF16,
    Precision.FP16,
    Precision.FP8,
    Precision.FP4,
)


class Recompute(enum.Enum):
    """Activation recomputation mode (Korthikanti et al. 2022)."""

    #: Keep every activation for the backward pass.
    NONE = "none"
    #: Recompute only the attention core (softmax, dropout, QK^T, AV).
    SELECTIVE = "selective"
    #: Keep only each layer's input; recompute the whole forward in backward.
    FULL = "full"


def _training_precision(value: Any, field: attrs.Attribute) -> Precision:  # type: ignore[type-arg]
    p = Precision.parse(value)
    if p not in TRAINING_PRECISIONS:
        valid = ", ".join(x.value for x in TRAINING_PRECISIONS)
        raise SpecError(f"{field.name} must be one of {valid} for training, got {p.value!r}")
    return p


@attrs.frozen(kw_only=True)
class Layout(Spec):
    """A training layout: parallel degrees, batch, precision and memory savers.

    The GPUs used are ``tp * cp * pp * dp``.  Expert parallelism is carved out
    of data parallelism (Megatron convention): ``ep`` must divide ``dp * cp``
    and does not multiply the GPU count.

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
        Expert-parallel degree for MoE layers (divides ``dp * cp``).
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
        master weights and optimizer state).
    recompute
        :class:`Recompute` mode ("none", "selective", "full").
    zero
        ZeRO stage over the data-parallel group: 0 replicates everything, 1
        shards optimizer state (Megatron's distributed optimizer), 2 also
        gradients, 3 also weights (FSDP).
    sequence_parallel
        Megatron sequence parallelism for the non-GEMM regions when ``tp > 1``.
    overlap_dp_comm
        Overlap the data-parallel gradient reduction (and ZeRO-3 weight
        gathers) with backward/forward compute.
    overlap_tp_comm
        Overlap tensor-parallel collectives with GEMMs (userbuffers-style).
    overlap_pp_comm
        Overlap pipeline send/receive with compute.

    Examples
    --------
    >>> lay = Layout(tp=8, pp=16, dp=64, micro_batch=1, global_batch=2048, seq_len=8192)
    >>> lay.gpus, lay.micro_batches
    (8192, 32)
    """

    tp: int = int_field(minimum=1, default=1)
    pp: int = int_field(minimum=1, default=1)
    dp: int = int_field(minimum=1, default=1)
    cp: int = int_field(minimum=1, default=1)
    ep: int = int_field(minimum=1, default=1)
    vpp: int = int_field(minimum=1, default=1)
    micro_batch: int = int_field(minimum=1, default=1)
    global_batch: int = int_field(minimum=1)
    seq_len: int = int_field(minimum=1)
    precision: Precision = attrs.field(
        default=Precision.BF16,
        converter=attrs.Converter(_training_precision, takes_field=True),  # type: ignore[call-overload]
        metadata={"bm_kind": "enum"},
    )
    recompute: Recompute = enum_field(Recompute, default=Recompute.NONE)
    zero: int = int_field(minimum=0, default=1)
    sequence_parallel: bool = True
    overlap_dp_comm: bool = True
    overlap_tp_comm: bool = True
    overlap_pp_comm: bool = True

    @zero.validator
    def _check_zero(self, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
        if value > 3:
            raise SpecError(f"zero must be 0, 1, 2 or 3, got {value}")

    @property
    def gpus(self) -> int:
        """GPUs the layout occupies: ``tp * cp * pp * dp``."""
        return self.tp * self.cp * self.pp * self.dp

    @property
    def micro_batches(self) -> int:
        """Micro-batches per step per pipeline: ``global_batch / (dp * micro_batch)``."""
        return self.global_batch // (self.dp * self.micro_batch)

    @property
    def tokens_per_step(self) -> int:
        """Tokens processed per optimizer step: ``global_batch * seq_len``."""
        return self.global_batch * self.seq_len

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
        """Every rule the layout breaks, as ``(rule, message)`` pairs (empty if none)."""
        out: list[tuple[str, str]] = []
        if gpus is not None and self.gpus > gpus:
            out.append(
                (
                    "gpus",
                    f"layout needs tp*cp*pp*dp = {self.tp}*{self.cp}*{self.pp}*{self.dp} = "
                    f"{self.gpus} GPUs but the cluster has {gpus}",
                )
            )
        if self.global_batch % (self.dp * self.micro_batch):
            out.append(
                (
                    "batch",
                    f"global_batch {self.global_batch} is not divisible by dp*micro_batch = "
                    f"{self.dp}*{self.micro_batch} = {self.dp * self.micro_batch}",
                )
            )
        heads = int(model.heads)
        kv_heads = int(getattr(model, "kv_heads", heads) or heads)
        if heads % self.tp:
            out.append(("tp_heads", f"tp={self.tp} does not divide the {heads} attention heads"))
        elif kv_heads % self.tp and self.tp % kv_heads:
            out.append(
                (
                    "tp_kv_heads",
                    f"tp={self.tp} and the {kv_heads} key/value heads must divide one another",
                )
            )
        layers = int(model.layers)
        if self.pp * self.vpp > layers:
            out.append(
                (
                    "pp_layers",
                    f"pp*vpp = {self.pp}*{self.vpp} = {self.pp * self.vpp} model chunks exceed "
                    f"the {layers} layers",
                )
            )
        if self.vpp > 1:
            if self.pp == 1:
                out.append(("vpp", f"vpp={self.vpp} needs pipeline parallelism (pp > 1)"))
            elif (
                self.global_batch % (self.dp * self.micro_batch) == 0
                and self.micro_batches % self.pp
            ):
                out.append(
                    (
                        "vpp",
                        f"interleaved schedule needs micro-batches ({self.micro_batches}) divisible "
                        f"by pp ({self.pp})",
                    )
                )
        if self.cp > 1 and self.seq_len % (2 * self.cp):
            out.append(
                (
                    "cp_seq",
                    f"seq_len {self.seq_len} must be divisible by 2*cp = {2 * self.cp} "
                    "(load-balanced causal context parallelism)",
                )
            )
        experts = int(getattr(model, "experts", 0) or 0)
        if self.ep > 1:
            if experts == 0:
                out.append(("ep_dense", f"ep={self.ep} but {model.name} has no experts"))
            elif experts % self.ep:
                out.append(("ep_experts", f"ep={self.ep} does not divide the {experts} experts"))
            if (self.dp * self.cp) % self.ep:
                out.append(
                    (
                        "ep_dp",
                        f"ep={self.ep} must divide dp*cp = {self.dp * self.cp} "
                        "(experts are spread over data-parallel ranks)",
                    )
                )
        return out

    def stage_layers(self, layers: int) -> int:
        """Layers on the busiest pipeline stage: ``vpp * ceil(layers / (pp * vpp))``.

        Frameworks place uneven remainders on the first and last stages (which
        also hold the embedding and the loss); the busiest stage sets the pace.
        """
        return self.vpp * math.ceil(layers / (self.pp * self.vpp))
