"""The one JSON schema of every ``--json`` output of the command line (private).

Every document is strict JSON (no ``NaN`` or ``Infinity``: a missing or
unknown number is ``null``) of the form::

    {
      "schema": "blackwell-model/1",
      "command": "train",
      "inputs": {"model": "llama3-70b", "gpus": 64, "tp": 4, ...},
      "defaults": ["cp", "vpp", ...],
      "notes": ["...assumptions and roundings, as under the text tables..."],
      "result": {...}
    }

Numbers are JSON numbers in SI units, and a key whose value carries a unit
ends with the unit (:data:`UNIT_SUFFIX`): ``step_time_s``, ``memory_B``,
``memory_bandwidth_Bps``, ``peak_flops_flop_per_s``, ``energy_J``,
``average_power_W``, ``cost_usd``.  A table whose values share a unit carries
it on the table's key (``breakdown_s: {"compute": 1.2, ...}``).  Counts,
ratios and fractions (``gpus``, ``mfu``, ``pue``) and rates per second of
things that are not units (``tokens_per_second``) have no suffix.  The docs'
"JSON output" page describes each command's ``result``.
"""

from __future__ import annotations

import enum
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pint

from .units import CANONICAL, _canonical_key

__all__ = ["SCHEMA", "UNIT_SUFFIX", "document", "plain", "spec_data"]

#: Version tag of the schema, the first key of every document.
SCHEMA = "blackwell-model/1"

#: Canonical unit -> suffix of the key of a value in that unit.
UNIT_SUFFIX: Mapping[str, str] = {
    "B": "_B",
    "B/s": "_Bps",
    "s": "_s",
    "flop": "_flop",
    "flop/s": "_flop_per_s",
    "W": "_W",
    "J": "_J",
    "J/bit": "_J_per_bit",
    "Hz": "_Hz",
    "USD": "_usd",
    "USD/h": "_usd_per_h",
    "USD/J": "_usd_per_J",
    "gCO2e/J": "_gCO2e_per_J",
}


def _suffix(q: pint.Quantity) -> tuple[str, float]:
    key = _canonical_key(str(q.units))
    return UNIT_SUFFIX[key], float(q.to(CANONICAL[key]).magnitude)


def plain(value: Any) -> Any:
    """``value`` as strict-JSON data: NaN and infinities -> None, numpy -> Python, enums -> values.

    Raises
    ------
    TypeError
        For a pint Quantity (its unit belongs on the key: use :func:`spec_data`
        or a suffixed key) or any other object JSON cannot hold.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, pint.Quantity):
        raise TypeError(f"a Quantity has no unit-suffixed key here: {value!r}")
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, Mapping):
        return {str(k.value if isinstance(k, enum.Enum) else k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        return [plain(v) for v in items]
    raise TypeError(f"cannot write {type(value).__name__} as JSON: {value!r}")


def spec_data(part: Any) -> dict[str, Any]:
    """A part (any :class:`~blackwell_model._spec.Spec`) as schema data.

    Quantities become floats in their canonical unit under a suffixed key
    (``memory_bandwidth`` -> ``memory_bandwidth_Bps``); a table of quantities
    (``peak_flops``) carries the suffix on its key; sub-parts nest.
    """
    out: dict[str, Any] = {}
    for f in attrs.fields(type(part)):
        value = getattr(part, f.name)
        if value is None:
            continue
        out.update(_field_data(f.name, value))
    return out


def _field_data(name: str, value: Any) -> dict[str, Any]:
    if attrs.has(type(value)) and hasattr(value, "to_dict"):
        return {name: spec_data(value)}
    if isinstance(value, pint.Quantity):
        suffix, mag = _suffix(value)
        return {name + suffix: plain(mag)}
    if (
        isinstance(value, Mapping)
        and value
        and all(isinstance(v, pint.Quantity) for v in value.values())
    ):
        suffixes = {_suffix(v)[0] for v in value.values()}
        if len(suffixes) == 1:
            (suffix,) = suffixes
            return {
                name + suffix: {
                    str(getattr(k, "value", k)): _suffix(v)[1] for k, v in value.items()
                }
            }
    return {name: plain(value)}


def document(
    command: str,
    result: Any,
    *,
    inputs: Mapping[str, Any] | None = None,
    defaults: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> str:
    """The JSON text of one command's output (strict: ``allow_nan=False``)."""
    doc = {
        "schema": SCHEMA,
        "command": command,
        "inputs": plain(dict(inputs or {})),
        "defaults": list(defaults),
        "notes": list(notes),
        "result": plain(result),
    }
    return json.dumps(doc, indent=2, allow_nan=False)
