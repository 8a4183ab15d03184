"""Validation against published measurements: the measured cases and the tools that use them.

``data/public_cases.json`` (shipped with the package) holds published,
measured training and inference results, each with the configuration needed
to predict it and its source.  :func:`load_cases` reads them;
:mod:`blackwell_model.validation.training` maps every training case to
model, cluster and layout inputs and compares predictions with the
measurements; :mod:`blackwell_model.validation.calibrate` fits the few global
efficiency parameters of the training model to them
(``python -m blackwell_model.validation.calibrate``).

Examples
--------
>>> from blackwell_model.validation import load_cases
>>> cases = load_cases()
>>> len(cases) >= 100, cases[0]["id"]
(True, 'A100-NARAYANAN-1.7B')
>>> len(load_cases(phase="train")) < len(cases)
True
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from ..errors import SpecError

__all__ = [
    "CASES_FILE",
    "ExcludedCase",
    "TrainingCase",
    "TrainingRow",
    "ValidationTable",
    "case_by_id",
    "load_cases",
    "training_cases",
    "validation_table",
]

#: File name of the measured cases inside ``blackwell_model/validation/data``.
CASES_FILE = "public_cases.json"


@functools.cache
def _raw() -> tuple[dict[str, Any], ...]:
    text = resources.files(__package__).joinpath("data", CASES_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, list):
        raise SpecError(f"{CASES_FILE} must hold a JSON list of cases, got {type(data).__name__}")
    return tuple(data)


def load_cases(phase: str | None = None) -> list[dict[str, Any]]:
    """The published measured cases, as plain dicts (copies; safe to modify).

    Parameters
    ----------
    phase
        Keep only cases whose ``phase`` starts with this text (``"train"``,
        ``"finetune"``, ``"infer"``, ``"finetune-SFT"``); all cases when None.

    Returns
    -------
    list of dict
        One dict per case with the fields described in
        ``blackwell_model/validation/data/README.md`` (``id``, ``phase``,
        ``hw``, ``gpus``, ``model``, ``arch_detail``, ``seq``, ``gbs``, ``mbs``,
        ``tp``, ``pp``, ``cp``, ``ep``, ``vp``, ``dp``, ``recompute``,
        ``precision``, ``measured``, ``derived``, ``source``, ...).
    """
    cases = [copy.deepcopy(c) for c in _raw()]
    if phase is None:
        return cases
    return [c for c in cases if str(c.get("phase", "")).startswith(phase)]


def case_by_id(case_id: str) -> dict[str, Any]:
    """The raw case with id ``case_id``.

    Raises
    ------
    UnknownNameError
        If no case has that id (the message lists the close matches).
    """
    for c in _raw():
        if c.get("id") == case_id:
            return copy.deepcopy(c)
    from ..errors import UnknownNameError

    raise UnknownNameError("validation case", case_id, [str(c.get("id")) for c in _raw()])


from .training import (  # noqa: E402 - load_cases must exist before training imports it
    ExcludedCase,
    TrainingCase,
    TrainingRow,
    ValidationTable,
    training_cases,
    validation_table,
)
