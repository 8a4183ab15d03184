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

from . import catalog, errors, units
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
)
from .units import Q_, ureg

__version__ = "0.1.0"

__all__ = [
    "CPU",
    "Q_",
    "Accelerator",
    "BlackwellModelError",
    "Cluster",
    "Cooling",
    "DomainTopology",
    "Fabric",
    "FabricTopology",
    "InfeasibleLayoutError",
    "LinkKind",
    "LinkSpec",
    "Node",
    "Precision",
    "ScaleUpDomain",
    "SpecError",
    "SpecFileError",
    "Superchip",
    "SwitchSpec",
    "TopologyError",
    "UnitMismatchError",
    "UnknownNameError",
    "UnsupportedPrecisionError",
    "__version__",
    "catalog",
    "errors",
    "units",
    "ureg",
]
