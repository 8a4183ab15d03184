"""Choosing a layout: Llama 3.1 405B on four GB200 NVL72 racks (288 GPUs).

Run: ``python examples/tutorial_choose_layout.py`` (about a second).

The question
    Which tensor (tp), context (cp), pipeline (pp, vpp) and data (dp)
    parallel degrees, micro-batch and recomputation should a 405B
    pre-training job use on 288 GB200 GPUs, with 576 sequences of 8,192
    tokens per step?  And what does it cost to give up a technique your
    framework or your team does not support?

What the script does
    1. Runs ``bm.search_layouts`` over every candidate and prints its summary:
       how many candidates were tried, why the rejected ones were rejected,
       and the ten fastest.
    2. Picks the fastest layout that leaves 15 % of HBM free, because the
       memory model cannot know every buffer of a real framework.
    3. Re-runs the search with one axis restricted at a time and prints what
       each restriction costs in step time.
    4. Checks two hand-written layouts with ``bm.predict_training``: one that
       runs and one that does not fit, to show the error you get.

How to read the answer
    Many layouts are within 1-2 % of each other: the model's ranking among
    them is within its error (see the validation page).  Choose among the
    near-ties on memory headroom and on what your framework does well, and
    treat restrictions that cost more than ~5 % as worth engineering effort.
"""

from __future__ import annotations

import blackwell_model as bm
from blackwell_model.units import format_quantity

MODEL = bm.catalog.model("llama3-405b")
CLUSTER = bm.catalog.cluster("GB200-NVL72", gpus=288)  # 4 racks on an InfiniBand fat-tree
BATCH = {"global_batch": 576, "seq_len": 8192}  # 4.7M tokens per step
HEADROOM = 0.15  # keep 15 % of HBM free


def describe(row: dict) -> str:
    """One line for a layout: a result row (SearchResult.row, to_records) or Layout.to_dict()."""
    return (
        f"tp{row['tp']} cp{row['cp']} pp{row['pp']} vpp{row['vpp']} dp{row['dp']} "
        f"mb{row['micro_batch']} recompute={row['recompute']} zero={row['zero']}"
    )


def main() -> None:
    # 1. The full search: every combination of the default axes.
    res = bm.search_layouts(MODEL, CLUSTER, top=None, **BATCH)
    print(res.summary(10))
    print()

    # 2. The fastest layout with memory headroom.  Rows are ranked by step time;
    #    to_records() gives plain dicts with the layout, step time, memory and breakdown.
    capacity = res.memory_capacity_B
    rows = res.to_records()
    fastest = rows[0]
    safe = next(r for r in rows if r["memory_B"] <= (1 - HEADROOM) * capacity)
    print(f"Fastest:              {describe(fastest)}")
    print(
        f"  step {fastest['step_time_s']:.2f} s, memory {fastest['memory_B'] / 1e9:.0f} GB "
        f"of {capacity / 1e9:.0f} GB ({fastest['memory_B'] / capacity:.0%})"
    )
    print(f"Fastest with {HEADROOM:.0%} free: {describe(safe)}")
    print(
        f"  step {safe['step_time_s']:.2f} s (+{safe['step_time_s'] / fastest['step_time_s'] - 1:.1%}), "
        f"memory {safe['memory_B'] / 1e9:.0f} GB ({safe['memory_B'] / capacity:.0%})"
    )
    within = sum(r["step_time_s"] <= 1.02 * fastest["step_time_s"] for r in rows)
    print(f"{within} of {len(rows)} feasible layouts are within 2 % of the fastest.\n")

    # 3. What does each restriction cost?  Fix or narrow one axis and search again.
    #    The last rows widen the search instead: by default it tries ZeRO-1 only.
    changes = {
        "none (the search above)": {},
        "tp <= 4 (one compute tray)": {"tp": (1, 2, 4)},
        "no context parallelism": {"cp": 1},
        "no interleaved pipeline": {"vpp": 1},
        "no pipeline parallelism": {"pp": 1},
        "full recomputation only": {"recompute": "full"},
        "wider: ZeRO 0-3 (3 = FSDP)": {"zero": (0, 1, 2, 3)},
    }
    print(f"{'search':<32} {'feasible':>8}  {'best step':>10} {'change':>7}  best layout")
    for label, axes in changes.items():
        r = bm.search_layouts(MODEL, CLUSTER, top=1, **BATCH, **axes)
        if not len(r):
            print(f"{label:<32} {r.feasible:>8}  {'-':>10} {'-':>7}  (nothing fits)")
            continue
        row = r.row(0)
        change = row["step_time_s"] / fastest["step_time_s"] - 1
        print(
            f"{label:<32} {r.feasible:>8}  {row['step_time_s']:>8.2f} s {change:>+7.1%}  "
            f"{describe(row)}"
        )
    print()

    # 4. Check layouts you already have in mind.
    mine = bm.Layout(tp=8, pp=9, dp=4, vpp=2, recompute="selective", **BATCH)
    report = bm.predict_training(MODEL, CLUSTER, mine)
    print(f"Hand-written layout {describe(mine.to_dict())}:")
    print(
        f"  step {format_quantity(report.step_time)}, MFU {report.mfu:.1%}, "
        f"memory {format_quantity(report.memory_per_gpu)}"
    )
    too_big = bm.Layout(tp=4, pp=2, dp=36, **BATCH)
    try:
        bm.predict_training(MODEL, CLUSTER, too_big)
    except bm.InfeasibleLayoutError as err:  # the rule and a message with the numbers
        print(f"Hand-written layout {describe(too_big.to_dict())}: infeasible, rule {err.rule!r}")
        print(f"  {err}")


if __name__ == "__main__":
    main()
