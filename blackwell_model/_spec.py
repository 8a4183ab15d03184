"""Shared machinery of the part classes: field helpers and dict/TOML round trips.

Each part is a frozen attrs class whose fields are declared with the helpers
below.  The helpers record in the field's metadata how the value is converted
to and from plain data, so :meth:`Spec.to_dict` and :meth:`Spec.from_dict` work
for every part without per-class code.
"""

from __future__ import annotations

import enum
import html
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

import attrs
import pint

from ._validate import MAX_INT, check_bool, check_int, check_name, check_text
from .errors import (
    BlackwellModelError,
    SpecError,
    SpecFileError,
    SpecTypeError,
    UnknownNameError,
    with_context,
)
from .units import CANONICAL, _canonical_key, format_quantity, non_negative, positive, quantity

__all__ = [
    "Spec",
    "as_part",
    "bool_field",
    "enum_field",
    "int_field",
    "name_field",
    "part_field",
    "q_field",
    "set_catalog_lookup",
    "sources_field",
    "text_field",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

_KIND = "bm_kind"

# How a part field resolves a catalog name: ``lookup(kind, name) -> part``.  The
# catalog sits a layer above the part classes and registers its lookup here when it
# is imported (``import blackwell_model`` always imports it), so this module and the
# part classes never import the catalog: no ``_spec -> catalog -> hardware -> _spec``
# import cycle.
_catalog_lookup: Callable[[str, str], Any] | None = None


def set_catalog_lookup(lookup: Callable[[str, str], Any]) -> None:
    """Register the function part fields use to resolve a catalog name (the catalog's ``get``)."""
    global _catalog_lookup  # noqa: PLW0603 - one registration, by the catalog at import
    _catalog_lookup = lookup


def q_field(
    unit: str,
    *,
    optional: bool = False,
    allow_zero: bool = False,
    default: Any = attrs.NOTHING,
    doc: str = "",
) -> Any:
    """A quantity field stored in the canonical unit of ``unit``.

    Parameters
    ----------
    unit
        Any unit of the wanted dimension, used in messages and examples.
    optional
        ``None`` is allowed (and is the default).
    allow_zero
        Zero passes the range check (otherwise values must be > 0).
    """
    if optional and default is attrs.NOTHING:
        default = None
    check = non_negative if allow_zero else positive
    return attrs.field(
        converter=quantity(unit, optional=optional),
        validator=check,
        default=default,
        metadata={_KIND: "quantity", "unit": unit, "doc": doc},
    )


def _int_converter(value: Any, field: attrs.Attribute) -> int:  # type: ignore[type-arg]
    """An integer of at most :data:`~blackwell_model._validate.MAX_INT` in magnitude."""
    return check_int(value, field.name, minimum=-MAX_INT, maximum=MAX_INT)


def _checked_field(check: Callable[[Any, str], Any], kind: str, default: Any, doc: str) -> Any:
    """A field whose converter is ``check(value, field_name)`` (one of :mod:`._validate`)."""

    def convert(value: Any, field: attrs.Attribute) -> Any:  # type: ignore[type-arg]
        return check(value, field.name)

    return attrs.field(
        converter=attrs.Converter(convert, takes_field=True),  # type: ignore[call-overload]
        default=default,
        metadata={_KIND: kind, "doc": doc},
    )


def int_field(
    *, minimum: int = 1, maximum: int = MAX_INT, default: Any = attrs.NOTHING, doc: str = ""
) -> Any:
    """An integer field in ``[minimum, maximum]`` (at most 2**31 - 1, so products of two
    counts never overflow 64-bit arithmetic)."""
    return _checked_field(
        lambda v, name: check_int(v, name, minimum=minimum, maximum=maximum), "int", default, doc
    )


def bool_field(*, default: bool, doc: str = "") -> Any:
    """A flag: True or False (or the text true/false); anything else is refused.

    A plain ``x: bool = True`` attrs field keeps whatever it is given, so
    ``sharp="false"`` would be a truthy string.
    """
    return _checked_field(check_bool, "bool", default, doc)


def text_field(*, default: str = "", doc: str = "") -> Any:
    """A free-text field (vendor, notes...): a str without control characters."""
    return _checked_field(check_text, "text", default, doc)


def name_field(*, doc: str = "") -> Any:
    """The ``name`` of a part: non-blank text, no control characters or surrounding spaces."""
    return _checked_field(check_name, "name", attrs.NOTHING, doc)


def enum_field(enum_cls: type[E], *, default: Any = attrs.NOTHING, doc: str = "") -> Any:
    """A field holding a member of ``enum_cls``; strings are parsed case-insensitively."""

    def convert(value: Any, field: attrs.Attribute) -> E:  # type: ignore[type-arg]
        if isinstance(value, enum_cls):
            return value
        parse = getattr(enum_cls, "parse", None)
        if parse is not None:
            return parse(value)  # type: ignore[no-any-return]
        key = str(value).strip().lower()
        for member in enum_cls:
            if member.value == key or member.name.lower() == key:
                return member
        valid = ", ".join(repr(m.value) for m in enum_cls)
        raise SpecError(f"{field.name} must be one of {valid}, got {value!r}")

    return attrs.field(
        converter=attrs.Converter(convert, takes_field=True),  # type: ignore[call-overload]
        default=default,
        metadata={_KIND: "enum", "enum": enum_cls, "doc": doc},
    )


def as_part(value: Any, cls: type[T], catalog_kind: str, name: str) -> T:
    """``value`` as a ``cls``: the instance itself, a dict (``from_dict``) or a catalog name.

    The one way a field or an argument turns "a part, its description or its
    name" into the part.

    Raises
    ------
    SpecTypeError
        If ``value`` is none of those.
    UnknownNameError
        If the catalog has no such name; the message starts with ``name``.
    """
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return cls.from_dict(value)  # type: ignore[attr-defined,no-any-return]
    if isinstance(value, str):
        if _catalog_lookup is None:  # pragma: no cover - blackwell_model imports the catalog
            raise SpecError(
                f"{name}: catalog name {value!r} given before blackwell_model.catalog was imported"
            )
        try:
            part = _catalog_lookup(catalog_kind, value)
        except UnknownNameError as exc:
            raise with_context(exc, f"{name}: ") from None
        if not isinstance(part, cls):  # pragma: no cover - the catalog builds cls per kind
            raise SpecTypeError(f"{name}: catalog entry {value!r} is not a {cls.__name__}")
        return part
    raise SpecTypeError(
        f"{name} must be a {cls.__name__}, a dict describing one, or a catalog "
        f"name, got {type(value).__name__} {value!r}"
    )


def part_field(
    cls_getter: Callable[[], type[Spec]],
    catalog_kind: str,
    *,
    optional: bool = False,
    doc: str = "",
) -> Any:
    """A field holding another part.

    Accepts an instance, a dict (``from_dict``) or a catalog name (looked up in
    :mod:`blackwell_model.catalog` under ``catalog_kind``); see :func:`as_part`.
    """

    def convert(value: Any, field: attrs.Attribute) -> Any:  # type: ignore[type-arg]
        if value is None and optional:
            return None
        return as_part(value, cls_getter(), catalog_kind, field.name)

    return attrs.field(
        converter=attrs.Converter(convert, takes_field=True),  # type: ignore[call-overload]
        default=None if optional else attrs.NOTHING,
        metadata={_KIND: "part", "doc": doc},
    )


def _str_map(value: Any, field: attrs.Attribute) -> dict[str, str]:  # type: ignore[type-arg]
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError(f"{field.name} must be a table of field name -> text, got {value!r}")
    out = {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise SpecError(f"{field.name}[{k!r}] must be text, got {v!r}")
        out[str(k)] = v
    return out


def sources_field() -> Any:
    """The ``sources`` field: field name -> where its number comes from."""
    return attrs.field(
        factory=dict,
        converter=attrs.Converter(_str_map, takes_field=True),  # type: ignore[call-overload]
        eq=False,
        repr=False,
        metadata={_KIND: "map"},
    )


def _q_to_text(q: pint.Quantity) -> str:
    """Exact text form of a canonical quantity, e.g. ``'3350000000000.0 B/s'``."""
    return f"{float(q.magnitude)!r} {q.units:~P}"


class Spec:
    """Mixin of every part class: dict and TOML round trips, readable summaries."""

    #: Catalog kind of the class, e.g. ``"accelerator"``.
    catalog_kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form: quantities as exact strings in canonical units, parts nested.

        ``None`` fields are left out (TOML has no null).  ``from_dict(to_dict())``
        gives an equal object.
        """
        out: dict[str, Any] = {}
        for f in attrs.fields(type(self)):  # type: ignore[arg-type]
            if not f.init:
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = _to_plain(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a part from plain data (as written by :meth:`to_dict` or read from TOML).

        Raises
        ------
        SpecFileError
            If a key is unknown or a required field is missing.
        SpecError, UnitMismatchError
            If a value is out of range or has the wrong unit.
        """
        if not isinstance(data, Mapping):
            raise SpecFileError(f"{cls.__name__} needs a table of fields, got {data!r}")
        fields = {f.name: f for f in attrs.fields(cls) if f.init}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise SpecFileError(
                f"{cls.__name__}: unknown field(s) {', '.join(map(repr, unknown))}; "
                f"valid fields: {', '.join(fields)}"
            )
        missing = [
            name for name, f in fields.items() if f.default is attrs.NOTHING and name not in data
        ]
        if missing:
            raise SpecFileError(
                f"{cls.__name__} {data.get('name', '')!r}: missing required field(s) "
                f"{', '.join(map(repr, missing))}"
            )
        kwargs = dict(data)
        for name, value in data.items():
            if isinstance(value, list):
                kwargs[name] = tuple(value)
        try:
            return cls(**kwargs)
        except BlackwellModelError as exc:
            label = data.get("name", "")
            prefix = f"{cls.__name__} {label!r}: " if label else f"{cls.__name__}: "
            raise with_context(exc, prefix) from None

    def _summary_rows(self, *, quote_strings: bool = False) -> list[tuple[str, str]]:
        rows = []
        for f in attrs.fields(type(self)):  # type: ignore[arg-type]
            if f.name in ("sources", "notes"):
                continue
            value = getattr(self, f.name)
            if value is None or (isinstance(value, tuple | dict) and not value):
                continue
            rows.append((f.name, _display(value, quote_strings=quote_strings)))
        return rows

    def __repr__(self) -> str:
        """Compact and readable: quantities in convenient units, sub-parts by name."""
        body = ", ".join(f"{k}={v}" for k, v in self._summary_rows(quote_strings=True))
        return f"{type(self).__name__}({body})"

    def summary(self) -> str:
        """A short human-readable table of the part's fields in convenient units."""
        rows = self._summary_rows()
        width = max((len(k) for k, _ in rows), default=0)
        head = f"{type(self).__name__} {getattr(self, 'name', '')}".strip()
        return "\n".join([head] + [f"  {k:<{width}}  {v}" for k, v in rows])

    def _repr_html_(self) -> str:
        """HTML table for notebooks: field, value and the value's source."""
        sources = getattr(self, "sources", {}) or {}
        head = html.escape(f"{type(self).__name__} {getattr(self, 'name', '')}".strip())
        rows = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(v)}</td>"
            f"<td>{html.escape(sources.get(k, ''))}</td></tr>"
            for k, v in self._summary_rows()
        )
        notes = getattr(self, "notes", "")
        foot = f"<p>{html.escape(notes)}</p>" if notes else ""
        return (
            f"<p><b>{head}</b></p><table><thead><tr><th>field</th><th>value</th>"
            f"<th>source</th></tr></thead><tbody>{rows}</tbody></table>{foot}"
        )


def _display(value: Any, *, quote_strings: bool = False) -> str:
    """A field value as short text: parts by name, quantities in convenient units."""
    if isinstance(value, Spec):
        name = getattr(value, "name", type(value).__name__)
        return repr(name) if quote_strings else str(name)
    if isinstance(value, pint.Quantity):
        return format_quantity(value)
    if isinstance(value, enum.Enum):
        return repr(value.value) if quote_strings else str(value.value)
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{k.value if isinstance(k, enum.Enum) else k}: {_display(v)}" for k, v in value.items()
        )
        return "{" + inner + "}" if quote_strings else inner
    if isinstance(value, str) and quote_strings:
        return repr(value)
    return str(value)


def _to_plain(value: Any) -> Any:
    if isinstance(value, Spec):
        return value.to_dict()
    if isinstance(value, pint.Quantity):
        return _q_to_text(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {
            str(k.value if isinstance(k, enum.Enum) else k): _to_plain(v) for k, v in value.items()
        }
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


def canonical_unit_text(unit: str) -> str:
    """Canonical unit of ``unit`` as text, e.g. ``'B/s'`` for ``'TB/s'``."""
    return CANONICAL[_canonical_key(unit)]
