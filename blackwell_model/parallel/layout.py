"""Parallel layouts for training: how a model and its batch are split over GPUs."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from .._spec import Spec, enum_field, int_field
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.precision import Precision

__all__ = [
    "LAYOUT_RULES",
    "PLACEMENTS",
    "RECOMPUTE_CODES",
    "TRAINING_PRECISIONS",
    "Layout",
    "Recompute",
    "rule_masks",
    "stack_layouts",
]

#: Precisions a training layout may compute its GEMMs in.
TRAINING_PRECISIONS: tuple[Precision, ...] = (
    Precision.BF16,
    Precision.FP16,
    Precision.FP8,
    Precision.FP4,
)


#: Rank placements a layout may ask for, innermost dimension first, and their codes
#: in the array form.  ``tp-cp-ep-dp-pp`` is Megatron-Core's default (pipeline
#: stages outermost); ``tp-cp-ep-pp-dp`` puts pipeline neighbours next to each
#: other and data-parallel replicas outermost.
PLACEMENTS: dict[str, int] = {"tp-cp-ep-dp-pp": 0, "tp-cp-ep-pp-dp": 1}


def _placement(value: Any, field: attrs.Attribute) -> str:  # type: ignore[type-arg]
    text = str(value).strip().lower()
    if text not in PLACEMENTS:
        valid = ", ".join(repr(k) for k in PLACEMENTS)
        raise SpecError(f"{field.name} must be one of {valid}, got {value!r}")
    return text


class Recompute(enum.Enum):
    """Activation recomputation mode (Korthikanti et al. 2022)."""

    #: Keep every activation for the backward pass.
    NONE = "none"
    #: Recompute only the attention core (softmax, dropout, QK^T, AV).
    SELECTIVE = "selective"
    #: Keep only each layer's input; recompute the whole forward in backward.
    FULL = "full"


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
#: more model chunks (``pp * vpp``) than layers; ``vpp``: interleaving without
#: pipelining, or micro-batches not divisible by ``pp``; ``cp_seq``:
#: ``2 * cp`` does not divide ``seq_len``; ``ep_dense``: ``ep > 1`` on a dense
#: model; ``ep_experts``: ``ep`` does not divide the experts; ``ep_dp``: ``ep``
#: does not divide ``dp * cp``.
LAYOUT_RULES: tuple[str, ...] = (
    "gpus",
    "batch",
    "tp_heads",
    "tp_kv_heads",
    "pp_layers",
    "vpp",
    "cp_seq",
    "ep_dense",
    "ep_experts",
    "ep_dp",
)


def _training_precision(value: Any, field: attrs.Attribute) -> Precision:  # type: ignore[type-arg]
    p = Precision.parse(value)
    if p not in TRAINING_PRECISIONS:
        valid = ", ".join(x.value for x in TRAINING_PRECISIONS)
        raise SpecError(f"{field.name} must be one of {valid} for training, got {p.value!r}")
    return p


@attrs.frozen(kw_only=True, repr=False)
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
    placement
        Order in which the parallel dimensions are laid onto the ranks,
        innermost first (one of :data:`PLACEMENTS`).  The default,
        ``"tp-cp-ep-dp-pp"``, is Megatron-Core's: tensor parallel inside the
        scale-up domain, pipeline stages outermost.

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
        converter=attrs.Converter(_training_precision, takes_field=True),  # type: ignore[call-overload,misc]
        metadata={"bm_kind": "enum"},
    )
    recompute: Recompute = enum_field(Recompute, default=Recompute.NONE)
    zero: int = int_field(minimum=0, default=1)
    sequence_parallel: bool = True
    overlap_dp_comm: bool = True
    overlap_tp_comm: bool = True
    overlap_pp_comm: bool = True
    placement: str = attrs.field(
        default="tp-cp-ep-dp-pp",
        converter=attrs.Converter(_placement, takes_field=True),  # type: ignore[call-overload,misc]
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
    def micro_batches(self) -> int:
        """Micro-batches per step per pipeline: ``global_batch / (dp * micro_batch)``."""
        return self.global_batch // (self.dp * self.micro_batch)

    @property
    def tokens_per_step(self) -> int:
        """Tokens processed per optimizer step: ``global_batch * seq_len``."""
        return self.global_batch * self.seq_len

    @property
    def label(self) -> str:
        """Compact one-line form, e.g. ``'tp8 cp1 pp16 vpp1 dp64 ep1 mb1 bf16 rc=none zero1'``."""
        return (
            f"tp{self.tp} cp{self.cp} pp{self.pp} vpp{self.vpp} dp{self.dp} ep{self.ep} "
            f"mb{self.micro_batch} {self.precision.value} rc={self.recompute.value} zero{self.zero}"
        )

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

        Integers for the degrees and batch, the :data:`RECOMPUTE_CODES` code of
        ``recompute``, 0/1 for the flags and the :class:`Precision` itself.
        """
        return {
            "tp": self.tp,
            "cp": self.cp,
            "ep": self.ep,
            "pp": self.pp,
            "vpp": self.vpp,
            "dp": self.dp,
            "micro_batch": self.micro_batch,
            "global_batch": self.global_batch,
            "seq_len": self.seq_len,
            "recompute": RECOMPUTE_CODES[self.recompute],
            "zero": self.zero,
            "sequence_parallel": int(self.sequence_parallel),
            "overlap_dp": int(self.overlap_dp_comm),
            "overlap_tp": int(self.overlap_tp_comm),
            "overlap_pp": int(self.overlap_pp_comm),
            "placement": PLACEMENTS[self.placement],
            "precision": self.precision,
        }

    def stage_layers(self, layers: int) -> int:
        """Layers on the busiest pipeline stage: ``vpp * ceil(layers / (pp * vpp))``.

        Frameworks place uneven remainders on the first and last stages (which
        also hold the embedding and the loss); the busiest stage sets the pace.
        """
        return self.vpp * math.ceil(layers / (self.pp * self.vpp))


def _int_column(columns: Mapping[str, Any], key: str) -> np.ndarray:
    return np.asarray(columns[key], dtype=np.int64)


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
        vpp, micro_batch, global_batch, seq_len`` (as in
        :meth:`Layout.columns`; other keys are ignored).
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
    mb = _int_column(columns, "micro_batch")
    gb = _int_column(columns, "global_batch")
    seq = _int_column(columns, "seq_len")
    shape = np.broadcast_shapes(
        tp.shape, pp.shape, dp.shape, cp.shape, ep.shape, vpp.shape, mb.shape, gb.shape, seq.shape
    )
    heads = int(model.heads)
    kv_heads = int(getattr(model, "kv_heads", heads) or heads)
    layers = int(model.layers)
    experts = int(getattr(model, "experts", 0) or 0)

    dp_mb = dp * mb
    batch = gb % dp_mb != 0
    tp_heads = heads % tp != 0
    pipelined = vpp > 1
    masks = {
        "gpus": (np.zeros(shape, dtype=bool) if gpus is None else tp * cp * pp * dp > int(gpus)),
        "batch": batch,
        "tp_heads": tp_heads,
        "tp_kv_heads": ~tp_heads & (kv_heads % tp != 0) & (tp % kv_heads != 0),
        "pp_layers": pp * vpp > layers,
        "vpp": pipelined & ((pp == 1) | (~batch & ((gb // dp_mb) % pp != 0))),
        "cp_seq": (cp > 1) & (seq % (2 * cp) != 0),
        "ep_dense": (ep > 1) & (experts == 0),
        "ep_experts": (ep > 1) & (experts != 0) & ((experts % ep) != 0),
        "ep_dp": (ep > 1) & ((dp * cp) % ep != 0),
    }
    return {k: np.broadcast_to(v, shape) for k, v in masks.items()}


def stack_layouts(layouts: Sequence[Layout]) -> dict[str, Any]:
    """Stack layouts into column arrays (keys of :meth:`Layout.columns`).

    Integer arrays of equal length for every key but ``precision``, which must
    be the same for all layouts and is returned as the :class:`Precision`.

    Raises
    ------
    SpecError
        If ``layouts`` is empty or mixes precisions.
    """
    if not layouts:
        raise SpecError("layouts must hold at least one Layout, got an empty sequence")
    precisions = {lay.precision for lay in layouts}
    if len(precisions) != 1:
        got = sorted(p.value for p in precisions)
        raise SpecError(f"layouts of one call must share a precision, got {got}")
    rows = [lay.columns() for lay in layouts]
    out: dict[str, Any] = {
        k: np.array([r[k] for r in rows], dtype=np.int64) for k in rows[0] if k != "precision"
    }
    out["precision"] = layouts[0].precision
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
    kv_heads = int(getattr(model, "kv_heads", model.heads) or model.heads)
    return f"tp={lay.tp} and the {kv_heads} key/value heads must divide one another"


def _msg_pp_layers(lay: Layout, model: Any, gpus: int | None) -> str:
    return (
        f"pp*vpp = {lay.pp}*{lay.vpp} = {lay.pp * lay.vpp} model chunks exceed "
        f"the {int(model.layers)} layers"
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
    return f"ep={lay.ep} but {model.name} has no experts"


def _msg_ep_experts(lay: Layout, model: Any, gpus: int | None) -> str:
    return f"ep={lay.ep} does not divide the {int(getattr(model, 'experts', 0) or 0)} experts"


def _msg_ep_dp(lay: Layout, model: Any, gpus: int | None) -> str:
    return (
        f"ep={lay.ep} must divide dp*cp = {lay.dp * lay.cp} "
        "(experts are spread over data-parallel ranks)"
    )


_MESSAGES: Mapping[str, Callable[[Layout, Any, int | None], str]] = {
    "gpus": _msg_gpus,
    "batch": _msg_batch,
    "tp_heads": _msg_tp_heads,
    "tp_kv_heads": _msg_tp_kv_heads,
    "pp_layers": _msg_pp_layers,
    "vpp": _msg_vpp,
    "cp_seq": _msg_cp_seq,
    "ep_dense": _msg_ep_dense,
    "ep_experts": _msg_ep_experts,
    "ep_dp": _msg_ep_dp,
}
