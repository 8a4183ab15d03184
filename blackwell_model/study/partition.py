"""Multi-tenant partitions: training jobs and serving deployments sharing one cluster.

:func:`partition` places each tenant on whole nodes (whole NVLink domains for
a tenant of a domain or more), so that no tensor-parallel group crosses a
scale-up domain, predicts every tenant with the public predictors
(:func:`~blackwell_model.predict_training` or a layout search for training,
:func:`~blackwell_model.inference_sweep` and
:func:`~blackwell_model.predict_inference` for serving), and reports what is
left idle.  Every line of the report has its GPUs, facility power and (with a
pricing) money, and the lines add up to the cluster:

.. math::

   G = \\sum_t G_t + G_{idle}, \\qquad
   P = \\sum_t P_t + P_{shared} + P_{idle}

where a tenant's power is its accelerators, host CPUs and NICs (with rack
overhead and PUE), the shared line is the scale-up and scale-out switches,
and idle GPUs draw their idle power.

Interference: tenants whose traffic crosses domains share the scale-out
fabric's uplink capacity :math:`C = N_{nic} B_{nic} / r` (oversubscription
:math:`r`).  A training tenant's demand is its data- and pipeline-parallel
bytes per step over its step time (:func:`scale_out_demand_Bps`); when the
tenants' total demand :math:`D` exceeds :math:`C`, each scale-out tenant
sees its NIC bandwidth divided by
:math:`f_t = \\max(1, D/C) / \\max(1, D_t/C)` and is predicted again.  A
non-blocking fabric (:math:`r = 1`) never slows anyone down.

:func:`rank_partitions` evaluates several candidate partitions and ranks them
by an objective (:data:`PARTITION_OBJECTIVES` or a function).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from .._display import Display
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.system import Cluster
from ..parallel.inference import InferenceLayout
from ..parallel.layout import Layout
from ..predict.inference import InferenceReport, inference_sweep, predict_inference
from ..predict.training import TrainingReport, predict_training
from ..solvers.energy import PowerModel, Pricing, cluster_power, cost_breakdown_usd
from ..solvers.reliability import GoodputReport, ReliabilityModel, job_goodput
from ..units import format_quantity, parse_quantity
from .search import search_layouts

__all__ = [
    "PARTITION_OBJECTIVES",
    "PartitionReport",
    "ServingTenant",
    "TenantReport",
    "TrainingTenant",
    "partition",
    "rank_partitions",
    "scale_out_demand_Bps",
]

_S_PER_H = 3600.0


def _model(model: Any) -> Any:
    if isinstance(model, str):
        from .. import catalog

        return catalog.model(model)
    return model


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{name} must be an integer >= 1, got {value!r}")
    return value


# ------------------------------------------------------------------- tenants
@attrs.frozen(kw_only=True)
class TrainingTenant:
    """A training (or fine-tuning) job: a model on ``gpus`` GPUs, with a layout or a search.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or catalog name.
    gpus
        GPUs the tenant gets (whole nodes).
    layout
        The :class:`~blackwell_model.parallel.Layout`; its ``gpus`` must equal
        ``gpus``.  Or None with ``search``.
    search
        Keyword arguments of :func:`~blackwell_model.search_layouts` (at least
        ``global_batch`` and ``seq_len``): the fastest layout on the tenant's
        GPUs is used.
    tokens
        Tokens to train, for :attr:`TenantReport.days`; or None.

    Examples
    --------
    >>> t = TrainingTenant(model="llama3-8b", gpus=8, search={"global_batch": 64, "seq_len": 4096})
    >>> t.gpus
    8
    """

    model: Any
    gpus: int
    layout: Layout | None = None
    search: Mapping[str, Any] | None = None
    tokens: float | None = None

    def __attrs_post_init__(self) -> None:
        _positive_int(self.gpus, "gpus")
        if (self.layout is None) == (self.search is None):
            raise SpecError("a TrainingTenant needs a layout or a search (not both)")
        if self.layout is not None:
            if not isinstance(self.layout, Layout):
                raise SpecError(f"layout must be a Layout, got {type(self.layout).__name__}")
            if self.layout.gpus != self.gpus:
                raise SpecError(
                    f"layout uses {self.layout.gpus} GPUs but the tenant has gpus={self.gpus}"
                )
        if self.tokens is not None and not (
            isinstance(self.tokens, int | float) and math.isfinite(self.tokens) and self.tokens > 0
        ):
            raise SpecError(f"tokens must be a finite number > 0 or None, got {self.tokens!r}")

    @property
    def tp(self) -> int:
        """Tensor-parallel degree (known once a layout is chosen; 1 before a search)."""
        return 1 if self.layout is None else int(self.layout.tp)


@attrs.frozen(kw_only=True)
class ServingTenant:
    """A serving deployment: replicas of ``layout`` on ``gpus`` GPUs, under a load.

    The deployment runs the smallest continuous-batching batch whose output
    throughput meets ``requests_per_second`` (each request
    ``input_tokens`` in, ``output_tokens`` out) within the ``latency``
    target; with no load given, the batch of highest throughput within the
    target.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or catalog name.
    layout
        :class:`~blackwell_model.parallel.InferenceLayout` of one replica.
    gpus
        GPUs of the deployment (a multiple of ``layout.gpus``); defaults to
        one replica.
    input_tokens, output_tokens
        Tokens per request.
    requests_per_second
        Offered load [1/s], or None for the most the deployment can serve.
    latency
        Largest time per output token, e.g. ``"40 ms"``, or None.
    precision
        Weight precision (``"bf16"``, ``"fp8"`` ...).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> s = ServingTenant(model="llama3-8b", layout=bm.InferenceLayout(tp=2), gpus=8,
    ...                   input_tokens=1000, output_tokens=200, requests_per_second=10)
    >>> s.replicas
    4
    """

    model: Any
    layout: InferenceLayout
    gpus: int | None = None
    input_tokens: int = 1000
    output_tokens: int = 500
    requests_per_second: float | None = None
    latency: Any = None
    precision: str = "bf16"

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.layout, InferenceLayout):
            raise SpecError(f"layout must be an InferenceLayout, got {type(self.layout).__name__}")
        if self.gpus is None:
            object.__setattr__(self, "gpus", self.layout.gpus)
        n = _positive_int(self.gpus, "gpus")
        if n % self.layout.gpus:
            raise SpecError(
                f"gpus must be a multiple of the layout's {self.layout.gpus} GPUs, got {n}"
            )
        _positive_int(self.input_tokens, "input_tokens")
        _positive_int(self.output_tokens, "output_tokens")
        rps = self.requests_per_second
        if rps is not None and not (
            isinstance(rps, int | float) and not isinstance(rps, bool) and math.isfinite(rps)
            and rps > 0
        ):  # fmt: skip
            raise SpecError(f"requests_per_second must be > 0 or None, got {rps!r}")
        if self.latency is not None:
            parse_quantity(self.latency, "s", name="latency")

    @property
    def replicas(self) -> int:
        """Independent copies of the layout."""
        return int(self.gpus or 0) // self.layout.gpus

    @property
    def tp(self) -> int:
        """Tensor-parallel degree of a replica."""
        return int(self.layout.tp)


Tenant = TrainingTenant | ServingTenant


# ------------------------------------------------------------- fabric demand
def scale_out_demand_Bps(model: Any, layout: Layout, step_time_s: float, domain_gpus: int) -> float:
    """Average scale-out bytes per second one GPU of a training job sends [B/s].

    Data-parallel gradient reduce-scatter plus parameter all-gather (ring,
    BF16) when the data-parallel group leaves the scale-up domain, and
    pipeline activations (forward) and their gradients (backward) when the
    stages do:

    .. math::

       B_{dp} = 2 \\cdot 2\\,\\frac{N}{t\\,p}\\,\\frac{d-1}{d}, \\qquad
       B_{pp} = 2 \\cdot 2\\,\\frac{b\\,s\\,h}{t\\,c}\\,\\frac{p-1}{p}

    per step (:math:`N` parameters, :math:`b` sequences of :math:`s` tokens
    per data-parallel rank, hidden size :math:`h`, degrees :math:`t, p, c,
    d`), divided by the step time.  0 for a job inside one domain.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> lay = bm.Layout(tp=8, dp=2, global_batch=16, seq_len=4096)
    >>> scale_out_demand_Bps(bm.catalog.model("llama3-8b"), lay, 1.0, 8) > 0
    True
    """
    if layout.gpus <= domain_gpus:
        return 0.0
    model = _model(model)
    tp, pp, cp, dp = int(layout.tp), int(layout.pp), int(layout.cp), int(layout.dp)
    inner = tp * cp * int(getattr(layout, "ep", 1) or 1)
    per_step = 0.0
    if dp > 1 and inner * pp * dp > domain_gpus:
        per_step += 2.0 * 2.0 * float(model.total_params) / (tp * pp) * (dp - 1) / dp
    if pp > 1 and inner * pp > domain_gpus:
        seqs = layout.global_batch / dp
        per_step += (
            2.0 * 2.0 * seqs * layout.seq_len * int(model.hidden) / (tp * cp) * (pp - 1) / pp
        )
    return per_step / float(step_time_s)


# --------------------------------------------------------------------- reports
@attrs.frozen(kw_only=True, repr=False)
class TenantReport(Display):
    """One tenant of a partition: where it runs and what it delivers.

    Parameters
    ----------
    name
        The tenant's key.
    kind
        ``"training"``, ``"serving"``, ``"shared"`` (switches) or ``"idle"``.
    gpus
        GPUs of the line.
    placement
        Domain index -> GPUs of the tenant in that domain.
    report
        The :class:`~blackwell_model.TrainingReport` or
        :class:`~blackwell_model.InferenceReport` (None for shared and idle).
    tokens_per_second
        Training tokens or served output tokens per second [1/s].
    power_W
        Average facility power of the line [W].
    cost_per_hour
        Dollars per hour under the partition's pricing, or None.
    interference
        Factor its NIC bandwidth was divided by for fabric sharing (1: none).
    goodput
        Training tenants: :class:`~blackwell_model.solvers.reliability.GoodputReport`.
    load
        Serving tenants: offered load over capacity (> 1 is overloaded).
    tokens
        Training tokens wanted, or None.
    """

    name: str
    kind: str
    gpus: int
    placement: Mapping[int, int] = attrs.field(factory=dict)
    report: TrainingReport | InferenceReport | None = None
    tokens_per_second: float = 0.0
    power_W: float = 0.0
    cost_per_hour: float | None = None
    interference: float = 1.0
    goodput: GoodputReport | None = None
    load: float | None = None
    tokens: float | None = None

    @property
    def effective_tokens_per_second(self) -> float:
        """Tokens per second after failures and stragglers (training), else as served."""
        if self.goodput is None:
            return self.tokens_per_second
        return self.tokens_per_second * self.goodput.goodput / self.goodput.straggler_slowdown

    @property
    def days(self) -> float | None:
        """Days to train :attr:`tokens` at the effective rate, or None."""
        if self.tokens is None or self.effective_tokens_per_second <= 0:
            return None
        return self.tokens / self.effective_tokens_per_second / 86400.0

    @property
    def energy_per_token_J(self) -> float | None:
        """Facility energy per token of the line [J], or None without tokens."""
        t = self.effective_tokens_per_second
        return None if t <= 0 else self.power_W / t

    def describe(self) -> str:
        """What the tenant runs, in a few words."""
        rep = self.report
        if isinstance(rep, TrainingReport):
            lay = rep.layout
            return (
                f"{rep.model_name} training tp{lay.tp} pp{lay.pp} cp{lay.cp} dp{lay.dp}"
                f" ({format_quantity(rep.step_time)} steps)"
            )
        if isinstance(rep, InferenceReport):
            ilay = rep.layout
            return (
                f"{rep.model_name} serving tp{ilay.tp} pp{ilay.pp} x{self.gpus // ilay.gpus}"
                f" batch {rep.batch}, TPOT {format_quantity(rep.time_per_output_token.to('ms'))}"
            )
        return self.kind

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary."""
        return {
            "name": self.name,
            "kind": self.kind,
            "gpus": self.gpus,
            "placement": dict(self.placement),
            "tokens_per_second": self.tokens_per_second,
            "effective_tokens_per_second": self.effective_tokens_per_second,
            "power_W": self.power_W,
            "cost_per_hour": self.cost_per_hour,
            "interference": self.interference,
            "goodput": None if self.goodput is None else self.goodput.goodput,
            "load": self.load,
            "days": self.days,
        }

    def _text(self) -> str:
        return f"{self.name}: {self.describe()} on {self.gpus} GPUs"


@attrs.frozen(kw_only=True, repr=False)
class PartitionReport(Display):
    """A cluster split between tenants: one :class:`TenantReport` per line, adding up.

    Parameters
    ----------
    cluster_name
        What was split.
    cluster_gpus
        GPUs of the cluster.
    lines
        Tenant name (and ``"shared"``, ``"idle"``) -> :class:`TenantReport`.
    pue
        Facility PUE applied.
    """

    cluster_name: str
    cluster_gpus: int
    lines: Mapping[str, TenantReport]
    pue: float = 1.0

    @property
    def tenants(self) -> dict[str, TenantReport]:
        """The tenants' lines (without ``shared`` and ``idle``)."""
        return {k: v for k, v in self.lines.items() if v.kind in ("training", "serving")}

    @property
    def idle_gpus(self) -> int:
        """GPUs no tenant uses."""
        return self.lines["idle"].gpus

    @property
    def power_W(self) -> float:
        """Average facility power of the cluster: the lines' sum [W]."""
        return float(sum(v.power_W for v in self.lines.values()))

    @property
    def tokens_per_second(self) -> float:
        """Training plus served tokens per second, after failures and stragglers [1/s]."""
        return float(sum(v.effective_tokens_per_second for v in self.tenants.values()))

    @property
    def cost_per_hour(self) -> float | None:
        """Dollars per hour of the whole cluster, or None without a pricing."""
        costs = [v.cost_per_hour for v in self.lines.values()]
        if any(c is None for c in costs):
            return None
        return float(sum(c for c in costs if c is not None))

    @property
    def energy_per_token_J(self) -> float:
        """Facility energy per token of the whole cluster (idle and shared included) [J]."""
        t = self.tokens_per_second
        return math.inf if t <= 0 else self.power_W / t

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary."""
        return {
            "cluster": self.cluster_name,
            "gpus": self.cluster_gpus,
            "power_W": self.power_W,
            "tokens_per_second": self.tokens_per_second,
            "cost_per_hour": self.cost_per_hour,
            "lines": {k: v.to_dict() for k, v in self.lines.items()},
        }

    def summary(self) -> str:
        """A table: one line per tenant, then shared, idle and the total."""
        money = self.cost_per_hour is not None
        head = f"{'line':<14} {'GPUs':>5} {'tok/s':>10} {'kW':>7}" + ("  $/h" if money else "")
        lines = [f"{self.cluster_name}: {self.cluster_gpus} GPUs, PUE {self.pue:g}", head]
        for name, v in self.lines.items():
            row = (
                f"{name:<14} {v.gpus:>5} {v.effective_tokens_per_second:>10,.0f} "
                f"{v.power_W / 1e3:>7.1f}"
            )
            if money:
                row += f"  {v.cost_per_hour:,.0f}"
            extra = []
            if v.kind in ("training", "serving"):
                extra.append(v.describe())
            if v.goodput is not None:
                extra.append(f"goodput {v.goodput.goodput:.1%}")
            if v.load is not None:
                extra.append(f"load {v.load:.0%} of capacity")
            if v.interference > 1.0:
                extra.append(f"fabric shared: NIC bandwidth / {v.interference:.2f}")
            if v.days is not None:
                extra.append(f"{v.days:.1f} days for {v.tokens:.3g} tokens")
            lines.append(row + ("   " + "; ".join(extra) if extra else ""))
        total = (
            f"{'total':<14} {sum(v.gpus for v in self.lines.values()):>5} "
            f"{self.tokens_per_second:>10,.0f} {self.power_W / 1e3:>7.1f}"
        )
        if money:
            total += f"  {self.cost_per_hour:,.0f}"
        lines.append(total)
        return "\n".join(lines)

    def _text(self) -> str:
        return self.summary()


# ----------------------------------------------------------------- placement
def _place(cluster: Cluster, tenants: Mapping[str, Tenant]) -> dict[str, dict[int, int]]:
    """Whole nodes per tenant; whole domains first for tenants of a domain or more.

    A tenant's GPUs in each domain must be a multiple of its tensor-parallel
    degree (no TP group crosses a domain).
    """
    dom = cluster.domain
    per_node = dom.node.accelerators
    free = [dom.nodes] * cluster.domains  # free nodes per domain
    placement: dict[str, dict[int, int]] = {}
    order = sorted(tenants, key=lambda k: -int(tenants[k].gpus or 0))
    for name in order:
        t = tenants[name]
        gpus = int(t.gpus or 0)
        if gpus % per_node:
            raise InfeasibleLayoutError(
                "placement",
                f"tenant {name!r}: {gpus} GPUs is not a whole number of "
                f"{per_node}-GPU nodes ({dom.node.name})",
            )
        if t.tp > dom.gpus:
            raise InfeasibleLayoutError(
                "placement",
                f"tenant {name!r}: tp={t.tp} is larger than the {dom.gpus}-GPU scale-up domain",
            )
        need = gpus // per_node
        got: dict[int, int] = {}
        # whole empty domains first
        for d in range(cluster.domains):
            if need >= dom.nodes and free[d] == dom.nodes:
                got[d] = dom.nodes
                free[d] = 0
                need -= dom.nodes
        # the rest: the fullest domain with room (best fit), then the next
        while need > 0:
            cands = [d for d in range(cluster.domains) if free[d] > 0]
            if not cands:
                raise InfeasibleLayoutError(
                    "placement",
                    f"tenant {name!r} needs {gpus} GPUs but the cluster has only "
                    f"{sum(free) * per_node + sum(got.values()) * per_node} left",
                )
            fits = [d for d in cands if free[d] >= need]
            d = min(fits, key=lambda i: free[i]) if fits else max(cands, key=lambda i: free[i])
            take = min(need, free[d])
            got[d] = got.get(d, 0) + take
            free[d] -= take
            need -= take
        gpu_map = {d: n * per_node for d, n in sorted(got.items())}
        bad = {d: g for d, g in gpu_map.items() if g % t.tp}
        if bad:
            raise InfeasibleLayoutError(
                "placement",
                f"tenant {name!r}: a tp={t.tp} group would cross a scale-up domain "
                f"(GPUs per domain {bad} are not multiples of {t.tp})",
            )
        placement[name] = gpu_map
    return {name: placement[name] for name in tenants}


def _sub_cluster(cluster: Cluster, gpus: int) -> Cluster:
    domains = math.ceil(gpus / cluster.domain.gpus)
    if domains == cluster.domains:
        return cluster
    fabric = cluster.fabric if domains > 1 else None
    return attrs.evolve(
        cluster, name=f"{cluster.domain.name} x {domains}", domains=domains, fabric=fabric
    )


def _slower_nics(cluster: Cluster, factor: float) -> Cluster:
    node = cluster.domain.node
    if factor <= 1.0 or node.nic is None:
        return cluster
    nic = attrs.evolve(node.nic, bandwidth=node.nic.bandwidth / factor)
    dom = attrs.evolve(cluster.domain, node=attrs.evolve(node, nic=nic))
    return attrs.evolve(cluster, domain=dom)


def _train(t: TrainingTenant, sub: Cluster, power: PowerModel | None) -> TrainingReport:
    if t.layout is not None:
        return predict_training(t.model, sub, t.layout, power=power)
    res = search_layouts(t.model, sub, gpus=t.gpus, top=1, **dict(t.search or {}))
    if res.best is None:
        res.check()  # raises InfeasibleLayoutError with the reason
        raise InfeasibleLayoutError("search", f"no layout fits {t.gpus} GPUs")  # pragma: no cover
    if power is None:
        return res.best
    return predict_training(t.model, sub, res.best.layout, power=power)


def _serve(
    t: ServingTenant, sub: Cluster, power: PowerModel | None
) -> tuple[InferenceReport, float | None]:
    request: dict[str, Any] = {
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "precision": t.precision,
    }
    replica = sub if t.layout.gpus == sub.gpus else _sub_cluster(sub, t.layout.gpus)
    coarse = inference_sweep(t.model, replica, t.layout, **request)
    if coarse.max_batch < 1:
        raise InfeasibleLayoutError(
            "memory", f"{_model(t.model).name} does not fit {t.layout.gpus} GPUs to serve"
        )
    batches = np.arange(1, coarse.max_batch + 1)
    curve = inference_sweep(t.model, replica, t.layout, batches=batches, **request)
    tps = np.asarray(curve.tokens_per_second_per_gpu, dtype=float) * t.layout.gpus
    ok = np.ones(len(batches), dtype=bool)
    if t.latency is not None:
        limit = float(parse_quantity(t.latency, "s", name="latency").m)
        ok &= np.asarray(curve.tpot_s, dtype=float) <= limit
        if not ok.any():
            raise InfeasibleLayoutError(
                "latency",
                f"{_model(t.model).name} on {t.layout.gpus} GPUs never reaches a time per "
                f"output token of {format_quantity(parse_quantity(t.latency, 's'))}",
            )
    load = None
    best = int(np.argmax(np.where(ok, tps, -1.0)))
    if t.requests_per_second is not None:
        want = t.requests_per_second * t.output_tokens / t.replicas
        meets = np.flatnonzero(ok & (tps >= want))
        i = int(meets[0]) if len(meets) else best
        load = want / float(tps[best])
    else:
        i = best
    rep = predict_inference(
        t.model, replica, t.layout, batch=int(batches[i]), continuous=True, power=power, **request
    )
    return rep, load


def _own_power_W(rep: Any, overhead: float, pue: float) -> float:
    """Facility power of a tenant's accelerators, CPUs and NICs (switches excluded) [W]."""
    e = rep.energy
    parts = e.result.part_energy_J
    own = parts["accelerators"] + parts["cpus"] + parts["nics"]
    return own / e.result.step_time_s * (1.0 + overhead) * pue


def partition(
    cluster: Cluster,
    tenants: Mapping[str, Tenant],
    *,
    power: PowerModel | None = None,
    pricing: Pricing | None = None,
    reliability: ReliabilityModel | None = None,
    interference: bool = True,
) -> PartitionReport:
    """Place ``tenants`` on ``cluster`` and predict each; report every line and the idle rest.

    Parameters
    ----------
    cluster
        The :class:`~blackwell_model.hardware.Cluster` to split.
    tenants
        Name -> :class:`TrainingTenant` or :class:`ServingTenant`.
    power
        :class:`~blackwell_model.solvers.energy.PowerModel` (PUE, caps).
    pricing
        :class:`~blackwell_model.solvers.energy.Pricing` for dollars per hour.
    reliability
        :class:`~blackwell_model.solvers.reliability.ReliabilityModel` for
        the training tenants' goodput (their neighbours in a shared NVLink
        domain count: a rack-scale blast radius stops them too).
    interference
        Model the sharing of the scale-out fabric (see the module docstring).

    Returns
    -------
    PartitionReport

    Raises
    ------
    InfeasibleLayoutError
        If a tenant does not fit (rule ``"placement"``: not whole nodes, more
        GPUs than are left, or a TP group that would cross a domain), or its
        layout does not fit its GPUs.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    >>> plan = partition(rack, {
    ...     "tune": TrainingTenant(model="llama3-8b", gpus=32,
    ...                            layout=bm.Layout(tp=4, dp=8, global_batch=64, seq_len=4096)),
    ...     "chat": ServingTenant(model="llama3-8b", layout=bm.InferenceLayout(tp=4), gpus=16,
    ...                           input_tokens=1000, output_tokens=200),
    ... })
    >>> plan.idle_gpus, sum(v.gpus for v in plan.lines.values())
    (24, 72)
    """
    if not isinstance(cluster, Cluster):
        raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
    if not isinstance(tenants, Mapping) or not tenants:
        raise SpecError("tenants must be a non-empty mapping of name -> tenant")
    for name, t in tenants.items():
        if not isinstance(t, TrainingTenant | ServingTenant):
            raise SpecError(
                f"tenant {name!r} must be a TrainingTenant or ServingTenant, got {type(t).__name__}"
            )
        if name in ("shared", "idle", "total"):
            raise SpecError(f"tenant name {name!r} is reserved")
    # a search decides tp: place with tp=1 first, then check the chosen layout
    placement = _place(cluster, tenants)
    pm = power or PowerModel()
    full = cluster_power(cluster, power=pm)
    overhead, pue = full.rack_overhead, full.pue
    dom_gpus = cluster.domain.gpus

    reports: dict[str, Any] = {}
    loads: dict[str, float | None] = {}
    subs: dict[str, Cluster] = {}
    for name, t in tenants.items():
        sub = _sub_cluster(cluster, int(t.gpus or 0))
        subs[name] = sub
        if isinstance(t, TrainingTenant):
            reports[name] = _train(t, sub, power)
            tp = int(reports[name].layout.tp)
            bad = {d: g for d, g in placement[name].items() if g % tp}
            if bad:
                raise InfeasibleLayoutError(
                    "placement",
                    f"tenant {name!r}: its layout's tp={tp} groups would cross a scale-up domain "
                    f"(GPUs per domain {bad})",
                )
        else:
            reports[name], loads[name] = _serve(t, sub, power)

    factors = dict.fromkeys(tenants, 1.0)
    fab = cluster.fabric
    nic = cluster.domain.node.nic
    if interference and fab is not None and nic is not None:
        nic_bps = float(nic.bandwidth.m) * cluster.domain.node.nics_per_accelerator
        capacity = cluster.gpus * nic_bps / float(fab.oversubscription)
        demand = {}
        for name, t in tenants.items():
            rep = reports[name]
            if isinstance(rep, TrainingReport) and len(placement[name]) > 1:
                per_gpu = scale_out_demand_Bps(t.model, rep.layout, rep.step_time.m, dom_gpus)
                demand[name] = min(per_gpu, nic_bps) * rep.gpus
        total = sum(demand.values())
        for name, d in demand.items():
            f = max(1.0, total / capacity) / max(1.0, d / capacity)
            if f > 1.0 + 1e-9:
                factors[name] = f
                slow = _slower_nics(subs[name], f)
                model = tenants[name].model
                reports[name] = predict_training(model, slow, reports[name].layout, power=power)

    lines: dict[str, TenantReport] = {}
    used = 0
    for name, t in tenants.items():
        rep = reports[name]
        own = _own_power_W(rep, overhead, pue)
        if isinstance(rep, TrainingReport):
            tps = float(rep.tokens_per_second.m)
            gp = job_goodput(
                cluster,
                rep.gpus,
                parameters=float(_model(t.model).total_params),
                reliability=reliability,
            )
        else:
            tps = float(rep.output_tokens_per_second.m) * (int(t.gpus or 0) // rep.gpus)
            own *= int(t.gpus or 0) // rep.gpus
            gp = None
        used += int(t.gpus or 0)
        lines[name] = TenantReport(
            name=name,
            kind="training" if isinstance(rep, TrainingReport) else "serving",
            gpus=int(t.gpus or 0),
            placement=placement[name],
            report=rep,
            tokens_per_second=tps,
            power_W=own,
            interference=factors[name],
            goodput=gp,
            load=loads.get(name),
            tokens=t.tokens if isinstance(t, TrainingTenant) else None,
        )
    shared_w = full.scale_up_switches * full.scale_up_switch_W * (1.0 + overhead) * pue
    shared_w += full.fabric_switches * full.fabric_switch_W * pue
    idle = cluster.gpus - used
    idle_nodes = idle // cluster.domain.node.accelerators
    cpus_per_node = full.cpus / max(1, full.accelerators // cluster.domain.node.accelerators)
    idle_w = idle * full.idle_W + idle_nodes * cpus_per_node * full.cpu_W
    if full.nics:
        idle_w += idle * cluster.domain.node.nics_per_accelerator * full.nic_W
    idle_w *= (1.0 + overhead) * pue
    lines["shared"] = TenantReport(name="shared", kind="shared", gpus=0, power_W=shared_w)
    lines["idle"] = TenantReport(name="idle", kind="idle", gpus=idle, power_W=idle_w)
    if pricing is not None:
        for name, line in list(lines.items()):
            parts = cost_breakdown_usd(
                pricing,
                gpus=line.gpus,
                domains=line.gpus / dom_gpus,
                duration_s=_S_PER_H,
                energy_J=line.power_W * _S_PER_H,
                max_it_power_W=line.power_W / pue,
            )
            lines[name] = attrs.evolve(line, cost_per_hour=float(sum(parts.values())))
    return PartitionReport(
        cluster_name=cluster.name, cluster_gpus=cluster.gpus, lines=lines, pue=pue
    )


# -------------------------------------------------------------------- ranking
def _cost(r: PartitionReport) -> float:
    c = r.cost_per_hour
    if c is None:
        raise SpecError("the 'cost' objective needs a pricing: rank_partitions(..., pricing=...)")
    t = r.tokens_per_second
    return math.inf if t <= 0 else c / (t * _S_PER_H) * 1e6


#: Objective name -> (score of a :class:`PartitionReport`, higher is better).
#: ``tokens_per_second``: training plus served tokens after failures;
#: ``cost``: dollars per million tokens (needs a pricing; lower is better);
#: ``energy``: facility joules per token (lower is better).
PARTITION_OBJECTIVES: Mapping[str, Callable[[PartitionReport], float]] = {
    "tokens_per_second": lambda r: r.tokens_per_second,
    "cost": lambda r: -_cost(r),
    "energy": lambda r: -r.energy_per_token_J,
}


def rank_partitions(
    cluster: Cluster,
    candidates: Mapping[str, Mapping[str, Tenant]] | Sequence[Mapping[str, Tenant]],
    *,
    objective: str | Callable[[PartitionReport], float] = "tokens_per_second",
    **kwargs: Any,
) -> list[tuple[str, PartitionReport | InfeasibleLayoutError]]:
    """Evaluate candidate partitions and rank them, best first; infeasible ones last.

    Parameters
    ----------
    cluster
        The cluster to split.
    candidates
        Label -> tenants mapping (or a sequence, labelled ``"0"``, ``"1"`` ...).
    objective
        A key of :data:`PARTITION_OBJECTIVES` or a function of a
        :class:`PartitionReport` returning a score (higher is better).
    **kwargs
        Passed to :func:`partition` (``power``, ``pricing``, ``reliability``).

    Returns
    -------
    list of (label, PartitionReport or InfeasibleLayoutError)

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    >>> chat = lambda g: ServingTenant(model="llama3-8b", layout=bm.InferenceLayout(tp=4),
    ...                                gpus=g, input_tokens=1000, output_tokens=200)
    >>> ranked = rank_partitions(rack, {"small": {"chat": chat(8)}, "big": {"chat": chat(72)}})
    >>> [label for label, _ in ranked]
    ['big', 'small']
    """
    if isinstance(objective, str):
        if objective not in PARTITION_OBJECTIVES:
            raise SpecError(
                f"objective must be one of {', '.join(PARTITION_OBJECTIVES)} or a function, "
                f"got {objective!r}"
            )
        score = PARTITION_OBJECTIVES[objective]
    elif callable(objective):
        score = objective
    else:
        raise SpecError(f"objective must be a name or a function, got {objective!r}")
    items = (
        list(candidates.items())
        if isinstance(candidates, Mapping)
        else [(str(i), c) for i, c in enumerate(candidates)]
    )
    done: list[tuple[str, PartitionReport]] = []
    failed: list[tuple[str, InfeasibleLayoutError]] = []
    for label, tenants in items:
        try:
            done.append((label, partition(cluster, tenants, **kwargs)))
        except InfeasibleLayoutError as err:
            failed.append((label, err))
    done.sort(key=lambda kv: -score(kv[1]))
    return [*done, *failed]
