"""Training GEMMs at 8 bits or fewer run under the generation's published ceilings."""

from __future__ import annotations

import pytest

import blackwell_model as bm
from blackwell_model.solvers.serving_params import NO_GEMM_CEILINGS
from blackwell_model.solvers.training import TrainingEfficiency

LAYOUT = bm.Layout(tp=8, dp=1, global_batch=8, seq_len=4096, precision="fp8")


def _step(system: str, eff: TrainingEfficiency | None = None) -> float:
    cluster = bm.catalog.cluster(system, gpus=8)
    return float(bm.predict_training("llama3-8b", cluster, LAYOUT, efficiency=eff).step_time.m)


def test_blackwell_fp8_gemms_run_below_the_bf16_ceiling():
    """FP8 0.58 of its peak is below gemm_max 0.72: the Blackwell step is slower with the
    published ceilings than without; Hopper has none, so nothing changes there."""
    none = TrainingEfficiency(gemm_ceilings=NO_GEMM_CEILINGS)
    assert _step("DGX-B200") > _step("DGX-B200", none)
    assert _step("DGX-H100") == _step("DGX-H100", none)


def test_gemm_ceilings_type_is_checked():
    with pytest.raises(bm.errors.SpecError, match="gemm_ceilings"):
        TrainingEfficiency(gemm_ceilings=0.5)  # type: ignore[arg-type]
