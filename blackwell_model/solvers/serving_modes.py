"""Serving modes: static batches and continuous batching on a :class:`ServingSolver`.

A :class:`~blackwell_model.solvers.serving.ServingSolver` prices one forward
pass (a prefill or a decode step) of a deployment; the functions here turn
those passes into what a request sees (time to first token, time per output
token) and what the deployment delivers (output tokens per second), for the
two ways engines batch: :func:`static_serving` (prefill everything, then
decode to the end) and :func:`continuous_serving` (in-flight batching at a
steady state).  Both add the engine's host time per iteration
(:attr:`InferenceEfficiency.host_per_request_s
<blackwell_model.solvers.serving_params.InferenceEfficiency.host_per_request_s>`),
exposed where the GPU step is shorter than it (overlap scheduler) or in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ..errors import SpecError

if TYPE_CHECKING:
    from .serving import ServingSolver

__all__ = [
    "ServingArrays",
    "context_points",
    "continuous_serving",
    "host_exposed_s",
    "prefill_imbalance",
    "static_serving",
]


def _keys() -> tuple[str, ...]:
    from .serving import DECODE_BREAKDOWN_KEYS

    return DECODE_BREAKDOWN_KEYS


def host_exposed_s(solver: ServingSolver, batch: Any, gpu_step_s: Any) -> np.ndarray:
    """Host time per iteration not hidden by the GPU step [s].

    The host spends :math:`h_0 + h_1 B` per iteration (``host_per_step_s``,
    ``host_per_request_s``).  With ``host_overlap`` it prepares the next
    iteration while the GPU runs this one, so only
    :math:`\\max(0, h_0 + h_1 B - t_{gpu})` shows; otherwise all of it.
    With speculative decoding an iteration yields :math:`\\tau` tokens
    (:attr:`ServingSolver.tokens_per_step
    <blackwell_model.solvers.serving.ServingSolver.tokens_per_step>`): the
    iteration's GPU time is :math:`\\tau\\, t_{gpu}` and the exposed host
    time per token is the iteration's over :math:`\\tau`.

    Parameters
    ----------
    solver
        The deployment's solver (its :class:`InferenceEfficiency`).
    batch
        Requests in the iteration (array).
    gpu_step_s
        GPU time per output token of the iteration [s] (array, same shape).
    """
    eff = solver.eff
    b = np.asarray(batch, dtype=float)
    gpu = np.asarray(gpu_step_s, dtype=float)
    host = eff.host_per_step_s + eff.host_per_request_s * b
    tau = solver.tokens_per_step
    if tau != 1.0:
        if eff.host_overlap:
            return np.maximum(host - tau * gpu, 0.0) / tau
        return host / tau + 0.0 * gpu
    if eff.host_overlap:
        return np.maximum(host - gpu, 0.0)
    return host + 0.0 * gpu


def prefill_imbalance(solver: ServingSolver, rate: Any) -> np.ndarray:
    """Busiest attention replica's prefill work per step over the mean's (>= 1).

    With attention data parallelism (``ep > 1``, ``dp > 1``) every rank
    admits its own new requests, and a step lasts as long as the rank with
    the most prefill work.  Each of the ``dp`` ranks starts ``r`` requests
    per step on average (``rate``, :math:`B/(n-1)`) at uniformly random
    phases, so in a step it starts :math:`\\lfloor r \\rfloor` or
    :math:`\\lceil r \\rceil`; the busiest starts

    .. math:: E[\\max] = \\lfloor r \\rfloor + 1 - (1 - \\{r\\})^{dp}

    and the factor is :math:`E[\\max] / r`.  It applies only when
    :attr:`EngineLimits.attention_dp_imbalance
    <blackwell_model.solvers.serving_params.EngineLimits.attention_dp_imbalance>`
    is set (an engine that admits requests rank by rank); engines that
    spread new requests over the ranks together, and replicas without
    expert parallelism, have factor 1.
    """
    r = np.maximum(np.asarray(rate, dtype=float), 1e-12)
    lay = solver.layout
    if lay.ep < 2 or lay.dp < 2 or not solver.limits.attention_dp_imbalance:
        return np.ones_like(r)
    groups = lay.dp  # attention replicas that share one step
    whole = np.floor(r)
    frac = r - whole
    return (whole + 1.0 - (1.0 - frac) ** groups) / r


def context_points(
    input_tokens: int, output_tokens: int, bins: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Context lengths of the decode steps of a request and their weights.

    Decode step :math:`i = 1 \\dots n-1` (for ``output_tokens`` :math:`n`;
    the first output token comes from the prefill) attends to
    :math:`s_{in} + i` tokens.  With at most ``bins`` steps every step is a
    point (weight 1); otherwise the steps are grouped into ``bins`` equal bins
    evaluated at their mid-context (exact for the linear parts of the step
    time, which is piecewise linear in the context).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Contexts [tokens] and weights [steps]; the weights sum to
        ``output_tokens - 1``.
    """
    n = output_tokens - 1
    if n <= 0:
        return np.zeros(0), np.zeros(0)
    if n <= bins:
        return input_tokens + np.arange(1, n + 1, dtype=float), np.ones(n)
    edges = np.linspace(0.0, n, bins + 1)
    mids = input_tokens + 0.5 + 0.5 * (edges[:-1] + edges[1:])
    return mids, np.diff(edges)


@attrs.frozen(kw_only=True, eq=False)
class ServingArrays:
    """Latency and throughput of a replica at arrays of batches (floats in SI units).

    Parameters
    ----------
    batch
        Sequences per replica [sequences].
    ttft_s
        Time to first token [s].
    tpot_s
        Mean time per output token after the first [s] (0 when one token is
        generated).
    tokens_per_s
        Output tokens per second of one replica [1/s].
    prefill_s
        Time of the prefill pass the first token waits for [s].
    breakdown
        Part of the mean time per output token -> time [s]: the keys of
        :data:`~blackwell_model.solvers.serving.DECODE_BREAKDOWN_KEYS` plus ``prefill`` (the prompts
        continuous batching interleaves with the decode steps; 0 for a static
        batch).  The parts add up to ``tpot_s``.
    tensor_busy_s, memory_busy_s, network_busy_s
        Of a mean decode step: time the compute units, HBM and links are busy
        [s] (for the energy model).
    prefill_busy_s
        ``(tensor, memory, network)`` busy times of the prefill pass [s].
    """

    batch: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    tokens_per_s: np.ndarray
    prefill_s: np.ndarray
    breakdown: Mapping[str, np.ndarray]
    tensor_busy_s: np.ndarray
    memory_busy_s: np.ndarray
    network_busy_s: np.ndarray
    prefill_busy_s: tuple[np.ndarray, np.ndarray, np.ndarray]


def _check_lengths(input_tokens: Any, output_tokens: Any) -> tuple[int, int]:
    out = []
    for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise SpecError(f"{name} must be an integer >= 1 tokens, got {value!r}")
        out.append(int(value))
    return out[0], out[1]


def static_serving(
    solver: ServingSolver, batch: Any, input_tokens: int, output_tokens: int
) -> ServingArrays:
    """A static batch: prefill all prompts, then decode until every sequence is done.

    .. math::

        T = t_{prefill}(B, s_{in}) + \\sum_{i=1}^{n-1} t_{decode}(B, s_{in} + i),
        \\qquad \\text{throughput} = \\frac{B\\,n}{T}

    for ``output_tokens`` :math:`n` (the first comes from the prefill), as
    TensorRT-LLM's ``gptSessionBenchmark`` measures.  The sum over the growing
    context uses :func:`context_points`.  TTFT is the prefill of the whole
    batch; TPOT the mean decode step.

    Parameters
    ----------
    solver
        The deployment's :class:`ServingSolver`.
    batch
        Sequences per replica (scalar or 1-D array).
    input_tokens, output_tokens
        Prompt and generated tokens per sequence [tokens].
    """
    isl, osl = _check_lengths(input_tokens, output_tokens)
    b = np.atleast_1d(np.asarray(batch, dtype=float))
    pre = solver.prefill(b, isl)
    ctx, w = context_points(isl, osl)
    steps = float(osl - 1)
    if steps > 0:
        grid = solver.decode_step(b[:, None], ctx[None, :])
        decode = {k: (v * w).sum(axis=1) for k, v in grid.breakdown.items()}
        host = host_exposed_s(solver, np.broadcast_to(b[:, None], grid.time_s.shape), grid.time_s)
        decode["overhead"] = decode["overhead"] + host @ w
        busy = [
            (x * w).sum(axis=1) / steps
            for x in (grid.tensor_busy_s, grid.memory_busy_s, grid.network_busy_s)
        ]
        decode_total = (grid.time_s + host) @ w
        tpot = decode_total / steps
        breakdown = {k: v / steps for k, v in decode.items()}
    else:
        zero = np.zeros_like(b)
        decode_total = zero
        tpot = zero
        breakdown = {k: zero for k in _keys()}
        busy = [zero, zero, zero]
    breakdown["prefill"] = np.zeros_like(b)
    total = pre.time_s + decode_total
    return ServingArrays(
        batch=b,
        ttft_s=pre.time_s,
        tpot_s=tpot,
        tokens_per_s=b * osl / total,
        prefill_s=pre.time_s,
        breakdown=breakdown,
        tensor_busy_s=busy[0],
        memory_busy_s=busy[1],
        network_busy_s=busy[2],
        prefill_busy_s=(pre.tensor_busy_s, pre.memory_busy_s, pre.network_busy_s),
    )


def continuous_serving(
    solver: ServingSolver, batch: Any, input_tokens: int, output_tokens: int
) -> ServingArrays:
    """Continuous (in-flight) batching at a steady state of ``batch`` requests per replica.

    Requests are at uniformly spread stages of generation, so a decode step
    attends to the mean context :math:`s_{in} + n/2` (attention work is a sum
    over sequences, so the mean is exact).  Each step also prefills, in
    chunks, the :math:`B/(n-1)` prompts that replace finished requests:

    .. math::

        \\text{TPOT} = t_{decode}(B, s_{in} + n/2) + \\frac{B}{n-1}\\, p_{req},
        \\qquad \\text{throughput} = \\frac{B\\, n}{(n-1)\\,\\text{TPOT}}

    with :math:`p_{req}` from :meth:`ServingSolver.prefill_per_request_s`
    (for :math:`n = 1` the throughput is :math:`1/p_{req}`).  A new request
    waits on average half a step, then runs its prefill in a step that also
    decodes the batch: :math:`\\text{TTFT} = \\text{TPOT}/2 +
    t_{prefill}(1, s_{in}) + t_{decode}(B)` (no queueing); with
    speculative decoding the step that waits and the one that prefills are
    whole speculative steps, :math:`\\tau` times the time per token.  The host time
    the GPU step does not hide (:func:`host_exposed_s`) adds to TPOT, in the
    ``overhead`` part.
    """
    isl, osl = _check_lengths(input_tokens, output_tokens)
    b = np.atleast_1d(np.asarray(batch, dtype=float))
    p_req = solver.prefill_per_request_s(isl)
    alone = solver.prefill(np.array([1.0]), isl)
    step = solver.decode_step(b, np.full_like(b, isl + osl / 2.0))
    breakdown = dict(step.breakdown)
    if osl > 1:
        share = b / (osl - 1) * p_req * prefill_imbalance(solver, b / (osl - 1))
        host = host_exposed_s(solver, b, step.time_s + share)
        breakdown["overhead"] = breakdown["overhead"] + host
        tpot = step.time_s + share + host
        tps = b * osl / ((osl - 1) * tpot)
        iteration = solver.tokens_per_step
        ttft = iteration * tpot / 2.0 + float(alone.time_s[0]) + iteration * step.time_s
    else:
        share = np.zeros_like(b)
        tpot = np.zeros_like(b)
        tps = np.full_like(b, 1.0 / p_req)
        ttft = np.full_like(b, float(alone.time_s[0]))
        breakdown = {k: np.zeros_like(b) for k in _keys()}
    breakdown["prefill"] = share
    return ServingArrays(
        batch=b,
        ttft_s=ttft,
        tpot_s=tpot,
        tokens_per_s=tps,
        prefill_s=np.full_like(b, float(alone.time_s[0])),
        breakdown=breakdown,
        tensor_busy_s=step.tensor_busy_s,
        memory_busy_s=step.memory_busy_s,
        network_busy_s=step.network_busy_s,
        prefill_busy_s=tuple(
            np.full_like(b, float(x[0]))
            for x in (alone.tensor_busy_s, alone.memory_busy_s, alone.network_busy_s)
        ),  # type: ignore[arg-type]
    )
