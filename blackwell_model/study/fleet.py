"""Plan a fleet: how many racks a power budget runs, and what a training run on them costs.

:func:`plan_fleet` composes the pieces: the racks a facility power budget
allows (:func:`~blackwell_model.solvers.site.domains_within_power`), the
cooling's PUE and sustained clock (:func:`~blackwell_model.solvers.site.with_cooling`),
a training run with modelled goodput and stragglers
(:func:`~blackwell_model.predict_training_run`), the spares the failures
keep in repair, and the cost under each way of paying
(:func:`~blackwell_model.solvers.site.cost_options`).
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from .._display import Display
from .._validate import check_int
from ..errors import SpecError
from ..hardware.system import Cluster, ScaleUpDomain
from ..parallel.layout import Layout
from ..predict.run import TrainingRunReport, predict_training_run
from ..solvers.energy import PowerModel, cluster_power
from ..solvers.reliability import ReliabilityModel
from ..solvers.site import (
    CostComparison,
    CostOptions,
    Facility,
    cost_options,
    domains_within_power,
    with_cooling,
)
from ..units import parse_quantity

__all__ = ["FleetPlan", "plan_fleet"]


@attrs.frozen(kw_only=True, repr=False)
class FleetPlan(Display):
    """A fleet sized to a power budget (or a GPU count) and one training run on it.

    Parameters
    ----------
    cluster
        The planned :class:`~blackwell_model.hardware.Cluster` (cooling applied).
    facility
        The :class:`~blackwell_model.solvers.site.Facility`.
    facility_power_W
        Facility power at full load of the whole fleet [W].
    limited_by
        ``"power budget"`` or ``"gpus"``: what set the fleet's size.
    run
        The :class:`~blackwell_model.predict.TrainingRunReport`, or None.
    cost
        :class:`~blackwell_model.solvers.site.CostComparison` of the run, or None.
    """

    cluster: Cluster
    facility: Facility
    facility_power_W: float
    limited_by: str
    run: TrainingRunReport | None = None
    cost: CostComparison | None = None

    @property
    def gpus(self) -> int:
        """Accelerators of the fleet."""
        return self.cluster.gpus

    @property
    def domains(self) -> int:
        """Scale-up domains (racks or servers) of the fleet."""
        return self.cluster.domains

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary."""
        out: dict[str, Any] = {
            "cluster": self.cluster.name,
            "gpus": self.gpus,
            "domains": self.domains,
            "facility_power_W": self.facility_power_W,
            "limited_by": self.limited_by,
            "cooling": self.cluster.domain.cooling.value,
        }
        if self.run is not None:
            out["run"] = self.run.to_dict()
        if self.cost is not None:
            out["cost"] = {"used": self.cost.used, **dict(self.cost.totals)}
        return out

    def summary(self) -> str:
        """A readable multi-line summary."""
        dom = self.cluster.domain
        lines = [
            f"Fleet: {self.domains:,} x {dom.name} = {self.gpus:,} GPUs, "
            f"{dom.cooling.value}-cooled, {self.facility_power_W / 1e6:,.1f} MW at full load "
            f"(size set by {self.limited_by})",
        ]
        if self.run is not None:
            lines.extend("  " + x for x in self.run.summary().splitlines())
        if self.cost is not None:
            lines.append("  cost of the run, each way of paying:")
            lines.extend("    " + x for x in self.cost.summary().splitlines())
        return "\n".join(lines)


def plan_fleet(
    system: str | ScaleUpDomain,
    *,
    gpus: int | None = None,
    power_budget: Any = None,
    facility: Facility | None = None,
    model: Any = None,
    layout: Layout | None = None,
    tokens: float | None = None,
    reliability: ReliabilityModel | None = None,
    costs: CostOptions | None = None,
    power: PowerModel | None = None,
    fabric: Any = None,
    check_memory: bool = True,
) -> FleetPlan:
    """Size a fleet of ``system`` domains and, with a model and layout, plan a run on it.

    Parameters
    ----------
    system
        Catalog name or :class:`~blackwell_model.hardware.ScaleUpDomain`
        (``"GB200-NVL72"``, ``"DGX-H100"``).
    gpus
        Accelerators wanted (rounded up to whole domains), or None.
    power_budget
        Facility power available, e.g. ``"150 MW"`` (or the facility's
        ``power_budget``); the fleet is the smaller of what it runs and ``gpus``.
    facility
        :class:`~blackwell_model.solvers.site.Facility` (cooling, PUE, clocks).
    model, layout, tokens
        A training run to plan (all three, or none).  The layout may use
        fewer GPUs than the fleet has.
    reliability
        :class:`~blackwell_model.solvers.reliability.ReliabilityModel`.
    costs
        :class:`~blackwell_model.solvers.site.CostOptions` to price the run.
    power
        :class:`~blackwell_model.solvers.energy.PowerModel`.
    fabric
        Scale-out fabric (catalog name or Fabric); defaults to the system's.
    check_memory
        As for :func:`~blackwell_model.predict_training` (False predicts a
        layout the memory model says does not fit).

    Examples
    --------
    >>> plan = plan_fleet("GB200-NVL72", power_budget="5 MW")
    >>> plan.domains, plan.limited_by
    (34, 'power budget')
    """
    from .. import catalog

    fac = facility or Facility()
    budget = power_budget if power_budget is not None else fac.power_budget
    if gpus is None and budget is None:
        raise SpecError("plan_fleet needs gpus, a power_budget, or both")
    if gpus is not None:
        gpus = check_int(gpus, "gpus", text=False)
    run_args = (model, layout, tokens)
    if any(a is not None for a in run_args) and any(a is None for a in run_args):
        raise SpecError("give model, layout and tokens together to plan a run (or none of them)")
    dom = catalog.system(system) if isinstance(system, str) else system
    if not isinstance(dom, ScaleUpDomain):
        raise SpecError(f"system must be a system name or ScaleUpDomain, got {system!r}")
    pm = fac.power_model(power)
    want = gpus
    if want is None:
        # an upper bound on what the budget could run: every GPU at TDP, PUE 1
        watts = float(parse_quantity(budget, "W", name="power_budget").m)
        want = max(dom.gpus, int(watts / float(dom.accelerator.tdp.m)))
    domains = math.ceil(want / dom.gpus)
    base = catalog.cluster(dom, gpus=domains * dom.gpus, fabric=fabric)
    cooled = with_cooling(base, fac)
    limited_by = "gpus"
    if budget is not None:
        fit = domains_within_power(cooled, budget, power=pm)
        if fit < 1:
            raise SpecError(f"a power budget of {budget} does not run one {dom.name}")
        if fit < domains:
            limited_by = "power budget"
            domains = fit
            cooled = attrs.evolve(
                cooled,
                domains=fit,
                name=f"{dom.name} x {fit}",
                fabric=cooled.fabric if fit > 1 else None,
            )
    cp = cluster_power(cooled, power=pm)
    run = None
    cost = None
    if model is not None and layout is not None and tokens is not None:
        run = predict_training_run(
            model,
            cooled,
            layout,
            tokens=tokens,
            reliability=reliability,
            power=pm,
            check_memory=check_memory,
        )
        if costs is not None:
            cost = cost_options(
                costs,
                gpus=run.gpus,
                domains=run.gpus / dom.gpus,
                duration_s=float(run.wall_time.m),
                energy_J=float(run.facility_energy.m),
                max_it_power_W=run.energy.result.max_it_power_W,
            )
    return FleetPlan(
        cluster=cooled,
        facility=fac,
        facility_power_W=cp.max_it_power_W() * cp.pue,
        limited_by=limited_by,
        run=run,
        cost=cost,
    )
