"""Studies: layout search, sweeps over hardware what-ifs, multi-tenant partitions.

Everything here runs on plain numpy arrays of candidates in this process, or
on any :class:`concurrent.futures.Executor` (a process pool, Dask, Ray).
"""

from .fleet import FleetPlan, plan_fleet
from .partition import (
    PARTITION_OBJECTIVES,
    PartitionReport,
    ServingTenant,
    TenantReport,
    TrainingTenant,
    partition,
    rank_partitions,
    scale_out_demand_Bps,
)
from .search import (
    LAYOUT_KEYS,
    OBJECTIVES,
    SEARCH_RULES,
    SearchResult,
    candidate_arrays,
    default_axes,
    recompute_options,
    search_layouts,
)
from .sweep import comparison, search_many, sweep, with_accelerator

__all__ = [
    "LAYOUT_KEYS",
    "OBJECTIVES",
    "PARTITION_OBJECTIVES",
    "SEARCH_RULES",
    "FleetPlan",
    "PartitionReport",
    "SearchResult",
    "ServingTenant",
    "TenantReport",
    "TrainingTenant",
    "candidate_arrays",
    "comparison",
    "default_axes",
    "partition",
    "plan_fleet",
    "rank_partitions",
    "recompute_options",
    "scale_out_demand_Bps",
    "search_layouts",
    "search_many",
    "sweep",
    "with_accelerator",
]
