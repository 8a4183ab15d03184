"""Roofline solver: an operator on an accelerator at a precision -> time, bound, intensity.

.. math::

    t_{compute} = \\frac{F}{\\eta_c P_{peak}}, \\qquad
    t_{memory} = \\frac{B}{\\eta_m B_{peak}}, \\qquad
    t = \\max(t_{compute}, t_{memory}) + t_0

(grouped MoE GEMMs add the unhidden part of the shorter time, see
:attr:`Efficiency.grouped_overlap`) with :math:`F` the operator's FLOPs,
:math:`B` its bytes moved,
:math:`P_{peak}` the dense peak at the precision, :math:`B_{peak}` the peak
memory bandwidth, :math:`\\eta_c, \\eta_m` the achievable fractions from an
:class:`Efficiency` model and :math:`t_0` a fixed per-kernel overhead
(0 by default).  The operator is *compute-bound* when
:math:`t_{compute} > t_{memory}`, i.e. when its arithmetic intensity
:math:`I = F/B` exceeds the effective ridge point
:math:`\\eta_c P_{peak} / (\\eta_m B_{peak})`.

:func:`roofline` works on one :class:`~blackwell_model.workload.Operator`
(microseconds per call); :func:`roofline_array` and
:func:`gemm_roofline_array` take numpy arrays of sizes and evaluate
hundreds of thousands of cases in milliseconds, for layout searches.

References
----------
.. [1] S. Williams, A. Waterman, D. Patterson, "Roofline: an insightful visual
   performance model for multicore architectures", CACM 52(4), 2009.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pint

from ..errors import SpecError
from ..hardware.chip import Accelerator
from ..hardware.precision import Precision
from ..units import Q_, ureg
from ..workload.operators import Operator, OpKind
from ._efficiency import DEFAULT_EFFICIENCY, Efficiency, EfficiencyModel

__all__ = [
    "DEFAULT_EFFICIENCY",
    "Efficiency",
    "EfficiencyModel",
    "RooflineArrays",
    "RooflineResult",
    "gemm_roofline_array",
    "roofline",
    "roofline_array",
    "roofline_many",
    "total_time_s",
]

_SECOND = ureg.Unit("s")


@attrs.frozen(kw_only=True, slots=True)
class RooflineResult:
    """The roofline prediction for one operator.

    Floats carry their unit in their name or in brackets here; the
    properties :attr:`time`, :attr:`compute_time` and :attr:`memory_time`
    give pint Quantities.

    Parameters
    ----------
    name
        The operator's name.
    kind
        The operator's :class:`~blackwell_model.workload.OpKind`.
    precision
        Precision whose peak was used.
    flops
        Work [FLOP].
    bytes
        Memory traffic, read plus written [B].
    compute_time_s
        :math:`F / (\\eta_c P_{peak})` [s].
    memory_time_s
        :math:`B / (\\eta_m B_{peak})` [s].
    time_s
        Predicted time, the larger of the two plus the fixed overhead [s].
    arithmetic_intensity
        :math:`F / B` [FLOP/B] (``inf`` when nothing is moved).
    ridge_point
        Peak compute over peak bandwidth [FLOP/B] (the accelerator's).
    effective_ridge_point
        The same with the achievable fractions applied [FLOP/B]; the operator
        is compute-bound when its intensity exceeds it.
    bound
        ``"compute"`` or ``"memory"`` (``"memory"`` on a tie).
    compute_efficiency, memory_efficiency
        The fractions :math:`\\eta_c, \\eta_m` used.
    peak_flops_per_s
        Dense peak at ``precision`` [FLOP/s].
    memory_Bps
        Peak memory bandwidth [B/s].
    """

    name: str
    kind: OpKind
    precision: Precision
    flops: float
    bytes: float
    compute_time_s: float
    memory_time_s: float
    time_s: float
    arithmetic_intensity: float
    ridge_point: float
    effective_ridge_point: float
    bound: str
    compute_efficiency: float
    memory_efficiency: float
    peak_flops_per_s: float
    memory_Bps: float

    @property
    def time(self) -> pint.Quantity:
        """Predicted time [s] as a Quantity."""
        return Q_(self.time_s, _SECOND)

    @property
    def compute_time(self) -> pint.Quantity:
        """Compute time [s] as a Quantity."""
        return Q_(self.compute_time_s, _SECOND)

    @property
    def memory_time(self) -> pint.Quantity:
        """Memory time [s] as a Quantity."""
        return Q_(self.memory_time_s, _SECOND)

    @property
    def achieved_flops_per_s(self) -> float:
        """FLOPs over predicted time [FLOP/s] (0 for a zero-time operator)."""
        return self.flops / self.time_s if self.time_s > 0 else 0.0


def _fractions(efficiency: Any, op: Operator) -> tuple[float, float]:
    if efficiency is None:
        return DEFAULT_EFFICIENCY(op)
    if not callable(efficiency):
        raise SpecError(
            "efficiency must be an Efficiency or a callable op -> (compute_fraction, "
            f"memory_fraction), got {type(efficiency).__name__}"
        )
    try:
        cf, mf = efficiency(op)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError(
            f"efficiency model must return (compute_fraction, memory_fraction), got an "
            f"error for operator {op.name!r}: {exc}"
        ) from None
    cf, mf = float(cf), float(mf)
    if not (0.0 < cf <= 1.0 and 0.0 < mf <= 1.0):
        raise SpecError(
            f"efficiency fractions must be in (0, 1], got compute {cf!r} and memory {mf!r} "
            f"for operator {op.name!r}"
        )
    return cf, mf


def roofline(
    op: Operator,
    accelerator: Accelerator,
    precision: Precision | str | None = None,
    *,
    efficiency: Efficiency | EfficiencyModel | None = None,
) -> RooflineResult:
    """Predict the time of one operator on one accelerator.

    Parameters
    ----------
    op
        The operator (see :func:`blackwell_model.workload.layer_operators`).
    accelerator
        The device.
    precision
        Precision whose dense peak bounds the compute; defaults to
        ``op.precision``.
    efficiency
        An :class:`Efficiency` (default :data:`DEFAULT_EFFICIENCY`) or any
        callable ``op -> (compute_fraction, memory_fraction)``.

    Returns
    -------
    RooflineResult

    Raises
    ------
    UnsupportedPrecisionError
        If the accelerator has no peak at ``precision`` (e.g. FP8 on A100).
    SpecError
        If ``op`` is not an Operator or the efficiency model returns fractions
        outside (0, 1].

    Examples
    --------
    >>> import blackwell_model as bm
    >>> from blackwell_model.workload import gemm_op
    >>> h100 = bm.catalog.accelerator("H100-SXM")
    >>> r = roofline(gemm_op("big", 8192, 8192, 8192), h100)
    >>> r.bound, round(r.ridge_point)
    ('compute', 295)
    >>> roofline(gemm_op("gemv", 1, 8192, 8192), h100).bound
    'memory'
    """
    if not isinstance(op, Operator):
        raise SpecError(f"op must be an Operator, got {type(op).__name__} {op!r}")
    p = op.precision if precision is None else Precision.parse(precision)
    peak = accelerator.peak_flops_per_s(p)
    bw = float(accelerator.memory_bandwidth.m)
    cf, mf = _fractions(efficiency, op)
    overhead = (
        efficiency.overhead_s
        if isinstance(efficiency, Efficiency)
        else (DEFAULT_EFFICIENCY.overhead_s if efficiency is None else 0.0)
    )
    combiner = (
        efficiency
        if isinstance(efficiency, Efficiency)
        else (DEFAULT_EFFICIENCY if efficiency is None else None)
    )
    moved = op.bytes_read + op.bytes_written
    ct = op.flops / (peak * cf)
    mt = moved / (bw * mf)
    ai = op.flops / moved if moved > 0.0 else (math.inf if op.flops > 0.0 else 0.0)
    return RooflineResult(
        name=op.name,
        kind=op.kind,
        precision=p,
        flops=op.flops,
        bytes=moved,
        compute_time_s=ct,
        memory_time_s=mt,
        time_s=(combiner.combine(op, ct, mt) if combiner is not None else max(ct, mt)) + overhead,
        arithmetic_intensity=ai,
        ridge_point=peak / bw,
        effective_ridge_point=peak * cf / (bw * mf),
        bound="compute" if ct > mt else "memory",
        compute_efficiency=cf,
        memory_efficiency=mf,
        peak_flops_per_s=peak,
        memory_Bps=bw,
    )


def roofline_many(
    ops: Iterable[Operator],
    accelerator: Accelerator,
    precision: Precision | str | None = None,
    *,
    efficiency: Efficiency | EfficiencyModel | None = None,
) -> tuple[RooflineResult, ...]:
    """:func:`roofline` of every operator in ``ops`` (e.g. a layer or a whole model)."""
    return tuple(roofline(op, accelerator, precision, efficiency=efficiency) for op in ops)


def total_time_s(results: Iterable[RooflineResult]) -> float:
    """Sum of the predicted times of ``results`` [s] (kernels run one after another)."""
    return float(sum(r.time_s for r in results))


# --------------------------------------------------------------------------- arrays
@attrs.frozen(kw_only=True, slots=True, eq=False)
class RooflineArrays:
    """Vectorised roofline results: numpy arrays of one shape (broadcast inputs).

    Parameters
    ----------
    time_s
        Predicted time [s].
    compute_time_s
        Compute time [s].
    memory_time_s
        Memory time [s].
    arithmetic_intensity
        FLOPs per byte [FLOP/B].
    compute_bound
        True where compute time exceeds memory time.
    """

    time_s: np.ndarray
    compute_time_s: np.ndarray
    memory_time_s: np.ndarray
    arithmetic_intensity: np.ndarray
    compute_bound: np.ndarray

    @property
    def bound(self) -> np.ndarray:
        """``"compute"`` or ``"memory"`` per case."""
        return np.where(self.compute_bound, "compute", "memory")

    def __len__(self) -> int:
        return int(self.time_s.size)


def _as_array(name: str, value: Any, unit: str, *, positive: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr) | ((arr <= 0.0) if positive else (arr < 0.0))
    if bad.any():
        idx = np.flatnonzero(bad)[0] if arr.ndim else 0
        got = float(arr.ravel()[idx])
        rel = ">" if positive else ">="
        where = f" at index {idx}" if arr.ndim else ""
        raise SpecError(f"{name} must be finite and {rel} 0 {unit}, got {got!r}{where}")
    return arr


def _as_fraction(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    bad = ~((arr > 0.0) & (arr <= 1.0))
    if bad.any():
        got = float(arr.ravel()[np.flatnonzero(bad)[0]]) if arr.ndim else float(arr)
        raise SpecError(f"{name} must be in (0, 1], got {got!r}")
    return arr


def roofline_array(
    flops: npt.ArrayLike,
    bytes: npt.ArrayLike,
    peak_flops_per_s: npt.ArrayLike,
    memory_Bps: npt.ArrayLike,  # noqa: N803 - unit-suffixed name (STYLE.md)
    *,
    compute_efficiency: npt.ArrayLike = 1.0,
    memory_efficiency: npt.ArrayLike = 1.0,
    overhead_s: npt.ArrayLike = 0.0,
) -> RooflineArrays:
    """The roofline on numpy arrays (any broadcastable shapes).

    Parameters
    ----------
    flops
        Work [FLOP].
    bytes
        Memory traffic [B].
    peak_flops_per_s
        Dense peak [FLOP/s] (e.g. ``accelerator.peak_flops_per_s("bf16")``).
    memory_Bps
        Peak memory bandwidth [B/s].
    compute_efficiency, memory_efficiency
        Achievable fractions of the peaks, in (0, 1].  Default 1 (the
        ideal roofline).
    overhead_s
        Fixed time added per case [s].

    Returns
    -------
    RooflineArrays

    Raises
    ------
    SpecError
        If a size is negative or not finite, a rate not > 0, or a fraction
        outside (0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> r = roofline_array(np.array([1e12, 1e9]), np.array([1e9, 1e9]), 989.4e12, 3.35e12)
    >>> r.bound.tolist()
    ['compute', 'memory']
    """
    f = _as_array("flops", flops, "FLOP")
    b = _as_array("bytes", bytes, "B")
    peak = _as_array("peak_flops_per_s", peak_flops_per_s, "FLOP/s", positive=True)
    bw = _as_array("memory_Bps", memory_Bps, "B/s", positive=True)
    ce = _as_fraction("compute_efficiency", compute_efficiency)
    me = _as_fraction("memory_efficiency", memory_efficiency)
    t0 = _as_array("overhead_s", overhead_s, "s")
    ct = f / (peak * ce)
    mt = b / (bw * me)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ai = np.where(b > 0.0, f / np.where(b > 0.0, b, 1.0), np.where(f > 0.0, np.inf, 0.0))
    ct, mt, ai = np.broadcast_arrays(ct, mt, ai)
    return RooflineArrays(
        time_s=np.maximum(ct, mt) + t0,
        compute_time_s=np.array(ct),
        memory_time_s=np.array(mt),
        arithmetic_intensity=np.array(ai),
        compute_bound=ct > mt,
    )


def gemm_roofline_array(
    m: npt.ArrayLike,
    n: npt.ArrayLike,
    k: npt.ArrayLike,
    accelerator: Accelerator,
    precision: Precision | str = Precision.BF16,
    *,
    count: npt.ArrayLike = 1.0,
    efficiency: Efficiency | None = None,
    out_bytes: float | None = None,
) -> RooflineArrays:
    """The roofline of many GEMM shapes at once, with the shape-dependent efficiency.

    FLOPs :math:`2mnk \\cdot count`; bytes :math:`(mk + kn) b + mn\\, b_{out}`
    per GEMM, as :func:`~blackwell_model.workload.gemm_op` counts them.

    Parameters
    ----------
    m, n, k
        GEMM shapes [elements] (arrays broadcast together).
    accelerator
        The device.
    precision
        Input precision (its dense peak and element size).
    count
        GEMMs per batched kernel.
    efficiency
        An :class:`Efficiency` (its :meth:`Efficiency.gemm` and ``hbm``).
    out_bytes
        Bytes per output element (default: the input size).

    Raises
    ------
    UnsupportedPrecisionError
        If the accelerator has no peak at ``precision``.
    SpecError
        If a size is negative or not finite.
    """
    p = Precision.parse(precision)
    eff = DEFAULT_EFFICIENCY if efficiency is None else efficiency
    if not isinstance(eff, Efficiency):
        raise SpecError(
            f"efficiency must be an Efficiency for the vectorised GEMM roofline, got "
            f"{type(eff).__name__}"
        )
    peak = accelerator.peak_flops_per_s(p)
    bw = float(accelerator.memory_bandwidth.m)
    m_ = _as_array("m", m, "elements")
    n_ = _as_array("n", n, "elements")
    k_ = _as_array("k", k, "elements")
    c_ = _as_array("count", count, "GEMMs")
    b = p.bytes
    ob = b if out_bytes is None else float(out_bytes)
    flops = 2.0 * m_ * n_ * k_ * c_
    moved = ((m_ * k_ + k_ * n_) * b + m_ * n_ * ob) * c_
    ce = np.asarray(eff.gemm(m_, n_, k_, c_), dtype=float)
    return roofline_array(
        flops,
        moved,
        peak,
        bw,
        compute_efficiency=ce,
        memory_efficiency=eff.hbm,
        overhead_s=eff.overhead_s,
    )
