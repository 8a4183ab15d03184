"""The facility around the accelerators: parts counted, rack overhead, PUE and cooling.

:func:`cluster_power` counts the powered parts of the used portion of a cluster
(accelerators, host CPUs, NICs, scale-up switches, scale-out fabric switches)
and the power of each, adds the rack overhead and picks the facility PUE from
the domain's :class:`~blackwell_model.hardware.Cooling`; the result is a
:class:`ClusterPower` of floats that :func:`~blackwell_model.solvers.energy.step_energy`
reads.

The public names are also importable from :mod:`blackwell_model.solvers.energy`.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from ..errors import SpecError
from ..hardware.system import Cluster
from ..units import format_quantity
from ._energy_fields import _number
from .power import PowerModel, as_power_model

__all__ = ["SHARED_CHARGES", "ClusterPower", "cluster_power", "fabric_switch_count"]


# ------------------------------------------------------------- cluster parts
@attrs.frozen(kw_only=True)
class ClusterPower:
    """Counts and powers of the parts of (the used portion of) a cluster, as floats.

    Built by :func:`cluster_power`; read by :func:`step_energy`.

    Parameters
    ----------
    accelerators, tdp_W, idle_W
        Accelerator count, TDP and idle power [W].
    cpus, cpu_W, cpu_max_W
        Host CPU count, power at the modelled load and at TDP [W].
    nics, nic_W
        NIC ports and the power of one (adapter + transceiver) [W].
    scale_up_switches, scale_up_switch_W
        Scale-up switch chips (NVSwitch) and the power of one [W].
    fabric_switches, fabric_switch_W
        Scale-out switch boxes and the power of one [W].
    rack_overhead
        Fraction added to the in-rack parts (accelerators, CPUs, NICs,
        scale-up switches).
    pue
        Facility power usage effectiveness.
    domains
        Scale-up domains occupied.
    compute_share
        See :class:`PowerModel`.
    """

    accelerators: int
    tdp_W: float
    idle_W: float
    cpus: int = 0
    cpu_W: float = 0.0
    cpu_max_W: float = 0.0
    nics: int = 0
    nic_W: float = 0.0
    scale_up_switches: int = 0
    scale_up_switch_W: float = 0.0
    fabric_switches: int = 0
    fabric_switch_W: float = 0.0
    rack_overhead: float = 0.0
    pue: float = 1.0
    domains: int = 1
    compute_share: float = 0.8

    def __attrs_post_init__(self) -> None:
        for name in ("accelerators", "cpus", "nics", "scale_up_switches", "fabric_switches"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise SpecError(f"{name} must be an integer >= 0, got {v!r}")
        for name in (
            "tdp_W",
            "idle_W",
            "cpu_W",
            "cpu_max_W",
            "nic_W",
            "scale_up_switch_W",
            "fabric_switch_W",
            "rack_overhead",
        ):
            v = getattr(self, name)
            if not (_number(v) and v >= 0.0):
                raise SpecError(f"{name} must be a finite number >= 0, got {v!r}")
        if not self.idle_W < self.tdp_W:
            raise SpecError(f"idle_W must be < tdp_W ({self.tdp_W:g} W), got {self.idle_W:g} W")
        if not (_number(self.pue) and self.pue >= 1.0):
            raise SpecError(f"pue must be >= 1, got {self.pue!r}")

    def static_W(self) -> float:
        """IT power of everything but the accelerators' activity-dependent part [W]."""
        rack = self.accelerators * self.idle_W + self.cpus * self.cpu_W + self.nics * self.nic_W
        rack += self.scale_up_switches * self.scale_up_switch_W
        return rack * (1.0 + self.rack_overhead) + self.fabric_switches * self.fabric_switch_W

    def max_it_power_W(self) -> float:
        """IT power at full load: accelerators at TDP, CPUs at TDP [W] (before PUE)."""
        rack = self.accelerators * self.tdp_W + self.cpus * self.cpu_max_W
        rack += self.nics * self.nic_W + self.scale_up_switches * self.scale_up_switch_W
        return rack * (1.0 + self.rack_overhead) + self.fabric_switches * self.fabric_switch_W


def fabric_switch_count(fabric: Any, nics: int) -> int:
    r"""Switches of a folded-Clos fat-tree that connects ``nics`` ports, every port used.

    With radix :math:`k` and leaf oversubscription :math:`r`, a leaf has
    :math:`d = \lfloor k r / (1 + r) \rfloor` down ports and
    :math:`u = \min(k - d, \lceil d / r \rceil)` up ports:

    .. math::

       L = \lceil n / d \rceil, \quad
       S_2 = \lceil L u / k \rceil \ (2\ \text{tiers}), \quad
       A = \lceil L u / (k/2) \rceil,\ C = \lceil A / 2 \rceil \ (3\ \text{tiers})

    (1 tier: :math:`\lceil n / k \rceil`).  This is the port-count minimum
    a real deployment aims for; the topology graph of
    :func:`~blackwell_model.to_graph` may leave leaf ports unused to keep
    domains aligned, which this count ignores.

    Parameters
    ----------
    fabric
        A :class:`~blackwell_model.hardware.Fabric` (switch radix, tiers,
        oversubscription).
    nics
        NIC ports to connect.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> fab = bm.catalog.fabric("IB-NDR-fat-tree")
    >>> fabric_switch_count(attrs.evolve(fab, tiers=3), 16384)
    1280
    """
    if isinstance(nics, bool) or not isinstance(nics, int) or nics < 0:
        raise SpecError(f"nics must be an integer >= 0, got {nics!r}")
    if nics == 0:
        return 0
    k = int(fabric.switch.ports)
    if fabric.tiers == 1:
        return math.ceil(nics / k)
    r = float(fabric.oversubscription)
    down = max(1, int(k * r / (1.0 + r)))
    up = max(1, min(k - down, math.ceil(down / r)))
    leaves = math.ceil(nics / down)
    if fabric.tiers == 2:
        return leaves + math.ceil(leaves * up / k)
    agg = math.ceil(leaves * up / max(1, k // 2))
    return leaves + agg + math.ceil(agg / 2)


def _gbps(bandwidth_Bps: float) -> float:  # noqa: N803 - unit suffix (STYLE.md)
    return bandwidth_Bps * 8.0 / 1e9


#: How shared scale-up infrastructure (NVLink switch trays, the domain's
#: switch chips) is charged to a workload on part of a domain:
#: ``"gpus"`` in proportion to the GPUs it uses (default), ``"racks"`` whole
#: domains.
SHARED_CHARGES: tuple[str, ...] = ("gpus", "racks")


def cluster_power(
    cluster: Cluster,
    *,
    gpus: int | None = None,
    power: PowerModel | None = None,
    charge: str = "gpus",
) -> ClusterPower:
    """Count the powered parts of the ``gpus`` accelerators of ``cluster`` that a workload uses.

    Whole nodes and scale-up domains are counted for the accelerators used
    (a layout on 12 GPUs of 8-GPU servers powers 2 servers but only 12 GPUs
    draw accelerator power; the idle 4 still draw idle power); the fabric is
    sized for the occupied domains and counted only when the work spans more
    than one domain (a job inside one NVLink domain does not use the
    scale-out network; its NICs are still powered).  Idle domains of a
    larger cluster are not counted: pass a cluster sized to the workload to
    count them.

    Parameters
    ----------
    cluster
        The :class:`~blackwell_model.hardware.Cluster`.
    gpus
        Accelerators used; defaults to all of the cluster's.
    power
        :class:`PowerModel`; defaults to the documented defaults.
    charge
        How the scale-up switches of a partly used domain are charged:
        ``"gpus"`` (default) in proportion to the GPUs used, so 8 GPUs of a
        72-GPU NVL72 rack carry 8/72 of its 18 NVLink switch chips, as a
        shared rack is billed; ``"racks"``: every switch of each occupied
        domain (the rack is dedicated to the workload).

    Raises
    ------
    SpecError
        If ``gpus`` is not in [1, cluster.gpus], a power cap lies outside
        (idle, TDP], or ``charge`` is not one of :data:`SHARED_CHARGES`.
    """
    pm = as_power_model(power)
    if not isinstance(cluster, Cluster):
        raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
    n = cluster.gpus if gpus is None else gpus
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= cluster.gpus:
        raise SpecError(f"gpus must be an integer in [1, {cluster.gpus}], got {n!r}")
    if charge not in SHARED_CHARGES:
        raise SpecError(f"charge must be one of {', '.join(SHARED_CHARGES)}, got {charge!r}")
    dom = cluster.domain
    node = dom.node
    acc = cluster.accelerator
    tdp = float(acc.tdp.m)
    idle = float(acc.idle_power.m) if acc.idle_power is not None else pm.idle_fraction * tdp
    if pm.power_cap is not None:
        cap = float(pm.power_cap.m)
        if not idle < cap <= tdp:
            raise SpecError(
                f"power_cap must be in ({idle:g} W idle, {tdp:g} W TDP] for {acc.name}, "
                f"got {format_quantity(pm.power_cap)}"
            )
    domains = math.ceil(n / dom.gpus)
    nodes = math.ceil(n / node.accelerators)
    # a whole node is powered; its unused accelerators idle
    powered = nodes * node.accelerators
    if node.cpu is not None and node.cpus > 0:
        cpus = nodes * node.cpus
        cpu_tdp = (
            float(node.cpu.tdp.m)
            if node.cpu.tdp is not None
            else (float(pm.host_tdp_per_accelerator.m) * node.accelerators / node.cpus)
        )
    else:
        cpus = nodes
        cpu_tdp = float(pm.host_tdp_per_accelerator.m) * node.accelerators
    cpu_w = cpu_tdp * (pm.cpu_idle_fraction + (1.0 - pm.cpu_idle_fraction) * pm.cpu_load)
    nics = 0
    nic_w = 0.0
    fabric_switches = 0
    fabric_w = 0.0
    if node.nic is not None and node.nics_per_accelerator > 0 and cluster.fabric is not None:
        nics = powered * node.nics_per_accelerator
        nic_w = (
            float(node.nic.power.m)
            if node.nic.power is not None
            else pm.nic_power_per_bandwidth * _gbps(node.nic.bandwidth_Bps)
        )
        if domains > 1:
            fabric_switches = fabric_switch_count(cluster.fabric, nics)
            sw = cluster.fabric.switch
            fabric_w = (
                float(sw.power.m)
                if sw.power is not None
                else pm.fabric_switch_power_per_bandwidth
                * sw.ports
                * _gbps(float(sw.port_bandwidth.m))
            )
    su_switches = 0
    su_w = 0.0
    if dom.switch is not None and dom.switches > 0 and dom.gpus > 1:
        su_switches = domains * dom.switches
        sw = dom.switch
        su_w = (
            float(sw.power.m)
            if sw.power is not None
            else pm.scale_up_switch_power_per_bandwidth
            * sw.ports
            * _gbps(float(sw.port_bandwidth.m))
        )
        if charge == "gpus":
            # the workload's share of the occupied domains' switches
            su_w *= n / (domains * dom.gpus)
    return ClusterPower(
        accelerators=powered,
        tdp_W=tdp,
        idle_W=idle,
        cpus=cpus,
        cpu_W=cpu_w,
        cpu_max_W=cpu_tdp,
        nics=nics,
        nic_W=nic_w,
        scale_up_switches=su_switches,
        scale_up_switch_W=su_w,
        fabric_switches=fabric_switches,
        fabric_switch_W=fabric_w,
        rack_overhead=pm.rack_overhead_for(dom.cooling),
        pue=pm.pue_for(dom.cooling),
        domains=domains,
        compute_share=pm.compute_share,
    )
