"""The ``blackwell-model`` command line.

With no arguments it prints the main what-if report on built-in defaults:
Llama 3 70B and 405B trained and served on DGX-H100 and GB200-NVL72 clusters
(:func:`blackwell_model.study.report.what_if_report`).  Subcommands:

``catalog [KIND] [NAME]``
    List catalog entries, or show one with its sources.
``train``
    Predict one training layout: step time, MFU, memory and the breakdown.
``infer``
    Predict serving: time to first token, time per output token, throughput,
    memory and energy per token.
``search``
    Search every valid training layout and rank them (progress bar on stderr).
``compare``
    The same training and serving workload on several systems, side by side.
``graph``
    Export the topology of a system or cluster as GraphML or node-link JSON.

Every subcommand takes ``--parts FILE.toml`` (repeatable) to load the user's
own parts and models in the catalog format first, so they can be named like
catalog entries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__, catalog
from .errors import BlackwellModelError
from .hardware import Precision
from .units import format_quantity

__all__ = ["accelerator_table", "main"]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join([line, sep, *body])


def _tf(acc: Any, p: Precision) -> str:
    return f"{acc.peak(p).m / 1e12:,.0f}" if acc.supports(p) else "-"


def accelerator_table() -> str:
    """The catalog's accelerators side by side (dense TFLOP/s, memory, links, ridge point)."""
    headers = [
        "accelerator",
        "BF16",
        "FP8",
        "FP4",
        "HBM GB",
        "HBM TB/s",
        "scale-up GB/s/dir",
        "NIC Gb/s",
        "TDP W",
        "ridge BF16 FLOP/B",
    ]
    rows = []
    for name in catalog.names("accelerator"):
        a = catalog.accelerator(name)
        nic = f"{a.nic.bandwidth.m * 8 / 1e9:,.0f}" if a.nic is not None else "-"
        ridge = f"{a.ridge_point('bf16').m:,.0f}" if a.supports("bf16") else "-"
        rows.append(
            [
                name,
                _tf(a, Precision.BF16),
                _tf(a, Precision.FP8),
                _tf(a, Precision.FP4),
                f"{a.memory_capacity.m / 1e9:,.0f}",
                f"{a.memory_bandwidth.m / 1e12:.2f}",
                f"{a.scale_up_bandwidth.m / 1e9:,.0f}" if a.scale_up_link else "-",
                nic,
                f"{a.tdp.m:,.0f}",
                ridge,
            ]
        )
    return (
        "Dense peak TFLOP/s per accelerator (catalog; sources: `blackwell-model catalog accelerator NAME`)\n\n"
        + _table(headers, rows)
    )


def _cmd_catalog(args: argparse.Namespace) -> int:
    if args.table:
        print(accelerator_table())
        return 0
    if args.kind is None:
        listing = catalog.names()
        if args.json:
            print(json.dumps(listing, indent=2))
        else:
            for kind, names in listing.items():  # type: ignore[union-attr]
                print(f"{kind} ({len(names)}): {', '.join(names)}")
        return 0
    if args.name is None:
        names = catalog.names(args.kind)
        print(json.dumps(names, indent=2) if args.json else "\n".join(names))  # type: ignore[arg-type]
        return 0
    part = catalog.get(args.kind, args.name)
    if args.json:
        print(json.dumps(part.to_dict(), indent=2))
        return 0
    print(part.summary())
    sources = getattr(part, "sources", {})
    if sources:
        print("  sources:")
        for k, v in sources.items():
            print(f"    {k}: {v}")
    notes = getattr(part, "notes", "")
    if notes:
        print(f"  notes: {notes}")
    return 0


def _load_parts(args: argparse.Namespace) -> None:
    for path in getattr(args, "parts", None) or ():
        catalog.load_toml(path)


def _cluster(args: argparse.Namespace) -> Any:
    return catalog.cluster(args.system, gpus=args.gpus)


def _cmd_train(args: argparse.Namespace) -> int:
    from .parallel import Layout
    from .predict import predict_training

    model = catalog.model(args.model)
    cluster = _cluster(args)
    dp = args.dp
    if dp is None:
        inner = args.tp * args.pp * args.cp
        if args.gpus % inner:
            print(
                f"blackwell-model: error: --gpus {args.gpus} is not divisible by "
                f"tp*pp*cp = {inner}; give --dp",
                file=sys.stderr,
            )
            return 2
        dp = args.gpus // inner
    layout = Layout(
        tp=args.tp,
        pp=args.pp,
        dp=dp,
        cp=args.cp,
        ep=args.ep,
        vpp=args.vpp,
        micro_batch=args.micro_batch,
        global_batch=args.global_batch,
        seq_len=args.seq_len,
        precision=args.precision,
        recompute=args.recompute,
        zero=args.zero,
        placement=args.placement,
    )
    report = predict_training(model, cluster, layout, check_memory=not args.no_memory_check)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
    return 0


def _cmd_infer(args: argparse.Namespace) -> int:
    from .parallel import InferenceLayout
    from .predict import predict_inference

    if args.disaggregated:
        return _cmd_infer_disaggregated(args)
    model = catalog.model(args.model)
    layout = InferenceLayout(tp=args.tp, pp=args.pp, ep=args.ep, dp=args.dp)
    cluster = catalog.cluster(args.system, gpus=args.gpus or layout.gpus)
    rep = predict_inference(
        model,
        cluster,
        layout,
        batch=args.batch,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        precision=args.precision,
        kv_precision=args.kv_precision,
        **_serving_kwargs(args),
    )
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2))
        return 0
    mode = "static batch" if rep.static else "continuous batching"
    print(
        f"{rep.model_name} on {rep.cluster_name}: {rep.gpus} GPUs, tp={args.tp} pp={args.pp} "
        f"ep={args.ep} dp={args.dp}, {args.precision}, {mode}, batch {rep.batch} per replica"
    )
    rows = [
        ("time to first token", format_quantity(rep.time_to_first_token)),
        ("time per output token", format_quantity(rep.time_per_output_token)),
        ("output tokens/s", f"{rep.output_tokens_per_second.m:,.0f}"),
        ("output tokens/s per GPU", f"{rep.output_tokens_per_second_per_gpu.m:,.0f}"),
        ("tokens/s per user", f"{rep.tokens_per_second_per_user.m:,.1f}"),
        (
            "memory per GPU",
            f"{format_quantity(rep.memory_per_gpu)} of "
            f"{format_quantity(cluster.accelerator.memory_capacity)}",
        ),
        ("energy per output token", format_quantity(rep.energy_per_token)),
    ]
    for k, v in rows:
        print(f"  {k:<24} {v}")
    print("  decode step:")
    for part, t in rep.decode_breakdown.items():
        if t.m > 0:
            print(f"    {part:<22} {format_quantity(t)}")
    _print_assumptions(rep.assumptions)
    return 0


def _progress_bar(stream: Any) -> Any:
    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        stream.write(f"\r  searching [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def _cmd_search(args: argparse.Namespace) -> int:
    from .study import search_layouts

    model = catalog.model(args.model)
    cluster = _cluster(args)
    show = _progress_bar(sys.stderr) if not args.json and sys.stderr.isatty() else None
    res = search_layouts(
        model,
        cluster,
        global_batch=args.global_batch,
        seq_len=args.seq_len,
        precision=args.precision,
        gpus=args.gpus,
        objective=args.objective,
        progress=show,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "enumerated": res.enumerated,
                    "feasible": res.feasible,
                    "rejected": res.rejected,
                    "top": res.to_records(args.top),
                },
                indent=2,
                default=float,
            )
        )
    else:
        print(res.summary(args.top))
    return 0 if res.feasible else 1


def _cmd_compare(args: argparse.Namespace) -> int:
    from .study.report import Scenario, what_if_report

    scenario = Scenario(
        model=args.model,
        train_gpus=args.gpus,
        global_batch=args.global_batch,
        seq_len=args.seq_len,
        tokens=args.tokens,
        serve_gpus=args.serve_gpus,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        train_precision=args.precision,
        serve_precision=args.serve_precision,
    )
    report = what_if_report([scenario], args.systems)
    if _serving_targets_given(args):
        return _compare_serving(args, report)
    if args.json:
        print(json.dumps(report.to_records(), indent=2))
    else:
        print(report.format())
    return 0


def _cmd_graph(args: argparse.Namespace) -> int:
    from .topology import to_graph, to_graphml, to_node_link_json

    part = _cluster(args) if args.gpus else catalog.system(args.system)
    graph = to_graph(part)
    if args.format == "graphml":
        if args.output in (None, "-"):
            print("blackwell-model: error: GraphML needs --output FILE", file=sys.stderr)
            return 2
        to_graphml(graph, args.output)
    else:
        text = to_node_link_json(graph, None if args.output in (None, "-") else args.output)
        if args.output in (None, "-"):
            print(text)
    if args.output not in (None, "-"):
        print(
            f"wrote {args.output}: {graph.number_of_nodes()} nodes, "
            f"{graph.number_of_edges()} edges",
            file=sys.stderr,
        )
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from .solvers.reliability import job_goodput
    from .solvers.site import Facility
    from .study.fleet import plan_fleet

    facility = Facility(cooling=args.cooling, pue=args.pue)
    plan = plan_fleet(
        args.system,
        gpus=args.gpus,
        power_budget=args.power_budget,
        facility=facility,
        fabric=args.fabric,
    )
    goodput = None
    if args.model:
        params = float(catalog.model(args.model).total_params)
        goodput = job_goodput(plan.cluster, plan.gpus, parameters=params)
    if args.json:
        out = plan.to_dict()
        if goodput is not None:
            out["fleet_wide_job"] = {"model": args.model, **goodput.to_dict()}
        print(json.dumps(out, indent=2))
        return 0
    print(plan.summary())
    if goodput is not None:
        print(f"\nA fleet-wide synchronous job of {args.model}:")
        print("  " + goodput.summary().replace("\n", "\n  "))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _common(p: argparse.ArgumentParser, *, json_output: bool = True) -> None:
    """Options every subcommand shares: ``--json`` and ``--parts``."""
    if json_output:
        p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--parts",
        action="append",
        metavar="FILE",
        help="load parts and models from a TOML file (catalog format) first; repeatable",
    )


def _batch_options(p: argparse.ArgumentParser, *, global_batch: int, seq_len: int = 8192) -> None:
    """``--global-batch`` and ``--seq-len`` of a training workload."""
    p.add_argument(
        "--global-batch",
        type=_positive_int,
        default=global_batch,
        help="sequences per step (default: %(default)s)",
    )
    p.add_argument(
        "--seq-len",
        type=_positive_int,
        default=seq_len,
        help="tokens per sequence (default: %(default)s)",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blackwell-model",
        description="Model AI hardware and predict what LLM workloads cost on it. "
        "With no command, print the main report on built-in defaults.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("catalog", help="list catalog entries or show one with its sources")
    p.add_argument("kind", nargs="?", help=f"one of: {', '.join(catalog.KINDS)}")
    p.add_argument("name", nargs="?", help="entry name (case-insensitive)")
    p.add_argument("--table", action="store_true", help="the accelerators side by side")
    _common(p)
    p.set_defaults(func=_cmd_catalog)

    p = sub.add_parser(
        "train",
        help="predict one training layout",
        description="Predict one training step: time, tokens/s, MFU, memory per GPU and the "
        "time breakdown. The cluster is --gpus accelerators of --system with its default "
        "scale-out fabric.",
    )
    p.add_argument("--model", default="llama3-70b", help="catalog model (default: %(default)s)")
    p.add_argument("--system", default="DGX-H100", help="catalog system (default: %(default)s)")
    p.add_argument("--gpus", type=_positive_int, default=64, help="GPUs (default: %(default)s)")
    for name, default in (("tp", 4), ("pp", 4), ("cp", 2), ("ep", 1), ("vpp", 5)):
        p.add_argument(
            f"--{name}",
            type=_positive_int,
            default=default,
            help=f"{name} degree (default: %(default)s)",
        )
    p.add_argument(
        "--dp",
        type=_positive_int,
        default=None,
        help="data-parallel degree (default: gpus / (tp*pp*cp))",
    )
    p.add_argument(
        "--micro-batch",
        type=_positive_int,
        default=1,
        help="sequences per micro-batch (default: %(default)s)",
    )
    _batch_options(p, global_batch=128, seq_len=8192)
    p.add_argument(
        "--precision",
        default="bf16",
        choices=["bf16", "fp16", "fp8", "fp4"],
        help="GEMM precision (default: %(default)s)",
    )
    p.add_argument(
        "--recompute",
        default="none",
        choices=["none", "selective", "full"],
        help="activation recomputation (default: %(default)s)",
    )
    p.add_argument(
        "--zero",
        type=int,
        default=1,
        choices=[0, 1, 2, 3],
        help="ZeRO stage; 3 = FSDP (default: %(default)s)",
    )
    p.add_argument(
        "--placement",
        default="tp-cp-ep-dp-pp",
        choices=["tp-cp-ep-dp-pp", "tp-cp-ep-pp-dp"],
        help="rank order, innermost first (default: %(default)s, Megatron-Core's)",
    )
    p.add_argument(
        "--no-memory-check",
        action="store_true",
        help="report even if the layout does not fit in memory",
    )
    _common(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "infer",
        help="predict serving latency, throughput, memory and energy",
        description="Predict serving one model: time to first token, time per output token, "
        "throughput, memory and energy per output token. Without --batch, continuous batching "
        "at the largest batch that fits (the throughput-optimal point).",
    )
    p.add_argument("--model", default="llama3-70b", help="catalog model (default: %(default)s)")
    p.add_argument("--system", default="DGX-H100", help="catalog system (default: %(default)s)")
    p.add_argument(
        "--gpus", type=_positive_int, default=None, help="cluster GPUs (default: the layout's)"
    )
    for name, default in (("tp", 8), ("pp", 1), ("ep", 1), ("dp", 1)):
        p.add_argument(
            f"--{name}",
            type=_positive_int,
            default=default,
            help=f"{name} degree (default: %(default)s)",
        )
    p.add_argument(
        "--batch",
        type=_positive_int,
        default=None,
        help="static batch per replica (default: continuous batching at the largest batch that fits)",
    )
    p.add_argument(
        "--input-tokens",
        type=_positive_int,
        default=1000,
        help="prompt length (default: %(default)s)",
    )
    p.add_argument(
        "--output-tokens",
        type=_positive_int,
        default=1000,
        help="answer length (default: %(default)s)",
    )
    p.add_argument(
        "--precision",
        default="fp8",
        choices=["bf16", "fp16", "fp8", "fp4", *_weight_formats()],
        help="weight precision or mixed format (default: %(default)s)",
    )
    p.add_argument(
        "--kv-precision",
        default=None,
        choices=["bf16", "fp16", "fp8", "fp4"],
        help="KV-cache precision (default: engine-like, FP8 for FP8/FP4 serving on Hopper/Blackwell)",
    )
    _serving_options(p)
    _common(p)
    p.set_defaults(func=_cmd_infer)

    p = sub.add_parser(
        "search",
        help="rank every valid training layout",
        description="Enumerate every valid training layout (tp, pp, dp, cp, ep, vpp, micro-batch, "
        "recompute) of a model on --gpus GPUs, drop those that do not divide or fit (counted by "
        "rule), and rank the rest. Exit status 1 when nothing fits.",
    )
    p.add_argument("--model", default="llama3-405b", help="catalog model (default: %(default)s)")
    p.add_argument("--system", default="DGX-H100", help="catalog system (default: %(default)s)")
    p.add_argument("--gpus", type=_positive_int, default=16384, help="GPUs (default: %(default)s)")
    _batch_options(p, global_batch=2048, seq_len=8192)
    p.add_argument(
        "--precision",
        default="bf16",
        choices=["bf16", "fp16", "fp8", "fp4"],
        help="GEMM precision (default: %(default)s)",
    )
    p.add_argument(
        "--objective",
        default="step_time",
        choices=["step_time", "memory", "mfu", "hfu", "tokens_per_second_per_gpu"],
        help="ranking (default: %(default)s)",
    )
    p.add_argument(
        "--top", type=_positive_int, default=10, help="rows to show (default: %(default)s)"
    )
    _common(p)
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser(
        "compare",
        help="one workload on several systems, side by side",
        description="Train (best layout found by search) and serve one model on each system: "
        "step time, MFU, days, energy and cost of the run; serving throughput, latency, energy "
        "and cost per token. Prices are documented assumptions.",
    )
    p.add_argument(
        "systems",
        nargs="*",
        default=["DGX-H100", "GB200-NVL72"],
        help="catalog systems (default: DGX-H100 GB200-NVL72)",
    )
    p.add_argument("--model", default="llama3-70b", help="catalog model (default: %(default)s)")
    p.add_argument(
        "--gpus", type=_positive_int, default=1024, help="training GPUs (default: %(default)s)"
    )
    _batch_options(p, global_batch=1024, seq_len=8192)
    p.add_argument(
        "--tokens",
        type=float,
        default=15e12,
        help="tokens of the training run (default: %(default)g)",
    )
    p.add_argument(
        "--precision",
        default="bf16",
        choices=["bf16", "fp16", "fp8", "fp4"],
        help="training precision (default: %(default)s)",
    )
    p.add_argument(
        "--serve-gpus",
        type=_positive_int,
        default=8,
        help="GPUs of one serving deployment (default: %(default)s)",
    )
    p.add_argument(
        "--serve-precision",
        default="fp8",
        choices=["bf16", "fp16", "fp8", "fp4"],
        help="serving precision (default: %(default)s)",
    )
    p.add_argument(
        "--input-tokens",
        type=_positive_int,
        default=1000,
        help="prompt length (default: %(default)s)",
    )
    p.add_argument(
        "--output-tokens",
        type=_positive_int,
        default=1000,
        help="answer length (default: %(default)s)",
    )
    _serving_options(p, kv=True)
    _common(p)
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser(
        "plan",
        help="size a fleet by GPUs or a power budget; failures of a fleet-wide job",
        description="Size a fleet of a system (racks or servers) to a GPU count and/or a "
        "facility power budget, with its cooling and PUE; with --model, the interruptions, "
        "checkpoint interval and goodput of one job across the whole fleet.",
    )
    p.add_argument("--system", default="GB200-NVL72", help="catalog system (default: %(default)s)")
    p.add_argument("--gpus", type=_positive_int, default=None, help="GPUs wanted")
    p.add_argument("--power-budget", default=None, help='facility power, e.g. "150 MW"')
    p.add_argument("--cooling", choices=["air", "liquid"], default=None, help="re-cool the racks")
    p.add_argument("--pue", type=float, default=None, help="facility PUE (default: by cooling)")
    p.add_argument("--fabric", default=None, help="scale-out fabric (default: the system's)")
    p.add_argument("--model", default=None, help="a model for the fleet-wide job's goodput")
    _common(p)
    p.set_defaults(func=_cmd_plan)
    p = sub.add_parser(
        "graph",
        help="export a topology graph",
        description="Export the topology graph of a system (one scale-up domain) or, with "
        "--gpus, of a cluster of them, as node-link JSON (default) or GraphML.",
    )
    p.add_argument("--system", default="GB200-NVL72", help="catalog system (default: %(default)s)")
    p.add_argument(
        "--gpus", type=_positive_int, default=None, help="build a cluster of this many GPUs"
    )
    p.add_argument(
        "--format",
        choices=["json", "graphml"],
        default="json",
        help="output format (default: %(default)s)",
    )
    p.add_argument(
        "-o", "--output", default=None, help="output file (default: JSON to standard output)"
    )
    _common(p, json_output=False)
    p.set_defaults(func=_cmd_graph)
    _add_size_command(sub)
    return parser


# ------------------------------------------------------- serving options (issue 13)
def _weight_formats() -> list[str]:
    from .solvers.serving_params import WEIGHT_FORMATS

    return sorted(WEIGHT_FORMATS)


def _serving_options(p: argparse.ArgumentParser, *, kv: bool = False) -> None:
    """Latency targets, engine limits and deployment shape of a serving prediction."""
    p.add_argument("--max-ttft", default=None, help="time-to-first-token target, e.g. 2s")
    p.add_argument("--max-tpot", default=None, help="time-per-output-token target, e.g. 30ms")
    p.add_argument(
        "--max-batch",
        type=_positive_int,
        default=None,
        help="engine max_batch_size per replica (default: memory-bound)",
    )
    p.add_argument(
        "--disaggregated",
        default=None,
        metavar="PREFILL:DECODE",
        help="separate prefill and decode pools, e.g. tp4:tp8 or tp8:tp1,dp32,ep32",
    )
    p.add_argument(
        "--preset",
        default=None,
        help="serving-engine preset (e.g. trtllm-pytorch-2025; default: library defaults)",
    )
    p.add_argument(
        "--charge",
        choices=["gpus", "racks"],
        default="gpus",
        help="charge shared rack switches per GPU used or whole racks (default: %(default)s)",
    )
    if kv:
        p.add_argument(
            "--kv-precision",
            default=None,
            choices=["bf16", "fp16", "fp8", "fp4"],
            help="KV-cache precision (default: engine-like)",
        )


def _serving_targets_given(args: argparse.Namespace) -> bool:
    return any(
        getattr(args, k, None) is not None
        for k in ("max_ttft", "max_tpot", "max_batch", "disaggregated", "preset", "kv_precision")
    )


def _parse_layout(text: str) -> Any:
    """``tp4``, ``tp=4``, ``tp8,ep8`` or ``dep8`` (tp1, dp8, ep8) -> InferenceLayout."""
    import re

    from .errors import SpecError
    from .parallel import InferenceLayout

    fields: dict[str, int] = {}
    for part in text.replace(" ", "").split(","):
        m = re.fullmatch(r"(dep|tp|pp|ep|dp)=?(\d+)", part)
        if not m:
            raise SpecError(
                f"--disaggregated layout {text!r}: expected items like tp4, ep8, dp8 or dep8 "
                "separated by commas"
            )
        key, n = m.group(1), int(m.group(2))
        if key == "dep":
            fields.update(tp=1, dp=n, ep=n)
        else:
            fields[key] = n
    return InferenceLayout(**fields)


def _serving_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """predict_inference keywords from the serving options."""
    import attrs

    from .solvers.serving_params import EngineLimits
    from .solvers.serving_presets import serving_preset

    out: dict[str, Any] = {
        "max_tpot": args.max_tpot,
        "max_ttft": args.max_ttft,
        "charge": args.charge,
    }
    limits = EngineLimits()
    if args.preset is not None:
        preset = serving_preset(args.preset)
        out["efficiency"] = preset.efficiency
        out["memory"] = preset.memory
        limits = preset.limits or limits
    if args.max_batch is not None:
        limits = attrs.evolve(limits, max_batch_size=args.max_batch)
    out["limits"] = limits
    return out


def _print_assumptions(assumptions: Any) -> None:
    if assumptions:
        print("  assumptions:")
        for k, v in assumptions.items():
            print(f"    {k:<22} {v}")


def _cmd_infer_disaggregated(args: argparse.Namespace) -> int:
    from .predict.disaggregated import DisaggregatedDeployment, predict_disaggregated

    pre_text, sep, dec_text = args.disaggregated.partition(":")
    if not sep:
        from .errors import SpecError

        raise SpecError(
            f"--disaggregated must be PREFILL:DECODE layouts, e.g. tp4:tp8, got "
            f"{args.disaggregated!r}"
        )
    pre, dec = _parse_layout(pre_text), _parse_layout(dec_text)
    gpus = args.gpus or pre.gpus + dec.gpus
    cluster = catalog.cluster(args.system, gpus=gpus)
    kw = _serving_kwargs(args)
    dep = DisaggregatedDeployment(
        prefill_cluster=cluster,
        decode_cluster=cluster,
        prefill_layout=pre,
        decode_layout=dec,
        prefill_precision=args.precision,
        decode_precision=args.precision,
        kv_precision=args.kv_precision,
        decode_batch=args.batch,
    )
    rep = predict_disaggregated(
        catalog.model(args.model),
        dep,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        max_tpot=args.max_tpot,
        max_ttft=args.max_ttft,
        decode_efficiency=kw.get("efficiency"),
        memory=kw.get("memory"),
        decode_limits=kw["limits"],
        charge=args.charge,
    )
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2))
    else:
        print(rep.summary())
    return 0


def _compare_serving(args: argparse.Namespace, report: Any) -> int:
    """compare with serving options: each system's best point under the targets."""
    from .predict.sizing import serving_frontier

    rows = []
    for name in args.systems:
        cluster = catalog.cluster(name, gpus=max(args.serve_gpus, 1))
        front = serving_frontier(
            catalog.model(args.model),
            cluster,
            input_tokens=args.input_tokens,
            output_tokens=args.output_tokens,
            precision=args.serve_precision,
            disaggregated=args.disaggregated is not None,
            preset=args.preset,
        )
        pt = front.best_under(ttft=args.max_ttft, tpot=args.max_tpot)
        rows.append(
            {
                "system": name,
                "shape": pt.shape,
                "layout": pt.label,
                "batch": pt.batch,
                "ttft_s": pt.ttft_s,
                "tpot_s": pt.tpot_s,
                "tokens_per_second_per_user": pt.tokens_per_second_per_user,
                "tokens_per_second_per_gpu": pt.tokens_per_second_per_gpu,
            }
        )
    if args.json:
        print(json.dumps({"report": report.to_records(), "serving": rows}, indent=2))
        return 0
    print(report.format())
    print(
        f"\nServing {args.model} at its best layout and batch with TTFT <= {args.max_ttft} and "
        f"TPOT <= {args.max_tpot} ({args.input_tokens} in / {args.output_tokens} out):"
    )
    print(
        _table(
            ["system", "shape", "layout", "batch", "TTFT", "TPOT", "tok/s/user", "tok/s/GPU"],
            [
                [
                    r["system"],
                    r["shape"],
                    r["layout"],
                    str(r["batch"]),
                    f"{r['ttft_s'] * 1e3:.0f} ms",
                    f"{r['tpot_s'] * 1e3:.1f} ms",
                    f"{r['tokens_per_second_per_user']:.1f}",
                    f"{r['tokens_per_second_per_gpu']:,.0f}",
                ]
                for r in rows
            ],
        )
    )
    return 0


def _add_size_command(sub: Any) -> None:
    p = sub.add_parser(
        "size",
        help="GPUs, racks, $/Mtok and J/token for a request rate under latency targets",
        description="Size a serving deployment: for each system, the best layout, batch and "
        "shape (aggregated or disaggregated) under --max-ttft/--max-tpot, and the GPUs and "
        "racks needed for --rate requests/s, with dollars per million output tokens and "
        "facility joules per output token. Prices are documented assumptions.",
    )
    p.add_argument(
        "systems",
        nargs="*",
        default=["DGX-H100", "GB200-NVL72"],
        help="catalog systems (default: DGX-H100 GB200-NVL72)",
    )
    p.add_argument("--model", default="llama3-70b", help="catalog model (default: %(default)s)")
    p.add_argument("--rate", type=float, default=10.0, help="requests/s (default: %(default)s)")
    p.add_argument(
        "--input-tokens", type=_positive_int, default=1000, help="prompt length (default: 1000)"
    )
    p.add_argument(
        "--output-tokens", type=_positive_int, default=1000, help="answer length (default: 1000)"
    )
    p.add_argument(
        "--lengths",
        default=None,
        help="length mix IN/OUT:SHARE,... e.g. 1000/200:0.7,8000/1000:0.3 (overrides the above)",
    )
    p.add_argument("--max-ttft", default="2s", help="TTFT target (default: %(default)s)")
    p.add_argument("--max-tpot", default="50ms", help="TPOT target (default: %(default)s)")
    p.add_argument(
        "--precision",
        default="fp8",
        choices=["bf16", "fp16", "fp8", "fp4", *_weight_formats()],
        help="weight precision or format (default: %(default)s)",
    )
    p.add_argument(
        "--gpus",
        type=_positive_int,
        default=72,
        help="GPUs one instance may span (default: %(default)s)",
    )
    p.add_argument("--preset", default=None, help="serving-engine preset")
    p.add_argument(
        "--aggregated-only", action="store_true", help="do not consider disaggregated pools"
    )
    _common(p)
    p.set_defaults(func=_cmd_size)


def _parse_lengths(text: str) -> list[tuple[int, int, float]]:
    from .errors import SpecError

    out = []
    for item in text.split(","):
        try:
            io_part, _, share = item.partition(":")
            i, o = io_part.split("/")
            out.append((int(i), int(o), float(share or 1.0)))
        except ValueError:
            raise SpecError(
                f"--lengths item {item!r}: expected IN/OUT:SHARE such as 1000/200:0.7"
            ) from None
    return out


def _cmd_size(args: argparse.Namespace) -> int:
    from .predict.sizing import size_deployment

    model = catalog.model(args.model)
    clusters = []
    for name in args.systems:
        dom = catalog.system(name).gpus
        clusters.append(catalog.cluster(name, gpus=min(args.gpus, max(dom, 8))))
    res = size_deployment(
        model,
        clusters,
        request_rate=args.rate,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        lengths=_parse_lengths(args.lengths) if args.lengths else None,
        ttft=args.max_ttft,
        tpot=args.max_tpot,
        precision=args.precision,
        preset=args.preset,
        disaggregated=not args.aggregated_only,
    )
    if args.json:
        print(json.dumps([dict(r) for r in res.rows], indent=2, default=float))
    else:
        print(res._text())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from .study.report import what_if_report

            print("blackwell-model: what-if report on built-in defaults\n")
            print(what_if_report().format())
            print(
                "\nMore: `blackwell-model --help`, `blackwell-model catalog --table` (accelerators "
                "side by side), `blackwell-model compare --help`."
            )
            return 0
        _load_parts(args)
        return int(args.func(args))
    except BlackwellModelError as exc:
        print(f"blackwell-model: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `blackwell-model | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"blackwell-model: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line, with a way to see the traceback
        if os.environ.get("BLACKWELL_MODEL_DEBUG"):
            raise
        print(
            f"blackwell-model: internal error: {type(exc).__name__}: {exc} "
            "(set BLACKWELL_MODEL_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
