"""Achievable fractions of peak: the :class:`Efficiency` model used by the roofline.

A kernel never runs at the datasheet peak.  :class:`Efficiency` holds the few
physical parameters that say how far below it each kind of kernel runs; the
roofline divides peak compute and peak bandwidth by them.  The defaults are
priors from public measurements (cited per field) and will be calibrated
against the measured training and inference cases.

Any callable ``f(op) -> (compute_fraction, memory_fraction)`` can stand in
for an :class:`Efficiency` (see :data:`EfficiencyModel`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from ..errors import SpecError
from ..units import finite_non_negative, fraction
from ..workload.operators import Operator, OpKind

_OPEN_FRACTION = fraction(open_low=True)

__all__ = ["DEFAULT_EFFICIENCY", "Efficiency", "EfficiencyModel"]

#: Any callable mapping an operator to ``(compute_fraction, memory_fraction)``,
#: each in (0, 1]: the fraction of peak FLOP/s and of peak memory bandwidth the
#: kernel achieves.
EfficiencyModel = Callable[[Operator], tuple[float, float]]


def _tile(inst: Any, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{attribute.name} must be an integer >= 1, got {value!r}")


def _units(inst: Any, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(
            f"{attribute.name} must be an integer >= 0 (0 disables wave quantisation), "
            f"got {value!r}"
        )


@attrs.frozen(kw_only=True)
class Efficiency:
    """Achievable fractions of peak compute and memory bandwidth, per kind of kernel.

    A GEMM of shape ``(m, n, k)`` repeated ``count`` times reaches

    .. math::

        \\eta_{gemm} = \\eta_{max}
            \\cdot \\frac{m}{\\lceil m / t_m \\rceil t_m}
            \\cdot \\frac{n}{\\lceil n / t_n \\rceil t_n}
            \\cdot \\frac{T}{\\lceil T / U \\rceil U}
            \\cdot \\frac{k}{k + k_0},
        \\qquad T = \\lceil m/t_m \\rceil \\lceil n/t_n \\rceil \\cdot count

    of the dense peak: tile quantisation (a partial output tile costs a whole
    one), wave quantisation (``T`` tiles over ``U`` parallel units: a
    partial last wave costs a whole one; when ``T < U`` the factor is 1,
    as libraries split the reduction (split-K) to fill the machine) and a
    fixed per-tile prologue and
    epilogue worth ``k0`` steps of the reduction loop.  Each factor makes the
    predicted time a non-decreasing function of ``m``, ``n`` and ``k``.
    Small and skinny GEMMs (decode GEMVs, small experts) therefore run far
    below peak, and a batch-1 GEMV stays memory-bound.

    Parameters
    ----------
    gemm_max
        Fraction of dense peak a large, well-shaped GEMM sustains.  Default
        0.70, a prior between the FP8 GEMM measured at 55 % of GB200's dense
        peak (Azure ND GB200 v6 micro-benchmarks, 2,744 of 5,000 TFLOP/s;
        hardware_specs.md §21) and the 70-80 % cuBLAS reaches on large BF16
        GEMMs on A100/H100.
    tile_m, tile_n
        Output tile of the GEMM kernels [elements].  Default 64 x 128:
        Hopper/Blackwell tensor-core instructions work on 64-row tiles and
        cuBLAS/CUTLASS pick 64- or 128-row tiles with 128-256 columns.
    k_overhead
        Per-tile fixed cost in units of reduction steps, :math:`k_0`
        [elements].  Default 64: a ``k = 4096`` GEMM loses 1.5 %, a
        ``k = 128`` one a third.
    compute_units
        Tiles that run at once (streaming multiprocessors: 132 on H100 SXM,
        148 on B200, 108 on A100); 0 disables wave quantisation.
        Default 132.
    attention
        Fraction of dense peak of a fused attention forward kernel.
        Default 0.55: FlashAttention-3 reaches up to 75 % of H100 BF16 peak
        on long non-causal sequences (Shah et al. 2024, arXiv:2407.08608);
        causal masks and shorter sequences lose more.
    attention_backward
        Same for the backward kernel, whose FLOPs are counted as twice the
        forward's (the score recomputation of FlashAttention is absorbed
        here).  Default 0.40.
    vector
        Rate of non-tensor-core work (norms, activations, softmax, loss) as
        a fraction of the dense tensor peak at the kernel's precision.
        Default 0.07: H100's FP32 CUDA-core rate, 66.9 of 989.4 TFLOP/s.
    hbm
        Fraction of peak memory bandwidth GEMM and attention kernels reach.
        Default 0.90: GB200 sustains 7.35 of 8 TB/s (92 %, Azure
        micro-benchmarks, hardware_specs.md §21).
    elementwise
        Fraction of peak memory bandwidth of element-wise, norm, embedding
        and loss kernels.  Default 0.80 (unfused kernels fall short of a
        streaming copy).
    overhead_s
        Fixed time per kernel [s], e.g. launch latency (~2-5 µs without CUDA
        graphs).  Default 0: a pure roofline.
    grouped_overlap
        Fraction of the shorter of compute and memory time a grouped (MoE)
        GEMM hides under the longer one [fraction]: its time is
        :math:`\\max(t_c, t_m) + (1 - \\omega) \\min(t_c, t_m)`.  Default 0.5,
        which reproduces DeepGEMM's published FP8 grouped-GEMM table on H800
        within about 10 % (masked layout, 1,024 rows as 1 x 1024, 2 x 512 and
        4 x 256 groups: 1,233, 1,040 and 932 TFLOP/s; contiguous 4 x 8192:
        1,346 TFLOP/s; deepseek-ai/DeepGEMM README @ 55ab91f) and Transformer
        Engine's BF16 grouped GEMM on H100 (8 x 4096 and 16 x 2048 rows of
        768 x 2048: 628 and 554 TFLOP/s with multi-stream cuBLAS;
        NVIDIA/TransformerEngine PR #2045).  Small per-expert batches sit near
        the ridge point, where weight streaming and tensor-core work do not
        overlap fully.
    group_overhead_s
        Fixed time per group of a grouped (MoE) GEMM [s], for the per-expert
        scheduling, launch and tail of each expert's GEMM where the library
        issues one GEMM per expert.  Default 0 (one fused grouped kernel, as
        inference engines run); the training model uses
        :data:`~blackwell_model.solvers.training.TE_GROUPED_GEMM_GROUP_S` for
        Transformer Engine's grouped GEMM.

    Examples
    --------
    >>> eff = Efficiency()
    >>> round(eff.gemm(8192, 8192, 8192), 3)  # 8,192 tiles in 63 waves of 132
    0.684
    >>> round(eff.gemm(1, 8192, 8192), 4)  # a GEMV fills 1 of 64 tile rows
    0.0109
    >>> slow_hbm = attrs.evolve(eff, hbm=0.8)
    """

    gemm_max: float = attrs.field(default=0.70, validator=_OPEN_FRACTION)
    tile_m: int = attrs.field(default=64, validator=_tile)
    tile_n: int = attrs.field(default=128, validator=_tile)
    k_overhead: float = attrs.field(default=64.0, validator=finite_non_negative)
    compute_units: int = attrs.field(default=132, validator=_units)
    attention: float = attrs.field(default=0.55, validator=_OPEN_FRACTION)
    attention_backward: float = attrs.field(default=0.40, validator=_OPEN_FRACTION)
    vector: float = attrs.field(default=0.07, validator=_OPEN_FRACTION)
    hbm: float = attrs.field(default=0.90, validator=_OPEN_FRACTION)
    elementwise: float = attrs.field(default=0.80, validator=_OPEN_FRACTION)
    overhead_s: float = attrs.field(default=0.0, validator=finite_non_negative)
    grouped_overlap: float = attrs.field(default=0.5, validator=fraction())
    group_overhead_s: float = attrs.field(default=0.0, validator=finite_non_negative)

    def combine(self, op: Operator, compute_s: float, memory_s: float) -> float:
        """Kernel time [s] from its compute and memory times (without the fixed overhead).

        The larger of the two for every kind but grouped (MoE) GEMMs, which add
        the unhidden part of the smaller (see ``grouped_overlap``).
        """
        if op.kind is OpKind.MOE_GEMM:
            hi, lo = (compute_s, memory_s) if compute_s >= memory_s else (memory_s, compute_s)
            return hi + (1.0 - self.grouped_overlap) * lo + op.count * self.group_overhead_s
        return compute_s if compute_s > memory_s else memory_s

    def gemm(
        self,
        m: float | npt.ArrayLike,
        n: float | npt.ArrayLike,
        k: float | npt.ArrayLike,
        count: float | npt.ArrayLike = 1.0,
    ) -> Any:
        """Fraction of dense peak a GEMM of shape ``(m, n, k)`` x ``count`` reaches.

        Accepts floats or numpy arrays (broadcast together); returns a float
        for scalar input, else an array.  Zero-sized GEMMs return
        ``gemm_max``.
        """
        scalar = all(np.ndim(x) == 0 for x in (m, n, k, count))
        if scalar:
            return _gemm_scalar(self, float(m), float(n), float(k), float(count))  # type: ignore[arg-type]
        m_, n_, k_, c_ = (np.asarray(x, dtype=float) for x in (m, n, k, count))
        tm = np.maximum(np.ceil(m_ / self.tile_m), 1.0)
        tn = np.maximum(np.ceil(n_ / self.tile_n), 1.0)
        eff = np.full(np.broadcast(m_, n_, k_, c_).shape, self.gemm_max)
        wave: Any
        with np.errstate(invalid="ignore", divide="ignore"):
            shape = (m_ / (tm * self.tile_m)) * (n_ / (tn * self.tile_n))
            red = np.where(k_ > 0, k_ / (k_ + self.k_overhead), 1.0)
            if self.compute_units:
                tiles = tm * tn * np.maximum(c_, 1.0)
                waves = np.ceil(tiles / self.compute_units)
                wave = np.where(
                    tiles < self.compute_units, 1.0, tiles / (waves * self.compute_units)
                )
            else:
                wave = 1.0
            eff = eff * shape * red * wave
        ok = (m_ > 0) & (n_ > 0)
        return np.where(ok, eff, self.gemm_max)

    def compute_fraction(self, op: Operator) -> float:
        """Fraction of the dense peak at ``op.precision`` the kernel reaches."""
        kind = op.kind
        if kind is OpKind.GEMM or kind is OpKind.MOE_GEMM:
            return _gemm_scalar(self, op.m, op.n, op.k, op.count)
        if kind is OpKind.ATTENTION:
            return self.attention_backward if op.backward else self.attention
        return self.vector

    def memory_fraction(self, op: Operator) -> float:
        """Fraction of peak memory bandwidth the kernel reaches."""
        if op.kind.is_matmul:
            return self.hbm
        return self.elementwise

    def __call__(self, op: Operator) -> tuple[float, float]:
        """``(compute_fraction(op), memory_fraction(op))``."""
        return self.compute_fraction(op), self.memory_fraction(op)


def _gemm_scalar(eff: Efficiency, m: float, n: float, k: float, count: float) -> float:
    if m <= 0.0 or n <= 0.0:
        return eff.gemm_max
    tm = max(-(-m // eff.tile_m), 1.0)
    tn = max(-(-n // eff.tile_n), 1.0)
    value = eff.gemm_max * (m / (tm * eff.tile_m)) * (n / (tn * eff.tile_n))
    if k > 0.0:
        value *= k / (k + eff.k_overhead)
    if eff.compute_units:
        tiles = tm * tn * max(count, 1.0)
        if tiles >= eff.compute_units:
            waves = -(-tiles // eff.compute_units)
            value *= tiles / (waves * eff.compute_units)
    return value


#: The default efficiency model (the documented priors).
DEFAULT_EFFICIENCY = Efficiency()
