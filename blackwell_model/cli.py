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
``calibrate``
    Fit the efficiency parameters to your own measurements (a TOML manifest
    naming GEMM sweeps, nccl-tests outputs, bandwidths, step times); write
    the result as JSON for ``train --calibration`` and ``infer --calibration``.

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
    report = predict_training(
        model, cluster, layout, check_memory=not args.no_memory_check,
        efficiency=_calibrated(args, "training"),
    )  # fmt: skip
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
        _print_trust(report)
    return 0


def _cmd_infer(args: argparse.Namespace) -> int:
    from .parallel import InferenceLayout
    from .predict import predict_inference

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
        efficiency=_calibrated(args, "inference"),
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
    _print_trust(rep)
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


def _calibrated(args: argparse.Namespace, side: str) -> Any:
    """The training or inference efficiency of ``--calibration FILE`` (None without it)."""
    path = getattr(args, "calibration", None)
    if path is None:
        return None
    from .trust import Calibration

    return getattr(Calibration.load(path), side)


def _print_trust(report: Any) -> None:
    """The 80 % interval, and a one-line note when the prediction is extrapolated."""
    iv = report.interval(0.8)
    name, (low, _, high) = next(iter(iv.values.items()))
    print(
        f"  80 % interval     {name} {format_quantity(low)} - {format_quantity(high)} "
        f"({iv.cases} comparable measured cases)"
    )
    ev = report.evidence()
    if not ev.validated:
        print(f"note: {ev.note}")


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from .trust import calibrate, load_measurements

    data = load_measurements(args.manifest)
    cluster = catalog.cluster(args.system, gpus=args.gpus) if args.system else None
    if args.system is None and args.gpus is not None:
        print("blackwell-model: error: --gpus needs --system", file=sys.stderr)
        return 2
    cal = calibrate(data, cluster, progress=None if args.json else _stderr_line)
    if args.output:
        cal.save(args.output)
    if args.json:
        print(json.dumps(cal.to_dict(), indent=2))
    else:
        print(cal.summary())
        if args.output:
            print(
                f"\nwritten to {args.output}; use it with "
                f"`blackwell-model train --calibration {args.output}`"
            )
    return 0


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr)


def _add_calibrate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the efficiency parameters to your own measurements",
        description="Fit the model's efficiency parameters to measurements taken on your "
        "cluster: a TOML manifest naming GEMM sweeps (CSV), nccl-tests/rccl-tests outputs, "
        "memory bandwidths and training or serving runs (see examples/measurements/). "
        "Prints the fitted parameters, the residual of every measurement and the parameters "
        "the data did not constrain.",
    )
    p.add_argument("manifest", help="TOML manifest of measurements")
    p.add_argument(
        "--system", default=None, help="catalog system (default: the manifest's [cluster])"
    )
    p.add_argument("--gpus", type=_positive_int, default=None, help="GPUs of --system")
    p.add_argument("-o", "--output", default=None, help="write the calibration as JSON")
    _common(p)
    p.set_defaults(func=_cmd_calibrate)


def _calibration_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--calibration",
        default=None,
        metavar="FILE",
        help="efficiency parameters fitted by `blackwell-model calibrate -o FILE`",
    )


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
    _calibration_option(p)
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
        choices=["bf16", "fp16", "fp8", "fp4"],
        help="weight precision (default: %(default)s)",
    )
    p.add_argument(
        "--kv-precision",
        default=None,
        choices=["bf16", "fp16", "fp8", "fp4"],
        help="KV-cache precision (default: the activations')",
    )
    _calibration_option(p)
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
    _common(p)
    p.set_defaults(func=_cmd_compare)

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
    _add_calibrate_parser(sub)
    return parser


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
