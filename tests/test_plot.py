"""Tests of blackwell_model.plot: the artists reflect the inputs; errors name the argument."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import blackwell_model as bm  # noqa: E402
from blackwell_model import plot  # noqa: E402
from blackwell_model.errors import SpecError, TopologyError, UnknownNameError  # noqa: E402
from blackwell_model.solvers.energy import PowerModel  # noqa: E402
from blackwell_model.solvers.roofline import roofline  # noqa: E402
from blackwell_model.study.search import SearchResult  # noqa: E402
from blackwell_model.workload import layer_operators  # noqa: E402

_UNIT = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def h100_cluster():
    return bm.catalog.cluster("DGX-H100", gpus=16)


@pytest.fixture(scope="module")
def search(h100_cluster):
    return bm.search_layouts("llama3-8b", h100_cluster, global_batch=64, seq_len=4096)


@pytest.fixture(scope="module")
def report(h100_cluster):
    layout = bm.Layout(tp=2, pp=1, dp=8, micro_batch=1, global_batch=64, seq_len=4096)
    return bm.predict_training("llama3-8b", h100_cluster, layout)


def _by_gid(artists, prefix):
    return [a for a in artists if (a.get_gid() or "").startswith(prefix)]


def _points(ax, prefix):
    cols = _by_gid(ax.collections, prefix)
    return np.concatenate([c.get_offsets() for c in cols]) if cols else np.empty((0, 2))


# ------------------------------------------------------------------ import
def test_import_does_not_need_matplotlib():
    code = "import sys, blackwell_model, blackwell_model.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_missing_matplotlib_names_the_extra(monkeypatch, report):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=re.escape('pip install "blackwell_model[plot]"')):
        plot.breakdown_bars(report)


def test_given_axes_is_used_and_returned(report):
    _, ax = plt.subplots()
    assert plot.breakdown_bars(report, ax=ax) is ax
    with pytest.raises(SpecError, match="ax must be a matplotlib Axes"):
        plot.breakdown_bars(report, ax="not an axes")


# ------------------------------------------------------------------ roofline
def test_roofline_ridge_and_ceilings_match_the_datasheet():
    h100 = bm.catalog.accelerator("H100-SXM")
    ax = plot.roofline_chart(h100, "bf16")
    peak, bw = 989.4e12, 3.35e12  # dense BF16 peak and HBM3 bandwidth of H100 SXM
    (ridge,) = _by_gid(ax.lines, "ridge:H100-SXM")
    assert ridge.get_xdata()[0] == pytest.approx(peak / bw)
    assert ridge.get_ydata()[0] == pytest.approx(peak / 1e12)
    (roof,) = _by_gid(ax.lines, "roofline:H100-SXM")
    x, y = roof.get_xdata(), roof.get_ydata()
    assert y.max() == pytest.approx(peak / 1e12)
    assert y[0] == pytest.approx(bw * x[0] / 1e12)
    (ach,) = _by_gid(ax.lines, "achievable:H100-SXM")
    eff = bm.Efficiency()
    assert ach.get_ydata().max() == pytest.approx(eff.gemm_max * peak / 1e12)
    assert "FLOP/B" in ax.get_xlabel() and "TFLOP/s" in ax.get_ylabel()


def test_roofline_places_each_distinct_operator_at_its_solver_point():
    h100 = bm.catalog.accelerator("H100-SXM")
    m = bm.catalog.model("llama3-8b")
    ops = layer_operators(m, phase="decode", batch=8, kv_len=2048)
    ax = plot.roofline_chart(h100, operators=ops, annotate=2)
    pts = _points(ax, "operators:H100-SXM")
    distinct = {op for op in ops if op.flops > 0 and op.bytes > 0}
    assert len(pts) == len(distinct)
    expected = sorted(
        (roofline(op, h100).arithmetic_intensity, roofline(op, h100).achieved_flops_per_s / 1e12)
        for op in distinct
    )
    got = sorted(map(tuple, pts))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # a memory-bound operator never sits above the bandwidth line
    for x, y in got:
        assert y <= 3.35e12 * x / 1e12 * (1 + 1e-9)


def test_roofline_overlays_accelerators_and_builds_model_operators():
    ax = plot.roofline_chart(
        ["H100-SXM", "B200"], model="llama3-8b", phase="forward", seq_len=2048, tp=2
    )
    for name in ("H100-SXM", "B200"):
        assert _by_gid(ax.lines, f"ridge:{name}")
        assert len(_points(ax, f"operators:{name}")) > 5
    b200 = bm.catalog.accelerator("B200")
    (ridge,) = _by_gid(ax.lines, "ridge:B200")
    assert ridge.get_xdata()[0] == pytest.approx(
        b200.peak_flops_per_s("bf16") / b200.memory_bandwidth.m
    )


def test_roofline_errors():
    with pytest.raises(SpecError, match="operators= or model=, not both"):
        plot.roofline_chart("H100-SXM", operators=[], model="llama3-8b")
    with pytest.raises(SpecError, match="accelerator must be an Accelerator"):
        plot.roofline_chart(3.0)
    with pytest.raises(UnknownNameError):
        plot.roofline_chart("H1000")
    with pytest.raises(SpecError, match="annotate must be an integer"):
        plot.roofline_chart("H100-SXM", annotate=-1)
    with pytest.raises(SpecError, match="intensity_range"):
        plot.roofline_chart("H100-SXM", intensity_range=(10.0, 1.0))


# ------------------------------------------------------------------ breakdown
def _bar_widths(ax):
    """Part key -> widths of its rectangles, in axis units."""
    out = {}
    for container in ax.containers:
        patches = list(container)
        key = patches[0].get_gid().split(":", 1)[1]
        out[key] = np.array([p.get_width() for p in patches])
    return out


def _axis_unit(ax):
    found = re.search(r"\[(.+)\]", ax.get_xlabel())
    assert found is not None
    return _UNIT[found.group(1)]


def test_breakdown_segments_are_the_parts_and_add_up_to_the_step(report):
    ax = plot.breakdown_bars(report)
    unit = _axis_unit(ax)
    widths = _bar_widths(ax)
    for key, q in report.breakdown.items():
        w = widths.get(key, np.zeros(1))[0] * unit
        assert w == pytest.approx(q.to("s").m, rel=1e-12, abs=1e-15)
    total = sum(w[0] for w in widths.values()) * unit
    assert total == pytest.approx(report.step_time.to("s").m, rel=1e-12)
    # segments are laid end to end
    rects = sorted((p for c in ax.containers for p in c), key=lambda p: p.get_x())
    for a, b in itertools.pairwise(rects):
        assert b.get_x() == pytest.approx(a.get_x() + a.get_width())


def test_breakdown_of_several_reports_normalized(h100_cluster, report):
    other = bm.predict_training(
        "llama3-8b",
        h100_cluster,
        bm.Layout(tp=8, pp=2, dp=1, micro_batch=1, global_batch=64, seq_len=4096),
    )
    ax = plot.breakdown_bars({"tp2": report, "tp8 pp2": other}, normalize=True)
    sums = sum(_bar_widths(ax).values())
    np.testing.assert_allclose(sums, [100.0, 100.0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["tp2", "tp8 pp2"]


def test_breakdown_of_inference_and_search_rows(search):
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    inf = bm.predict_inference(
        "llama3-8b", cluster, bm.InferenceLayout(tp=1), batch=16, input_tokens=512,
        output_tokens=256,
    )  # fmt: skip
    ax = plot.breakdown_bars(inf)
    total = sum(w[0] for w in _bar_widths(ax).values()) * _axis_unit(ax)
    assert total == pytest.approx(inf.time_per_output_token.to("s").m, rel=1e-12)

    ax = plot.breakdown_bars(search, top=3)
    unit = _axis_unit(ax)
    sums = sum(_bar_widths(ax).values()) * unit
    np.testing.assert_allclose(sums, search.columns["step_time_s"][:3], rtol=1e-12)


def test_breakdown_errors(report):
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    inf = bm.predict_inference(
        "llama3-8b", cluster, bm.InferenceLayout(tp=1), batch=4, input_tokens=128,
        output_tokens=128,
    )  # fmt: skip
    with pytest.raises(SpecError, match="all TrainingReports or all InferenceReports"):
        plot.breakdown_bars([report, inf])
    with pytest.raises(SpecError, match="labels must give one label per item"):
        plot.breakdown_bars([report, report], labels=["one"])
    with pytest.raises(SpecError, match="reports must"):
        plot.breakdown_bars(42)
    with pytest.raises(SpecError, match="at least one"):
        plot.breakdown_bars([])


# ------------------------------------------------------------------ pareto
def _dominated_brute(x, y):
    n = len(x)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            if x[j] <= x[i] and y[j] <= y[i] and (x[j] < x[i] or y[j] < y[i]):
                keep[i] = False
                break
    return keep


_coords = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=40
)  # small integers: many ties and duplicates


@given(_coords, st.tuples(st.booleans(), st.booleans()))
def test_pareto_mask_matches_brute_force(points, maximize):
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    mask = plot.pareto_mask(x, y, maximize=maximize)
    sx = -x if maximize[0] else x
    sy = -y if maximize[1] else y
    np.testing.assert_array_equal(mask, _dominated_brute(sx, sy))
    assert mask.any()


def test_pareto_mask_ignores_non_finite_and_checks_shapes():
    mask = plot.pareto_mask([np.nan, 1.0, np.inf], [0.0, 1.0, 0.0])
    assert mask.tolist() == [False, True, False]
    with pytest.raises(SpecError, match="equal length"):
        plot.pareto_mask([1.0, 2.0], [1.0])


def _fake_search(step, mem, gpus=8):
    n = len(step)
    cols = {
        "step_time_s": np.asarray(step, dtype=float),
        "memory_B": np.asarray(mem, dtype=float),
        "mfu": np.full(n, 0.4),
        "tokens_per_second_per_gpu": 1.0 / np.asarray(step, dtype=float),
    }
    return SearchResult(
        model_name="m",
        cluster_name="c",
        gpus=gpus,
        global_batch=8,
        seq_len=1024,
        precision=bm.Precision.BF16,
        objective="step_time",
        columns=cols,
        enumerated=n,
        feasible=n,
        rejected={},
        reasons={},
        min_memory_rejected_B=None,
        memory_capacity_B=8e10,
        best=None,
        elapsed_s=0.0,
    )


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 100.0), st.floats(1e9, 8e10)), min_size=1, max_size=30))
def test_pareto_front_points_are_non_dominated(rows):
    res = _fake_search([r[0] for r in rows], [r[1] for r in rows])
    ax = plot.pareto_front(res, x="step_time", y="memory", color=None, annotate=0)
    every = _points(ax, "rows")
    assert len(every) == len(rows)
    (front,) = _by_gid(ax.lines, "pareto")
    fx, fy = front.get_xdata(), front.get_ydata()
    for a, b in zip(fx, fy, strict=True):
        assert not np.any(
            (every[:, 0] <= a) & (every[:, 1] <= b) & ((every[:, 0] < a) | (every[:, 1] < b))
        )
    # and every non-dominated row is on the front
    assert len(fx) == int(_dominated_brute(every[:, 0], every[:, 1]).sum())
    plt.close("all")


def test_search_energy_equals_predict_training(search, h100_cluster):
    e = plot.search_energy(search, h100_cluster)
    for i in (0, len(search) // 2, len(search) - 1):
        rep = bm.predict_training("llama3-8b", h100_cluster, search.layout(i))
        assert e["energy_per_step_J"][i] == pytest.approx(rep.energy_per_step.m, rel=1e-9)
        assert e["step_time_s"][i] == pytest.approx(rep.step_time.m, rel=1e-12)
    assert e["energy_per_token_J"][0] == pytest.approx(search.best.energy_per_token.m, rel=1e-9)


def test_search_energy_with_a_power_cap(search, h100_cluster):
    pm = PowerModel(power_cap=bm.Q_(450.0, "W"))
    e = plot.search_energy(search, h100_cluster, power=pm)
    rep = bm.predict_training("llama3-8b", h100_cluster, search.layout(0), power=pm)
    assert e["energy_per_step_J"][0] == pytest.approx(rep.energy_per_step.m, rel=1e-9)
    assert e["step_time_s"][0] == pytest.approx(rep.step_time.m, rel=1e-9)
    assert e["step_time_s"][0] > search.columns["step_time_s"][0]


def test_pareto_front_of_several_searches(h100_cluster, search):
    big = bm.catalog.cluster("DGX-H100", gpus=32)
    other = bm.search_layouts("llama3-8b", big, global_batch=64, seq_len=4096)
    ax = plot.pareto_front({"16": search, "32": other}, clusters={"16": h100_cluster, "32": big})
    assert len(_points(ax, "rows")) == len(search) + len(other)
    legend = ax.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert "16 GPUs" in labels and "32 GPUs" in labels
    assert "MJ" in ax.get_ylabel() or "kJ" in ax.get_ylabel()
    (front,) = _by_gid(ax.lines, "pareto")
    assert len(front.get_xdata()) >= 1


def test_pareto_front_errors(search, h100_cluster):
    with pytest.raises(SpecError, match="needs clusters="):
        plot.pareto_front(search)
    with pytest.raises(UnknownNameError, match="unknown y metric"):
        plot.pareto_front(search, y="joules", clusters=h100_cluster)
    with pytest.raises(UnknownNameError, match="colour column"):
        plot.pareto_front(search, y="memory", color="colour")
    with pytest.raises(SpecError, match="one Cluster per search"):
        plot.pareto_front([search, search], clusters=[h100_cluster])
    with pytest.raises(SpecError, match="results must hold only SearchResults"):
        plot.pareto_front([search, 3])


# ------------------------------------------------------------------ validation
@pytest.fixture(scope="module")
def table():
    from blackwell_model.validation import validation_table

    return validation_table()


def test_predicted_vs_measured_has_one_point_per_row(table):
    ax = plot.predicted_vs_measured(table)
    pts = _points(ax, "cases")
    assert len(pts) == len(table.rows)
    expected = sorted((r.measured, r.predicted) for r in table.rows)
    np.testing.assert_allclose(sorted(map(tuple, pts)), expected)
    assert "20%" in ax.get_title()


def test_predicted_vs_measured_of_inference_results():
    from blackwell_model.validation.inference import evaluate_inference, inference_cases

    cases = [c for c in inference_cases() if c.metric == "throughput"][:4]
    results = evaluate_inference(cases)
    ax = plot.predicted_vs_measured(results, band=0.1)
    assert len(_points(ax, "cases")) == 4
    assert "tokens/s per GPU" in ax.get_xlabel()
    with pytest.raises(SpecError, match="band"):
        plot.predicted_vs_measured(results, band=1.5)
    with pytest.raises(SpecError, match="TrainingRows or InferenceCaseResults"):
        plot.predicted_vs_measured([1, 2])


# ------------------------------------------------------------------ topology
def test_topology_draws_every_node_and_link():
    cluster = bm.catalog.cluster("GB200-NVL72", gpus=72)
    graph = bm.to_graph(cluster)
    ax = plot.topology(graph)
    assert len(_points(ax, "nodes:gpu")) == 72
    assert len(_points(ax, "nodes")) == graph.number_of_nodes()
    undirected = {frozenset(e) for e in graph.edges()}
    drawn = sum(len(c.get_segments()) for c in _by_gid(ax.collections, "links:"))
    assert drawn == len(undirected)
    assert len(_points(ax, "nodes:scale_up")) == 18


def test_topology_from_a_part_or_name_and_limits():
    ax = plot.topology("DGX-H100")
    assert len(_points(ax, "nodes:gpu")) == 8
    with pytest.raises(TopologyError, match="max_nodes"):
        plot.topology(bm.catalog.cluster("DGX-H100", gpus=16), max_nodes=10)
    with pytest.raises(TopologyError, match="to_graph needs a Superchip"):
        plot.topology(3.5)
    with pytest.raises(UnknownNameError):
        plot.topology("DGX-H1000")


# ------------------------------------------------------------------ inference curve
def test_latency_throughput_draws_the_curves():
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    curve = bm.inference_sweep(
        "llama3-8b", cluster, bm.InferenceLayout(tp=1), input_tokens=512, output_tokens=256,
        points=12,
    )  # fmt: skip
    ax = plot.latency_throughput({"H100": curve}, latency="40 ms")
    (line,) = _by_gid(ax.lines, "curve:H100")
    np.testing.assert_allclose(line.get_xdata(), curve.tokens_per_second_per_user)
    np.testing.assert_allclose(line.get_ydata(), curve.tokens_per_second_per_gpu)
    (star,) = _by_gid(ax.lines, "best:H100")
    best = curve.best_under("40 ms")
    assert star.get_ydata()[0] == pytest.approx(best.tokens_per_second_per_gpu.m)
    with pytest.raises(SpecError, match="labels must give one label per item"):
        plot.latency_throughput([curve], labels=["a", "b"])


# ------------------------------------------------------------------ gallery
@pytest.mark.slow
def test_gallery_writes_every_figure(tmp_path):
    import runpy

    script = Path(__file__).parents[1] / "examples" / "plot_gallery.py"
    ns = runpy.run_path(str(script))
    paths = ns["main"]([str(tmp_path)])
    assert len(paths) == len(ns["FIGURES"])
    for p in paths:
        assert Path(p).stat().st_size > 10_000
