"""Memory per GPU of a training layout, per pipeline rank: weights, gradients, optimizer, activations.

The model follows what Megatron-Core allocates.  Weights are BF16 (plus the
FP8/FP4 copies Transformer Engine keeps under low-precision recipes);
gradients live in a buffer of the reduce precision (FP32, or BF16 with
``grad_reduce_in_fp32=False``); Adam keeps FP32 master weights and two
moments in :attr:`~blackwell_model.parallel.Layout.moments_precision`; ZeRO
stages 1-3 shard optimizer state, gradients and weights over the
data-parallel group (dense parameters over ``dp * cp`` ranks, expert
parameters over the expert data-parallel group).

Activations are the tensors each layer saves for its backward pass, counted
one by one with the precision they are stored in (GEMM inputs in one byte
under FP8 recipes) and the parallel dimension that shards them; recomputed
modules drop their tensors, offloaded layers keep theirs in host memory.  For
a GPT block with MHA, a 4h GeLU MLP and dropout the sum reduces to
Korthikanti et al.'s

.. math::

   \\text{no parallelism: } s b h \\left(34 + 5 \\frac{a s}{h}\\right), \\qquad
   \\text{TP: } s b h \\left(10 + \\frac{24}{t} + 5 \\frac{a s}{h t}\\right), \\qquad
   \\text{TP+SP: } \\frac{s b h}{t} \\left(34 + 5 \\frac{a s}{h}\\right)

bytes per layer, :math:`34\\,s b h / t` with selective recomputation and
:math:`2 s b h / t` (the layer input) with full recomputation.

Each pipeline rank holds its own layers and in-flight micro-batches: the first
rank holds the most micro-batches (``min(m, pp)`` with 1F1B,
``pp + (pp - 1) / vpp`` layer sets interleaved, Megatron's warm-up count) and
the embedding; the last rank holds the LM head, the logits of the loss and the
MTP layers.  :func:`memory_arrays` evaluates the first, the busiest middle and
the last rank and reports the busiest.

References
----------
.. [1] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198, §4.
.. [2] Megatron-LM ``megatron/training/theoretical_memory_usage.py``
   (``report_theoretical_memory``): 18 bytes per parameter without and
   :math:`6 + 12/d` with the distributed optimizer; activations
   :math:`s b h (18 + 4 F/h) / t` per layer with selective recomputation,
   flash attention and sequence parallelism, times
   :math:`p (1 + (p - 1)/(p v))` layer sets on the first stage.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pint

from .._spec import bool_field
from ..errors import SpecError
from ..units import Q_, finite_non_negative, fraction
from ..workload.moe import expert_load_factor
from .layout import RECOMPUTE_CODES, RECOMPUTE_MODULES, Layout, Recompute, stage_layer_arrays

__all__ = [
    "MEMORY_KEYS",
    "RANKS",
    "MemoryBreakdown",
    "MemoryModel",
    "activation_bytes_arrays",
    "activation_bytes_per_layer",
    "expert_load_factor",
    "in_flight_arrays",
    "memory_arrays",
    "memory_per_gpu",
    "stage_moe_layers",
    "stage_param_arrays",
]

#: Keys of :func:`memory_arrays`, in the order of :meth:`MemoryBreakdown.as_dict`
#: (each part in bytes on the busiest rank; ``total_B`` is their sum).
MEMORY_KEYS: tuple[str, ...] = (
    "weights_B",
    "gradients_B",
    "optimizer_B",
    "activations_B",
    "buffers_B",
    "reserve_B",
    "total_B",
)

#: Pipeline ranks the memory model evaluates: the first, the busiest middle and
#: the last (``memory_arrays`` adds ``<rank>_B`` totals and ``busiest``, the
#: index into this tuple).
RANKS: tuple[str, ...] = ("first", "middle", "last")

_NONE = RECOMPUTE_CODES[Recompute.NONE]
_SELECTIVE = RECOMPUTE_CODES[Recompute.SELECTIVE]
_FULL = RECOMPUTE_CODES[Recompute.FULL]
_BIT = {name: 1 << i for i, name in enumerate(RECOMPUTE_MODULES)}
_FRACTION = fraction()


@attrs.frozen(kw_only=True)
class MemoryModel:
    """Documented constants of the memory model (what a framework era allocates).

    Parameters
    ----------
    weight_bytes
        Bytes per stored model weight [B] (BF16).
    activation_bytes
        Bytes per stored activation element that is not a GEMM input [B]
        (BF16).
    flash_attention
        Attention is a fused kernel that never stores the :math:`s \\times s`
        score matrix (FlashAttention); False reproduces Korthikanti et al.'s
        2022 runs, which stored it.
    dropout
        The model trains with dropout, which stores one-byte masks.
    low_precision_weight_copies
        Copies of the weights Transformer Engine keeps in the GEMM precision
        between micro-batches under FP8/FP4 recipes [copies of the local
        weights, each of ``precision.bytes`` per weight]; 1 by default (the
        cached cast weight).
    logits_bytes
        Bytes per logit kept by the loss on the last stage [B]: 2 with the
        fused cross-entropy of Megatron-Core (BF16 logits, gradient in place),
        4 where the loss upcasts to FP32 (Megatron-LM 2021/2022).
    fsdp_buffered_layers
        Layers whose gathered (unsharded) weights and unreduced gradients
        FSDP holds at once (the current layer and the prefetched next one).
    offload_buffered_layers
        Layers' activations an offloading rank keeps on the GPU while they
        stream to or from host memory (double buffering).
    buffer_bytes
        Communication and workspace buffers per GPU [B]: NCCL channels and
        the cuBLAS/cuDNN workspaces (assumption: 1.5 GB).
    reserve_bytes
        CUDA context and the allocator's own reserve per GPU [B]
        (assumption: 0.75 GB; the context alone is about 0.5 GiB on Hopper).
    fragmentation
        Fraction of the activation and buffer memory lost to the caching
        allocator's fragmentation (assumption: 5 %).

    Examples
    --------
    >>> MemoryModel.megatron_2022().logits_bytes
    4.0
    """

    weight_bytes: float = attrs.field(default=2.0, validator=finite_non_negative)
    activation_bytes: float = attrs.field(default=2.0, validator=finite_non_negative)
    flash_attention: bool = bool_field(default=True)
    dropout: bool = bool_field(default=False)
    low_precision_weight_copies: float = attrs.field(default=1.0, validator=finite_non_negative)
    logits_bytes: float = attrs.field(default=2.0, validator=finite_non_negative)
    fsdp_buffered_layers: float = attrs.field(default=2.0, validator=finite_non_negative)
    offload_buffered_layers: float = attrs.field(default=1.0, validator=finite_non_negative)
    buffer_bytes: float = attrs.field(default=1.5e9, validator=finite_non_negative)
    reserve_bytes: float = attrs.field(default=0.75e9, validator=finite_non_negative)
    fragmentation: float = attrs.field(default=0.05, validator=_FRACTION)

    @classmethod
    def megatron_2022(cls) -> MemoryModel:
        """Megatron-LM 2021/2022 (Narayanan, Korthikanti): unfused attention, dropout, FP32 logits."""
        return cls(flash_attention=False, dropout=True, logits_bytes=4.0)


@attrs.frozen(kw_only=True)
class MemoryBreakdown:
    """Bytes needed on the busiest GPU, by kind (floats in bytes).

    ``total_B`` is the sum of the parts; :attr:`total` is the same as a Quantity.

    Parameters
    ----------
    weights_B, gradients_B, optimizer_B, activations_B, buffers_B, reserve_B
        Parts on the busiest pipeline rank [B].
    rank
        Which pipeline rank is the busiest (one of :data:`RANKS`).
    ranks_B
        Total on the first, busiest middle and last rank [B].
    offloaded_B
        Activations kept in host memory by that rank [B].
    """

    weights_B: float
    gradients_B: float
    optimizer_B: float
    activations_B: float
    buffers_B: float
    reserve_B: float
    rank: str = "first"
    ranks_B: Mapping[str, float] = attrs.field(factory=dict)
    offloaded_B: float = 0.0

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

    def per_rank(self) -> dict[str, pint.Quantity]:
        """Total memory of the first, busiest middle and last pipeline rank [B]."""
        return {k: Q_(v, "B") for k, v in self.ranks_B.items()}


# ------------------------------------------------------------- activations
def _recompute_code(value: Any) -> Any:
    """Recompute mode(s) as :data:`~blackwell_model.parallel.RECOMPUTE_CODES` integers."""
    if isinstance(value, Recompute):
        return RECOMPUTE_CODES[value]
    if isinstance(value, str):
        return RECOMPUTE_CODES[Recompute(value)]
    return np.asarray(value, dtype=np.int64)


@functools.lru_cache(maxsize=256)
def _terms(model: Any, moe: bool, gemm_bytes: float, memory: MemoryModel) -> dict[str, float]:
    """Saved bytes per token of one layer, by sharding and by what frees them.

    Keys: ``<shard>:<freed by>`` where shard is ``sp`` (split over TP with
    sequence parallelism), ``tp`` (split over TP), ``rep`` (every TP rank holds
    all tokens), ``routed`` (per routed token copy on the rank), ``routed_w``
    (per routed copy, split over ETP) and freed by is a recompute module, ``keep``
    (only full recomputation frees it) or ``input`` (the layer input, which full
    recomputation keeps).
    """
    a = memory.activation_bytes
    g = gemm_bytes
    h = float(model.hidden)
    terms: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        terms[key] = terms.get(key, 0.0) + value

    masks = 1.0 if memory.dropout else 0.0
    add("sp:input", a * h)  # layer input = input of the first norm
    add("sp:layernorm", g * h)  # normed input, the QKV (or MLA down) GEMM input
    add("sp:keep", a * h + 2.0 * masks * h)  # second norm input; hidden dropout masks
    add("sp:layernorm", g * h)  # second normed input, fc1 / router input
    kind = getattr(model.attention_kind, "value", "gqa")
    if kind == "mla":
        nope = float(model.qk_nope_head_dim or 0)
        rope = float(model.qk_rope_head_dim or 0)
        kvr = float(model.kv_lora_rank or 0)
        qr = float(model.q_lora_rank or 0)
        heads = float(model.heads)
        vd = float(model.v_dim)
        # latents (replicated over TP): norm inputs and up-projection inputs
        if qr:
            add("rep:keep", a * qr + g * qr)
        add("rep:keep", a * (kvr + rope) + g * kvr)
        # up-projected queries, keys and values (inputs of the attention core)
        add("tp:mla_up_proj", a * heads * (2.0 * (nope + rope) + vd))
        out = heads * vd
    else:
        q = float(model.q_width)
        kv = float(model.n_kv_heads * model.qk_dim)
        add("tp:keep", a * (q + 2.0 * kv))
        out = q
    if memory.flash_attention:
        add("tp:keep", a * out)  # attention output, kept by the fused kernel and the projection
        if g != a:
            add("tp:keep", g * out)  # the projection's own low-precision copy of its input
    else:
        add("tp:keep", a * out)  # attention over values: the projection input
    mats = float(model.activation.matrices)
    if moe:
        e = float(model.experts)
        add("sp:moe", 4.0 * e)  # FP32 router logits / probabilities
        ffn = float(model.expert_ffn_hidden)
        add("routed:moe", g * h + a * h)  # dispatched expert input, expert output for the combine
        add("routed_w:moe", a * (mats - 1.0) * ffn)  # fc1 output (activation input)
        add("routed_w:moe_act", g * ffn)  # activation output = fc2 input
        if model.shared_experts:
            fs = float(model.shared_experts * model.expert_ffn_hidden)
            add("tp:shared_experts", a * (mats - 1.0) * fs + g * fs)
    else:
        ffn = float(model.ffn_hidden)
        add("tp:mlp", a * (mats - 1.0) * ffn + g * ffn)
    return terms


def activation_bytes_arrays(
    model: Any,
    *,
    micro_batch: Any,
    seq_len: Any,
    tp: Any = 1,
    sequence_parallel: Any = True,
    recompute: Any = Recompute.NONE,
    modules: Any = None,
    moe: bool = False,
    memory: MemoryModel | None = None,
    gemm_bytes: float | None = None,
    etp: Any = None,
    ep: Any = 1,
    load: Any = 1.0,
) -> np.ndarray:
    """Activation bytes one layer keeps for one micro-batch, for arrays of candidates [B].

    The array form of :func:`activation_bytes_per_layer` (which calls it):
    every argument but ``model``, ``moe``, ``memory`` and ``gemm_bytes`` may be
    a scalar or an array; they broadcast together.  ``recompute`` takes a
    :class:`Recompute`, its name, or an array of
    :data:`~blackwell_model.parallel.RECOMPUTE_CODES` codes (0 none,
    1 selective, 2 full); ``modules`` the :func:`~blackwell_model.parallel.layout.modules_mask`
    of the recomputed modules (default: ``core_attn`` where selective).

    Returns
    -------
    numpy.ndarray
        Bytes [B], of the broadcast shape of the inputs.
    """
    mem = memory or MemoryModel()
    rc = _recompute_code(recompute)
    if modules is None:
        modules = np.where(np.asarray(rc) == _SELECTIVE, _BIT["core_attn"], 0)
    mods = np.where(np.asarray(rc) == _SELECTIVE, np.asarray(modules, dtype=np.int64), 0)
    s = np.asarray(seq_len, dtype=float)
    b = np.asarray(micro_batch, dtype=float)
    t = np.asarray(tp, dtype=float)
    sp = np.asarray(sequence_parallel, dtype=bool)
    et = t if etp is None else np.asarray(etp, dtype=float)
    g = mem.activation_bytes if gemm_bytes is None else float(gemm_bytes)
    tokens = s * b
    sp_div = np.where(sp & (t > 1), t, 1.0)
    terms = _terms(model, bool(moe), g, mem)
    total = np.zeros(np.broadcast(tokens, t, sp_div, mods, et).shape)
    routed_tokens = 0.0
    if moe:
        # copies on this rank: tokens of the ETP group (all-gathered) times top-k,
        # the busiest expert-parallel rank carrying ``load`` times the mean
        routed_tokens = tokens / sp_div * et * float(model.experts_per_token) * load
    for key, value in terms.items():
        shard, freed = key.split(":")
        if shard == "sp":
            n = tokens / sp_div
        elif shard == "tp":
            n = tokens / t
        elif shard == "rep":
            n = tokens
        elif shard == "routed":
            n = routed_tokens
        else:  # routed_w
            n = routed_tokens / et
        part = n * value
        if freed in _BIT:
            part = np.where((mods & _BIT[freed]) != 0, 0.0, part)
            if freed == "moe_act":  # whole-MoE recomputation frees the activation too
                part = np.where((mods & _BIT["moe"]) != 0, 0.0, part)
        total = total + part
    if not mem.flash_attention:
        # softmax output (2 B), and with dropout its mask (1 B) and output (2 B)
        s2 = 5.0 if mem.dropout else 2.0
        heads = float(model.heads)
        scores = s2 * heads * s**2 * b / t * (mem.activation_bytes / 2.0)
        rc_arr = np.asarray(rc)
        kept = (rc_arr == _NONE) | ((rc_arr == _SELECTIVE) & ((mods & _BIT["core_attn"]) == 0))
        total = total + np.where(kept, scores, 0.0)
    full = mem.activation_bytes * float(model.hidden) * tokens / sp_div
    return np.asarray(np.where(np.asarray(rc) == _FULL, full, total), dtype=float)


def activation_bytes_per_layer(
    model: Any,
    *,
    micro_batch: int,
    seq_len: int,
    tp: int = 1,
    sequence_parallel: bool = True,
    recompute: Recompute | str = Recompute.NONE,
    modules: tuple[str, ...] | None = None,
    moe: bool = False,
    memory: MemoryModel | None = None,
    gemm_bytes: float | None = None,
    etp: int | None = None,
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
    modules
        Recomputed modules under selective recomputation (default
        ``("core_attn",)``).
    moe
        The layer's feed-forward block is MoE (top-k routed experts plus shared
        experts) rather than dense.
    memory
        Model constants; defaults to :class:`MemoryModel`.
    gemm_bytes
        Bytes per stored GEMM input [B]: 1 under FP8 recipes (Transformer
        Engine saves the quantised input); defaults to the activation size.
    etp
        Expert tensor-parallel degree (defaults to ``tp``).

    Returns
    -------
    float
        Bytes [B].

    See Also
    --------
    activation_bytes_arrays : the same for arrays of candidates.
    """
    from .layout import modules_mask

    rc = Recompute(recompute) if not isinstance(recompute, Recompute) else recompute
    mask = None
    if modules is not None:
        mask = modules_mask(modules)
    return float(
        activation_bytes_arrays(
            model,
            micro_batch=micro_batch,
            seq_len=seq_len,
            tp=tp,
            sequence_parallel=sequence_parallel,
            recompute=rc,
            modules=mask,
            moe=moe,
            memory=memory,
            gemm_bytes=gemm_bytes,
            etp=etp,
        )
    )


def in_flight_arrays(pp: Any, vpp: Any, m: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer sets of activations in flight on the first, second and last pipeline rank.

    A layer set is one micro-batch through all the rank's layers.  With 1F1B
    rank ``r`` of ``p`` warms up with ``min(m, p - r)`` micro-batches; with the
    interleaved schedule of ``v`` chunks Megatron runs
    ``2 (p - r - 1) + (v - 1) p + 1`` chunk-micro-batches before its first
    backward (at most ``m v``), i.e. that many over ``v`` layer sets
    (``p + (p - 1)/v`` on the first rank, Korthikanti et al. §4.2.3).

    Examples
    --------
    >>> [float(x) for x in in_flight_arrays(8, 1, 64)]
    [8.0, 7.0, 1.0]
    >>> [round(float(x), 3) for x in in_flight_arrays(4, 2, 64)]
    [5.5, 4.5, 2.5]
    """
    p = np.asarray(pp, dtype=float)
    v = np.asarray(vpp, dtype=float)
    mf = np.asarray(m, dtype=float)

    def rank(r: Any) -> np.ndarray:
        plain = np.minimum(mf, np.maximum(p - r, 1.0))
        chunks = np.minimum(mf * v, 2.0 * np.maximum(p - r - 1.0, 0.0) + (v - 1.0) * p + 1.0)
        return np.where(v > 1, chunks / v, plain)

    first = rank(0.0)
    second = np.where(p > 2, rank(1.0), first)
    last = rank(np.maximum(p - 1.0, 0.0))
    return first, second, last


# ------------------------------------------------------------------ params
def _param_groups(model: Any) -> dict[str, float]:
    """Parameter counts the per-rank sums are built from (plain floats, cached per model)."""
    return _params_cached(model)


@functools.lru_cache(maxsize=256)
def _params_cached(model: Any) -> dict[str, float]:
    att = float(model.attention_params + model.block_norm_params)
    out = {
        "attention": att,
        "dense_mlp": float(model.dense_mlp_params),
        "router": float(model.router_params) if model.is_moe else 0.0,
        "shared": float(model.shared_experts * model.expert_params) if model.is_moe else 0.0,
        "experts": float(model.experts * model.expert_params) if model.is_moe else 0.0,
        "embedding": float(model.embedding_params),
        "head": float(model.lm_head_params),
        "mtp_dense": float(model.mtp_params - model.mtp_expert_params),
        "mtp_experts": float(model.mtp_expert_params),
        "moe_fraction": model.n_moe_layers / model.layers,
    }
    return out


def _moe_before(model: Any, n: Any) -> np.ndarray:
    """MoE layers among layers ``0 .. n - 1`` (vectorised, O(1) in the layer count)."""
    n_arr = np.asarray(n, dtype=np.int64)
    if not model.is_moe:
        return np.zeros(n_arr.shape, dtype=np.int64)
    return np.maximum(n_arr - int(model.dense_layers), 0) // int(model.moe_layer_step)


def stage_moe_layers(
    model: Any, first: np.ndarray, middle: np.ndarray, last: np.ndarray, vpp: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MoE layers among the first, middle and last rank's layers.

    Without interleaving the first rank holds layers ``0 .. first - 1`` and the
    last rank the final ``last`` layers, so a model whose leading layers are
    dense (DeepSeek-V3) has fewer MoE layers on its first rank; interleaved
    ranks hold chunks spread over the model and get the model's MoE fraction.
    """
    n = int(model.layers)
    total = int(_moe_before(model, n))
    frac = total / n
    f = np.clip(first, 0, n)
    lst = np.clip(last, 0, n)
    first_moe = np.where(vpp > 1, first * frac, _moe_before(model, f))
    last_moe = np.where(vpp > 1, last * frac, total - _moe_before(model, n - lst))
    return first_moe.astype(float), middle * frac, last_moe.astype(float)


def stage_param_arrays(
    model: Any, columns: Mapping[str, Any]
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Parameters held by one GPU of the first, busiest middle and last pipeline rank.

    Returns ``((dense, expert), ...)`` per rank, before ZeRO sharding: dense
    parameters split over ``tp`` (the router replicated), expert parameters
    over ``ep * etp``; the embedding on the first rank, the LM head (or the
    tied embedding's copy) and the MTP modules on the last.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer`.
    columns
        ``tp, pp, ep, vpp`` and optionally ``etp`` and the pipeline-split
        columns, as in :meth:`~blackwell_model.parallel.Layout.columns`.
    """
    tp = np.asarray(columns["tp"], dtype=np.int64)
    pp = np.asarray(columns["pp"], dtype=np.int64)
    ep = np.asarray(columns["ep"], dtype=np.int64)
    vpp = np.asarray(columns.get("vpp", 1), dtype=np.int64)
    etp = np.asarray(columns["etp"], dtype=np.int64) if "etp" in columns else tp
    first, middle, last = stage_layer_arrays(int(model.layers), columns)
    first_moe, middle_moe, last_moe = stage_moe_layers(model, first, middle, last, vpp)
    pg = _param_groups(model)
    tpf = tp.astype(float)
    epf = (ep * etp).astype(float)

    def stage(n: np.ndarray, n_moe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nf = n.astype(float)
        dense = (nf * pg["attention"] + (nf - n_moe) * pg["dense_mlp"] + n_moe * pg["shared"]) / tpf
        dense = dense + n_moe * pg["router"]
        expert = n_moe * pg["experts"] / epf
        return dense, expert

    d_first, e_first = stage(first, first_moe)
    d_mid, e_mid = stage(middle, middle_moe)
    d_last, e_last = stage(last, last_moe)
    single = pp == 1
    emb = pg["embedding"] / tpf
    head = pg["head"] / tpf
    mtp = pg["mtp_dense"] / tpf
    e_mtp = pg["mtp_experts"] / epf
    e_first = e_first + np.where(single, e_mtp, 0.0)
    e_last = e_last + np.where(single, 0.0, e_mtp)
    d_first = d_first + emb + np.where(single, head + mtp, 0.0)
    d_last = d_last + np.where(single, 0.0, head + mtp)
    if float(pg["head"]) == 0.0:  # tied embeddings: the last stage keeps its own copy
        d_last = d_last + np.where(single, 0.0, emb)
    return (d_first, e_first), (d_mid, e_mid), (d_last, e_last)


def memory_arrays(
    model: Any, columns: Mapping[str, Any], *, memory: MemoryModel | None = None
) -> dict[str, np.ndarray]:
    """Memory needed on the busiest pipeline rank of each candidate layout, by kind [B].

    The array core of :func:`memory_per_gpu` (which calls it with one
    layout): the same formulas evaluated on numpy arrays of candidates.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer`.
    columns
        Equal-length integer arrays (or scalars) keyed as
        :meth:`~blackwell_model.parallel.Layout.columns` (``tp, pp, dp, cp,
        ep, vpp, micro_batch, global_batch, seq_len, recompute, zero,
        sequence_parallel`` required; the others default to a plain layout's
        values) plus the ``precision``.  Candidates should pass the
        divisibility rules (:func:`~blackwell_model.parallel.rule_masks`).
    memory
        Model constants; defaults to :class:`MemoryModel`.

    Returns
    -------
    dict of str to numpy.ndarray
        :data:`MEMORY_KEYS` -> bytes [B] per candidate on its busiest rank
        (float arrays), plus ``first_B``, ``middle_B``, ``last_B`` (total per
        rank), ``busiest`` (index into :data:`RANKS`) and ``offloaded_B``
        (host memory of the busiest rank).
    """
    from ..hardware.precision import Precision

    mem = memory or MemoryModel()
    if not isinstance(mem, MemoryModel):
        raise SpecError(f"memory must be a MemoryModel or None, got {type(mem).__name__}")

    def col(key: str, default: int | None = None) -> np.ndarray:
        if key not in columns:
            if default is None:
                raise SpecError(f"columns must hold {key!r}")
            return np.asarray(default, dtype=np.int64)
        return np.asarray(columns[key], dtype=np.int64)

    tp, pp, dp, cp, ep, vpp = (col(k) for k in ("tp", "pp", "dp", "cp", "ep", "vpp"))
    etp = col("etp") if "etp" in columns else tp
    mb, gb, seq, zero = (col(k) for k in ("micro_batch", "global_batch", "seq_len", "zero"))
    rc = col("recompute")
    mods = col("recompute_modules", -1)
    mods = np.where(mods < 0, np.where(rc == _SELECTIVE, _BIT["core_attn"], 0), mods)
    rc_layers = col("recompute_layers", 0)
    rc_block = col("recompute_block", 0)
    offload = col("offload_layers", 0)
    grad_fp32 = col("grad_fp32", 1)
    moments_bits = col("moments_bits", 32)
    lp_weights = col("lp_weights", 0)
    master_b = col("master_bytes", 4).astype(float)
    sp = np.asarray(columns["sequence_parallel"], dtype=bool)
    precision = Precision.parse(columns.get("precision", Precision.BF16))
    cap = float(columns.get("capacity_factor", 0.0) or 0.0)
    cv = float(columns.get("expert_load_cv", 0.0) or 0.0)
    low = precision.bytes < 2.0
    g = (precision.bytes + (1.0 / 16.0 if precision.bytes < 1.0 else 0.0)) if low else 2.0

    layers = int(model.layers)
    first, middle, last = stage_layer_arrays(layers, columns)
    first_moe, middle_moe, last_moe = stage_moe_layers(model, first, middle, last, vpp)
    (d_first, e_first), (d_mid, e_mid), (d_last, e_last) = stage_param_arrays(model, columns)
    single = pp == 1
    tpf = tp.astype(float)
    epf = (ep * etp).astype(float)

    shard_dense = (dp * cp).astype(float)
    edp = np.maximum(1.0, (tp * cp * dp) / epf)
    grad_b = np.where(grad_fp32 == 1, 4.0, 2.0)
    opt_b = master_b + 2.0 * moments_bits.astype(float) / 8.0
    # working weights: BF16 plus TE's cached low-precision copy, or only the
    # low-precision weights themselves (fp8_model_init / --fp8-param-gather)
    lp_copy = mem.low_precision_weight_copies * precision.bytes if low else 0.0
    w_bytes = np.where(lp_weights == 1, precision.bytes, mem.weight_bytes + lp_copy)

    s_local = seq // cp
    m = (gb // (dp * mb)).astype(float)
    inflight = in_flight_arrays(pp, vpp, m)
    load: Any = 1.0
    if model.is_moe:
        # distinct tokens an expert-parallel group routes per micro-batch: each of
        # its ep members gathers the tokens of its etp ranks
        sp_tok = (mb * s_local).astype(float) / np.where(sp & (tp > 1), tpf, 1.0)
        load = expert_load_factor(
            sp_tok * etp * ep, int(model.experts), int(model.experts_per_token), ep, cv, cap
        )
    act_kw: dict[str, Any] = dict(
        micro_batch=mb, seq_len=s_local, tp=tp, sequence_parallel=sp, memory=mem,
        gemm_bytes=g, etp=etp, ep=ep, load=load, modules=mods,
    )  # fmt: skip
    dense_layer = activation_bytes_arrays(model, moe=False, recompute=rc, **act_kw)
    moe_layer = (
        activation_bytes_arrays(model, moe=True, recompute=rc, **act_kw)
        if model.is_moe
        else dense_layer
    )
    no_rc = dict(act_kw, modules=0)
    dense_all = activation_bytes_arrays(model, moe=False, recompute=_NONE, **no_rc)
    moe_all = (
        activation_bytes_arrays(model, moe=True, recompute=_NONE, **no_rc)
        if model.is_moe
        else dense_all
    )
    layer_input = activation_bytes_arrays(model, moe=False, recompute=_FULL, **no_rc)

    def stage_acts(
        n: np.ndarray, n_moe: np.ndarray, sets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(bytes on the GPU, bytes offloaded) of one rank's in-flight activations."""
        nf = n.astype(float)
        frac = np.where(nf > 0, n_moe / np.maximum(nf, 1.0), 0.0)
        per_layer = (1.0 - frac) * dense_layer + frac * moe_layer
        per_all = (1.0 - frac) * dense_all + frac * moe_all
        chunk = nf / vpp
        # full recomputation with a layer count: uniform keeps one input per group,
        # block recomputes only the first N layers of each chunk
        groups = np.where(rc_layers > 0, np.ceil(chunk / np.maximum(rc_layers, 1)), chunk)
        full_uniform = groups * layer_input * vpp
        n_rc = np.minimum(np.where(rc_layers > 0, rc_layers, chunk), chunk) * vpp
        full_block = n_rc * layer_input + (nf - n_rc) * per_all
        full = np.where(rc_block == 1, full_block, full_uniform)
        kept = np.where(rc == _FULL, full, nf * per_layer)
        # offloaded layers (per chunk) leave the GPU but for a staging buffer
        off_layers = np.minimum(offload * vpp, nf)
        off_bytes = off_layers * np.where(rc == _FULL, layer_input, per_layer)
        on_gpu = (kept - off_bytes) * sets + np.where(
            offload > 0, mem.offload_buffered_layers * per_layer, 0.0
        )
        # a recomputed group holds its full activations while its backward runs
        live = np.where(
            rc == _FULL,
            np.where(rc_layers > 0, np.minimum(rc_layers, chunk), 1.0) * per_all,
            0.0,
        )
        return on_gpu + live, off_bytes * sets

    a_first, o_first = stage_acts(first, first_moe, inflight[0])
    a_mid, o_mid = stage_acts(middle, middle_moe, inflight[1])
    a_last, o_last = stage_acts(last, last_moe, inflight[2])
    # logits of the fused loss on the last rank (per TP shard of the vocabulary)
    # (and per MTP depth one more layer of activations and logits)
    n_mtp = float(getattr(model, "mtp_layers", 0))
    logits = mem.logits_bytes * mb * s_local * float(model.vocab) / tpf * (1.0 + n_mtp)
    mtp_acts = n_mtp * inflight[2] * (moe_all if model.is_moe else dense_all)
    a_last = a_last + logits + np.where(single, 0.0, mtp_acts)
    a_first = a_first + np.where(single, logits + n_mtp * inflight[0] * moe_all, 0.0)

    def totals(
        dense: np.ndarray, expert: np.ndarray, acts: np.ndarray, n: np.ndarray
    ) -> dict[str, np.ndarray]:
        params = dense + expert
        sharded = dense / shard_dense + expert / edp
        weights = params * w_bytes
        grads = np.where(zero >= 2, sharded, params) * grad_b
        opt = np.where(zero >= 1, sharded, params) * opt_b
        # FSDP: sharded weights plus the gathered weights and unreduced gradients
        # of the buffered layers
        per_layer = params / np.maximum(n.astype(float), 1.0)
        gathered = mem.fsdp_buffered_layers * per_layer * (w_bytes + grad_b)
        weights = np.where(zero >= 3, sharded * w_bytes + gathered, weights)
        buffers = np.full(np.shape(acts), float(mem.buffer_bytes))
        reserve = mem.reserve_bytes + mem.fragmentation * (acts + buffers)
        return {
            "weights_B": weights,
            "gradients_B": grads,
            "optimizer_B": opt,
            "activations_B": acts,
            "buffers_B": buffers,
            "reserve_B": reserve,
        }

    ranks = (
        totals(d_first, e_first, a_first, first),
        totals(d_mid, e_mid, a_mid, middle),
        totals(d_last, e_last, a_last, last),
    )
    shape = np.broadcast(tp, pp, dp, cp, mb, rc, a_first).shape
    tot = [sum(np.broadcast_to(v, shape) for v in r.values()) for r in ranks]
    # a two-stage pipeline has no middle rank; one stage has only the first
    tot[1] = np.where(pp > 2, tot[1], 0.0)
    tot[2] = np.where(single, 0.0, tot[2])
    stacked = np.stack([np.broadcast_to(t_, shape) for t_ in tot])
    busiest = np.argmax(stacked, axis=0)
    out: dict[str, np.ndarray] = {}
    for key in MEMORY_KEYS[:-1]:
        parts = np.stack([np.broadcast_to(r[key], shape).astype(float) for r in ranks])
        out[key] = np.take_along_axis(parts, busiest[None, ...], axis=0)[0]
    out["total_B"] = np.take_along_axis(stacked, busiest[None, ...], axis=0)[0]
    for name, t_ in zip(RANKS, tot, strict=True):
        out[f"{name}_B"] = np.broadcast_to(t_, shape).astype(float)
    offl = np.stack([np.broadcast_to(o, shape) for o in (o_first, o_mid, o_last)])
    out["offloaded_B"] = np.take_along_axis(offl, busiest[None, ...], axis=0)[0].astype(float)
    out["busiest"] = busiest
    return out


def memory_per_gpu(
    model: Any, layout: Layout, *, memory: MemoryModel | None = None
) -> MemoryBreakdown:
    """Memory needed on the busiest pipeline rank of a training layout.

    Weights, gradients and optimizer state follow Megatron-Core's mixed
    precision with ZeRO stage ``layout.zero`` over the data-parallel group
    (``dp * cp`` ranks for dense weights, the expert data-parallel group for
    experts), the gradient buffer in the reduce precision and the moments in
    ``layout.moments_precision``.  Activations follow
    :func:`activation_bytes_per_layer` (with the recomputed modules, the
    offloaded layers and the stored precision of each tensor) times the
    micro-batches in flight on each rank (:func:`in_flight_arrays`).  The
    first, busiest middle and last rank are evaluated and the busiest is
    reported.  A thin wrapper over :func:`memory_arrays`.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer`.
    layout
        The :class:`~blackwell_model.parallel.Layout`.
    memory
        Model constants; defaults to :class:`MemoryModel`.
    """
    if not isinstance(layout, Layout):
        raise SpecError(f"layout must be a Layout, got {type(layout).__name__}")
    arr = memory_arrays(model, layout.columns(), memory=memory)
    pp = layout.pp
    names = [r for r in RANKS if not (r == "middle" and pp <= 2) and not (r == "last" and pp == 1)]
    return MemoryBreakdown(
        weights_B=float(arr["weights_B"]),
        gradients_B=float(arr["gradients_B"]),
        optimizer_B=float(arr["optimizer_B"]),
        activations_B=float(arr["activations_B"]),
        buffers_B=float(arr["buffers_B"]),
        reserve_B=float(arr["reserve_B"]),
        rank=RANKS[int(arr["busiest"])],
        ranks_B={r: float(arr[f"{r}_B"]) for r in names},
        offloaded_B=float(arr["offloaded_B"]),
    )
