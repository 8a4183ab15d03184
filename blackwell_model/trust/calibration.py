"""Calibration on the user's own measurements: :func:`calibrate` and :class:`Calibration`.

The shipped efficiency defaults are fitted on published NVIDIA runs
(:mod:`blackwell_model.validation.calibrate`).  :func:`calibrate` fits the
same documented parameters to what a user measured on their own cluster, in
stages that follow the physics from the kernel up:

1. **memory** (:class:`~blackwell_model.trust.measurements.MemoryMeasurement`):
   ``roofline.hbm`` and ``roofline.elementwise`` are the geometric means of
   measured over peak bandwidth (the least-squares solution in log space);
2. **gemm** (:class:`~blackwell_model.trust.measurements.GemmMeasurement`):
   ``roofline.gemm_max``, ``roofline.k_overhead`` and, from 8-bit or
   narrower rows, ``inference.narrow_gemm``, through the roofline of each
   GEMM (:func:`~blackwell_model.solvers.roofline` with the
   :class:`~blackwell_model.solvers.Efficiency` shape model);
3. **collectives** (``nccl-tests`` tables): bus efficiencies and base
   latencies of :class:`~blackwell_model.solvers.CollectiveEfficiency`,
   through :func:`~blackwell_model.solvers.collective_time` on the span of
   the benchmark's GPUs; the collectives other than all-reduce (rings and
   direct sends) first, for the link efficiencies and latencies, then
   all-reduce for the algorithm factors (tree, NVLS, SHARP) left;
4. **training** (step times): the end-to-end parameters of
   :class:`~blackwell_model.solvers.training.TrainingEfficiency` (the ones
   :mod:`~blackwell_model.validation.calibrate` fits on the public cases,
   plus the fixed step overhead), through
   :func:`~blackwell_model.predict_training`;
5. **serving** (latency or throughput): the calibrated parameters of
   :class:`~blackwell_model.solvers.serving.InferenceEfficiency`, through
   :func:`~blackwell_model.predict_inference`.

Each stage holds what earlier stages fitted.  A kernel parameter the kernel
data left unconstrained (``gemm_max`` without a GEMM sweep) is fitted end to
end instead, separately for training and serving.

Which parameters the data constrain
-----------------------------------
Before a stage is fitted, the effect of every candidate parameter on every
prediction is probed: the change of :math:`\\ln \\hat{y}_i` when
:math:`\\theta + s` moves by a factor 2 (a secant from half to twice the
value, within the bounds; :math:`s` is the parameter's scale, zero for
fractions).  The parameters are then chosen greedily, largest effect first;
each chosen column is projected out of the others (Gram-Schmidt).  A
parameter is *constrained* when, beyond what the already chosen ones
explain, some prediction moves by at least :data:`MIN_EFFECT` (2 %).  The
others keep their starting values and are listed in
:attr:`Calibration.unconstrained`.  Collinear parameters (the NVLS factor and
the scale-up efficiency of a single-node all-reduce; ``gemm_max`` and the
per-kernel overhead of a single step time) are thereby never both fitted.
The probe is repeated at the fitted values (the roofline's ``max`` and the
overlap budgets move with the fit), up to four rounds.  A local probe (a
factor 1.1, the same threshold per factor 2) at the fit then finds the
chosen parameters the fit left on a flat stretch: each is tried over its
whole range (the coarse steps can jump onto a plateau, such as an NVLS
factor so low that the ring always wins) and refitted when a value there
fits better; otherwise it returns to its start value when that fits as
well, and is reported unconstrained.

The fit
-------
A deterministic coordinate search minimises the mean squared log error

.. math:: J = \\frac{1}{n} \\sum_i \\ln^2 \\frac{\\hat{y}_i}{y_i}

over the constrained parameters, in the coordinate
:math:`u = \\ln(\\theta + s)`, within each parameter's bounds: every
parameter in turn takes the best of :data:`GRID_POINTS` values spread over
:math:`u \\pm w`, the sweep repeats until nothing changes, and the width
:math:`w` shrinks through :data:`SEARCH_WIDTHS` (the final resolution is
about 0.05 % of :math:`\\theta + s`); after each sweep a pattern move
(Hooke-Jeeves) follows the sweep's direction while it improves, which
speeds the search along the valleys of correlated parameters.  The first
width is a factor 2: wider steps land on plateaus where another collective
algorithm takes over.  No gradient is needed, so the kinks of the roofline's
``max``, of overlap and of the algorithm choice do not stop it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from .._display import Display
from .._validate import check_instance, read_text_file
from ..errors import SpecError, SpecFileError
from ..hardware.system import Cluster
from ..solvers._efficiency import Efficiency
from ..solvers.collectives import CollectiveEfficiency, collective_time, efficiency_for
from ..solvers.roofline import roofline
from ..solvers.serving import InferenceEfficiency
from ..solvers.serving_params import NO_GEMM_CEILINGS, GemmCeilings
from ..solvers.training import TrainingEfficiency
from ..validation.calibrate import LINKED
from ..workload.operators import gemm_op
from .measurements import (
    CollectiveBenchmark,
    Measurements,
    MemoryMeasurement,
    ServingMeasurement,
    TrainingMeasurement,
    load_measurements,
)

__all__ = [
    "GRID_POINTS",
    "MIN_EFFECT",
    "PARAMETERS",
    "SEARCH_WIDTHS",
    "STAGES",
    "Calibration",
    "Parameter",
    "Residual",
    "calibrate",
]

#: Smallest effect for a parameter to count as constrained by the data: the
#: largest change of a prediction's logarithm, beyond what the parameters
#: chosen before it explain, when the parameter moves by a factor 2.
MIN_EFFECT = 0.02

# the probe of the constraint test: a factor 2 on theta + s, either way; the
# final local check at the fit: a factor 1.1
_PROBE = math.log(2.0)
_LOCAL_PROBE = math.log(1.1)

#: Half-widths of the coordinate search in ``u = ln(theta + s)``, widest first.
SEARCH_WIDTHS: tuple[float, ...] = (
    math.log(2.0),
    math.log(2.0) / 4,
    math.log(2.0) / 16,
    0.01,
    0.002,
)

#: Values tried per parameter and width (odd: the current value is the middle one).
GRID_POINTS = 9

#: Most sweeps per width.
_MAX_SWEEPS = 12


@attrs.frozen(kw_only=True)
class Parameter:
    """One parameter :func:`calibrate` can fit.

    Parameters
    ----------
    name
        ``roofline.*`` (the kernel efficiencies of both training and
        serving), ``collectives.*`` (both), ``training.*`` or
        ``inference.*``.
    stages
        The stages that may fit it (of :data:`STAGES`); a later stage fits
        it only when an earlier one did not.
    lower, upper
        Bounds of the search [unit of the parameter].
    scale
        :math:`s` of the search coordinate :math:`\\ln(\\theta + s)` [unit of
        the parameter]: 0 for fractions, a typical magnitude for times and
        sizes that may be 0.
    description
        What it means.
    """

    name: str
    stages: tuple[str, ...]
    lower: float
    upper: float
    scale: float
    description: str


#: Stages of :func:`calibrate`, in order.
STAGES: tuple[str, ...] = ("memory", "gemm", "collectives", "training", "serving")

# name, stages ("a+b"), lower, upper, scale s, description
# fmt: off
_TABLE: tuple[tuple[str, str, float, float, float, str], ...] = (
    ("roofline.hbm", "memory", 1e-3, 1.0, 0.0, "fraction of peak HBM bandwidth of streaming kernels"),
    ("roofline.elementwise", "memory", 1e-3, 1.0, 0.0, "fraction of peak HBM bandwidth of element-wise kernels"),
    ("roofline.gemm_max", "gemm", 1e-3, 1.0, 0.0, "fraction of dense peak of a large GEMM"),
    ("roofline.k_overhead", "gemm", 0.0, 4096.0, 16.0, "per-tile fixed cost [reduction steps]"),
    ("inference.narrow_gemm", "gemm+serving", 1e-3, 1.0, 0.0, "factor on the GEMM fraction at 8 bits or fewer"),
    ("collectives.scale_up", "collectives", 1e-3, 1.0, 0.0, "bus efficiency of scale-up links"),
    ("collectives.network", "collectives", 1e-3, 1.0, 0.0, "bus efficiency of scale-out NICs"),
    ("collectives.nvls", "collectives", 1e-3, 1.0, 0.0, "factor of NVLink SHARP"),
    ("collectives.tree", "collectives", 1e-3, 1.0, 0.0, "factor of the tree algorithm"),
    ("collectives.sharp", "collectives", 1e-3, 1.0, 0.0, "factor of InfiniBand SHARP"),
    ("collectives.all_to_all", "collectives", 1e-3, 1.0, 0.0, "factor on scale-up efficiency for all-to-all"),
    ("collectives.ring_latency_s", "collectives", 0.0, 1e-4, 1e-6, "base latency of ring and point-to-point [s]"),
    ("collectives.tree_latency_s", "collectives", 0.0, 1e-4, 1e-6, "base latency of the tree [s]"),
    ("collectives.nvls_latency_s", "collectives", 0.0, 1e-4, 1e-6, "latency of an NVLS reduction [s]"),
    ("collectives.sharp_latency_s", "collectives", 0.0, 1e-4, 1e-6, "latency of a SHARP reduction [s]"),
    ("collectives.all_to_all_peer_latency_s", "collectives", 0.0, 1e-4, 1e-7, "all-to-all latency per peer [s]"),
    ("training.gemm_max", "training", 1e-3, 1.0, 0.0, "GEMM fraction of peak, end to end (without a GEMM sweep)"),
    ("training.attention", "training", 1e-3, 1.0, 0.0, "attention fraction of peak (backward linked)"),
    ("training.low_precision_gemm_fraction", "training", 0.0, 1.0, 0.05, "GEMM work at the FP8/FP4 rate"),
    ("training.tp_overlap", "training", 0.0, 1.0, 0.05, "hidden tensor-parallel communication"),
    ("training.dp_overlap", "training", 0.0, 1.0, 0.05, "hidden data-parallel communication"),
    ("training.overhead_s", "training", 0.0, 1e-3, 1e-5, "fixed time per kernel [s]"),
    ("training.step_overhead_s", "training", 0.0, 100.0, 1.0, "fixed time per step [s]"),
    ("inference.gemm_max", "serving", 1e-3, 1.0, 0.0, "GEMM fraction of peak, end to end (without a GEMM sweep)"),
    ("inference.attention", "serving", 1e-3, 1.0, 0.0, "attention fraction of peak"),
    ("inference.step_overhead_s", "serving", 0.0, 1.0, 1e-3, "fixed time per decode step [s]"),
    ("inference.prefill_overhead_s", "serving", 0.0, 10.0, 1e-2, "fixed time per prefill pass [s]"),
    ("inference.tp_overlap", "serving", 0.0, 1.0, 0.05, "hidden tensor-parallel all-reduce"),
)
# fmt: on

#: Every parameter :func:`calibrate` may fit, by name.
PARAMETERS: Mapping[str, Parameter] = {
    row[0]: Parameter(
        name=row[0],
        stages=tuple(row[1].split("+")),
        lower=row[2],
        upper=row[3],
        scale=row[4],
        description=row[5],
    )
    for row in _TABLE
}

# end-to-end stand-ins for kernel parameters, used when the kernel data did not constrain them
_STAND_INS = {
    "training.gemm_max": "roofline.gemm_max",
    "inference.gemm_max": "roofline.gemm_max",
}


@attrs.frozen(kw_only=True)
class _State:
    training: TrainingEfficiency
    inference: InferenceEfficiency


def _field(name: str) -> tuple[str, str, str]:
    """(side, object, field): side in training/inference/both; object roofline/collectives/eff."""
    head, _, tail = name.partition(".")
    if head == "roofline":
        return "both", "roofline", tail
    if head == "collectives":
        return "both", "collectives", tail
    if tail in ("gemm_max", "attention", "overhead_s"):
        return head, "roofline", tail
    return head, "eff", tail


def _get(state: _State, name: str) -> float:
    side, obj, field = _field(name)
    eff: Any = state.training if side in ("both", "training") else state.inference
    if obj != "eff":
        eff = getattr(eff, obj)
    return float(getattr(eff, field))


def _evolve_side(eff: Any, obj: str, field: str, value: float) -> Any:
    if obj == "eff":
        return attrs.evolve(eff, **{field: value})
    inner = getattr(eff, obj)
    changes = {field: value}
    linked = LINKED.get(f"roofline.{field}") if obj == "roofline" else None
    if linked is not None:
        changes[linked[0].partition(".")[2]] = round(value * linked[1], 6)
    return attrs.evolve(eff, **{obj: attrs.evolve(inner, **changes)})


def _set(state: _State, name: str, value: float) -> _State:
    side, obj, field = _field(name)
    training, inference = state.training, state.inference
    if side in ("both", "training"):
        training = _evolve_side(training, obj, field, value)
    if side in ("both", "inference"):
        inference = _evolve_side(inference, obj, field, value)
    return _State(training=training, inference=inference)


# --------------------------------------------------------------------------- results


@attrs.frozen(kw_only=True)
class Residual:
    """One measurement against the calibrated prediction.

    Parameters
    ----------
    kind
        ``"memory"``, ``"gemm"``, ``"collective"``, ``"training"`` or ``"serving"``.
    label
        What was measured.
    measured, predicted
        The values [``unit``].
    unit
        Unit of the values (``"TFLOP/s"``, ``"s"``, ``"B/s"``, ``"tokens/s"``).
    """

    kind: str
    label: str
    measured: float
    predicted: float
    unit: str

    @property
    def error(self) -> float:
        """``predicted / measured - 1``."""
        return self.predicted / self.measured - 1.0


def _eff_to_dict(obj: Any) -> Any:
    if obj is None:
        return None
    out = {}
    for f in attrs.fields(type(obj)):
        value = getattr(obj, f.name)
        out[f.name] = _eff_to_dict(value) if attrs.has(type(value)) else value
    return out


def _ceilings_from(d: dict[str, Any]) -> None:
    if d.get("gemm_ceilings") is not None:
        d["gemm_ceilings"] = GemmCeilings(**d["gemm_ceilings"])


def _training_from(data: Mapping[str, Any]) -> TrainingEfficiency:
    d = dict(data)
    d["roofline"] = Efficiency(**d["roofline"])
    _ceilings_from(d)
    d["collectives"] = (
        None if d.get("collectives") is None else CollectiveEfficiency(**d["collectives"])
    )
    return TrainingEfficiency(**d)


def _inference_from(data: Mapping[str, Any]) -> InferenceEfficiency:
    d = dict(data)
    d["roofline"] = Efficiency(**d["roofline"])
    _ceilings_from(d)
    d["collectives"] = (
        None if d.get("collectives") is None else CollectiveEfficiency(**d["collectives"])
    )
    return InferenceEfficiency(**d)


@attrs.frozen(kw_only=True, repr=False)
class Calibration(Display):
    """Efficiency parameters fitted to a user's measurements, with the fit's evidence.

    Pass :attr:`training` to :func:`~blackwell_model.predict_training` and
    :attr:`inference` to :func:`~blackwell_model.predict_inference` (and
    :func:`~blackwell_model.search_layouts`); :attr:`collectives` is the
    fitted :class:`~blackwell_model.solvers.CollectiveEfficiency` for the
    collective solvers.  Serialise with :meth:`to_dict` / :meth:`from_dict`
    or :meth:`save` / :meth:`load` (JSON).

    Parameters
    ----------
    hardware
        Name of the cluster the measurements were taken on.
    accelerator
        Its accelerator.
    training
        The fitted :class:`~blackwell_model.solvers.training.TrainingEfficiency`.
    inference
        The fitted :class:`~blackwell_model.solvers.serving.InferenceEfficiency`.
    fitted
        Parameter name (see :data:`PARAMETERS`) -> fitted value.
    start
        Parameter name -> value before the fit, for every parameter considered.
    unconstrained
        Parameters the measurements did not constrain (kept at ``start``).
    residuals
        One :class:`Residual` per measurement, at the fit.
    """

    hardware: str
    accelerator: str
    training: TrainingEfficiency
    inference: InferenceEfficiency
    fitted: Mapping[str, float]
    start: Mapping[str, float]
    unconstrained: tuple[str, ...]
    residuals: tuple[Residual, ...]

    @property
    def collectives(self) -> CollectiveEfficiency:
        """The fitted collective efficiencies (shared by training and serving)."""
        coll = self.training.collectives
        if coll is None:  # pragma: no cover - calibrate always sets it
            raise SpecError("this calibration holds no collective efficiencies")
        return coll

    @property
    def roofline(self) -> Efficiency:
        """The kernel efficiencies of the training model (:attr:`training` ``.roofline``)."""
        return self.training.roofline

    def rms_log_error(self, kind: str | None = None) -> float:
        """Root-mean-square of :math:`\\ln(\\hat{y}/y)` over the residuals (of one ``kind``)."""
        errs = [
            math.log(r.predicted / r.measured)
            for r in self.residuals
            if kind is None or r.kind == kind
        ]
        return math.sqrt(sum(e * e for e in errs) / len(errs)) if errs else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready); :meth:`from_dict` rebuilds an equal object."""
        return {
            "format": "blackwell_model.calibration/1",
            "hardware": self.hardware,
            "accelerator": self.accelerator,
            "training": _eff_to_dict(self.training),
            "inference": _eff_to_dict(self.inference),
            "fitted": dict(self.fitted),
            "start": dict(self.start),
            "unconstrained": list(self.unconstrained),
            "residuals": [attrs.asdict(r) for r in self.residuals],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        SpecFileError
            A key is missing or a value is out of range.
        """
        try:
            return cls(
                hardware=str(data["hardware"]),
                accelerator=str(data["accelerator"]),
                training=_training_from(data["training"]),
                inference=_inference_from(data["inference"]),
                fitted={str(k): float(v) for k, v in data["fitted"].items()},
                start={str(k): float(v) for k, v in data["start"].items()},
                unconstrained=tuple(str(x) for x in data["unconstrained"]),
                residuals=tuple(Residual(**r) for r in data["residuals"]),
            )
        except (KeyError, TypeError, SpecError) as exc:
            raise SpecFileError(f"not a calibration record: {type(exc).__name__}: {exc}") from None

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON to ``path``."""
        check_instance(path, (str, os.PathLike), "path", "a file path (str or os.PathLike)")
        try:
            Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise SpecFileError(
                f"cannot write {path!s}: {getattr(exc, 'strerror', None) or exc}"
            ) from None

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration written by :meth:`save`."""
        try:
            data = json.loads(read_text_file(path)[0])
        except json.JSONDecodeError as exc:
            raise SpecFileError(f"{path}: not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def to_records(self) -> list[dict[str, Any]]:
        """One record per residual (for :meth:`to_frame`)."""
        return [{**attrs.asdict(r), "error": r.error} for r in self.residuals]

    def summary(self) -> str:
        """Fitted parameters, residuals and what the data did not constrain, as text."""
        lines = [
            f"calibration on {self.hardware} ({self.accelerator}): {len(self.residuals)} "
            f"measurements, {len(self.fitted)} parameters fitted",
            "",
            f"{'parameter':<40} {'start':>10} {'fitted':>10}",
        ]
        for name, value in self.fitted.items():
            lines.append(f"{name:<40} {self.start[name]:>10.4g} {value:>10.4g}")
        if self.unconstrained:
            lines += ["", "not constrained by the data (kept): " + ", ".join(self.unconstrained)]
        lines += ["", f"{'measurement':<48} {'measured':>11} {'predicted':>11} {'error':>7}"]
        for r in self.residuals:
            lines.append(
                f"{(r.kind + ': ' + r.label)[:48]:<48} {r.measured:>11.4g} {r.predicted:>11.4g} "
                f"{r.error:>+7.1%}  {r.unit}"
            )
        kinds = dict.fromkeys(r.kind for r in self.residuals)
        lines.append(
            "rms log error: " + ", ".join(f"{k} {self.rms_log_error(k):.3f}" for k in kinds)
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------- predictors


class _Predictor:
    """Predictions of one stage's measurements from a state (floats, in measured units)."""

    def __init__(self, cluster: Cluster, items: Sequence[Any]) -> None:
        self.cluster = cluster
        self.items = list(items)

    def measured(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, state: _State) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def residuals(self, state: _State) -> list[Residual]:  # pragma: no cover - abstract
        raise NotImplementedError


def _kernel_eff(state: _State, cluster: Cluster) -> Efficiency:
    """The kernel efficiency a micro-benchmark sees: no per-kernel gaps, the part's SMs.

    The ``roofline.*`` parameters are read from (and written to both rooflines
    through) the training roofline, as :func:`_get` does.
    """
    roof = state.training.roofline
    units = cluster.accelerator.compute_units
    changes: dict[str, Any] = {"overhead_s": 0.0}
    if units and roof.compute_units:
        changes["compute_units"] = units
    return attrs.evolve(roof, **changes)


class _Memory(_Predictor):
    def measured(self) -> np.ndarray:
        return np.array([m.bandwidth_Bps for m in self.items])

    def predict(self, state: _State) -> np.ndarray:
        peak = float(self.cluster.accelerator.memory_bandwidth.m)
        roof = state.training.roofline
        return np.array(
            [peak * getattr(roof, "hbm" if m.kind == "stream" else m.kind) for m in self.items]
        )

    def residuals(self, state: _State) -> list[Residual]:
        return [
            Residual(
                kind="memory",
                label=m.label or f"{m.kind} bandwidth",
                measured=y,
                predicted=p,
                unit="B/s",
            )
            for m, y, p in zip(self.items, self.measured(), self.predict(state), strict=True)
        ]


class _Gemm(_Predictor):
    def measured(self) -> np.ndarray:
        return np.array([g.tflops for g in self.items])

    def predict(self, state: _State) -> np.ndarray:
        acc = self.cluster.accelerator
        eff = _kernel_eff(state, self.cluster)
        narrow = attrs.evolve(eff, gemm_max=min(1.0, eff.gemm_max * state.inference.narrow_gemm))
        out = []
        for g in self.items:
            op = gemm_op("gemm", g.m, g.n, g.k, count=g.count, precision=g.precision)
            r = roofline(op, acc, efficiency=narrow if g.precision.bytes < 2.0 else eff)
            out.append(g.flops / r.time_s / 1e12)
        return np.array(out)

    def residuals(self, state: _State) -> list[Residual]:
        return [
            Residual(
                kind="gemm",
                label=g.label
                or f"{g.m}x{g.n}x{g.k}{f' x{g.count}' if g.count > 1 else ''} {g.precision.value}",
                measured=y,
                predicted=p,
                unit="TFLOP/s",
            )
            for g, y, p in zip(self.items, self.measured(), self.predict(state), strict=True)
        ]


def _benchmark_span(cluster: Cluster, bench: CollectiveBenchmark) -> Any:
    from ..topology import cluster_spans

    h = cluster_spans(cluster)
    per_host = bench.ranks // bench.hosts
    gpn = cluster.domain.node.accelerators
    if per_host > gpn or bench.hosts * gpn > cluster.gpus:
        raise SpecError(
            f"{bench.source or 'collective benchmark'}: {bench.ranks} ranks on {bench.hosts} "
            f"host(s) do not fit {cluster.name} ({gpn} GPUs per node, {cluster.gpus} GPUs); "
            "pass a cluster with enough nodes"
        )
    devices = [h.devices[i * gpn + j] for i in range(bench.hosts) for j in range(per_host)]
    return h.span(devices)


class _Collectives(_Predictor):
    def __init__(self, cluster: Cluster, items: Sequence[Any]) -> None:
        super().__init__(cluster, items)
        self.rows = [(b, r) for b in self.items for r in b.rows]
        self.spans = [_benchmark_span(cluster, b) for b in self.items]

    def measured(self) -> np.ndarray:
        return np.array([r.time_s for _, r in self.rows])

    def predict(self, state: _State) -> np.ndarray:
        coll = state.training.collectives
        out = []
        for b, span in zip(self.items, self.spans, strict=True):
            sizes = np.array([r.size_bytes for r in b.rows])
            out.append(np.asarray(collective_time(b.op, span, sizes, efficiency=coll)))
        return np.concatenate(out)

    def residuals(self, state: _State) -> list[Residual]:
        return [
            Residual(
                kind="collective",
                label=f"{b.op} {b.ranks} GPUs/{b.hosts} host(s) {r.size_bytes:.4g} B",
                measured=y,
                predicted=p,
                unit="s",
            )
            for (b, r), y, p in zip(self.rows, self.measured(), self.predict(state), strict=True)
        ]


class _Training(_Predictor):
    def __init__(self, cluster: Cluster, items: Sequence[Any]) -> None:
        super().__init__(cluster, items)
        from ..topology import cluster_spans

        self.clusters = [m.cluster if m.cluster is not None else cluster for m in self.items]
        self.spans = {id(c): cluster_spans(c) for c in self.clusters}

    def measured(self) -> np.ndarray:
        return np.array([m.value for m in self.items])

    def _one(self, m: TrainingMeasurement, cluster: Cluster, eff: TrainingEfficiency) -> float:
        from ..predict.training import predict_training
        from ..solvers.training import TrainingSolver

        solver = TrainingSolver(
            m.model, cluster, eff, hierarchy=self.spans[id(cluster)], memory=m.memory
        )
        rep = predict_training(
            m.model, cluster, m.layout, efficiency=eff, memory=m.memory, check_memory=False,
            solver=solver,
        )  # fmt: skip
        if m.metric == "step_time":
            return float(rep.step_time.m)
        if m.metric == "tokens_per_second":
            return float(rep.tokens_per_second.m)
        return float(rep.tokens_per_second_per_gpu.m)

    def predict(self, state: _State) -> np.ndarray:
        return np.array(
            [
                self._one(m, c, state.training)
                for m, c in zip(self.items, self.clusters, strict=True)
            ]
        )

    def residuals(self, state: _State) -> list[Residual]:
        return [
            Residual(
                kind="training",
                label=m.label or f"{m.model.name} {m.layout.label} {m.metric}",
                measured=y,
                predicted=p,
                unit="s" if m.metric == "step_time" else "tokens/s",
            )
            for m, y, p in zip(self.items, self.measured(), self.predict(state), strict=True)
        ]


class _Serving(_Predictor):
    def measured(self) -> np.ndarray:
        return np.array([m.value for m in self.items])

    def _one(self, m: ServingMeasurement, eff: InferenceEfficiency) -> float:
        from ..predict.inference import predict_inference

        cluster = m.cluster if m.cluster is not None else self.cluster
        rep = predict_inference(
            m.model, cluster, m.layout, batch=m.batch, input_tokens=m.input_tokens,
            output_tokens=m.output_tokens, precision=m.precision, kv_precision=m.kv_precision,
            efficiency=eff, check_memory=False, continuous=not m.static,
        )  # fmt: skip
        return float(getattr(rep, m.metric).m)

    def predict(self, state: _State) -> np.ndarray:
        return np.array([self._one(m, state.inference) for m in self.items])

    def residuals(self, state: _State) -> list[Residual]:
        return [
            Residual(
                kind="serving",
                label=m.label
                or f"{m.model.name} b{m.batch} {m.input_tokens}/{m.output_tokens} {m.metric}",
                measured=y,
                predicted=p,
                unit="s" if "time" in m.metric else "tokens/s",
            )
            for m, y, p in zip(self.items, self.measured(), self.predict(state), strict=True)
        ]


# --------------------------------------------------------------------------- the fit


def _u(p: Parameter, value: float) -> float:
    return math.log(value + p.scale) if value + p.scale > 0 else -math.inf


def _from_u(p: Parameter, u: float) -> float:
    value = math.exp(u) - p.scale
    return min(max(value, p.lower), p.upper)


def _effect_columns(
    predictor: _Predictor, state: _State, names: Sequence[str], probe: float = math.log(2.0)
) -> dict[str, np.ndarray]:
    """Change of ln(prediction) per factor-2 move of theta + s (secant over ``exp(±probe)``)."""
    cols = {}
    n = len(predictor.measured())
    for name in names:
        p = PARAMETERS[name]
        value = _get(state, name)
        u = _u(p, max(value, p.lower)) if value + p.scale > 0 else _u(p, p.lower + 1e-12)
        lo, hi = _from_u(p, u - probe), _from_u(p, u + probe)
        if not (hi > lo) or not math.isfinite(u):
            cols[name] = np.zeros(n)
            continue
        y_lo = predictor.predict(_set(state, name, lo))
        y_hi = predictor.predict(_set(state, name, hi))
        cols[name] = (np.log(y_hi) - np.log(y_lo)) * (_PROBE / (_u(p, hi) - _u(p, lo)))  # per x2
    return cols


def _constrained(cols: Mapping[str, np.ndarray], tolerance: float) -> list[str]:
    """Greedy pivoted Gram-Schmidt: the parameters with an independent effect >= tolerance."""
    work = {k: v.astype(float).copy() for k, v in cols.items()}
    chosen: list[str] = []
    while work:
        name = max(work, key=lambda k: float(np.linalg.norm(work[k])))
        col = work.pop(name)
        if float(np.max(np.abs(col), initial=0.0)) < tolerance:
            break
        chosen.append(name)
        unit = col / np.linalg.norm(col)
        for k, v in work.items():
            work[k] = v - unit * float(unit @ v)
    # keep the registry order for reporting
    return [n for n in cols if n in chosen]


def _objective(predictor: _Predictor, y: np.ndarray) -> Callable[[_State], float]:
    def f(state: _State) -> float:
        pred = predictor.predict(state)
        if np.any(~np.isfinite(pred)) or np.any(pred <= 0):
            return math.inf
        return float(np.mean(np.log(pred / y) ** 2))

    return f


def _search(
    objective: Callable[[_State], float],
    state: _State,
    names: Sequence[str],
    progress: Callable[[str], None] | None,
) -> _State:
    cache: dict[tuple[float, ...], float] = {}

    def value(s: _State) -> float:
        key = tuple(_get(s, n) for n in names)
        if key not in cache:
            cache[key] = objective(s)
        return cache[key]

    best = value(state)
    half = (GRID_POINTS - 1) // 2
    for width in SEARCH_WIDTHS:
        for _ in range(_MAX_SWEEPS):
            before = state
            for name in names:
                p = PARAMETERS[name]
                current = _get(state, name)
                u0 = (
                    _u(p, max(current, p.lower))
                    if current + p.scale > 0
                    else _u(p, p.lower + 1e-12)
                )
                choice = current
                for i in range(-half, half + 1):
                    cand = _from_u(p, u0 + width * i / half)
                    if i == 0 or cand == current:
                        continue
                    obj = value(_set(state, name, cand))
                    if obj < best - 1e-15:
                        best, choice = obj, cand
                if choice != current:
                    state = _set(state, name, choice)
            if state == before:
                break
            state, best = _pattern_move(value, before, state, best, names)
        if progress is not None:
            progress(
                f"  width {width:.3f}: "
                + ", ".join(f"{n}={_get(state, n):.4g}" for n in names)
                + f" (mean squared log error {best:.3g})"
            )
    return state


def _pattern_move(
    value: Callable[[_State], float],
    before: _State,
    state: _State,
    best: float,
    names: Sequence[str],
) -> tuple[_State, float]:
    """Hooke-Jeeves step: keep going along the last sweep's move while it improves."""
    step = 1.0
    for _ in range(8):
        trial = state
        for name in names:
            p = PARAMETERS[name]
            a, b = _get(before, name), _get(state, name)
            if a + p.scale <= 0 or b + p.scale <= 0:
                continue
            trial = _set(trial, name, _from_u(p, _u(p, b) + step * (_u(p, b) - _u(p, a))))
        obj = value(trial)
        if not obj < best - 1e-15:
            break
        before, state, best = state, trial, obj
        step *= 2.0
    return state, best


def _as_measurements(measurements: Any) -> Measurements:
    if isinstance(measurements, Measurements):
        return measurements
    if isinstance(measurements, str | Path):
        return load_measurements(measurements)
    if isinstance(measurements, Iterable):
        return Measurements.of(measurements)
    raise SpecError(
        "measurements must be a Measurements, a path to a TOML manifest or an iterable of "
        f"measurement records, got {type(measurements).__name__} {measurements!r}"
    )


def _start_state(cluster: Cluster, start: Any) -> _State:
    if isinstance(start, Calibration):
        return _State(training=start.training, inference=start.inference)
    if start is not None:
        raise SpecError(
            f"start must be a Calibration or None, got {type(start).__name__} {start!r}"
        )
    coll = efficiency_for(cluster)
    return _State(
        training=TrainingEfficiency(collectives=coll),
        inference=InferenceEfficiency(collectives=coll),
    )


def _stage_candidates(stage: str, done: set[str], has_narrow: bool) -> list[str]:
    out = []
    for name, p in PARAMETERS.items():
        if stage not in p.stages or name in done or _STAND_INS.get(name) in done:
            continue
        if name == "inference.narrow_gemm" and stage == "gemm" and not has_narrow:
            continue
        out.append(name)
    return out


def calibrate(
    measurements: Any,
    cluster: Cluster | None = None,
    *,
    start: Calibration | None = None,
    parameters: Sequence[str] | None = None,
    tolerance: float = MIN_EFFECT,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit the model's efficiency parameters to measurements taken on one cluster.

    Parameters
    ----------
    measurements
        A :class:`~blackwell_model.trust.measurements.Measurements`, the path
        of a TOML manifest (:func:`~blackwell_model.trust.load_measurements`),
        or an iterable of measurement records
        (:class:`~blackwell_model.trust.GemmMeasurement`,
        :class:`~blackwell_model.trust.CollectiveBenchmark`,
        :class:`~blackwell_model.trust.MemoryMeasurement`,
        :class:`~blackwell_model.trust.TrainingMeasurement`,
        :class:`~blackwell_model.trust.ServingMeasurement`).
    cluster
        The :class:`~blackwell_model.hardware.Cluster` they were taken on;
        default: the manifest's ``[cluster]``.
    start
        A previous :class:`Calibration` to start from (default: the shipped
        defaults, with the collective preset of the cluster's NVLink
        generation).
    parameters
        Restrict the fit to these names of :data:`PARAMETERS` (default: all).
    tolerance
        :data:`MIN_EFFECT`: the smallest independent effect (change of a
        prediction's logarithm per factor-2 move) that makes a parameter
        constrained.
    progress
        Called with a line of text as each stage proceeds (e.g. ``print``).

    Returns
    -------
    Calibration
        The fitted efficiencies, residuals and unconstrained parameters.

    Raises
    ------
    SpecError
        No measurements, no cluster, an unknown parameter name, or a
        measured memory bandwidth above the accelerator's peak.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    >>> sweep = [bm.trust.GemmMeasurement(m=s, n=s, k=s, precision="bf16", tflops=t)
    ...          for s, t in ((1024, 420.0), (4096, 640.0), (8192, 700.0))]
    >>> cal = bm.calibrate(sweep, cluster)
    >>> round(cal.fitted["roofline.gemm_max"], 2)
    0.81
    >>> report = bm.predict_training("llama3-8b", cluster, bm.Layout(tp=1, dp=8,
    ...     global_batch=64, seq_len=4096), efficiency=cal.training)
    """
    data = _as_measurements(measurements)
    cluster = cluster if cluster is not None else data.cluster
    if not isinstance(cluster, Cluster):
        raise SpecError(
            "cluster must be a Cluster (the hardware the measurements were taken on), got "
            f"{type(cluster).__name__} {cluster!r}"
        )
    if len(data) == 0:
        raise SpecError("measurements must hold at least one measurement, got none")
    allowed = set(PARAMETERS) if parameters is None else set(parameters)
    unknown = sorted(allowed - set(PARAMETERS))
    if unknown:
        raise SpecError(
            f"parameters must name entries of PARAMETERS ({', '.join(PARAMETERS)}), got {unknown}"
        )
    state = _start_state(cluster, start)
    start_values: dict[str, float] = {}
    fitted: dict[str, float] = {}
    predictors: list[_Predictor] = []
    stages: list[tuple[str, Any, Sequence[Any]]] = [
        ("memory", _Memory, data.memory),
        ("gemm", _Gemm, data.gemm),
        ("collectives", _Collectives, data.collectives),
        ("training", _Training, data.training),
        ("serving", _Serving, data.serving),
    ]
    has_narrow = any(g.precision.bytes < 2.0 for g in data.gemm)
    for stage, cls, items in stages:
        if not items:
            continue
        predictor = cls(cluster, items)
        predictors.append(predictor)
        names = [n for n in _stage_candidates(stage, set(fitted), has_narrow) if n in allowed]
        for n in names:
            start_values.setdefault(n, _get(state, n))
        if not names:
            continue
        if progress is not None:
            progress(f"{stage}: {len(items)} measurement(s), candidates {', '.join(names)}")
        if stage == "memory":
            state, chosen = _fit_memory(state, data.memory, cluster, names)
        elif stage == "collectives":
            state, chosen = _fit_collectives(
                cluster, items, state, names, tolerance=tolerance, progress=progress
            )
        else:
            state, chosen = _fit_stage(predictor, state, names, tolerance, progress)
        fitted.update({n: _get(state, n) for n in chosen})
        if stage == "gemm" and chosen:
            # the user's own GEMM sweep replaces the generation's published ceilings
            state = _State(
                training=attrs.evolve(state.training, gemm_ceilings=NO_GEMM_CEILINGS),
                inference=attrs.evolve(state.inference, gemm_ceilings=NO_GEMM_CEILINGS),
            )
    unconstrained = [n for n in start_values if n not in fitted]
    residuals = [r for p in predictors for r in p.residuals(state)]
    return Calibration(
        hardware=cluster.name,
        accelerator=cluster.accelerator.name,
        training=state.training,
        inference=state.inference,
        fitted=fitted,
        start=start_values,
        unconstrained=tuple(unconstrained),
        residuals=tuple(residuals),
    )


def _full_range(p: Parameter, points: int = 17) -> list[float]:
    lo, hi = _u(p, p.lower if p.lower + p.scale > 0 else p.lower + 1e-9), _u(p, p.upper)
    return [_from_u(p, lo + (hi - lo) * i / (points - 1)) for i in range(points)]


def _fit_stage(
    predictor: _Predictor,
    state: _State,
    names: Sequence[str],
    tolerance: float,
    progress: Callable[[str], None] | None,
) -> tuple[_State, list[str]]:
    """Probe, fit, check locally at the fit; repeat while anything changes (<= 4 rounds).

    A chosen parameter the local probe finds on a flat stretch (the coarse
    steps of the search can jump onto a plateau: an NVLS factor so low that
    the ring always wins) is tried over its whole range; if a value fits
    better it is taken and the stage refitted, else it returns to its start
    value (when that fits as well) and is reported unconstrained.
    """
    objective = _objective(predictor, predictor.measured())
    start = state
    chosen: list[str] = []
    dropped: set[str] = set()
    for _ in range(4):
        found = _constrained(_effect_columns(predictor, state, names), tolerance)
        new = [n for n in found if n not in chosen and n not in dropped]
        chosen = [n for n in names if n in chosen or n in new]
        if new:
            state = _search(objective, state, chosen, progress)
        local = _constrained(_effect_columns(predictor, state, chosen, _LOCAL_PROBE), tolerance)
        best = objective(state)
        moved = False
        for name in [n for n in chosen if n not in local]:
            p = PARAMETERS[name]
            trials = [(objective(_set(state, name, v)), v) for v in _full_range(p)]
            value, v = min(trials)
            if value < best * (1.0 - 1e-6) - 1e-15:
                state, best, moved = _set(state, name, v), value, True
                continue
            trial = _set(state, name, _get(start, name))
            if objective(trial) <= best * (1.0 + 1e-6) + 1e-12:
                state, best = trial, objective(trial)
                chosen.remove(name)
                dropped.add(name)
        if moved:
            state = _search(objective, state, chosen, progress)
        elif not new:
            break
    return state, chosen


def _fit_collectives(
    cluster: Cluster,
    items: Sequence[CollectiveBenchmark],
    state: _State,
    names: Sequence[str],
    *,
    tolerance: float,
    progress: Callable[[str], None] | None,
) -> tuple[_State, list[str]]:
    """Link efficiencies first, from the collectives other than all-reduce, then the rest.

    All-gather, reduce-scatter, all-to-all, broadcast and send/recv run as
    rings or direct sends: they isolate the bus efficiencies and base
    latencies of the links.  All-reduce picks among ring, tree, NVLS and
    SHARP, whose factors multiply the link efficiency; fitting it jointly
    from the start lets an algorithm factor trade against the link
    efficiency along a valley of the objective.
    """
    plain = [b for b in items if b.op != "all_reduce"]
    if not plain or len(plain) == len(items):
        return _fit_stage(_Collectives(cluster, items), state, names, tolerance, progress)
    state, first = _fit_stage(_Collectives(cluster, plain), state, names, tolerance, progress)
    rest = [n for n in names if n not in first]
    state, second = _fit_stage(_Collectives(cluster, items), state, rest, tolerance, progress)
    return state, [n for n in names if n in first or n in second]


def _fit_memory(
    state: _State, items: Sequence[MemoryMeasurement], cluster: Cluster, names: Sequence[str]
) -> tuple[_State, list[str]]:
    """Closed form: each fraction is the geometric mean of measured / peak of its kind."""
    peak = float(cluster.accelerator.memory_bandwidth.m)
    chosen = []
    for kind, name in (("stream", "roofline.hbm"), ("elementwise", "roofline.elementwise")):
        values = [m.bandwidth_Bps for m in items if m.kind == kind]
        if not values or name not in names:
            continue
        for v in values:
            if v > peak * (1.0 + 1e-9):
                raise SpecError(
                    f"measured {kind} bandwidth {v / 1e12:.3g} TB/s exceeds the peak "
                    f"{peak / 1e12:.3g} TB/s of {cluster.accelerator.name}; check the cluster "
                    "or the unit (bandwidth is per GPU)"
                )
        frac = math.exp(sum(math.log(v / peak) for v in values) / len(values))
        state = _set(state, name, frac)
        chosen.append(name)
    return state, chosen
