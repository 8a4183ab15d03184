"""Composite parts: superchips, nodes, scale-up domains, fabrics and clusters."""

from __future__ import annotations

import enum
import math
from typing import Any

import attrs
import pint

from .._spec import (
    Spec,
    bool_field,
    enum_field,
    int_field,
    name_field,
    part_field,
    q_field,
    sources_field,
    text_field,
)
from .._validate import check_float, check_int
from ..errors import SpecError
from ..units import Q_
from .chip import CPU, Accelerator
from .link import LinkSpec, SwitchSpec

__all__ = [
    "Cluster",
    "Cooling",
    "DomainTopology",
    "Fabric",
    "FabricTopology",
    "Node",
    "ScaleUpDomain",
    "Superchip",
]


class Cooling(enum.Enum):
    """How a system is cooled; sets the default facility PUE in the energy model."""

    AIR = "air"
    LIQUID = "liquid"


class DomainTopology(enum.Enum):
    """How the accelerators of a scale-up domain are wired to each other."""

    #: Every accelerator has ports to a set of switches (NVSwitch, NVLink Switch).
    SWITCHED = "switched"
    #: Direct links between every pair (AMD Infinity Fabric 8-GPU platforms).
    MESH = "mesh"
    #: Nearest-neighbour links in a 2D/3D torus (Google TPU ICI).
    TORUS = "torus"


class FabricTopology(enum.Enum):
    """Shape of a scale-out fabric."""

    FAT_TREE = "fat_tree"


def _optional_count(value: Any, field: attrs.Attribute) -> int | None:  # type: ignore[type-arg]
    return None if value is None else check_int(value, field.name)


def _ratio(value: Any, field: attrs.Attribute) -> float:  # type: ignore[type-arg]
    return check_float(value, field.name)


def _shape(value: Any, field: attrs.Attribute) -> tuple[int, ...]:  # type: ignore[type-arg]
    if value is None or value == ():
        return ()
    try:
        dims = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise SpecError(
            f"{field.name} must be a list of positive integers, got {value!r}"
        ) from None
    if any(d < 1 for d in dims) or any(int(v) != v for v in value):
        raise SpecError(f"{field.name} must be a list of positive integers, got {value!r}")
    return dims


@attrs.frozen(kw_only=True, repr=False)
class Superchip(Spec):
    """CPUs and accelerators on one module, joined by a chip-to-chip link (GB200).

    Parameters
    ----------
    name
        Catalog name, e.g. ``"GB200"``.
    cpu, cpus
        The CPU part and how many are on the module.
    accelerator, accelerators
        The accelerator part and how many are on the module.
    c2c_link
        The CPU-accelerator link of each accelerator (NVLink-C2C: 450 GB/s each
        way, 900 GB/s total, per Grace-Blackwell pair).
    max_power
        Maximum module power [W], where known.
    """

    catalog_kind = "superchip"

    name: str = name_field()
    cpu: CPU = part_field(lambda: CPU, "cpu")
    cpus: int = int_field(minimum=1, default=1)
    accelerator: Accelerator = part_field(lambda: Accelerator, "accelerator")
    accelerators: int = int_field(minimum=1, default=2)
    c2c_link: LinkSpec = part_field(lambda: LinkSpec, "link")
    max_power: pint.Quantity | None = q_field("W", optional=True)
    sources: dict[str, str] = sources_field()
    notes: str = text_field()


@attrs.frozen(kw_only=True, repr=False)
class Node(Spec):
    """A server or compute tray: accelerators, host CPUs and network ports.

    Give either a ``superchip`` and the number of ``superchips`` (GB200 tray:
    two GB200 = 4 GPUs + 2 Grace), or an ``accelerator`` with ``accelerators``
    and optionally a host ``cpu`` with ``cpus`` (DGX H100: 8 H100 + 2 Xeon).

    Parameters
    ----------
    name
        Catalog name.
    accelerator, accelerators
        Accelerator part and count (derived from the superchip when given).
    cpu, cpus
        Host CPU part and count (derived from the superchip when given).
    superchip, superchips
        Superchip part and count, or None and 0.
    host_link
        Accelerator-to-host link when there is no superchip (PCIe), or None.
    nic
        Scale-out network port of each accelerator; defaults to the
        accelerator's ``nic``.
    nics_per_accelerator
        Scale-out ports per accelerator (1 in DGX H100 and GB200 NVL72).
    max_power
        Maximum power of the whole node [W], where known (DGX H100: 10.2 kW).
    """

    catalog_kind = "node"

    name: str = name_field()
    accelerator: Accelerator | None = part_field(lambda: Accelerator, "accelerator", optional=True)
    accelerators: int = int_field(minimum=0, default=0)
    cpu: CPU | None = part_field(lambda: CPU, "cpu", optional=True)
    cpus: int = int_field(minimum=0, default=0)
    superchip: Superchip | None = part_field(lambda: Superchip, "superchip", optional=True)
    superchips: int = int_field(minimum=0, default=0)
    host_link: LinkSpec | None = part_field(lambda: LinkSpec, "link", optional=True)
    nic: LinkSpec | None = part_field(lambda: LinkSpec, "link", optional=True)
    nics_per_accelerator: int = int_field(minimum=0, default=1)
    max_power: pint.Quantity | None = q_field("W", optional=True)
    sources: dict[str, str] = sources_field()
    notes: str = text_field()

    def __attrs_post_init__(self) -> None:
        sc = self.superchip
        if sc is not None:
            if self.superchips < 1:
                raise SpecError(
                    f"superchips must be >= 1 when superchip is given, got {self.superchips}"
                )
            if self.accelerator is None:
                object.__setattr__(self, "accelerator", sc.accelerator)
            elif self.accelerator != sc.accelerator:
                raise SpecError(
                    f"accelerator {self.accelerator.name!r} differs from the superchip's "
                    f"{sc.accelerator.name!r}; leave accelerator out or make them equal"
                )
            want = self.superchips * sc.accelerators
            if self.accelerators == 0:
                object.__setattr__(self, "accelerators", want)
            elif self.accelerators != want:
                raise SpecError(
                    f"accelerators must be superchips x {sc.accelerators} = {want}, "
                    f"got {self.accelerators}"
                )
            if self.cpu is None:
                object.__setattr__(self, "cpu", sc.cpu)
            want_cpus = self.superchips * sc.cpus
            if self.cpus == 0:
                object.__setattr__(self, "cpus", want_cpus)
            elif self.cpus != want_cpus:
                raise SpecError(
                    f"cpus must be superchips x {sc.cpus} = {want_cpus}, got {self.cpus}"
                )
        else:
            if self.superchips:
                raise SpecError(f"superchips is {self.superchips} but no superchip is given")
            if self.accelerator is None:
                raise SpecError(f"node {self.name!r} needs an accelerator (or a superchip)")
            if self.accelerators < 1:
                raise SpecError(f"accelerators must be an integer >= 1, got {self.accelerators}")
            if self.cpus and self.cpu is None:
                raise SpecError(f"cpus is {self.cpus} but no cpu is given")
        if self.nic is None and self.accelerator is not None and self.accelerator.nic is not None:
            object.__setattr__(self, "nic", self.accelerator.nic)

    @property
    def gpus(self) -> int:
        """Accelerators in the node (alias of ``accelerators``)."""
        return self.accelerators

    @property
    def nic_bandwidth(self) -> pint.Quantity:
        """Scale-out bandwidth per accelerator, per direction [B/s]."""
        if self.nic is None:
            return Q_(0.0, "B/s")
        return self.nic.bandwidth * float(self.nics_per_accelerator)


@attrs.frozen(kw_only=True, repr=False)
class ScaleUpDomain(Spec):
    """A set of accelerators joined by the scale-up network (one NVLink domain).

    An HGX/DGX 8-GPU board is one node with its NVSwitch chips; a GB200 NVL72
    rack is 18 compute trays and 18 NVLink Switch chips.

    Parameters
    ----------
    name
        Catalog name, e.g. ``"GB200-NVL72"``.
    node, nodes
        Node part and number of nodes in the domain.
    topology
        :class:`DomainTopology` (switched, mesh or torus).
    switch, switches
        Scale-up switch chip and count (switched topology only).
    link
        Scale-up port of each accelerator; defaults to the accelerator's
        ``scale_up_link``.
    links_per_accelerator
        Scale-up ports used per accelerator; defaults to the accelerator's
        ``scale_up_ports``.  In a switched domain the ports are spread over the
        switches as evenly as they go (HGX H100: 18 links over 4 NVSwitch chips
        as 5, 4, 4, 5).
    torus_shape
        Chips along each torus dimension (torus topology only).
    cooling
        :class:`Cooling` (air or liquid).
    max_power
        Maximum power of the whole domain (rack or server) [W], where known.
    """

    catalog_kind = "system"

    name: str = name_field()
    node: Node = part_field(lambda: Node, "node")
    nodes: int = int_field(minimum=1, default=1)
    topology: DomainTopology = enum_field(DomainTopology, default=DomainTopology.SWITCHED)
    switch: SwitchSpec | None = part_field(lambda: SwitchSpec, "switch", optional=True)
    switches: int = int_field(minimum=0, default=0)
    link: LinkSpec | None = part_field(lambda: LinkSpec, "link", optional=True)
    links_per_accelerator: int = int_field(minimum=0, default=0)
    torus_shape: tuple[int, ...] = attrs.field(
        default=(),
        converter=attrs.Converter(_shape, takes_field=True),  # type: ignore[call-overload,misc]
    )
    cooling: Cooling = enum_field(Cooling, default=Cooling.AIR)
    max_power: pint.Quantity | None = q_field("W", optional=True)
    sources: dict[str, str] = sources_field()
    notes: str = text_field()

    def __attrs_post_init__(self) -> None:
        acc = self.node.accelerator
        if acc is None:  # pragma: no cover - Node guarantees an accelerator
            raise SpecError("node has no accelerator")
        if self.link is None and acc.scale_up_link is not None:
            object.__setattr__(self, "link", acc.scale_up_link)
        if self.links_per_accelerator == 0 and acc.scale_up_ports:
            object.__setattr__(self, "links_per_accelerator", acc.scale_up_ports)
        gpus = self.gpus
        if gpus > 1 and (self.link is None or self.links_per_accelerator < 1):
            raise SpecError(
                f"domain {self.name!r} has {gpus} accelerators but no scale-up link; "
                "give link and links_per_accelerator"
            )
        if self.topology is DomainTopology.SWITCHED and gpus > 1:
            if self.switch is None or self.switches < 1:
                raise SpecError(f"switched domain {self.name!r} needs a switch and switches >= 1")
            need = gpus * self.links_per_accelerator
            have = self.switch.ports * self.switches
            if have < need:
                raise SpecError(
                    f"domain {self.name!r}: {self.switches} x {self.switch.name} give {have} "
                    f"ports but {gpus} accelerators x {self.links_per_accelerator} links need {need}"
                )
        if self.topology is DomainTopology.TORUS:
            if not self.torus_shape or math.prod(self.torus_shape) != gpus:
                raise SpecError(
                    f"torus_shape must multiply to the {gpus} accelerators of {self.name!r}, "
                    f"got {list(self.torus_shape)}"
                )
        elif self.torus_shape:
            raise SpecError(
                f"torus_shape is only valid for a torus topology, got {self.topology.value}"
            )

    @property
    def accelerator(self) -> Accelerator:
        """The accelerator part of the domain."""
        return self.node.accelerator  # type: ignore[return-value]

    @property
    def gpus(self) -> int:
        """Accelerators in the domain."""
        return self.node.accelerators * self.nodes

    @property
    def cpus(self) -> int:
        """Host CPUs in the domain."""
        return self.node.cpus * self.nodes

    @property
    def scale_up_bandwidth(self) -> pint.Quantity:
        """Scale-up bandwidth of one accelerator, per direction [B/s]."""
        if self.link is None:
            return Q_(0.0, "B/s")
        return self.link.bandwidth * float(self.links_per_accelerator)

    @property
    def total_scale_up_bandwidth(self) -> pint.Quantity:
        """All accelerators, both directions [B/s] (130 TB/s for GB200 NVL72)."""
        return self.scale_up_bandwidth * (2.0 * self.gpus)


def fat_tree_capacity(radix: int, tiers: int, oversubscription: float = 1.0) -> int:
    """Largest number of endpoints a folded-Clos fat-tree of ``radix``-port switches serves.

    A leaf splits its ports ``down : up = oversubscription : 1``; upper tiers
    are non-blocking.

    .. math:: N_1 = k, \\quad N_2 = d\\,k, \\quad N_3 = d\\,k^2/2,
              \\quad d = \\left\\lfloor k \\frac{r}{1+r} \\right\\rfloor

    Parameters
    ----------
    radix
        Ports per switch ``k``.
    tiers
        Switch tiers (1, 2 or 3).
    oversubscription
        Leaf down:up ratio ``r`` (1 = non-blocking).
    """
    if tiers == 1:
        return radix
    down = int(radix * oversubscription / (1.0 + oversubscription))
    if tiers == 2:
        return down * radix
    return down * radix * (radix // 2)


@attrs.frozen(kw_only=True, repr=False)
class Fabric(Spec):
    """A scale-out network joining scale-up domains (InfiniBand or Ethernet).

    The accelerators' NICs (on :class:`Node`) are its endpoints.

    Parameters
    ----------
    name
        Name, e.g. ``"Quantum-2 fat-tree"``.
    switch
        The switch used at every tier.
    tiers
        Switch tiers: 1 (single switch), 2 (leaf-spine) or 3 (leaf-spine-core).
    topology
        :class:`FabricTopology` (fat-tree).
    oversubscription
        Leaf down:up bandwidth ratio; 1 is non-blocking, 2 halves bisection.
    rail_optimized
        Accelerator *i* of every node connects to leaf group (rail) *i*.
    link
        Switch-to-switch cable; defaults to a switch port.
    sharp
        Use the switch's in-network reduction (SHARP) when it has one.
    """

    catalog_kind = "fabric"

    name: str = name_field()
    switch: SwitchSpec = part_field(lambda: SwitchSpec, "switch")
    tiers: int = int_field(minimum=1, default=2)
    topology: FabricTopology = enum_field(FabricTopology, default=FabricTopology.FAT_TREE)
    oversubscription: float = attrs.field(
        default=1.0,
        converter=attrs.Converter(_ratio, takes_field=True),  # type: ignore[call-overload,misc]
    )
    rail_optimized: bool = bool_field(default=True)
    link: LinkSpec | None = part_field(lambda: LinkSpec, "link", optional=True)
    sharp: bool = bool_field(default=True)
    sources: dict[str, str] = sources_field()
    notes: str = text_field()

    @tiers.validator
    def _check_tiers(self, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
        if value > 3:
            raise SpecError(f"tiers must be 1, 2 or 3, got {value}")

    @oversubscription.validator
    def _check_over(self, attribute: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
        if not (math.isfinite(value) and value >= 1.0):
            raise SpecError(f"oversubscription must be a finite ratio >= 1, got {value!r}")

    def __attrs_post_init__(self) -> None:
        if self.link is None:
            object.__setattr__(self, "link", self.switch.port_link())

    @property
    def max_endpoints(self) -> int:
        """Most NIC ports this fabric can connect (see :func:`fat_tree_capacity`)."""
        return fat_tree_capacity(self.switch.ports, self.tiers, self.oversubscription)


@attrs.frozen(kw_only=True, repr=False)
class Cluster(Spec):
    """Scale-up domains joined by a scale-out fabric.

    Parameters
    ----------
    name
        Name, e.g. ``"GB200-NVL72 x 57"``.
    domain
        The scale-up domain replicated ``domains`` times.
    domains
        Number of domains.
    fabric
        Scale-out fabric; may be None only for a single domain.
    active_gpus
        GPUs the cluster offers to workloads when fewer than all installed (the
        last domain partly used), or None for all of them.
        :func:`~blackwell_model.catalog.cluster` sets it to the count asked for.

    Raises
    ------
    SpecError
        If the fabric cannot connect every NIC with its radix and tiers, or
        ``active_gpus`` would leave a whole domain unused.
    """

    catalog_kind = "cluster"

    name: str = name_field()
    domain: ScaleUpDomain = part_field(lambda: ScaleUpDomain, "system")
    domains: int = int_field(minimum=1, default=1)
    fabric: Fabric | None = part_field(lambda: Fabric, "fabric", optional=True)
    active_gpus: int | None = attrs.field(
        default=None,
        converter=attrs.Converter(_optional_count, takes_field=True),  # type: ignore[call-overload,misc]
    )
    sources: dict[str, str] = sources_field()
    notes: str = text_field()

    def __attrs_post_init__(self) -> None:
        installed = self.installed_gpus
        if self.active_gpus is not None:
            lowest = (self.domains - 1) * self.domain.gpus + 1
            if not lowest <= self.active_gpus <= installed:
                raise SpecError(
                    f"active_gpus must be in [{lowest:,}, {installed:,}] for {self.domains} "
                    f"domain(s) of {self.domain.gpus} GPUs (fewer GPUs need fewer domains), "
                    f"got {self.active_gpus:,}"
                )
        if self.fabric is None:
            if self.domains > 1:
                raise SpecError(f"cluster {self.name!r} has {self.domains} domains but no fabric")
            return
        if self.domain.node.nic is None or self.domain.node.nics_per_accelerator < 1:
            raise SpecError(f"cluster {self.name!r}: the node {self.domain.node.name!r} has no NIC")
        endpoints = self.nics
        cap = self.fabric.max_endpoints
        if endpoints > cap:
            raise SpecError(
                f"cluster {self.name!r}: a {self.fabric.tiers}-tier fat-tree of "
                f"{self.fabric.switch.ports}-port {self.fabric.switch.name} switches "
                f"(oversubscription {self.fabric.oversubscription:g}) connects at most {cap} "
                f"NICs, but {installed} accelerators x {self.domain.node.nics_per_accelerator} "
                f"NIC = {endpoints}; add a tier or use a larger switch"
            )

    @property
    def installed_gpus(self) -> int:
        """Accelerators installed: ``domains`` whole domains."""
        return self.domain.gpus * self.domains

    @property
    def gpus(self) -> int:
        """Accelerators the cluster offers to workloads: ``active_gpus``, else all installed.

        :func:`~blackwell_model.catalog.cluster` asked for 1,024 GPUs of 72-GPU
        racks builds 15 racks (1,080 installed) and offers the 1,024 asked for.
        """
        return self.installed_gpus if self.active_gpus is None else self.active_gpus

    @property
    def rounding_note(self) -> str:
        """What was rounded: ``"1,024 of the 1,080 GPUs of 15 GB200-NVL72 domains used"``, or ``""``."""
        if self.gpus == self.installed_gpus:
            return ""
        return (
            f"{self.gpus:,} of the {self.installed_gpus:,} GPUs of {self.domains} "
            f"{self.domain.name} domain(s) used (whole domains are installed)"
        )

    @property
    def nics(self) -> int:
        """Scale-out NIC ports installed in the cluster."""
        return self.installed_gpus * self.domain.node.nics_per_accelerator

    @property
    def accelerator(self) -> Accelerator:
        """The accelerator part of the cluster."""
        return self.domain.accelerator
