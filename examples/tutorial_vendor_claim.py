"""Checking a vendor claim: GB200 NVL72 vs HGX H100 on a 1.8T-parameter MoE at 50 ms per token.

Run: ``python examples/tutorial_vendor_claim.py`` (a few seconds).

The question
    NVIDIA's "30x per GPU" claim for GB200 NVL72 over HGX H100 is for a
    1.8-trillion-parameter mixture-of-experts model ("GPT-MoE-1.8T") with
    32,768 input and 1,024 output tokens, a 50 ms token-to-token target and a
    5 s first-token target, served with FP4 on Blackwell and prefill and
    decode on separate GPUs.  What does the model predict per GPU, and which
    assumption buys how much of the factor?

What the script does
    1. Describes the model (its architecture is not published: a GPT-4-like
       guess of 120 layers, 16 experts, 2 per token; change ``MODEL``).
    2. For each step from the H100 baseline to the full claim configuration
       (same precision on GB200; disaggregation; FP4; the NVLink domain),
       searches every layout, batch and deployment shape with
       ``bm.serving_frontier`` and keeps the most output tokens/s per GPU
       meeting TTFT <= 5 s and TPOT <= 50 ms (``best_under``).
    3. Prints the chain of factors and the frontier of the final setup.

How to read the answer
    Each row is the best any layout and batch does under both targets; the
    factors are the ratios between consecutive rows and multiply to the
    total.  The architecture of the model is an assumption: change it and the
    share of each factor moves (more, smaller experts make the NVLink domain
    matter more).  Compare the total with the claimed 30x knowing the
    baseline here is allowed its own best layout, batch and engine.
"""

from __future__ import annotations

import blackwell_model as bm

# An assumed GPT-MoE-1.8T: 1.78T parameters, 259B active per token.
MODEL = bm.Transformer(
    name="gpt-moe-1.8t", layers=120, hidden=12288, heads=96, kv_heads=8, head_dim=128,
    vocab=100352, experts=16, experts_per_token=2, expert_ffn_hidden=24576,
)  # fmt: skip
LENGTHS = {"input_tokens": 32768, "output_tokens": 1024}
TARGETS = {"ttft": "5 s", "tpot": "50 ms"}
PRESET = "trtllm-pytorch-2025"  # engine behaviour of 2025 TensorRT-LLM (CUDA graphs, limits)

# (label, system, GPUs, precision, disaggregated)
STEPS = [
    ("H100, FP8, aggregated (baseline)", "DGX-H100", 64, "fp8", False),
    ("H100, FP8, disaggregated", "DGX-H100", 64, "fp8", True),
    ("GB200 NVL72, FP8, aggregated", "GB200-NVL72", 72, "fp8", False),
    ("GB200 NVL72, FP8, disaggregated", "GB200-NVL72", 72, "fp8", True),
    ("GB200 NVL72, FP4, disaggregated (claim setup)", "GB200-NVL72", 72, "nvfp4", True),
    ("B200 in 8-GPU NVLink domains, FP4, disagg.", "DGX-B200", 64, "nvfp4", True),
]

print(
    f"{MODEL.name}: {MODEL.total_params / 1e12:.2f}T parameters, "
    f"{MODEL.active_params / 1e9:.0f}B active; {LENGTHS['input_tokens']:,} in / "
    f"{LENGTHS['output_tokens']:,} out; TTFT <= {TARGETS['ttft']}, TPOT <= {TARGETS['tpot']}\n"
)
best = {}
print(f"{'setup':<46} {'tok/s/GPU':>9} {'x H100':>7}  operating point")
for label, system, gpus, precision, disagg in STEPS:
    cluster = bm.catalog.cluster(system, gpus=gpus)
    front = bm.serving_frontier(
        MODEL, cluster, precision=precision, disaggregated=disagg, preset=PRESET, points=16,
        **LENGTHS,
    )  # fmt: skip
    pt = front.best_under(**TARGETS)
    best[label] = (pt, front)
    base = best[STEPS[0][0]][0].tokens_per_second_per_gpu
    print(
        f"{label:<46} {pt.tokens_per_second_per_gpu:>9.1f} "
        f"{pt.tokens_per_second_per_gpu / base:>6.1f}x  {pt.shape} {pt.label}, batch {pt.batch}, "
        f"TPOT {pt.tpot_s * 1e3:.0f} ms, TTFT {pt.ttft_s:.1f} s"
    )


def tps(i: int) -> float:
    return best[STEPS[i][0]][0].tokens_per_second_per_gpu


print("\nWhere the factor comes from (each step's gain over the previous):")
factors = [
    ("GB200 vs H100 at equal precision and shape", tps(2) / tps(0)),
    ("disaggregated prefill/decode on GB200", tps(3) / tps(2)),
    ("FP4 (NVFP4) instead of FP8 on GB200", tps(4) / tps(3)),
    ("72-GPU NVLink domain vs 8-GPU domains (FP4)", tps(4) / tps(5)),
]
for name, f in factors:
    print(f"  {name:<46} {f:5.2f}x")
print(f"  {'total, claim setup vs baseline':<46} {tps(4) / tps(0):5.2f}x  (claimed: 30x)")

print("\nFrontier of the claim setup (most tok/s/GPU at each interactivity):")
print(best[STEPS[4][0]][1].table())
