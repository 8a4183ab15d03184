"""Build time, peak memory and query times of topology graphs.

Run ``python benchmarks/bench_topology.py`` (add ``--gpus 100000 4096`` to
choose the sizes, ``--tracemalloc`` to count Python allocations instead of
the resident set).  Prints, per cluster: build time, peak memory, nodes,
edges, and the time of a group-span query, a bisection and pair queries.

A 100,000-GPU GB200 NVL72 cluster needs more than the 65,536 NIC ports a
3-tier fat-tree of 64-port Quantum-2 switches reaches, so the large case uses
a 128 x 400 Gb/s switch (Spectrum-4 class, 51.2 Tb/s) at 3 tiers.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import blackwell_model as bm
from blackwell_model import topology as topo
from blackwell_model.hardware import Fabric, SwitchSpec

__all__ = ["bench", "main"]

SWITCH_128 = SwitchSpec(
    name="128x400G",
    kind="ethernet",
    ports=128,
    port_bandwidth="400 Gb/s",
    latency="300 ns",
    in_network_reduction="",
    notes="Spectrum-4 class, 51.2 Tb/s as 128 x 400 Gb/s (benchmark part).",
)


def _cluster(gpus: int) -> bm.Cluster:
    try:
        return bm.catalog.cluster("GB200-NVL72", gpus=gpus)
    except bm.SpecError:
        fabric = Fabric(name="128-port fat-tree", switch=SWITCH_128, tiers=3, sharp=False)
        return bm.catalog.cluster("GB200-NVL72", gpus=gpus, fabric=fabric, tiers=3)


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _time(fn: Callable[[], Any], repeat: int = 20) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def bench(gpus: int, *, use_tracemalloc: bool) -> None:
    cluster = _cluster(gpus)
    fab = cluster.fabric
    gc.collect()
    rss0 = _maxrss_bytes()
    if use_tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    g = topo.to_graph(cluster)
    build_s = time.perf_counter() - t0
    if use_tracemalloc:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        mem = f"peak traced {peak / 1e9:.2f} GB"
    else:
        mem = f"peak RSS +{(_maxrss_bytes() - rss0) / 1e9:.2f} GB (process {_maxrss_bytes() / 1e9:.2f} GB)"
    dev = topo.devices(g)
    per = cluster.domain.gpus
    tp = dev[:per]  # one NVL72 domain
    dp = dev[::per]  # one GPU per domain
    half = dev[: len(dev) // 2]
    print(
        f"\n{cluster.name}: {cluster.gpus:,} GPUs, {fab.tiers}-tier fat-tree of "
        f"{fab.switch.ports}-port {fab.switch.name}"
        if fab
        else cluster.name
    )
    print(f"  build           {build_s:8.2f} s   {mem}")
    print(f"  graph           {g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges")
    for label, group in [
        ("span, 72 (domain)", tp),
        (f"span, {len(dp)} (DP)", dp),
        (f"span, {len(half):,} (half)", half),
        (f"span, {len(dev):,} (all)", dev),
    ]:
        ms = _time(
            lambda grp=group: topo.group_span(g, grp), repeat=5 if len(group) > 10000 else 20
        )
        print(f"  group_span {label:<22} {ms * 1e3:8.3f} ms")
    ms = _time(lambda: topo.bisection_bandwidth(g), repeat=3)
    print(
        f"  bisection (all)                   {ms * 1e3:8.3f} ms   "
        f"= {topo.bisection_bandwidth(g) / 1e12:.1f} TB/s"
    )
    for label, (a, b) in [
        ("same domain", (dev[0], dev[per - 1])),
        ("across the fabric", (dev[0], dev[-1])),
    ]:
        bw = _time(lambda a=a, b=b: topo.path_bandwidth(g, a, b), repeat=5)
        lat = _time(lambda a=a, b=b: topo.path_latency(g, a, b), repeat=5)
        print(
            f"  path_bandwidth {label:<18} {bw * 1e3:8.3f} ms   "
            f"= {topo.path_bandwidth(g, a, b) / 1e9:.0f} GB/s"
        )
        print(
            f"  path_latency   {label:<18} {lat * 1e3:8.3f} ms   "
            f"= {topo.path_latency(g, a, b) * 1e6:.2f} us"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpus", type=int, nargs="+", default=[4096, 100_000])
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="measure traced Python allocations (slower) instead of RSS",
    )
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, networkx {__import__('networkx').__version__}")
    for gpus in args.gpus:
        bench(gpus, use_tracemalloc=args.tracemalloc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
