"""Serving a mixture-of-experts model: DeepSeek-V3 on DGX H100 servers vs a GB200 NVL72 rack.

Run: ``python examples/tutorial_serve_moe.py`` (about a second; with
matplotlib installed it also writes ``serve_moe.png``).

The question
    DeepSeek-V3 (671B parameters, 37B active per token, 256 routed experts
    of which 8 per token) is served in FP8 with continuous batching, 2,000
    prompt and 500 output tokens per request.  How many output tokens per
    second does each GPU deliver while every user gets a token at least
    every 50 ms, on H100 servers and on a GB200 NVL72 rack, and which
    deployment should each use?

What the script does
    1. Prices several deployments (``bm.InferenceLayout``): tensor parallel
       over a server (``tp=8``), pipelined over two servers (``pp=2``), and
       the DeepSeek-style one, attention data-parallel plus expert-parallel
       (``tp=1, dp=N, ep=N``: each GPU runs attention for its own requests
       and holds 256/N whole experts; tokens travel to their experts and
       back by all-to-all).
    2. For each, sweeps the batch and keeps the point with the most output
       tokens/s per GPU at a time per output token (TPOT) of at most 50 ms.
    3. For the best deployment of each system, prints that throughput at
       other latency targets.
    4. Breaks one decode step of each down, to show where the time goes.
    5. Draws both latency-throughput curves (if matplotlib is installed).

How to read the answer
    Expert parallelism reads each expert's weights once for many tokens, so
    it needs a large batch per GPU, and it sends every token's hidden state
    to 8 experts and back twice per MoE layer.  Inside an NVL72 rack that
    all-to-all runs over NVLink (900 GB/s per GPU); across H100 servers it
    runs over InfiniBand (50 GB/s per GPU).  The ``ep_comm`` row of the
    breakdown is that difference.  ``-`` in a table means the deployment does
    not fit in memory or cannot meet the latency target.
"""

from __future__ import annotations

import numpy as np

import blackwell_model as bm
from blackwell_model.units import format_quantity

MODEL = bm.catalog.model("deepseek-v3")
REQUEST = {"input_tokens": 2000, "output_tokens": 500, "precision": "fp8"}
LATENCY = "50 ms"  # 20 tokens/s per user
TARGETS = ("20 ms", "35 ms", "50 ms", "100 ms")

IL = bm.InferenceLayout
DEPLOYMENTS = {
    "DGX-H100": [
        ("1 server, TP8", 8, IL(tp=8)),
        ("2 servers, TP8 x PP2", 16, IL(tp=8, pp=2)),
        ("2 servers, TP8 x DP2, EP16", 16, IL(tp=8, dp=2, ep=16)),
        ("2 servers, DP16 x EP16", 16, IL(tp=1, dp=16, ep=16)),
        ("4 servers, DP32 x EP32", 32, IL(tp=1, dp=32, ep=32)),
    ],
    "GB200-NVL72": [
        ("8 GPUs, TP8", 8, IL(tp=8)),
        ("16 GPUs, DP16 x EP16", 16, IL(tp=1, dp=16, ep=16)),
        ("32 GPUs, DP32 x EP32", 32, IL(tp=1, dp=32, ep=32)),
        ("64 GPUs, DP64 x EP64", 64, IL(tp=1, dp=64, ep=64)),
        ("64 GPUs, TP8 x DP8, EP64", 64, IL(tp=8, dp=8, ep=64)),
    ],
}


def curve(cluster: bm.Cluster, layout: bm.InferenceLayout) -> bm.InferenceCurve:
    """Continuous-batching curve at every batch from 1 to the largest that fits."""
    coarse = bm.inference_sweep(MODEL, cluster, layout, **REQUEST)
    batches = np.arange(1, coarse.max_batch + 1)
    return bm.inference_sweep(MODEL, cluster, layout, batches=batches, **REQUEST)


def main() -> None:
    print(
        f"{MODEL.name}: {MODEL.total_params / 1e9:.0f}B parameters, "
        f"{MODEL.active_params / 1e9:.1f}B active; FP8 weights, BF16 KV cache; "
        f"{REQUEST['input_tokens']} in / {REQUEST['output_tokens']} out per request\n"
    )
    print(
        f"{'system':<12} {'deployment':<27} {'GPUs':>4} {'TPOT b=1':>9} "
        f"{'tok/s/GPU':>10} {'batch':>6} {'TTFT':>9}"
    )
    print(f"{'':<12} {'':<27} {'':>4} {'':>9} {'<= ' + LATENCY:>10} {'/replica':>6}")
    best: dict[str, tuple[str, bm.Cluster, bm.InferenceLayout, bm.InferenceCurve, float]] = {}
    for system, options in DEPLOYMENTS.items():
        for label, gpus, layout in options:
            cluster = bm.catalog.cluster(system, gpus=gpus)
            try:
                c = curve(cluster, layout)
            except bm.InfeasibleLayoutError as err:  # e.g. the weights do not fit
                print(f"{system:<12} {label:<27} {gpus:>4}  does not fit: rule {err.rule!r}")
                continue
            try:
                p = c.best_under(latency=LATENCY)
            except bm.InfeasibleLayoutError:
                print(f"{system:<12} {label:<27} {gpus:>4} {c.tpot_s[0] * 1e3:>6.1f} ms {'-':>10}")
                continue
            tps = p.tokens_per_second_per_gpu.m
            print(
                f"{system:<12} {label:<27} {gpus:>4} {c.tpot_s[0] * 1e3:>6.1f} ms "
                f"{tps:>10,.0f} {p.batch:>6} {format_quantity(p.time_to_first_token):>9}"
            )
            if system not in best or tps > best[system][4]:
                best[system] = (label, cluster, layout, c, tps)
    print()

    # Throughput per GPU of each system's best deployment at other latency targets.
    print("Best deployment of each system at other latency targets (output tok/s per GPU)")
    print(f"{'system':<12} {'deployment':<27}" + "".join(f"{'<= ' + t:>11}" for t in TARGETS))
    for system, (label, _, _, c, _) in best.items():
        cells = []
        for target in TARGETS:
            try:
                cells.append(f"{c.best_under(latency=target).tokens_per_second_per_gpu.m:>11,.0f}")
            except bm.InfeasibleLayoutError:
                cells.append(f"{'-':>11}")
        print(f"{system:<12} {label:<27}" + "".join(cells))
    h, g = best["DGX-H100"][4], best["GB200-NVL72"][4]
    print(f"\nAt TPOT <= {LATENCY}, a GB200 GPU serves {g / h:.1f}x the tokens of an H100 GPU.\n")

    # Where does a decode step go?  continuous=True serves the operating batch
    # with continuous batching (the interleaved prefill is one of the parts).
    print("One decode step at the operating batch (continuous batching), by part")
    reports = {}
    for system, (_, cluster, layout, c, _) in best.items():
        batch = c.best_under(latency=LATENCY).batch
        reports[system] = bm.predict_inference(
            MODEL, cluster, layout, batch=batch, continuous=True, **REQUEST
        )
    print(f"{'part':<12}" + "".join(f"{s:>14}" for s in reports))
    parts = next(iter(reports.values())).decode_breakdown
    for part in parts:
        values = [r.decode_breakdown[part] for r in reports.values()]
        if any(v.m for v in values):
            print(f"{part:<12}" + "".join(f"{format_quantity(v.to('ms')):>14}" for v in values))
    print(
        f"{'TPOT':<12}"
        + "".join(f"{format_quantity(r.time_per_output_token):>14}" for r in reports.values())
    )
    print(f"{'batch':<12}" + "".join(f"{r.batch:>14}" for r in reports.values()))

    # The two latency-throughput curves, with the target and each best point.
    try:
        curves = {f"{system}, {label}": c for system, (label, _, _, c, _) in best.items()}
        ax = bm.plot.latency_throughput(curves, latency=LATENCY)
    except ImportError as err:  # blackwell_model.plot needs the plot extra
        print(err)
    else:
        ax.figure.savefig("serve_moe.png", dpi=120)
        print("\nfigure written to serve_moe.png")


if __name__ == "__main__":
    main()
