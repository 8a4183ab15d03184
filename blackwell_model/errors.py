"""Exceptions raised by blackwell_model.

Every exception derives from :class:`BlackwellModelError` and from the builtin
that fits it best, so ``except ValueError`` keeps working for callers that do
not know this library.  Messages name the field, the expected unit or range and
the value that was given.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BlackwellModelError",
    "InfeasibleLayoutError",
    "SpecError",
    "SpecFileError",
    "TopologyError",
    "UnitMismatchError",
    "UnknownNameError",
    "UnsupportedPrecisionError",
]


class BlackwellModelError(Exception):
    """Base class of every error raised by blackwell_model."""


class SpecError(BlackwellModelError, ValueError):
    """A value is out of range, inconsistent with another field, or malformed."""


class UnsupportedPrecisionError(SpecError):
    """A part has no peak rate for the requested precision (e.g. FP8 on A100)."""


class SpecFileError(SpecError):
    """A TOML or dict description of a part is malformed or incomplete."""


class UnitMismatchError(BlackwellModelError, TypeError):
    """A quantity has the wrong physical dimension (e.g. bytes where B/s is needed)."""


class UnknownNameError(BlackwellModelError, KeyError):
    """A catalog name (or enum name) does not exist.

    Parameters
    ----------
    kind
        What was looked up, e.g. ``"accelerator"``.
    name
        The name that was given.
    candidates
        Every valid name; the closest ones are listed in the message.
    """

    def __init__(self, kind: str, name: str, candidates: Sequence[str] = ()) -> None:
        import difflib

        self.kind = kind
        self.name = name
        self.candidates = tuple(candidates)
        lowered = {c.lower(): c for c in self.candidates}
        close = [
            lowered[m]
            for m in difflib.get_close_matches(str(name).lower(), list(lowered), n=5, cutoff=0.5)
        ]
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        elif self.candidates:
            shown = ", ".join(repr(c) for c in self.candidates[:12])
            more = "" if len(self.candidates) <= 12 else f", ... ({len(self.candidates)} in all)"
            msg += f"; valid names: {shown}{more}"
        self.message = msg
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class InfeasibleLayoutError(BlackwellModelError, ValueError):
    """A parallel layout cannot run: it does not divide, or does not fit.

    Parameters
    ----------
    rule
        Short machine-readable name of the rule that failed (e.g. ``"memory"``,
        ``"tp_divides_heads"``); a layout search counts failures by rule.
    message
        Human-readable explanation with the numbers involved.
    """

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.message = message
        super().__init__(f"{message} [rule: {rule}]")


class TopologyError(BlackwellModelError, ValueError):
    """A topology cannot be built or queried (unknown device, fabric too small...)."""
