"""Orchestration: compose the solvers into reports (no algorithm lives here)."""

from .disaggregated import (
    DisaggregatedDeployment,
    DisaggregatedReport,
    kv_transfer_s,
    predict_disaggregated,
)
from .inference import (
    InferenceCurve,
    InferenceMemory,
    InferencePoint,
    InferenceReport,
    inference_sweep,
    predict_inference,
)
from .run import TrainingRunReport, predict_training_run
from .sizing import (
    FrontierPoint,
    ServingFrontier,
    SizingResult,
    candidate_layouts,
    serving_frontier,
    size_deployment,
)
from .training import TrainingReport, layout_arrays, predict_training, with_energy

__all__ = [
    "DisaggregatedDeployment",
    "DisaggregatedReport",
    "FrontierPoint",
    "InferenceCurve",
    "InferenceMemory",
    "InferencePoint",
    "InferenceReport",
    "ServingFrontier",
    "SizingResult",
    "TrainingReport",
    "TrainingRunReport",
    "candidate_layouts",
    "inference_sweep",
    "kv_transfer_s",
    "layout_arrays",
    "predict_disaggregated",
    "predict_inference",
    "predict_training",
    "predict_training_run",
    "serving_frontier",
    "size_deployment",
    "with_energy",
]
