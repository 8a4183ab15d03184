"""Roofline solver: bounds, ridge point, efficiency model, vectorised forms, errors."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import SpecError, UnsupportedPrecisionError
from blackwell_model.hardware import Accelerator
from blackwell_model.solvers import (
    DEFAULT_EFFICIENCY,
    Efficiency,
    RooflineResult,
    gemm_roofline_array,
    roofline,
    roofline_array,
    roofline_many,
    total_time_s,
)
from blackwell_model.workload import Operator, OpKind, gemm_op, layer_operators, model_operators

# Built directly so these tests do not depend on the catalog's hardware entries.
# H100 SXM: 989.4 TFLOP/s dense BF16, 1978.9 FP8, 3.35 TB/s (NVIDIA H100 datasheet).
H100 = Accelerator(
    name="H100-test",
    peak_flops={"bf16": "989.4 TFLOP/s", "fp8": "1978.9 TFLOP/s"},
    memory_capacity="80 GB",
    memory_bandwidth="3.35 TB/s",
    tdp="700 W",
)
# A100 SXM4 80GB: 312 TFLOP/s BF16, no FP8, 2.039 TB/s (NVIDIA A100 datasheet).
A100 = Accelerator(
    name="A100-test",
    peak_flops={"bf16": "312 TFLOP/s", "fp16": "312 TFLOP/s"},
    memory_capacity="80 GB",
    memory_bandwidth="2.039 TB/s",
    tdp="400 W",
)
IDEAL = Efficiency(
    gemm_max=1.0,
    tile_m=1,
    tile_n=1,
    k_overhead=0.0,
    compute_units=0,
    attention=1.0,
    attention_backward=1.0,
    vector=1.0,
    hbm=1.0,
    elementwise=1.0,
)


def test_ridge_point_h100_bf16() -> None:
    r = roofline(gemm_op("g", 8192, 8192, 8192), H100)
    assert r.ridge_point == pytest.approx(295.3, abs=0.5)
    assert r.ridge_point == pytest.approx(H100.ridge_point("bf16").m)


def test_large_square_gemm_is_compute_bound() -> None:
    r = roofline(gemm_op("g", 8192, 8192, 8192), H100, "bf16")
    assert r.bound == "compute"
    assert r.arithmetic_intensity > r.ridge_point
    assert r.time_s == pytest.approx(r.compute_time_s)
    assert 0.6 < r.compute_efficiency <= 0.7


def test_decode_gemv_is_memory_bound() -> None:
    gemv = roofline(gemm_op("gemv", 1, 8192, 8192), H100)
    assert gemv.bound == "memory"
    assert gemv.arithmetic_intensity == pytest.approx(1.0, rel=1e-3)
    # every GEMM of a batch-1 Llama 3 70B decode step is memory-bound, in BF16 and FP8
    m = bm.catalog.model("llama3-70b")
    for precision in ("bf16", "fp8"):
        ops = layer_operators(m, phase="decode", batch=1, kv_len=4096, tp=8, precision=precision)
        for op in ops:
            assert roofline(op, H100).bound == "memory", op.name


def test_hand_computed_times_with_ideal_efficiency() -> None:
    op = gemm_op("g", 4096, 4096, 4096)
    r = roofline(op, H100, efficiency=IDEAL)
    assert r.compute_time_s == pytest.approx(2 * 4096**3 / 989.4e12)
    assert r.memory_time_s == pytest.approx(3 * 4096**2 * 2 / 3.35e12)
    assert r.time_s == pytest.approx(max(r.compute_time_s, r.memory_time_s))
    assert r.time.to("ms").m == pytest.approx(r.time_s * 1e3)
    assert r.compute_time.m == r.compute_time_s and r.memory_time.m == r.memory_time_s


def test_default_efficiency_applied() -> None:
    op = gemm_op("gemv", 1, 8192, 8192)
    r = roofline(op, H100)
    assert r.memory_time_s == pytest.approx(op.bytes / (3.35e12 * 0.9))
    assert r.memory_efficiency == DEFAULT_EFFICIENCY.hbm
    norm = Operator(name="n", kind=OpKind.NORM, flops=1e6, bytes_read=1e6, bytes_written=1e6)
    rn = roofline(norm, H100)
    assert rn.memory_efficiency == DEFAULT_EFFICIENCY.elementwise
    assert rn.compute_efficiency == DEFAULT_EFFICIENCY.vector


def test_custom_efficiency_callable_and_evolve() -> None:
    op = gemm_op("g", 8192, 8192, 8192)
    half = roofline(op, H100, efficiency=lambda o: (0.5, 0.5))
    assert half.compute_time_s == pytest.approx(op.flops / (989.4e12 * 0.5))
    slower = roofline(op, H100, efficiency=attrs.evolve(DEFAULT_EFFICIENCY, gemm_max=0.35))
    assert slower.time_s == pytest.approx(2 * roofline(op, H100).time_s)
    with_overhead = roofline(op, H100, efficiency=attrs.evolve(DEFAULT_EFFICIENCY, overhead_s=5e-6))
    assert with_overhead.time_s == pytest.approx(roofline(op, H100).time_s + 5e-6)


def test_attention_uses_attention_efficiency() -> None:
    m = bm.catalog.model("llama3-8b")
    fwd = {o.name: o for o in layer_operators(m, phase="forward", batch=1, seq_len=8192)}
    bwd = {o.name: o for o in layer_operators(m, phase="backward", batch=1, seq_len=8192)}
    assert roofline(fwd["attention"], H100).compute_efficiency == DEFAULT_EFFICIENCY.attention
    assert roofline(bwd["attention.bwd"], H100).compute_efficiency == (
        DEFAULT_EFFICIENCY.attention_backward
    )


def test_unsupported_precision() -> None:
    op = gemm_op("g", 1024, 1024, 1024)
    with pytest.raises(UnsupportedPrecisionError, match="A100-test does not support fp8"):
        roofline(op, A100, "fp8")
    fp8_op = gemm_op("g", 1024, 1024, 1024, precision=bm.Precision.FP8)
    with pytest.raises(UnsupportedPrecisionError):
        roofline(fp8_op, A100)
    with pytest.raises(UnsupportedPrecisionError):
        gemm_roofline_array([1024], [1024], [1024], A100, "fp8")
    assert roofline(op, A100, "bf16").bound == "compute"


def test_bad_input() -> None:
    with pytest.raises(SpecError, match="op must be an Operator"):
        roofline("gemm", H100)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"flops must be finite and >= 0 FLOP, got -1.0 at index 1"):
        roofline_array([1.0, -1.0], [1.0, 1.0], 1e15, 1e12)
    with pytest.raises(SpecError, match="bytes must be finite"):
        roofline_array(1.0, float("nan"), 1e15, 1e12)
    with pytest.raises(SpecError, match="memory_Bps must be finite and > 0"):
        roofline_array(1.0, 1.0, 1e15, 0.0)
    with pytest.raises(SpecError, match=r"compute_efficiency must be in \(0, 1\]"):
        roofline_array(1.0, 1.0, 1e15, 1e12, compute_efficiency=1.5)
    with pytest.raises(SpecError, match="m must be finite and >= 0"):
        gemm_roofline_array([-1], [1], [1], H100)
    with pytest.raises(SpecError, match=r"efficiency fractions must be in \(0, 1\]"):
        roofline(gemm_op("g", 1, 1, 1), H100, efficiency=lambda o: (2.0, 1.0))
    with pytest.raises(SpecError, match="must return"):
        roofline(gemm_op("g", 1, 1, 1), H100, efficiency=lambda o: 0.5)
    with pytest.raises(SpecError, match=r"gemm_max must be a fraction in \(0, 1\], got 0"):
        Efficiency(gemm_max=0)
    with pytest.raises(SpecError, match="tile_m must be an integer >= 1"):
        Efficiency(tile_m=0)


def test_gemm_efficiency_shape_dependence() -> None:
    eff = DEFAULT_EFFICIENCY
    big = eff.gemm(8192, 8192, 8192)
    # 128 x 64 = 8,192 tiles of 64 x 128 take 63 waves of 132 units
    assert big == pytest.approx(0.70 * 8192 / (8192 + 64) * 8192 / (63 * 132), rel=1e-9)
    # one row of a 64-row tile; 64 tiles < 132 units: split-K fills the machine, no wave loss
    assert eff.gemm(1, 8192, 8192) == pytest.approx(0.70 / 64 * 8192 / (8192 + 64))
    # short reduction: k / (k + 64) = 2/3 of the long-k efficiency
    assert eff.gemm(8192, 8192, 128) == pytest.approx(big * (128 / 192) / (8192 / 8256))
    # 133 tiles on 132 units: two waves for 133 tiles' work
    m_tiles = 133
    wave = eff.gemm(64 * m_tiles, 128, 1 << 20)
    assert wave == pytest.approx(0.70 * (1 << 20) / ((1 << 20) + 64) * 133 / 264)
    arr = eff.gemm(np.array([1, 64, 8192]), 8192, 8192)
    assert arr.tolist() == pytest.approx([eff.gemm(m, 8192, 8192) for m in (1, 64, 8192)])


def test_roofline_many_and_total() -> None:
    ops = model_operators(
        bm.catalog.model("llama3-8b"), phase="forward", batch=1, seq_len=2048
    ).all()
    results = roofline_many(ops, H100)
    assert len(results) == len(ops)
    assert all(isinstance(r, RooflineResult) for r in results)
    assert total_time_s(results) == pytest.approx(sum(r.time_s for r in results))


def test_arithmetic_intensity_edge_cases() -> None:
    nothing = Operator(
        name="z", kind=OpKind.ELEMENTWISE, flops=0.0, bytes_read=0.0, bytes_written=0.0
    )
    r = roofline(nothing, H100)
    assert r.time_s == 0.0 and r.arithmetic_intensity == 0.0 and r.bound == "memory"
    only_math = Operator(name="c", kind=OpKind.GEMM, flops=1e9, bytes_read=0.0, bytes_written=0.0)
    assert math.isinf(roofline(only_math, H100).arithmetic_intensity)
    arr = roofline_array([0.0, 1e9], [0.0, 0.0], 1e15, 1e12)
    assert arr.arithmetic_intensity[0] == 0.0 and math.isinf(arr.arithmetic_intensity[1])


# ------------------------------------------------------------------- properties
amount = st.floats(min_value=0.0, max_value=1e16, allow_nan=False, allow_infinity=False)
rate = st.floats(min_value=1e9, max_value=1e17, allow_nan=False, allow_infinity=False)
frac = st.floats(min_value=0.01, max_value=1.0)
factor = st.floats(min_value=1.0, max_value=100.0)


@given(f=amount, b=amount, p=rate, bw=rate, ce=frac, me=frac, grow=factor)
def test_time_never_falls_as_work_or_traffic_grows(  # noqa: PLR0917 - hypothesis arguments
    f: float, b: float, p: float, bw: float, ce: float, me: float, grow: float
) -> None:
    base = roofline_array(f, b, p, bw, compute_efficiency=ce, memory_efficiency=me).time_s
    more_f = roofline_array(f * grow, b, p, bw, compute_efficiency=ce, memory_efficiency=me)
    more_b = roofline_array(f, b * grow, p, bw, compute_efficiency=ce, memory_efficiency=me)
    assert more_f.time_s >= base and more_b.time_s >= base


@given(f=amount, b=amount, p=rate, bw=rate, grow=factor)
def test_more_peak_or_bandwidth_never_slower(
    f: float, b: float, p: float, bw: float, grow: float
) -> None:
    base = roofline_array(f, b, p, bw).time_s
    assert roofline_array(f, b, p * grow, bw).time_s <= base
    assert roofline_array(f, b, p, bw * grow).time_s <= base


dims = st.integers(min_value=1, max_value=1 << 16)


@given(m=dims, n=dims, k=dims, grow=st.integers(1, 4096), which=st.sampled_from("mnk"))
def test_gemm_time_never_falls_as_a_dimension_grows(
    m: int, n: int, k: int, grow: int, which: str
) -> None:
    bigger = {"m": m, "n": n, "k": k}
    bigger[which] += grow
    t0 = roofline(gemm_op("a", m, n, k), H100).time_s
    t1 = roofline(gemm_op("b", bigger["m"], bigger["n"], bigger["k"]), H100).time_s
    assert t1 >= t0 * (1 - 1e-12)


@given(m=dims, n=dims, k=dims, count=st.integers(1, 64), fp8=st.booleans())
def test_vectorised_equals_scalar(m: int, n: int, k: int, count: int, fp8: bool) -> None:
    precision = bm.Precision.FP8 if fp8 else bm.Precision.BF16
    op = gemm_op("g", m, n, k, count=count, precision=precision)
    scalar = roofline(op, H100)
    arr = gemm_roofline_array([m, 1], [n, 1], [k, 1], H100, precision, count=[count, 1])
    assert arr.time_s[0] == pytest.approx(scalar.time_s, rel=1e-12)
    assert arr.compute_time_s[0] == pytest.approx(scalar.compute_time_s, rel=1e-12)
    assert arr.memory_time_s[0] == pytest.approx(scalar.memory_time_s, rel=1e-12)
    assert bool(arr.compute_bound[0]) == (scalar.bound == "compute")
    generic = roofline_array(
        op.flops,
        op.bytes,
        H100.peak_flops_per_s(precision),
        3.35e12,
        compute_efficiency=scalar.compute_efficiency,
        memory_efficiency=scalar.memory_efficiency,
    )
    assert float(generic.time_s) == pytest.approx(scalar.time_s, rel=1e-12)


def test_vectorised_many_cases() -> None:
    rng = np.random.default_rng(1)
    n = 100_000
    r = gemm_roofline_array(
        rng.integers(1, 1 << 15, n), rng.integers(1, 1 << 15, n), rng.integers(1, 1 << 15, n), H100
    )
    assert len(r) == n and r.time_s.shape == (n,)
    assert set(np.unique(r.bound)) <= {"compute", "memory"}
