"""Trust: calibrate the model on your own measurements, and read every prediction with its uncertainty.

* :func:`calibrate` fits the documented efficiency parameters to what you
  measured (GEMM sweeps, ``nccl-tests`` tables, memory bandwidth, step times
  and serving latencies) and returns a :class:`Calibration` the predictors
  accept (:mod:`~blackwell_model.trust.calibration`, readers in
  :mod:`~blackwell_model.trust.measurements`).
* :func:`prediction_interval` (``report.interval(0.8)``) gives a low/high
  range from the validation residuals of comparable measured cases, and
  :func:`evidence` (``report.evidence()``) says whether the accelerator,
  system and workload class have published measurements behind them
  (:mod:`~blackwell_model.trust.intervals`).
* :func:`sensitivity` (``report.sensitivity()``) gives the elasticity of the
  step time (or serving throughput) to every hardware figure and main
  efficiency parameter (:mod:`~blackwell_model.trust.sensitivity`).

See :doc:`/trust`.
"""

from __future__ import annotations

from .calibration import PARAMETERS, Calibration, Parameter, Residual, calibrate
from .intervals import (
    CaseResidual,
    Evidence,
    PredictionInterval,
    evidence,
    generation,
    leave_one_out_coverage,
    prediction_interval,
    validation_residuals,
)
from .measurements import (
    CollectiveBenchmark,
    CollectiveMeasurement,
    GemmMeasurement,
    Measurements,
    MemoryMeasurement,
    ServingMeasurement,
    TrainingMeasurement,
    load_measurements,
    parse_nccl_tests,
    read_gemm_csv,
    read_nccl_tests,
)
from .sensitivity import Sensitivity, scale_hardware, sensitivity

__all__ = [
    "PARAMETERS",
    "Calibration",
    "CaseResidual",
    "CollectiveBenchmark",
    "CollectiveMeasurement",
    "Evidence",
    "GemmMeasurement",
    "Measurements",
    "MemoryMeasurement",
    "Parameter",
    "PredictionInterval",
    "Residual",
    "Sensitivity",
    "ServingMeasurement",
    "TrainingMeasurement",
    "calibrate",
    "evidence",
    "generation",
    "leave_one_out_coverage",
    "load_measurements",
    "parse_nccl_tests",
    "prediction_interval",
    "read_gemm_csv",
    "read_nccl_tests",
    "scale_hardware",
    "sensitivity",
    "validation_residuals",
]
