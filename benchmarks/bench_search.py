"""Speed of the layout search (targets: >= 300,000 layouts/s end to end; 405B search < 1 s).

Run with ``python benchmarks/bench_search.py``.  Prints

1. the throughput of :meth:`TrainingSolver.evaluate` on a large array of
   feasible candidate layouts of Llama 3 405B on 16,384 H100, after warm-up
   (caches filled), and of the whole per-chunk pipeline (rule masks, memory
   model, evaluation);
2. the end-to-end throughput of a wide search (enumeration, filtering,
   evaluation, ranking and the best layout's report), cold;
3. the wall time of the default complete search for Llama 3 405B on a
   DGX-H100 cluster of 16,384 GPUs (global batch 2048 x 8192 tokens, BF16,
   as in Meta's 405B pre-training), cold (fresh process state for the solver).

Everything runs in this process, on one core (numpy's element-wise kernels
are single-threaded; BLAS is not used).  Calculon, for scale, evaluates
about 500 layouts per second.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import blackwell_model as bm  # noqa: E402
from blackwell_model.parallel import memory_arrays, rule_masks  # noqa: E402
from blackwell_model.solvers.training import TrainingSolver  # noqa: E402
from blackwell_model.study import search_layouts  # noqa: E402
from blackwell_model.study.search import _ChunkTask, _run_chunk, candidate_arrays  # noqa: E402

TARGET_RATE = 300_000
TARGET_WALL_S = 1.0


def best_of(fn: object, repeat: int = 5) -> float:
    """Best wall time of ``repeat`` calls [s]."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    model = bm.catalog.model("llama3-405b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=16384)
    gb, seq = 2048, 8192

    # 1. default complete search, cold (first call in this process)
    t0 = time.perf_counter()
    res = search_layouts(model, cluster, global_batch=gb, seq_len=seq)
    wall = time.perf_counter() - t0
    best = res.layout(0)
    print(
        f"complete search, llama3-405b on 16,384 H100 (DGX-H100), gb {gb} x {seq}, bf16: "
        f"{wall:.3f} s  [target < {TARGET_WALL_S:g} s: {'met' if wall < TARGET_WALL_S else 'MISSED'}]"
    )
    print(
        f"  {res.enumerated:,} candidates, {res.feasible:,} feasible; best tp={best.tp} "
        f"cp={best.cp} pp={best.pp} vpp={best.vpp} dp={best.dp} mb={best.micro_batch} "
        f"{best.recompute.value}: {res.columns['step_time_s'][0]:.3f} s, MFU "
        f"{res.columns['mfu'][0]:.1%}"
    )

    # 2. a wide search, end to end (cold solver caches)
    wide: dict[str, Any] = dict(
        zero=(0, 1, 2, 3),
        micro_batch=(1, 2, 4, 8, 16),
        vpp=(1, 2, 3, 4, 6, 8),
        cp=(1, 2, 4, 8, 16, 32),
        sequence_parallel=(True, False),
    )
    t0 = time.perf_counter()
    res = search_layouts(model, cluster, global_batch=gb, seq_len=seq, **wide)
    wall = time.perf_counter() - t0
    rate = res.enumerated / wall
    print(
        f"wide search end to end (cold): {res.enumerated:,} candidates "
        f"({res.feasible:,} feasible) in {wall:.3f} s = {rate:,.0f} layouts/s  "
        f"[target >= {TARGET_RATE:,}: {'met' if rate >= TARGET_RATE else 'MISSED'}]"
    )

    # 3. warm throughput on a large candidate array
    axes = {
        "tp": (1, 2, 4, 8),
        "cp": wide["cp"],
        "pp": (1, 2, 4, 8, 16, 32, 64),
        "ep": (1,),
        "vpp": wide["vpp"],
        "micro_batch": wide["micro_batch"],
        "recompute": ((0, 0), (1, 1), (2, 0)),
        "zero": wide["zero"],
        "sequence_parallel": (0, 1),
    }
    cols = candidate_arrays(axes, gpus=16384, global_batch=gb, seq_len=seq)
    masks = rule_masks(model, cols, 16384)
    ok = ~np.asarray(cols["gpus_divide"])
    for m in masks.values():
        ok &= ~m
    feasible = {k: v[ok] for k, v in cols.items() if k != "gpus_divide"}
    reps = max(1, 1_000_000 // int(ok.sum()))
    big: dict[str, Any] = {k: np.tile(v, reps) for k, v in feasible.items()}
    big["precision"] = bm.Precision.BF16
    n = int(big["tp"].shape[0])
    solver = TrainingSolver(model, cluster)
    solver.evaluate(big)  # warm-up: fill the per-shape caches
    chunk = 65_536  # the search's default chunk_size

    def chunked() -> None:
        for lo in range(0, n, chunk):
            solver.evaluate(
                {k: (v[lo : lo + chunk] if k != "precision" else v) for k, v in big.items()}
            )

    t = best_of(chunked, repeat=2)
    rate = n / t
    print(
        f"TrainingSolver.evaluate, warm, {n:,} valid candidates in chunks of {chunk:,} "
        f"(as the search calls it): {t * 1e3:.1f} ms = {rate:,.0f} layouts/s  "
        f"[target >= {TARGET_RATE:,}: {'met' if rate >= TARGET_RATE else 'MISSED'}]"
    )
    t = best_of(lambda: solver.evaluate(big), repeat=1)
    print(
        f"TrainingSolver.evaluate, warm, the same {n:,} in one call: {t * 1e3:.1f} ms = "
        f"{n / t:,.0f} layouts/s"
    )
    t = best_of(lambda: memory_arrays(model, big), repeat=3)
    print(f"memory_arrays, {n:,} candidates: {t * 1e3:.1f} ms = {n / t:,.0f} layouts/s")
    t = best_of(lambda: rule_masks(model, big, 16384), repeat=3)
    print(f"rule_masks, {n:,} candidates: {t * 1e3:.1f} ms = {n / t:,.0f} layouts/s")

    # the whole per-chunk pipeline (rules, memory, evaluation) on every enumerated candidate
    tiled = {k: np.tile(v, max(1, 1_000_000 // int(cols["tp"].shape[0]))) for k, v in cols.items()}
    task = _ChunkTask(
        model=model,
        cluster=cluster,
        efficiency=None,
        memory=None,
        precision=bm.Precision.BF16,
        gpus=16384,
        columns=tiled,
        offset=0,
        token="bench",
        objective="step_time",
        top=None,
    )
    n = int(tiled["tp"].shape[0])
    t = best_of(lambda: _run_chunk(task, solver), repeat=3)
    rate = n / t
    print(
        f"search chunk pipeline (rules + memory + evaluate), warm, {n:,} candidates: "
        f"{t * 1e3:.1f} ms = {rate:,.0f} layouts/s  [target >= {TARGET_RATE:,}: "
        f"{'met' if rate >= TARGET_RATE else 'MISSED'}]"
    )


if __name__ == "__main__":
    main()
