"""One GB200 NVL72 rack shared between fine-tuning Llama 3 70B and serving it.

Run: ``python examples/tutorial_partition_rack.py`` (about a second).

The question
    A team has one GB200 NVL72 rack (72 GPUs in 18 four-GPU trays).  It must
    serve Llama 3 70B to its users at a steady 60 requests per second and,
    on what is left, fine-tune the same model on 2 billion tokens as fast as
    possible.  How many trays should each side get, what does each side
    deliver, and do the two reports add up to the rack?

Assumptions
    * The rack is split on whole trays; a tenant's tensor-parallel group never
      leaves the rack (``bm.partition`` checks both).
    * Fine-tuning is full-parameter training (64 sequences of 4,096 tokens
      per step, BF16); each split gets the fastest layout the search finds on
      its GPUs.
    * Serving runs tensor-parallel replicas of 8 GPUs (two trays each), FP8
      weights, 2,000 prompt and 500 output tokens per request, continuous
      batching at the smallest batch that carries the load, and at most
      40 ms per output token.
    * Failures: the fine-tuning job's goodput comes from the failure rates of
      the rack's parts.  On an NVL72 rack a failed tray takes the whole NVLink
      domain down, so the fine-tuning job also stops when the serving trays
      fail.
    * Power: each tenant's line is its GPUs, Grace CPUs and NICs with rack
      overhead and PUE; the NVLink switches are a shared line; idle GPUs draw
      idle power.  Rental at an assumed $3 per GPU-hour.

How to read the answer
    The first table has one row per split: fine-tuning layout, its
    throughput and days, and the serving load as a fraction of what the
    serving trays can carry (above 100 % the service falls behind).  The
    chosen split is the fastest fine-tuning that still carries the load.  Its
    full report lists every line -- tenants, shared switches, idle GPUs --
    and the check under it shows that GPUs, power and dollars add up to the
    rack.  The last lines show what the rack's blast radius costs the
    fine-tuning job.
"""

from __future__ import annotations

import blackwell_model as bm

RACK = bm.catalog.cluster("GB200-NVL72", gpus=72)
MODEL = "llama3-70b"
FINETUNE = {"global_batch": 64, "seq_len": 4096}
FINETUNE_TOKENS = 2e9
LOAD_RPS = 60.0
REQUEST = {"input_tokens": 2000, "output_tokens": 500, "precision": "fp8", "latency": "40 ms"}
PRICING = bm.Pricing(gpu_hour_price="3 USD/h")


def split(train_gpus: int) -> dict[str, bm.TrainingTenant | bm.ServingTenant]:
    """The two tenants when fine-tuning gets ``train_gpus`` GPUs."""
    return {
        "finetune": bm.TrainingTenant(
            model=MODEL, gpus=train_gpus, search=FINETUNE, tokens=FINETUNE_TOKENS
        ),
        "serve": bm.ServingTenant(
            model=MODEL,
            layout=bm.InferenceLayout(tp=8),
            gpus=72 - train_gpus,
            requests_per_second=LOAD_RPS,
            **REQUEST,
        ),
    }


def carries_the_load_then_trains_fastest(report: bm.PartitionReport) -> float:
    """Objective: fine-tuning tokens/s, but only for splits that carry the serving load."""
    if report.lines["serve"].load > 1.0:
        return float("-inf")
    return report.lines["finetune"].effective_tokens_per_second


def main() -> None:
    print(f"Rack: {RACK.name}, {RACK.gpus} GPUs in {RACK.domain.nodes} trays of 4")
    print(
        f"Serve {MODEL} at {LOAD_RPS:g} requests/s; fine-tune it on {FINETUNE_TOKENS:.0e} tokens\n"
    )

    candidates = {f"{t}/{72 - t}": split(t) for t in range(16, 64, 8)}
    ranked = bm.rank_partitions(
        RACK, candidates, objective=carries_the_load_then_trains_fastest, pricing=PRICING
    )
    print(f"{'train/serve':<12} {'fine-tuning layout':<46} {'tok/s':>8} {'days':>5} {'load':>6}")
    for label, rep in sorted(ranked, key=lambda kv: int(kv[0].split("/")[0])):
        if isinstance(rep, bm.InfeasibleLayoutError):
            print(f"{label:<12} infeasible: {rep}")
            continue
        tune, serve = rep.lines["finetune"], rep.lines["serve"]
        print(
            f"{label:<12} {tune.describe():<46} {tune.effective_tokens_per_second:>8,.0f} "
            f"{tune.days:>5.2f} {serve.load:>6.0%}"
        )

    label, best = ranked[0]
    if not isinstance(best, bm.PartitionReport) or best.lines["serve"].load > 1.0:
        print("\nNo split carries the serving load: add a rack or lower the load.")
        return
    print(f"\nChosen split {label} (train/serve GPUs):\n")
    print(best.summary())

    gpus = sum(line.gpus for line in best.lines.values())
    watts = sum(line.power_W for line in best.lines.values())
    dollars = sum(line.cost_per_hour or 0.0 for line in best.lines.values())
    print(
        f"\nCheck: lines add up to {gpus} GPUs (rack {RACK.gpus}), "
        f"{watts / 1e3:.1f} kW (report total {best.power_W / 1e3:.1f} kW), "
        f"${dollars:,.0f}/h (report total ${best.cost_per_hour:,.0f}/h)"
    )

    tune = best.lines["finetune"]
    alone = bm.partition(
        RACK,
        split(tune.gpus),
        reliability=bm.ReliabilityModel(rack_blast_radius=False),
    ).lines["finetune"]
    print(
        f"Blast radius: with the rack's NVLink domain as the unit of failure the fine-tuning "
        f"job sees {tune.goodput.interruptions_per_day:.2f} interruptions/day "
        f"(goodput {tune.goodput.goodput:.2%}); counting only its own trays it would see "
        f"{alone.goodput.interruptions_per_day:.2f} (goodput {alone.goodput.goodput:.2%})."
    )


if __name__ == "__main__":
    main()
