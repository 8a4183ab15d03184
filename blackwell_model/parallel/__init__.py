"""Parallel layouts and the memory they need per GPU."""

from .inference import InferenceLayout
from .layout import (
    LAYOUT_RULES,
    RECOMPUTE_CODES,
    TRAINING_PRECISIONS,
    Layout,
    Recompute,
    rule_masks,
    stack_layouts,
)
from .memory import (
    MEMORY_KEYS,
    MemoryBreakdown,
    MemoryModel,
    activation_bytes_arrays,
    activation_bytes_per_layer,
    memory_arrays,
    memory_per_gpu,
)

__all__ = [
    "LAYOUT_RULES",
    "MEMORY_KEYS",
    "RECOMPUTE_CODES",
    "TRAINING_PRECISIONS",
    "InferenceLayout",
    "Layout",
    "MemoryBreakdown",
    "MemoryModel",
    "Recompute",
    "activation_bytes_arrays",
    "activation_bytes_per_layer",
    "memory_arrays",
    "memory_per_gpu",
    "rule_masks",
    "stack_layouts",
]
