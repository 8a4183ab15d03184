"""Exceptions raised by blackwell_model.

Every exception derives from :class:`BlackwellModelError` and from the builtin
that fits it best, so ``except ValueError`` keeps working for callers that do
not know this library.  Messages name the field, the expected unit or range and
the value that was given.  The one exception is :class:`Interrupted`, a
:class:`KeyboardInterrupt` (Ctrl-C must never be swallowed by ``except
Exception``) that carries the partial result of the interrupted work.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BlackwellModelError",
    "InfeasibleLayoutError",
    "Interrupted",
    "SpecError",
    "SpecFileError",
    "SpecTypeError",
    "TopologyError",
    "UnitMismatchError",
    "UnknownNameError",
    "UnsupportedPrecisionError",
    "with_context",
]


class BlackwellModelError(Exception):
    """Base class of every error raised by blackwell_model."""


class SpecError(BlackwellModelError, ValueError):
    """A value is out of range, inconsistent with another field, or malformed."""


class SpecTypeError(SpecError, TypeError):
    """A value or argument has the wrong type (text where a Layout is needed, a string
    for a flag...).  Both ``except ValueError`` and ``except TypeError`` catch it."""


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
    context
        Where the name was given, put before the message (e.g.
        ``"parts.toml: Node 'n': nic: "``).
    """

    def __init__(
        self, kind: str, name: str, candidates: Sequence[str] = (), *, context: str = ""
    ) -> None:
        import difflib

        self.kind = kind
        self.name = name
        self.context = context
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
        self.message = context + msg
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


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a long computation; ``partial`` holds what was finished, or None.

    A :class:`KeyboardInterrupt`, so ``except Exception`` does not swallow it.

    Parameters
    ----------
    message
        What was interrupted, e.g. ``"search interrupted after 12,288 of 72,576
        candidates"``.
    partial
        The result of the work done so far (e.g. a
        :class:`~blackwell_model.study.SearchResult` of the candidates
        evaluated), or None.
    """

    def __init__(self, message: str = "interrupted", partial: object = None) -> None:
        self.message = message
        self.partial = partial
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


def with_context(exc: BlackwellModelError, prefix: str) -> BlackwellModelError:
    """A copy of ``exc`` (same type, same fields) whose message starts with ``prefix``.

    Used to say where a bad value came from (file, entry, field) without
    losing the error's type: ``with_context(err, "parts.toml: ")``.
    """
    if isinstance(exc, UnknownNameError):
        return UnknownNameError(exc.kind, exc.name, exc.candidates, context=prefix + exc.context)
    if isinstance(exc, InfeasibleLayoutError):
        return InfeasibleLayoutError(exc.rule, prefix + exc.message)
    return type(exc)(prefix + str(exc))
