"""What a part *is*: frozen, validated, unit-aware descriptions of hardware.

Every class here is an ``attrs`` frozen class; use :func:`attrs.evolve` for
what-ifs and ``to_dict``/``from_dict`` (or TOML files, see
:func:`blackwell_model.catalog.load_toml`) to save and load parts.
"""

from .chip import CPU, Accelerator
from .link import LinkKind, LinkSpec, SwitchSpec
from .precision import Precision
from .system import (
    Cluster,
    Cooling,
    DomainTopology,
    Fabric,
    FabricTopology,
    Node,
    ScaleUpDomain,
    Superchip,
    fat_tree_capacity,
)
from .whatif import with_accelerator, with_links

__all__ = [
    "CPU",
    "Accelerator",
    "Cluster",
    "Cooling",
    "DomainTopology",
    "Fabric",
    "FabricTopology",
    "LinkKind",
    "LinkSpec",
    "Node",
    "Precision",
    "ScaleUpDomain",
    "Superchip",
    "SwitchSpec",
    "fat_tree_capacity",
    "with_accelerator",
    "with_links",
]
