"""Quick start: GB200 NVL72 against DGX H100 for Llama 3 70B, with a figure.

Run: ``python examples/tutorial_quickstart.py`` (about a second).  With
matplotlib installed (``pip install ".[plot]"``) it also writes
``quickstart.png`` into the current directory.

The question
    On 576 GPUs, as 72 DGX H100 servers or as 8 GB200 NVL72 racks, how fast
    does Llama 3 70B pre-train (576 sequences of 8,192 tokens per step,
    BF16), each with the fastest parallel layout that fits in its memory?

How to read the answer
    The table has one row per system: the layout the search chose, the
    predicted step time, the model FLOPs utilisation (MFU), tokens/s per GPU
    and the memory the busiest GPU needs.  The summary of the GB200 step
    breaks its time into compute and the communication the schedule could
    not hide; the parts add up to the step time.  The figure shows both
    breakdowns side by side.
"""

import blackwell_model as bm

model = bm.catalog.model("llama3-70b")
clusters = {
    "DGX-H100": bm.catalog.cluster("DGX-H100", gpus=576),  # 72 servers of 8 GPUs
    "GB200-NVL72": bm.catalog.cluster("GB200-NVL72", gpus=576),  # 8 racks of 72 GPUs
}

# Search every parallel layout on each cluster and keep the fastest that fits.
results = bm.search_many(model, clusters, global_batch=576, seq_len=8192)
print(bm.study.comparison(results))
print()

h100 = results["DGX-H100"].best  # a TrainingReport
gb200 = results["GB200-NVL72"].best
print(gb200.summary())
speedup = gb200.tokens_per_second / h100.tokens_per_second
print(f"\nGB200 NVL72 trains {speedup.m:.2f}x as many tokens per second as DGX H100.")

# A figure of both step-time breakdowns (blackwell_model.plot needs matplotlib).
try:
    ax = bm.plot.breakdown_bars({name: res.best for name, res in results.items()})
except ImportError as err:
    print(err)
else:
    ax.figure.savefig("quickstart.png", dpi=120)
    print("figure written to quickstart.png")
