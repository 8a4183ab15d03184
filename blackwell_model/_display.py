"""Notebook and scripting conveniences shared by the report classes.

A report mixes in :class:`Display` to get a one-line ``repr``, an HTML
rendering for Jupyter (``_repr_html_``) and ``to_frame()`` (a pandas DataFrame
when pandas is installed).  Each report says how it turns into text
(:meth:`Display._text`) and into records (:meth:`Display._records`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

__all__ = ["Display"]


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


class Display:
    """Mixin: readable ``repr``, ``_repr_html_`` and ``to_frame`` from text and records."""

    def _text(self) -> str:
        """The report as text (``summary()`` or ``format()``)."""
        summary = getattr(self, "summary", None)
        if callable(summary):
            text = summary()
            if isinstance(text, str):
                return text
        fmt = getattr(self, "format", None)
        if callable(fmt):
            return str(fmt())
        return object.__repr__(self)

    def _records(self) -> list[dict[str, Any]]:
        """Rows for :meth:`to_frame` (``to_records()`` or ``[to_dict()]``)."""
        to_records = getattr(self, "to_records", None)
        if callable(to_records):
            return [dict(r) for r in to_records()]
        to_dict = getattr(self, "to_dict", None)
        if callable(to_dict):
            return [to_dict()]
        raise TypeError(f"{type(self).__name__} has no records")

    def __repr__(self) -> str:
        first = self._text().strip().splitlines()[0] if self._text().strip() else ""
        return f"<{type(self).__name__}: {first}>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self._text())}</pre>"

    def to_frame(self) -> Any:
        """The report's rows as a :class:`pandas.DataFrame` (nested fields become ``a.b`` columns).

        Raises
        ------
        ImportError
            If pandas is not installed (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"{type(self).__name__}.to_frame() needs pandas: pip install pandas"
            ) from exc
        return pd.DataFrame([_flatten(r) for r in self._records()])
