"""The issue's scale figures on a 100,008-GPU GB200 NVL72 cluster (slow: ~10 s).

The benchmark (benchmarks/bench_topology.py) prints the figures; this test
guards the thresholds of the issue: build in under 30 s, a group span in
under 10 ms.
"""

from __future__ import annotations

import time

import pytest

import blackwell_model as bm
from blackwell_model.hardware import Fabric, SwitchSpec
from blackwell_model.topology import devices, group_span, to_graph


@pytest.mark.slow
def test_100k_gpu_cluster_builds_and_answers_spans_fast() -> None:
    switch = SwitchSpec(
        name="128x400G", kind="ethernet", ports=128, port_bandwidth="400 Gb/s", latency="300 ns"
    )
    fabric = Fabric(name="ft128", switch=switch, tiers=3, sharp=False)
    cluster = bm.catalog.cluster("GB200-NVL72", gpus=100_000, fabric=fabric, tiers=3)
    assert cluster.domains == 1389  # ceil(100,000 / 72)
    t0 = time.perf_counter()
    g = to_graph(cluster)
    assert time.perf_counter() - t0 < 30.0
    nvlink = sum(1 for _, _, p in g.edges(data="plane") if p == "scale_up")
    assert nvlink == 1389 * 72 * 18 * 2  # one link to each of 18 chips, both directions
    dev = devices(g)
    for group in (dev[:72], dev[::72], dev[:4096]):
        t0 = time.perf_counter()
        group_span(g, group)
        assert time.perf_counter() - t0 < 0.010
