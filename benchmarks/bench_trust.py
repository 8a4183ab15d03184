"""Trust tools: interval coverage on the shipped cases, and what they cost.

Run with ``python benchmarks/bench_trust.py`` (about 10 s).  Prints

* the leave-one-out coverage of ``interval(level)`` over the shipped training
  and serving cases, at levels 0.5, 0.8 and 0.9, per comparable group (each
  case's interval is built from the residuals of all the others);
* the stored calibrate-per-generation table (``python -m
  blackwell_model.trust.check --holdout`` recomputes it, about 2.5 min);
* the cost of ``report.interval()``, ``report.evidence()``,
  ``report.sensitivity()`` and of ``bm.calibrate`` on the example manifest.
"""

from __future__ import annotations

import time
from pathlib import Path

import blackwell_model as bm
from blackwell_model.trust.check import format_coverage, load_holdout

MANIFEST = (
    Path(__file__).resolve().parent.parent / "examples" / "measurements" / "h100_cluster.toml"
)


def timed(label: str, fn, number: int = 1) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    dt = (time.perf_counter() - t0) / number
    print(f"  {label:<50} {dt * 1e3:9.1f} ms")


def main() -> None:
    for level in (0.5, 0.8, 0.9):
        print(format_coverage(level))
    print("\ncalibrate on half of a generation's training cases, predict the other half")
    print(f"  {'generation':<10} {'fit':>4} {'test':>4} {'median default':>15} {'calibrated':>11}")
    for r in load_holdout():
        print(
            f"  {r['generation']:<10} {r['fit_cases']:>4} {r['test_cases']:>4} "
            f"{r['median_default']:>15.1%} {r['median_calibrated']:>11.1%}"
        )
    print("\ncost")
    cluster = bm.catalog.cluster("DGX-H100", gpus=64)
    layout = bm.Layout(tp=4, pp=4, dp=4, global_batch=128, seq_len=8192, recompute="full")
    rep = bm.predict_training("llama3-70b", cluster, layout)
    timed("report.interval(0.8)", lambda: rep.interval(0.8), number=200)
    timed("report.evidence()", rep.evidence, number=200)
    timed("report.sensitivity() (training, 28 figures)", rep.sensitivity, number=3)
    serve = bm.predict_inference(
        "llama3-70b", bm.catalog.cluster("DGX-H100", gpus=8), bm.InferenceLayout(tp=8),
        batch=32, input_tokens=1000, output_tokens=500, precision="fp8",
    )  # fmt: skip
    timed("report.sensitivity() (serving)", serve.sensitivity, number=3)
    timed(f"bm.calibrate({MANIFEST.name}) (92 measurements)", lambda: bm.calibrate(MANIFEST))


if __name__ == "__main__":
    main()
