"""Cost of the roofline solver and of building operator lists.

Run with ``python benchmarks/bench_roofline.py``.  Prints the per-call cost of
a scalar :func:`~blackwell_model.solvers.roofline`, the time of the vectorised
forms on 100,000 cases, and the cost of building per-layer and whole-model
operator lists (cold and cached).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

import blackwell_model as bm
from blackwell_model.solvers import gemm_roofline_array, roofline, roofline_array
from blackwell_model.workload import gemm_op, layer_operators, model_operators


def per_call(fn: Callable[[], object], *, repeat: int = 5, number: int = 2000) -> float:
    """Best-of-``repeat`` mean time of one call [s]."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def main() -> None:
    h100 = bm.catalog.accelerator("H100-SXM")
    op = gemm_op("gemm", 8192, 8192, 8192)
    t = per_call(lambda: roofline(op, h100))
    print(f"roofline(op, H100), scalar:               {t * 1e6:8.2f} µs per call")

    rng = np.random.default_rng(0)
    n = 100_000
    flops = rng.uniform(1e6, 1e13, n)
    moved = rng.uniform(1e4, 1e10, n)
    peak = h100.peak_flops_per_s("bf16")
    bw = float(h100.memory_bandwidth.m)
    t = per_call(
        lambda: roofline_array(
            flops, moved, peak, bw, compute_efficiency=0.7, memory_efficiency=0.9
        ),
        repeat=5,
        number=5,
    )
    print(f"roofline_array, {n:,} cases:            {t * 1e3:8.2f} ms")

    m = rng.integers(1, 65536, n)
    nn = rng.integers(128, 65536, n)
    k = rng.integers(128, 65536, n)
    t = per_call(lambda: gemm_roofline_array(m, nn, k, h100, "bf16"), repeat=5, number=5)
    print(f"gemm_roofline_array, {n:,} shapes:      {t * 1e3:8.2f} ms")

    model = bm.catalog.model("llama3-405b")
    counter = iter(range(1, 10**9))

    def cold_layer() -> object:
        return layer_operators(
            model, phase="forward", batch=1, seq_len=8192 + next(counter), tp=8, cp=1
        )

    t = per_call(cold_layer, repeat=3, number=200)
    print(f"layer_operators, llama3-405b (uncached):  {t * 1e6:8.2f} µs")
    t = per_call(lambda: layer_operators(model, phase="forward", batch=1, seq_len=8192, tp=8))
    print(f"layer_operators, llama3-405b (cached):    {t * 1e6:8.2f} µs")
    dsv3 = bm.catalog.model("deepseek-v3")

    def cold_model() -> object:
        return model_operators(
            dsv3, phase="backward", batch=1, seq_len=4096 * next(counter), tp=8, ep=8
        )

    t = per_call(cold_model, repeat=3, number=50)
    print(f"model_operators, deepseek-v3 bwd (uncached): {t * 1e6:8.2f} µs")
    t = per_call(lambda: model_operators(dsv3, phase="backward", batch=1, seq_len=4096, tp=8, ep=8))
    print(f"model_operators, deepseek-v3 bwd (cached):   {t * 1e6:8.2f} µs")
    ops = model_operators(model, phase="forward", batch=1, seq_len=8192, tp=8).all()
    t = per_call(lambda: [roofline(o, h100) for o in ops], repeat=3, number=20)
    print(f"roofline of all {len(ops)} ops of llama3-405b fwd: {t * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
