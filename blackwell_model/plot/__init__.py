"""Figures with matplotlib: roofline, step-time breakdown, Pareto front, validation, topology.

Every function draws on the matplotlib Axes given as ``ax`` (a new figure
when None), returns that Axes, and never calls ``plt.show()``: save with
``ax.figure.savefig(...)`` or show it yourself.  Matplotlib is imported when a
function is called, so ``import blackwell_model`` never needs it; without it
the functions raise :class:`ImportError` naming the ``plot`` extra
(``pip install "blackwell_model[plot]"``).

* :func:`roofline_chart`: the roofline of one or several accelerators with
  the operators of a model placed at their arithmetic intensity and achieved
  FLOP/s.
* :func:`breakdown_bars`: stacked bars of the step-time breakdown of
  training reports, of search rows, or of the decode step of inference
  reports.
* :func:`pareto_front`: the rows of one or several layout searches in a plane
  (step time, energy per step, memory, GPUs, MFU ...) with the Pareto-optimal
  rows connected.  Energy per row comes from :func:`search_energy`, the
  energy model of :func:`~blackwell_model.solvers.energy.training_energy`
  evaluated on every row at once (exact: step energy is linear in the phase
  times).
* :func:`predicted_vs_measured`: the validation scatter with the y = x line
  and a relative-error band.
* :func:`topology`: a rack or a small cluster drawn in rows (switches,
  GPUs, CPUs, NICs, fabric), links coloured by network plane.
* :func:`latency_throughput`: inference sweeps, tokens/s per user against
  tokens/s per GPU.
* :func:`sensitivity_bars`: a tornado chart of a report's elasticities to
  every hardware figure and efficiency parameter
  (:func:`~blackwell_model.trust.sensitivity`).

Plain-number helpers that need no matplotlib: :func:`pareto_mask` and
:func:`search_energy`.

One module per figure family (``roofline``, ``breakdown``, ``pareto``,
``validation``, ``network``, ``serving``, ``sensitivity``); import the functions from
``blackwell_model.plot`` itself.

Examples
--------
>>> import blackwell_model as bm
>>> from blackwell_model import plot
>>> ax = plot.roofline_chart(["H100-SXM", "B200"], model="llama3-8b",
...                          phase="forward", seq_len=4096)  # doctest: +SKIP
>>> ax.figure.savefig("roofline.png", dpi=150)  # doctest: +SKIP
"""

from __future__ import annotations

from ._common import _layout_tag as _layout_tag  # used by examples/plot_gallery.py
from .breakdown import breakdown_bars
from .network import topology
from .pareto import PARETO_METRICS, pareto_front, pareto_mask, search_energy
from .roofline import roofline_chart
from .sensitivity import sensitivity_bars
from .serving import latency_throughput
from .validation import predicted_vs_measured

__all__ = [
    "PARETO_METRICS",
    "breakdown_bars",
    "latency_throughput",
    "pareto_front",
    "pareto_mask",
    "predicted_vs_measured",
    "roofline_chart",
    "search_energy",
    "sensitivity_bars",
    "topology",
]
