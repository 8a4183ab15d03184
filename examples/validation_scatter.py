"""Predicted vs measured training throughput of every public case, as a log-log scatter.

Usage::

    MPLBACKEND=Agg python examples/validation_scatter.py [out.png]

Writes the PNG to the path given (default: ``validation_scatter.png`` in a
temporary directory) and prints where.  Needs the ``plot`` extra
(matplotlib).  The figure is :func:`blackwell_model.plot.predicted_vs_measured`
of :func:`blackwell_model.validation.validation_table`: colour gives the
hardware, marker shape the source, dotted lines the ±20 % band.
"""

from __future__ import annotations

import os
import sys
import tempfile

import matplotlib

if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt

from blackwell_model.plot import predicted_vs_measured
from blackwell_model.validation import validation_table


def main(argv: list[str]) -> str:
    """Draw the scatter and return the path of the PNG."""
    out = argv[0] if argv else os.path.join(tempfile.mkdtemp(), "validation_scatter.png")
    fig, ax = plt.subplots(figsize=(6.8, 6.2), layout="constrained")
    predicted_vs_measured(validation_table(), ax=ax)
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(main(sys.argv[1:]))
