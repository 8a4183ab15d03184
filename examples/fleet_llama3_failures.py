"""Predicted interruptions of Llama 3 405B on 16,384 H100 for 54 days, by part.

Run: ``python examples/fleet_llama3_failures.py``.  Prints the expected
interruptions of each part over the 54-day snapshot of the Llama 3 paper
(arXiv:2407.21783, sec. 3.3.4, Table 5), the paper's counts for the nearest
categories, and the goodput.  The prediction uses the shipped failure rates
(none taken from the paper); the case supplies the machine, the model size,
Meta's storage bandwidth (2 TB/s) and the operator's 47 planned interruptions.
"""

from __future__ import annotations

import blackwell_model as bm
from blackwell_model.solvers.reliability import CheckpointModel, ReliabilityModel, job_goodput

DAYS = 54
# Llama 3 paper Table 5, grouped by the part that failed (419 unexpected in all;
# software bugs, NCCL watchdog timeouts and dependencies are not a hardware part)
PUBLISHED = {
    "gpu": 148 + 19 + 17 + 6 + 6,  # faulty GPU, SRAM, GPU system processor, SDC, thermal
    "hbm": 72,
    "network (links, switches, NICs)": 35 + 7,
    "host": 32 + 3 + 3 + 2 + 2 + 2 + 2,  # maintenance, SSD, PSU, chassis, IO board, CPU, DRAM
    "software and unknown": 54 + 7 + 2,
    "planned": 47,
}
GROUP = {
    "gpu": "gpu",
    "hbm": "hbm",
    "nic_link": "network (links, switches, NICs)",
    "fabric_link": "network (links, switches, NICs)",
    "fabric_switch": "network (links, switches, NICs)",
    "scale_up_switch": "network (links, switches, NICs)",
    "host": "host",
    "cooling": "host",
    "planned": "planned",
}


def main() -> None:
    cluster = bm.catalog.cluster("DGX-H100", gpus=16384)
    rel = ReliabilityModel(
        checkpoint=CheckpointModel(storage_bandwidth="2 TB/s", storage_read_bandwidth="2 TB/s"),
        planned_per_day=47 / DAYS,
    )
    params = float(bm.catalog.model("llama3-405b").total_params)
    rep = job_goodput(cluster, 16384, parameters=params, reliability=rel)
    predicted = dict.fromkeys(PUBLISHED, 0.0)
    for part, n in rep.interruptions(f"{DAYS} d").items():
        predicted[GROUP[part]] += n
    print(f"{'interruptions in 54 days':<34} {'predicted':>9} {'Llama 3':>8}")
    for k, published in PUBLISHED.items():
        print(f"{k:<34} {predicted[k]:>9.0f} {published:>8}")
    print(f"{'total':<34} {sum(predicted.values()):>9.0f} {sum(PUBLISHED.values()):>8}")
    hw = sum(v for k, v in predicted.items() if k not in ("planned", "software and unknown"))
    print(f"{'hardware (paper: ~78 % of 419)':<34} {hw:>9.0f} {0.78 * 419:>8.0f}")
    print(f"\ngoodput {rep.goodput:.1%} (paper: 'higher than 90 % effective training time')")
    print(rep.summary())


if __name__ == "__main__":
    main()
