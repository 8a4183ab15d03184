"""The kernels of a mixture-of-experts block and the routing statistics that size them.

A Megatron-Core MoE layer runs, per GPU and micro-batch: the router GEMM and
its score, top-k and auxiliary-loss kernels; the permutation of the tokens
into expert order; the all-to-all *dispatch* to the expert-parallel ranks (a
collective, priced by :mod:`blackwell_model.solvers.moe`); under FP8 recipes
the quantisation of the dispatched tokens; two grouped GEMMs with the
activation between them; the all-to-all *combine*; the weighted un-permutation;
and the shared experts, which see every token.

The grouped GEMMs are sized by the tokens the *busiest* expert-parallel rank
receives, not the mean: :func:`expert_load_factor` gives that ratio from a
documented distribution of expert loads.  With token dropping at a capacity
factor every expert is padded to its capacity (Megatron's
``--moe-pad-expert-input-to-capacity``), so every rank computes
``capacity_factor`` times the mean.

References
----------
.. [1] G. Blom, *Statistical Estimates and Transformed Beta-Variables*, 1958
   (plotting position of the largest of ``n`` normal draws).
.. [2] Megatron-Core ``transformer/moe`` (token dispatchers, grouped MLP,
   ``moe_expert_capacity_factor``, ``moe_pad_expert_input_to_capacity``).
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist
from typing import Any

import numpy as np

from ..errors import SpecError

__all__ = ["blom_z", "expert_load_factor", "moe_operators"]


@functools.lru_cache(maxsize=4096)
def blom_z(n: int) -> float:
    """Expected largest of ``n`` standard normal draws (Blom's estimate); 0 for ``n < 2``.

    .. math:: z_n = \\Phi^{-1}\\left(\\frac{n - 0.375}{n + 0.25}\\right)

    Examples
    --------
    >>> round(blom_z(8), 3), round(blom_z(64), 3)
    (1.434, 2.337)
    """
    if n < 2:
        return 0.0
    return NormalDist().inv_cdf((n - 0.375) / (n + 0.25))


def expert_load_factor(  # noqa: PLR0917 - the distribution's parameters, in order
    tokens: Any,
    experts: int,
    experts_per_token: int,
    ep: Any,
    cv: float,
    capacity_factor: float = 0.0,
) -> Any:
    """Routed tokens on the busiest expert-parallel rank over the mean rank's [dimensionless].

    Each expert's load is its share of the ``tokens * experts_per_token``
    routed copies of an expert-parallel group: multinomial sampling around a
    popularity that varies from expert to expert with coefficient of
    variation ``cv``.  A rank holds ``experts / ep`` experts; its load is
    approximately normal with relative standard deviation

    .. math:: \\sigma_r = \\sqrt{\\frac{cv^2 + E / (T k)}{E / ep}}

    and the busiest of ``ep`` ranks is expected at :math:`1 + z_{ep}\\,\\sigma_r`
    (:func:`blom_z`).  With token dropping (``capacity_factor > 0``) every
    expert is padded to its capacity, so every rank carries exactly
    ``capacity_factor`` times the mean.

    Parameters
    ----------
    tokens
        Distinct tokens the whole expert-parallel group routes per micro-batch
        (scalar or array).
    experts, experts_per_token
        Routed experts and top-k.
    ep
        Expert-parallel ranks (scalar or array).
    cv
        Coefficient of variation of expert popularity (0: balanced routing).
    capacity_factor
        Capacity factor of token dropping; 0 for dropless.

    Returns
    -------
    float or numpy.ndarray
        The factor (>= 1 for dropless routing).

    Raises
    ------
    SpecError
        If a count is not positive or ``cv``/``capacity_factor`` is negative.

    Examples
    --------
    >>> round(float(expert_load_factor(8192 * 64, 256, 8, 64, 0.0)), 3)
    1.009
    >>> round(float(expert_load_factor(8192 * 64, 256, 8, 64, 0.2)), 3)
    1.234
    >>> float(expert_load_factor(8192, 8, 2, 1, 0.3))
    1.0
    >>> float(expert_load_factor(8192, 8, 2, 8, 0.3, capacity_factor=1.25))
    1.25
    """
    if experts < 1 or experts_per_token < 1:
        raise SpecError(
            f"experts and experts_per_token must be integers >= 1, got {experts} and "
            f"{experts_per_token}"
        )
    if not (math.isfinite(cv) and cv >= 0.0):
        raise SpecError(f"cv must be a finite number >= 0, got {cv!r}")
    if not (math.isfinite(capacity_factor) and capacity_factor >= 0.0):
        raise SpecError(f"capacity_factor must be a finite number >= 0, got {capacity_factor!r}")
    ep_arr = np.asarray(ep, dtype=np.int64)
    t = np.maximum(np.asarray(tokens, dtype=float), 1.0)
    if capacity_factor > 0.0:
        return np.broadcast_to(np.float64(capacity_factor), np.broadcast(t, ep_arr).shape) + 0.0
    per_rank = experts / np.maximum(ep_arr, 1).astype(float)
    rel_sd = np.sqrt((cv * cv + experts / (t * experts_per_token)) / per_rank)
    if ep_arr.ndim == 0:
        z: Any = blom_z(int(ep_arr))
    else:
        z = np.array([blom_z(int(n)) for n in ep_arr.ravel()]).reshape(ep_arr.shape)
    return 1.0 + z * rel_sd


def moe_operators(model: Any, s: Any, t: float, t_sp: float) -> list[Any]:
    """Forward kernels of one MoE block on one GPU (the training/inference shard ``s``).

    Parameters
    ----------
    model
        The :class:`~blackwell_model.workload.Transformer`.
    s
        The normalised shard of :func:`~blackwell_model.workload.layer_operators`
        (phase, precisions, ``tp``, ``ep``, ``etp``, ``expert_load``,
        ``capacity_factor``).
    t
        Tokens of the micro-batch on this TP rank before sequence parallelism.
    t_sp
        The same after sequence parallelism (what the router sees).

    Returns
    -------
    list of Operator
        Router, score/top-k, permutation, (FP8 quantisation), (the sort of
        the received tokens into expert order and back, for training with
        more than one local expert), grouped GEMMs with their activation,
        un-permutation and shared experts, tagged with
        their recompute module (``moe_router``, ``moe_dispatch``,
        ``moe_experts``, ``moe_act``, ``shared_experts``).
    """
    from .operators import OpKind, Phase, elementwise_op, gemm_op, mlp_operators

    h = model.hidden
    e, k = model.experts, model.experts_per_token
    # tokens this rank routes: its sequence-parallel shard, gathered over the ETP group
    t_r = t * s.etp / s.tp
    local = e / s.ep
    group_tokens = t_r * s.ep
    if s.phase in (Phase.FORWARD, Phase.BACKWARD):
        # training: every local expert is busy; the busiest rank carries the load factor
        load = s.expert_load
        experts_hit = local
        routed = t_r * k * load
    else:
        # inference: at small batch only the experts some token hits read their weights
        hit = -math.expm1(group_tokens * math.log1p(-k / e)) if k < e else 1.0
        experts_hit = max(local * hit, 1e-9)
        routed = t_r * k * s.expert_load
    m_e = routed / experts_hit
    act = s.act
    ops: list[Any] = [
        gemm_op(
            "router", t_r, e, h, precision=_fp32() if s.router_fp32 else act, module="moe_router"
        ),
        # scores (softmax or sigmoid), top-k selection, auxiliary loss: a few FP32
        # passes over the router logits
        # (about ten small kernels: scores, top-k, probabilities, token counts, loss)
        elementwise_op(
            "router_topk", 3.0 * t_r * e, t_r * e, flops_per_element=8.0,
            precision=_fp32(), module="moe_router", launches=10.0,
        ),
        # routing map, sort and gather into expert order (a few kernels)
        elementwise_op(
            "moe_permute", t_r * h, routed * h, flops_per_element=0.0, precision=act,
            module="moe_dispatch", launches=4.0,
        ),
    ]  # fmt: skip
    width = model.expert_ffn_hidden // s.etp
    if s.precision.bytes < 2.0:
        # quantise the dispatched tokens for the FP8/FP4 grouped GEMM (and, under
        # current scaling, its amax pass): read 16-bit, write 8-bit
        ops.append(
            elementwise_op(
                "moe_quantize", 2.0 * routed * h, routed * h * s.precision.bytes / act.bytes,
                flops_per_element=2.0, precision=act, module="moe_dispatch",
                launches=experts_hit,
            )
        )  # fmt: skip
    # Megatron's all-to-all dispatcher receives tokens in (source rank, expert) order
    # and sorts them into expert order (and back before the combine) when a rank holds
    # more than one expert: a gather over the routed copies each way
    sort = s.phase in (Phase.FORWARD, Phase.BACKWARD) and s.ep > 1 and local > 1

    def gather(name: str) -> Any:
        return elementwise_op(
            name, routed * h, routed * h, flops_per_element=0.0, precision=act,
            module="moe_dispatch",
        )  # fmt: skip

    if sort:
        ops.append(gather("moe_sort_chunks"))
    ops.extend(
        mlp_operators(
            model, "expert", width, m_e, s, count=experts_hit, kind=OpKind.MOE_GEMM,
            gemm_module="moe_experts", act_module="moe_act",
        )
    )  # fmt: skip
    if sort:
        ops.append(gather("moe_unsort_chunks"))
    ops.append(
        elementwise_op(
            "moe_unpermute", routed * h, t_r * h, flops_per_element=float(k), precision=act,
            module="moe_dispatch", launches=3.0,
        )
    )  # fmt: skip
    if model.shared_experts:
        shared = model.shared_experts * model.expert_ffn_hidden // s.tp
        ops.extend(
            mlp_operators(
                model, "shared_expert", shared, t, s, gemm_module="shared_experts",
                act_module="shared_experts",
            )
        )  # fmt: skip
    return ops


def _fp32() -> Any:
    from ..hardware.precision import Precision

    return Precision.FP32
