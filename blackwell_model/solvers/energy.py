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

from collections.abc import Mapping
from typing import Any

import attrs
import pint

from .._display import Display
from ..errors import SpecError
from ..hardware.system import Cluster
from ..units import Q_, format_quantity
from ._energy_fields import _frozen_map, _number
from .facility import ClusterPower, cluster_power, fabric_switch_count
from .power import (
    DEFAULT_INFERENCE_ACTIVITY,
    DEFAULT_TRAINING_ACTIVITY,
    PhaseActivity,
    PowerModel,
    accelerator_power_W,
    as_power_model,
    capped_phase,
)
from .pricing import CostReport, Pricing, cost_breakdown_usd

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
    pm = as_power_model(power)
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
    charge: str = "gpus",
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
    charge
        ``"gpus"`` (default): shared scale-up switches are charged in
        proportion to the GPUs used; ``"racks"``: whole domains
        (:func:`~blackwell_model.solvers.facility.cluster_power`).

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
    pm = as_power_model(power)
    parts = cluster_power(cluster, gpus=gpus, power=pm, charge=charge)
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
