"""Memory per GPU of a training layout: weights, gradients, optimizer state, activations.

The activation terms follow Korthikanti et al. 2022 ("Reducing Activation
Recomputation in Large Transformer Models", arXiv:2205.05198, §4), written for
a general block so that grouped-query attention, gated MLPs and MoE fit the
same expressions.  For a GPT block with MHA, a 4h GeLU MLP and dropout they
reduce to the paper's

.. math::

   \\text{no parallelism: } s b h \\left(34 + 5 \\frac{a s}{h}\\right), \\qquad
   \\text{TP: } s b h \\left(10 + \\frac{24}{t} + 5 \\frac{a s}{h t}\\right), \\qquad
   \\text{TP+SP: } \\frac{s b h}{t} \\left(34 + 5 \\frac{a s}{h}\\right)

bytes per layer, :math:`34\\,s b h / t` with selective recomputation and
:math:`2 s b h / t` (the layer input) with full recomputation.
"""

from __future__ import annotations

from typing import Any

import attrs
import pint

from ..units import Q_
from .layout import Layout, Recompute

__all__ = ["MemoryBreakdown", "MemoryModel", "activation_bytes_per_layer", "memory_per_gpu"]


@attrs.frozen(kw_only=True)
class MemoryModel:
    """Documented constants of the memory model.

    Parameters
    ----------
    weight_bytes
        Bytes per stored weight [B] (BF16 weights, also under FP8 training,
        where FP8 copies are transient).
    grad_bytes
        Bytes per gradient element [B] (Megatron accumulates main gradients in
        FP32).
    optimizer_bytes
        Bytes of Adam state per parameter [B]: FP32 master weight, first and
        second moments, 4 + 4 + 4.
    activation_bytes
        Bytes per stored activation element [B] (BF16).
    flash_attention
        Attention is a fused kernel that never stores the :math:`s \\times s`
        score matrix (FlashAttention); False reproduces Korthikanti et al.'s
        2022 runs, which stored it.
    dropout
        The model trains with dropout, which stores one-byte masks.
    buffer_bytes
        Communication and workspace buffers per GPU [B]: NCCL channels,
        gradient buckets, cuBLAS workspace (assumption: 1.5 GB).
    reserve_bytes
        CUDA context and allocator fragmentation per GPU [B] (assumption:
        3 GB, the headroom frameworks leave below the HBM capacity).
    """

    weight_bytes: float = 2.0
    grad_bytes: float = 4.0
    optimizer_bytes: float = 12.0
    activation_bytes: float = 2.0
    flash_attention: bool = True
    dropout: bool = False
    buffer_bytes: float = 1.5e9
    reserve_bytes: float = 3.0e9


@attrs.frozen(kw_only=True)
class MemoryBreakdown:
    """Bytes needed on the busiest GPU, by kind (floats in bytes).

    ``total_B`` is the sum of the parts; :attr:`total` is the same as a Quantity.
    """

    weights_B: float
    gradients_B: float
    optimizer_B: float
    activations_B: float
    buffers_B: float
    reserve_B: float

    @property
    def total_B(self) -> float:
        """Sum of every part [B]."""
        return (
            self.weights_B
            + self.gradients_B
            + self.optimizer_B
            + self.activations_B
            + self.buffers_B
            + self.reserve_B
        )

    @property
    def total(self) -> pint.Quantity:
        """Total bytes as a Quantity [B]."""
        return Q_(self.total_B, "B")

    def as_dict(self) -> dict[str, pint.Quantity]:
        """Each part as a Quantity [B], keyed by kind."""
        return {
            "weights": Q_(self.weights_B, "B"),
            "gradients": Q_(self.gradients_B, "B"),
            "optimizer": Q_(self.optimizer_B, "B"),
            "activations": Q_(self.activations_B, "B"),
            "buffers": Q_(self.buffers_B, "B"),
            "reserve": Q_(self.reserve_B, "B"),
        }


def activation_bytes_per_layer(
    model: Any,
    *,
    micro_batch: int,
    seq_len: int,
    tp: int = 1,
    sequence_parallel: bool = True,
    recompute: Recompute | str = Recompute.NONE,
    moe: bool = False,
    memory: MemoryModel | None = None,
) -> float:
    """Activation bytes one layer keeps for its backward pass, for one micro-batch [B].

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer`.
    micro_batch
        Sequences per micro-batch :math:`b`.
    seq_len
        Tokens per sequence on this GPU :math:`s` (already divided by ``cp``).
    tp
        Tensor-parallel degree :math:`t`.
    sequence_parallel
        Megatron sequence parallelism (shards the norm and dropout regions).
    recompute
        :class:`~blackwell_model.parallel.Recompute` mode.
    moe
        The layer's feed-forward block is MoE (top-k routed experts plus shared
        experts) rather than dense.
    memory
        Model constants; defaults to :class:`MemoryModel`.

    Returns
    -------
    float
        Bytes [B].
    """
    mem = memory or MemoryModel()
    rc = Recompute(recompute) if not isinstance(recompute, Recompute) else recompute
    h = float(model.hidden)
    sbh = float(seq_len) * micro_batch * h
    t = float(tp)
    act = mem.activation_bytes
    if rc is Recompute.FULL:
        return act * sbh / (t if sequence_parallel and tp > 1 else 1.0)
    heads = float(model.heads)
    kvr = model.n_kv_heads * model.qk_dim / (model.heads * model.qk_dim) if model.heads else 1.0
    q_ratio = model.q_width / h
    # Regions split over TP ranks (per sbh, in activation-bytes units of 2 B):
    # Q and K for QK^T, V, attention output (projection input).
    attn_tp = act * (q_ratio * (1.0 + kvr) + q_ratio * kvr + q_ratio)
    if moe:
        ffn = float(model.expert_ffn_hidden)
        routed = float(model.experts_per_token) + float(model.shared_experts)
    else:
        ffn = float(model.ffn_hidden)
        routed = 1.0
    # fc1 outputs feeding the activation (gate and up for gated MLPs) and the fc2
    # input, per routed copy; ``matrices`` counts fc1 (1 or 2) plus fc2
    fc1_outputs = float(model.activation.matrices - 1)
    mlp_tp = act * routed * (fc1_outputs * ffn / h + ffn / h)
    if moe:
        mlp_tp += act * routed  # routed copies of the expert input
    # Regions each TP rank holds whole unless sequence parallel: two norm inputs,
    # the QKV and fc1 inputs, dropout masks (1 B each).
    masks = 2.0 if mem.dropout else 0.0
    replicated = 2.0 * act + 2.0 * act + masks
    per_sbh = replicated / (t if sequence_parallel else 1.0) + (attn_tp + mlp_tp) / t
    total = per_sbh * sbh
    if rc is Recompute.NONE and not mem.flash_attention:
        # softmax output (2 B), and with dropout its mask (1 B) and output (2 B)
        s2 = 5.0 if mem.dropout else 2.0
        total += s2 * heads * float(seq_len) ** 2 * micro_batch / t * (act / 2.0)
    return total


def _stage_params(model: Any, layout: Layout) -> tuple[float, float]:
    """(dense, expert) parameters held by one GPU of the busiest stage, before ZeRO."""
    layers = model.layers
    stage = layout.stage_layers(layers)
    moe_frac = model.n_moe_layers / layers
    dense_layer = model.attention_params + model.block_norm_params
    dense_ffn = model.dense_mlp_params
    n_moe = stage * moe_frac
    n_dense = stage - n_moe
    dense = (n_dense * (dense_layer + dense_ffn) + n_moe * dense_layer) / layout.tp
    if model.is_moe:
        dense += n_moe * (
            model.router_params + model.shared_experts * model.expert_params / layout.tp
        )
        expert = n_moe * model.experts * model.expert_params / (layout.ep * layout.tp)
    else:
        expert = 0.0
    emb = (
        model.embedding_params + model.lm_head_params
        if layout.pp == 1
        else max(model.embedding_params, model.lm_head_params)
    )
    dense += emb / layout.tp
    return dense, expert


def memory_per_gpu(
    model: Any, layout: Layout, *, memory: MemoryModel | None = None
) -> MemoryBreakdown:
    """Memory needed on the busiest GPU (the first pipeline stage) of a training layout.

    Weights, gradients and Adam state follow mixed-precision training with
    ZeRO stage ``layout.zero`` over the data-parallel group (``dp * cp``
    ranks for dense weights, ``dp * cp / ep`` for experts).  Activations
    follow :func:`activation_bytes_per_layer` times the micro-batches in
    flight on the first stage: ``min(m, pp)`` for 1F1B and
    ``pp * (1 + (pp - 1) / (pp * vpp))`` layer-sets for the interleaved
    schedule (Korthikanti et al. 2022, §4.2.3).

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer`.
    layout
        The :class:`~blackwell_model.parallel.Layout`.
    memory
        Model constants; defaults to :class:`MemoryModel`.
    """
    mem = memory or MemoryModel()
    dense, expert = _stage_params(model, layout)
    shard_dense = float(layout.dp * layout.cp)
    shard_expert = max(1.0, layout.dp * layout.cp / layout.ep)
    params = dense + expert

    def sharded(n_dense: float, n_expert: float) -> float:
        return n_dense / shard_dense + n_expert / shard_expert

    weights = params * mem.weight_bytes
    grads = params * mem.grad_bytes
    opt = params * mem.optimizer_bytes
    if layout.zero >= 1:
        opt = sharded(dense, expert) * mem.optimizer_bytes
    if layout.zero >= 2:
        grads = sharded(dense, expert) * mem.grad_bytes
    if layout.zero >= 3:
        per_layer = params / max(1, layout.stage_layers(model.layers))
        # sharded weights plus two gathered layers (current and prefetched)
        weights = sharded(dense, expert) * mem.weight_bytes + 2.0 * per_layer * mem.weight_bytes

    s_local = layout.seq_len // layout.cp
    stage = layout.stage_layers(model.layers)
    moe_frac = model.n_moe_layers / model.layers
    kw = dict(
        micro_batch=layout.micro_batch,
        seq_len=s_local,
        tp=layout.tp,
        sequence_parallel=layout.sequence_parallel,
        recompute=layout.recompute,
        memory=mem,
    )
    per_layer = (1.0 - moe_frac) * activation_bytes_per_layer(model, moe=False, **kw)  # type: ignore[arg-type]
    if moe_frac:
        per_layer += moe_frac * activation_bytes_per_layer(model, moe=True, **kw)  # type: ignore[arg-type]
    m = layout.micro_batches
    if layout.pp == 1:
        in_flight = 1.0
    elif layout.vpp == 1:
        in_flight = float(min(m, layout.pp))
    else:
        in_flight = min(float(m), layout.pp * (1.0 + (layout.pp - 1) / (layout.pp * layout.vpp)))
    acts = per_layer * stage * in_flight
    if layout.recompute is Recompute.FULL:
        # one layer is recomputed at a time and holds its full activations
        acts += activation_bytes_per_layer(
            model,
            moe=moe_frac > 0,
            **{**kw, "recompute": Recompute.SELECTIVE},  # type: ignore[arg-type]
        )
    # FP32 logits of the loss on the last stage (counted when it is also the first)
    if layout.pp == 1:
        acts += 4.0 * layout.micro_batch * s_local * model.vocab / layout.tp
    return MemoryBreakdown(
        weights_B=weights,
        gradients_B=grads,
        optimizer_B=opt,
        activations_B=acts,
        buffers_B=mem.buffer_bytes,
        reserve_B=mem.reserve_bytes,
    )
