"""Studies: layout search and sweeps over hardware what-ifs.

Everything here runs on plain numpy arrays of candidates in this process, or
on any :class:`concurrent.futures.Executor` (a process pool, Dask, Ray).
"""

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
    "SEARCH_RULES",
    "SearchResult",
    "candidate_arrays",
    "comparison",
    "default_axes",
    "recompute_options",
    "search_layouts",
    "search_many",
    "sweep",
    "with_accelerator",
]
