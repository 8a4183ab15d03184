"""Per-GPU operators of a transformer layer: FLOPs and bytes for each kernel.

:func:`layer_operators` lists the kernels one GPU runs for one layer of a
:class:`~blackwell_model.workload.Transformer` in a given phase (training
forward or backward, inference prefill or decode) under tensor (``tp``),
context (``cp``) and expert (``ep``, ``etp``) parallel sharding.
:func:`model_operators` adds the embedding and the LM head and returns every
layer.  Each :class:`Operator` carries plain floats (FLOPs, bytes read and
written, and for GEMMs the ``(m, n, k)`` shape and batch ``count``), ready
for :func:`blackwell_model.solvers.roofline`.  Communication is not an
operator here: the collective solver prices it.

Conventions
-----------
* GEMM ``(m, n, k)``: output ``m x n`` with reduction dimension ``k``;
  ``m`` is tokens in the forward pass.  FLOPs :math:`2mnk \\cdot count`;
  bytes read :math:`(mk + kn) \\cdot count \\cdot b_{in}`, written
  :math:`mn \\cdot count \\cdot b_{out}` (each operand once: the roofline
  minimum traffic).
* Backward of a GEMM is two GEMMs of the same FLOPs: data gradient
  ``(m, k, n)`` and weight gradient ``(k, n, m)``.
* Attention is one fused (FlashAttention-style) operator: FLOPs
  :math:`2 n_q (d_{qk} + d_v)` per query-key pair, bytes of Q, K, V and O
  (the score matrix never reaches HBM).  Its backward counts twice the
  forward FLOPs (the recomputation of the scores inside FlashAttention's
  backward kernel is left to the attention efficiency, so that summed
  operator FLOPs equal the :math:`6N + 12 l h s` convention).
* Weights and GEMM inputs are stored in ``precision``.  Activations,
  attention and element-wise kernels use ``activation_precision``: BF16 when
  ``precision`` is 8-bit or narrower (FP8 recipes keep them in BF16), else
  ``precision``.
* With ``tp > 1`` and sequence parallelism, norms and residual adds run on
  ``tokens / tp``; GEMMs and attention on all tokens with heads and the
  intermediate width split ``tp`` ways.  MLA's down-projections are
  replicated over TP (they are small).  Routed experts are split ``ep`` ways
  (whole experts) and ``etp`` ways (width), and tokens are assumed to be
  routed uniformly: an expert receives on average
  ``tokens * experts_per_token / experts`` tokens of the EP group, and at
  small batch only the experts some token hits read their weights.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import attrs

from .._spec import bool_field
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.precision import Precision
from .transformer import Activation, AttentionKind, LayerType, Transformer, attention_pairs

__all__ = [
    "ModelOperators",
    "OpKind",
    "Operator",
    "Phase",
    "attention_op",
    "backward_ops",
    "elementwise_op",
    "gemm_op",
    "layer_operators",
    "mlp_operators",
    "model_operators",
]


class OpKind(enum.Enum):
    """What kind of kernel an :class:`Operator` is; decides its efficiency."""

    GEMM = "gemm"
    MOE_GEMM = "moe_gemm"
    ATTENTION = "attention"
    ELEMENTWISE = "elementwise"
    NORM = "norm"
    EMBEDDING = "embedding"
    LOSS = "loss"

    @property
    def is_matmul(self) -> bool:
        """True for kinds that run on the tensor cores (GEMMs and attention)."""
        return self in (OpKind.GEMM, OpKind.MOE_GEMM, OpKind.ATTENTION)

    @property
    def is_gemm(self) -> bool:
        """True for GEMM kinds (with an ``(m, n, k)`` shape)."""
        return self in (OpKind.GEMM, OpKind.MOE_GEMM)


class Phase(enum.Enum):
    """What pass the operators belong to."""

    FORWARD = "forward"
    BACKWARD = "backward"
    PREFILL = "prefill"
    DECODE = "decode"

    @classmethod
    def parse(cls, value: Any) -> Phase:
        """Return the phase named by ``value`` (case-insensitive) or ``value`` itself."""
        if isinstance(value, Phase):
            return value
        key = str(value).strip().lower()
        for member in cls:
            if member.value == key:
                return member
        valid = ", ".join(repr(m.value) for m in cls)
        raise SpecError(f"phase must be one of {valid}, got {value!r}")


def _check_amount(name: str, value: float, field: str) -> None:
    if not (value >= 0.0 and math.isfinite(value)):
        raise SpecError(f"{field} of operator {name!r} must be a finite number >= 0, got {value!r}")


@attrs.frozen(kw_only=True, slots=True, cache_hash=True)
class Operator:
    """One kernel on one GPU: its work [FLOP] and its memory traffic [B].

    Parameters
    ----------
    name
        Readable name, e.g. ``"qkv_proj"`` or ``"mlp_down.wgrad"``.
    kind
        The :class:`OpKind`.
    flops
        Floating-point operations [FLOP] (2 per multiply-add).
    bytes_read
        Bytes read from device memory [B].
    bytes_written
        Bytes written to device memory [B].
    m, n, k
        GEMM shape (output ``m x n``, reduction ``k``); 0 for other kinds.
        ``m`` may be fractional: routed experts see an expected token count.
    count
        Independent GEMMs of that shape in one batched/grouped kernel
        (experts, heads); may be fractional (expected experts hit).
    precision
        Precision the kernel computes in; the roofline uses its peak.
    backward
        True for backward-pass kernels.
    launches
        Kernel launches the operator stands for on the host (a grouped GEMM
        issued as one GEMM per expert, a router made of several small
        kernels); what bounds a layer when the host, not the GPU, is slower.
    module
        What part of the layer the kernel belongs to (``layernorm``,
        ``attn_proj``, ``core_attn``, ``mla_up_proj``, ``mlp``, ``moe_router``,
        ``moe_dispatch``, ``moe_experts``, ``moe_act``, ``shared_experts``,
        ``residual``, ...): what recomputing a Megatron-Core module re-runs.
    """

    name: str
    kind: OpKind
    flops: float
    bytes_read: float
    bytes_written: float
    m: float = 0.0
    n: float = 0.0
    k: float = 0.0
    count: float = 1.0
    precision: Precision = Precision.BF16
    backward: bool = bool_field(default=False)
    module: str = ""
    launches: float = 1.0

    def __attrs_post_init__(self) -> None:
        for f in ("m", "n", "k", "count", "flops", "bytes_read", "bytes_written", "launches"):
            _check_amount(self.name, getattr(self, f), f)

    @property
    def bytes(self) -> float:
        """Bytes moved, read plus written [B]."""
        return self.bytes_read + self.bytes_written

    @property
    def arithmetic_intensity(self) -> float:
        """FLOPs per byte moved [FLOP/B] (``inf`` for an operator that moves nothing)."""
        moved = self.bytes_read + self.bytes_written
        if moved == 0.0:
            return math.inf if self.flops > 0 else 0.0
        return self.flops / moved


def gemm_op(
    name: str,
    m: float,
    n: float,
    k: float,
    *,
    count: float = 1.0,
    precision: Precision = Precision.BF16,
    out_bytes: float | None = None,
    kind: OpKind = OpKind.GEMM,
    backward: bool = False,
    module: str = "",
    launches: float = 1.0,
) -> Operator:
    """A GEMM operator of shape ``(m, n, k)`` repeated ``count`` times.

    Parameters
    ----------
    m, n, k
        Output rows and columns and reduction size [elements].
    count
        Independent GEMMs in the batched kernel.
    precision
        Storage and compute precision of the inputs.
    out_bytes
        Bytes per output element; defaults to the input size.

    Examples
    --------
    >>> op = gemm_op("x", 4096, 4096, 4096)
    >>> op.flops == 2 * 4096**3, op.bytes == 3 * 4096**2 * 2
    (True, True)
    """
    b = precision.bytes
    ob = b if out_bytes is None else out_bytes
    return Operator(
        name=name,
        kind=kind,
        flops=2.0 * m * n * k * count,
        bytes_read=(m * k + k * n) * count * b,
        bytes_written=m * n * count * ob,
        m=float(m),
        n=float(n),
        k=float(k),
        count=float(count),
        precision=precision,
        backward=backward,
        module=module,
        launches=float(launches),
    )


def elementwise_op(
    name: str,
    elements_read: float,
    elements_written: float,
    *,
    flops_per_element: float = 1.0,
    precision: Precision = Precision.BF16,
    kind: OpKind = OpKind.ELEMENTWISE,
    backward: bool = False,
    module: str = "",
    launches: float = 1.0,
) -> Operator:
    """A memory-bound kernel (norm, activation, residual add, permute...).

    FLOPs are ``flops_per_element * elements_written``; bytes are the element
    counts times ``precision.bytes``.
    """
    b = precision.bytes
    return Operator(
        name=name,
        kind=kind,
        flops=flops_per_element * elements_written,
        bytes_read=elements_read * b,
        bytes_written=elements_written * b,
        precision=precision,
        backward=backward,
        module=module,
        launches=float(launches),
    )


def attention_op(
    name: str,
    *,
    pairs: float,
    heads: float,
    qk_dim: float,
    v_dim: float,
    queries: float,
    keys: float,
    kv_heads: float,
    precision: Precision = Precision.BF16,
    kv_bytes: float | None = None,
    kv_dim: float | None = None,
) -> Operator:
    """A fused attention kernel (FlashAttention style), forward.

    Parameters
    ----------
    pairs
        Query-key pairs, summed over the batch (per head).
    heads
        Query heads on this GPU.
    qk_dim, v_dim
        Per-head query/key and value sizes.
    queries
        Query tokens (batch x new tokens).
    keys
        Key/value tokens loaded (batch x context).
    kv_heads
        Key/value heads loaded on this GPU.
    kv_bytes
        Bytes per cached K/V element (defaults to ``precision.bytes``).
    kv_dim
        Elements per token and K/V head loaded (defaults to ``qk_dim + v_dim``;
        MLA's latent is ``kv_lora_rank + qk_rope_head_dim``).
    """
    b = precision.bytes
    kvb = b if kv_bytes is None else kv_bytes
    per_kv = (qk_dim + v_dim) if kv_dim is None else kv_dim
    return Operator(
        name=name,
        kind=OpKind.ATTENTION,
        flops=2.0 * pairs * heads * (qk_dim + v_dim),
        bytes_read=queries * heads * qk_dim * b + keys * kv_heads * per_kv * kvb,
        bytes_written=queries * heads * v_dim * b,
        precision=precision,
        module="core_attn",
    )


def backward_ops(op: Operator, *, grad_accum_bytes: float | None = None) -> tuple[Operator, ...]:
    """The backward-pass operators of a forward operator.

    GEMMs give a data-gradient and a weight-gradient GEMM (``.dgrad``,
    ``.wgrad``); attention gives one fused kernel of twice the FLOPs reading
    Q, K, V, O and dO and writing dQ, dK, dV; other kinds read their input and
    the incoming gradient and write the outgoing gradient.

    With ``grad_accum_bytes`` [B per weight] the weight-gradient GEMM adds its
    result into the main-gradient buffer (Megatron's gradient-accumulation
    fusion): it reads and writes the buffer in that precision instead of
    writing a fresh gradient.  This traffic matters for experts, whose
    weights are large next to the few tokens each sees.
    """
    if op.kind.is_gemm:
        b = op.precision.bytes
        ob = op.bytes_written / (op.m * op.n * op.count) if op.m * op.n * op.count else b
        dgrad = gemm_op(
            op.name + ".dgrad",
            op.m,
            op.k,
            op.n,
            count=op.count,
            precision=op.precision,
            out_bytes=ob,
            kind=op.kind,
            backward=True,
            module=op.module,
            launches=op.launches,
        )
        wgrad = gemm_op(
            op.name + ".wgrad",
            op.k,
            op.n,
            op.m,
            count=op.count,
            precision=op.precision,
            out_bytes=ob,
            kind=op.kind,
            backward=True,
            module=op.module,
            launches=op.launches,
        )
        if grad_accum_bytes is not None:
            weights = op.k * op.n * op.count
            wgrad = attrs.evolve(
                wgrad,
                bytes_read=wgrad.bytes_read + weights * grad_accum_bytes,
                bytes_written=weights * grad_accum_bytes,
            )
        return dgrad, wgrad
    if op.kind is OpKind.ATTENTION:
        # reads Q, K, V, O, dO; writes dQ, dK, dV (= the forward inputs)
        fwd_in = op.bytes_read
        out = op.bytes_written
        return (
            attrs.evolve(
                op,
                name=op.name + ".bwd",
                flops=2.0 * op.flops,
                bytes_read=fwd_in + 2.0 * out,
                bytes_written=fwd_in,
                backward=True,
            ),
        )
    return (
        attrs.evolve(
            op,
            name=op.name + ".bwd",
            flops=2.0 * op.flops,
            bytes_read=op.bytes_read + op.bytes_written,
            bytes_written=op.bytes_read,
            backward=True,
        ),
    )


# --------------------------------------------------------------------------- layers
class _Shard(NamedTuple):
    """Normalised arguments of one operator-list request (hashable cache key)."""

    phase: Phase
    batch: int
    seq_len: int
    kv_len: int
    precision: Precision
    act: Precision
    kv: Precision
    tp: int
    cp: int
    ep: int
    etp: int
    causal: bool
    sp: bool
    expert_load: float = 1.0
    grad_accum_bytes: float | None = None
    router_fp32: bool = False


def _int_arg(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise SpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise SpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
        value = int(value)
    if value < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _shard(
    model: Transformer,
    *,
    phase: Phase | str,
    batch: int,
    seq_len: int | None,
    precision: Precision | str,
    tp: int,
    cp: int,
    ep: int,
    etp: int | None,
    kv_len: int | None,
    causal: bool,
    sequence_parallel: bool | None,
    kv_precision: Precision | str | None,
    activation_precision: Precision | str | None,
    expert_load: float = 1.0,
    grad_accum_bytes: float | None = None,
    router_fp32: bool = False,
) -> _Shard:
    if not isinstance(model, Transformer):
        raise SpecError(f"model must be a Transformer, got {type(model).__name__}")
    ph = Phase.parse(phase)
    batch = _int_arg("batch", batch)
    tp = _int_arg("tp", tp)
    cp = _int_arg("cp", cp)
    ep = _int_arg("ep", ep)
    etp = tp if etp is None else _int_arg("etp", etp)
    if ph is Phase.DECODE:
        seq = 1 if seq_len is None else _int_arg("seq_len", seq_len)
        if kv_len is None:
            raise SpecError(
                "kv_len (context length in tokens, >= 1) is required for phase 'decode'"
            )
    else:
        if seq_len is None:
            raise SpecError(
                f"seq_len (tokens per sequence, >= 1) is required for phase {ph.value!r}"
            )
        seq = _int_arg("seq_len", seq_len)
    kv = seq if kv_len is None else _int_arg("kv_len", kv_len)
    if kv < seq:
        raise SpecError(f"kv_len must be >= seq_len ({seq}) tokens, got {kv}")
    p = Precision.parse(precision)
    if activation_precision is None:
        act = Precision.BF16 if p.bytes < 2.0 else p
    else:
        act = Precision.parse(activation_precision)
    kvp = act if kv_precision is None else Precision.parse(kv_precision)
    sp = (
        (ph in (Phase.FORWARD, Phase.BACKWARD))
        if sequence_parallel is None
        else bool(sequence_parallel)
    )
    _check_divisible(model, tp=tp, cp=cp, ep=ep, etp=etp, seq=seq, phase=ph)
    load = float(expert_load)
    if not (math.isfinite(load) and load > 0.0):
        raise SpecError(f"expert_load must be a finite number > 0, got {expert_load!r}")
    acc = None
    if grad_accum_bytes is not None:
        acc = float(grad_accum_bytes)
        if not (math.isfinite(acc) and acc >= 0.0):
            raise SpecError(
                f"grad_accum_bytes must be a finite number >= 0 B, got {grad_accum_bytes!r}"
            )
    return _Shard(
        ph, batch, seq, kv, p, act, kvp, tp, cp, ep, etp, bool(causal), sp and tp > 1, load, acc,
        bool(router_fp32),
    )  # fmt: skip


def _check_divisible(
    model: Transformer, *, tp: int, cp: int, ep: int, etp: int, seq: int, phase: Phase
) -> None:
    _check_model_split(model, tp, ep, etp)
    if phase is not Phase.DECODE and seq % cp:
        raise InfeasibleLayoutError(
            "cp_divides_seq", f"cp = {cp} must divide seq_len = {seq} tokens"
        )


@functools.lru_cache(maxsize=4096)
def _check_model_split(model: Transformer, tp: int, ep: int, etp: int) -> None:
    if model.heads % tp:
        raise InfeasibleLayoutError(
            "tp_divides_heads", f"tp = {tp} must divide heads = {model.heads} of {model.name}"
        )
    kvh = model.n_kv_heads
    if kvh % tp and tp % kvh:
        raise InfeasibleLayoutError(
            "tp_kv_heads",
            f"tp = {tp} and kv_heads = {kvh} of {model.name} must divide one another",
        )
    if model.n_dense_layers and model.ffn_hidden % tp:
        raise InfeasibleLayoutError(
            "tp_divides_ffn",
            f"tp = {tp} must divide ffn_hidden = {model.ffn_hidden} of {model.name}",
        )
    if model.is_moe:
        if model.experts % ep:
            raise InfeasibleLayoutError(
                "ep_divides_experts",
                f"ep = {ep} must divide experts = {model.experts} of {model.name}",
            )
        if model.expert_ffn_hidden % etp:
            raise InfeasibleLayoutError(
                "etp_divides_expert_ffn",
                f"etp = {etp} must divide expert_ffn_hidden = {model.expert_ffn_hidden} "
                f"of {model.name}",
            )
        if model.shared_experts and (model.shared_experts * model.expert_ffn_hidden) % tp:
            raise InfeasibleLayoutError(
                "tp_divides_shared_experts",
                f"tp = {tp} must divide the shared-expert width "
                f"{model.shared_experts * model.expert_ffn_hidden} of {model.name}",
            )
    elif ep > 1:
        raise InfeasibleLayoutError("ep_needs_moe", f"ep = {ep} > 1 but {model.name} is dense")


def layer_operators(
    model: Transformer,
    *,
    phase: Phase | str,
    batch: int,
    seq_len: int | None = None,
    precision: Precision | str = Precision.BF16,
    tp: int = 1,
    cp: int = 1,
    ep: int = 1,
    etp: int | None = None,
    kv_len: int | None = None,
    layer: int | LayerType = 0,
    causal: bool = True,
    sequence_parallel: bool | None = None,
    kv_precision: Precision | str | None = None,
    activation_precision: Precision | str | None = None,
    expert_load: float = 1.0,
    grad_accum_bytes: float | None = None,
    router_fp32: bool = False,
) -> tuple[Operator, ...]:
    """The operators one GPU runs for one transformer layer.

    Parameters
    ----------
    model
        The transformer.
    phase
        ``"forward"`` or ``"backward"`` (training), ``"prefill"`` or
        ``"decode"`` (inference with a KV cache).
    batch
        Sequences on this GPU (the micro-batch; the decode batch).
    seq_len
        New tokens per sequence in this pass [tokens]; for ``"decode"`` it
        defaults to 1 (more for speculative verification).
    precision
        GEMM input and weight precision (``"bf16"``, ``"fp8"``, ...).
    tp, cp
        Tensor- and context-parallel sizes.  ``cp`` splits the sequence
        (each GPU holds ``seq_len / cp`` queries and attends to all keys) and,
        in decode, the KV cache.
    ep, etp
        Expert-parallel size (experts split into ``ep`` groups) and expert
        tensor-parallel size (expert width split; defaults to ``tp`` as in
        Megatron-Core).
    kv_len
        Context length per sequence, new tokens included [tokens]; defaults to
        ``seq_len`` (no prefix).  Required for ``"decode"``.
    layer
        Layer index (decides MoE vs dense and windowed vs full attention) or
        a :class:`~blackwell_model.workload.LayerType`.
    causal
        Causal mask: count only the query-key pairs a causal kernel computes.
        ``False`` counts every pair (the 12·l·h·s convention).
    sequence_parallel
        Norms and residual adds split over ``tp``; defaults to True for
        training phases and False for inference.
    kv_precision
        KV-cache precision (defaults to the activation precision).
    activation_precision
        Precision of activations, attention and element-wise kernels
        (defaults to BF16 for 8-bit-or-narrower ``precision``).
    expert_load
        Routed tokens on this rank over the mean rank's (the busiest
        expert-parallel rank of :func:`~blackwell_model.workload.moe.expert_load_factor`,
        or the capacity factor under token dropping); 1 is balanced routing.
    grad_accum_bytes
        Backward: bytes per weight of the main-gradient buffer the
        weight-gradient GEMMs accumulate into (see :func:`backward_ops`);
        None leaves the accumulation out.
    router_fp32
        The MoE router's GEMM runs in FP32 (Megatron's ``moe_router_dtype =
        "fp32"``) instead of the activation precision.

    Returns
    -------
    tuple of Operator
        In execution order.  Results are cached: a repeated call with equal
        arguments returns the same tuple.

    Raises
    ------
    SpecError
        If a size is not a positive integer, or ``phase`` is unknown.
    InfeasibleLayoutError
        If ``tp``, ``cp``, ``ep`` or ``etp`` do not divide the model.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> ops = layer_operators(bm.catalog.model("llama3-8b"), phase="forward",
    ...                       batch=1, seq_len=8192, tp=2)
    >>> [o.name for o in ops][:3]
    ['attn_norm', 'qkv_proj', 'attention']
    """
    s = _shard(
        model,
        phase=phase,
        batch=batch,
        seq_len=seq_len,
        precision=precision,
        tp=tp,
        cp=cp,
        ep=ep,
        etp=etp,
        kv_len=kv_len,
        causal=causal,
        sequence_parallel=sequence_parallel,
        kv_precision=kv_precision,
        activation_precision=activation_precision,
        expert_load=expert_load,
        grad_accum_bytes=grad_accum_bytes,
        router_fp32=router_fp32,
    )
    return _layer_ops(model, _layer_type(model, layer), s)


def _layer_type(model: Transformer, layer: int | LayerType) -> LayerType:
    if isinstance(layer, LayerType):
        if layer.moe and not model.is_moe:
            raise SpecError(f"layer is an MoE LayerType but {model.name} is dense")
        return layer
    index = _int_arg("layer", layer, minimum=0)
    if index >= model.layers:
        raise SpecError(
            f"layer must be an index in [0, {model.layers - 1}] for {model.name}, got {index}"
        )
    return model.layer_types()[index]


@functools.lru_cache(maxsize=8192)
def _layer_ops(model: Transformer, lt: LayerType, s: _Shard) -> tuple[Operator, ...]:
    fwd = _forward_layer(model, lt, s)
    if s.phase is Phase.BACKWARD:
        acc = s.grad_accum_bytes
        return tuple(b for op in reversed(fwd) for b in backward_ops(op, grad_accum_bytes=acc))
    return fwd


def _tokens(s: _Shard) -> float:
    if s.phase is Phase.DECODE:
        return float(s.batch * s.seq_len)
    return s.batch * s.seq_len / s.cp


def _forward_layer(model: Transformer, lt: LayerType, s: _Shard) -> tuple[Operator, ...]:
    from .moe import moe_operators

    h = model.hidden
    t = _tokens(s)
    t_sp = t / s.tp if s.sp else t
    act = s.act
    ops: list[Operator] = []
    norm_flops = 4.0
    ops.append(
        elementwise_op(
            "attn_norm",
            t_sp * h,
            t_sp * h,
            flops_per_element=norm_flops,
            precision=act,
            kind=OpKind.NORM,
            module="layernorm",
        )
    )
    ops.extend(_attention_block(model, lt, s, t))
    if not model.parallel_attention:
        # residual add fused with the second norm: reads x and attention out,
        # writes the new residual and the normalised input
        ops.append(
            elementwise_op(
                "mlp_norm",
                2 * t_sp * h,
                2 * t_sp * h,
                flops_per_element=norm_flops / 2,
                precision=act,
                kind=OpKind.NORM,
                module="layernorm",
            )
        )
    if lt.moe:
        ops.extend(moe_operators(model, s, t, t_sp))
    else:
        ops.extend(mlp_operators(model, "mlp", model.ffn_hidden // s.tp, t, s))
    reads = 3 if model.parallel_attention else 2
    ops.append(
        elementwise_op("residual_add", reads * t_sp * h, t_sp * h, precision=act, module="residual")
    )
    return tuple(ops)


def mlp_operators(
    model: Transformer,
    prefix: str,
    width: float,
    t: float,
    s: Any,
    *,
    count: float = 1.0,
    kind: OpKind = OpKind.GEMM,
    gemm_module: str = "mlp",
    act_module: str = "mlp",
) -> list[Operator]:
    """Up (gate+up), activation and down kernels of an MLP of local ``width`` on ``t`` tokens.

    ``count`` MLPs of that shape run as one grouped kernel (experts; ``kind``
    ``MOE_GEMM``).  ``s`` is the normalised shard of :func:`layer_operators`
    (its precisions); ``gemm_module`` and ``act_module`` tag the kernels.
    """
    h = model.hidden
    up = width * (2 if model.activation is Activation.SWIGLU else 1)
    ob = s.act.bytes
    return [
        gemm_op(
            f"{prefix}_up", t, up, h, count=count, precision=s.precision, out_bytes=ob,
            kind=kind, module=gemm_module, launches=count if kind is OpKind.MOE_GEMM else 1.0,
        ),
        elementwise_op(
            f"{prefix}_act", t * up * count, t * width * count, flops_per_element=4.0,
            precision=s.act, module=act_module,
        ),
        gemm_op(
            f"{prefix}_down", t, h, width, count=count, precision=s.precision, out_bytes=ob,
            kind=kind, module=gemm_module, launches=count if kind is OpKind.MOE_GEMM else 1.0,
        ),
    ]  # fmt: skip


def _attention_block(model: Transformer, lt: LayerType, s: _Shard, t: float) -> list[Operator]:
    h = model.hidden
    p, act = s.precision, s.act
    ob = act.bytes
    heads = model.heads // s.tp
    window = model.sliding_window if lt.sliding else None
    decode = s.phase is Phase.DECODE
    pairs = s.batch * attention_pairs(s.seq_len, s.kv_len, causal=s.causal, window=window) / s.cp
    if decode:
        keys = s.batch * (min(s.kv_len, window) if window else s.kv_len) / s.cp
    else:
        keys = float(s.batch * s.kv_len)
    ops: list[Operator] = []
    if model.attention_kind is AttentionKind.MLA:
        nope = int(model.qk_nope_head_dim or 0)
        rope = int(model.qk_rope_head_dim or 0)
        kvr = int(model.kv_lora_rank or 0)
        vd = model.v_dim
        if model.q_lora_rank:
            ops.append(
                gemm_op(
                    "q_down", t, model.q_lora_rank, h, precision=p, out_bytes=ob, module="attn_proj"
                )
            )
            ops.append(
                elementwise_op(
                    "q_norm",
                    t * model.q_lora_rank,
                    t * model.q_lora_rank,
                    flops_per_element=4.0,
                    precision=act,
                    kind=OpKind.NORM,
                    module="attn_proj",
                )
            )
            ops.append(
                gemm_op(
                    "q_up", t, heads * (nope + rope), model.q_lora_rank, precision=p,
                    out_bytes=ob, module="mla_up_proj",
                )
            )  # fmt: skip
        else:
            ops.append(
                gemm_op(
                    "q_proj", t, heads * (nope + rope), h, precision=p, out_bytes=ob,
                    module="mla_up_proj",
                )
            )  # fmt: skip
        ops.append(
            gemm_op("kv_down", t, kvr + rope, h, precision=p, out_bytes=ob, module="attn_proj")
        )
        ops.append(
            elementwise_op(
                "kv_norm", t * kvr, t * kvr, flops_per_element=4.0, precision=act,
                kind=OpKind.NORM, module="attn_proj",
            )
        )  # fmt: skip
        if decode:
            # weight absorption: attend in the latent space, read the latent cache
            ops.append(_kv_write(t * (kvr + rope), s))
            ops.append(gemm_op("q_absorb", t, kvr, nope, count=heads, precision=p, out_bytes=ob))
            ops.append(
                attention_op(
                    "attention",
                    pairs=pairs,
                    heads=heads,
                    qk_dim=kvr + rope,
                    v_dim=kvr,
                    queries=t,
                    keys=keys,
                    kv_heads=1,
                    precision=act,
                    kv_bytes=s.kv.bytes,
                    kv_dim=kvr + rope,
                )
            )
            ops.append(gemm_op("v_absorb", t, vd, kvr, count=heads, precision=p, out_bytes=ob))
        else:
            ops.append(
                gemm_op(
                    "kv_up", t, heads * (nope + vd), kvr, precision=p, out_bytes=ob,
                    module="mla_up_proj",
                )
            )  # fmt: skip
            if s.phase is Phase.PREFILL:
                ops.append(_kv_write(t * (kvr + rope), s))
            ops.append(
                attention_op(
                    "attention",
                    pairs=pairs,
                    heads=heads,
                    qk_dim=nope + rope,
                    v_dim=vd,
                    queries=t,
                    keys=keys,
                    kv_heads=heads,
                    precision=act,
                )
            )
        ops.append(
            gemm_op("o_proj", t, h, heads * vd, precision=p, out_bytes=ob, module="attn_proj")
        )
        return ops
    d = model.qk_dim
    kvh = model.n_kv_heads
    kv_local = kvh // s.tp if kvh >= s.tp else 1
    ops.append(
        gemm_op(
            "qkv_proj", t, (heads + 2 * kv_local) * d, h, precision=p, out_bytes=ob,
            module="attn_proj",
        )
    )  # fmt: skip
    if s.phase in (Phase.PREFILL, Phase.DECODE):
        ops.append(_kv_write(t * kv_local * 2 * d, s))
    ops.append(
        attention_op(
            "attention",
            pairs=pairs,
            heads=heads,
            qk_dim=d,
            v_dim=d,
            queries=t,
            keys=keys,
            kv_heads=kv_local,
            precision=act,
            kv_bytes=s.kv.bytes if decode else None,
        )
    )
    ops.append(gemm_op("o_proj", t, h, heads * d, precision=p, out_bytes=ob, module="attn_proj"))
    return ops


def _kv_write(elements: float, s: _Shard) -> Operator:
    """Append new keys/values to the KV cache (a cast-and-copy kernel)."""
    return Operator(
        name="kv_cache_write",
        kind=OpKind.ELEMENTWISE,
        flops=elements,
        bytes_read=elements * s.act.bytes,
        bytes_written=elements * s.kv.bytes,
        precision=s.act,
    )


# --------------------------------------------------------------------------- model
@attrs.frozen(kw_only=True, slots=True)
class ModelOperators:
    """Every operator of a pass through the model on one GPU.

    Parameters
    ----------
    phase
        The :class:`Phase`.
    pre
        Before the layers: the token embedding (its gradient in backward).
    layers
        One tuple of operators per layer, in layer order (identical layers
        share the same tuple).
    post
        After the layers: the final norm, the LM head and the loss (training)
        or the sampling softmax (inference).
    """

    phase: Phase
    pre: tuple[Operator, ...]
    layers: tuple[tuple[Operator, ...], ...]
    post: tuple[Operator, ...]

    def all(self) -> tuple[Operator, ...]:
        """All operators in execution order (backward runs post, layers reversed, pre)."""
        return tuple(self)

    def __iter__(self) -> Iterator[Operator]:
        if self.phase is Phase.BACKWARD:
            yield from self.post
            for ops in reversed(self.layers):
                yield from ops
            yield from self.pre
        else:
            yield from self.pre
            for ops in self.layers:
                yield from ops
            yield from self.post

    @property
    def flops(self) -> float:
        """Total FLOPs [FLOP]."""
        return sum(op.flops for op in self)

    @property
    def bytes_read(self) -> float:
        """Total bytes read [B]."""
        return sum(op.bytes_read for op in self)

    @property
    def bytes_written(self) -> float:
        """Total bytes written [B]."""
        return sum(op.bytes_written for op in self)


def model_operators(
    model: Transformer,
    *,
    phase: Phase | str,
    batch: int,
    seq_len: int | None = None,
    precision: Precision | str = Precision.BF16,
    tp: int = 1,
    cp: int = 1,
    ep: int = 1,
    etp: int | None = None,
    kv_len: int | None = None,
    causal: bool = True,
    sequence_parallel: bool | None = None,
    kv_precision: Precision | str | None = None,
    activation_precision: Precision | str | None = None,
    layers: range | None = None,
    embedding: bool = True,
    lm_head: bool = True,
    expert_load: float = 1.0,
) -> ModelOperators:
    """Operators of a whole pass on one GPU: embedding, every layer, LM head.

    Takes the arguments of :func:`layer_operators` (except ``layer``), plus:

    Parameters
    ----------
    layers
        Which layers this GPU runs (a pipeline stage), default all.
    embedding, lm_head
        Include the embedding (first stage) and the final norm, LM head and
        loss (last stage).
    expert_load
        As for :func:`layer_operators`.

    Notes
    -----
    The LM head is vocabulary-parallel over ``tp`` (``ceil(vocab / tp)``
    columns per GPU).  Prefill computes logits for the last token of each
    sequence only; decode for every new token.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> m = bm.catalog.model("llama3-8b")
    >>> f = model_operators(m, phase="forward", batch=1, seq_len=4096, causal=False)
    >>> b = model_operators(m, phase="backward", batch=1, seq_len=4096, causal=False)
    >>> round((f.flops + b.flops) / 4096 / m.training_flops_per_token(4096), 3)
    1.0
    """
    s = _shard(
        model,
        phase=phase,
        batch=batch,
        seq_len=seq_len,
        precision=precision,
        tp=tp,
        cp=cp,
        ep=ep,
        etp=etp,
        kv_len=kv_len,
        causal=causal,
        sequence_parallel=sequence_parallel,
        kv_precision=kv_precision,
        activation_precision=activation_precision,
        expert_load=expert_load,
    )
    if layers is None:
        start, stop = 0, model.layers
    else:
        if not isinstance(layers, range) or layers.step != 1:
            raise SpecError(f"layers must be a range of layer indices with step 1, got {layers!r}")
        start, stop = layers.start, layers.stop
        if not 0 <= start <= stop <= model.layers:
            raise SpecError(
                f"layers must lie in range(0, {model.layers}) for {model.name}, got {layers!r}"
            )
    return _model_ops(model, s, start, stop, bool(embedding), bool(lm_head))


@functools.lru_cache(maxsize=2048)
def _model_ops(  # noqa: PLR0917 - positional arguments are the lru_cache key
    model: Transformer, s: _Shard, start: int, stop: int, embedding: bool, lm_head: bool
) -> ModelOperators:
    per_layer = tuple(
        _layer_ops(model, LayerType(model.is_moe_layer(i), model.is_sliding_layer(i)), s)
        for i in range(start, stop)
    )
    pre, post = _edge_ops(model, s)
    if s.phase is Phase.BACKWARD:
        pre = tuple(b for op in reversed(pre) for b in backward_ops(op))
        post = tuple(b for op in reversed(post) for b in backward_ops(op))
    return ModelOperators(
        phase=s.phase,
        pre=pre if embedding else (),
        layers=per_layer,
        post=post if lm_head else (),
    )


def _edge_ops(model: Transformer, s: _Shard) -> tuple[tuple[Operator, ...], tuple[Operator, ...]]:
    h = model.hidden
    t = _tokens(s)
    t_sp = t / s.tp if s.sp else t
    act = s.act
    rows = t * (2 if model.position_embeddings else 1)
    pre = (
        Operator(
            name="embedding",
            kind=OpKind.EMBEDDING,
            flops=0.0 if not model.position_embeddings else t * h,
            bytes_read=rows * h * act.bytes / s.tp,
            bytes_written=t_sp * h * act.bytes,
            precision=act,
        ),
    )
    t_head = float(s.batch) if s.phase is Phase.PREFILL else t
    v_local = math.ceil(model.vocab / s.tp)
    post: list[Operator] = [
        elementwise_op(
            "final_norm", t_sp * h, t_sp * h, flops_per_element=4.0, precision=act, kind=OpKind.NORM
        ),
        gemm_op("lm_head", t_head, v_local, h, precision=s.precision, out_bytes=act.bytes),
    ]
    if s.phase in (Phase.FORWARD, Phase.BACKWARD):
        post.append(
            Operator(
                name="loss",
                kind=OpKind.LOSS,
                flops=5.0 * t_head * v_local,
                bytes_read=t_head * v_local * act.bytes,
                bytes_written=t_head * 4.0,
                precision=act,
            )
        )
    else:
        post.append(
            Operator(
                name="sample",
                kind=OpKind.LOSS,
                flops=5.0 * t_head * v_local,
                bytes_read=t_head * v_local * act.bytes,
                bytes_written=t_head * 4.0,
                precision=act,
            )
        )
    return pre, tuple(post)
