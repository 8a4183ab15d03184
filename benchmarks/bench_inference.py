"""Benchmark: a full latency/throughput sweep of one deployment (target: < 1 s).

Run ``python benchmarks/bench_inference.py``.  Prints the time of a cold sweep
(operator tables built) and of warm sweeps reusing the solver's caches.
"""

from __future__ import annotations

import time

import blackwell_model as bm
from blackwell_model.parallel.inference import InferenceLayout
from blackwell_model.predict.inference import inference_sweep
from blackwell_model.solvers.serving import ServingSolver

CASES = [
    ("llama3-70b", "DGX-H100", 8, InferenceLayout(tp=8), "fp8"),
    ("deepseek-v3", "DGX-H200", 8, InferenceLayout(tp=1, dp=8, ep=8), "fp8"),
    ("llama3-405b", "GB200-NVL72", 72, InferenceLayout(tp=8, dp=9), "fp4"),
]


def main() -> None:
    for name, system, gpus, layout, precision in CASES:
        model = bm.catalog.model(name)
        cluster = bm.catalog.cluster(system, gpus=gpus)
        for static in (False, True):
            t0 = time.perf_counter()
            solver = ServingSolver(model, cluster, layout, precision)
            curve = inference_sweep(
                model,
                cluster,
                layout,
                input_tokens=1000,
                output_tokens=1000,
                precision=precision,
                static=static,
                solver=solver,
            )
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            n = 10
            for _ in range(n):
                inference_sweep(
                    model,
                    cluster,
                    layout,
                    input_tokens=1000,
                    output_tokens=1000,
                    precision=precision,
                    static=static,
                    solver=solver,
                )
            warm = (time.perf_counter() - t0) / n
            mode = "static" if static else "continuous"
            print(
                f"{name:12s} {system:12s} {mode:10s} {len(curve):3d} points up to batch "
                f"{curve.max_batch:5d}: cold {cold * 1e3:7.1f} ms, warm {warm * 1e3:6.1f} ms"
            )


if __name__ == "__main__":
    main()
