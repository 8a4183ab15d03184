"""Field helpers shared by the energy, facility and pricing solvers (private)."""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import SpecError
from ..units import format_quantity, parse_quantity

__all__: list[str] = []


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
