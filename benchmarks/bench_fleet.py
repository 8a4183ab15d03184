"""Time to plan a 100,000-GPU fleet, and the plan's figures.

Run ``python benchmarks/bench_fleet.py`` (``--gpus 100000`` by default,
``--repeat`` runs to take the median of).  Prints the time of each piece --
sizing the racks a power budget allows, the goodput model of one job across
the fleet, and a whole plan (racks, cooling, a Llama 3.1 405B run with
modelled goodput and stragglers, three ways of paying) -- then the plan's
figures for GB200 NVL72 (liquid) and DGX H100 (air) fleets.

A 100,000-GPU fleet needs more NIC ports than a 3-tier fat-tree of 64-port
NDR switches reaches (65,536), so the plan uses the XDR fabric (144-port
Quantum-X800) for both systems.  The memory check is off: the training memory
model puts this Llama 3.1 405B layout at ~95 GB per H100 where Meta's run fit
in 80 GB (see ``tests/energy/test_llama3_405b_run.py``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import blackwell_model as bm
from blackwell_model.solvers.reliability import job_goodput
from blackwell_model.solvers.site import domains_within_power

__all__ = ["main"]

FABRIC = "IB-XDR-fat-tree"
COSTS = bm.CostOptions(
    tariff="0.08 USD/kWh",
    system_price="3.5e6 USD",  # assumption: an NVL72 rack, all-in
    network_price_per_gpu="5000 USD",  # assumption
    facility_price="1500 USD/(kW*yr)",  # assumption
    gpu_hour_price="3 USD/h",  # assumption: a GB200 cloud price
)
H100_COSTS = bm.CostOptions(
    tariff="0.08 USD/kWh",
    system_price="300000 USD",  # assumption: a DGX H100-class server
    network_price_per_gpu="4000 USD",
    facility_price="1500 USD/(kW*yr)",
    gpu_hour_price="2 USD/h",
)


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    runs = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), out


def _layout(gpus: int, domain: int) -> bm.Layout:
    """Llama 3.1 405B, TP 8 x PP 16, as many data-parallel replicas as fit."""
    dp = gpus // 128
    return bm.Layout(tp=8, pp=16, dp=dp, vpp=4, micro_batch=1, global_batch=16 * dp, seq_len=8192)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpus", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    print(f"Fleet plan benchmark: {args.gpus:,} GPUs, median of {args.repeat} runs\n")
    tokens = 15e12
    for system, costs in (("GB200-NVL72", COSTS), ("DGX-H100", H100_COSTS)):
        dom = bm.catalog.system(system)
        t_cluster, cluster = _time(
            lambda s=system: bm.catalog.cluster(s, gpus=args.gpus, fabric=FABRIC), args.repeat
        )
        t_budget, racks = _time(lambda c=cluster: domains_within_power(c, "150 MW"), args.repeat)
        t_goodput, gp = _time(
            lambda c=cluster: job_goodput(c, c.gpus, parameters=405e9), args.repeat
        )
        layout = _layout(cluster.gpus, dom.gpus)

        def plan(s: str = system, lay: bm.Layout = layout, c: Any = costs) -> bm.FleetPlan:
            return bm.plan_fleet(
                s, gpus=args.gpus, fabric=FABRIC, model="llama3-405b", layout=lay,
                tokens=tokens, costs=c, check_memory=False,
            )  # fmt: skip

        t_plan, p = _time(plan, args.repeat)
        print(f"{system}")
        print(f"  build the {cluster.gpus:,}-GPU cluster      {t_cluster * 1e3:8.1f} ms")
        print(f"  racks a 150 MW budget runs ({racks:,})    {t_budget * 1e3:8.1f} ms")
        print(f"  goodput model of a fleet-wide job     {t_goodput * 1e3:8.1f} ms")
        print(f"  whole plan (step, run, goodput, cost) {t_plan * 1e3:8.1f} ms")
        print(
            f"  fleet-wide job: {gp.interruptions_per_day:,.1f} interruptions/day, "
            f"MTTI {gp.mtti.m / 60:,.0f} min, goodput {gp.goodput:.1%}, "
            f"stragglers +{gp.straggler_slowdown - 1:.1%}, "
            f"{gp.gpus_in_repair:,.0f} GPUs in repair"
        )
        print("  " + p.summary().replace("\n", "\n  "))
        print()


if __name__ == "__main__":
    main()
