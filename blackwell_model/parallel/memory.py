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

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pint

from ..units import Q_
from .layout import RECOMPUTE_CODES, Layout, Recompute

__all__ = [
    "MEMORY_KEYS",
    "MemoryBreakdown",
    "MemoryModel",
    "activation_bytes_arrays",
    "activation_bytes_per_layer",
    "memory_arrays",
    "memory_per_gpu",
]

#: Keys of :func:`memory_arrays`, in the order of :meth:`MemoryBreakdown.as_dict`
#: (each part in bytes; ``total_B`` is their sum).
MEMORY_KEYS: tuple[str, ...] = (
    "weights_B",
    "gradients_B",
    "optimizer_B",
    "activations_B",
    "buffers_B",
    "reserve_B",
    "total_B",
)

_NONE = RECOMPUTE_CODES[Recompute.NONE]
_SELECTIVE = RECOMPUTE_CODES[Recompute.SELECTIVE]
_FULL = RECOMPUTE_CODES[Recompute.FULL]


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


def _recompute_code(value: Any) -> Any:
    """Recompute mode(s) as :data:`~blackwell_model.parallel.RECOMPUTE_CODES` integers."""
    if isinstance(value, Recompute):
        return RECOMPUTE_CODES[value]
    if isinstance(value, str):
        return RECOMPUTE_CODES[Recompute(value)]
    return np.asarray(value, dtype=np.int64)


def activation_bytes_arrays(
    model: Any,
    *,
    micro_batch: Any,
    seq_len: Any,
    tp: Any = 1,
    sequence_parallel: Any = True,
    recompute: Any = Recompute.NONE,
    moe: bool = False,
    memory: MemoryModel | None = None,
) -> np.ndarray:
    """Activation bytes one layer keeps for one micro-batch, for arrays of candidates [B].

    The array form of :func:`activation_bytes_per_layer` (which calls it):
    every argument but ``model``, ``moe`` and ``memory`` may be a scalar or an
    array; they broadcast together.  ``recompute`` takes a :class:`Recompute`,
    its name, or an array of :data:`~blackwell_model.parallel.RECOMPUTE_CODES`
    codes (0 none, 1 selective, 2 full).

    Returns
    -------
    numpy.ndarray
        Bytes [B], of the broadcast shape of the inputs.
    """
    mem = memory or MemoryModel()
    rc = _recompute_code(recompute)
    s = np.asarray(seq_len, dtype=float)
    b = np.asarray(micro_batch, dtype=float)
    t = np.asarray(tp, dtype=float)
    sp = np.asarray(sequence_parallel, dtype=bool)
    h = float(model.hidden)
    sbh = s * b * h
    act = mem.activation_bytes
    # full recomputation keeps the layer input, sharded over TP with sequence parallelism
    full = act * sbh / np.where(sp & (t > 1), t, 1.0)
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
    per_sbh = replicated / np.where(sp, t, 1.0) + (attn_tp + mlp_tp) / t
    kept = per_sbh * sbh
    if not mem.flash_attention:
        # softmax output (2 B), and with dropout its mask (1 B) and output (2 B)
        s2 = 5.0 if mem.dropout else 2.0
        scores = s2 * heads * s**2 * b / t * (act / 2.0)
        kept = kept + np.where(rc == _NONE, scores, 0.0)
    return np.asarray(np.where(rc == _FULL, full, kept), dtype=float)


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

    See Also
    --------
    activation_bytes_arrays : the same for arrays of candidates.
    """
    rc = Recompute(recompute) if not isinstance(recompute, Recompute) else recompute
    return float(
        activation_bytes_arrays(
            model,
            micro_batch=micro_batch,
            seq_len=seq_len,
            tp=tp,
            sequence_parallel=sequence_parallel,
            recompute=rc,
            moe=moe,
            memory=memory,
        )
    )


def memory_arrays(
    model: Any, columns: Mapping[str, Any], *, memory: MemoryModel | None = None
) -> dict[str, np.ndarray]:
    """Memory needed on the busiest GPU of each candidate layout, by kind [B].

    The array core of :func:`memory_per_gpu` (which calls it with one
    layout): the same formulas evaluated on numpy arrays of candidates.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer`.
    columns
        Equal-length integer arrays (or scalars) keyed ``tp, pp, dp, cp, ep,
        vpp, micro_batch, global_batch, seq_len, recompute`` (codes of
        :data:`~blackwell_model.parallel.RECOMPUTE_CODES`), ``zero`` and
        ``sequence_parallel`` (0/1), as in
        :meth:`~blackwell_model.parallel.Layout.columns`.  Candidates should
        pass the divisibility rules (:func:`~blackwell_model.parallel.rule_masks`).
    memory
        Model constants; defaults to :class:`MemoryModel`.

    Returns
    -------
    dict of str to numpy.ndarray
        :data:`MEMORY_KEYS` -> bytes [B] per candidate (float arrays).
    """
    mem = memory or MemoryModel()

    def col(key: str) -> np.ndarray:
        return np.asarray(columns[key], dtype=np.int64)

    tp, pp, dp, cp, ep, vpp = (col(k) for k in ("tp", "pp", "dp", "cp", "ep", "vpp"))
    mb, gb, seq, zero = (col(k) for k in ("micro_batch", "global_batch", "seq_len", "zero"))
    rc = col("recompute")
    sp = np.asarray(columns["sequence_parallel"], dtype=bool)
    layers = int(model.layers)
    stage = vpp * -(-layers // (pp * vpp))
    moe_frac = model.n_moe_layers / layers

    # parameters held by one GPU of the busiest stage, before ZeRO
    n_moe = stage * moe_frac
    n_dense = stage - n_moe
    tpf = tp.astype(float)
    dense_layer = float(model.attention_params + model.block_norm_params)
    dense_ffn = float(model.dense_mlp_params)
    dense = (n_dense * (dense_layer + dense_ffn) + n_moe * dense_layer) / tpf
    if model.is_moe:
        dense = dense + n_moe * (
            model.router_params + model.shared_experts * model.expert_params / tpf
        )
        expert = n_moe * model.experts * model.expert_params / (ep * tpf)
    else:
        expert = np.zeros_like(dense)
    emb = np.where(
        pp == 1,
        float(model.embedding_params + model.lm_head_params),
        float(max(model.embedding_params, model.lm_head_params)),
    )
    dense = dense + emb / tpf

    shard_dense = (dp * cp).astype(float)
    shard_expert = np.maximum(1.0, dp * cp / ep)
    params = dense + expert
    sharded = dense / shard_dense + expert / shard_expert
    weights = params * mem.weight_bytes
    grads = np.where(zero >= 2, sharded, params) * mem.grad_bytes
    opt = np.where(zero >= 1, sharded, params) * mem.optimizer_bytes
    # ZeRO-3: sharded weights plus two gathered layers (current and prefetched)
    gathered = 2.0 * params / np.maximum(1, stage) * mem.weight_bytes
    weights = np.where(zero >= 3, sharded * mem.weight_bytes + gathered, weights)

    s_local = seq // cp
    kw: dict[str, Any] = dict(
        micro_batch=mb, seq_len=s_local, tp=tp, sequence_parallel=sp, memory=mem
    )
    per_layer = (1.0 - moe_frac) * activation_bytes_arrays(model, moe=False, recompute=rc, **kw)
    if moe_frac:
        per_layer = per_layer + moe_frac * activation_bytes_arrays(
            model, moe=True, recompute=rc, **kw
        )
    m = (gb // (dp * mb)).astype(float)
    interleaved = np.minimum(m, pp * (1.0 + (pp - 1) / (pp * vpp)))
    in_flight = np.where(pp == 1, 1.0, np.where(vpp == 1, np.minimum(m, pp), interleaved))
    acts = per_layer * stage * in_flight
    # full recomputation: one layer is recomputed at a time and holds its full activations
    one_layer = activation_bytes_arrays(model, moe=moe_frac > 0, recompute=_SELECTIVE, **kw)
    acts = acts + np.where(rc == _FULL, one_layer, 0.0)
    # FP32 logits of the loss on the last stage (counted when it is also the first)
    logits = 4.0 * mb * s_local * float(model.vocab) / tpf
    acts = acts + np.where(pp == 1, logits, 0.0)

    shape = acts.shape
    out = {
        "weights_B": np.broadcast_to(weights, shape).astype(float),
        "gradients_B": np.broadcast_to(grads, shape).astype(float),
        "optimizer_B": np.broadcast_to(opt, shape).astype(float),
        "activations_B": acts.astype(float),
        "buffers_B": np.full(shape, float(mem.buffer_bytes)),
        "reserve_B": np.full(shape, float(mem.reserve_bytes)),
    }
    total = np.zeros(shape)
    for v in out.values():
        total = total + v
    out["total_B"] = total
    return out


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
    schedule (Korthikanti et al. 2022, §4.2.3).  A thin wrapper over
    :func:`memory_arrays`.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer`.
    layout
        The :class:`~blackwell_model.parallel.Layout`.
    memory
        Model constants; defaults to :class:`MemoryModel`.
    """
    arr = memory_arrays(model, layout.columns(), memory=memory)
    return MemoryBreakdown(
        weights_B=float(arr["weights_B"]),
        gradients_B=float(arr["gradients_B"]),
        optimizer_B=float(arr["optimizer_B"]),
        activations_B=float(arr["activations_B"]),
        buffers_B=float(arr["buffers_B"]),
        reserve_B=float(arr["reserve_B"]),
    )
