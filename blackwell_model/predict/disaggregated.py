"""Disaggregated serving: separate prefill and decode pools, KV transfer, the balanced ratio.

Orchestration only.  A :class:`DisaggregatedDeployment` names two pools, each
with its own cluster (system), :class:`~blackwell_model.parallel.inference.InferenceLayout`
and precision.  :func:`predict_disaggregated` prices them with one
:class:`~blackwell_model.solvers.serving.ServingSolver` each:

* a **prefill instance** runs passes of ``k = max(1, chunk // s_in)`` prompts
  (``chunk`` its ``max_num_tokens``), so it completes
  :math:`R_p = dp_p\\, k / t_{prefill}(k)` requests per second;
* the **KV cache** of each request moves to the decode pool over the link
  between them (:func:`kv_transfer_s`): NVLink when both pools sit in one
  scale-up domain, else the scale-out NICs;
* a **decode instance** runs only decode steps at batch :math:`B`, so it
  finishes :math:`R_d = dp_d\\, B / ((n - 1)\\, t_{step})` requests per
  second (the first token comes from the prefill).

The pools balance when prefill throughput equals decode demand,
:math:`N_p R_p = N_d R_d`: the report gives the ratio
:math:`N_p / N_d = R_d / R_p` of instances and the throughput per GPU of the
balanced deployment,

.. math::

   \\frac{\\text{tokens/s}}{\\text{GPU}} = \\frac{n\\, R}{N_p g_p + N_d g_d},
   \\qquad R = N_p R_p = N_d R_d

(``g`` the GPUs of an instance).  TTFT is the prefill pass plus the KV
transfer; TPOT the decode step (no prefill interleaved: the point of
disaggregation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pint

from .._display import Display
from ..errors import SpecError
from ..hardware.system import Cluster
from ..parallel.inference import InferenceLayout
from ..solvers.energy import EnergyReport, PowerModel, inference_energy
from ..solvers.serving import (
    EngineLimits,
    InferenceEfficiency,
    InferenceMemoryModel,
    ServingSolver,
)
from ..solvers.serving_modes import host_exposed_s
from ..solvers.speculation import as_speculation
from ..units import Q_, format_quantity, parse_quantity, ureg
from .inference import candidate_batches

__all__ = [
    "DisaggregatedDeployment",
    "DisaggregatedReport",
    "kv_transfer_s",
    "predict_disaggregated",
]

_S = ureg.Unit("s")
_PER_S = ureg.Unit("1/s")


def kv_transfer_s(
    kv_bytes: float, *, senders: int, link_Bps: float, latency_s: float = 0.0,  # noqa: N803
    efficiency: float = 0.8,
) -> float:  # fmt: skip
    """Time to move one request's KV cache from the prefill to the decode instance [s].

    .. math:: t = \\frac{S}{n_{send}\\, \\eta\\, B_{link}} + \\alpha

    Every GPU of the prefill instance sends its shard at once, each over its
    own link (NVLink ports or NIC).

    Parameters
    ----------
    kv_bytes
        KV-cache bytes of the request [B].
    senders
        GPUs sending in parallel (the prefill instance's ``tp * pp``).
    link_Bps
        Per-GPU bandwidth of the link between the pools, one direction [B/s].
    latency_s
        Fixed latency of a transfer [s].
    efficiency
        Achieved fraction of the link rate [fraction] (0.8: NIXL/UCX and NCCL
        point-to-point reach ~80 % of NIC line rate on large messages).

    Examples
    --------
    >>> round(kv_transfer_s(1e9, senders=8, link_Bps=50e9), 6)
    0.003125
    """
    if not (kv_bytes >= 0.0 and senders >= 1 and link_Bps > 0.0 and 0.0 < efficiency <= 1.0):
        raise SpecError(
            "kv_transfer_s needs kv_bytes >= 0 B, senders >= 1, link_Bps > 0 B/s and "
            f"efficiency in (0, 1], got {kv_bytes!r}, {senders!r}, {link_Bps!r}, {efficiency!r}"
        )
    return kv_bytes / (senders * efficiency * link_Bps) + latency_s


def _layout(value: Any, name: str) -> InferenceLayout:
    if not isinstance(value, InferenceLayout):
        raise SpecError(f"{name} must be an InferenceLayout, got {type(value).__name__} {value!r}")
    return value


@attrs.frozen(kw_only=True)
class DisaggregatedDeployment:
    """Two pools serving one model: prefill instances and decode instances.

    Parameters
    ----------
    prefill_cluster, decode_cluster
        Systems of the two pools (the same cluster for a rack split in two).
    prefill_layout, decode_layout
        :class:`~blackwell_model.parallel.inference.InferenceLayout` of one
        instance of each pool.
    prefill_precision, decode_precision
        Weight precision or weight format of each pool.
    kv_precision
        KV-cache precision of both pools (``None``: the engine-like default
        of the decode pool).
    decode_batch
        Concurrent requests per decode replica; ``None``: the largest the
        decode memory, limits and latency targets allow.
    transfer
        ``"scale_up"`` (NVLink inside one domain), ``"network"`` (the NICs),
        or ``None``: scale-up when both pools are the same cluster and fit in
        one of its scale-up domains, else network.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    >>> dep = DisaggregatedDeployment(prefill_cluster=rack, decode_cluster=rack,
    ...     prefill_layout=bm.InferenceLayout(tp=4), decode_layout=bm.InferenceLayout(tp=8))
    >>> dep.link()
    'scale_up'
    """

    prefill_cluster: Cluster
    decode_cluster: Cluster
    prefill_layout: InferenceLayout = attrs.field(converter=lambda v: _layout(v, "prefill_layout"))
    decode_layout: InferenceLayout = attrs.field(converter=lambda v: _layout(v, "decode_layout"))
    prefill_precision: Any = "fp8"
    decode_precision: Any = "fp8"
    kv_precision: Any = None
    decode_batch: int | None = None
    transfer: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("prefill_cluster", "decode_cluster"):
            if not isinstance(getattr(self, name), Cluster):
                value = getattr(self, name)
                raise SpecError(f"{name} must be a Cluster, got {type(value).__name__} {value!r}")
        if self.transfer not in (None, "scale_up", "network"):
            raise SpecError(
                f"transfer must be 'scale_up', 'network' or None, got {self.transfer!r}"
            )
        b = self.decode_batch
        if b is not None and (isinstance(b, bool) or not isinstance(b, int) or b < 1):
            raise SpecError(f"decode_batch must be an integer >= 1 or None, got {b!r}")

    def link(self) -> str:
        """``"scale_up"`` or ``"network"``: the link the KV cache crosses."""
        if self.transfer is not None:
            return self.transfer
        same = self.prefill_cluster is self.decode_cluster or (
            self.prefill_cluster == self.decode_cluster
        )
        fits = (
            self.prefill_layout.replica_gpus + self.decode_layout.gpus
            <= self.decode_cluster.domain.gpus
        )
        return "scale_up" if same and fits else "network"

    def link_Bps(self) -> float:
        """Per-GPU bandwidth of that link, one direction [B/s]."""
        acc = self.prefill_cluster.accelerator
        if self.link() == "scale_up":
            return float(acc.scale_up_bandwidth.m)
        nic = float(self.prefill_cluster.domain.node.nic_bandwidth.m)
        if nic <= 0.0:
            raise SpecError(
                f"{self.prefill_cluster.name} has no NIC to send the KV cache over; use "
                "transfer='scale_up' or a cluster with a scale-out fabric"
            )
        return nic


@attrs.frozen(kw_only=True, repr=False)
class DisaggregatedReport(Display):
    """Predicted serving of a :class:`DisaggregatedDeployment` at its balanced ratio.

    Parameters
    ----------
    model_name
        The model.
    deployment
        The :class:`DisaggregatedDeployment`.
    input_tokens, output_tokens
        Lengths [tokens].
    prefill_batch
        Prompts per prefill pass.
    decode_batch
        Concurrent requests per decode replica.
    prefill_instance_rate, decode_instance_rate
        Requests per second one prefill instance completes and one decode
        instance finishes [1/s].
    prefill_per_decode
        Prefill instances per decode instance that balance the pools
        (``decode_instance_rate / prefill_instance_rate``).
    time_to_first_token
        Prefill pass plus KV transfer [s].
    kv_transfer_time
        The KV transfer alone [s].
    time_per_output_token
        Decode step [s].
    output_tokens_per_second_per_gpu
        Of the balanced deployment, both pools' GPUs counted [1/s].
    prefill_gpus, decode_gpus
        GPUs of one instance of each pool.
    energy_per_token
        Facility energy per output token of the balanced deployment [J].
    assumptions
        What the prediction assumed, as readable strings.
    """

    model_name: str
    deployment: DisaggregatedDeployment
    input_tokens: int
    output_tokens: int
    prefill_batch: int
    decode_batch: int
    prefill_instance_rate: pint.Quantity
    decode_instance_rate: pint.Quantity
    prefill_per_decode: float
    time_to_first_token: pint.Quantity
    kv_transfer_time: pint.Quantity
    time_per_output_token: pint.Quantity
    output_tokens_per_second_per_gpu: pint.Quantity
    prefill_gpus: int
    decode_gpus: int
    energy_per_token: pint.Quantity
    assumptions: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def tokens_per_second_per_user(self) -> pint.Quantity:
        """1 / TPOT [1/s]."""
        return Q_(1.0 / float(self.time_per_output_token.m), _PER_S)

    def gpus_for(self, request_rate: Any) -> dict[str, float]:
        """Instances and GPUs of each pool for ``request_rate`` requests per second.

        Returns ``{"prefill_instances", "decode_instances", "gpus"}`` (whole
        instances, rounded up).
        """
        r = float(parse_quantity(request_rate, "1/s", name="request_rate").m)
        n_p = math.ceil(r / float(self.prefill_instance_rate.m) - 1e-9)
        n_d = math.ceil(r / float(self.decode_instance_rate.m) - 1e-9)
        return {
            "prefill_instances": float(n_p),
            "decode_instances": float(n_d),
            "gpus": float(n_p * self.prefill_gpus + n_d * self.decode_gpus),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary (floats in SI units)."""
        return {
            "model": self.model_name,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "prefill_layout": self.deployment.prefill_layout.to_dict(),
            "decode_layout": self.deployment.decode_layout.to_dict(),
            "prefill_batch": self.prefill_batch,
            "decode_batch": self.decode_batch,
            "prefill_instance_rate_per_s": float(self.prefill_instance_rate.m),
            "decode_instance_rate_per_s": float(self.decode_instance_rate.m),
            "prefill_per_decode": self.prefill_per_decode,
            "time_to_first_token_s": float(self.time_to_first_token.m),
            "kv_transfer_s": float(self.kv_transfer_time.m),
            "time_per_output_token_s": float(self.time_per_output_token.m),
            "output_tokens_per_second_per_gpu": float(self.output_tokens_per_second_per_gpu.m),
            "energy_per_token_J": float(self.energy_per_token.m),
            "assumptions": dict(self.assumptions),
        }

    def summary(self) -> str:
        """A readable multi-line summary."""
        d = self.deployment
        lp, ld = d.prefill_layout, d.decode_layout
        lines = [
            f"{self.model_name}, disaggregated: prefill tp={lp.tp} pp={lp.pp} ep={lp.ep} "
            f"dp={lp.dp} on {d.prefill_cluster.name}, decode tp={ld.tp} pp={ld.pp} ep={ld.ep} "
            f"dp={ld.dp} on {d.decode_cluster.name}",
            f"  {self.input_tokens} in / {self.output_tokens} out; KV over {d.link()}",
            f"  time to first token   {format_quantity(self.time_to_first_token)} "
            f"(KV transfer {format_quantity(self.kv_transfer_time)})",
            f"  time per output token {format_quantity(self.time_per_output_token)}",
            f"  balance               {self.prefill_per_decode:.2f} prefill instances per "
            f"decode instance",
            f"  output tokens/s/GPU   {self.output_tokens_per_second_per_gpu.m:,.0f}",
            f"  energy per token      {format_quantity(self.energy_per_token)}",
        ]
        for k, v in self.assumptions.items():
            lines.append(f"  {k:<21} {v}")
        return "\n".join(lines)


def predict_disaggregated(
    model: Any,
    deployment: DisaggregatedDeployment,
    *,
    input_tokens: int,
    output_tokens: int,
    max_tpot: pint.Quantity | str | None = None,
    max_ttft: pint.Quantity | str | None = None,
    prefill_efficiency: InferenceEfficiency | None = None,
    decode_efficiency: InferenceEfficiency | None = None,
    memory: InferenceMemoryModel | None = None,
    prefill_limits: EngineLimits | None = None,
    decode_limits: EngineLimits | None = None,
    power: PowerModel | None = None,
    charge: str = "gpus",
    speculation: Any = None,
) -> DisaggregatedReport:
    """Predict a disaggregated deployment end to end, at the ratio of pools that balances it.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or catalog name.
    deployment
        The :class:`DisaggregatedDeployment`.
    input_tokens, output_tokens
        Lengths per request [tokens].
    max_tpot
        Largest decode step [s]: the decode batch is the largest that meets it.
    max_ttft
        Largest time to first token [s]: the prefill pass is cut to fewer
        prompts (down to one) to meet it.
    prefill_efficiency, decode_efficiency
        :class:`~blackwell_model.solvers.serving.InferenceEfficiency` of each
        pool.
    memory
        :class:`~blackwell_model.solvers.serving.InferenceMemoryModel` of both
        pools.
    prefill_limits, decode_limits
        :class:`~blackwell_model.solvers.serving.EngineLimits` of each pool
        (the prefill pool's ``max_num_tokens`` is its pass size).
    power
        :class:`~blackwell_model.solvers.energy.PowerModel`.
    charge
        How shared rack switches are charged (``"gpus"`` or ``"racks"``).
    speculation
        :class:`~blackwell_model.solvers.speculation.Speculation` (or its
        text form) of the decode pool; the prefill pool runs the draft's
        prefill too.  ``None``: no speculative decoding.

    Returns
    -------
    DisaggregatedReport

    Raises
    ------
    InfeasibleLayoutError
        A layout that does not divide the model or fit its pool, or a latency
        target no batch meets (rule ``"latency"``).
    """
    from .inference import _parse_args, _target_s

    if not isinstance(deployment, DisaggregatedDeployment):
        raise SpecError(
            f"deployment must be a DisaggregatedDeployment, got {type(deployment).__name__}"
        )
    d = deployment
    model, isl, osl = _parse_args(
        model, d.decode_cluster, d.decode_layout, input_tokens, output_tokens
    )
    if osl < 2:
        raise SpecError(
            f"output_tokens must be >= 2 for a decode pool (the first token comes from the "
            f"prefill), got {osl}"
        )
    tpot_lim = _target_s(max_tpot, "max_tpot")
    ttft_lim = _target_s(max_ttft, "max_ttft")
    spec = as_speculation(speculation)
    pre = ServingSolver(
        model, d.prefill_cluster, d.prefill_layout, d.prefill_precision, d.kv_precision,
        efficiency=prefill_efficiency, memory=memory, limits=prefill_limits, speculation=spec,
    )  # fmt: skip
    dec = ServingSolver(
        model, d.decode_cluster, d.decode_layout, d.decode_precision, d.kv_precision,
        efficiency=decode_efficiency, memory=memory, limits=decode_limits, speculation=spec,
    )  # fmt: skip
    # ---- KV transfer of one request
    kv_b = float(model.kv_cache_bytes(isl, dec.kv))
    senders = d.prefill_layout.replica_gpus
    t_kv = kv_transfer_s(kv_b, senders=senders, link_Bps=d.link_Bps())
    # ---- prefill: passes of k prompts (fewer if TTFT demands)
    k_max = max(1, pre.chunk_tokens // isl)
    pre_fit = max(1, pre.max_batch(isl, 1))
    k_max = min(k_max, pre_fit)
    ks = np.arange(1.0, k_max + 1.0)
    passes = pre.prefill(ks, isl).time_s
    ttft = passes + t_kv
    ok = np.ones(ks.shape, dtype=bool) if ttft_lim is None else ttft <= ttft_lim
    if not ok.any():
        from ..errors import InfeasibleLayoutError

        raise InfeasibleLayoutError(
            "latency",
            f"a prefill pass of one {isl}-token prompt takes "
            f"{format_quantity(Q_(float(passes[0]), _S))} and its KV transfer "
            f"{format_quantity(Q_(t_kv, _S))}: time to first token above "
            f"{format_quantity(Q_(float(ttft_lim or 0.0), _S))}",
        )
    rates = np.where(ok, ks / passes, -1.0)
    i = int(np.argmax(rates))
    k = int(ks[i])
    r_p = float(rates[i]) * d.prefill_layout.dp
    # ---- decode: steps only, at the largest batch meeting the TPOT target
    top = dec.operating_batch(isl, osl)
    if top == 0:
        dec.check_fits(1, isl, osl)
    if d.decode_batch is not None:
        b = d.decode_batch
        dec.check_fits(b, isl, osl)
    else:
        b = top
        if tpot_lim is not None:
            b = _decode_batch_under(dec, top, isl, osl, tpot_lim)
    ctx = float(isl) + osl / 2.0
    step = dec.decode_step(np.array([float(b)]), np.array([ctx]))
    host = host_exposed_s(dec, np.array([float(b)]), step.time_s)
    tpot = float(step.time_s[0] + host[0])
    r_d = b * d.decode_layout.dp / ((osl - 1) * tpot)
    ratio = r_d / r_p
    g_p = d.prefill_layout.gpus
    g_d = d.decode_layout.gpus
    # balanced: one decode instance and `ratio` prefill instances
    gpus = ratio * g_p + g_d
    tps_gpu = osl * r_d / gpus
    # ---- energy of the balanced deployment over one second
    pm = power or PowerModel()
    e_p: EnergyReport = inference_energy(
        d.prefill_cluster, gpus=g_p, output_tokens=osl * r_p, prefill_s=1.0, decode_s=0.0,
        prefill_compute=_busy(pre.prefill(np.array([float(k)]), isl), "tensor"),
        prefill_memory=_busy(pre.prefill(np.array([float(k)]), isl), "memory"),
        power=pm, charge=charge,
    )  # fmt: skip
    e_d: EnergyReport = inference_energy(
        d.decode_cluster, gpus=g_d, output_tokens=osl * r_d, prefill_s=0.0, decode_s=1.0,
        decode_compute=min(1.0, float(step.tensor_busy_s[0]) / tpot),
        decode_memory=min(1.0, float(step.memory_busy_s[0]) / tpot),
        power=pm, charge=charge,
    )  # fmt: skip
    joules = ratio * float(e_p.energy_per_step.m) + float(e_d.energy_per_step.m)
    assumptions = {
        "weights": f"prefill {pre.format.name}, decode {dec.format.name}",
        "kv_cache": dec.kv.value + (" (engine-like default)" if d.kv_precision is None else ""),
        "kv_transfer": (
            f"{format_quantity(Q_(kv_b, 'B'))} per request over {d.link()} "
            f"({senders} senders x {format_quantity(Q_(d.link_Bps(), 'B/s'))}, 80 % efficient)"
        ),
        "prefill": f"{k} prompts per pass ({pre.chunk_tokens} max tokens)",
        "decode": f"batch {b} per replica, decode steps only",
        "energy": (
            "shared rack switches charged per GPU used"
            if charge == "gpus"
            else "whole racks charged"
        ),
    }
    if spec is not None:
        assumptions["speculation"] = spec.describe()
    return DisaggregatedReport(
        model_name=model.name,
        deployment=d,
        input_tokens=isl,
        output_tokens=osl,
        prefill_batch=k,
        decode_batch=int(b),
        prefill_instance_rate=Q_(r_p, _PER_S),
        decode_instance_rate=Q_(r_d, _PER_S),
        prefill_per_decode=ratio,
        time_to_first_token=Q_(float(ttft[i]), _S),
        kv_transfer_time=Q_(t_kv, _S),
        time_per_output_token=Q_(tpot, _S),
        output_tokens_per_second_per_gpu=Q_(tps_gpu, _PER_S),
        prefill_gpus=g_p,
        decode_gpus=g_d,
        energy_per_token=Q_(joules / (osl * r_d), "J"),
        assumptions=assumptions,
    )


def _busy(arrays: Any, kind: str) -> float:
    t = float(arrays.time_s[0]) or 1.0
    x = arrays.tensor_busy_s if kind == "tensor" else arrays.memory_busy_s
    return min(1.0, float(x[0]) / t)


def _decode_batch_under(dec: ServingSolver, top: int, isl: int, osl: int, tpot_lim: float) -> int:
    """Largest decode batch (up to ``top``) whose decode-only step meets ``tpot_lim``."""
    b = candidate_batches(top)
    step = dec.decode_step(b, np.full_like(b, float(isl) + osl / 2.0))
    t = step.time_s + host_exposed_s(dec, b, step.time_s)
    ok = t <= tpot_lim
    if not ok.any():
        from ..errors import InfeasibleLayoutError

        lay = dec.layout
        raise InfeasibleLayoutError(
            "latency",
            f"decode tp={lay.tp} pp={lay.pp} ep={lay.ep} dp={lay.dp}: a batch of one takes "
            f"{format_quantity(Q_(float(t[0]), _S))} per token, above "
            f"{format_quantity(Q_(tpot_lim, _S))}",
        )
    return int(b[np.flatnonzero(ok)[-1]])
