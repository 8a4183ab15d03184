"""Cost of building and changing parts (issue: constructing from Quantities stays cheap).

Run: ``python benchmarks/bench_parts.py``.  Prints microseconds per operation.
"""

from __future__ import annotations

import timeit

import attrs

import blackwell_model as bm


def per_call_us(fn, number: int = 2000) -> float:
    """Best of five repeats, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    h100 = bm.catalog.accelerator("H100-SXM")
    link = bm.catalog.link("NVLink4")
    q_fields = {
        "memory_capacity": bm.Q_(80.0, "GB"),
        "memory_bandwidth": bm.Q_(3.35, "TB/s"),
        "tdp": bm.Q_(700.0, "W"),
    }
    peaks_q = {"bf16": bm.Q_(989.4, "TFLOP/s"), "fp8": bm.Q_(1978.9, "TFLOP/s")}
    peaks_s = {"bf16": "989.4 TFLOP/s", "fp8": "1978.9 TFLOP/s"}

    def from_quantities() -> None:
        bm.Accelerator(
            name="x", peak_flops=peaks_q, scale_up_link=link, scale_up_ports=18, **q_fields
        )

    def from_strings() -> None:
        bm.Accelerator(
            name="x",
            peak_flops=peaks_s,
            memory_capacity="80 GB",
            memory_bandwidth="3.35 TB/s",
            tdp="700 W",
            scale_up_link=link,
            scale_up_ports=18,
        )

    new_bw = bm.Q_(4.8, "TB/s")
    data = h100.to_dict()
    rack = bm.catalog.system("GB200-NVL72")
    rows = [
        ("Accelerator(...) from Quantities", per_call_us(from_quantities)),
        ("Accelerator(...) from strings", per_call_us(from_strings)),
        (
            "attrs.evolve(h100, memory_bandwidth=Q)",
            per_call_us(lambda: attrs.evolve(h100, memory_bandwidth=new_bw)),
        ),
        (
            "LinkSpec(...) from strings",
            per_call_us(
                lambda: bm.LinkSpec(name="l", kind="nvlink", bandwidth="50 GB/s", latency="0.6 us")
            ),
        ),
        (
            "Accelerator.from_dict(h100.to_dict())",
            per_call_us(lambda: bm.Accelerator.from_dict(data), 500),
        ),
        ("attrs.evolve(GB200-NVL72, nodes=18)", per_call_us(lambda: attrs.evolve(rack, nodes=18))),
        (
            "catalog.cluster('GB200-NVL72', gpus=16384)",
            per_call_us(lambda: bm.catalog.cluster("GB200-NVL72", gpus=16384), 200),
        ),
        (
            "h100.peak_flops_per_s('bf16') (solver read)",
            per_call_us(lambda: h100.peak_flops_per_s("bf16"), 20000),
        ),
        (
            "h100.memory_bandwidth.m (solver read)",
            per_call_us(lambda: h100.memory_bandwidth.m, 20000),
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print("Part construction cost (best of 5, one core)")
    for name, us in rows:
        print(f"  {name:<{width}}  {us:9.2f} us")


if __name__ == "__main__":
    main()
