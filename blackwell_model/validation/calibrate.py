"""Calibration of the training model's global efficiency parameters against the public cases.

:func:`calibrate` fits a few *global, physical* parameters of
:class:`~blackwell_model.solvers.training.TrainingEfficiency` to the measured
training cases of :func:`~blackwell_model.validation.training.training_cases`
by a deterministic coordinate search on fixed grids: starting from the shipped
defaults, each parameter in turn takes the grid value that minimises the
objective with the others held, and the sweep repeats until nothing changes
(or :data:`MAX_SWEEPS`).  The objective is the mean absolute log error of the
predicted tokens per second per GPU,

.. math:: J = \\frac{1}{n} \\sum_i \\left| \\ln \\frac{\\hat{y}_i}{y_i} \\right|,

which weighs over- and under-prediction alike and, unlike the median, moves
with every case.  No parameter is per case, per model or per hardware
generation.

Run ``python -m blackwell_model.validation.calibrate`` to print the fitted
values, the comparison with the shipped defaults and the validation table.
The shipped defaults (:data:`~blackwell_model.solvers.training.CALIBRATED_ROOFLINE`
and the :class:`TrainingEfficiency` field defaults) are the result of this
command; a slow test checks that they are reproduced.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..errors import SpecError
from ..solvers._efficiency import Efficiency
from ..solvers.training import TE_GROUPED_GEMM_GROUP_S, TrainingEfficiency
from .training import TrainingCase, ValidationTable, training_cases, validation_table

__all__ = [
    "GRIDS",
    "GROUPS",
    "LINKED",
    "LOGO_FILE",
    "MAX_SWEEPS",
    "PRIOR",
    "CalibrationReport",
    "calibrate",
    "get_parameter",
    "leave_one_group_out",
    "load_logo",
    "main",
    "mean_abs_log_error",
    "set_parameter",
]

#: Search grid of every calibrated parameter (``roofline.`` fields live on the
#: :class:`~blackwell_model.solvers.Efficiency`).  The grid step is the
#: resolution of the calibration.
GRIDS: dict[str, tuple[float, ...]] = {
    "roofline.gemm_max": tuple(round(0.50 + 0.02 * i, 2) for i in range(21)),
    "roofline.attention": tuple(round(0.15 + 0.05 * i, 2) for i in range(14)),
    "roofline.overhead_s": tuple(round(1e-6 * i, 9) for i in range(0, 31, 2)),
    "low_precision_gemm_fraction": tuple(round(0.05 * i, 2) for i in range(21)),
    "tp_overlap": tuple(round(0.1 * i, 1) for i in range(11)),
    "dp_overlap": tuple(round(0.1 * i, 1) for i in range(11)),
}

#: Parameters set together with a calibrated one: name -> (linked name, ratio).
#: The attention backward efficiency follows the forward one with the ratio of
#: the documented priors (0.40 / 0.55: FlashAttention's backward kernel runs
#: below its forward, and its score recomputation is absorbed here); fitting
#: them apart lets the fit trade one against the other without physics.
LINKED: dict[str, tuple[str, float]] = {
    "roofline.attention": ("roofline.attention_backward", 0.40 / 0.55),
}

#: Where the search starts: the documented priors (the
#: :class:`~blackwell_model.solvers.Efficiency` defaults, every layer GEMM at the
#: FP8 rate, half the TP and 90 % of the DP communication hidden).
PRIOR = TrainingEfficiency(
    roofline=Efficiency(group_overhead_s=TE_GROUPED_GEMM_GROUP_S),
    low_precision_gemm_fraction=1.0,
    tp_overlap=0.5,
    dp_overlap=0.9,
)

#: Most coordinate sweeps before the search stops.
MAX_SWEEPS = 8


def get_parameter(eff: TrainingEfficiency, name: str) -> float:
    """Value of parameter ``name`` (``"tp_overlap"``, ``"roofline.gemm_max"``) of ``eff``."""
    obj: Any = eff
    for part in name.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"parameter must name a TrainingEfficiency field, got {name!r}")
        obj = getattr(obj, part)
    return float(obj)


def set_parameter(eff: TrainingEfficiency, name: str, value: float) -> TrainingEfficiency:
    """``eff`` with parameter ``name`` set to ``value`` (and its :data:`LINKED` one)."""
    out = _set(eff, name, value)
    if name in LINKED:
        other, ratio = LINKED[name]
        out = _set(out, other, round(value * ratio, 4))
    return out


def _set(eff: TrainingEfficiency, name: str, value: float) -> TrainingEfficiency:
    head, _, rest = name.partition(".")
    if not hasattr(eff, head):
        raise SpecError(f"parameter must name a TrainingEfficiency field, got {name!r}")
    if rest:
        inner = getattr(eff, head)
        if not hasattr(inner, rest):
            raise SpecError(f"parameter must name a TrainingEfficiency field, got {name!r}")
        return attrs.evolve(eff, **{head: attrs.evolve(inner, **{rest: value})})  # type: ignore[arg-type]
    return attrs.evolve(eff, **{head: value})  # type: ignore[arg-type]


def mean_abs_log_error(table: ValidationTable) -> float:
    """The objective: mean of :math:`|\\ln(\\hat{y}/y)|` over the rows."""
    return sum(abs(math.log(r.predicted / r.measured)) for r in table.rows) / len(table.rows)


@attrs.frozen(kw_only=True)
class CalibrationReport:
    """What :func:`calibrate` found.

    Parameters
    ----------
    values
        Calibrated parameter -> value.
    start
        Parameter -> value the search started from.
    objective
        Mean absolute log error at the result.
    start_objective
        The same at the start.
    sweeps
        Coordinate sweeps run.
    table
        :class:`~blackwell_model.validation.training.ValidationTable` at the
        result.
    """

    values: dict[str, float]
    start: dict[str, float]
    objective: float
    start_objective: float
    sweeps: int
    table: ValidationTable

    def format(self) -> str:
        """Plain-text report: parameters, objective and the table."""
        lines = ["parameter                          start   calibrated"]
        for k, v in self.values.items():
            lines.append(f"{k:<32} {self.start[k]:>8.3g} {v:>10.3g}")
        lines.append(
            f"objective (mean |ln error|): {self.start_objective:.4f} -> {self.objective:.4f} "
            f"in {self.sweeps} sweep(s)"
        )
        lines.append("")
        lines.append(self.table.format())
        return "\n".join(lines)


def calibrate(
    cases: Sequence[TrainingCase] | None = None,
    *,
    start: TrainingEfficiency | None = None,
    grids: dict[str, Sequence[float]] | None = None,
    max_sweeps: int = MAX_SWEEPS,
    progress: Callable[[str], None] | None = None,
) -> tuple[TrainingEfficiency, CalibrationReport]:
    """Fit the global efficiency parameters to the measured training cases.

    Parameters
    ----------
    cases
        Cases to fit (default: every predictable case of
        :func:`~blackwell_model.validation.training.training_cases`).
    start
        Starting point (default :data:`PRIOR`, the documented priors).
    grids
        Parameter -> grid of values (default :data:`GRIDS`).
    max_sweeps
        Most coordinate sweeps.
    progress
        Called with a line of text after each parameter update (e.g. ``print``).

    Returns
    -------
    (TrainingEfficiency, CalibrationReport)
        The fitted efficiency and the report.

    Raises
    ------
    SpecError
        If a grid is empty or names an unknown parameter.
    """
    if cases is None:
        cases, _ = training_cases()
    cases = list(cases)
    grids = dict(GRIDS if grids is None else grids)
    eff = start or PRIOR
    for name, grid in grids.items():
        if not grid:
            raise SpecError(f"grid of {name!r} must hold at least one value, got {grid!r}")
        get_parameter(eff, name)
    cache: dict[tuple[float, ...], float] = {}

    def key(e: TrainingEfficiency) -> tuple[float, ...]:
        return tuple(get_parameter(e, n) for n in grids)

    def objective(e: TrainingEfficiency) -> float:
        k = key(e)
        if k not in cache:
            cache[k] = mean_abs_log_error(validation_table(e, cases=cases))
        return cache[k]

    start_values = {n: get_parameter(eff, n) for n in grids}
    start_obj = objective(eff)
    best = start_obj
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        changed = False
        for name, grid in grids.items():
            current = get_parameter(eff, name)
            choice = current
            for value in grid:
                obj = objective(set_parameter(eff, name, value))
                # strict improvement beyond rounding; ties keep the current value
                if obj < best - 1e-12:
                    best, choice = obj, value
            if choice != current:
                eff = set_parameter(eff, name, choice)
                changed = True
                if progress is not None:
                    progress(f"sweep {sweeps}: {name} = {choice:g} (objective {best:.4f})")
        if not changed:
            break
    table = validation_table(eff, cases=cases)
    report = CalibrationReport(
        values={n: get_parameter(eff, n) for n in grids},
        start=start_values,
        objective=best,
        start_objective=start_obj,
        sweeps=sweeps,
        table=table,
    )
    return eff, report


#: Held-out groups of the leave-one-group-out check: name -> (description,
#: predicate on a :class:`~blackwell_model.validation.training.TrainingCase`).
GROUPS: dict[str, tuple[str, Callable[[TrainingCase], bool]]] = {
    "blackwell": (
        "B200 and GB200 (fit on A100 and H100)",
        lambda c: c.system in ("DGX-B200", "GB200-NVL72"),
    ),
    "a100": ("A100 (fit on H100, B200 and GB200)", lambda c: c.system == "DGX-A100"),
    "moe": ("MoE models (fit on dense models)", lambda c: bool(c.model.is_moe)),
}

#: File (in ``blackwell_model/validation/data``) holding the last
#: leave-one-group-out result, written by ``--logo``.
LOGO_FILE = "logo.json"


def leave_one_group_out(
    groups: Sequence[str] | None = None,
    *,
    cases: Sequence[TrainingCase] | None = None,
    max_sweeps: int = MAX_SWEEPS,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, float | str]]:
    """Calibrate without each group and predict the group with that fit.

    For every group of :data:`GROUPS` the global parameters are fitted on the
    other cases only and the held-out cases are predicted with that fit; the
    same cases predicted with the fit on every case (the shipped defaults)
    give the in-sample figures beside them.

    Returns
    -------
    list of dict
        One record per group: ``group``, ``description``, ``cases``,
        ``median_in_sample``, ``median_held_out``, ``bias_in_sample``,
        ``bias_held_out`` (fractions) and the held-out fit's parameter values.
    """
    if cases is None:
        cases, _ = training_cases()
    cases = list(cases)
    names = list(GROUPS) if groups is None else list(groups)
    for name in names:
        if name not in GROUPS:
            raise SpecError(f"group must be one of {', '.join(GROUPS)}, got {name!r}")
    full = validation_table(cases=cases)
    out: list[dict[str, float | str]] = []
    for name in names:
        desc, pred = GROUPS[name]
        held = [c for c in cases if pred(c)]
        rest = [c for c in cases if not pred(c)]
        if progress is not None:
            progress(f"fit without {name} ({len(rest)} cases), predict {len(held)}")
        eff, _ = calibrate(rest, max_sweeps=max_sweeps)
        held_ids = {c.id for c in held}

        def in_group(row: Any, ids: set[str] = held_ids) -> bool:
            return row.id in ids

        inside = full.subset(in_group)
        outside = validation_table(eff, cases=held)
        rec: dict[str, float | str] = {
            "group": name,
            "description": desc,
            "cases": float(len(held)),
            "median_in_sample": inside.median_abs_error,
            "median_held_out": outside.median_abs_error,
            "bias_in_sample": inside.bias,
            "bias_held_out": outside.bias,
        }
        for key in GRIDS:
            rec[key] = get_parameter(eff, key)
        out.append(rec)
    return out


def load_logo() -> list[dict[str, Any]]:
    """The stored leave-one-group-out records (see :func:`leave_one_group_out`)."""
    import json
    from importlib import resources

    text = resources.files("blackwell_model.validation").joinpath("data", LOGO_FILE)
    return list(json.loads(text.read_text(encoding="utf-8")))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m blackwell_model.validation.calibrate [--quiet] [--logo [PATH]]``.

    ``--logo`` runs :func:`leave_one_group_out` instead and writes its records
    as JSON to ``PATH`` (default: the shipped ``data/logo.json``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    quiet = "--quiet" in args
    if "--logo" in args:
        import json
        from pathlib import Path

        i = args.index("--logo")
        path = (
            Path(args[i + 1])
            if i + 1 < len(args) and not args[i + 1].startswith("--")
            else Path(__file__).with_name("data") / LOGO_FILE
        )
        records = leave_one_group_out(progress=None if quiet else print)
        path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        for r in records:
            print(
                f"{r['group']:<10} {int(float(r['cases'])):>3} cases: median "
                f"{float(r['median_in_sample']):.1%} in sample, "
                f"{float(r['median_held_out']):.1%} held out; bias "
                f"{float(r['bias_in_sample']):+.1%} / {float(r['bias_held_out']):+.1%}"
            )
        return 0
    _, report = calibrate(progress=None if quiet else print)
    print(report.format())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
