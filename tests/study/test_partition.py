"""Multi-tenant partitions: placement rules, lines that add up, fabric sharing, ranking."""

from __future__ import annotations

import pytest

import blackwell_model as bm
from blackwell_model.errors import InfeasibleLayoutError, SpecError
from blackwell_model.solvers.energy import cluster_power
from blackwell_model.study.partition import (
    ServingTenant,
    TrainingTenant,
    partition,
    rank_partitions,
    scale_out_demand_Bps,
)

RACK = bm.catalog.cluster("GB200-NVL72", gpus=72)
TUNE = bm.Layout(tp=4, dp=8, micro_batch=1, global_batch=64, seq_len=4096)


def _serve(gpus: int, tp: int = 4, **kw) -> ServingTenant:
    return ServingTenant(
        model="llama3-8b", layout=bm.InferenceLayout(tp=tp), gpus=gpus, input_tokens=1000,
        output_tokens=200, **kw,
    )  # fmt: skip


def test_lines_add_up_to_the_rack() -> None:
    plan = partition(
        RACK,
        {"tune": TrainingTenant(model="llama3-8b", gpus=32, layout=TUNE), "chat": _serve(16)},
        pricing=bm.Pricing(gpu_hour_price="3 USD/h"),
    )
    assert sum(v.gpus for v in plan.lines.values()) == 72
    assert plan.idle_gpus == 24
    assert plan.power_W == pytest.approx(sum(v.power_W for v in plan.lines.values()))
    # physical bounds: between the rack all idle and the rack at full load (with PUE)
    full = cluster_power(RACK)
    idle_floor = 72 * full.idle_W * full.pue
    assert idle_floor < plan.power_W < full.max_it_power_W() * full.pue
    # rental cost adds up: 72 GPU-hours at $3 (idle GPUs are paid for too)
    assert plan.cost_per_hour == pytest.approx(72 * 3.0)
    assert plan.lines["tune"].placement == {0: 32}
    assert plan.tokens_per_second == pytest.approx(
        plan.lines["tune"].effective_tokens_per_second + plan.lines["chat"].tokens_per_second
    )
    text = plan.summary()
    assert "tune" in text and "idle" in text and "total" in text


def test_serving_load_picks_the_smallest_batch_that_meets_it() -> None:
    light = partition(RACK, {"chat": _serve(8, requests_per_second=1.0)}).lines["chat"]
    heavy = partition(RACK, {"chat": _serve(8)}).lines["chat"]
    assert light.load is not None and light.load < 1.0
    assert light.tokens_per_second >= 1.0 * 200  # meets the offered load
    assert light.report.batch <= heavy.report.batch
    assert heavy.load is None


def test_placement_rules() -> None:
    with pytest.raises(InfeasibleLayoutError, match="whole number of 4-GPU nodes"):
        partition(RACK, {"chat": _serve(6, tp=2)})
    with pytest.raises(InfeasibleLayoutError, match="has only"):
        partition(RACK, {"a": _serve(40), "b": _serve(40)})
    two = bm.catalog.cluster("GB200-NVL72", gpus=144)
    # 108 GPUs take a whole rack and 36 of the next: fine for tp=4 ...
    plan = partition(two, {"chat": _serve(108)})
    assert plan.lines["chat"].placement == {0: 72, 1: 36}
    # a TP group never leaves its domain: tp=16 does not fit 8-GPU servers
    dgx = bm.catalog.cluster("DGX-H100", gpus=32)
    lay = bm.Layout(tp=16, dp=2, micro_batch=1, global_batch=64, seq_len=2048)
    with pytest.raises(InfeasibleLayoutError, match="larger than the 8-GPU scale-up domain"):
        partition(dgx, {"tune": TrainingTenant(model="llama3-70b", gpus=32, layout=lay)})
    with pytest.raises(SpecError, match="reserved"):
        partition(RACK, {"idle": _serve(8)})
    with pytest.raises(SpecError, match="needs a layout or a search"):
        TrainingTenant(model="llama3-8b", gpus=8)
    with pytest.raises(SpecError, match="layout uses 32 GPUs but the tenant has gpus=8"):
        TrainingTenant(model="llama3-8b", gpus=8, layout=TUNE)
    with pytest.raises(SpecError, match="multiple of the layout's 4 GPUs"):
        _serve(6)


def test_demand_is_zero_inside_a_domain_and_by_hand_across() -> None:
    model = bm.catalog.model("llama3-8b")
    inside = bm.Layout(tp=4, dp=18, global_batch=72, seq_len=4096)
    assert scale_out_demand_Bps(model, inside, 1.0, 72) == 0.0
    across = bm.Layout(tp=8, dp=18, global_batch=144, seq_len=4096)
    by_hand = 2 * 2 * model.total_params / 8 * 17 / 18
    assert scale_out_demand_Bps(model, across, 2.0, 72) == pytest.approx(by_hand / 2.0)


def test_oversubscribed_fabric_slows_tenants_that_share_it() -> None:
    lay = bm.Layout(tp=4, dp=36, micro_batch=1, global_batch=144, seq_len=2048)
    jobs = {
        "a": TrainingTenant(model="llama3-8b", gpus=144, layout=lay),
        "b": TrainingTenant(model="llama3-8b", gpus=144, layout=lay),
    }
    free = bm.catalog.cluster("GB200-NVL72", gpus=288)
    shared = bm.catalog.cluster("GB200-NVL72", gpus=288, oversubscription=4.0)
    p_free = partition(free, jobs)
    p_shared = partition(shared, jobs)
    assert p_free.lines["a"].interference == 1.0  # non-blocking: nobody waits
    assert p_shared.lines["a"].interference > 1.0
    assert p_shared.lines["a"].report.step_time.m >= p_free.lines["a"].report.step_time.m
    alone = partition(shared, {"a": jobs["a"]})
    assert alone.lines["a"].interference == 1.0


def test_rank_partitions_by_objective() -> None:
    cands = {
        "8": {"chat": _serve(8)},
        "72": {"chat": _serve(72)},
        "bad": {"chat": _serve(6, tp=2)},
    }
    ranked = rank_partitions(RACK, cands)
    assert [label for label, _ in ranked] == ["72", "8", "bad"]
    assert isinstance(ranked[-1][1], InfeasibleLayoutError)
    # energy per token: the full rack amortises the shared switches and idle GPUs
    by_energy = rank_partitions(RACK, cands, objective="energy")
    assert by_energy[0][0] == "72"
    with pytest.raises(SpecError, match="needs a pricing"):
        rank_partitions(RACK, {"x": {"chat": _serve(8)}}, objective="cost")
    with pytest.raises(SpecError, match="objective must be one of"):
        rank_partitions(RACK, cands, objective="speed")
    custom = rank_partitions(RACK, [cands["8"], cands["72"]], objective=lambda r: -r.power_W)
    assert custom[0][0] == "0"
