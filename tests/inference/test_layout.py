"""InferenceLayout: GPU count, expert-parallel rules, validation messages, round trips."""

from __future__ import annotations

import attrs
import pytest

import blackwell_model as bm
from blackwell_model.errors import InfeasibleLayoutError, SpecError
from blackwell_model.parallel.inference import InferenceLayout


def test_gpus_and_expert_groups() -> None:
    assert InferenceLayout(tp=8).gpus == 8
    lay = InferenceLayout(tp=2, pp=2, dp=4, ep=8)
    assert lay.gpus == 2 * 2 * 4  # ep is carved out of tp*dp
    assert lay.etp == 1
    assert lay.attention_groups_per_ep == 4
    assert lay.replica_gpus == 4
    assert InferenceLayout(tp=4).etp == 4  # experts tensor-split like dense MLPs


def test_stage_layers_rounds_up() -> None:
    assert InferenceLayout(pp=3).stage_layers(80) == 27


@pytest.mark.parametrize("field", ["tp", "pp", "ep", "dp"])
def test_degrees_must_be_positive(field: str) -> None:
    with pytest.raises(SpecError, match=f"{field} must be an integer >= 1, got 0"):
        InferenceLayout(**{field: 0})


def test_evolve_and_dict_round_trip() -> None:
    lay = InferenceLayout(tp=4, dp=2)
    assert attrs.evolve(lay, tp=2).tp == 2
    assert InferenceLayout.from_dict(lay.to_dict()) == lay


@pytest.mark.parametrize(
    ("model", "layout", "rule"),
    [
        ("llama2-70b", InferenceLayout(tp=3), "tp_divides_heads"),
        ("llama2-70b", InferenceLayout(ep=2, dp=2), "ep_needs_moe"),
        ("mixtral-8x7b", InferenceLayout(tp=1, dp=3, ep=3), "ep_divides_experts"),
        ("mixtral-8x7b", InferenceLayout(tp=4, dp=1, ep=2), "ep_tp_dp"),
        ("mixtral-8x7b", InferenceLayout(tp=1, dp=2, ep=4), "ep_tp_dp"),
        ("llama2-7b", InferenceLayout(pp=33), "pp_layers"),
    ],
)
def test_layout_the_model_cannot_divide(model: str, layout: InferenceLayout, rule: str) -> None:
    with pytest.raises(InfeasibleLayoutError) as info:
        layout.check(bm.catalog.model(model))
    assert info.value.rule == rule


def test_more_gpus_than_the_cluster() -> None:
    with pytest.raises(InfeasibleLayoutError, match="16 GPUs but the cluster has 8") as info:
        InferenceLayout(tp=8, dp=2).check(bm.catalog.model("llama2-70b"), 8)
    assert info.value.rule == "gpus"


def test_valid_layouts_have_no_violations() -> None:
    assert InferenceLayout(tp=8).violations(bm.catalog.model("llama2-70b")) == []
    assert InferenceLayout(tp=1, dp=8, ep=8).violations(bm.catalog.model("deepseek-v3")) == []
