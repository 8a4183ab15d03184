"""The ``blackwell-model`` command line.

With no arguments it prints the main report on built-in defaults.  Subcommands:

``catalog [KIND] [NAME]``
    List catalog entries, or show one with its sources.
``train``
    Predict one training layout: step time, MFU, memory and the breakdown.
``graph``
    Export the topology of a system or cluster as GraphML or node-link JSON.

Every subcommand takes ``--parts FILE.toml`` (repeatable) to load the user's
own parts and models in the catalog format first, so they can be named like
catalog entries.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__, catalog
from .errors import BlackwellModelError
from .hardware import Precision

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
    )
    report = predict_training(model, cluster, layout, check_memory=not args.no_memory_check)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


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
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--parts", action="append", metavar="FILE", help="load parts from a TOML file first"
    )
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
    for name, default in (("tp", 4), ("pp", 4), ("cp", 1), ("ep", 1), ("vpp", 1)):
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
    p.add_argument(
        "--global-batch",
        type=_positive_int,
        default=128,
        help="sequences per step (default: %(default)s)",
    )
    p.add_argument(
        "--seq-len",
        type=_positive_int,
        default=8192,
        help="tokens per sequence (default: %(default)s)",
    )
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
        "--no-memory-check",
        action="store_true",
        help="report even if the layout does not fit in memory",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--parts",
        action="append",
        metavar="FILE",
        help="load parts and models from a TOML file first",
    )
    p.set_defaults(func=_cmd_train)

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
    p.add_argument(
        "--parts", action="append", metavar="FILE", help="load parts from a TOML file first"
    )
    p.set_defaults(func=_cmd_graph)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            print(accelerator_table())
            return 0
        _load_parts(args)
        return int(args.func(args))
    except BlackwellModelError as exc:
        print(f"blackwell-model: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"blackwell-model: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
