"""Money: rental or capital prices, electricity and facility costs, per step and per token.

.. math::

   C = g\\,t\\,p_{gpu\\,h} + \\frac{t}{T_{am}}(d\\,p_{sys} + g\\,p_{net})
       + E\\,p_{elec} + P_{max}\\,t\\,p_{fac}

The public names are also importable from :mod:`blackwell_model.solvers.energy`.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pint

from ..errors import SpecError
from ..units import format_quantity
from ._energy_fields import _number, _q_attr, _q_non_negative, _q_positive

__all__ = ["CostReport", "Pricing", "cost_breakdown_usd"]

_S_PER_H = 3600.0


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
