"""Predicted vs measured for every public training case (the issue's error bounds)."""

from __future__ import annotations

import itertools
import math

import pytest

from blackwell_model.solvers.training import CALIBRATED_ROOFLINE, TrainingEfficiency
from blackwell_model.validation import load_cases
from blackwell_model.validation.calibrate import (
    GRIDS,
    LINKED,
    calibrate,
    get_parameter,
    set_parameter,
)
from blackwell_model.validation.training import (
    DENSE_MEDIAN_BOUND,
    KNOWN_MEMORY_DEFECTS,
    KORTHIKANTI_MEAN_BOUND,
    MEDIAN_BOUND,
    MOE_BIAS_BOUND,
    MOE_MEDIAN_BOUND,
    MOE_PER_CASE_BOUND,
    PER_CASE_BOUND,
    WITHIN_20_BOUND,
    ValidationTable,
    training_cases,
    validation_table,
)

pytestmark = pytest.mark.validation

CASES, EXCLUDED = training_cases()


@pytest.fixture(scope="module")
def table() -> ValidationTable:
    return validation_table(cases=CASES)


@pytest.fixture(scope="module")
def rows(table: ValidationTable) -> dict[str, object]:
    return {r.id: r for r in table.rows}


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_case_within_bound(case_id: str, rows: dict[str, object]) -> None:
    row = rows[case_id]
    bound = MOE_PER_CASE_BOUND if row.moe else PER_CASE_BOUND
    assert abs(row.error) < bound, (
        f"{case_id}: predicted {row.predicted:.1f} vs measured {row.measured:.1f} tokens/s/GPU "
        f"({row.error:+.1%})"
    )


def test_every_published_layout_fits_but_the_listed_defects(table: ValidationTable) -> None:
    # predicted with the memory check on: a published layout that does not fit is a
    # model defect, listed (with its reason) in KNOWN_MEMORY_DEFECTS
    assert {r.id for r in table.not_fitting} == set(KNOWN_MEMORY_DEFECTS)
    for r in table.rows:
        if r.fits:
            assert r.memory_B <= r.capacity_B


def test_dense_accuracy_stays(table: ValidationTable) -> None:
    assert table.dense.median_abs_error <= DENSE_MEDIAN_BOUND


def test_moe_median_error(table: ValidationTable) -> None:
    moe = table.moe
    assert len(moe.rows) >= 12
    assert moe.median_abs_error <= MOE_MEDIAN_BOUND


def test_moe_sign_bias(table: ValidationTable) -> None:
    assert abs(table.moe.bias) <= MOE_BIAS_BOUND


def test_median_error(table: ValidationTable) -> None:
    assert table.median_abs_error <= MEDIAN_BOUND


def test_fraction_within_20_percent(table: ValidationTable) -> None:
    assert table.fraction_within(0.20) >= WITHIN_20_BOUND


def test_korthikanti_step_times(table: ValidationTable) -> None:
    korth = [r for r in table.rows if r.id.startswith("A100-KORTHIKANTI") and "2240" not in r.id]
    assert len(korth) == 8
    assert table.korthikanti_mean_step_error <= KORTHIKANTI_MEAN_BOUND


def test_every_training_case_is_predicted_or_excluded_with_a_reason() -> None:
    raw = {c["id"] for c in load_cases() if str(c["phase"]).startswith(("train", "finetune"))}
    predicted = {c.id for c in CASES}
    excluded = {e.id for e in EXCLUDED}
    assert predicted | excluded == raw
    assert not predicted & excluded
    assert all(len(e.reason) > 20 for e in EXCLUDED)
    # only the LoRA rows, the ZeRO-3 negative controls and the strong-scaling figure
    assert len(EXCLUDED) == 10
    assert len(CASES) == 98


def test_measured_conversions_match_the_sources_derived_figures() -> None:
    raw = {c["id"]: c for c in load_cases()}
    for case in CASES:
        derived = raw[case.id].get("derived") or {}
        tok = derived.get("tokens_per_s_per_GPU")
        if isinstance(tok, int | float):
            assert case.measured == pytest.approx(tok, rel=0.02), case.id


def test_cases_carry_their_assumptions() -> None:
    nar = next(c for c in CASES if c.id == "A100-NARAYANAN-1.7B")
    assert nar.layout.micro_batch == 1 and nar.layout.vpp == 1
    assert any("micro-batch" in a for a in nar.assumptions)
    assert nar.layout.recompute.value == "full" and nar.layout.precision.value == "fp16"
    assert not nar.memory.flash_attention
    fsdp = next(c for c in CASES if c.id == "DGX-GB200-25.04-LLAMA3-70B-64-FP8")
    assert fsdp.layout.zero == 3 and fsdp.layout.tp == fsdp.layout.pp == 1
    assert fsdp.system == "GB200-NVL72"


def test_shipped_defaults_are_the_calibrated_values() -> None:
    eff = TrainingEfficiency()
    assert eff.roofline == CALIBRATED_ROOFLINE
    for name in GRIDS:
        assert get_parameter(eff, name) in GRIDS[name], name
    for name, (other, ratio) in LINKED.items():
        assert get_parameter(eff, other) == pytest.approx(
            get_parameter(eff, name) * ratio, rel=1e-3
        )


def test_set_parameter_round_trips() -> None:
    eff = set_parameter(TrainingEfficiency(), "roofline.gemm_max", 0.6)
    assert get_parameter(eff, "roofline.gemm_max") == 0.6
    eff = set_parameter(eff, "tp_overlap", 0.3)
    assert eff.tp_overlap == 0.3


@pytest.mark.slow
def test_calibration_reproduces_the_shipped_defaults() -> None:
    eff, report = calibrate()
    shipped = TrainingEfficiency()
    for name, grid in GRIDS.items():
        step = min(abs(b - a) for a, b in itertools.pairwise(grid)) if len(grid) > 1 else 0
        got, want = get_parameter(eff, name), get_parameter(shipped, name)
        assert math.isclose(got, want, abs_tol=step + 1e-12), (name, got, want)
    assert report.objective <= report.start_objective


@pytest.mark.slow
def test_stored_leave_one_group_out_table_is_reproduced() -> None:
    from blackwell_model.validation.calibrate import leave_one_group_out, load_logo

    stored = {r["group"]: r for r in load_logo()}
    assert set(stored) == {"blackwell", "a100", "moe"}
    (fresh,) = leave_one_group_out(["moe"])
    for key in ("median_in_sample", "median_held_out", "bias_in_sample", "bias_held_out"):
        assert float(fresh[key]) == pytest.approx(float(stored["moe"][key]), abs=0.005), key
    # the MoE physics carries over from a fit on dense models only
    assert float(fresh["median_held_out"]) <= 0.20
