"""The power model of one accelerator: phase activity, idle-to-TDP range, power caps.

An accelerator draws its idle power plus a share of its dynamic range for
each unit it keeps busy:

.. math::

   P_a = P_{idle} + (P_{TDP} - P_{idle}) \\left( w_c\\, a_c + (1 - w_c)\\, a_m \\right)

where :math:`a_c, a_m \\in [0, 1]` are the fractions of the phase during which
the tensor/SM pipes and HBM are busy (:class:`PhaseActivity`).  A power cap
lowers the clock (:func:`capped_phase`).  :class:`PowerModel` holds every
documented default, including the facility's (PUE by cooling, rack overhead)
that :mod:`~blackwell_model.solvers.facility` applies.

The public names are also importable from :mod:`blackwell_model.solvers.energy`.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pint

from .._validate import check_instance
from ..errors import SpecError
from ..hardware.system import Cooling
from ..units import finite_non_negative, fraction
from ._energy_fields import _frozen_map, _number, _pue, _q_attr, _q_non_negative, _q_positive

__all__ = [
    "DEFAULT_INFERENCE_ACTIVITY",
    "DEFAULT_TRAINING_ACTIVITY",
    "PhaseActivity",
    "PowerModel",
    "accelerator_power_W",
    "as_power_model",
    "capped_phase",
]

_FRACTION = fraction()


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


def as_power_model(power: PowerModel | None) -> PowerModel:
    """``power``, or the documented defaults for None; anything else is a :class:`SpecTypeError`.

    (``power or PowerModel()`` would let ``power=0`` or ``power=""`` fall back to the
    defaults silently.)
    """
    if power is None:
        return PowerModel()
    return check_instance(power, PowerModel, "power", "a PowerModel or None")
