"""Checks of the trust tools on the shipped cases: interval coverage and calibration per generation.

``python -m blackwell_model.trust.check`` prints the leave-one-out coverage of
the prediction intervals (:func:`~blackwell_model.trust.leave_one_out_coverage`);
``--holdout`` runs :func:`generation_holdout` and writes its records to
``data/holdout.json`` (the table of ``docs/trust.rst``); ``--residuals``
rewrites the stored validation residuals
(:func:`~blackwell_model.trust.intervals.write_residuals`).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .calibration import calibrate
from .intervals import leave_one_out_coverage, write_residuals
from .measurements import TrainingMeasurement

__all__ = [
    "HOLDOUT_FILE",
    "HOLDOUT_GROUPS",
    "format_coverage",
    "generation_holdout",
    "holdout_table_rst",
    "load_holdout",
    "main",
]

#: Generations of the holdout study: name -> catalog systems of its training cases.
HOLDOUT_GROUPS: dict[str, tuple[str, ...]] = {
    "A100": ("DGX-A100",),
    "H100": ("DGX-H100",),
    "Blackwell": ("DGX-B200", "GB200-NVL72"),
}

#: File (in ``blackwell_model/trust/data``) holding the last holdout records.
HOLDOUT_FILE = "holdout.json"


def _measurement(case: Any) -> TrainingMeasurement:
    return TrainingMeasurement(
        model=case.model,
        layout=case.layout,
        metric="tokens_per_second_per_gpu",
        value=case.measured,
        cluster=case.cluster(),
        memory=case.memory,
        label=case.id,
    )


def generation_holdout(
    groups: Sequence[str] | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Calibrate on half of one generation's training cases, predict the other half.

    For each generation of :data:`HOLDOUT_GROUPS`, its dense and MoE training
    cases are sorted by id and split alternately into a fit half and a test
    half.  :func:`~blackwell_model.trust.calibrate` fits the end-to-end
    training parameters (``training.*``) to the fit half, starting from the
    shipped defaults, as a user would with their own runs; the test half is
    then predicted with the shipped defaults and with the calibration.

    Returns
    -------
    list of dict
        One record per generation: ``generation``, ``fit_cases``,
        ``test_cases``, ``fitted`` (parameter -> value), and the test half's
        ``median_default``, ``median_calibrated`` (median absolute error of
        tokens/s per GPU), ``bias_default`` and ``bias_calibrated`` (mean
        signed error).
    """
    from ..validation.training import training_cases, validation_table

    cases, _ = training_cases()
    names = list(HOLDOUT_GROUPS) if groups is None else list(groups)
    params = [
        "training.gemm_max",
        "training.attention",
        "training.low_precision_gemm_fraction",
        "training.tp_overlap",
        "training.dp_overlap",
        "training.overhead_s",
        "training.step_overhead_s",
    ]
    out = []
    for name in names:
        systems = HOLDOUT_GROUPS[name]
        mine = sorted((c for c in cases if c.system in systems), key=lambda c: c.id)
        fit, test = mine[0::2], mine[1::2]
        if progress is not None:
            progress(f"{name}: fit on {len(fit)} cases, test on {len(test)}")
        data = [_measurement(c) for c in fit]
        cal = calibrate(data, fit[0].cluster(), parameters=params)
        default = validation_table(cases=test)
        tuned = validation_table(cal.training, cases=test)
        out.append(
            {
                "generation": name,
                "fit_cases": len(fit),
                "test_cases": len(test),
                "fitted": dict(cal.fitted),
                "median_default": default.median_abs_error,
                "median_calibrated": tuned.median_abs_error,
                "bias_default": default.bias,
                "bias_calibrated": tuned.bias,
                "mean_default": statistics.fmean(default.abs_errors),
                "mean_calibrated": statistics.fmean(tuned.abs_errors),
            }
        )
    return out


def load_holdout() -> list[dict[str, Any]]:
    """The stored :func:`generation_holdout` records."""
    text = resources.files("blackwell_model.trust").joinpath("data", HOLDOUT_FILE)
    return list(json.loads(text.read_text("utf-8")))


def holdout_table_rst(records: Sequence[dict[str, Any]] | None = None) -> str:
    """The :func:`generation_holdout` records as the reST table of ``docs/trust.rst``."""
    records = load_holdout() if records is None else records
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - generation",
        "     - fit / test cases",
        "     - median, shipped defaults",
        "     - median, calibrated",
        "     - mean, shipped defaults",
        "     - mean, calibrated",
        "     - bias, shipped -> calibrated",
    ]
    for r in records:
        lines += [
            f"   * - {r['generation']}",
            f"     - {r['fit_cases']} / {r['test_cases']}",
            f"     - {r['median_default']:.1%}",
            f"     - {r['median_calibrated']:.1%}",
            f"     - {r['mean_default']:.1%}",
            f"     - {r['mean_calibrated']:.1%}",
            f"     - {r['bias_default']:+.1%} -> {r['bias_calibrated']:+.1%}",
        ]
    return "\n".join(lines) + "\n"


def format_coverage(level: float = 0.8) -> str:
    """The leave-one-out coverage table as text."""
    cov = leave_one_out_coverage(level)
    lines = [f"leave-one-out coverage of interval({level:g}) over the shipped cases"]
    for group, (inside, n) in cov.items():
        lines.append(f"  {group:<36} {inside:>3}/{n:<3} {inside / n:6.1%}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m blackwell_model.trust.check [--holdout [PATH]] [--residuals]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--residuals" in args:
        print(f"wrote {write_residuals()}")
    if "--holdout" in args:
        i = args.index("--holdout")
        path = (
            Path(args[i + 1])
            if i + 1 < len(args) and not args[i + 1].startswith("--")
            else Path(__file__).with_name("data") / HOLDOUT_FILE
        )
        records = generation_holdout(progress=print)
        path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        for r in records:
            print(
                f"{r['generation']:<10} fit {r['fit_cases']:>2}, test {r['test_cases']:>2}: median "
                f"{r['median_default']:.1%} -> {r['median_calibrated']:.1%}, bias "
                f"{r['bias_default']:+.1%} -> {r['bias_calibrated']:+.1%}"
            )
        return 0
    for level in (0.5, 0.8, 0.9):
        print(format_coverage(level))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
