"""Readable reprs, notebook HTML and DataFrames for parts and reports."""

from __future__ import annotations

import pytest

import blackwell_model as bm

CLUSTER = bm.catalog.cluster("DGX-H100", gpus=8)


def test_part_repr_is_short_and_in_convenient_units():
    text = repr(bm.catalog.link("NVLink5"))
    assert text == "LinkSpec(name='NVLink5', kind='nvlink', bandwidth=50 GB/s, latency=600 ns)"
    acc = repr(bm.catalog.accelerator("H100-SXM"))
    assert "memory_bandwidth=3.35 TB/s" in acc and "scale_up_link='NVLink4'" in acc
    assert len(acc) < 600  # sub-parts by name, not expanded


def test_part_html_lists_fields_and_sources():
    page = bm.catalog.accelerator("H100-SXM")._repr_html_()
    assert page.startswith("<p><b>Accelerator H100-SXM</b></p><table>")
    assert "3.35 TB/s" in page and "NV-H100-DS" in page


def test_report_repr_html_and_records():
    rep = bm.predict_training(
        "llama3-8b", CLUSTER, bm.Layout(tp=2, dp=4, global_batch=64, seq_len=4096)
    )
    assert repr(rep).startswith("<TrainingReport: llama3-8b on DGX-H100")
    html = rep._repr_html_()
    assert html.startswith("<pre>") and "MFU" in html
    (record,) = rep._records()
    assert record["step_time_s"] == pytest.approx(rep.step_time.m)


def test_to_frame_shapes():
    pytest.importorskip("pandas")
    res = bm.search_layouts(bm.catalog.model("llama3-8b"), CLUSTER, global_batch=64, seq_len=4096)
    frame = res.to_frame()
    assert len(frame) == len(res) and "step_time_s" in frame.columns
    curve = bm.inference_sweep(
        "llama3-8b", CLUSTER, bm.InferenceLayout(tp=1), input_tokens=100, output_tokens=100
    )
    assert list(curve.to_frame()["batch"]) == [int(b) for b in curve.batch]
    rep = bm.predict_training(
        "llama3-8b", CLUSTER, bm.Layout(tp=2, dp=4, global_batch=64, seq_len=4096)
    )
    assert rep.to_frame()["layout.tp"].iloc[0] == 2
