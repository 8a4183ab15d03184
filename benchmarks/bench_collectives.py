"""Cost of the collective solver: scalar calls and 100,000-case vectorised calls.

Run with ``python benchmarks/bench_collectives.py``.
"""

from __future__ import annotations

import timeit

import numpy as np

from blackwell_model.solvers._collective_model import build_plans
from blackwell_model.solvers.collectives import (
    BLACKWELL,
    HOPPER,
    Collective,
    applicable_algorithms,
    collective,
    collective_time,
)
from blackwell_model.topology.span import GroupSpan, SpanLevel

NVLINK4 = SpanLevel(
    name="scale_up",
    fanout=8,
    bandwidth_Bps=450e9,
    latency_s=0.6e-6,
    in_network_reduction="NVLS",
    links=18,
)
SPANS = {
    "DGX-H100 x1 (8 GPUs)": GroupSpan(devices=8, levels=(NVLINK4,)),
    "DGX-H100 x128 (1024 GPUs)": GroupSpan(
        devices=1024,
        levels=(
            NVLINK4,
            SpanLevel(
                name="leaf",
                fanout=32,
                bandwidth_Bps=50e9,
                latency_s=2.9e-6,
                in_network_reduction="SHARPv3",
            ),
            SpanLevel(
                name="pod",
                fanout=4,
                bandwidth_Bps=50e9,
                latency_s=3.3e-6,
                in_network_reduction="SHARPv3",
            ),
        ),
    ),
    "GB200-NVL72 (72 GPUs)": GroupSpan(
        devices=72,
        levels=(
            SpanLevel(
                name="scale_up",
                fanout=72,
                bandwidth_Bps=900e9,
                latency_s=0.6e-6,
                in_network_reduction="NVLS",
                links=18,
            ),
        ),
    ),
}


def per_call_us(fn, number: int = 20_000) -> float:  # type: ignore[no-untyped-def]
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    span = SPANS["DGX-H100 x128 (1024 GPUs)"]
    print("scalar calls (span level, cached plans)")
    cases = {
        "collective_time all_reduce auto": lambda: collective_time("all_reduce", span, 1e9),
        "collective_time all_reduce ring": lambda: collective_time(
            "all_reduce", span, 1e9, algorithm="ring"
        ),
        "collective (full result)": lambda: collective("all_reduce", span, 1e9),
        "collective_time all_to_all": lambda: collective_time("all_to_all", span, 1e9),
    }
    for label, fn in cases.items():
        print(f"  {label:<34}: {per_call_us(fn):6.2f} us")
    build = per_call_us(lambda: build_plans(Collective.ALL_REDUCE, span, HOPPER), 2000)
    print(f"  {'first call on a new span (uncached)':<34}: {build:6.2f} us")

    sizes = np.logspace(0, 11, 100_000)
    for op in ("all_reduce", "all_gather", "all_to_all"):
        collective_time(op, span, sizes)
        best = (
            min(timeit.repeat(lambda op=op: collective_time(op, span, sizes), number=10, repeat=5))
            / 10
        )
        print(
            f"vectorised {op:<14} 100,000 sizes: {best * 1e3:7.2f} ms "
            f"({len(applicable_algorithms(op, span))} algorithms compared)"
        )

    print("\nall-reduce at 1 GiB (busbw, GB/s)")
    for name, sp in SPANS.items():
        eff = BLACKWELL if "GB200" in name else None
        row = {
            a: collective("all_reduce", sp, 2**30, algorithm=a, efficiency=eff).busbw_Bps / 1e9
            for a in applicable_algorithms("all_reduce", sp)
        }
        auto = collective("all_reduce", sp, 2**30, efficiency=eff)
        cells = ", ".join(f"{a} {v:.0f}" for a, v in row.items())
        print(f"  {name:<26} auto={auto.algorithm} {auto.busbw_Bps / 1e9:.0f} | {cells}")


if __name__ == "__main__":
    main()
