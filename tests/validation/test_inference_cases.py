"""Inference predictions against the published TensorRT-LLM measurements.

Acceptance (issue "Inference prediction"): median |error| <= 15 % over the
public static-batch throughput and time-to-first-token cases; no case off by
more than 40 %.  The calibration that sets the defaults is reproducible.
"""

from __future__ import annotations

import pytest

from blackwell_model.solvers.serving import InferenceEfficiency
from blackwell_model.validation.inference import (
    calibrate_inference,
    evaluate_inference,
    inference_cases,
    inference_table_rst,
    median_abs_error,
)

pytestmark = pytest.mark.validation

CASES = inference_cases()


@pytest.fixture(scope="module")
def results() -> dict[str, float]:
    return {r.case.id: r.error for r in evaluate_inference(CASES)}


def test_every_public_inference_case_is_mapped() -> None:
    assert len(CASES) == 19
    assert sum(c.metric == "ttft" for c in CASES) == 6
    assert all(c.measured > 0 for c in CASES)


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_case_within_bound(results: dict[str, float], case_id: str) -> None:
    assert abs(results[case_id]) <= 0.40, f"{case_id}: error {results[case_id]:+.1%}"


def test_median_error_at_most_15_percent() -> None:
    res = evaluate_inference(CASES)
    assert median_abs_error(res) <= 0.15


def test_table_lists_every_case() -> None:
    text = inference_table_rst()
    assert all(c.id in text for c in CASES)
    assert "Median" in text


@pytest.mark.slow
def test_calibration_reproduces_the_defaults() -> None:
    fit = calibrate_inference(CASES)
    defaults = InferenceEfficiency()
    for name, value in fit.fitted.items():
        assert getattr(defaults, name) == pytest.approx(value), name
