"""Bad arguments to the fleet, reliability, trust and sizing APIs give the library's own
errors naming the argument (found by fuzzing the public functions after the merges)."""

from __future__ import annotations

import pytest

import blackwell_model as bm
from blackwell_model.errors import BlackwellModelError

H100x16 = bm.catalog.cluster("DGX-H100", gpus=16)
H100x8 = bm.catalog.cluster("DGX-H100", gpus=8)


@pytest.mark.parametrize("gpus", ["x", float("nan"), float("inf"), [], 0, -3, 2**40])
def test_plan_fleet_gpus(gpus):
    with pytest.raises(BlackwellModelError, match="gpus"):
        bm.plan_fleet("GB200-NVL72", gpus=gpus)


@pytest.mark.parametrize("parameters", [1e30, 2**70, -1.0, float("nan")])
def test_job_goodput_parameters(parameters):
    with pytest.raises(BlackwellModelError, match="parameters"):
        bm.job_goodput(H100x16, 16, parameters=parameters)


@pytest.mark.parametrize("level", ["x", None, [], 0.0, 1.0, float("nan")])
def test_interval_level(level):
    report = bm.predict_training(
        "llama3-8b", H100x16, bm.Layout(tp=8, dp=2, global_batch=16, seq_len=4096)
    )
    with pytest.raises(BlackwellModelError, match="level"):
        report.interval(level)


@pytest.mark.parametrize("rate", [float("inf"), float("nan"), 0, -2.0])
def test_size_deployment_request_rate(rate):
    with pytest.raises(BlackwellModelError, match="request_rate"):
        bm.size_deployment(
            "llama3-8b", [H100x8], request_rate=rate, input_tokens=100, output_tokens=100
        )
