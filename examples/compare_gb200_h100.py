"""GB200 NVL72 vs DGX H100: time, energy and cost of the same Llama 3.1 405B training run.

Run with ``python examples/compare_gb200_h100.py``.  Both clusters have
16,384 GPUs in use and pre-train Llama 3.1 405B on 15.6T tokens of 8K-token
sequences with 16M-token batches (the main stage of Meta's run); each gets a
layout that fits its memory.  Prices are assumptions written out below;
change them to yours.

Serving: the same model in FP8 with continuous batching (1,000 input and
1,000 output tokens per request), one DGX H100 (TP 8) against one NVL72 rack
(nine TP-8 replicas); :func:`~blackwell_model.predict.inference.predict_inference`
gives the decode step and how busy the units are,
:func:`~blackwell_model.solvers.energy.inference_energy` its energy.
"""

from __future__ import annotations

import blackwell_model as bm
from blackwell_model.parallel.inference import InferenceLayout
from blackwell_model.predict.inference import predict_inference
from blackwell_model.predict.run import predict_training_run
from blackwell_model.solvers.energy import Pricing, inference_energy

TOKENS = 15.6e12
GPUS = 16384

# Assumed prices (not catalog data): capital per scale-up domain amortised over
# 4 years, scale-out network per GPU, US industrial electricity, colocation.
COMMON = {
    "amortization": "4 yr",
    "electricity_price": "0.08 USD/kWh",  # assumption: US industrial average, 2024
    "facility_price": "1500 USD/(kW*yr)",  # assumption: wholesale colocation, ~$125/kW/month
}
PRICING = {
    # assumption: DGX H100 list prices reported at ~$300-400k per 8-GPU system
    "DGX-H100": Pricing(system_price="350000 USD", network_price_per_gpu="8000 USD", **COMMON),
    # assumption: third-party estimates of ~$3M per GB200 NVL72 rack
    "GB200-NVL72": Pricing(system_price="3000000 USD", network_price_per_gpu="8000 USD", **COMMON),
}
LAYOUTS = {
    # Meta's main-stage layout (Llama 3 paper, Table 4); vpp assumed
    "DGX-H100": bm.Layout(tp=8, pp=16, dp=128, vpp=4, global_batch=2048, seq_len=8192),
    # 186 GB per GPU allows fewer pipeline stages
    "GB200-NVL72": bm.Layout(tp=8, pp=8, dp=256, vpp=4, global_batch=2048, seq_len=8192),
}


def compare(check_memory: bool = False) -> dict[str, dict[str, float | None]]:
    """Predict the run on both systems; return the headline figures by system."""
    model = bm.catalog.model("llama3-405b")
    out: dict[str, dict[str, float | None]] = {}
    for system, layout in LAYOUTS.items():
        cluster = bm.catalog.cluster(system, gpus=GPUS)
        run = predict_training_run(
            model,
            cluster,
            layout,
            tokens=TOKENS,
            pricing=PRICING[system],
            goodput=0.9,  # Meta: "higher than 90% effective training time"
            check_memory=check_memory,
        )
        print(run.summary())
        print(run.energy.summary())
        print()
        out[system] = run.to_dict()
    return out


SERVING = {"DGX-H100": (8, InferenceLayout(tp=8)), "GB200-NVL72": (72, InferenceLayout(tp=8, dp=9))}


def serve() -> dict[str, dict[str, float]]:
    """Serving energy and cost per output token on one system of each kind."""
    model = bm.catalog.model("llama3-405b")
    out = {}
    for system, (gpus, layout) in SERVING.items():
        cluster = bm.catalog.cluster(system, gpus=gpus)
        inf = predict_inference(
            model, cluster, layout, input_tokens=1000, output_tokens=1000, precision="fp8"
        )
        # one decode step of the deployment: the amortised prefill, then decode
        tpot = inf.time_per_output_token.m
        prefill = inf.decode_breakdown["prefill"].m
        energy = inference_energy(
            cluster,
            gpus=inf.gpus,
            output_tokens=inf.output_tokens_per_second.m * tpot,
            prefill_s=prefill,
            decode_s=tpot - prefill,
            decode_compute=inf.decode_busy["tensor"],
            decode_memory=inf.decode_busy["memory"],
        )
        cost = energy.cost(PRICING[system])
        out[system] = {
            "tokens_per_s_per_gpu": inf.output_tokens_per_second_per_gpu.m,
            "joules_per_token": energy.energy_per_token.m,
            "usd_per_million_tokens": cost.per_million_tokens.m,
        }
    return out


def main() -> None:
    """Print both runs, the serving figures and the ratios."""
    res = compare()
    h, g = res["DGX-H100"], res["GB200-NVL72"]
    print(f"{'':<22}{'DGX-H100':>14}{'GB200-NVL72':>14}{'ratio':>8}")
    for key, label in (
        ("days", "wall time [days]"),
        ("gpu_hours", "GPU-hours"),
        ("mwh", "energy [MWh]"),
        ("tco2e", "emissions [tCO2e]"),
        ("dollars", "cost [USD]"),
    ):
        a, b = float(h[key] or 0.0), float(g[key] or 0.0)
        print(f"{label:<22}{a:>14,.0f}{b:>14,.0f}{b / a:>8.2f}")
    srv = serve()
    hs, gs = srv["DGX-H100"], srv["GB200-NVL72"]
    print("serving llama3-405b fp8, 1000 in / 1000 out, continuous batching")
    for key, label in (
        ("tokens_per_s_per_gpu", "output tok/s per GPU"),
        ("joules_per_token", "J per output token"),
        ("usd_per_million_tokens", "USD per M out tokens"),
    ):
        a, b = hs[key], gs[key]
        print(f"{label:<22}{a:>14,.3g}{b:>14,.3g}{b / a:>8.2f}")


if __name__ == "__main__":
    main()
