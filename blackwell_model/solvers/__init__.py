"""Pure solver functions on plain objects, returning frozen results.

:mod:`~blackwell_model.solvers.roofline` prices one operator on one
accelerator (time, bound, arithmetic intensity) with an explicit
:class:`Efficiency` model; :mod:`~blackwell_model.solvers.collectives` prices
a collective over a device group's span (alpha-beta, NCCL-style algorithms)
with an explicit :class:`CollectiveEfficiency`.  Both have array forms that
evaluate many cases at once.
"""

from .collectives import (
    ALGORITHMS,
    BLACKWELL,
    HOPPER,
    Collective,
    CollectiveEfficiency,
    CollectiveResult,
    all_gather,
    all_reduce,
    all_to_all,
    applicable_algorithms,
    broadcast,
    bus_factor,
    collective,
    collective_time,
    efficiency_for,
    reduce_scatter,
    send_recv,
)

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
    "ALGORITHMS",
    "BLACKWELL",
    "DEFAULT_EFFICIENCY",
    "HOPPER",
    "Collective",
    "CollectiveEfficiency",
    "CollectiveResult",
    "Efficiency",
    "EfficiencyModel",
    "RooflineArrays",
    "RooflineResult",
    "all_gather",
    "all_reduce",
    "all_to_all",
    "applicable_algorithms",
    "broadcast",
    "bus_factor",
    "collective",
    "collective_time",
    "efficiency_for",
    "gemm_roofline_array",
    "reduce_scatter",
    "roofline",
    "roofline_array",
    "roofline_many",
    "send_recv",
    "total_time_s",
]
