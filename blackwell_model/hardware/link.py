"""Links and switches: NVLink, NVLink-C2C, PCIe, InfiniBand, Ethernet, ICI."""

from __future__ import annotations

import enum
from typing import Any

import attrs
import pint

from .._spec import Spec, enum_field, int_field, name_field, q_field, sources_field, text_field
from ..units import Q_

__all__ = ["LinkKind", "LinkSpec", "SwitchSpec"]


class LinkKind(enum.Enum):
    """Family of a link or switch port."""

    NVLINK = "nvlink"
    C2C = "c2c"
    PCIE = "pcie"
    INFINIBAND = "infiniband"
    ETHERNET = "ethernet"
    INFINITY_FABRIC = "infinity_fabric"
    ICI = "ici"
    NEURONLINK = "neuronlink"


@attrs.frozen(kw_only=True, repr=False)
class LinkSpec(Spec):
    """One physical link (or one port of a device) between two endpoints.

    Parameters
    ----------
    name
        Catalog name, e.g. ``"NVLink5"``.
    kind
        Link family (:class:`LinkKind` or its name).
    bandwidth
        Data rate of **one** link in **each** direction [B/s].  NVIDIA's
        "total" NVLink figures count both directions: an NVLink 5 link is
        100 GB/s total, 50 GB/s each way.  Network ports are quoted in bits:
        400 Gb/s = 50 GB/s.
    latency
        One-way latency added by traversing the link, port to port [s].
    energy_per_bit
        Transfer energy [J/bit], where known.
    power
        Power of one port at its endpoint, where known [W]: for a network port
        the NIC adapter plus its pluggable transceiver, drawn whether or not
        data flows (SerDes and lasers stay on).  None for links whose power is
        already inside a chip's TDP (NVLink, C2C, PCIe).  Used by the energy
        model (:mod:`blackwell_model.solvers.energy`).
    sources
        Field name -> source of the number.
    notes
        Free text (caveats, sparse/dense remarks).

    Examples
    --------
    >>> nvl5 = LinkSpec(name="NVLink5", kind="nvlink", bandwidth="50 GB/s", latency="0.6 us")
    >>> print(nvl5.bidirectional_bandwidth.to("GB/s"))
    100.0 GB/s
    """

    catalog_kind = "link"

    name: str = name_field()
    kind: LinkKind = enum_field(LinkKind)
    bandwidth: pint.Quantity = q_field("GB/s", doc="per link, per direction")
    latency: pint.Quantity = q_field("us", allow_zero=True)
    energy_per_bit: pint.Quantity | None = q_field("pJ/bit", optional=True)
    power: pint.Quantity | None = q_field("W", optional=True)
    sources: dict[str, str] = sources_field()
    notes: str = text_field()

    @property
    def bidirectional_bandwidth(self) -> pint.Quantity:
        """Both directions summed [B/s] (NVIDIA's "total" convention)."""
        return self.bandwidth * 2.0

    @property
    def bandwidth_Bps(self) -> float:
        """Per-direction bandwidth as a float [B/s]."""
        return float(self.bandwidth.m)

    @property
    def latency_s(self) -> float:
        """Latency as a float [s]."""
        return float(self.latency.m)


@attrs.frozen(kw_only=True, repr=False)
class SwitchSpec(Spec):
    """A switch ASIC (NVSwitch, NVLink Switch, InfiniBand or Ethernet switch).

    Parameters
    ----------
    name
        Catalog name.
    kind
        Family of its ports (:class:`LinkKind`).
    ports
        Number of ports at ``port_bandwidth``.
    port_bandwidth
        Data rate of one port in each direction [B/s].
    latency
        Port-to-port latency [s].
    in_network_reduction
        Name of the in-switch reduction engine (``"NVLS"``, ``"SHARPv3"``...) or
        empty when the switch cannot reduce.
    power
        Typical power of the switch (box or chip, see ``notes``) [W], where known.
    """

    catalog_kind = "switch"

    name: str = name_field()
    kind: LinkKind = enum_field(LinkKind)
    ports: int = int_field(minimum=1)
    port_bandwidth: pint.Quantity = q_field("GB/s", doc="per port, per direction")
    latency: pint.Quantity = q_field("ns", allow_zero=True)
    in_network_reduction: str = text_field()
    power: pint.Quantity | None = q_field("W", optional=True)
    sources: dict[str, str] = sources_field()
    notes: str = text_field()

    @property
    def supports_reduction(self) -> bool:
        """True if the switch can reduce data in the network (NVLS, SHARP)."""
        return bool(self.in_network_reduction)

    @property
    def switching_capacity(self) -> pint.Quantity:
        """All ports, both directions [B/s] (the vendor's headline figure)."""
        return self.port_bandwidth * (2.0 * self.ports)

    def port_link(self, latency: Any = None) -> LinkSpec:
        """A :class:`LinkSpec` describing one of this switch's ports."""
        return LinkSpec(
            name=f"{self.name} port",
            kind=self.kind,
            bandwidth=self.port_bandwidth,
            latency=Q_(0.0, "s") if latency is None else latency,
            sources={"bandwidth": self.sources.get("port_bandwidth", "")},
        )
