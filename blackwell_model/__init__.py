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

from . import catalog, errors, solvers, topology, units
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
from .parallel import Layout, MemoryModel, Recompute
from .predict import TrainingReport, predict_training
from .solvers import CollectiveEfficiency, Efficiency
from .solvers.training import TrainingEfficiency
from .topology import to_graph
from .units import Q_, ureg
from .workload import Transformer

__version__ = "0.1.0"

__all__ = [
    "CPU",
    "Q_",
    "Accelerator",
    "BlackwellModelError",
    "Cluster",
    "CollectiveEfficiency",
    "Cooling",
    "DomainTopology",
    "Efficiency",
    "Fabric",
    "FabricTopology",
    "InfeasibleLayoutError",
    "Layout",
    "LinkKind",
    "LinkSpec",
    "MemoryModel",
    "Node",
    "Precision",
    "Recompute",
    "ScaleUpDomain",
    "SpecError",
    "SpecFileError",
    "Superchip",
    "SwitchSpec",
    "TopologyError",
    "TrainingEfficiency",
    "TrainingReport",
    "Transformer",
    "UnitMismatchError",
    "UnknownNameError",
    "UnsupportedPrecisionError",
    "__version__",
    "catalog",
    "errors",
    "predict_training",
    "solvers",
    "to_graph",
    "topology",
    "units",
    "with_accelerator",
    "ureg",
]
