"""Layout search: hand-checked winners, consistency with predict_training, counts, errors."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import blackwell_model as bm
from blackwell_model.errors import InfeasibleLayoutError, SpecError, UnknownNameError
from blackwell_model.parallel import Layout, MemoryModel
from blackwell_model.predict.training import predict_training
from blackwell_model.study import (
    LAYOUT_KEYS,
    OBJECTIVES,
    SEARCH_RULES,
    SearchResult,
    candidate_arrays,
    search_layouts,
)

GB, SEQ = 64, 8192


@pytest.fixture(scope="module")
def llama8b():
    return bm.catalog.model("llama3-8b")


@pytest.fixture(scope="module")
def h100x16():
    return bm.catalog.cluster("DGX-H100", gpus=16)


@pytest.fixture(scope="module")
def result(llama8b, h100x16) -> SearchResult:
    return search_layouts(llama8b, h100x16, global_batch=GB, seq_len=SEQ, zero=(0, 1, 3))


def test_best_layout_matches_hand_reasoning(result, h100x16):
    best = result.layout(0)
    # 8B fits on one GPU with its optimizer sharded: no pipelining; tensor
    # parallelism (if any) stays inside the 8-GPU NVLink domain
    assert best.pp == 1
    assert best.tp <= h100x16.domain.gpus and h100x16.domain.gpus % best.tp == 0
    assert best.gpus == 16
    assert result.best is not None
    assert result.best.layout == best
    assert result.best.step_time.m == pytest.approx(result.columns["step_time_s"][0])
    assert result.best.fits


def test_every_row_uses_the_cluster_and_divides_the_batch(result):
    c = result.columns
    assert np.all(c["tp"] * c["cp"] * c["pp"] * c["dp"] == 16)
    assert np.all(GB % (c["dp"] * c["micro_batch"]) == 0)
    assert np.all(c["memory_B"] <= result.memory_capacity_B)
    assert np.all(np.diff(c["step_time_s"]) >= 0)  # ranked, fastest first


def test_rows_pass_layout_check_and_agree_with_predict_training(result, llama8b, h100x16):
    rows = list(range(len(result)))[:: max(1, len(result) // 40)]
    for i in rows:
        lay = result.layout(i)
        lay.check(llama8b, h100x16.gpus)
        report = predict_training(llama8b, h100x16, lay)
        assert report.step_time.m == pytest.approx(result.columns["step_time_s"][i], rel=1e-12)
        assert report.memory.total_B == pytest.approx(result.columns["memory_B"][i], rel=1e-12)
        assert report.mfu == pytest.approx(result.columns["mfu"][i], rel=1e-12)
        assert report.hfu == pytest.approx(result.columns["hfu"][i], rel=1e-12)
        for k, v in report.breakdown.items():
            assert v.m == pytest.approx(result.breakdown[k][i], rel=1e-12, abs=1e-15)


def test_breakdown_adds_up_to_step_time(result):
    total = sum(result.breakdown.values())
    np.testing.assert_allclose(total, result.columns["step_time_s"], rtol=1e-12)


def test_rule_counts_add_up(result):
    assert result.feasible == len(result)
    assert sum(result.rejected.values()) == result.enumerated - result.feasible
    assert set(result.rejected) <= set(SEARCH_RULES)
    assert set(result.reasons) == set(result.rejected)
    assert all(n > 0 for n in result.rejected.values())


def test_rejections_are_real(llama8b, h100x16, result):
    # each example message is the first-failing rule of some candidate
    assert "does not divide the 16 GPUs" in result.reasons["gpus_divide"]
    assert "needs pipeline parallelism" in result.reasons["vpp"]
    assert "per GPU" in result.reasons["memory"]
    assert result.min_memory_rejected_B > result.memory_capacity_B


def test_405b_on_one_node_is_rejected_for_memory_with_the_bytes_needed():
    model = bm.catalog.model("llama3-405b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    res = search_layouts(model, cluster, global_batch=GB, seq_len=SEQ, zero=(0, 1, 2, 3))
    assert res.feasible == 0 and len(res) == 0 and res.best is None
    # every candidate that divides is rejected for memory
    divides = res.enumerated - sum(n for r, n in res.rejected.items() if r != "memory")
    assert res.rejected["memory"] == divides > 0
    # at least 18 bytes per parameter (weights, gradients, Adam) spread over 8 GPUs
    assert res.min_memory_rejected_B > 18 * 405e9 / 8
    assert "needs" in res.reasons["memory"] and "H100-SXM has 85.52 GB" in res.reasons["memory"]
    with pytest.raises(InfeasibleLayoutError, match="no feasible layout") as info:
        res.check()
    assert info.value.rule == "memory"
    assert "no feasible layout" in res.summary()


def test_predict_training_reports_the_bytes_an_oversized_layout_needs():
    model = bm.catalog.model("llama3-405b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    lay = Layout(tp=1, pp=1, dp=8, global_batch=8, seq_len=SEQ)
    with pytest.raises(InfeasibleLayoutError, match=r"needs \d.* TB per GPU") as info:
        predict_training(model, cluster, lay)
    assert info.value.rule == "memory" and "85.52 GB" in str(info.value)


@pytest.mark.parametrize(
    ("layout", "gpus", "rule", "text"),
    [
        (dict(tp=3, dp=1, global_batch=8), 16, "tp_heads", "tp=3 does not divide the 32"),
        (dict(dp=3, micro_batch=2, global_batch=64), 16, "batch", r"dp\*micro_batch = 3\*2 = 6"),
        (dict(tp=8, dp=4, global_batch=64), 16, "gpus", "32 GPUs but the cluster has 16"),
        (dict(pp=64, dp=1, global_batch=64), 64, "pp_layers", "exceed the 32 layers"),
    ],
)
def test_bad_layouts_name_the_rule(llama8b, layout, gpus, rule, text):
    cluster = bm.catalog.cluster("DGX-H100", gpus=gpus)
    lay = Layout(seq_len=SEQ, **layout)
    with pytest.raises(InfeasibleLayoutError, match=text) as info:
        predict_training(llama8b, cluster, lay)
    assert info.value.rule == rule


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        (dict(global_batch=0), SpecError, "global_batch must be an integer >= 1, got 0"),
        (dict(seq_len=1.5), SpecError, "seq_len must be an integer"),
        (dict(gpus=32), InfeasibleLayoutError, "gpus=32 but cluster"),
        (dict(recompute=("sometimes",)), SpecError, "recompute values must be one of"),
        (dict(zero=(4,)), SpecError, "zero values must be 0, 1, 2 or 3"),
        (dict(tp=(0,)), SpecError, "tp values must be integers >= 1, got 0"),
        (dict(objective="cheapest"), UnknownNameError, "unknown objective 'cheapest'"),
        (dict(precision="fp64"), SpecError, "precision must be one of"),
        (dict(top=0), SpecError, "top must be an integer >= 1"),
        (dict(sequence_parallel="yes"), SpecError, "sequence_parallel must be"),
    ],
)
def test_bad_search_arguments(llama8b, h100x16, kwargs, error, text):
    args = dict(global_batch=GB, seq_len=SEQ) | kwargs
    with pytest.raises(error, match=text):
        search_layouts(llama8b, h100x16, **args)


def test_gpus_rule_names_the_cluster(llama8b, h100x16):
    with pytest.raises(InfeasibleLayoutError) as info:
        search_layouts(llama8b, h100x16, global_batch=GB, seq_len=SEQ, gpus=32)
    assert info.value.rule == "gpus"


def test_cluster_must_be_a_cluster(llama8b):
    with pytest.raises(SpecError, match="cluster must be a Cluster"):
        search_layouts(llama8b, "DGX-H100", global_batch=GB, seq_len=SEQ)


def test_explicit_axes_and_fewer_gpus(llama8b, h100x16):
    res = search_layouts(
        llama8b,
        h100x16,
        global_batch=GB,
        seq_len=SEQ,
        gpus=8,
        tp=(1, 2, 8),
        pp=1,
        cp=1,
        vpp=1,
        micro_batch=1,
        recompute="full",
        zero=1,
    )
    assert res.enumerated == 3
    assert res.gpus == 8
    assert sorted(res.columns["tp"].tolist()) == [1, 2, 8]
    assert set(res.columns["dp"].tolist()) == {8, 4, 1}


def test_tp_that_does_not_divide_the_heads_is_counted(llama8b):
    cluster = bm.catalog.cluster("DGX-H100", gpus=24)
    res = search_layouts(
        llama8b, cluster, global_batch=48, seq_len=SEQ, tp=(3,), pp=1, cp=1, micro_batch=(1, 2)
    )
    assert res.feasible == 0
    assert res.rejected == {"tp_heads": res.enumerated}
    assert "tp=3 does not divide the 32 attention heads" in res.reasons["tp_heads"]


def test_objectives_rank_their_column(llama8b, h100x16):
    kw = dict(global_batch=GB, seq_len=SEQ)
    by_memory = search_layouts(llama8b, h100x16, objective="memory", **kw)
    assert np.all(np.diff(by_memory.columns["memory_B"]) >= 0)
    by_mfu = search_layouts(llama8b, h100x16, objective="mfu", top=5, **kw)
    assert np.all(np.diff(by_mfu.columns["mfu"]) <= 0)
    by_time = search_layouts(llama8b, h100x16, top=5, **kw)
    assert by_mfu.layout(0) == by_time.layout(0)

    def bubble(c):
        return c["pipeline_bubble_s"] + c["dp_comm_s"]

    custom = search_layouts(llama8b, h100x16, objective=bubble, **kw)
    assert custom.objective == "bubble"
    assert np.all(np.diff(custom.columns["score"]) >= 0)
    assert set(OBJECTIVES) >= {"step_time", "memory", "mfu", "hfu", "tokens_per_second_per_gpu"}


def test_objective_must_return_one_score_per_row(llama8b, h100x16):
    with pytest.raises(SpecError, match="one score per row"):
        search_layouts(
            llama8b, h100x16, global_batch=GB, seq_len=SEQ, objective=lambda c: np.zeros(2)
        )


def test_top_keeps_the_best_rows_and_counts_everything(result, llama8b, h100x16):
    top = search_layouts(llama8b, h100x16, global_batch=GB, seq_len=SEQ, zero=(0, 1, 3), top=7)
    assert len(top) == 7
    assert top.feasible == result.feasible and top.rejected == result.rejected
    np.testing.assert_array_equal(top.columns["step_time_s"], result.columns["step_time_s"][:7])


def test_executor_and_chunks_give_the_same_answer(result, llama8b, h100x16):
    with ThreadPoolExecutor(2) as ex:
        split = search_layouts(
            llama8b,
            h100x16,
            global_batch=GB,
            seq_len=SEQ,
            zero=(0, 1, 3),
            executor=ex,
            chunk_size=997,
            top=50,
        )
    assert split.rejected == result.rejected and split.reasons == result.reasons
    assert split.min_memory_rejected_B == result.min_memory_rejected_B
    np.testing.assert_array_equal(split.columns["step_time_s"], result.columns["step_time_s"][:50])
    for k in LAYOUT_KEYS:
        np.testing.assert_array_equal(split.columns[k], result.columns[k][:50])


def test_records_summary_and_read_only_columns(result):
    recs = result.to_records(3)
    assert len(recs) == 3
    json.dumps(recs)  # plain Python data
    r = recs[0]
    assert r["recompute"] in ("none", "selective", "full")
    assert isinstance(r["sequence_parallel"], bool) and isinstance(r["tp"], int)
    assert r["step_time_s"] == pytest.approx(result.columns["step_time_s"][0])
    text = result.summary(3)
    assert "feasible" in text and "gpus_divide" in text and "memory" in text
    with pytest.raises(ValueError):
        result.columns["tp"][0] = 99
    assert result.layouts(2) == [result.layout(0), result.layout(1)]
    with pytest.raises(IndexError):
        result.layout(len(result))


def test_flash_attention_choice_reaches_the_step_time(llama8b, h100x16):
    unfused = MemoryModel(flash_attention=False)
    res = search_layouts(llama8b, h100x16, global_batch=GB, seq_len=SEQ, memory=unfused, top=3)
    lay = res.layout(0)
    report = predict_training(llama8b, h100x16, lay, memory=unfused)
    assert report.step_time.m == pytest.approx(res.columns["step_time_s"][0], rel=1e-12)


def test_moe_search_spreads_experts(h100x16):
    model = bm.catalog.model("mixtral-8x7b")
    res = search_layouts(model, h100x16, global_batch=GB, seq_len=4096, top=20)
    c = res.columns
    assert res.feasible > 0
    # MoE parallel folding: ep * etp divides the tp * cp * dp ranks of a stage
    assert np.all((c["tp"] * c["dp"] * c["cp"]) % (c["ep"] * c["etp"]) == 0)
    assert np.all(8 % c["ep"] == 0)
    assert res.layout(0).gpus == 16


def test_candidate_arrays_derive_dp():
    axes = dict(
        tp=(1, 8),
        cp=(1,),
        pp=(1, 3),
        ep=(1,),
        vpp=(1,),
        micro_batch=(1,),
        recompute=(0,),
        zero=(1,),
        sequence_parallel=(1,),
    )
    cols = candidate_arrays(axes, gpus=16, global_batch=64, seq_len=SEQ)
    assert cols["tp"].tolist() == [1, 1, 8, 8]
    assert cols["gpus_divide"].tolist() == [False, True, False, True]
    assert cols["dp"][~cols["gpus_divide"]].tolist() == [16, 2]


def test_default_search_of_405b_on_16k_h100_is_fast():
    model = bm.catalog.model("llama3-405b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=16384)
    res = search_layouts(model, cluster, global_batch=2048, seq_len=8192, top=10)
    assert res.elapsed_s < 10.0
    best = res.layout(0)
    assert best.tp == 8  # 405B needs the whole NVLink domain for tensor parallelism
    assert best.pp > 1
    assert res.best is not None and res.best.fits


def test_why_none_explains_a_rounded_cluster():
    import attrs

    import blackwell_model as bm

    # a cluster built by hand with every GPU of 57 racks (4,104) offered: no layout uses
    # exactly 4,104 GPUs, and the search says to pass gpus=
    cluster = attrs.evolve(bm.catalog.cluster("GB200-NVL72", gpus=4096), active_gpus=None)
    res = bm.search_layouts(bm.catalog.model("llama3-8b"), cluster, global_batch=1024, seq_len=4096)
    assert res.feasible == 0 and "pass gpus=" in res.why_none()
    assert "pass gpus=" in res.summary()
    ok = bm.search_layouts(
        bm.catalog.model("llama3-8b"), cluster, global_batch=1024, seq_len=4096, gpus=4096
    )
    assert ok.feasible > 0 and ok.why_none() == ""


# --- issue 12, item 3: short sequences still search (the CP axis always holds 1)
@pytest.mark.parametrize("seq", [128, 512, 1000])
def test_short_sequences_find_layouts(llama8b, seq):
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    res = search_layouts(llama8b, cluster, global_batch=64, seq_len=seq)
    assert res.feasible > 0
    assert res.best is not None and res.best.layout.seq_len == seq
    assert set(res.columns["cp"].tolist()) == {1}


def test_meta_405b_layout_is_feasible_on_16k_h100():
    # Llama 3 405B pre-training on 16,384 H100 at 2048 x 8192 tokens: Meta's layout
    # (Llama 3 paper, Table 4: TP 8, PP 16, CP 1) must pass the memory model
    model = bm.catalog.model("llama3-405b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=16384)
    res = search_layouts(model, cluster, global_batch=2048, seq_len=8192, tp=8, pp=16, cp=1)
    assert res.feasible > 0
    assert np.all((res.columns["tp"] == 8) & (res.columns["pp"] == 16))


def test_memory_headroom_keeps_layouts_below_it(llama8b, h100x16):
    res = search_layouts(llama8b, h100x16, global_batch=GB, seq_len=SEQ, memory_headroom=0.2)
    cap = bm.catalog.accelerator("H100-SXM").memory_capacity.m
    assert res.feasible > 0
    assert np.all(res.columns["memory_B"] <= 0.8 * cap)
    with pytest.raises(bm.SpecError, match="memory_headroom"):
        search_layouts(llama8b, h100x16, global_batch=GB, seq_len=SEQ, memory_headroom=1.5)


def test_search_explores_fsdp_folding_and_module_recompute():
    model = bm.catalog.model("qwen3-30b-a3b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=16)
    res = search_layouts(model, cluster, global_batch=256, seq_len=4096)
    c = res.columns
    assert {1, 3} <= set(c["zero"].tolist())
    assert 1 in set(c["etp"].tolist())
    assert any(r["recompute_modules"] for r in res.to_records(200))
    lay = res.layout(0)
    assert lay.expert_tp * lay.ep <= lay.tp * lay.cp * lay.dp
