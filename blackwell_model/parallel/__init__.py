"""Parallel layouts and the memory they need per GPU."""

from .layout import TRAINING_PRECISIONS, Layout, Recompute
from .memory import MemoryBreakdown, MemoryModel, activation_bytes_per_layer, memory_per_gpu

__all__ = [
    "TRAINING_PRECISIONS",
    "Layout",
    "MemoryBreakdown",
    "MemoryModel",
    "Recompute",
    "activation_bytes_per_layer",
    "memory_per_gpu",
]
