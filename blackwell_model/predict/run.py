"""``predict_training_run``: a whole training run of N tokens -> days, GPU-hours, MWh, $, tCO2e.

Orchestration only: :func:`~blackwell_model.predict_training` prices one step,
:func:`~blackwell_model.solvers.energy.training_energy` its energy, and
:func:`~blackwell_model.solvers.energy.cost_breakdown_usd` its money; this
module multiplies them out over the run.

.. math::

   n_{steps} = \\lceil N / \\text{tokens per step} \\rceil, \\quad
   T_{wall} = \\frac{n_{steps}\\, t_{step}\\, s}{g}, \\quad
   \\text{GPU-hours} = \\frac{G\\, T_{wall}}{3600}, \\quad
   E = \\frac{n_{steps}\\, E_{step}\\, s}{g}

where :math:`g` is the *goodput*, the fraction of wall-clock time that makes
progress (restarts after failures, checkpoints and lost work take the rest),
and :math:`s` the straggler slowdown of waiting for the slowest rank.  Both
come from :func:`~blackwell_model.solvers.reliability.job_goodput` by default
(failure rates of the parts the job depends on, checkpoint and restart times,
Young/Daly checkpoint interval); a ``goodput`` given by the user replaces
them (and no straggler slowdown is applied).  Lost time is charged at the
step's average power.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pint

from .._display import Display
from ..errors import SpecError
from ..hardware.system import Cluster
from ..parallel.layout import Layout
from ..parallel.memory import MemoryModel
from ..solvers.energy import (
    CostReport,
    EnergyReport,
    PhaseActivity,
    PowerModel,
    Pricing,
    cost_breakdown_usd,
)
from ..solvers.reliability import GoodputReport, ReliabilityModel, job_goodput
from ..solvers.training import TrainingEfficiency
from ..units import Q_, format_quantity, parse_quantity
from .training import TrainingReport, predict_training, with_energy

__all__ = ["DEFAULT_CARBON_INTENSITY", "TrainingRunReport", "predict_training_run"]

#: Default grid carbon intensity [gCO2e/kWh] (assumption: a round figure between
#: the US average, ~370 gCO2e/kWh in EPA eGRID 2022, and the world average,
#: ~480 gCO2e/kWh in Ember's Global Electricity Review 2024).
DEFAULT_CARBON_INTENSITY = "400 gCO2e/kWh"


@attrs.frozen(kw_only=True, repr=False)
class TrainingRunReport(Display):
    """Time, energy, money and emissions of a whole training run.

    Parameters
    ----------
    step
        The :class:`~blackwell_model.predict.TrainingReport` of one step.
    energy
        The :class:`~blackwell_model.solvers.energy.EnergyReport` of one step.
    tokens
        Training tokens of the run.
    steps
        Optimizer steps (tokens / tokens per step, rounded up).
    goodput
        Fraction of wall-clock time that makes progress.
    carbon_intensity
        Grid carbon intensity [gCO2e/J].
    cost
        :class:`~blackwell_model.solvers.energy.CostReport` of the whole run,
        or None without a pricing.
    reliability
        The :class:`~blackwell_model.solvers.reliability.GoodputReport` the
        goodput and straggler slowdown come from, or None when the goodput
        was given.
    straggler_slowdown
        Step time waiting for the slowest rank over the predicted step time.
    """

    step: TrainingReport
    energy: EnergyReport
    tokens: float
    steps: int
    goodput: float
    carbon_intensity: pint.Quantity
    cost: CostReport | None = None
    reliability: GoodputReport | None = None
    straggler_slowdown: float = 1.0

    @property
    def goodput_source(self) -> str:
        """``"modelled"`` (failures, checkpoints, restarts) or ``"given"`` (a constant)."""
        return "given" if self.reliability is None else "modelled"

    @property
    def _stretch(self) -> float:
        return self.straggler_slowdown / self.goodput

    @property
    def gpus(self) -> int:
        """GPUs of the run."""
        return self.step.gpus

    @property
    def wall_time(self) -> pint.Quantity:
        """Wall-clock duration of the run, lost time included [s]."""
        return Q_(self.steps * self.energy.result.step_time_s * self._stretch, "s")

    @property
    def days(self) -> float:
        """Wall-clock duration in days."""
        return float(self.wall_time.m / 86400.0)

    @property
    def gpu_hours(self) -> float:
        """GPU-hours of the run (GPUs x wall-clock hours)."""
        return float(self.gpus * self.wall_time.m / 3600.0)

    @property
    def facility_energy(self) -> pint.Quantity:
        """Facility energy of the run (PUE included) [J]."""
        return Q_(self.steps * self.energy.result.energy_J * self._stretch, "J")

    @property
    def it_energy(self) -> pint.Quantity:
        """IT energy of the run (before PUE) [J]."""
        return Q_(self.steps * self.energy.result.it_energy_J * self._stretch, "J")

    @property
    def mwh(self) -> float:
        """Facility energy in MWh."""
        return float(self.facility_energy.m / 3.6e9)

    @property
    def emissions(self) -> pint.Quantity:
        """Location-based emissions of the facility energy [gCO2e]."""
        return Q_(self.facility_energy.m * float(self.carbon_intensity.m), "gCO2e")

    @property
    def tco2e(self) -> float:
        """Emissions in tonnes of CO2-equivalent."""
        return float(self.emissions.m / 1e6)

    @property
    def dollars(self) -> float | None:
        """Cost of the run in USD, or None without a pricing."""
        return None if self.cost is None else float(self.cost.total.m)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary (floats in SI units and the headline figures)."""
        return {
            "model": self.step.model_name,
            "cluster": self.step.cluster_name,
            "gpus": self.gpus,
            "tokens": self.tokens,
            "steps": self.steps,
            "goodput": self.goodput,
            "goodput_source": self.goodput_source,
            "straggler_slowdown": self.straggler_slowdown,
            "interruptions_per_day": (
                None if self.reliability is None else self.reliability.interruptions_per_day
            ),
            "step_time_s": self.energy.result.step_time_s,
            "days": self.days,
            "gpu_hours": self.gpu_hours,
            "mwh": self.mwh,
            "tco2e": self.tco2e,
            "dollars": self.dollars,
            "mfu": self.step.mfu,
            "average_power_W": self.energy.result.average_power_W,
        }

    def summary(self) -> str:
        """A readable multi-line summary."""
        lines = [
            f"{self.step.model_name} on {self.step.cluster_name}: {self.tokens:.4g} tokens, "
            f"{self.gpus} GPUs, {self.steps:,} steps of "
            f"{format_quantity(self.energy.step_time)} (MFU {self.step.mfu:.1%}), "
            f"goodput {self.goodput:.1%} ({self.goodput_source})",
            f"  wall time        {self.days:,.1f} days",
            f"  GPU-hours        {self.gpu_hours / 1e6:,.2f} M",
            f"  facility energy  {self.mwh:,.0f} MWh (PUE {self.energy.pue:g}, average "
            f"{format_quantity(self.energy.average_power)})",
            f"  emissions        {self.tco2e:,.0f} tCO2e",
        ]
        if self.reliability is not None:
            lines.extend("  " + line for line in self.reliability.summary().splitlines())
        if self.cost is not None:
            lines.append(f"  cost             ${self.dollars:,.0f}")
            for k, v in self.cost.breakdown.items():
                if v.m > 0:
                    lines.append(f"    {k:<14} ${v.m:,.0f}")
        return "\n".join(lines)


def predict_training_run(
    model: Any,
    cluster: Cluster,
    layout: Layout,
    *,
    tokens: float,
    pricing: Pricing | None = None,
    power: PowerModel | None = None,
    carbon_intensity: Any = DEFAULT_CARBON_INTENSITY,
    efficiency: TrainingEfficiency | None = None,
    goodput: float | None = None,
    reliability: ReliabilityModel | None = None,
    activity: dict[str, PhaseActivity] | None = None,
    memory: MemoryModel | None = None,
    check_memory: bool = True,
    report: TrainingReport | None = None,
) -> TrainingRunReport:
    """Predict a whole training run: ``tokens`` tokens of ``model`` on ``cluster`` with ``layout``.

    Parameters
    ----------
    model, cluster, layout
        As for :func:`~blackwell_model.predict_training`.
    tokens
        Training tokens of the run (> 0).
    pricing
        :class:`~blackwell_model.solvers.energy.Pricing`; no cost without it.
    power
        :class:`~blackwell_model.solvers.energy.PowerModel` (PUE, power cap...).
    carbon_intensity
        Grid carbon intensity, e.g. ``"400 gCO2e/kWh"`` (the default, an
        assumption: see :data:`DEFAULT_CARBON_INTENSITY`).
    efficiency
        :class:`~blackwell_model.solvers.training.TrainingEfficiency`.
    goodput
        A constant fraction of wall-clock time that makes progress, in
        (0, 1], overriding the reliability model (1 models a run without
        failures; Meta reports "higher than 90 % effective training time"
        for Llama 3 405B, Llama 3 paper, sec. 3.3.4).  None (the default):
        modelled by :func:`~blackwell_model.solvers.reliability.job_goodput`.
    reliability
        :class:`~blackwell_model.solvers.reliability.ReliabilityModel`
        (failure rates, checkpoint, restart, stragglers) for the modelled
        goodput; documented defaults when omitted.
    activity
        Phase activity overrides (see
        :func:`~blackwell_model.solvers.energy.training_energy`).
    memory, check_memory
        As for :func:`~blackwell_model.predict_training`.
    report
        A step report already computed for this model, cluster and layout
        (skips :func:`~blackwell_model.predict_training`).

    Raises
    ------
    SpecError
        For a non-positive token count, a goodput outside (0, 1], or both a
        goodput and a reliability model.
    InfeasibleLayoutError
        As :func:`~blackwell_model.predict_training`.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> from blackwell_model.predict.run import predict_training_run
    >>> cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    >>> layout = bm.Layout(tp=2, dp=4, micro_batch=1, global_batch=64, seq_len=4096)
    >>> run = predict_training_run("llama3-8b", cluster, layout, tokens=1e9)
    >>> run.steps
    3815
    >>> 0.05 < run.days < 1.0
    True
    >>> run.goodput_source, 0.95 < run.goodput < 1.0
    ('modelled', True)
    >>> predict_training_run("llama3-8b", cluster, layout, tokens=1e9, goodput=0.9).goodput_source
    'given'
    """
    if not (isinstance(tokens, int | float) and not isinstance(tokens, bool)) or not (
        math.isfinite(tokens) and tokens > 0
    ):
        raise SpecError(f"tokens must be a finite number > 0, got {tokens!r}")
    if goodput is not None and not (
        isinstance(goodput, int | float) and not isinstance(goodput, bool) and 0.0 < goodput <= 1.0
    ):
        raise SpecError(f"goodput must be a fraction in (0, 1], got {goodput!r}")
    if goodput is not None and reliability is not None:
        raise SpecError("give goodput (a constant) or reliability (a model), not both")
    if isinstance(model, str):
        from .. import catalog

        model = catalog.model(model)
    ci = parse_quantity(carbon_intensity, "gCO2e/J", name="carbon_intensity")
    if not (math.isfinite(float(ci.m)) and ci.m >= 0):
        raise SpecError(
            f"carbon_intensity must be >= 0 gCO2e/kWh, got {format_quantity(ci.to('gCO2e/kWh'))}"
        )
    if report is None:
        report = predict_training(
            model, cluster, layout, efficiency=efficiency, memory=memory, check_memory=check_memory
        )
    report = with_energy(report, cluster, power=power, activity=activity)
    energy = report.energy
    if energy is None:  # pragma: no cover - with_energy always sets it
        raise SpecError("the step report has no energy")
    steps = math.ceil(tokens / layout.tokens_per_step)
    modelled = None
    slowdown = 1.0
    if goodput is None:
        modelled = job_goodput(
            cluster, layout.gpus, parameters=float(model.total_params), reliability=reliability
        )
        goodput = modelled.goodput
        slowdown = modelled.straggler_slowdown
    stretch = slowdown / goodput
    cost = None
    if pricing is not None:
        wall_s = steps * energy.result.step_time_s * stretch
        parts = cost_breakdown_usd(
            pricing,
            gpus=energy.gpus,
            domains=energy.domains if energy.domain_share is None else energy.domain_share,
            duration_s=wall_s,
            energy_J=steps * energy.result.energy_J * stretch,
            max_it_power_W=energy.result.max_it_power_W,
        )
        cost = CostReport(
            total=Q_(sum(parts.values()), "USD"),
            tokens=float(steps * layout.tokens_per_step),
            breakdown={k: Q_(v, "USD") for k, v in parts.items()},
        )
    return TrainingRunReport(
        step=report,
        energy=energy,
        tokens=float(tokens),
        steps=steps,
        goodput=float(goodput),
        carbon_intensity=ci,
        cost=cost,
        reliability=modelled,
        straggler_slowdown=slowdown,
    )
