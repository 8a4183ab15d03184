"""What runs: transformer models and the per-GPU operators of their passes.

:class:`Transformer` describes a dense or mixture-of-experts decoder (MHA, GQA
or MLA attention, optional sliding windows) with its parameter counts and
FLOP conventions; :func:`layer_operators` and :func:`model_operators` list
the kernels one GPU runs, with their FLOPs and bytes, for the roofline solver.
Real models are in the catalog: ``bm.catalog.model("llama3-405b")``.
"""

from .operators import (
    ModelOperators,
    Operator,
    OpKind,
    Phase,
    attention_op,
    backward_ops,
    elementwise_op,
    gemm_op,
    layer_operators,
    model_operators,
)
from .transformer import (
    Activation,
    AttentionKind,
    LayerType,
    NormKind,
    Transformer,
    attention_pairs,
)

__all__ = [
    "Activation",
    "AttentionKind",
    "LayerType",
    "ModelOperators",
    "NormKind",
    "OpKind",
    "Operator",
    "Phase",
    "Transformer",
    "attention_op",
    "attention_pairs",
    "backward_ops",
    "elementwise_op",
    "gemm_op",
    "layer_operators",
    "model_operators",
]
