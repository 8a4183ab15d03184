"""One pint registry for the whole library, and the converters that use it.

The registry is built from ``units.txt`` shipped beside this module, not from
pint's default definitions.  Information (``bit``, ``byte``) and compute
(``flop``) are dimensions of their own, so ``GB/s`` is neither ``Hz`` nor
``TFLOP/s``.  Decimal prefixes are powers of ten (``GB`` = 1e9 B) and binary
prefixes powers of two (``GiB`` = 2**30 B).

Every quantity stored on a part is converted once, at construction, to the
*canonical unit* of its dimension (see :data:`CANONICAL`), so solvers read the
float magnitude with ``.m`` and never touch pint in a hot loop.

Examples
--------
>>> from blackwell_model.units import Q_
>>> Q_("1.8 TB/s").to("GB/s")
<Quantity(1800.0, 'gigabyte / second')>
>>> Q_("1 GB/s").is_compatible_with("Hz")
False
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

import attrs
import pint

from .errors import SpecError, UnitMismatchError

__all__ = [
    "CANONICAL",
    "Q_",
    "Quantity",
    "finite_non_negative",
    "format_quantity",
    "fraction",
    "in_range",
    "non_negative",
    "parse_quantity",
    "positive",
    "quantity",
    "ureg",
]

with resources.as_file(resources.files(__package__) / "units.txt") as _path:
    ureg: pint.UnitRegistry = pint.UnitRegistry(
        str(_path), autoconvert_offset_to_baseunit=False, cache_folder=None
    )
ureg.formatter.default_format = "~P"
pint.set_application_registry(ureg)

#: The Quantity class of :data:`ureg`.
Quantity = ureg.Quantity
#: Shorthand constructor, ``Q_(3.35, "TB/s")`` or ``Q_("3.35 TB/s")``.
Q_ = ureg.Quantity

#: Canonical storage unit for each unit name used by the library's fields.
#: A field declared ``quantity("TB/s")`` stores bytes per second.
CANONICAL: dict[str, str] = {
    "B": "B",
    "B/s": "B/s",
    "s": "s",
    "flop": "flop",
    "flop/s": "flop/s",
    "W": "W",
    "J": "J",
    "J/bit": "J/bit",
    "Hz": "Hz",
    "USD": "USD",
    "USD/h": "USD/h",
    "USD/J": "USD/J",
    "gCO2e/J": "gCO2e/J",
}

# Unit objects built once: constructing from a Unit is ~10x cheaper than from a string.
_UNITS: dict[str, pint.Unit] = {k: ureg.Unit(v) for k, v in CANONICAL.items()}
_DIMS: dict[str, Any] = {k: u.dimensionality for k, u in _UNITS.items()}
_CONTAINERS: dict[str, Any] = {k: u._units for k, u in _UNITS.items()}


@functools.lru_cache(maxsize=2048)
def _factor(units: Any, key: str) -> float | None:
    """Multiplier from ``units`` (a UnitsContainer) to the canonical unit, or None.

    None means the dimensions differ.  Every unit in our registry is
    multiplicative, so one factor per unit pair is exact enough (1 ulp).
    """
    unit = ureg.Unit(units)
    if unit.dimensionality != _DIMS[key]:
        return None
    return float(ureg.Quantity(1.0, unit).to(_UNITS[key]).magnitude)


# Preferred display units per dimension, smallest first, for messages and tables.
_DISPLAY: dict[str, tuple[str, ...]] = {
    "B": ("B", "kB", "MB", "GB", "TB", "PB"),
    "B/s": ("B/s", "kB/s", "MB/s", "GB/s", "TB/s", "PB/s"),
    "flop": ("flop", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"),
    "flop/s": ("FLOPS", "kFLOPS", "MFLOPS", "GFLOPS", "TFLOPS", "PFLOPS", "EFLOPS"),
    "W": ("mW", "W", "kW", "MW", "GW"),
    "J": ("mJ", "J", "kJ", "MJ", "GJ", "TJ"),
    "s": ("ns", "µs", "ms", "s"),
}


@functools.lru_cache(maxsize=256)
def _canonical_key(unit: str) -> str:
    """Return the :data:`CANONICAL` key whose dimension matches ``unit`` (cached)."""
    if unit in CANONICAL:
        return unit
    dim = ureg.Unit(unit).dimensionality
    for key, d in _DIMS.items():
        if d == dim:
            return key
    raise ValueError(f"no canonical unit is registered for {unit!r}")


def format_quantity(q: Any, digits: int = 4) -> str:
    """Format a quantity (or a float in a canonical unit) compactly, e.g. ``'3.35 TB/s'``.

    Parameters
    ----------
    q
        A pint Quantity.  Plain values are returned with ``repr``.
    digits
        Significant digits.
    """
    if not isinstance(q, pint.Quantity):
        return repr(q)
    mag = q.magnitude
    try:
        key = _canonical_key(str(q.units))
    except (ValueError, pint.errors.UndefinedUnitError):
        key = ""
    if key in _DISPLAY and isinstance(mag, int | float) and math.isfinite(mag) and mag != 0:
        base = q.to(_UNITS[key]).magnitude
        choice = _DISPLAY[key][0]
        for name in _DISPLAY[key]:
            if abs(ureg.Quantity(1.0, name).to(_UNITS[key]).magnitude) <= abs(base):
                choice = name
        return f"{q.to(choice).magnitude:.{digits}g} {choice}"
    if isinstance(mag, int | float):
        return f"{mag:.{digits}g} {q.units:~P}".strip()
    return f"{q:~P}"


# A quantity string is a decimal number and a unit, nothing else: pint's own parser
# evaluates arithmetic ("9**9**9 GB/s" never returns, "2*3 TB/s" is 6 TB/s, "TB/s" is
# 1 TB/s), so the text is checked against this grammar before pint sees the unit.
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?"
_IDENT = r"[A-Za-zµμ_][A-Za-z0-9µμ_]*"
_POWER = r"(?:\s*(?:\*\*|\^)\s*-?\d{1,2})?"
_ATOM = rf"{_IDENT}{_POWER}"
_GROUP = rf"\(\s*{_ATOM}(?:\s*[*/·]\s*{_ATOM}|\s+{_ATOM})*\s*\){_POWER}"
_FACTOR = rf"(?:{_ATOM}|{_GROUP})"
_QUANTITY_RE = re.compile(
    rf"\s*(?P<number>{_NUMBER})\s*(?P<unit>(?:1\s*/\s*)?{_FACTOR}(?:\s*[*/·]\s*{_FACTOR}|\s+{_FACTOR})*)\s*"
)
_MAX_TEXT = 200


class _QuantityTextError(ValueError):
    """Why a quantity string was refused (turned into a SpecError naming the field)."""


@functools.lru_cache(maxsize=4096)
def _parse_string(text: str) -> tuple[Any, Any]:
    """Parse ``"<number> <unit>"`` once (pint's unit parser costs ~100 us per call).

    Returns the float magnitude and the UnitsContainer.

    Raises
    ------
    _QuantityTextError
        If the text is not a finite decimal number followed by a unit.
    """
    if len(text) > _MAX_TEXT:
        raise _QuantityTextError(f"longer than {_MAX_TEXT} characters")
    m = _QUANTITY_RE.fullmatch(text)
    if m is None:
        if re.match(rf"\s*{_NUMBER}", text) is None:
            raise _QuantityTextError("it does not start with a number")
        raise _QuantityTextError("after the number comes something that is not a unit")
    mag = float(m.group("number"))
    if not math.isfinite(mag):
        raise _QuantityTextError("the number is out of range")
    try:
        unit = ureg.Unit(m.group("unit"))
    except Exception as exc:  # pint raises several unrelated types here
        raise _QuantityTextError(str(exc)) from None
    return mag, unit._units


def parse_quantity(value: Any, unit: str, *, name: str = "value") -> pint.Quantity:
    """Convert ``value`` to a Quantity in the canonical unit of ``unit``.

    Parameters
    ----------
    value
        A pint Quantity, or a string such as ``"1.8 TB/s"``.  A bare number is
        refused because its unit would be a guess.
    unit
        Any unit of the wanted dimension (``"TB/s"``, ``"W"``...); the result is
        stored in the canonical unit of that dimension (B/s, W...).
    name
        Field name used in error messages.

    Returns
    -------
    pint.Quantity
        A new Quantity (never the caller's object) with a float magnitude.

    Raises
    ------
    UnitMismatchError
        If ``value`` has another dimension or no unit at all.
    SpecError
        If a string cannot be parsed.
    """
    key = _canonical_key(unit)
    if isinstance(value, pint.Quantity):
        mag = value.magnitude
        units: Any = value._units if value._REGISTRY is ureg else ureg.Unit(str(value.units))._units
    elif isinstance(value, str):
        try:
            mag, units = _parse_string(value)
        except _QuantityTextError as exc:
            shown = value if len(value) <= 60 else value[:57] + "..."
            raise SpecError(
                f"{name} must be a number and a unit of {CANONICAL[key]} such as '1.8 {unit}', "
                f"got {shown!r} ({exc})"
            ) from None
    elif isinstance(value, bool | int | float):
        raise UnitMismatchError(
            f"{name} needs a unit (expected {CANONICAL[key]}, e.g. '{value} {unit}'), "
            f"got the bare number {value!r}"
        )
    else:
        raise UnitMismatchError(
            f"{name} must be a Quantity or a string with a unit of {CANONICAL[key]}, "
            f"got {type(value).__name__} {value!r}"
        )
    factor = 1.0 if units == _CONTAINERS[key] else _factor(units, key)
    if factor is None:
        dim = ureg.Unit(units).dimensionality
        raise UnitMismatchError(
            f"{name} must have units of {CANONICAL[key]} (dimension {_DIMS[key]}), "
            f"got {value!r} with dimension {dim}"
        )
    try:
        mag = float(mag) * factor if factor != 1.0 else float(mag)
    except OverflowError:
        text = repr(value)
        raise SpecError(
            f"{name} is out of range for a float (|x| < 1.8e308), got "
            f"{text if len(text) < 60 else text[:57] + '...'}"
        ) from None
    except (TypeError, ValueError):
        raise UnitMismatchError(
            f"{name} must be a scalar quantity in {CANONICAL[key]}, got {value!r}"
        ) from None
    return ureg.Quantity(mag, _CONTAINERS[key])


def quantity(unit: str, *, optional: bool = False) -> attrs.Converter:  # type: ignore[type-arg]
    """An attrs converter that stores a field as a Quantity in the canonical unit.

    Parameters
    ----------
    unit
        A unit of the wanted dimension; ``"TB/s"`` and ``"B/s"`` are equivalent.
    optional
        Let ``None`` through unchanged.

    Examples
    --------
    >>> import attrs
    >>> @attrs.frozen
    ... class Disk:
    ...     bandwidth = attrs.field(converter=quantity("GB/s"))
    >>> print(Disk("2 GB/s").bandwidth)
    2000000000.0 B/s
    """

    def convert(value: Any, field: attrs.Attribute) -> Any:  # type: ignore[type-arg]
        if value is None and optional:
            return None
        return parse_quantity(value, unit, name=field.name)

    return attrs.Converter(convert, takes_field=True)  # type: ignore[call-overload]


def _check_finite(inst: Any, attribute: attrs.Attribute, value: Any) -> float | None:  # type: ignore[type-arg]
    if value is None:
        return None
    mag = value.magnitude if isinstance(value, pint.Quantity) else value
    if not math.isfinite(mag):
        raise SpecError(f"{attribute.name} must be finite, got {value!r}")
    return float(mag)


def positive(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """attrs validator: finite and strictly greater than zero (``None`` passes)."""
    mag = _check_finite(inst, attribute, value)
    if mag is not None and not mag > 0:
        zero = f"0 {value.units:~P}" if isinstance(value, pint.Quantity) else "0"
        raise SpecError(f"{attribute.name} must be > {zero}, got {format_quantity(value)}")


def non_negative(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """attrs validator: finite and greater than or equal to zero (``None`` passes)."""
    mag = _check_finite(inst, attribute, value)
    if mag is not None and mag < 0:
        zero = f"0 {value.units:~P}" if isinstance(value, pint.Quantity) else "0"
        raise SpecError(f"{attribute.name} must be >= {zero}, got {format_quantity(value)}")


def _plain_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fraction(*, open_low: bool = False) -> Callable[[Any, Any, Any], None]:
    """attrs validator factory for plain-number fractions: [0, 1], or (0, 1] with ``open_low``.

    Booleans, NaN and infinities are refused; the message names the field.
    """

    def check(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
        ok = _plain_number(value) and (value > 0.0 if open_low else value >= 0.0) and value <= 1.0
        if not ok:
            interval = "(0, 1]" if open_low else "[0, 1]"
            raise SpecError(f"{attribute.name} must be a fraction in {interval}, got {value!r}")

    return check


def finite_non_negative(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """attrs validator for a plain finite number >= 0 (booleans refused)."""
    if not (_plain_number(value) and value >= 0.0):
        raise SpecError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def in_range(low: float, high: float) -> Callable[[Any, Any, Any], None]:
    """attrs validator factory: a finite number in the closed interval [low, high]."""

    def check(inst: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
        mag = _check_finite(inst, attribute, value)
        if mag is not None and not low <= mag <= high:
            raise SpecError(f"{attribute.name} must be in [{low}, {high}], got {value!r}")

    return check
