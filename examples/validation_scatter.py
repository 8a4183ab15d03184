"""Predicted vs measured training throughput of every public case, as a log-log scatter.

Usage::

    MPLBACKEND=Agg python examples/validation_scatter.py [out.png]

Writes the PNG to the path given (default: ``validation_scatter.png`` in a
temporary directory) and prints where.  Needs the ``plot`` extra
(matplotlib).
"""

from __future__ import annotations

import os
import sys
import tempfile

import matplotlib

if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt

from blackwell_model.validation import validation_table

GROUP_STYLE = {
    "narayanan": ("A100 Narayanan 2021", "o"),
    "narayanan-t2": ("A100 Narayanan 2021 (Table 2)", "s"),
    "korthikanti": ("A100 Korthikanti 2022", "D"),
    "megatron-core": ("H100 Megatron-Core", "^"),
    "nemo": ("NeMo (H100/B200/GB200)", "v"),
    "nemo-longseq": ("NeMo long sequence", "P"),
}


def main(argv: list[str]) -> str:
    """Draw the scatter and return the path of the PNG."""
    out = argv[0] if argv else os.path.join(tempfile.mkdtemp(), "validation_scatter.png")
    table = validation_table()
    fig, ax = plt.subplots(figsize=(6.5, 6.0))
    for group, (label, marker) in GROUP_STYLE.items():
        rows = [r for r in table.rows if r.group == group]
        if rows:
            ax.scatter(
                [r.measured for r in rows],
                [r.predicted for r in rows],
                marker=marker,
                label=label,
                alpha=0.8,
            )
    lo = min(min(r.measured, r.predicted) for r in table.rows) * 0.7
    hi = max(max(r.measured, r.predicted) for r in table.rows) * 1.4
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    for f in (0.8, 1.2):
        ax.plot([lo, hi], [lo * f, hi * f], "k:", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured tokens/s per GPU")
    ax.set_ylabel("predicted tokens/s per GPU")
    s = table.summary()
    ax.set_title(
        f"{len(table.rows)} training cases: median |error| {s['median_abs_error']:.1%}, "
        f"{s['within_20']:.0%} within 20 %",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(main(sys.argv[1:]))
