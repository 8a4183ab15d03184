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
)
from .parallel import InferenceLayout, Layout, MemoryModel, Recompute
from .predict import (
    InferenceCurve,
    InferenceReport,
    TrainingReport,
    TrainingRunReport,
    inference_sweep,
    predict_inference,
    predict_training,
    predict_training_run,
)
from .solvers import (
    CollectiveEfficiency,
    Efficiency,
    EnergyReport,
    InferenceEfficiency,
    PowerModel,
    Pricing,
    inference_energy,
    training_energy,
)
from .solvers.training import TrainingEfficiency
from .study import SearchResult, search_layouts, search_many
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
    "Cluster",
    "CollectiveEfficiency",
    "Cooling",
    "DomainTopology",
    "Efficiency",
    "EnergyReport",
    "Fabric",
    "FabricTopology",
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
    "PowerModel",
    "Precision",
    "Pricing",
    "Recompute",
    "ScaleUpDomain",
    "SearchResult",
    "SpecError",
    "SpecFileError",
    "Superchip",
    "SwitchSpec",
    "TopologyError",
    "TrainingEfficiency",
    "TrainingReport",
    "TrainingRunReport",
    "Transformer",
    "UnitMismatchError",
    "UnknownNameError",
    "UnsupportedPrecisionError",
    "__version__",
    "calibrate",
    "catalog",
    "errors",
    "inference_energy",
    "inference_sweep",
    "load_measurements",
    "plot",
    "predict_inference",
    "predict_training",
    "predict_training_run",
    "search_layouts",
    "search_many",
    "solvers",
    "study",
    "to_graph",
    "topology",
    "training_energy",
    "trust",
    "units",
    "ureg",
    "with_accelerator",
]
