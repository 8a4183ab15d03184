"""What if HBM bandwidth doubled?  H100 with 3.35, 6.7 and other TB/s, trained and served.

Run: ``python examples/tutorial_hbm_doubled.py`` (about a second).

The question
    A memory vendor offers twice the HBM bandwidth at the same capacity.
    What does that buy for Llama 3 70B, in training (64 GPUs) and in
    serving (one 8-GPU server, FP8 weights)?

What the script does
    1. Builds the what-if part with ``attrs.evolve``-style changes
       (``bm.with_accelerator(cluster, memory_bandwidth=...)`` swaps the
       accelerator in every server of a cluster) and prints the ridge point,
       the arithmetic intensity above which a kernel is compute-bound.
    2. Training: searches the best layout at each bandwidth and prints the
       step time and MFU.
    3. Serving: prints the time per output token at batch 1 and the most
       output tokens/s per GPU while every user still gets a token at
       least every 30 ms (continuous batching, 2,000 prompt and 500 output
       tokens per request).
    4. Shows the batch-1 decode step broken down, to explain why twice the
       bandwidth does not halve it.
    5. Adds capacity to bandwidth: the catalog's H200 (4.8 TB/s, 141 GB).

How to read the answer
    Training GEMMs have hundreds to thousands of FLOPs per byte, above the
    ridge point at either bandwidth, so training barely moves.  Decode
    reads every weight once per step for the whole batch, so at small
    batch it is bound by HBM bandwidth, and bandwidth shows up almost
    one for one in the ``weights`` part of the step.  What does not shrink
    (tensor-parallel all-reduces, fixed overheads) caps the gain.  At large
    batch the step becomes compute- and capacity-bound and the gain falls
    again.
"""

from __future__ import annotations

import numpy as np

import blackwell_model as bm
from blackwell_model.units import format_quantity

MODEL = bm.catalog.model("llama3-70b")
TRAIN = bm.catalog.cluster("DGX-H100", gpus=64)  # 8 servers
SERVE = bm.catalog.cluster("DGX-H100", gpus=8)  # 1 server
SERVE_LAYOUT = bm.InferenceLayout(tp=8)  # one replica, tensor-parallel over the 8 GPUs
REQUEST = {"input_tokens": 2000, "output_tokens": 500, "precision": "fp8"}
LATENCY = "30 ms"  # largest time per output token a user accepts (~33 tokens/s)
MULTIPLIERS = (0.5, 1.0, 1.5, 2.0, 3.0)


def serving_curve(cluster: bm.Cluster) -> bm.InferenceCurve:
    """Continuous-batching curve at every batch from 1 to the largest that fits."""
    # A first sweep finds the largest batch that fits; the second evaluates
    # every batch up to it (a few ms), so an operating point is not limited
    # by the coarse default grid.
    coarse = bm.inference_sweep(MODEL, cluster, SERVE_LAYOUT, **REQUEST)
    batches = np.arange(1, coarse.max_batch + 1)
    return bm.inference_sweep(MODEL, cluster, SERVE_LAYOUT, batches=batches, **REQUEST)


def serving_point(cluster: bm.Cluster) -> tuple[float, float, int]:
    """(batch-1 TPOT [s], best output tokens/s per GPU under LATENCY, its batch)."""
    single = bm.predict_inference(MODEL, cluster, SERVE_LAYOUT, batch=1, **REQUEST)
    point = serving_curve(cluster).best_under(latency=LATENCY)
    return single.time_per_output_token.m, point.tokens_per_second_per_gpu.m, point.batch


def scaled(cluster: bm.Cluster, factor: float) -> bm.Cluster:
    """``cluster`` with every GPU's HBM bandwidth multiplied by ``factor``."""
    tbps = cluster.accelerator.memory_bandwidth.to("TB/s").m * factor
    # Passing a string (rather than a Quantity) also gives the what-if a readable name.
    return bm.with_accelerator(cluster, memory_bandwidth=f"{tbps:.4g} TB/s")


def main() -> None:
    base = SERVE.accelerator.memory_bandwidth
    print(
        f"Llama 3 70B on H100 SXM with its HBM bandwidth scaled (catalog: {format_quantity(base)})"
    )
    print("training: 64 GPUs, 128 x 8192 tokens per step, BF16, best layout at each bandwidth")
    print("serving: 1 x DGX H100, TP 8, FP8, 2000 in / 500 out per request")
    print(f"  TPOT b=1: static batch of one; tok/s/GPU: continuous batching, TPOT <= {LATENCY}\n")

    print(
        f"{'HBM':>10} {'ridge':>11} {'train step':>11} {'MFU':>6} "
        f"{'TPOT b=1':>9} {'tok/s/GPU':>10} {'batch':>6}"
    )
    rows = {}
    for m in MULTIPLIERS:
        train, serve = scaled(TRAIN, m), scaled(SERVE, m)
        ridge = train.accelerator.ridge_point("bf16")  # peak FLOP/s / HBM B/s
        step = bm.search_layouts(MODEL, train, global_batch=128, seq_len=8192, top=1).best
        tpot1, tps, batch = serving_point(serve)
        rows[m] = (step.step_time.m, tpot1, tps)
        print(
            f"{format_quantity(train.accelerator.memory_bandwidth):>10} {ridge.m:>6.0f} FLOP/B "
            f"{format_quantity(step.step_time):>11} {step.mfu:>6.1%} "
            f"{tpot1 * 1e3:>6.2f} ms {tps:>10,.0f} {batch:>6}"
        )

    t1, d1, s1 = rows[1.0]
    t2, d2, s2 = rows[2.0]
    print(
        f"\nTwice the bandwidth: training step {t1 / t2:.2f}x faster, batch-1 decode "
        f"{d1 / d2:.2f}x faster, serving throughput at TPOT <= {LATENCY} {s2 / s1:.2f}x."
    )

    # Why is batch-1 decode not twice as fast?  Look at its parts.
    print("\nBatch-1 decode step, by part")
    reports = {
        f"x{m:g}": bm.predict_inference(MODEL, scaled(SERVE, m), SERVE_LAYOUT, batch=1, **REQUEST)
        for m in (1.0, 2.0)
    }
    print(f"{'part':<12}" + "".join(f"{label:>12}" for label in reports))
    first = next(iter(reports.values()))
    for part in first.decode_breakdown:
        values = [r.decode_breakdown[part] for r in reports.values()]
        if any(v.m for v in values):
            print(f"{part:<12}" + "".join(f"{format_quantity(v.to('ms')):>12}" for v in values))
    tpots = [format_quantity(r.time_per_output_token) for r in reports.values()]
    print(f"{'TPOT':<12}" + "".join(f"{t:>12}" for t in tpots))

    # Bandwidth and capacity together: the catalog's H200 is an H100 with more of both.
    print("\nBandwidth alone vs bandwidth and capacity (the catalog's H200: H100 compute)")
    print(
        f"{'':<12} {'HBM BW':>9} {'HBM':>9} {'TPOT b=1':>9} {'tok/s/GPU':>10} {'batch':>6}"
        f" {'max batch':>10} {'tok/s/GPU':>10} {'TPOT':>7}"
    )
    print(f"{'':<12} {'':>9} {'':>9} {'':>9} {'<= ' + LATENCY:>10} {'':>6} {'':>10} {'at max':>10}")
    for label, cluster in (
        ("H100 x1", SERVE),
        ("H100 x2 BW", scaled(SERVE, 2.0)),
        ("H200", bm.catalog.cluster("DGX-H200", gpus=8)),
    ):
        tpot1, tps, batch = serving_point(cluster)
        curve = serving_curve(cluster)
        acc = cluster.accelerator
        print(
            f"{label:<12} {format_quantity(acc.memory_bandwidth):>9} "
            f"{format_quantity(acc.memory_capacity):>9} {tpot1 * 1e3:>6.2f} ms {tps:>10,.0f} "
            f"{batch:>6} {curve.max_batch:>10} {curve.tokens_per_second_per_gpu[-1]:>10,.0f} "
            f"{curve.tpot_s[-1] * 1e3:>4.0f} ms"
        )
    print("More capacity raises the largest batch; more bandwidth speeds every step.")


if __name__ == "__main__":
    main()
