"""blackwell_model: composable, unit-aware models of AI hardware and what LLM workloads cost on it.

Quantities at the edges, floats inside: every public input accepts a pint
Quantity or a string such as ``"1.8 TB/s"``; parts store canonical SI units.

Examples
--------
>>> import blackwell_model as bm
>>> print(bm.catalog.accelerator("H100-SXM").peak("bf16").to("TFLOP/s"))
989.4 TFLOP/s
"""

from __future__ import annotations

from . import catalog, errors, plot, solvers, study, topology, trust, units
from .errors import (
    BlackwellModelError,
    InfeasibleLayoutError,
    SpecError,
    SpecFileError,
    TopologyError,
    UnitMismatchError,
    UnknownNameError,
    UnsupportedPrecisionError,
)
from .hardware import (
    CPU,
    Accelerator,
    Cluster,
    Cooling,
    DomainTopology,
    Fabric,
    FabricTopology,
    LinkKind,
    LinkSpec,
    Node,
    Precision,
    ScaleUpDomain,
    Superchip,
    SwitchSpec,
    with_accelerator,
    with_links,
)
from .parallel import InferenceLayout, Layout, MemoryModel, Recompute
from .predict import (
    DisaggregatedDeployment,
    DisaggregatedReport,
    InferenceCurve,
    InferenceReport,
    ServingFrontier,
    SizingResult,
    TrainingReport,
    TrainingRunReport,
    inference_sweep,
    predict_disaggregated,
    predict_inference,
    predict_training,
    predict_training_run,
    serving_frontier,
    size_deployment,
)
from .solvers import (
    CheckpointModel,
    CollectiveEfficiency,
    CostOptions,
    Efficiency,
    EnergyReport,
    Facility,
    FailureRates,
    GoodputReport,
    InferenceEfficiency,
    PowerModel,
    Pricing,
    ReliabilityModel,
    RestartModel,
    StragglerModel,
    inference_energy,
    job_goodput,
    training_energy,
)
from .solvers.serving_params import EngineLimits, WeightFormat
from .solvers.serving_presets import ServingPreset, serving_preset
from .solvers.speculation import Speculation
from .solvers.training import TrainingEfficiency
from .study import (
    FleetPlan,
    PartitionReport,
    SearchResult,
    ServingTenant,
    TrainingTenant,
    partition,
    plan_fleet,
    rank_partitions,
    search_layouts,
    search_many,
)
from .topology import to_graph
from .trust import Calibration, calibrate, load_measurements
from .units import Q_, ureg
from .workload import Transformer

__version__ = "0.1.0"

__all__ = [
    "CPU",
    "Q_",
    "Accelerator",
    "BlackwellModelError",
    "Calibration",
    "CheckpointModel",
    "Cluster",
    "CollectiveEfficiency",
    "Cooling",
    "CostOptions",
    "DisaggregatedDeployment",
    "DisaggregatedReport",
    "DomainTopology",
    "Efficiency",
    "EnergyReport",
    "EngineLimits",
    "Fabric",
    "FabricTopology",
    "Facility",
    "FailureRates",
    "FleetPlan",
    "GoodputReport",
    "InfeasibleLayoutError",
    "InferenceCurve",
    "InferenceEfficiency",
    "InferenceLayout",
    "InferenceReport",
    "Layout",
    "LinkKind",
    "LinkSpec",
    "MemoryModel",
    "Node",
    "PartitionReport",
    "PowerModel",
    "Precision",
    "Pricing",
    "Recompute",
    "ReliabilityModel",
    "RestartModel",
    "ScaleUpDomain",
    "SearchResult",
    "ServingFrontier",
    "ServingPreset",
    "ServingTenant",
    "SizingResult",
    "SpecError",
    "SpecFileError",
    "Speculation",
    "StragglerModel",
    "Superchip",
    "SwitchSpec",
    "TopologyError",
    "TrainingEfficiency",
    "TrainingReport",
    "TrainingRunReport",
    "TrainingTenant",
    "Transformer",
    "UnitMismatchError",
    "UnknownNameError",
    "UnsupportedPrecisionError",
    "WeightFormat",
    "__version__",
    "calibrate",
    "catalog",
    "errors",
    "inference_energy",
    "inference_sweep",
    "job_goodput",
    "load_measurements",
    "partition",
    "plan_fleet",
    "plot",
    "predict_disaggregated",
    "predict_inference",
    "predict_training",
    "predict_training_run",
    "rank_partitions",
    "search_layouts",
    "search_many",
    "serving_frontier",
    "serving_preset",
    "size_deployment",
    "solvers",
    "study",
    "to_graph",
    "topology",
    "training_energy",
    "trust",
    "units",
    "ureg",
    "with_accelerator",
    "with_links",
]
