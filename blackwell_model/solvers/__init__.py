"""Pure solver functions on plain objects, returning frozen results.

:mod:`~blackwell_model.solvers.roofline` prices one operator on one
accelerator (time, bound, arithmetic intensity) with an explicit
:class:`Efficiency` model; its array forms evaluate many cases at once.
"""

from .roofline import (
    DEFAULT_EFFICIENCY,
    Efficiency,
    EfficiencyModel,
    RooflineArrays,
    RooflineResult,
    gemm_roofline_array,
    roofline,
    roofline_array,
    roofline_many,
    total_time_s,
)

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
