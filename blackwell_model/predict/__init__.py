"""Orchestration: compose the solvers into reports (no algorithm lives here)."""

from .training import TrainingReport, layout_arrays, predict_training

__all__ = ["TrainingReport", "layout_arrays", "predict_training"]
