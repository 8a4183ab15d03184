"""Expert-parallel communication of an MoE layer: what the dispatch and combine move and hide.

The kernels of an MoE block live in :mod:`blackwell_model.workload.moe`; this
module prices what connects them: the all-to-all *dispatch* of routed token
copies to the expert-parallel ranks and the *combine* back, and how much of
it hides under compute.  The step solver
(:class:`~blackwell_model.solvers.training.TrainingSolver`) calls these on
arrays of candidate layouts.

Megatron-Core's all-to-all dispatcher sends one copy of a token per selected
expert (``experts_per_token`` copies, BF16) and gets each back after the
experts; the busiest expert-parallel rank moves ``load`` times the mean
(:func:`~blackwell_model.workload.moe.expert_load_factor`).  The dispatch and
combine of a layer hide under its shared experts (Megatron's
``moe_shared_expert_overlap``), forward and backward apart, or, with the 1F1B
all-to-all overlap (``Layout.overlap_moe_comm``), under the compute of the
other micro-batch in flight.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dispatch_bytes", "expert_comm_exposure"]


def dispatch_bytes(
    tokens: Any,
    *,
    etp: Any,
    experts_per_token: int,
    hidden: int,
    load: Any = 1.0,
    element_bytes: float = 2.0,
) -> np.ndarray:
    """Bytes one GPU sends in one dispatch (or receives in one combine) [B].

    .. math:: S = T \\cdot etp \\cdot k \\cdot h \\cdot b \\cdot L

    with :math:`T` the tokens of the GPU's sequence-parallel shard, gathered
    over its ``etp`` expert-tensor-parallel ranks, :math:`k` copies per token,
    :math:`h` the hidden size, :math:`b` bytes per element and :math:`L` the
    busiest rank's load factor.

    Examples
    --------
    >>> float(dispatch_bytes(4096, etp=1, experts_per_token=8, hidden=7168)) / 1e6
    469.762048
    """
    t = np.asarray(tokens, dtype=float)
    return (
        t
        * np.asarray(etp, dtype=float)
        * float(experts_per_token)
        * float(hidden)
        * float(element_bytes)
        * np.asarray(load, dtype=float)
    )


def expert_comm_exposure(
    half: Any,
    *,
    fwd: Any,
    bwd: Any,
    shared_fwd: Any,
    shared_bwd: Any,
    overlap: Any,
    ep_overlap: float,
    budget: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Exposed and hidden expert-parallel communication of one MoE layer [s].

    Parameters
    ----------
    half
        Dispatch plus combine of one pass (forward, or backward) [s].
    fwd, bwd
        The layer's forward and backward compute [s].
    shared_fwd, shared_bwd
        Its shared experts' forward and backward compute [s].
    overlap
        Per candidate: the 1F1B all-to-all overlap is on.
    ep_overlap
        Fraction of the other micro-batch's compute that can hide the
        all-to-all under that overlap.
    budget
        Compute not yet used to hide other communication of the layer [s]:
        nothing hides twice.

    Returns
    -------
    (exposed, hidden) : numpy.ndarray
        Both sum to ``2 * half``.
    """
    h = np.asarray(half, dtype=float)
    total = 2.0 * h
    hidden = np.where(
        np.asarray(overlap, dtype=bool),
        np.minimum(total, ep_overlap * (np.asarray(fwd) + np.asarray(bwd))),
        np.minimum(h, shared_fwd) + np.minimum(h, shared_bwd),
    )
    hidden = np.minimum(hidden, budget)
    return total - hidden, hidden
