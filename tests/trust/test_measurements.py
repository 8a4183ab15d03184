"""Readers of the user's measurement files: nccl-tests tables, GEMM CSV, the TOML manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

import blackwell_model as bm
from blackwell_model.errors import SpecError, SpecFileError
from blackwell_model.trust import load_measurements, parse_nccl_tests, read_gemm_csv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "measurements"

# nccl-tests 2.13 layout (root and #wrong columns), 2 hosts x 2 GPUs
NEW = """\
# Collective test starting: all_reduce_perf
# nThread 1 nGpus 1 minBytes 1024 maxBytes 1048576 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0
#
# Using devices
#  Rank  0 Group  0 Pid  11 on     host-a device  0 [0x18] NVIDIA H100 80GB HBM3
#  Rank  1 Group  0 Pid  12 on     host-a device  1 [0x2a] NVIDIA H100 80GB HBM3
#  Rank  2 Group  0 Pid  13 on     host-b device  0 [0x18] NVIDIA H100 80GB HBM3
#  Rank  3 Group  0 Pid  14 on     host-b device  1 [0x2a] NVIDIA H100 80GB HBM3
#
#                                                              out-of-place                       in-place
#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
           0             0     float     sum      -1     5.70    0.00    0.00      0     5.54    0.00    0.00      0
        1024           256     float     sum      -1    20.00    0.05    0.08      0    19.50    0.05    0.08    N/A
     1048576        262144     float     sum      -1    27.76   37.77   56.66      0    27.49   38.14   57.22      0
# Out of bounds values : 0 OK
# Avg bus bandwidth    : 18.9
"""

# an older layout: no root column, "error" instead of #wrong, mpirun prefixes
OLD = """\
[1,0]<stdout>:# nThread 1 nGpus 1 minBytes 8 maxBytes 134217728 step: 2(factor) warmup iters: 5 iters: 20 validation: 1
[1,0]<stdout>:#   Rank  0 Pid   1320 on node1 device  0 [0x00] Tesla V100-SXM2-16GB
[1,0]<stdout>:#   Rank  1 Pid   2066 on node2 device  0 [0x00] Tesla V100-SXM2-16GB
[1,0]<stdout>:#       size         count      type   redop     time   algbw   busbw  error     time   algbw   busbw  error
[1,0]<stdout>:#        (B)    (elements)                       (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
[1,0]<stdout>:     1048576        262144     float     sum    100.0   10.49   10.49  0e+00    101.0   10.38   10.38  0e+00
"""


def test_nccl_tests_new_layout():
    b = parse_nccl_tests(NEW, source="run.log")
    assert (b.op, b.ranks, b.hosts) == ("all_reduce", 4, 2)
    assert len(b.rows) == 2  # the size-0 row is skipped
    row = b.rows[1]
    assert row.size_bytes == 1048576
    assert row.time_s == pytest.approx(27.76e-6)
    assert row.busbw_Bps == pytest.approx(56.66e9)
    assert row.in_place_time_s == pytest.approx(27.49e-6)
    assert b.rows[0].wrong == 0
    inplace = parse_nccl_tests(NEW, in_place=True)
    assert inplace.rows[1].time_s == pytest.approx(27.49e-6)


def test_nccl_tests_old_layout_with_mpirun_prefixes():
    b = parse_nccl_tests(OLD, op="all_reduce_perf")
    assert (b.op, b.ranks, b.hosts) == ("all_reduce", 2, 2)
    assert b.rows[0].time_s == pytest.approx(100e-6)
    assert b.rows[0].wrong is None


def test_nccl_tests_op_from_file_name(tmp_path):
    path = tmp_path / "alltoall_perf_8.txt"
    path.write_text(NEW.replace("# Collective test starting: all_reduce_perf\n", ""))
    assert bm.trust.read_nccl_tests(path).op == "all_to_all"


def test_nccl_tests_ms_time_unit():
    text = OLD.replace("(us)", "(ms)").replace(
        "    100.0   10.49   10.49", "      0.1   10.49   10.49"
    )
    b = parse_nccl_tests(text, op="all_reduce")
    assert b.rows[0].time_s == pytest.approx(1e-4)


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("no table here", {"op": "all_reduce", "ranks": 2}, "no nccl-tests table"),
        (NEW.replace("all_reduce_perf", "x"), {}, "pass op="),
        (NEW.replace("all_reduce_perf", "scatter_perf"), {}, "not modelled"),
        (OLD.replace("Rank  1", "Raank 1"), {"op": "all_reduce"}, "pass ranks="),
        (NEW.replace("   37.77 ", "   77.77 "), {}, "size / time"),
        (NEW.replace("0    27.49", "27.49"), {}, "expected 13 columns"),
    ],
)
def test_nccl_tests_errors_name_the_problem(text, kwargs, match):
    with pytest.raises(SpecFileError, match=match):
        parse_nccl_tests(text, **kwargs)


def test_nccl_tests_bad_op_name():
    with pytest.raises(SpecError, match="op must be"):
        parse_nccl_tests(NEW, op="allscatter")


def test_gemm_csv(tmp_path):
    rows = read_gemm_csv(
        "s.csv", text="# comment\nM,N,K,Precision,TFLOPS,count\n4096,4096,4096,fp8,1200.5,2\n"
    )
    assert rows[0].count == 2 and rows[0].precision.value == "fp8"
    assert rows[0].time_s == pytest.approx(2 * 2 * 4096**3 / 1200.5e12)
    with pytest.raises(SpecFileError, match="lacks column"):
        read_gemm_csv("s.csv", text="m,n,k,tflops\n1,2,3,4\n")
    with pytest.raises(SpecFileError, match="data row 1"):
        read_gemm_csv("s.csv", text="m,n,k,dtype,tflops\n1,2,3,bf16,-4\n")
    with pytest.raises(SpecFileError, match="data row 1"):
        read_gemm_csv("s.csv", text="m,n,k,dtype,tflops\n1.5,2,3,bf16,4\n")


def test_example_manifest_loads():
    data = load_measurements(EXAMPLES / "h100_cluster.toml")
    assert data.cluster.gpus == 16
    assert len(data.gemm) == 32 and len(data.collectives) == 4
    assert len(data.training) == 5 and len(data.serving) == 5 and len(data.memory) == 2
    for path in EXAMPLES.iterdir():
        if path.suffix in (".txt", ".csv", ".toml"):
            assert "EXAMPLE DATA, NOT A MEASUREMENT" in path.read_text("utf-8"), path.name


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("bogus = 1\n", "unknown key"),
        ('[cluster]\nsystem = "DGX-H100"\n', "gpus"),
        (
            '[[training]]\nmodel = "llama3-8b"\nlayout = { tp = 1, dp = 8, global_batch = 8, seq_len = 4096 }\n',
            "exactly one of",
        ),
        (
            '[[training]]\nmodel = "llama3-8b"\nlayout = { tp = 1, dp = 8, global_batch = 8, seq_len = 4096 }\n'
            'step_time = "-1 s"\n',
            "step_time must be",
        ),
        ('[[memory]]\nbandwidth = "3 TB"\n', "memory\\[0\\]"),
        ("[[gemm]]\n", "missing key 'file'"),
    ],
)
def test_manifest_errors(tmp_path, body, match):
    path = tmp_path / "m.toml"
    path.write_text(body)
    with pytest.raises((SpecFileError, bm.UnitMismatchError), match=match):
        load_measurements(path)


def test_measurement_records_validate():
    with pytest.raises(SpecError, match="metric must be one of"):
        bm.trust.TrainingMeasurement(
            model="llama3-8b",
            layout=bm.Layout(tp=1, dp=8, global_batch=8, seq_len=4096),
            metric="mfu",
            value=1,
        )
    with pytest.raises(SpecError, match="kind must be"):
        bm.trust.MemoryMeasurement(bandwidth="3 TB/s", kind="l2")
    with pytest.raises(SpecError, match="measurements must be"):
        bm.trust.Measurements.of([42])
