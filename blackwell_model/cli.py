"""The ``blackwell-model`` command line.

With no arguments it prints the main report on built-in defaults.  Subcommands:

``catalog [KIND] [NAME]``
    List catalog entries, or show one with its sources.
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
    p.set_defaults(func=_cmd_catalog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            print(accelerator_table())
            return 0
        return int(args.func(args))
    except BlackwellModelError as exc:
        print(f"blackwell-model: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
