"""The :class:`Transformer` model description: shapes, parameter counts, FLOP conventions.

A :class:`Transformer` is a frozen, validated ``attrs`` class describing a
decoder-only language model: dense or mixture-of-experts (MoE), with
multi-head, grouped-query or DeepSeek's multi-head latent attention (MLA),
and optionally a sliding attention window on some layers.  It knows its
parameter counts and the closed-form FLOP conventions the literature reports;
the per-operator breakdown lives in :mod:`blackwell_model.workload.operators`.

Conventions
-----------
* ``hidden`` is :math:`h`, ``layers`` is :math:`l`, ``vocab`` is :math:`V`.
* Parameter counts include every weight matrix, bias and norm scale.
  :attr:`Transformer.embedding_params` is the input table (plus a learned
  position table); :attr:`Transformer.lm_head_params` is the output
  projection, zero when it is tied to the input table.
* *Active* parameters are those a token touches: the shared layers plus, in
  MoE layers, the router, the ``experts_per_token`` routed experts and the
  shared experts.  Embeddings are included (Mistral's "12.9B active" for
  Mixtral 8x7B and DeepSeek's "37B activated" for V3 count them).
* The FLOP conventions count matrix multiplies only (2 FLOPs per
  multiply-add): :math:`2 N_{mm}` per token forward for the weight GEMMs,
  where :math:`N_{mm}` (:attr:`Transformer.active_matmul_params`) is the
  active GEMM weights *including the LM head* and excluding the input
  embedding lookup, norms and biases; and
  :math:`2 n_q (d_{qk} + d_v)` per query-key pair for attention
  (:math:`4 h s` per token and layer for MHA without causal halving).
  Training (forward + backward) is three times the forward; full activation
  recomputation adds one more forward of the layers (not of the LM head), as in
  Narayanan et al. (2021), eq. 3.

References
----------
.. [1] D. Narayanan et al., "Efficient Large-Scale Language Model Training on GPU
   Clusters Using Megatron-LM", SC'21, arXiv:2104.04473, eq. (3).
.. [2] V. Korthikanti et al., "Reducing Activation Recomputation in Large
   Transformer Models", arXiv:2205.05198.
.. [3] DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437, §2.1.
"""

from __future__ import annotations

import enum
import functools
import math
from typing import Any, NamedTuple

import attrs

from .._spec import (
    Spec,
    _int_converter,
    bool_field,
    enum_field,
    int_field,
    name_field,
    sources_field,
    text_field,
)
from ..errors import SpecError
from ..hardware.precision import Precision

__all__ = [
    "Activation",
    "AttentionKind",
    "LayerType",
    "NormKind",
    "Transformer",
    "attention_pairs",
]


class Activation(enum.Enum):
    """Feed-forward activation; decides how many weight matrices an MLP has.

    ``gelu`` and ``relu2`` (squared ReLU, Nemotron) have an up and a down
    projection; ``swiglu`` (Llama, Mixtral, DeepSeek) has gate, up and down.
    """

    GELU = "gelu"
    SWIGLU = "swiglu"
    RELU2 = "relu2"

    @property
    def matrices(self) -> int:
        """Weight matrices of one MLP (3 for gated units, else 2)."""
        return 3 if self is Activation.SWIGLU else 2


class AttentionKind(enum.Enum):
    """Attention variant.

    ``mha``: one key/value head per query head.  ``gqa``: grouped-query
    attention, ``kv_heads`` < ``heads`` (multi-query when 1).  ``mla``:
    DeepSeek's multi-head latent attention, whose KV cache holds a low-rank
    latent of ``kv_lora_rank + qk_rope_head_dim`` elements per token.
    """

    MHA = "mha"
    GQA = "gqa"
    MLA = "mla"


class NormKind(enum.Enum):
    """Normalisation layer: ``layernorm`` (scale and bias) or ``rmsnorm`` (scale)."""

    LAYERNORM = "layernorm"
    RMSNORM = "rmsnorm"


class LayerType(NamedTuple):
    """What kind of block a layer is: MoE or dense feed-forward, windowed or full attention."""

    moe: bool
    sliding: bool


def _opt_int(minimum: int, doc: str = "") -> Any:
    """An optional integer field (``None`` allowed) with an inclusive lower bound."""

    def convert(value: Any, field: attrs.Attribute) -> int | None:  # type: ignore[type-arg]
        if value is None:
            return None
        return _int_converter(value, field)

    def check(inst: Any, attribute: attrs.Attribute, value: int | None) -> None:  # type: ignore[type-arg]
        if value is not None and value < minimum:
            raise SpecError(f"{attribute.name} must be an integer >= {minimum}, got {value!r}")

    return attrs.field(
        default=None,
        converter=attrs.Converter(convert, takes_field=True),  # type: ignore[call-overload]
        validator=check,
        metadata={"bm_kind": "int", "doc": doc},
    )


def _bool_tuple(value: Any, field: attrs.Attribute) -> tuple[bool, ...]:  # type: ignore[type-arg]
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise SpecError(
            f"{field.name} must be a list of booleans (true = windowed layer), got {value!r}"
        )
    out = []
    for item in value:
        if isinstance(item, bool):
            out.append(item)
        elif isinstance(item, int) and item in (0, 1):
            out.append(bool(item))
        else:
            raise SpecError(f"{field.name} must hold booleans, got {item!r} in {value!r}")
    return tuple(out)


def _attention_kind(value: Any, field: attrs.Attribute) -> AttentionKind | None:  # type: ignore[type-arg]
    if value is None or isinstance(value, AttentionKind):
        return value
    key = str(value).strip().lower()
    for member in AttentionKind:
        if key in (member.value, member.name.lower()):
            return member
    valid = ", ".join(repr(m.value) for m in AttentionKind)
    raise SpecError(f"{field.name} must be one of {valid} (or omitted), got {value!r}")


_MLA_FIELDS = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")


@attrs.frozen(kw_only=True, cache_hash=True, repr=False)
class Transformer(Spec):
    """A decoder-only transformer language model (dense, GQA, MoE, MLA).

    Parameters
    ----------
    name
        Catalog name, e.g. ``"llama3-405b"``.
    layers
        Transformer blocks :math:`l`.
    hidden
        Model width :math:`h` (residual stream).
    heads
        Query heads.
    kv_heads
        Key/value heads; ``None`` means ``heads`` (multi-head attention).
        Must divide ``heads``.  Ignored by MLA (which has ``heads`` K/V heads
        expanded from its latent).
    head_dim
        Per-head query/key/value size; ``None`` means ``hidden // heads``.
        Set it where ``heads * head_dim != hidden`` (Qwen3, gpt-oss, GPT-J
        has ``4096 / 16 = 256``).
    ffn_hidden
        Intermediate size of the dense feed-forward blocks (0 when every layer
        is MoE).
    vocab
        Vocabulary size :math:`V` (as padded in the checkpoint).
    activation
        ``"gelu"``, ``"swiglu"`` or ``"relu2"``.
    norm
        ``"rmsnorm"`` or ``"layernorm"``.
    bias
        Linear layers carry bias vectors (GPT-3, GPT-J, gpt-oss).
    parallel_attention
        Attention and MLP read the same normalised input and are summed
        (GPT-J, Falcon): one norm per block instead of two.
    tied_embeddings
        The LM head reuses the input embedding matrix.
    position_embeddings
        Rows of a learned absolute position table (GPT-3: 2048); 0 for
        rotary or no position embedding.
    attention
        ``"mha"``, ``"gqa"`` or ``"mla"``; ``None`` infers MHA or GQA from
        ``kv_heads``.  MLA must be named and needs the low-rank dimensions.
    q_lora_rank
        MLA: rank of the query compression (``None``: queries are projected
        directly, as in DeepSeek-V2-Lite).
    kv_lora_rank
        MLA: rank of the joint key/value latent (512 in DeepSeek-V3).
    qk_nope_head_dim, qk_rope_head_dim, v_head_dim
        MLA: per-head sizes of the non-rotary and rotary query/key parts and
        of the values (128, 64, 128 in DeepSeek-V3).
    sliding_window
        Window of the windowed (local, sliding or chunked) attention layers
        [tokens]; ``None`` when every layer attends to the whole context.
    sliding_window_pattern
        Which layers use the window, as a cycle repeated over the layers
        (``[true, false]``: layer 0 windowed, layer 1 full, ...; gpt-oss).
        Empty means every layer is windowed.
    experts
        Routed experts per MoE layer; 0 for a dense model.
    experts_per_token
        Routed experts each token is sent to (top-k).
    shared_experts
        Always-active experts per MoE layer (DeepSeek-V3, Llama 4: 1).
    expert_ffn_hidden
        Intermediate size of one routed (and shared) expert.
    dense_layers
        Leading layers that are dense even in an MoE model (DeepSeek-V3: 3);
        they use ``ffn_hidden``.
    moe_layer_step
        After the leading dense layers, every ``moe_layer_step``-th layer is
        MoE and the others dense (Llama 4 Maverick: 2).  Layer ``i`` is MoE
        when ``(i - dense_layers + 1) % moe_layer_step == 0``.
    mtp_layers
        Multi-token-prediction modules trained with the model (DeepSeek-V3:
        1).  Each is a projection of two normalised inputs (``2h -> h``), one
        transformer block like the last layer and a pass through the shared
        LM head (DeepSeek-V3 report §2.2; Megatron-Core
        ``multi_token_prediction.py``).  They are not counted in
        :attr:`total_params` (published counts leave them out) but add to the
        training FLOPs (:meth:`training_flops_per_token`) and memory.
    sources
        Field name -> source of the number (config file or paper + table).
    notes
        Caveats.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> m = bm.catalog.model("llama3-8b")
    >>> round(m.total_params / 1e9, 2)
    8.03
    >>> m.layer_types()[0]
    LayerType(moe=False, sliding=False)
    """

    catalog_kind = "model"

    name: str = name_field()
    layers: int = int_field(minimum=1, doc="transformer blocks")
    hidden: int = int_field(minimum=1, doc="model width")
    heads: int = int_field(minimum=1, doc="query heads")
    kv_heads: int | None = _opt_int(1, "key/value heads")
    head_dim: int | None = _opt_int(1, "per-head size")
    ffn_hidden: int = int_field(minimum=0, default=0, doc="dense MLP intermediate size")
    vocab: int = int_field(minimum=1, doc="vocabulary size")
    activation: Activation = enum_field(Activation, default=Activation.SWIGLU)
    norm: NormKind = enum_field(NormKind, default=NormKind.RMSNORM)
    bias: bool = bool_field(default=False)
    parallel_attention: bool = bool_field(default=False)
    tied_embeddings: bool = bool_field(default=False)
    position_embeddings: int = int_field(minimum=0, default=0)
    attention: AttentionKind | None = attrs.field(
        default=None,
        converter=attrs.Converter(_attention_kind, takes_field=True),  # type: ignore[call-overload,misc]
        metadata={"bm_kind": "enum", "enum": AttentionKind},
    )
    q_lora_rank: int | None = _opt_int(1)
    kv_lora_rank: int | None = _opt_int(1)
    qk_nope_head_dim: int | None = _opt_int(1)
    qk_rope_head_dim: int | None = _opt_int(0)
    v_head_dim: int | None = _opt_int(1)
    sliding_window: int | None = _opt_int(1)
    sliding_window_pattern: tuple[bool, ...] = attrs.field(
        default=(),
        converter=attrs.Converter(_bool_tuple, takes_field=True),  # type: ignore[call-overload,misc]
    )
    experts: int = int_field(minimum=0, default=0)
    experts_per_token: int = int_field(minimum=0, default=0)
    shared_experts: int = int_field(minimum=0, default=0)
    expert_ffn_hidden: int = int_field(minimum=0, default=0)
    dense_layers: int = int_field(minimum=0, default=0)
    moe_layer_step: int = int_field(minimum=1, default=1)
    mtp_layers: int = int_field(minimum=0, default=0)
    sources: dict[str, str] = sources_field()
    notes: str = text_field()

    def __attrs_post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        kind = self.attention_kind
        if self.kv_heads is not None:
            if self.kv_heads > self.heads:
                raise SpecError(f"kv_heads must be <= heads ({self.heads}), got {self.kv_heads}")
            if self.heads % self.kv_heads:
                raise SpecError(f"kv_heads must divide heads ({self.heads}), got {self.kv_heads}")
        if kind is AttentionKind.MHA and self.n_kv_heads != self.heads:
            raise SpecError(
                f"attention 'mha' needs kv_heads == heads ({self.heads}), got {self.kv_heads}; "
                "use 'gqa'"
            )
        if kind is AttentionKind.MLA:
            missing = [f for f in _MLA_FIELDS if getattr(self, f) is None]
            if missing:
                raise SpecError(
                    f"attention 'mla' needs {', '.join(missing)} (integers >= 1; "
                    "qk_rope_head_dim >= 0)"
                )
        else:
            given = [f for f in (*_MLA_FIELDS, "q_lora_rank") if getattr(self, f) is not None]
            if given:
                raise SpecError(
                    f"{', '.join(given)} only apply to attention 'mla', got attention "
                    f"{kind.value!r}"
                )
            if self.head_dim is None and self.hidden % self.heads:
                raise SpecError(
                    f"heads must divide hidden ({self.hidden}) unless head_dim is given, "
                    f"got heads = {self.heads}"
                )
        if self.sliding_window_pattern and self.sliding_window is None:
            raise SpecError(
                "sliding_window_pattern is given but sliding_window is not; "
                "give the window size in tokens"
            )
        if self.experts == 0:
            extra = [
                f
                for f in ("experts_per_token", "shared_experts", "expert_ffn_hidden")
                if getattr(self, f)
            ]
            if extra:
                raise SpecError(f"{', '.join(extra)} need experts >= 1, got experts = 0")
        else:
            if not 1 <= self.experts_per_token <= self.experts:
                raise SpecError(
                    f"experts_per_token must be in [1, experts = {self.experts}], "
                    f"got {self.experts_per_token}"
                )
            if self.expert_ffn_hidden < 1:
                raise SpecError(
                    f"expert_ffn_hidden must be an integer >= 1 for an MoE model, "
                    f"got {self.expert_ffn_hidden}"
                )
            if self.dense_layers > self.layers:
                raise SpecError(
                    f"dense_layers must be <= layers ({self.layers}), got {self.dense_layers}"
                )
        dense = self.layers - self.moe_layers_before(self.layers)
        if dense > 0 and self.ffn_hidden < 1:
            raise SpecError(
                f"ffn_hidden must be an integer >= 1: the model has {dense} "
                f"dense layer(s), got {self.ffn_hidden}"
            )

    # ------------------------------------------------------------- geometry
    @property
    def attention_kind(self) -> AttentionKind:
        """The attention variant, with ``None`` resolved to MHA or GQA."""
        if self.attention is not None:
            return self.attention
        kv = self.kv_heads if self.kv_heads is not None else self.heads
        return AttentionKind.MHA if kv == self.heads else AttentionKind.GQA

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model."""
        return self.experts > 0

    @property
    def n_kv_heads(self) -> int:
        """Key/value heads as stored per token (``heads`` for MHA and MLA)."""
        if self.attention_kind is AttentionKind.MLA:
            return self.heads
        return self.kv_heads if self.kv_heads is not None else self.heads

    @property
    def qk_dim(self) -> int:
        """Per-head query/key size (``qk_nope + qk_rope`` for MLA)."""
        if self.attention_kind is AttentionKind.MLA:
            return int(self.qk_nope_head_dim or 0) + int(self.qk_rope_head_dim or 0)
        return self.head_dim if self.head_dim is not None else self.hidden // self.heads

    @property
    def v_dim(self) -> int:
        """Per-head value size."""
        if self.attention_kind is AttentionKind.MLA:
            return int(self.v_head_dim or 0)
        return self.qk_dim

    @property
    def q_width(self) -> int:
        """Width of all query heads, ``heads * qk_dim`` (the :math:`h` of 12·l·h·s)."""
        return self.heads * self.qk_dim

    def is_moe_layer(self, index: int) -> bool:
        """True if layer ``index`` (0-based) has an MoE feed-forward block."""
        if not self.is_moe or index < self.dense_layers:
            return False
        return (index - self.dense_layers + 1) % self.moe_layer_step == 0

    def is_sliding_layer(self, index: int) -> bool:
        """True if layer ``index`` (0-based) uses the sliding/local attention window."""
        if self.sliding_window is None:
            return False
        if not self.sliding_window_pattern:
            return True
        return self.sliding_window_pattern[index % len(self.sliding_window_pattern)]

    def layer_types(self) -> tuple[LayerType, ...]:
        """The :class:`LayerType` of every layer, in order (cached).

        Its length is the layer count; code that only needs how many layers of
        each kind there are uses :meth:`layer_type_counts`, whose cost does not
        grow with the layer count.
        """
        return _layer_types(self)

    def moe_layers_before(self, n: int) -> int:
        """MoE layers among layers ``0 .. n - 1`` (closed form)."""
        if not self.is_moe or n <= self.dense_layers:
            return 0
        return (min(n, self.layers) - self.dense_layers) // self.moe_layer_step

    def layer_type_counts(self) -> dict[LayerType, int]:
        """How many layers of each :class:`LayerType` the model has (cached).

        Computed over one period of the MoE step and the window pattern, so
        its cost does not grow with the layer count.

        Examples
        --------
        >>> import blackwell_model as bm
        >>> bm.catalog.model("gpt-oss-120b").layer_type_counts()
        {LayerType(moe=True, sliding=True): 18, LayerType(moe=True, sliding=False): 18}
        """
        return dict(_layer_type_counts(self))

    def distinct_layer_types(self) -> tuple[LayerType, ...]:
        """The layer types that occur, in order of first occurrence."""
        return tuple(lt for lt, _ in _layer_type_counts(self))

    @property
    def n_moe_layers(self) -> int:
        """Layers with an MoE feed-forward block."""
        return self.moe_layers_before(self.layers)

    @property
    def n_dense_layers(self) -> int:
        """Layers with a dense feed-forward block."""
        return self.layers - self.n_moe_layers

    # ------------------------------------------------------------ parameters
    @property
    def attention_params(self) -> int:
        """Weights (and biases) of one attention block, norms inside MLA included."""
        h = self.hidden
        if self.attention_kind is AttentionKind.MLA:
            nope = int(self.qk_nope_head_dim or 0)
            rope = int(self.qk_rope_head_dim or 0)
            kvr = int(self.kv_lora_rank or 0)
            q_out = self.heads * (nope + rope)
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * q_out
            else:
                q = h * q_out
            kv = h * (kvr + rope) + kvr + kvr * self.heads * (nope + self.v_dim)
            o = self.heads * self.v_dim * h
            return q + kv + o + (h if self.bias else 0)
        q = h * self.q_width
        kv = 2 * h * self.n_kv_heads * self.qk_dim
        o = self.q_width * h
        b = (self.q_width + 2 * self.n_kv_heads * self.qk_dim + h) if self.bias else 0
        return q + kv + o + b

    def _mlp_params(self, ffn: int) -> int:
        mats = self.activation.matrices
        b = ((mats - 1) * ffn + self.hidden) if self.bias else 0
        return mats * self.hidden * ffn + b

    @property
    def dense_mlp_params(self) -> int:
        """Weights of one dense feed-forward block."""
        return self._mlp_params(self.ffn_hidden) if self.ffn_hidden else 0

    @property
    def expert_params(self) -> int:
        """Weights of one routed (or shared) expert."""
        return self._mlp_params(self.expert_ffn_hidden) if self.is_moe else 0

    @property
    def router_params(self) -> int:
        """Weights of one MoE router (``hidden x experts``)."""
        return self.hidden * self.experts

    @property
    def norm_params(self) -> int:
        """Scale (and bias) parameters of one norm of width ``hidden``."""
        return self.hidden * (2 if self.norm is NormKind.LAYERNORM else 1)

    @property
    def block_norm_params(self) -> int:
        """Norm parameters of one block (one norm with ``parallel_attention``, else two)."""
        return (1 if self.parallel_attention else 2) * self.norm_params

    @property
    def _block_norms(self) -> int:
        # kept for callers written against the first draft; use block_norm_params
        return self.block_norm_params

    @property
    def embedding_params(self) -> int:
        """Input token embedding (and learned position) table."""
        return (self.vocab + self.position_embeddings) * self.hidden

    @property
    def lm_head_params(self) -> int:
        """Output projection; 0 when tied to the input embedding."""
        return 0 if self.tied_embeddings else self.vocab * self.hidden

    def _moe_block(self, experts: int) -> int:
        return self.router_params + (experts + self.shared_experts) * self.expert_params

    @property
    def total_params(self) -> int:
        """All parameters: layers, norms, embeddings and LM head."""
        return _param_counts(self)[0]

    @property
    def active_params(self) -> int:
        """Parameters a token touches (top-k and shared experts only; embeddings included)."""
        return _param_counts(self)[1]

    @property
    def non_embedding_params(self) -> int:
        """:attr:`total_params` without the embedding table and the LM head."""
        return self.total_params - self.embedding_params - self.lm_head_params

    @property
    def mtp_params(self) -> int:
        """Parameters of the multi-token-prediction modules (shared embedding and head excluded)."""
        if not self.mtp_layers:
            return 0
        last_moe = self.is_moe_layer(self.layers - 1)
        block = self.attention_params + self.block_norm_params
        block += self._moe_block(self.experts) if last_moe else self.dense_mlp_params
        proj = 2 * self.hidden * self.hidden + 3 * self.norm_params
        return self.mtp_layers * (block + proj)

    @property
    def mtp_expert_params(self) -> int:
        """Routed-expert parameters inside the MTP modules (sharded like the experts)."""
        if not self.mtp_layers or not self.is_moe_layer(self.layers - 1):
            return 0
        return self.mtp_layers * self.experts * self.expert_params

    @property
    def mtp_matmul_params(self) -> int:
        """Active GEMM weights per token of the MTP modules, their LM-head passes included."""
        if not self.mtp_layers:
            return 0
        h = self.hidden
        attn_mm = self.attention_params - _attention_non_matmul(self)
        if self.is_moe_layer(self.layers - 1):
            ffn = self.router_params + (self.experts_per_token + self.shared_experts) * _mlp_matmul(
                self, self.expert_ffn_hidden
            )
        else:
            ffn = _mlp_matmul(self, self.ffn_hidden)
        return self.mtp_layers * (attn_mm + ffn + 2 * h * h + self.vocab * h)

    @property
    def active_matmul_params(self) -> int:
        """Active GEMM weights per token, LM head included, input embedding excluded.

        This is the :math:`N` of the :math:`6N + 12 l h s` convention: every
        weight a token multiplies in a GEMM, without norms and biases.
        """
        return _param_counts(self)[2]

    # ----------------------------------------------------------- KV cache
    def kv_elements_per_token_layer(self) -> int:
        """Elements cached per token and layer (``2 * kv_heads * head_dim``; MLA latent)."""
        if self.attention_kind is AttentionKind.MLA:
            return int(self.kv_lora_rank or 0) + int(self.qk_rope_head_dim or 0)
        return self.n_kv_heads * (self.qk_dim + self.v_dim)

    def kv_cache_bytes_per_token(self, precision: Precision | str = Precision.BF16) -> float:
        """KV-cache size of one token over all layers [B].

        An upper bound for windowed layers (they keep at most
        ``sliding_window`` tokens); see :meth:`kv_cache_bytes`.
        """
        p = Precision.parse(precision)
        return float(self.layers * self.kv_elements_per_token_layer() * p.bytes)

    def kv_cache_bytes(self, context: int, precision: Precision | str = Precision.BF16) -> float:
        """KV-cache size of one sequence of ``context`` tokens [B], windows honoured."""
        if isinstance(context, bool) or not isinstance(context, int) or context < 0:
            raise SpecError(f"context must be an integer >= 0 tokens, got {context!r}")
        p = Precision.parse(precision)
        per = self.kv_elements_per_token_layer() * p.bytes
        total = 0.0
        for t, count in _layer_type_counts(self):
            kept = (
                min(context, self.sliding_window) if t.sliding and self.sliding_window else context
            )
            total += count * kept * per
        return total

    # ---------------------------------------------------------- FLOP conventions
    def attention_flops_per_token(self, seq_len: int, *, causal: bool = False) -> float:
        """Forward attention-score FLOPs per token, all layers [FLOP].

        :math:`2 n_q (d_{qk} + d_v)` per query-key pair: :math:`4 h s` per
        layer for MHA.  ``causal=False`` (the default) counts every pair, as
        the NeMo and Megatron conventions do; ``causal=True`` counts the
        :math:`(s+1)/2` keys a query sees on average.  Windowed layers see at
        most ``sliding_window`` keys.
        """
        _check_positive_int("seq_len", seq_len)
        per_pair = 2.0 * self.heads * (self.qk_dim + self.v_dim)
        total = 0.0
        for t, count in _layer_type_counts(self):
            window = self.sliding_window if t.sliding else None
            pairs = attention_pairs(seq_len, seq_len, causal=causal, window=window)
            total += count * pairs / seq_len
        return per_pair * total

    def forward_flops_per_token(self, seq_len: int, *, causal: bool = False) -> float:
        """Forward GEMM + attention FLOPs per token [FLOP]: :math:`2N_{mm}` + attention.

        Multi-token-prediction modules (:attr:`mtp_layers`) add their GEMMs
        (:attr:`mtp_matmul_params`) and one more layer of attention each.
        """
        attn = self.attention_flops_per_token(seq_len, causal=causal)
        mtp = 0.0
        if self.mtp_layers:
            mtp = 2.0 * self.mtp_matmul_params + self.mtp_layers * attn / self.layers
        return 2.0 * self.active_matmul_params + attn + mtp

    def training_flops_per_token(
        self, seq_len: int, *, recompute: bool = False, causal: bool = False
    ) -> float:
        """Training FLOPs per token, forward and backward [FLOP].

        .. math::

            F = 6 N_{mm} + 3 A(s) \\; (+\\, 2 (N_{mm} - V h) + A(s) \\text{ with full recompute})

        where :math:`A(s)` is :meth:`attention_flops_per_token`
        (:math:`4 l h s` for MHA, so :math:`3A = 12 l h s`).  For a dense GPT
        with ``ffn = 4h`` and full recomputation this is Narayanan's
        :math:`96 B s l h^2 (1 + s/6h + V/16lh)` divided by :math:`B s`.

        Parameters
        ----------
        seq_len
            Sequence length :math:`s` [tokens].
        recompute
            Add one forward pass of every layer (full activation
            recomputation); the LM head is not recomputed.
        causal
            Halve the attention work as a causal mask does (the NeMo and
            Megatron conventions do not).
        """
        fwd = self.forward_flops_per_token(seq_len, causal=causal)
        total = 3.0 * fwd
        if recompute:
            total += fwd - 2.0 * self.vocab * self.hidden
        return total


def attention_pairs(
    queries: int, keys: int, *, causal: bool = True, window: int | None = None
) -> float:
    """Query-key pairs one sequence's attention computes.

    Parameters
    ----------
    queries
        New tokens (queries) :math:`s_q`.
    keys
        Context length :math:`s_k \\ge s_q` [tokens]: earlier tokens (a prefix
        or KV cache) plus the queries themselves.
    causal
        Query :math:`i` sees the prefix and queries :math:`0..i`; otherwise
        every query sees every key.
    window
        Sliding window [tokens]: a query sees at most this many keys.

    Returns
    -------
    float
        :math:`\\sum_i \\min(\\text{keys seen by query } i, w)`.
    """
    if not causal:
        return float(queries) * float(min(keys, window) if window else keys)
    prefix = max(keys - queries, 0)
    if window is None or window >= keys:
        return float(queries) * prefix + queries * (queries + 1) / 2.0
    # keys seen by query i: prefix + i + 1, capped at window
    n1 = min(max(window - prefix, 0), queries)
    return float(n1) * prefix + n1 * (n1 + 1) / 2.0 + float(queries - n1) * window


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{name} must be an integer >= 1, got {value!r}")


@functools.lru_cache(maxsize=512)
def _layer_types(model: Transformer) -> tuple[LayerType, ...]:
    return tuple(
        LayerType(model.is_moe_layer(i), model.is_sliding_layer(i)) for i in range(model.layers)
    )


@functools.lru_cache(maxsize=512)
def _layer_type_counts(model: Transformer) -> tuple[tuple[LayerType, int], ...]:
    """``(LayerType, count)`` in order of first occurrence, over one period."""
    pattern = model.sliding_window_pattern if model.sliding_window is not None else ()
    period_w = len(pattern) or 1
    step = model.moe_layer_step if model.is_moe else 1
    d = model.dense_layers if model.is_moe else model.layers
    d = min(d, model.layers)
    q = math.lcm(step, period_w)

    def sliding(i: int) -> bool:
        if model.sliding_window is None:
            return False
        return pattern[i % period_w] if pattern else True

    def in_range(r: int, mod: int, a: int, b: int) -> int:
        def below(x: int) -> int:
            return max(0, (x - r + mod - 1) // mod)

        return below(b) - below(a)

    counts: dict[LayerType, int] = {}
    first: dict[LayerType, int] = {}
    for r in range(period_w):  # leading dense layers
        c = in_range(r, period_w, 0, d)
        if c:
            lt = LayerType(False, sliding(r))
            counts[lt] = counts.get(lt, 0) + c
            first.setdefault(lt, r)
    for r in range(q):  # after them: MoE every ``step``-th layer
        c = in_range(r, q, d, model.layers)
        if c:
            moe = model.is_moe and (r - d + 1) % step == 0
            lt = LayerType(moe, sliding(r))
            counts[lt] = counts.get(lt, 0) + c
            start = d + ((r - d) % q)
            first[lt] = min(first.get(lt, start), start)
    return tuple(sorted(counts.items(), key=lambda kv: first[kv[0]]))


@functools.lru_cache(maxsize=512)
def _param_counts(model: Transformer) -> tuple[int, int, int]:
    """(total, active, active GEMM weights incl. LM head) of ``model``."""
    total = active = mm = 0
    attn = model.attention_params
    attn_mm = attn - _attention_non_matmul(model)
    norms = model.block_norm_params
    k = model.experts_per_token
    n_moe = model.n_moe_layers
    n_dense = model.layers - n_moe
    total += model.layers * (attn + norms)
    active += model.layers * (attn + norms)
    mm += model.layers * attn_mm
    if n_moe:
        total += n_moe * model._moe_block(model.experts)
        active += n_moe * model._moe_block(k)
        mm += n_moe * (
            model.router_params
            + (k + model.shared_experts) * _mlp_matmul(model, model.expert_ffn_hidden)
        )
    total += n_dense * model.dense_mlp_params
    active += n_dense * model.dense_mlp_params
    mm += n_dense * _mlp_matmul(model, model.ffn_hidden)
    tail = model.norm_params + model.embedding_params + model.lm_head_params
    total += tail
    active += tail
    mm += model.vocab * model.hidden
    return total, active, mm


def _mlp_matmul(model: Transformer, ffn: int) -> int:
    return model.activation.matrices * model.hidden * ffn


def _attention_non_matmul(model: Transformer) -> int:
    """Biases and the MLA latent norms inside :attr:`Transformer.attention_params`."""
    h = model.hidden
    if model.attention_kind is AttentionKind.MLA:
        return (model.q_lora_rank or 0) + int(model.kv_lora_rank or 0) + (h if model.bias else 0)
    if not model.bias:
        return 0
    return model.q_width + 2 * model.n_kv_heads * model.qk_dim + h
