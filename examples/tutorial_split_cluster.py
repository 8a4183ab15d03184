"""Splitting one cluster between a fine-tuning job and an inference service.

Run: ``python examples/tutorial_split_cluster.py`` (about a second).

The question
    A cluster of 16 DGX H100 servers (128 GPUs) must do two things this
    week: fine-tune Llama 3 70B on 2 billion tokens, and serve Llama 3 70B
    to users.  How many servers should each side get?  Moving a server
    from one side to the other speeds one up and slows the other down;
    the script prints both sides for every split, and the splits that meet
    both targets below.

Assumptions
    * Fine-tuning is full-parameter supervised fine-tuning, priced like
      pre-training per token (the model has no LoRA or adapter cost): 64
      sequences of 4,096 tokens per step, BF16, the fastest layout that fits
      on the servers it gets (``bm.search_layouts(..., gpus=N)`` places the
      job on the first N GPUs of the cluster, that is on whole servers).
    * Serving runs one replica per server, tensor parallel over its 8 GPUs
      (``bm.InferenceLayout(tp=8)``), FP8 weights, continuous batching,
      2,000 prompt and 500 output tokens per request, and a time per output
      token (TPOT) of at most 40 ms (25 tokens/s per user).  Replicas do not
      share work, so the service's throughput is one replica's times the
      number of servers.
    * The two jobs do not slow each other down (separate servers; the
      serving traffic stays inside each server).

How to read the answer
    Training throughput is not linear in the number of servers: on few
    servers the job only fits with activation recomputation or a deep
    pipeline, which costs time per token.  Serving throughput is linear in
    servers.  The hours to fine-tune and the requests per second served are
    what the targets are written in.
"""

from __future__ import annotations

import numpy as np

import blackwell_model as bm

MODEL = bm.catalog.model("llama3-70b")
SERVERS = 16
GPUS_PER_SERVER = 8
CLUSTER = bm.catalog.cluster("DGX-H100", gpus=SERVERS * GPUS_PER_SERVER)

FINETUNE_TOKENS = 2e9
FINETUNE_BATCH = {"global_batch": 64, "seq_len": 4096}
REQUEST = {"input_tokens": 2000, "output_tokens": 500, "precision": "fp8"}
LATENCY = "40 ms"

# The targets this week's plan must meet.
MAX_FINETUNE_HOURS = 12.0
MIN_REQUESTS_PER_S = 40.0


def serving_per_server() -> tuple[float, int]:
    """Output tokens/s of one TP-8 replica (one server) at TPOT <= LATENCY, and its batch."""
    server = bm.catalog.cluster("DGX-H100", gpus=GPUS_PER_SERVER)
    layout = bm.InferenceLayout(tp=8)
    coarse = bm.inference_sweep(MODEL, server, layout, **REQUEST)
    batches = np.arange(1, coarse.max_batch + 1)  # every batch, not just the default grid
    curve = bm.inference_sweep(MODEL, server, layout, batches=batches, **REQUEST)
    point = curve.best_under(latency=LATENCY)
    return point.tokens_per_second_per_gpu.m * GPUS_PER_SERVER, point.batch


def main() -> None:
    per_server, batch = serving_per_server()
    per_request = REQUEST["output_tokens"]
    print(f"Cluster: {SERVERS} x DGX H100 ({SERVERS * GPUS_PER_SERVER} GPUs)")
    print(
        f"Fine-tuning: Llama 3 70B, {FINETUNE_TOKENS / 1e9:.0f}B tokens, "
        f"{FINETUNE_BATCH['global_batch']} x {FINETUNE_BATCH['seq_len']} tokens per step, BF16"
    )
    print(
        f"Serving: Llama 3 70B FP8, TP8 per server, TPOT <= {LATENCY}: "
        f"{per_server:,.0f} output tok/s per server (batch {batch}), "
        f"{per_server / per_request:.1f} requests/s per server"
    )
    print(
        f"Targets: fine-tune within {MAX_FINETUNE_HOURS:g} h, "
        f"serve at least {MIN_REQUESTS_PER_S:g} requests/s\n"
    )

    print(f"{'servers':^11}  {'fine-tuning':^50}  {'serving':^16}  both")
    print(
        f"{'train':>5} {'serve':>5}  {'layout':<34} {'tok/s':>8} {'hours':>6}  "
        f"{'out tok/s':>9} {'req/s':>6}  ok"
    )
    good = []
    for train_servers in range(1, SERVERS):
        serve_servers = SERVERS - train_servers
        gpus = train_servers * GPUS_PER_SERVER
        res = bm.search_layouts(MODEL, CLUSTER, gpus=gpus, top=1, **FINETUNE_BATCH)
        if not len(res):  # nothing fits: check() raises with the reason
            try:
                res.check()
            except bm.InfeasibleLayoutError as err:
                need = res.min_memory_rejected_B / 1e9
                why = f"nothing fits (rule {err.rule}: >= {need:.0f} GB/GPU)"
                print(f"{train_servers:>5} {serve_servers:>5}  {why}")
            continue
        row = res.row(0)
        tokens_per_s = row["tokens_per_second_per_gpu"] * gpus
        hours = FINETUNE_TOKENS / tokens_per_s / 3600
        served = per_server * serve_servers
        requests = served / per_request
        ok = hours <= MAX_FINETUNE_HOURS and requests >= MIN_REQUESTS_PER_S
        if ok:
            good.append((train_servers, serve_servers, hours, requests))
        layout = (
            f"tp{row['tp']} cp{row['cp']} pp{row['pp']} vpp{row['vpp']} dp{row['dp']} "
            f"{row['recompute']}"
        )
        line = (
            f"{train_servers:>5} {serve_servers:>5}  {layout:<34} {tokens_per_s:>8,.0f} "
            f"{hours:>6.1f}  {served:>9,.0f} {requests:>6.1f}  {'yes' if ok else ''}"
        )
        print(line.rstrip())

    print()
    if good:
        print("Splits that meet both targets (train servers / serve servers):")
        for t, s, hours, requests in good:
            print(f"  {t:>2} / {s:<2}  fine-tune in {hours:.1f} h, serve {requests:.1f} requests/s")
    else:
        print("No split meets both targets: relax one, or add servers.")


if __name__ == "__main__":
    main()
