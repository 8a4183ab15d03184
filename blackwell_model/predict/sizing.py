"""The throughput-vs-interactivity frontier and request-rate sizing.

Orchestration only.  :func:`serving_frontier` evaluates, on one system,
every layout (tensor, expert and attention-data parallel) and batch of
aggregated continuous batching, and disaggregated prefill/decode pools, as
points of output tokens per second **per GPU** against tokens per second
**per user** (1 / TPOT): the trade-off vendors plot.
:meth:`ServingFrontier.best_under` picks the most tokens/s/GPU meeting a
TTFT and a TPOT target; :func:`size_deployment` turns that into GPUs, racks,
dollars per million tokens and joules per token for a request rate and a
mix of input/output lengths, on each system asked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np
import pint

from .._display import Display
from .._validate import check_float
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.system import Cluster
from ..parallel.inference import InferenceLayout
from ..solvers.pricing import Pricing, cost_breakdown_usd
from ..solvers.serving import ServingSolver
from ..solvers.serving_modes import continuous_serving, host_exposed_s
from ..solvers.serving_presets import ServingPreset, serving_preset
from ..solvers.speculation import as_speculation
from ..units import Q_, format_quantity, parse_quantity

__all__ = [
    "FrontierPoint",
    "ServingFrontier",
    "SizingResult",
    "candidate_layouts",
    "serving_frontier",
    "size_deployment",
]


@attrs.frozen(kw_only=True)
class FrontierPoint:
    """One operating point of a :class:`ServingFrontier` (floats in SI units).

    Parameters
    ----------
    shape
        ``"aggregated"`` or ``"disaggregated"``.
    label
        The layout(s), e.g. ``"tp8"`` or ``"prefill tp4 / decode dep32"``.
    gpus
        GPUs of one instance (prefill + decode instances at the balanced
        ratio for disaggregated points; may be fractional).
    batch
        Concurrent requests per (decode) replica.
    ttft_s, tpot_s
        Time to first token and per output token [s].
    tokens_per_second_per_gpu, tokens_per_second_per_user
        Output throughput per GPU and 1 / TPOT [1/s].
    layout, prefill_layout
        The (decode) layout and, for disaggregated points, the prefill layout.
    """

    shape: str
    label: str
    gpus: float
    batch: int
    ttft_s: float
    tpot_s: float
    tokens_per_second_per_gpu: float
    tokens_per_second_per_user: float
    layout: InferenceLayout
    prefill_layout: InferenceLayout | None = None


def _label(lay: InferenceLayout) -> str:
    if lay.ep > 1 and lay.tp == 1:
        return f"dep{lay.ep}" + (f"x{lay.dp // lay.ep}" if lay.dp > lay.ep else "")
    out = f"tp{lay.tp}"
    if lay.ep > 1:
        out += f" ep{lay.ep}"
    if lay.pp > 1:
        out += f" pp{lay.pp}"
    if lay.dp > 1:
        out += f" dp{lay.dp}"
    return out


@attrs.frozen(kw_only=True, repr=False)
class ServingFrontier(Display):
    """Throughput per GPU against interactivity over layouts, batches and deployment shapes.

    Parameters
    ----------
    model_name, cluster_name
        What was evaluated.
    input_tokens, output_tokens
        Lengths [tokens].
    points
        Every :class:`FrontierPoint` evaluated.
    """

    model_name: str
    cluster_name: str
    input_tokens: int
    output_tokens: int
    points: tuple[FrontierPoint, ...]

    def pareto(self) -> tuple[FrontierPoint, ...]:
        """Points no other beats on both tokens/s/GPU and tokens/s/user, by interactivity."""
        pts = sorted(
            self.points, key=lambda p: (-p.tokens_per_second_per_user, -p.tokens_per_second_per_gpu)
        )
        out: list[FrontierPoint] = []
        best = -1.0
        for p in pts:
            if p.tokens_per_second_per_gpu > best:
                out.append(p)
                best = p.tokens_per_second_per_gpu
        return tuple(out)

    def best_under(
        self,
        *,
        ttft: pint.Quantity | str | None = None,
        tpot: pint.Quantity | str | None = None,
    ) -> FrontierPoint:
        """The most tokens/s/GPU with TTFT <= ``ttft`` and TPOT <= ``tpot`` [s].

        Raises
        ------
        InfeasibleLayoutError
            Rule ``"latency"`` when no point meets them, naming the fastest.
        """
        lim_t = None if ttft is None else parse_quantity(ttft, "s", name="ttft").m
        lim_p = None if tpot is None else parse_quantity(tpot, "s", name="tpot").m
        ok = [
            p
            for p in self.points
            if (lim_t is None or p.ttft_s <= lim_t) and (lim_p is None or p.tpot_s <= lim_p)
        ]
        if not ok:
            fast = min(self.points, key=lambda p: p.tpot_s)
            raise InfeasibleLayoutError(
                "latency",
                f"no layout or batch of {self.model_name} on {self.cluster_name} meets "
                f"TTFT <= {lim_t} s and TPOT <= {lim_p} s; the fastest ({fast.label}, batch "
                f"{fast.batch}) has TPOT {format_quantity(Q_(fast.tpot_s, 's'))} and TTFT "
                f"{format_quantity(Q_(fast.ttft_s, 's'))}",
            )
        return max(ok, key=lambda p: p.tokens_per_second_per_gpu)

    def _records(self) -> list[dict[str, Any]]:
        return [
            {
                "shape": p.shape,
                "layout": p.label,
                "batch": p.batch,
                "gpus": p.gpus,
                "ttft_s": p.ttft_s,
                "tpot_s": p.tpot_s,
                "tokens_per_second_per_user": p.tokens_per_second_per_user,
                "tokens_per_second_per_gpu": p.tokens_per_second_per_gpu,
            }
            for p in self.pareto()
        ]

    def _text(self) -> str:
        lines = [
            f"{self.model_name} on {self.cluster_name}, {self.input_tokens} in / "
            f"{self.output_tokens} out: {len(self.points)} points, Pareto frontier:",
            f"  {'shape':<13} {'layout':<28} {'batch':>6} {'TTFT':>9} {'TPOT':>9} "
            f"{'tok/s/user':>10} {'tok/s/GPU':>10}",
        ]
        for p in self.pareto():
            lines.append(
                f"  {p.shape:<13} {p.label:<28} {p.batch:>6} {p.ttft_s * 1e3:>7.0f}ms "
                f"{p.tpot_s * 1e3:>7.1f}ms {p.tokens_per_second_per_user:>10,.1f} "
                f"{p.tokens_per_second_per_gpu:>10,.0f}"
            )
        return "\n".join(lines)

    def table(self) -> str:
        """The Pareto frontier as a text table."""
        return self._text()

    def plot(self, ax: Any = None) -> Any:
        """Tokens/s/GPU against tokens/s/user, every point and the frontier.

        Returns the matplotlib Axes.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for shape, marker in (("aggregated", "o"), ("disaggregated", "s")):
            pts = [p for p in self.points if p.shape == shape]
            if pts:
                ax.scatter(
                    [p.tokens_per_second_per_user for p in pts],
                    [p.tokens_per_second_per_gpu for p in pts],
                    s=8, alpha=0.35, marker=marker, label=shape,
                )  # fmt: skip
        front = self.pareto()
        ax.plot(
            [p.tokens_per_second_per_user for p in front],
            [p.tokens_per_second_per_gpu for p in front],
            "k-", lw=1.2, label="frontier",
        )  # fmt: skip
        ax.set_xlabel("output tokens/s per user (1 / TPOT)")
        ax.set_ylabel("output tokens/s per GPU")
        ax.set_title(f"{self.model_name} on {self.cluster_name}")
        ax.legend(fontsize=8)
        return ax


def candidate_layouts(model: Any, gpus: int, domain_gpus: int) -> tuple[InferenceLayout, ...]:
    """Serving layouts worth trying on ``gpus`` GPUs with ``domain_gpus`` per NVLink domain.

    Tensor parallel ``tp`` in powers of two up to the domain, times pipeline
    stages ``pp`` in powers of two up to ``gpus``; for MoE models also the
    experts spread over the TP group (``ep = tp``) and attention data
    parallel plus expert parallel (``tp = 1, dp = ep``, ``ep`` up to the
    experts), each with the same pipeline depths.  Layouts the model's
    shapes do not allow are left out (memory is checked by the caller).
    """
    out: list[InferenceLayout] = []
    pps = [p for p in (1, 2, 4, 8, 16) if p <= min(gpus, model.layers)]
    t = 1
    while t <= min(gpus, domain_gpus):
        for pp in pps:
            if t * pp > gpus:
                break
            out.append(InferenceLayout(tp=t, pp=pp))
            if model.is_moe and t > 1:
                out.append(InferenceLayout(tp=t, pp=pp, ep=t))
        t *= 2
    if model.is_moe:
        e = 2
        while e <= min(gpus, model.experts):
            for pp in pps:
                if e * pp > gpus:
                    break
                out.append(InferenceLayout(tp=1, pp=pp, dp=e, ep=e))
            e *= 2
    return tuple(lay for lay in out if not lay.violations(model, gpus))


def _preset(preset: ServingPreset | str | None) -> ServingPreset | None:
    return None if preset is None else serving_preset(preset)


def _solver(
    model: Any, cluster: Cluster, lay: InferenceLayout, precision: Any, p: Any, *, spec: Any = None
) -> Any:
    return ServingSolver(
        model, cluster, lay, precision,
        efficiency=None if p is None else p.efficiency,
        memory=None if p is None else p.memory,
        limits=None if p is None else p.limits,
        speculation=spec,
    )  # fmt: skip


def serving_frontier(
    model: Any,
    cluster: Cluster,
    *,
    input_tokens: int,
    output_tokens: int,
    precision: Any = "fp8",
    layouts: Iterable[InferenceLayout] | None = None,
    disaggregated: bool = True,
    preset: ServingPreset | str | None = None,
    points: int = 32,
    speculation: Any = None,
) -> ServingFrontier:
    """Tokens/s/GPU against tokens/s/user over layouts, batches and deployment shapes.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or catalog name.
    cluster
        The system (its GPUs bound the layouts).
    input_tokens, output_tokens
        Lengths [tokens].
    precision
        Weight precision or weight format.
    layouts
        Layouts to try; default :func:`candidate_layouts`.
    disaggregated
        Also evaluate disaggregated pools: the prefill layout with the most
        requests per second per GPU feeding each decode layout.
    preset
        A :class:`~blackwell_model.solvers.serving_presets.ServingPreset`
        (or name) for the engine behaviour; the library defaults otherwise.
    points
        Batches per layout (geometric from 1 to the largest that fits).
    speculation
        :class:`~blackwell_model.solvers.speculation.Speculation` (or its
        text form, ``"mtp:k=3,alpha=0.7"``) every decode point uses; None:
        no speculative decoding.

    Returns
    -------
    ServingFrontier

    Examples
    --------
    >>> import blackwell_model as bm
    >>> f = serving_frontier("llama3-8b", bm.catalog.cluster("DGX-H100", gpus=8),
    ...                      input_tokens=1000, output_tokens=200, points=8)
    >>> f.best_under(tpot="20 ms").tpot_s <= 0.020
    True
    """
    from .disaggregated import kv_transfer_s
    from .inference import _parse_args

    if isinstance(model, str):
        from .. import catalog

        model = catalog.model(model)
    model, isl, osl = _parse_args(model, cluster, InferenceLayout(), input_tokens, output_tokens)
    p = _preset(preset)
    spec = as_speculation(speculation)
    lays = tuple(
        candidate_layouts(model, cluster.gpus, cluster.domain.gpus) if layouts is None else layouts
    )
    pts: list[FrontierPoint] = []
    decode_solvers: list[tuple[InferenceLayout, Any, int]] = []
    prefills: list[tuple[float, float, InferenceLayout, int]] = []
    for lay in lays:
        if lay.violations(model, cluster.gpus):
            continue
        s = _solver(model, cluster, lay, precision, p, spec=spec)
        top = s.operating_batch(isl, osl)
        if top < 1:
            continue
        b = np.unique(np.round(np.geomspace(1.0, float(top), points)))
        res = continuous_serving(s, b, isl, osl)
        for i, bi in enumerate(b):
            tpot = float(res.tpot_s[i])
            pts.append(
                FrontierPoint(
                    shape="aggregated",
                    label=_label(lay),
                    gpus=float(lay.gpus),
                    batch=int(bi),
                    ttft_s=float(res.ttft_s[i]),
                    tpot_s=tpot,
                    tokens_per_second_per_gpu=float(res.tokens_per_s[i]) * lay.dp / lay.gpus,
                    tokens_per_second_per_user=1.0 / tpot if tpot > 0 else 0.0,
                    layout=lay,
                )
            )
        decode_solvers.append((lay, s, top))
        # prefill capability of this layout as a prefill instance
        k = max(1, min(s.chunk_tokens // isl, s.max_batch(isl, 1) or 1))
        t_pass = float(s.prefill(np.array([float(k)]), isl).time_s[0])
        prefills.append((k * lay.dp / t_pass / lay.gpus, t_pass, lay, k))
    # prefill layouts worth pairing: no other is both faster to first token and
    # more requests per second per GPU
    prefills.sort(key=lambda x: (x[1], -x[0]))
    useful: list[tuple[float, float, InferenceLayout, int]] = []
    for item in prefills:
        if not useful or item[0] > useful[-1][0]:
            useful.append(item)
    for rate_gpu, t_pass, p_lay, _k in useful if (disaggregated and osl > 1) else ():
        r_p = rate_gpu * p_lay.gpus
        for lay, s, top in decode_solvers:
            both = p_lay.replica_gpus + lay.gpus <= cluster.domain.gpus
            link = (
                float(cluster.accelerator.scale_up_bandwidth.m)
                if both
                else float(cluster.domain.node.nic_bandwidth.m)
            )
            if link <= 0.0:
                continue
            t_kv = kv_transfer_s(
                float(model.kv_cache_bytes(isl, s.kv)), senders=p_lay.replica_gpus, link_Bps=link
            )
            b = np.unique(np.round(np.geomspace(1.0, float(top), points)))
            step = s.decode_step(b, np.full_like(b, isl + osl / 2.0))
            tpot = step.time_s + host_exposed_s(s, b, step.time_s)
            r_d = b * lay.dp / ((osl - 1) * tpot)
            gpus = r_d / r_p * p_lay.gpus + lay.gpus
            tps = osl * r_d / gpus
            for i, bi in enumerate(b):
                pts.append(
                    FrontierPoint(
                        shape="disaggregated",
                        label=f"prefill {_label(p_lay)} / decode {_label(lay)}",
                        gpus=float(gpus[i]),
                        batch=int(bi),
                        ttft_s=t_pass + t_kv,
                        tpot_s=float(tpot[i]),
                        tokens_per_second_per_gpu=float(tps[i]),
                        tokens_per_second_per_user=1.0 / float(tpot[i]),
                        layout=lay,
                        prefill_layout=p_lay,
                    )
                )
    if not pts:
        raise InfeasibleLayoutError(
            "memory", f"no layout of {model.name} fits {cluster.name} ({cluster.gpus} GPUs)"
        )
    return ServingFrontier(
        model_name=model.name,
        cluster_name=cluster.name,
        input_tokens=isl,
        output_tokens=osl,
        points=tuple(pts),
    )


@attrs.frozen(kw_only=True, repr=False)
class SizingResult(Display):
    """GPUs, racks, dollars and joules to serve a request rate on each system.

    Parameters
    ----------
    model_name
        The model.
    request_rate
        Requests per second to serve [1/s].
    targets
        ``{"ttft": s, "tpot": s}`` (None when not set).
    rows
        One dict per system: ``system``, ``gpus``, ``racks`` (scale-up
        domains), ``output_tokens_per_second``, ``tokens_per_second_per_gpu``,
        ``usd_per_million_tokens``, ``joules_per_token`` and, per length
        class, the chosen point (``choices``).
    """

    model_name: str
    request_rate: float
    targets: dict[str, float | None]
    rows: tuple[dict[str, Any], ...]

    def _records(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "choices"} for r in self.rows]

    def _text(self) -> str:
        t = self.targets
        lines = [
            f"{self.model_name}: {self.request_rate:g} requests/s at TTFT <= "
            f"{t.get('ttft')} s, TPOT <= {t.get('tpot')} s",
            f"  {'system':<16} {'GPUs':>6} {'racks':>6} {'tok/s/GPU':>10} {'$/Mtok':>8} "
            f"{'J/token':>8}  choice",
        ]
        for r in self.rows:
            choice = "; ".join(c["label"] for c in r["choices"])
            lines.append(
                f"  {r['system']:<16} {r['gpus']:>6} {r['racks']:>6} "
                f"{r['tokens_per_second_per_gpu']:>10,.0f} {r['usd_per_million_tokens']:>8.3f} "
                f"{r['joules_per_token']:>8.3f}  {choice}"
            )
        return "\n".join(lines)


def _lengths(lengths: Any, input_tokens: Any, output_tokens: Any) -> list[tuple[int, int, float]]:
    if lengths is None:
        if input_tokens is None or output_tokens is None:
            raise SpecError("give input_tokens and output_tokens, or lengths=[(in, out, share)]")
        return [(int(input_tokens), int(output_tokens), 1.0)]
    out = []
    for item in lengths:
        try:
            i, o, w = item
        except (TypeError, ValueError):
            raise SpecError(
                f"lengths must be (input_tokens, output_tokens, share) triples, got {item!r}"
            ) from None
        if int(i) < 1 or int(o) < 1 or not float(w) > 0:
            raise SpecError(f"lengths entries need tokens >= 1 and share > 0, got {item!r}")
        out.append((int(i), int(o), float(w)))
    total = sum(w for _, _, w in out)
    return [(i, o, w / total) for i, o, w in out]


def size_deployment(
    model: Any,
    clusters: Sequence[Cluster],
    *,
    request_rate: pint.Quantity | str | float,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    lengths: Sequence[tuple[int, int, float]] | None = None,
    ttft: pint.Quantity | str | None = None,
    tpot: pint.Quantity | str | None = None,
    precision: Any = "fp8",
    pricing: dict[str, Pricing] | Pricing | None = None,
    preset: ServingPreset | str | None = None,
    disaggregated: bool = True,
    points: int = 24,
    speculation: Any = None,
) -> SizingResult:
    """GPUs (and racks) for a request rate under TTFT/TPOT targets, with $/Mtok and J/token.

    For each system, each length class is served at its
    :meth:`ServingFrontier.best_under` point; the GPUs are the class's
    output-token rate over that point's tokens/s/GPU, rounded up to whole
    instances; racks are the GPUs over the scale-up domain size, rounded up.
    J/token is the facility energy of that point (shared rack switches
    charged per GPU); $/Mtok prices the GPUs for one second with ``pricing``
    (per system name, or one for all; default
    :data:`blackwell_model.study.report.DEFAULT_PRICING`), capital per GPU
    share of a rack.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or catalog name.
    clusters
        Systems to compare (each sized to at most its GPUs per instance).
    request_rate
        Requests per second (a number or ``"20 1/s"``).
    input_tokens, output_tokens
        One length class [tokens] ...
    lengths
        ... or a distribution: ``(input_tokens, output_tokens, share)``.
    ttft, tpot
        Latency targets [s].
    precision, preset, disaggregated, points, speculation
        As for :func:`serving_frontier`.
    pricing
        :class:`~blackwell_model.solvers.pricing.Pricing` (or a dict system
        name -> Pricing).

    Returns
    -------
    SizingResult
    """
    from .inference import predict_inference

    if isinstance(model, str):
        from .. import catalog

        model = catalog.model(model)
    rate = (
        check_float(request_rate, "request_rate")
        if isinstance(request_rate, int | float)
        else float(parse_quantity(request_rate, "1/s", name="request_rate").m)
    )
    if not rate > 0:
        raise SpecError(f"request_rate must be > 0 requests/s, got {request_rate!r}")
    classes = _lengths(lengths, input_tokens, output_tokens)
    if pricing is None:
        from ..study.report import DEFAULT_PRICING

        pricing = DEFAULT_PRICING
    rows = []
    for cluster in clusters:
        p_sys = pricing.get(cluster.name.split(" x ")[0]) if isinstance(pricing, dict) else pricing
        gpus_total = 0
        tokens_total = 0.0
        joules = 0.0
        choices = []
        for isl, osl, share in classes:
            front = serving_frontier(
                model, cluster, input_tokens=isl, output_tokens=osl, precision=precision,
                disaggregated=disaggregated, preset=preset, points=points,
                speculation=speculation,
            )  # fmt: skip
            pt = front.best_under(ttft=ttft, tpot=tpot)
            tok_rate = rate * share * osl
            inst_gpus = pt.gpus
            instances = math.ceil(tok_rate / (pt.tokens_per_second_per_gpu * inst_gpus) - 1e-9)
            g = math.ceil(instances * inst_gpus - 1e-9)
            gpus_total += g
            tokens_total += tok_rate
            if pt.shape == "aggregated":
                p = _preset(preset)
                rep = predict_inference(
                    model, cluster, pt.layout, batch=pt.batch, continuous=True,
                    input_tokens=isl, output_tokens=osl, precision=precision,
                    efficiency=None if p is None else p.efficiency,
                    memory=None if p is None else p.memory,
                    limits=None if p is None else p.limits, check_memory=False,
                    speculation=speculation,
                )  # fmt: skip
                jpt = float(rep.energy_per_token.m)
            else:
                from .disaggregated import DisaggregatedDeployment, predict_disaggregated

                p = _preset(preset)
                drep = predict_disaggregated(
                    model,
                    DisaggregatedDeployment(
                        prefill_cluster=cluster, decode_cluster=cluster,
                        prefill_layout=pt.prefill_layout, decode_layout=pt.layout,
                        prefill_precision=precision, decode_precision=precision,
                        decode_batch=pt.batch,
                    ),
                    input_tokens=isl, output_tokens=osl,
                    decode_efficiency=None if p is None else p.efficiency,
                    memory=None if p is None else p.memory,
                    decode_limits=None if p is None else p.limits,
                    speculation=speculation,
                )  # fmt: skip
                jpt = float(drep.energy_per_token.m)
            joules += jpt * tok_rate
            choices.append(
                {
                    "lengths": f"{isl}/{osl}",
                    "share": share,
                    "label": f"{pt.shape} {pt.label} batch {pt.batch}",
                    "tpot_s": pt.tpot_s,
                    "ttft_s": pt.ttft_s,
                    "gpus": g,
                }
            )
        usd = float("nan")
        if p_sys is not None:
            dom = cluster.domain.gpus
            cost = cost_breakdown_usd(
                p_sys, gpus=gpus_total, domains=gpus_total / dom, duration_s=1.0,
                energy_J=joules,
                max_it_power_W=gpus_total * float(cluster.accelerator.tdp.m),
            )  # fmt: skip
            usd = sum(cost.values()) / tokens_total * 1e6
        rows.append(
            {
                "system": cluster.name.split(" x ")[0],
                "gpus": gpus_total,
                "racks": math.ceil(gpus_total / cluster.domain.gpus),
                "output_tokens_per_second": tokens_total,
                "tokens_per_second_per_gpu": tokens_total / gpus_total,
                "usd_per_million_tokens": usd,
                "joules_per_token": joules / tokens_total,
                "choices": choices,
            }
        )
    return SizingResult(
        model_name=model.name,
        request_rate=rate,
        targets={
            "ttft": None if ttft is None else float(parse_quantity(ttft, "s", name="ttft").m),
            "tpot": None if tpot is None else float(parse_quantity(tpot, "s", name="tpot").m),
        },
        rows=tuple(rows),
    )
