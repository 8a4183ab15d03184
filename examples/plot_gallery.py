"""Every figure of :mod:`blackwell_model.plot`, on built-in catalog parts and models.

Usage::

    MPLBACKEND=Agg python examples/plot_gallery.py [out_dir]

Writes one PNG per figure to ``out_dir`` (default: a new temporary
directory) and prints their paths.  Needs the ``plot`` extra (matplotlib).
Each ``figure_*`` function takes an optional Axes and returns the Axes it
drew on; the documentation (``docs/plotting.rst``) draws the same figures.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import matplotlib

if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt

import blackwell_model as bm
from blackwell_model import plot


def figure_roofline(ax: Any = None) -> Any:
    """Llama 3 8B forward operators (batch 1 x 4,096 tokens) on H100 and B200 rooflines."""
    return plot.roofline_chart(
        ["H100-SXM", "B200"], "bf16", model="llama3-8b", phase="forward", seq_len=4096, ax=ax
    )


def figure_roofline_decode(ax: Any = None) -> Any:
    """Llama 3 70B decode operators (batch 32, 4K context, TP 8) on the H100 roofline."""
    return plot.roofline_chart(
        "H100-SXM",
        "bf16",
        model="llama3-70b",
        phase="decode",
        batch=32,
        kv_len=4096,
        tp=8,
        ax=ax,
    )


def figure_breakdown(ax: Any = None) -> Any:
    """Step-time breakdown of Llama 3 70B on 256 H100 vs 256 GB200 GPUs, best layouts."""
    reports = {}
    for label, system in (
        ("256 x H100 (DGX)", "DGX-H100"),
        ("256 x B200 (GB200 NVL72)", "GB200-NVL72"),
    ):
        cluster = bm.catalog.cluster(system, gpus=256)
        best = bm.search_layouts(
            "llama3-70b", cluster, global_batch=512, seq_len=8192, gpus=256, top=1
        ).best
        if best is not None:
            reports[f"{label}\n{plot._layout_tag(best.layout)}"] = best
    return plot.breakdown_bars(reports, ax=ax)


def _clusters() -> dict[str, bm.Cluster]:
    return {
        f"{n} x B200 (NVL72)": bm.catalog.cluster("GB200-NVL72", gpus=n) for n in (144, 288, 576)
    }


def figure_pareto(ax: Any = None) -> Any:
    """Every feasible Llama 3 70B layout on 144, 288 and 576 GB200 GPUs: time vs energy."""
    clusters = _clusters()
    results = bm.search_many("llama3-70b", clusters, global_batch=512, seq_len=8192)
    return plot.pareto_front(results, x="step_time", y="energy_per_step", clusters=clusters, ax=ax)


def figure_pareto_memory(ax: Any = None) -> Any:
    """Llama 3 70B on 256 H100: step time vs memory per GPU, coloured by pipeline depth."""
    cluster = bm.catalog.cluster("DGX-H100", gpus=256)
    result = bm.search_layouts("llama3-70b", cluster, global_batch=512, seq_len=8192)
    return plot.pareto_front(result, x="step_time", y="memory", color="pp", ax=ax)


def figure_validation(ax: Any = None) -> Any:
    """Predicted vs measured training throughput of every public case."""
    return plot.predicted_vs_measured(ax=ax)


def figure_topology(ax: Any = None) -> Any:
    """One GB200 NVL72 rack with its scale-out leaf and spine switches."""
    return plot.topology(bm.catalog.cluster("GB200-NVL72", gpus=72), ax=ax)


def figure_latency_throughput(ax: Any = None) -> Any:
    """Llama 3 70B FP8 serving on 8 H100 vs 8 B200 (TP 8), 1K in / 1K out tokens."""
    curves = {
        name: bm.inference_sweep(
            "llama3-70b",
            bm.catalog.cluster(system, gpus=8),
            bm.InferenceLayout(tp=8),
            input_tokens=1000,
            output_tokens=1000,
            precision="fp8",
        )
        for name, system in (("8 x H100", "DGX-H100"), ("8 x B200", "DGX-B200"))
    }
    return plot.latency_throughput(curves, latency="20 ms", ax=ax)


FIGURES = {
    "roofline": figure_roofline,
    "roofline_decode": figure_roofline_decode,
    "breakdown": figure_breakdown,
    "pareto": figure_pareto,
    "pareto_memory": figure_pareto_memory,
    "validation": figure_validation,
    "topology": figure_topology,
    "latency_throughput": figure_latency_throughput,
}


def main(argv: list[str]) -> list[str]:
    """Draw every figure into ``argv[0]`` (default: a temporary directory); return the paths."""
    out = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="bm_plots_"))
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in FIGURES.items():
        t0 = time.perf_counter()
        ax = make()
        path = out / f"{name}.png"
        ax.figure.savefig(path, dpi=130)
        plt.close(ax.figure)
        print(f"{path}  ({time.perf_counter() - t0:.1f} s)")
        paths.append(str(path))
    return paths


if __name__ == "__main__":
    main(sys.argv[1:])
