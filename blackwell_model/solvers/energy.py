"""Power, energy, PUE and money: joules and dollars for a step, a token and a run.

A cluster's power is the sum of its parts, each drawing a power that depends
on how busy it is during each *phase* of a step (compute, exposed
communication, pipeline bubble, optimizer...).  Energy is power times time,
phase by phase, so the parts and the phases both add up to the total:

.. math::

   E = \\sum_{\\text{phases } p} t_p \\, \\mathrm{PUE} \\left[
        (1 + o)\\left(N_a P_a(p) + N_c P_c + N_n P_n + N_s P_s\\right) + N_f P_f \\right]

with :math:`N_a` accelerators at phase power :math:`P_a(p)`, :math:`N_c` host
CPUs, :math:`N_n` NIC ports (adapter + transceiver), :math:`N_s` scale-up
switch chips (NVSwitch), :math:`o` the rack overhead fraction (fans, DRAM,
drives, DPUs, power conversion), :math:`N_f` scale-out fabric switches (box
power, optics included) and the facility's power usage effectiveness PUE.

An accelerator draws its idle power plus a share of its dynamic range for
each unit it keeps busy:

.. math::

   P_a = P_{idle} + (P_{TDP} - P_{idle}) \\left( w_c\\, a_c + (1 - w_c)\\, a_m \\right)

where :math:`a_c, a_m \\in [0, 1]` are the fractions of the phase during which
the tensor/SM pipes and HBM are busy (*activity*, not achieved efficiency: a
GEMM at 70 % of peak keeps the tensor pipes issuing all the time and runs at
TDP), and :math:`w_c` the compute share of the dynamic range.

A power cap :math:`P_{cap}` lowers the clock.  Dynamic CMOS power is
:math:`\\propto f V^2` and in the DVFS range the voltage tracks the frequency,
so :math:`P_{dyn} \\propto f^3` (exponent ``clock_exponent``).  A phase whose
uncapped power exceeds the cap runs at clock ratio

.. math::

   r = \\left( \\frac{P_{cap} - P_{idle}}{P_a - P_{idle}} \\right)^{1/3}, \\qquad
   t' = t \\left( \\frac{a_c}{r} + 1 - a_c \\right)

so compute-bound time stretches by :math:`1/r` and memory-bound time does not.

Every default is a documented, sourced figure or marked as an assumption
(see :class:`PowerModel` and the Energy page of the docs).  Floats inside,
quantities at the edges: :func:`step_energy` works on floats;
:func:`training_energy` and :func:`inference_energy` take the library's
objects and return an :class:`EnergyReport` of pint quantities.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from typing import Any

import attrs
import pint

from .._display import Display
from ..errors import SpecError
from ..hardware.system import Cluster, Cooling
from ..units import Q_, finite_non_negative, format_quantity, fraction, parse_quantity

_FRACTION = fraction()

__all__ = [
    "DEFAULT_INFERENCE_ACTIVITY",
    "DEFAULT_TRAINING_ACTIVITY",
    "PART_KEYS",
    "ClusterPower",
    "CostReport",
    "EnergyBreakdown",
    "EnergyReport",
    "PhaseActivity",
    "PowerModel",
    "Pricing",
    "accelerator_power_W",
    "capped_phase",
    "cluster_power",
    "cost_breakdown_usd",
    "fabric_switch_count",
    "inference_energy",
    "step_energy",
    "training_energy",
]

#: Parts of the energy breakdown, in order; they add up to the facility energy.
PART_KEYS: tuple[str, ...] = (
    "accelerators",
    "cpus",
    "nics",
    "scale_up_switches",
    "fabric_switches",
    "rack_overhead",
    "facility_overhead",
)

_J_PER_KWH = 3.6e6
_S_PER_H = 3600.0


# --------------------------------------------------------------------- checks
def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _pue(inst: Any, attribute: attrs.Attribute, value: float | None) -> None:  # type: ignore[type-arg]
    if value is None:
        return
    if not (_number(value) and value >= 1.0):
        raise SpecError(
            f"{attribute.name} must be a power usage effectiveness >= 1 "
            f"(facility power / IT power), got {value!r}"
        )


def _opt_q(unit: str) -> Any:
    """Converter: None, or a Quantity in the canonical unit of ``unit``."""

    def convert(value: Any, field: attrs.Attribute) -> Any:  # type: ignore[type-arg]
        if value is None:
            return None
        return parse_quantity(value, unit, name=field.name)

    return attrs.Converter(convert, takes_field=True)  # type: ignore[call-overload]


def _q_attr(unit: str, default: Any, validator: Any) -> Any:
    """An optional quantity field in the canonical unit of ``unit`` (typed Any for mypy)."""
    return attrs.field(default=default, converter=_opt_q(unit), validator=validator)


def _q_non_negative(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if value is None:
        return
    mag = float(value.m)
    if not (math.isfinite(mag) and mag >= 0.0):
        raise SpecError(
            f"{attribute.name} must be >= 0 {value.units:~P}, got {format_quantity(value)}"
        )


def _q_positive(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if value is None:
        return
    mag = float(value.m)
    if not (math.isfinite(mag) and mag > 0.0):
        raise SpecError(
            f"{attribute.name} must be > 0 {value.units:~P}, got {format_quantity(value)}"
        )


def _frozen_map(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(d))


# ------------------------------------------------------------------- activity
@attrs.frozen
class PhaseActivity:
    """How busy an accelerator's units are during one phase of a step.

    Parameters
    ----------
    compute
        Fraction of the phase during which the tensor/SM pipes issue work, in
        [0, 1].  An activity, not an efficiency: a GEMM running at 70 % of
        peak keeps the pipes busy (1.0).  It is also the fraction of the
        phase whose duration scales with the clock under a power cap.
    memory
        Fraction of the phase during which HBM streams data, in [0, 1].
    """

    compute: float = attrs.field(validator=_FRACTION)
    memory: float = attrs.field(validator=_FRACTION)


_COMM = PhaseActivity(0.15, 0.4)

#: Default activity of each training phase (keys of
#: :data:`~blackwell_model.solvers.training.BREAKDOWN_KEYS`).  Assumptions,
#: argued in the Energy docs page: compute and recompute keep the tensor pipes
#: busy with moderate HBM traffic; exposed collectives run NCCL kernels on a
#: few SMs while HBM streams at link rate; a pipeline bubble waits in spinning
#: kernels at high clock; the optimizer is a memory-bound sweep; step overhead
#: (data loading, launch gaps) leaves the GPU near idle.
DEFAULT_TRAINING_ACTIVITY: Mapping[str, PhaseActivity] = _frozen_map(
    {
        "compute": PhaseActivity(1.0, 0.4),
        "recompute": PhaseActivity(1.0, 0.4),
        "tp_comm": _COMM,
        "cp_comm": _COMM,
        "ep_comm": _COMM,
        "pp_comm": _COMM,
        "offload": _COMM,
        "dp_comm": _COMM,
        "pipeline_bubble": PhaseActivity(0.1, 0.05),
        "optimizer": PhaseActivity(0.1, 1.0),
        "overhead": PhaseActivity(0.0, 0.0),
    }
)

#: Default activity of inference phases (assumptions): prefill is compute-bound,
#: decode streams weights and KV cache from HBM with the tensor pipes partly
#: busy, idle waits between requests.
DEFAULT_INFERENCE_ACTIVITY: Mapping[str, PhaseActivity] = _frozen_map(
    {
        "prefill": PhaseActivity(1.0, 0.5),
        "decode": PhaseActivity(0.3, 1.0),
        "idle": PhaseActivity(0.0, 0.0),
    }
)


# ---------------------------------------------------------------- power model
@attrs.frozen(kw_only=True)
class PowerModel:
    """Documented power parameters of the parts of a cluster.

    Catalog figures (``Accelerator.tdp``/``idle_power``, ``CPU.tdp``,
    ``LinkSpec.power``, ``SwitchSpec.power``) win where present; the
    parameters below fill the gaps.  Each default is a sourced figure or an
    argued assumption (the Energy docs page has the table).

    Parameters
    ----------
    idle_fraction
        Accelerator idle power / TDP when the catalog has no ``idle_power``.
        0.11: an idle H100/H200 SXM reads 60-90 W in ``nvidia-smi`` (H200:
        80.3 W measured under vLLM with no requests, 11.5 % of 700 W).
    compute_share
        Share of an accelerator's dynamic range (TDP - idle) drawn when its
        tensor/SM pipes are fully busy; the rest (``1 - compute_share``) is
        drawn by HBM streaming at full bandwidth.  0.8 (assumption): HBM3 at
        ~4 pJ/bit moving 3.35 TB/s costs ~110 W, about a fifth of an H100's
        620 W dynamic range.
    cpu_idle_fraction
        Host CPU idle power / TDP.  0.3 (assumption: SPECpower results for
        recent two-socket servers put idle at 25-35 % of full power).
    cpu_load
        Host CPU load during the workload, in [0, 1].  0.3 (assumption: one
        core per GPU feeding kernels and a few data-loader workers).
    host_tdp_per_accelerator
        Host CPU TDP per accelerator for nodes whose catalog entry lists no
        CPU (DGX A100, DGX B200) [W].  87.5 W (assumption: two 350 W server
        CPUs per 8 GPUs, as in DGX H100).
    nic_power_per_bandwidth
        Power of a NIC port without a catalog ``power``, per unit of its data
        rate [W per Gb/s].  0.085 (derived: ~25 W ConnectX-7 adapter
        (assumption) + 9 W 400G OSFP transceiver (NVIDIA MMS4X00-NS400
        specification) = 34 W per 400 Gb/s).
    fabric_switch_power_per_bandwidth
        Scale-out switch box power without a catalog ``power``, per unit of
        port rate summed over ports [W per Gb/s].  0.067 (derived from the
        catalog's QM9700 figure: 1,720 W / (64 x 400 Gb/s)).
    scale_up_switch_power_per_bandwidth
        Scale-up switch chip power without a catalog ``power`` [W per Gb/s].
        0.0069 (derived from the NVLink Switch catalog figure: 200 W /
        (72 x 400 Gb/s)); gives ~90 W for an NVSwitch gen3.
    rack_overhead_air, rack_overhead_liquid
        Power of everything in the nodes and racks that is not a listed part
        (fans, host DRAM, drives, DPUs, voltage regulators, PSU/power-shelf
        losses), as a fraction of the listed in-rack parts.  Air 0.20
        (calibrated: with it a DGX H100 at full load draws 8.3 kW, against
        the 8.4 kW maximum Latif et al. (2025) measured on an 8 x H100 node
        during training); liquid 0.15 (assumption, bottom-up for a GB200
        compute tray of ~5.4 kW of superchips: two BlueField-3 DPUs ~300 W,
        NVMe drives ~150 W, fans for the air-cooled parts ~150 W, ~3 % power
        shelf conversion loss).
    pue_air, pue_liquid
        Default facility PUE by the domain's :class:`Cooling`.  Air 1.3
        (assumption: between hyperscale fleets at ~1.1 and the Uptime
        Institute 2024 survey average of 1.56); liquid 1.15 (assumption:
        direct-to-chip liquid cooling removes most chiller and fan work;
        NVIDIA's ~1.08 claims are a vendor figure and not the default).
    pue
        PUE for every system, overriding the cooling defaults, or None.
    power_cap
        Accelerator power limit [W] (a what-if: ``nvidia-smi -pl``), or None.
        Must lie above the idle power and at most the TDP.
    clock_exponent
        Exponent :math:`k` of :math:`P_{dyn} \\propto f^k` under a cap.  3
        (argued: :math:`P \\propto C V^2 f` with :math:`V \\propto f` in the
        DVFS range).

    Examples
    --------
    >>> PowerModel().pue_for(Cooling.LIQUID)
    1.15
    >>> PowerModel(power_cap="500 W").power_cap
    <Quantity(500.0, 'watt')>
    """

    idle_fraction: float = attrs.field(default=0.11, validator=_FRACTION)
    compute_share: float = attrs.field(default=0.8, validator=_FRACTION)
    cpu_idle_fraction: float = attrs.field(default=0.3, validator=_FRACTION)
    cpu_load: float = attrs.field(default=0.3, validator=_FRACTION)
    host_tdp_per_accelerator: pint.Quantity = _q_attr("W", "87.5 W", _q_non_negative)
    nic_power_per_bandwidth: float = attrs.field(default=0.085, validator=finite_non_negative)
    fabric_switch_power_per_bandwidth: float = attrs.field(
        default=0.067, validator=finite_non_negative
    )
    scale_up_switch_power_per_bandwidth: float = attrs.field(
        default=0.0069, validator=finite_non_negative
    )
    rack_overhead_air: float = attrs.field(default=0.20, validator=finite_non_negative)
    rack_overhead_liquid: float = attrs.field(default=0.15, validator=finite_non_negative)
    pue_air: float = attrs.field(default=1.3, validator=_pue)
    pue_liquid: float = attrs.field(default=1.15, validator=_pue)
    pue: float | None = attrs.field(default=None, validator=_pue)
    power_cap: pint.Quantity | None = _q_attr("W", None, _q_positive)
    clock_exponent: float = attrs.field(default=3.0)

    @clock_exponent.validator
    def _check_exponent(self, attribute: attrs.Attribute, value: float) -> None:  # type: ignore[type-arg]
        if not (_number(value) and value >= 1.0):
            raise SpecError(f"clock_exponent must be a finite number >= 1, got {value!r}")

    def pue_for(self, cooling: Cooling) -> float:
        """PUE of a system cooled by ``cooling`` (``pue`` when it is set)."""
        if self.pue is not None:
            return float(self.pue)
        return float(self.pue_liquid if cooling is Cooling.LIQUID else self.pue_air)

    def rack_overhead_for(self, cooling: Cooling) -> float:
        """Rack overhead fraction of a system cooled by ``cooling``."""
        return float(
            self.rack_overhead_liquid if cooling is Cooling.LIQUID else self.rack_overhead_air
        )


def accelerator_power_W(
    tdp_W: float,  # noqa: N803 - unit suffix (STYLE.md)
    idle_W: float,  # noqa: N803 - unit suffix (STYLE.md)
    compute: float,
    memory: float,
    *,
    compute_share: float = 0.8,
) -> float:
    """Power of one accelerator whose units are busy ``compute`` and ``memory`` of the time [W].

    .. math:: P = P_{idle} + (P_{TDP} - P_{idle})\\,(w_c a_c + (1 - w_c) a_m)

    Parameters
    ----------
    tdp_W, idle_W
        TDP and idle power [W].
    compute, memory
        Activities in [0, 1] (see :class:`PhaseActivity`).
    compute_share
        :math:`w_c`, the compute share of the dynamic range.

    Examples
    --------
    >>> accelerator_power_W(700.0, 77.0, 1.0, 1.0)
    700.0
    >>> accelerator_power_W(700.0, 77.0, 0.0, 0.0)
    77.0
    """
    return idle_W + (tdp_W - idle_W) * (compute_share * compute + (1.0 - compute_share) * memory)


def capped_phase(
    power_W: float,  # noqa: N803 - unit suffix (STYLE.md)
    idle_W: float,  # noqa: N803 - unit suffix (STYLE.md)
    cap_W: float | None,  # noqa: N803 - unit suffix (STYLE.md)
    compute: float,
    *,
    exponent: float = 3.0,
) -> tuple[float, float, float]:
    """Apply a power cap to one phase: ``(power_W, time_factor, clock_ratio)``.

    A phase drawing more than ``cap_W`` runs at the clock ratio
    :math:`r = ((P_{cap} - P_{idle}) / (P - P_{idle}))^{1/k}`, draws exactly
    the cap, and its time stretches by :math:`a_c / r + 1 - a_c`.  Below the
    cap nothing changes: ``(power_W, 1.0, 1.0)``.

    Examples
    --------
    >>> p, slow, r = capped_phase(700.0, 77.0, 388.5, 1.0)
    >>> p, round(r, 4), round(slow, 4)
    (388.5, 0.7937, 1.2599)
    """
    if cap_W is None or power_W <= cap_W or power_W <= idle_W:
        return power_W, 1.0, 1.0
    r = ((cap_W - idle_W) / (power_W - idle_W)) ** (1.0 / exponent)
    return cap_W, compute / r + (1.0 - compute), r


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


def cluster_power(
    cluster: Cluster, *, gpus: int | None = None, power: PowerModel | None = None
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

    Raises
    ------
    SpecError
        If ``gpus`` is not in [1, cluster.gpus], or a power cap lies outside
        (idle, TDP].
    """
    pm = power or PowerModel()
    if not isinstance(cluster, Cluster):
        raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
    n = cluster.gpus if gpus is None else gpus
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= cluster.gpus:
        raise SpecError(f"gpus must be an integer in [1, {cluster.gpus}], got {n!r}")
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


# ------------------------------------------------------------------- energy
@attrs.frozen(kw_only=True)
class EnergyBreakdown:
    """Energy of one step (or period), by part and by phase, as floats in SI units.

    ``sum(part_energy_J.values()) == energy_J == sum(phase_energy_J.values())``.

    Parameters
    ----------
    phase_time_s
        Phase -> duration after any power cap [s].
    phase_energy_J
        Phase -> facility energy [J].
    phase_power_W
        Phase -> facility power of the cluster [W] (0 for a phase of no time).
    accelerator_power_W
        Phase -> power of one busy accelerator [W].
    clock_ratio
        Phase -> clock ratio under the power cap (1 when uncapped).
    part_energy_J
        Part (:data:`PART_KEYS`) -> energy [J].
    energy_J
        Facility energy [J].
    it_energy_J
        IT energy (before PUE) [J].
    step_time_s, uncapped_step_time_s
        Duration with and without the power cap [s].
    average_power_W, peak_power_W
        Facility power, averaged over the step and in its highest phase [W].
    max_it_power_W
        IT power at full load (nameplate-like) [W].
    """

    phase_time_s: Mapping[str, float]
    phase_energy_J: Mapping[str, float]
    phase_power_W: Mapping[str, float]
    accelerator_power_W: Mapping[str, float]
    clock_ratio: Mapping[str, float]
    part_energy_J: Mapping[str, float]
    energy_J: float
    it_energy_J: float
    step_time_s: float
    uncapped_step_time_s: float
    average_power_W: float
    peak_power_W: float
    max_it_power_W: float


def step_energy(
    phase_times_s: Mapping[str, float],
    activity: Mapping[str, PhaseActivity],
    parts: ClusterPower,
    *,
    busy_accelerators: int | None = None,
    power_cap_W: float | None = None,  # noqa: N803 - unit suffix (STYLE.md)
    clock_exponent: float = 3.0,
) -> EnergyBreakdown:
    """Energy of a step whose phases last ``phase_times_s``: the sum of power x time.

    Parameters
    ----------
    phase_times_s
        Phase name -> duration [s] (>= 0; at least one > 0).
    activity
        Phase name -> :class:`PhaseActivity` of the busy accelerators; must
        cover every phase.
    parts
        The :class:`ClusterPower` of the hardware.
    busy_accelerators
        Accelerators doing the work (the rest of ``parts.accelerators`` idle);
        defaults to all.
    power_cap_W
        Accelerator power cap [W] or None.
    clock_exponent
        See :class:`PowerModel`.

    Returns
    -------
    EnergyBreakdown

    Raises
    ------
    SpecError
        For a negative or non-finite time, a phase without activity, an
        all-zero step, or a cap outside (idle, TDP].

    Examples
    --------
    >>> parts = ClusterPower(accelerators=1, tdp_W=700.0, idle_W=70.0)
    >>> e = step_energy({"compute": 2.0}, {"compute": PhaseActivity(1.0, 1.0)}, parts)
    >>> e.energy_J, e.average_power_W
    (1400.0, 700.0)
    """
    busy = parts.accelerators if busy_accelerators is None else busy_accelerators
    if isinstance(busy, bool) or not isinstance(busy, int) or not 0 <= busy <= parts.accelerators:
        raise SpecError(
            f"busy_accelerators must be an integer in [0, {parts.accelerators}], got {busy!r}"
        )
    if power_cap_W is not None and not parts.idle_W < power_cap_W <= parts.tdp_W:
        raise SpecError(
            f"power_cap must be in ({parts.idle_W:g} W idle, {parts.tdp_W:g} W TDP], "
            f"got {power_cap_W!r} W"
        )
    idle_acc = parts.accelerators - busy
    rack_static = (
        idle_acc * parts.idle_W
        + parts.cpus * parts.cpu_W
        + parts.nics * parts.nic_W
        + parts.scale_up_switches * parts.scale_up_switch_W
    )
    ovh = parts.rack_overhead
    times: dict[str, float] = {}
    energies: dict[str, float] = {}
    powers: dict[str, float] = {}
    acc_powers: dict[str, float] = {}
    ratios: dict[str, float] = {}
    part = dict.fromkeys(PART_KEYS, 0.0)
    base = 0.0
    for name, t in phase_times_s.items():
        if not (_number(t) and t >= 0.0):
            raise SpecError(f"phase time {name!r} must be a finite number >= 0 s, got {t!r}")
        act = activity.get(name)
        if act is None:
            raise SpecError(
                f"no activity for phase {name!r}; phases with activity: {', '.join(activity)}"
            )
        base += t
        p_acc = accelerator_power_W(
            parts.tdp_W, parts.idle_W, act.compute, act.memory, compute_share=parts.compute_share
        )
        p_acc, slow, r = capped_phase(
            p_acc, parts.idle_W, power_cap_W, act.compute, exponent=clock_exponent
        )
        tt = t * slow
        e_acc = (busy * p_acc + idle_acc * parts.idle_W) * tt
        e_cpu = parts.cpus * parts.cpu_W * tt
        e_nic = parts.nics * parts.nic_W * tt
        e_su = parts.scale_up_switches * parts.scale_up_switch_W * tt
        e_fab = parts.fabric_switches * parts.fabric_switch_W * tt
        e_rack = ovh * (e_acc + e_cpu + e_nic + e_su)
        it = e_acc + e_cpu + e_nic + e_su + e_fab + e_rack
        e_fac = (parts.pue - 1.0) * it
        for key, e in zip(
            PART_KEYS, (e_acc, e_cpu, e_nic, e_su, e_fab, e_rack, e_fac), strict=True
        ):
            part[key] += e
        times[name] = tt
        energies[name] = it + e_fac
        if tt > 0.0:
            powers[name] = (it + e_fac) / tt
        else:
            # the power the phase would draw, for information
            powers[name] = parts.pue * (
                (busy * p_acc + rack_static) * (1.0 + ovh)
                + parts.fabric_switches * parts.fabric_switch_W
            )
        acc_powers[name] = p_acc
        ratios[name] = r
    total_t = sum(times.values())
    if not total_t > 0.0:
        raise SpecError(f"phase times must add up to > 0 s, got {dict(phase_times_s)!r}")
    energy = sum(part.values())
    it_energy = energy - part["facility_overhead"]
    peak = max(p for n, p in powers.items() if times[n] > 0.0)
    return EnergyBreakdown(
        phase_time_s=_frozen_map(times),
        phase_energy_J=_frozen_map(energies),
        phase_power_W=_frozen_map(powers),
        accelerator_power_W=_frozen_map(acc_powers),
        clock_ratio=_frozen_map(ratios),
        part_energy_J=_frozen_map(part),
        energy_J=energy,
        it_energy_J=it_energy,
        step_time_s=total_t,
        uncapped_step_time_s=base,
        average_power_W=energy / total_t,
        peak_power_W=peak,
        max_it_power_W=parts.max_it_power_W(),
    )


# --------------------------------------------------------------------- money
@attrs.frozen(kw_only=True)
class Pricing:
    """What compute costs: a rental price, or capital amortised plus running costs.

    Give ``gpu_hour_price`` (cloud or lease, all-in) **or** ``system_price``
    (capital per scale-up domain: a DGX server or an NVL72 rack), not both.
    ``electricity_price`` and ``facility_price`` add running costs to either
    (leave them out when the rental price includes power).

    Parameters
    ----------
    gpu_hour_price
        Price of one accelerator for one hour [USD/h].
    system_price
        Capital cost of one scale-up domain [USD].
    network_price_per_gpu
        Capital cost of the scale-out network per accelerator (NICs, switches,
        optics, cables) [USD].
    amortization
        Period over which capital is written off [s]; default 4 years.
    electricity_price
        Price of facility energy [USD/J]; give it as e.g. ``"0.08 USD/kWh"``.
    facility_price
        Data-centre cost per unit of provisioned IT power and time (space,
        power and cooling plant, staff), charged on the cluster's full-load IT
        power, e.g. ``"1500 USD/(kW*yr)"`` [USD/J].

    Raises
    ------
    SpecError
        If a price is negative, both or neither of ``gpu_hour_price`` and
        ``system_price`` are given (unless only running costs are priced),
        or nothing is priced.

    Examples
    --------
    >>> p = Pricing(gpu_hour_price="2 USD/h")
    >>> cost_breakdown_usd(p, gpus=8, domains=1, duration_s=3600.0, energy_J=0.0,
    ...                    max_it_power_W=0.0)["rental"]
    16.0
    """

    gpu_hour_price: pint.Quantity | None = _q_attr("USD/h", None, _q_non_negative)
    system_price: pint.Quantity | None = _q_attr("USD", None, _q_non_negative)
    network_price_per_gpu: pint.Quantity | None = _q_attr("USD", None, _q_non_negative)
    amortization: pint.Quantity = _q_attr("s", "4 yr", _q_positive)
    electricity_price: pint.Quantity | None = _q_attr("USD/J", None, _q_non_negative)
    facility_price: pint.Quantity | None = _q_attr("USD/J", None, _q_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.gpu_hour_price is not None and (
            self.system_price is not None or self.network_price_per_gpu is not None
        ):
            raise SpecError(
                "give either gpu_hour_price (rental) or system_price/network_price_per_gpu "
                f"(capital), not both; got gpu_hour_price={format_quantity(self.gpu_hour_price)} "
                f"and system_price={format_quantity(self.system_price)}"
            )
        if all(
            getattr(self, f) is None
            for f in (
                "gpu_hour_price",
                "system_price",
                "network_price_per_gpu",
                "electricity_price",
                "facility_price",
            )
        ):
            raise SpecError(
                "Pricing needs at least one price: gpu_hour_price, system_price, "
                "network_price_per_gpu, electricity_price or facility_price"
            )


def cost_breakdown_usd(
    pricing: Pricing,
    *,
    gpus: int,
    domains: float,
    duration_s: float,
    energy_J: float,  # noqa: N803 - unit suffix (STYLE.md)
    max_it_power_W: float,  # noqa: N803 - unit suffix (STYLE.md)
) -> dict[str, float]:
    """Dollars by component for running ``gpus`` accelerators for ``duration_s``.

    .. math::

       C = g\\,t\\,p_{gpu\\,h} + \\frac{t}{T_{am}}(d\\,p_{sys} + g\\,p_{net})
           + E\\,p_{elec} + P_{max}\\,t\\,p_{fac}

    ``domains`` may be fractional: a job on 8 GPUs of a 72-GPU rack pays
    8/72 of the rack's capital, the rest serving other work.

    Returns
    -------
    dict
        ``rental``, ``capital``, ``electricity``, ``facility`` [USD] (each 0
        when not priced).
    """
    if not (_number(duration_s) and duration_s >= 0.0 and _number(energy_J) and energy_J >= 0.0):
        raise SpecError(
            f"duration_s and energy_J must be finite and >= 0, got {duration_s!r} s, {energy_J!r} J"
        )
    out = {"rental": 0.0, "capital": 0.0, "electricity": 0.0, "facility": 0.0}
    if pricing.gpu_hour_price is not None:
        out["rental"] = gpus * duration_s / _S_PER_H * float(pricing.gpu_hour_price.to("USD/h").m)
    capex = 0.0
    if pricing.system_price is not None:
        capex += domains * float(pricing.system_price.m)
    if pricing.network_price_per_gpu is not None:
        capex += gpus * float(pricing.network_price_per_gpu.m)
    out["capital"] = capex * duration_s / float(pricing.amortization.m)
    if pricing.electricity_price is not None:
        out["electricity"] = energy_J * float(pricing.electricity_price.m)
    if pricing.facility_price is not None:
        out["facility"] = max_it_power_W * duration_s * float(pricing.facility_price.m)
    return out


@attrs.frozen(kw_only=True)
class CostReport:
    """Dollars for a step (or period) and per token.

    Parameters
    ----------
    total
        Cost of the period [USD].
    tokens
        Tokens the period produces.
    breakdown
        Component (rental, capital, electricity, facility) -> cost [USD].
    """

    total: pint.Quantity
    tokens: float
    breakdown: Mapping[str, pint.Quantity]

    @property
    def per_token(self) -> pint.Quantity:
        """Cost per token [USD]."""
        return self.total / self.tokens

    @property
    def per_million_tokens(self) -> pint.Quantity:
        """Cost per million tokens [USD]."""
        return self.total * (1e6 / self.tokens)


# -------------------------------------------------------------------- reports
@attrs.frozen(kw_only=True, repr=False)
class EnergyReport(Display):
    """Energy and power of a step (or an inference period), with its breakdown.

    Parameters
    ----------
    result
        The :class:`EnergyBreakdown` (floats).
    tokens
        Tokens the period produces (training tokens per step; output tokens
        for inference).
    gpus
        Accelerators doing the work.
    domains
        Scale-up domains occupied (whole domains: their switches are powered).
    pue
        Facility PUE used.
    domain_share
        Scale-up domains the work pays capital for: ``gpus / gpus per
        domain`` (fractional when it uses part of one); None means
        ``domains``.
    """

    result: EnergyBreakdown
    tokens: float
    gpus: int
    domains: int
    pue: float
    domain_share: float | None = None

    @property
    def energy_per_step(self) -> pint.Quantity:
        """Facility energy of one step (or the period) [J]."""
        return Q_(self.result.energy_J, "J")

    @property
    def it_energy_per_step(self) -> pint.Quantity:
        """IT energy (before PUE) of one step [J]."""
        return Q_(self.result.it_energy_J, "J")

    @property
    def energy_per_token(self) -> pint.Quantity:
        """Facility energy per token [J]."""
        return Q_(self.result.energy_J / self.tokens, "J")

    @property
    def step_time(self) -> pint.Quantity:
        """Duration of the step, power cap included [s]."""
        return Q_(self.result.step_time_s, "s")

    @property
    def average_power(self) -> pint.Quantity:
        """Average facility power of the cluster over the step [W]."""
        return Q_(self.result.average_power_W, "W")

    @property
    def average_it_power(self) -> pint.Quantity:
        """Average IT power (before PUE) over the step [W]."""
        return Q_(self.result.it_energy_J / self.result.step_time_s, "W")

    @property
    def peak_power(self) -> pint.Quantity:
        """Facility power in the step's most power-hungry phase [W]."""
        return Q_(self.result.peak_power_W, "W")

    @property
    def max_it_power(self) -> pint.Quantity:
        """IT power of the used hardware at full load (accelerators at TDP) [W]."""
        return Q_(self.result.max_it_power_W, "W")

    @property
    def breakdown(self) -> Mapping[str, pint.Quantity]:
        """Part (:data:`PART_KEYS`) -> energy per step [J]; adds up to :attr:`energy_per_step`."""
        return _frozen_map({k: Q_(v, "J") for k, v in self.result.part_energy_J.items()})

    @property
    def by_phase(self) -> Mapping[str, pint.Quantity]:
        """Phase -> energy per step [J]; adds up to :attr:`energy_per_step`."""
        return _frozen_map({k: Q_(v, "J") for k, v in self.result.phase_energy_J.items()})

    def cost(self, pricing: Pricing) -> CostReport:
        """Cost of the step under ``pricing`` (see :func:`cost_breakdown_usd`)."""
        parts = cost_breakdown_usd(
            pricing,
            gpus=self.gpus,
            domains=self.domains if self.domain_share is None else self.domain_share,
            duration_s=self.result.step_time_s,
            energy_J=self.result.energy_J,
            max_it_power_W=self.result.max_it_power_W,
        )
        return CostReport(
            total=Q_(sum(parts.values()), "USD"),
            tokens=self.tokens,
            breakdown=_frozen_map({k: Q_(v, "USD") for k, v in parts.items()}),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary (floats in SI units)."""
        r = self.result
        return {
            "energy_J": r.energy_J,
            "it_energy_J": r.it_energy_J,
            "energy_per_token_J": r.energy_J / self.tokens,
            "step_time_s": r.step_time_s,
            "average_power_W": r.average_power_W,
            "peak_power_W": r.peak_power_W,
            "max_it_power_W": r.max_it_power_W,
            "pue": self.pue,
            "parts_J": dict(r.part_energy_J),
            "phases_J": dict(r.phase_energy_J),
        }

    def summary(self) -> str:
        """A readable multi-line summary."""
        r = self.result
        lines = [
            f"energy per step   {format_quantity(self.energy_per_step)} "
            f"({format_quantity(self.energy_per_token)} per token, PUE {self.pue:g})",
            f"average power     {format_quantity(self.average_power)} "
            f"(peak {format_quantity(self.peak_power)}, full-load IT "
            f"{format_quantity(self.max_it_power)})",
            "  by part:",
        ]
        for k, v in r.part_energy_J.items():
            if v > 0:
                lines.append(
                    f"    {k:<18} {format_quantity(Q_(v, 'J')):>10}  {v / r.energy_J:6.1%}"
                )
        return "\n".join(lines)


def _resolve_activity(
    default: Mapping[str, PhaseActivity], activity: Mapping[str, Any] | None
) -> dict[str, PhaseActivity]:
    out = dict(default)
    for k, v in (activity or {}).items():
        if isinstance(v, PhaseActivity):
            out[k] = v
        elif isinstance(v, tuple | list) and len(v) == 2:
            out[k] = PhaseActivity(float(v[0]), float(v[1]))
        else:
            raise SpecError(
                f"activity[{k!r}] must be a PhaseActivity or a (compute, memory) pair, got {v!r}"
            )
    return out


def training_energy(
    report: Any,
    cluster: Cluster,
    *,
    power: PowerModel | None = None,
    activity: Mapping[str, PhaseActivity] | None = None,
) -> EnergyReport:
    """Energy of one training step predicted by :func:`~blackwell_model.predict_training`.

    Parameters
    ----------
    report
        A :class:`~blackwell_model.predict.TrainingReport` (its ``breakdown``
        gives the phase times, ``gpus`` and ``layout`` the work).
    cluster
        The cluster it was predicted on.
    power
        :class:`PowerModel`; documented defaults when omitted.  Its
        ``power_cap`` stretches compute-bound phases (see
        :attr:`EnergyReport.step_time`).
    activity
        Phase -> :class:`PhaseActivity` overrides of
        :data:`DEFAULT_TRAINING_ACTIVITY`.

    Returns
    -------
    EnergyReport
        ``energy_per_step``, ``energy_per_token``, ``average_power``,
        ``peak_power``, ``breakdown`` by part, ``by_phase``.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> from blackwell_model.solvers.energy import training_energy
    >>> cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    >>> layout = bm.Layout(tp=2, dp=4, micro_batch=1, global_batch=64, seq_len=4096)
    >>> rep = bm.predict_training("llama3-8b", cluster, layout)
    >>> e = training_energy(rep, cluster)
    >>> 5.0 < e.average_it_power.to("kW").m < 8.0  # one DGX H100, before PUE
    True
    """
    pm = power or PowerModel()
    n = int(report.gpus)
    parts = cluster_power(cluster, gpus=n, power=pm)
    acts = _resolve_activity(DEFAULT_TRAINING_ACTIVITY, activity)
    times = {k: float(v.m) for k, v in report.breakdown.items()}
    res = step_energy(
        times,
        acts,
        parts,
        busy_accelerators=n,
        power_cap_W=None if pm.power_cap is None else float(pm.power_cap.m),
        clock_exponent=pm.clock_exponent,
    )
    return EnergyReport(
        result=res,
        tokens=float(report.layout.tokens_per_step),
        gpus=n,
        domains=parts.domains,
        pue=parts.pue,
        domain_share=n / cluster.domain.gpus,
    )


def inference_energy(
    cluster: Cluster,
    *,
    gpus: int,
    output_tokens: float,
    prefill_s: float,
    decode_s: float,
    idle_s: float = 0.0,
    prefill_compute: float | None = None,
    prefill_memory: float | None = None,
    decode_compute: float | None = None,
    decode_memory: float | None = None,
    power: PowerModel | None = None,
) -> EnergyReport:
    """Energy of serving: ``gpus`` accelerators prefill, decode and idle, producing ``output_tokens``.

    Plain floats in, so any serving model can call it: the durations of the
    period's phases (e.g. one batch: time to first token and decode time) and
    the activity of each (defaults: :data:`DEFAULT_INFERENCE_ACTIVITY`).

    Parameters
    ----------
    cluster
        The cluster (its parts, cooling and PUE).
    gpus
        Accelerators serving (one model replica or several).
    output_tokens
        Output tokens produced in the period (> 0).
    prefill_s, decode_s, idle_s
        Time spent in prefill, decode and idle during the period [s].
    prefill_compute, prefill_memory, decode_compute, decode_memory
        Activities in [0, 1] (fraction of the phase the tensor pipes / HBM
        are busy); None keeps the default.
    power
        :class:`PowerModel`.

    Returns
    -------
    EnergyReport
        ``energy_per_token`` is the facility energy per *output* token
        (prefill energy included).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> c = bm.catalog.cluster("DGX-H100", gpus=8)
    >>> e = inference_energy(c, gpus=8, output_tokens=64 * 1000, prefill_s=0.5, decode_s=20.0)
    >>> 0.1 < e.energy_per_token.m < 10.0
    True
    """
    if not (_number(output_tokens) and output_tokens > 0):
        raise SpecError(f"output_tokens must be a number > 0, got {output_tokens!r}")
    pm = power or PowerModel()
    parts = cluster_power(cluster, gpus=gpus, power=pm)
    n = gpus
    d = DEFAULT_INFERENCE_ACTIVITY
    acts = {
        "prefill": PhaseActivity(
            d["prefill"].compute if prefill_compute is None else prefill_compute,
            d["prefill"].memory if prefill_memory is None else prefill_memory,
        ),
        "decode": PhaseActivity(
            d["decode"].compute if decode_compute is None else decode_compute,
            d["decode"].memory if decode_memory is None else decode_memory,
        ),
        "idle": d["idle"],
    }
    res = step_energy(
        {"prefill": prefill_s, "decode": decode_s, "idle": idle_s},
        acts,
        parts,
        busy_accelerators=n,
        power_cap_W=None if pm.power_cap is None else float(pm.power_cap.m),
        clock_exponent=pm.clock_exponent,
    )
    return EnergyReport(
        result=res,
        tokens=float(output_tokens),
        gpus=n,
        domains=parts.domains,
        pue=parts.pue,
        domain_share=n / cluster.domain.gpus,
    )
