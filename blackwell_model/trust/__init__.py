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

__all__ = [
    "PARAMETERS",
    "Calibration",
    "CollectiveBenchmark",
    "CollectiveMeasurement",
    "GemmMeasurement",
    "Measurements",
    "MemoryMeasurement",
    "Parameter",
    "Residual",
    "ServingMeasurement",
    "TrainingMeasurement",
    "calibrate",
    "load_measurements",
    "parse_nccl_tests",
    "read_gemm_csv",
    "read_nccl_tests",
]
