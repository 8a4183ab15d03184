"""Orchestration: compose the solvers into reports (no algorithm lives here)."""

from .inference import (
    InferenceCurve,
    InferenceMemory,
    InferencePoint,
    InferenceReport,
    inference_sweep,
    predict_inference,
)
from .run import TrainingRunReport, predict_training_run
from .training import TrainingReport, layout_arrays, predict_training, with_energy

__all__ = [
    "InferenceCurve",
    "InferenceMemory",
    "InferencePoint",
    "InferenceReport",
    "TrainingReport",
    "TrainingRunReport",
    "inference_sweep",
    "layout_arrays",
    "predict_inference",
    "predict_training",
    "predict_training_run",
    "with_energy",
]
