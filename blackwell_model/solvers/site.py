"""The site around a fleet: cooling, sustained clocks, a power budget, and what the time costs.

* **Cooling** sets the PUE (:class:`~blackwell_model.solvers.energy.PowerModel`
  ``pue_air`` / ``pue_liquid``) and the clock a GPU sustains under load:
  :func:`with_cooling` re-cools a cluster (a what-if: liquid-cooled H100
  racks) and scales its accelerators' peak rates by
  :math:`c_{new} / c_{catalog}` (:class:`Facility`).
* **Power budget**: :func:`domains_within_power` is the most scale-up domains
  whose full-load facility power (accelerators at TDP, hosts, NICs, switches,
  rack overhead, fabric, times PUE) fits a budget in MW.
* **Cost**: :func:`cost_options` prices the same period three ways --
  energy at a tariff only, owned hardware (capital amortised + energy +
  facility) and cloud rental -- so a report can say which it used and what
  the others would have cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pint

from ..errors import SpecError
from ..hardware.system import Cluster, Cooling
from ..hardware.whatif import with_accelerator
from ..units import fraction, parse_quantity
from ._energy_fields import _frozen_map, _pue, _q_attr, _q_non_negative, _q_positive
from .facility import cluster_power
from .power import PowerModel
from .pricing import Pricing, cost_breakdown_usd

__all__ = [
    "COST_OPTIONS",
    "CostComparison",
    "CostOptions",
    "Facility",
    "cost_options",
    "domains_within_power",
    "with_cooling",
]

_CLOCK = fraction(open_low=True)


@attrs.frozen(kw_only=True)
class Facility:
    """A data hall: its cooling, PUE, sustained clocks and power budget.

    Parameters
    ----------
    cooling
        :class:`~blackwell_model.hardware.Cooling` of the racks, or None to
        keep each system's catalog cooling.
    pue
        Facility PUE, or None for the cooling's default (``PowerModel``:
        air 1.3, liquid 1.15).  NVIDIA's ~1.08 claims for liquid-cooled
        racks are a vendor figure, not the default.
    clock_air, clock_liquid
        Clock an accelerator sustains under load, relative to its rated
        boost, by cooling.  Air 0.985 (Meta reports a 1-2 % diurnal swing of
        Llama 3 training throughput from "higher mid-day temperatures
        impacting GPU dynamic voltage and frequency scaling" on its
        air-cooled H100 fleet, Llama 3 paper sec. 3.3.4: we take the middle);
        liquid 1.0 (assumption: cold plates hold the junction temperature
        below the throttling point).
    power_budget
        Facility power available [W], e.g. ``"150 MW"``, or None.

    Examples
    --------
    >>> Facility(cooling="liquid").clock_ratio(Cooling.AIR)
    1.015228426395939
    """

    cooling: Cooling | None = attrs.field(
        default=None, converter=lambda v: None if v is None else Cooling(v)
    )
    pue: float | None = attrs.field(default=None, validator=_pue)
    clock_air: float = attrs.field(default=0.985, validator=_CLOCK)
    clock_liquid: float = attrs.field(default=1.0, validator=_CLOCK)
    power_budget: pint.Quantity | None = _q_attr("W", None, _q_positive)

    def clock(self, cooling: Cooling) -> float:
        """Sustained clock fraction under ``cooling``."""
        return float(self.clock_liquid if cooling is Cooling.LIQUID else self.clock_air)

    def clock_ratio(self, catalog_cooling: Cooling) -> float:
        """Sustained clock with this facility's cooling over the catalog cooling's."""
        if self.cooling is None:
            return 1.0
        return self.clock(self.cooling) / self.clock(catalog_cooling)

    def power_model(self, power: PowerModel | None = None) -> PowerModel:
        """``power`` (or the default) with this facility's PUE, when it sets one."""
        pm = power or PowerModel()
        return pm if self.pue is None else attrs.evolve(pm, pue=self.pue)


def with_cooling(cluster: Cluster, facility: Facility) -> Cluster:
    """``cluster`` cooled as ``facility`` says, its peak rates scaled by the clock ratio.

    A facility without a cooling returns ``cluster`` unchanged.  The clock
    ratio scales every dense peak rate of the accelerator (compute-bound
    phases slow down or speed up with it; memory and links do not change).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> h100 = bm.catalog.cluster("DGX-H100", gpus=8)
    >>> wet = with_cooling(h100, Facility(cooling="liquid"))
    >>> wet.domain.cooling.value, round(wet.accelerator.peak("bf16").m / h100.accelerator.peak("bf16").m, 4)
    ('liquid', 1.0152)
    """
    if not isinstance(cluster, Cluster):
        raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
    if not isinstance(facility, Facility):
        raise SpecError(f"facility must be a Facility, got {type(facility).__name__}")
    if facility.cooling is None or facility.cooling is cluster.domain.cooling:
        return cluster
    ratio = facility.clock_ratio(cluster.domain.cooling)
    acc = cluster.accelerator
    peaks = {p: q * ratio for p, q in acc.peak_flops.items()}
    out = with_accelerator(cluster, peak_flops=peaks, name=cluster.name)
    dom = attrs.evolve(out.domain, cooling=facility.cooling)
    return attrs.evolve(out, domain=dom, name=f"{cluster.name} [{facility.cooling.value}-cooled]")


def domains_within_power(cluster: Cluster, budget: Any, *, power: PowerModel | None = None) -> int:
    """Most scale-up domains of ``cluster`` whose full-load facility power fits ``budget``.

    Full load: accelerators at TDP (or the power cap), hosts at TDP, NICs,
    scale-up switches, rack overhead, the scale-out fabric for the domains
    counted (:func:`~blackwell_model.solvers.energy.cluster_power`), times
    the PUE.  At most ``cluster.domains``.

    Parameters
    ----------
    cluster
        The cluster (its domains, fabric and cooling).
    budget
        Facility power, e.g. ``"10 MW"`` [W].
    power
        :class:`~blackwell_model.solvers.energy.PowerModel` (PUE, caps).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> fleet = bm.catalog.cluster("GB200-NVL72", gpus=72 * 100)
    >>> domains_within_power(fleet, "10 MW")
    68
    """
    watts = float(parse_quantity(budget, "W", name="budget").m)
    if not watts > 0:
        raise SpecError(f"budget must be > 0 W, got {budget!r}")
    pm = power or PowerModel()
    per = cluster.domain.gpus

    def facility_W(k: int) -> float:
        cp = cluster_power(cluster, gpus=k * per, power=pm)
        return cp.max_it_power_W() * cp.pue

    lo, hi = 0, cluster.domains
    while lo < hi:  # largest k with facility_W(k) <= watts; power grows with k
        mid = (lo + hi + 1) // 2
        if facility_W(mid) <= watts:
            lo = mid
        else:
            hi = mid - 1
    return lo


# ----------------------------------------------------------------------- cost
#: The ways :func:`cost_options` prices a period.
COST_OPTIONS = ("energy", "owned", "rental")


@attrs.frozen(kw_only=True)
class CostOptions:
    """Prices for the three ways of paying for a fleet's time.

    Parameters
    ----------
    tariff
        Price of facility energy [USD/J], e.g. ``"0.08 USD/kWh"``.
    system_price
        Capital cost of one scale-up domain (a rack or a server) [USD].
    network_price_per_gpu
        Capital cost of the scale-out network per accelerator [USD].
    amortization
        Write-off period of the capital [s]; 4 years by default.
    facility_price
        Data-centre cost per provisioned IT power and time [USD/J], e.g.
        ``"1500 USD/(kW*yr)"``.
    gpu_hour_price
        Cloud rental per accelerator-hour, power included [USD/h].
    use
        The option the report charges (one of :data:`COST_OPTIONS`), or None:
        ``owned`` when a system price is given, else ``rental``, else
        ``energy`` (the energy-only figure is a running cost, not a total,
        so it is never preferred for being cheapest).

    Examples
    --------
    >>> CostOptions(tariff="0.08 USD/kWh", gpu_hour_price="2.5 USD/h").priced()
    ('energy', 'rental')
    """

    tariff: pint.Quantity | None = _q_attr("USD/J", None, _q_non_negative)
    system_price: pint.Quantity | None = _q_attr("USD", None, _q_non_negative)
    network_price_per_gpu: pint.Quantity | None = _q_attr("USD", None, _q_non_negative)
    amortization: pint.Quantity = _q_attr("s", "4 yr", _q_positive)
    facility_price: pint.Quantity | None = _q_attr("USD/J", None, _q_non_negative)
    gpu_hour_price: pint.Quantity | None = _q_attr("USD/h", None, _q_non_negative)
    use: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.use is not None and self.use not in COST_OPTIONS:
            raise SpecError(
                f"use must be one of {', '.join(COST_OPTIONS)} or None, got {self.use!r}"
            )
        if not self.priced():
            raise SpecError(
                "CostOptions needs a tariff, a system_price (owned) or a gpu_hour_price (rental)"
            )
        if self.use is not None and self.use not in self.priced():
            raise SpecError(f"use={self.use!r} but that option has no price")

    def priced(self) -> tuple[str, ...]:
        """The options that have the prices they need."""
        out = []
        if self.tariff is not None:
            out.append("energy")
        if self.system_price is not None:
            out.append("owned")
        if self.gpu_hour_price is not None:
            out.append("rental")
        return tuple(out)

    def pricing(self, option: str) -> Pricing:
        """The :class:`~blackwell_model.solvers.energy.Pricing` of one option."""
        if option == "energy":
            return Pricing(electricity_price=self.tariff)
        if option == "owned":
            return Pricing(
                system_price=self.system_price,
                network_price_per_gpu=self.network_price_per_gpu,
                amortization=self.amortization,
                electricity_price=self.tariff,
                facility_price=self.facility_price,
            )
        if option == "rental":
            return Pricing(gpu_hour_price=self.gpu_hour_price)
        raise SpecError(f"option must be one of {', '.join(COST_OPTIONS)}, got {option!r}")


@attrs.frozen(kw_only=True)
class CostComparison:
    """Dollars of one period under each priced option, and the one charged.

    Parameters
    ----------
    totals
        Option -> dollars [USD].
    breakdowns
        Option -> component (rental, capital, electricity, facility) -> dollars.
    used
        The option the report charges.
    """

    totals: Mapping[str, float] = attrs.field(converter=_frozen_map)
    breakdowns: Mapping[str, Mapping[str, float]] = attrs.field(converter=_frozen_map)
    used: str

    @property
    def total(self) -> float:
        """Dollars under the charged option."""
        return float(self.totals[self.used])

    def summary(self) -> str:
        """One line per option, the charged one marked."""
        lines = []
        for k, v in self.totals.items():
            mark = "  <- charged" if k == self.used else ""
            parts = ", ".join(f"{n} ${x:,.0f}" for n, x in self.breakdowns[k].items() if x > 0)
            lines.append(f"{k:<7} ${v:,.0f} ({parts}){mark}")
        return "\n".join(lines)


def cost_options(
    options: CostOptions,
    *,
    gpus: int,
    domains: float,
    duration_s: float,
    energy_J: float,  # noqa: N803 - unit suffix (STYLE.md)
    max_it_power_W: float,  # noqa: N803 - unit suffix (STYLE.md)
) -> CostComparison:
    """Price a period every way ``options`` allows (see :func:`~blackwell_model.solvers.energy.cost_breakdown_usd`).

    ``energy``: the facility energy at the tariff, nothing else (a what-if
    for the running cost alone); ``owned``: capital amortised over the
    period plus energy and facility; ``rental``: accelerator-hours at the
    cloud price (power included).

    Examples
    --------
    >>> opts = CostOptions(tariff="0.1 USD/kWh", gpu_hour_price="2 USD/h")
    >>> c = cost_options(opts, gpus=8, domains=1, duration_s=3600.0, energy_J=3.6e7,
    ...                  max_it_power_W=1e4)
    >>> c.totals["energy"], c.totals["rental"], c.used
    (1.0, 16.0, 'rental')
    """
    totals: dict[str, float] = {}
    breakdowns: dict[str, dict[str, float]] = {}
    for opt in options.priced():
        parts = cost_breakdown_usd(
            options.pricing(opt),
            gpus=gpus,
            domains=domains,
            duration_s=duration_s,
            energy_J=energy_J,
            max_it_power_W=max_it_power_W,
        )
        breakdowns[opt] = {k: v for k, v in parts.items() if v > 0}
        totals[opt] = float(sum(parts.values()))
    used = options.use or next(o for o in ("owned", "rental", "energy") if o in totals)
    return CostComparison(totals=totals, breakdowns=breakdowns, used=used)
