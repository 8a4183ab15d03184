"""Checks shared by every public edge: flags, counts, names, text and argument types (private).

One function per kind of value, so that a flag, a count or a name is checked the
same way in a part's field (:mod:`blackwell_model._spec` builds its field helpers
on these), a solver's keyword argument and the command line.  Each raises an
error from :mod:`blackwell_model.errors` whose message names the field or
argument, what was expected and the value given.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .errors import SpecError, SpecFileError, SpecTypeError

__all__ = [
    "MAX_INT",
    "check_bool",
    "check_callable",
    "check_executor",
    "check_float",
    "check_instance",
    "check_int",
    "check_name",
    "check_text",
    "read_text_file",
]

T = TypeVar("T")

#: Largest integer any count field accepts (2**31 - 1).  Counts are multiplied
#: together in 64-bit arrays (``global_batch * seq_len`` tokens per step,
#: ``dp * micro_batch``): with every factor below 2**31 a product of two cannot
#: overflow, and every count is exact as a float.
MAX_INT = 2**31 - 1

_DECIMAL = re.compile(r"\s*[+-]?[0-9]{1,30}\s*")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'AEIOU' else 'a'} {noun}"


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a bool: True, False (numpy's too) or the text "true"/"false" (any case).

    Anything else (``"flase"``, ``"yes"``, 1, None) is refused: a truthy string
    must never switch a flag on.

    Raises
    ------
    SpecTypeError
        If ``value`` is not a flag.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ("true", "false"):
            return key == "true"
    raise SpecTypeError(f"{name} must be true or false, got {type(value).__name__} {_show(value)}")


def check_int(
    value: Any, name: str, *, minimum: int = 1, maximum: int = MAX_INT, text: bool = True
) -> int:
    """``value`` as an int in ``[minimum, maximum]``.

    Accepts Python and numpy integers, integral floats (``8.0``) and, with
    ``text`` (fields read from files), decimal text (``"8"``); refuses
    booleans, fractions, NaN and anything larger than ``maximum``
    (:data:`MAX_INT` by default), which would overflow 64-bit arithmetic
    downstream.

    Raises
    ------
    SpecTypeError
        If ``value`` is not an integer.
    SpecError
        If it lies outside the range.
    """
    out: int
    if isinstance(value, bool | np.bool_):
        raise SpecTypeError(f"{name} must be an integer, got the flag {value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise SpecError(f"{name} must be an integer, got {value!r}")
        out = int(value)
    elif text and isinstance(value, str) and _DECIMAL.fullmatch(value):
        out = int(value.strip())
    else:
        raise SpecTypeError(f"{name} must be an integer, got {type(value).__name__} {_show(value)}")
    if out < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}, got {out}")
    if out > maximum:
        raise SpecError(f"{name} must be an integer <= {maximum:,}, got {out:,}")
    return out


def check_float(value: Any, name: str) -> float:
    """``value`` as a finite float: a real number or decimal text, not a flag, NaN or infinity.

    Raises
    ------
    SpecTypeError
        If ``value`` is not a number.
    SpecError
        If it is NaN or infinite.
    """
    if isinstance(value, bool | np.bool_):
        raise SpecTypeError(f"{name} must be a number, got the flag {value!r}")
    if isinstance(value, numbers.Real):
        out = float(value)
    elif isinstance(value, str) and len(value) < 64:
        try:
            out = float(value.strip())
        except ValueError:
            raise SpecTypeError(f"{name} must be a number, got {_show(value)}") from None
    else:
        raise SpecTypeError(f"{name} must be a number, got {type(value).__name__} {_show(value)}")
    if not math.isfinite(out):
        raise SpecError(f"{name} must be a finite number, got {_show(value)}")
    return out


def check_text(value: Any, name: str, *, empty: bool = True) -> str:
    """``value`` if it is text without control characters (NUL, escapes, new lines...).

    Tabs are allowed; ``empty=False`` also refuses empty or blank text.

    Raises
    ------
    SpecTypeError
        If ``value`` is not a str.
    SpecError
        If it holds control characters, or is blank when ``empty`` is False.
    """
    if not isinstance(value, str):
        raise SpecTypeError(f"{name} must be text, got {type(value).__name__} {_show(value)}")
    bad = sorted({c for c in value if unicodedata.category(c) in ("Cc", "Cs") and c != "\t"})
    if bad:
        codes = ", ".join(f"U+{ord(c):04X}" for c in bad)
        raise SpecError(f"{name} must not contain control characters ({codes}), got {_show(value)}")
    if not empty and not value.strip():
        raise SpecError(f"{name} must be non-blank text, got {_show(value)}")
    return value


def check_name(value: Any, name: str = "name") -> str:
    """A part or model name: non-blank text, no control characters, no surrounding spaces.

    Names are looked up case-insensitively with surrounding spaces stripped,
    so ``" H100"`` could never be found again; it is refused.
    """
    text = check_text(value, name, empty=False)
    if text != text.strip():
        raise SpecError(f"{name} must not start or end with spaces, got {_show(value)}")
    return text


def check_instance(value: Any, types: type[T] | tuple[type, ...], name: str, what: str = "") -> T:
    """``value`` if it is an instance of ``types``, else a one-line :class:`SpecTypeError`.

    Parameters
    ----------
    value
        The argument.
    types
        Accepted class or classes.
    name
        Argument name for the message.
    what
        How to describe the accepted values (default: the class names).
    """
    if isinstance(value, types):
        return value  # type: ignore[return-value]
    if not what:
        classes = types if isinstance(types, tuple) else (types,)
        what = " or ".join(_a(c.__name__) for c in classes)
    raise SpecTypeError(f"{name} must be {what}, got {type(value).__name__} {_show(value)}")


def check_callable(value: Any, name: str) -> Callable[..., Any]:
    """``value`` if it can be called (a progress callback...), else :class:`SpecTypeError`."""
    if not callable(value):
        raise SpecTypeError(
            f"{name} must be a function (callable), got {type(value).__name__} {_show(value)}"
        )
    return value  # type: ignore[no-any-return]


def check_executor(value: Any, name: str = "executor") -> Any:
    """``value`` if it looks like a :class:`concurrent.futures.Executor` (has ``submit``)."""
    if not callable(getattr(value, "submit", None)):
        raise SpecTypeError(
            f"{name} must be a concurrent.futures.Executor (or anything with submit()), "
            f"got {type(value).__name__} {_show(value)}"
        )
    return value


def read_text_file(path: Any, name: str = "path", *, errors: str = "strict") -> tuple[str, Path]:
    """The UTF-8 text of the file at ``path`` (a byte-order mark dropped) and its Path.

    Raises
    ------
    SpecTypeError
        If ``path`` is not a str or os.PathLike.
    SpecFileError
        If the file cannot be read (missing, a directory, a NUL byte in the
        path...) or is not UTF-8 text; the message names the file.
    """
    if not isinstance(path, str | os.PathLike):
        raise SpecTypeError(
            f"{name} must be a file path (str or os.PathLike), got {type(path).__name__} "
            f"{_show(path)}"
        )
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SpecFileError(f"cannot read {p}: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise SpecFileError(f"cannot read {str(p)!r}: {exc}") from None
    try:
        text = data.decode("utf-8-sig", errors=errors)  # a leading BOM is not part of the text
    except UnicodeDecodeError as exc:
        raise SpecFileError(
            f"{p}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    if "\x00" in text:
        raise SpecFileError(f"{p}: holds a NUL byte (offset {text.index(chr(0))}); not a text file")
    return text, p
