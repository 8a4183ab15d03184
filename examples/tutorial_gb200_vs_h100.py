"""GB200 NVL72 vs DGX H100: the same Llama 3.1 405B pre-training on 4,608 GPUs of each.

Run: ``python examples/tutorial_gb200_vs_h100.py`` (about a second; with
matplotlib installed it also writes ``gb200_vs_h100.png`` into the current
directory).

The question
    You can buy 4,608 GPUs: 576 DGX H100 servers (8 GPUs per NVLink domain)
    or 64 GB200 NVL72 racks (72 GPUs per NVLink domain).  How much faster
    does Llama 3.1 405B pre-train on one than on the other, where does the
    difference come from, and what does a token cost in energy?

What the script does
    1. Prints the parts that matter side by side.
    2. Searches every parallel layout on both clusters with the same
       recipe (2,048 sequences of 8,192 tokens per step, BF16) and keeps the
       fastest one that fits in memory on each.
    3. Prints the step-time breakdown of both winners.
    4. Runs the H100 winner's layout on GB200, to separate what the hardware
       gives from what a better layout gives.
    5. Multiplies the step out to a 15.6T-token run at 90 % goodput.
    6. Draws the two breakdowns as bars (if matplotlib is installed).

How to read the answer
    The ratio of tokens/s per GPU is the speed-up per GPU at equal count.
    The breakdown says why: ``compute`` follows the dense BF16 peak
    (2.5 vs 0.99 PFLOP/s) and the GEMM efficiency; the ``*_comm`` rows are
    communication the schedule could not hide.  Absolute MFU is what the
    calibrated model predicts for a well-tuned Megatron-style run; ratios
    between systems are more robust than the absolute figures (see the
    validation page).
"""

from __future__ import annotations

import blackwell_model as bm
from blackwell_model.units import format_quantity

GPUS = 4608  # 576 DGX H100 = 64 GB200 NVL72 racks: both divide evenly
GLOBAL_BATCH = 2048  # sequences per step: 16.8M tokens, Meta's main-stage batch
SEQ_LEN = 8192
RUN_TOKENS = 15.6e12  # Llama 3.1 405B's pre-training budget
GOODPUT = 0.9  # fraction of wall time making progress (Meta reports > 90 %)

SYSTEMS = ("DGX-H100", "GB200-NVL72")


def hardware_table() -> None:
    """The per-GPU figures that decide the comparison."""
    rows = []
    for name in SYSTEMS:
        system = bm.catalog.system(name)
        acc = system.accelerator
        rows.append(
            (
                name,
                acc.name,
                format_quantity(acc.peak("bf16").to("PFLOP/s")),
                format_quantity(acc.memory_capacity.to("GB")),
                format_quantity(acc.memory_bandwidth.to("TB/s")),
                str(system.gpus),
                format_quantity(system.scale_up_bandwidth.to("GB/s")),
                format_quantity(acc.tdp.to("W")),
            )
        )
    header = ("system", "GPU", "BF16 dense", "HBM", "HBM BW", "NVLink GPUs", "NVLink/GPU", "TDP")
    print_table(header, rows)


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print rows under a header, first column left-aligned, the rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [f"{row[0]:<{widths[0]}}"]
        cells += [f"{c:>{w}}" for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells))
    print()


def main() -> None:
    model = bm.catalog.model("llama3-405b")
    print(f"Llama 3.1 405B on {GPUS:,} GPUs, {GLOBAL_BATCH} x {SEQ_LEN} tokens per step, BF16\n")

    print("1. The parts (NVLink bandwidth per GPU, one direction)")
    hardware_table()

    # 2. One layout search per cluster.  search_many runs them in turn (pass
    #    executor= to run them in parallel) and returns {label: SearchResult}.
    clusters = {name: bm.catalog.cluster(name, gpus=GPUS) for name in SYSTEMS}
    results = bm.search_many(model, clusters, global_batch=GLOBAL_BATCH, seq_len=SEQ_LEN, top=5)
    print("2. Fastest layout that fits, per system")
    print(bm.study.comparison(results))
    print()

    best = {name: results[name].best for name in SYSTEMS}  # TrainingReport of each winner
    h100, gb200 = best["DGX-H100"], best["GB200-NVL72"]
    speedup = gb200.tokens_per_second_per_gpu / h100.tokens_per_second_per_gpu
    print(f"GB200 NVL72 trains {speedup.m:.2f}x as many tokens per second per GPU.\n")

    # 3. Where the time goes.  The parts add up to the step time.
    print("3. Step-time breakdown of each winner")
    rows = []
    for part in h100.breakdown:
        a, b = h100.breakdown[part], gb200.breakdown[part]
        if a.m or b.m:
            rows.append((part, format_quantity(a.to("ms")), format_quantity(b.to("ms"))))
    rows.append(("step", format_quantity(h100.step_time), format_quantity(gb200.step_time)))
    print_table(("part", "DGX-H100", "GB200-NVL72"), rows)

    # 4. Hardware or layout?  Run the H100's winning layout on GB200 as well.
    same = bm.predict_training(model, clusters["GB200-NVL72"], h100.layout)
    print("4. GB200 NVL72 with the H100's layout", _layout(h100.layout))
    print(
        f"   step {format_quantity(same.step_time)}, MFU {same.mfu:.1%}: "
        f"{(h100.step_time / same.step_time).m:.2f}x the H100 from the hardware alone, "
        f"{(same.step_time / gb200.step_time).m:.2f}x more from its own layout "
        f"{_layout(gb200.layout)}\n"
    )

    # 5. A whole run: days, GPU-hours and energy (facility energy, PUE included).
    print(f"5. A {RUN_TOKENS / 1e12:.1f}T-token run at {GOODPUT:.0%} goodput")
    rows = []
    for name in SYSTEMS:
        run = bm.predict_training_run(
            model,
            clusters[name],
            best[name].layout,
            tokens=RUN_TOKENS,
            goodput=GOODPUT,
            report=best[name],  # reuse the step already predicted
        )
        rows.append(
            (
                name,
                f"{run.days:,.0f}",
                f"{run.gpu_hours / 1e6:,.1f} M",
                f"{run.mwh:,.0f}",
                format_quantity(best[name].energy_per_token),
                format_quantity(best[name].average_power.to("MW")),
            )
        )
    print_table(("system", "days", "GPU-hours", "MWh", "energy/token", "avg power"), rows)

    draw(best)


def _layout(layout: bm.Layout) -> str:
    return f"(tp{layout.tp} cp{layout.cp} pp{layout.pp} vpp{layout.vpp} dp{layout.dp})"


def draw(best: dict[str, bm.TrainingReport], path: str = "gb200_vs_h100.png") -> None:
    """Stacked bars of the two step-time breakdowns; skipped without matplotlib."""
    try:
        ax = bm.plot.breakdown_bars(best)  # one bar per report, labelled by the keys
    except ImportError as err:  # blackwell_model.plot needs the plot extra
        print(err)
        return
    ax.set_title(f"Llama 3.1 405B, {GPUS:,} GPUs, {GLOBAL_BATCH} x {SEQ_LEN} tokens per step")
    ax.figure.savefig(path, dpi=120)
    print(f"figure written to {path}")


if __name__ == "__main__":
    main()
