"""The main what-if report: the same models trained and served on different systems.

This is what ``blackwell-model`` prints with no arguments: Llama 3 70B and 405B
trained and served on DGX-H100 and GB200-NVL72 clusters, with the best layout
the search finds on each, and the time, MFU, energy and cost that follow.
Every input is an argument; the defaults are documented below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .. import catalog
from .._display import Display
from ..errors import BlackwellModelError, SpecError
from ..parallel.inference import InferenceLayout
from ..predict.inference import predict_inference
from ..predict.run import predict_training_run
from ..solvers.energy import Pricing
from ..units import Q_
from .search import search_layouts

__all__ = [
    "DEFAULT_PRICING",
    "DEFAULT_SCENARIOS",
    "Scenario",
    "WhatIfReport",
    "WhatIfRow",
    "report_assumptions",
    "what_if_report",
]

_COMMON_PRICES: dict[str, Any] = {
    "amortization": Q_(4.0, "yr"),
    "electricity_price": Q_(0.08, "USD/kWh"),  # assumption: US industrial average, 2024
    "facility_price": Q_(1500.0, "USD/(kW*yr)"),  # assumption: colocation, ~$125/kW/month
}

#: Prices per system used by the report.  These are ASSUMPTIONS, not catalog
#: data: capital per scale-up domain amortised over 4 years from press reports of
#: list and street prices (DGX H100 ~$300-400k, DGX H200 ~$400-450k, DGX B200
#: ~$500k, GB200 NVL72 rack ~$3M, GB300 NVL72 rack ~$3.7-4M), $8,000 of scale-out
#: network per GPU, $0.08/kWh electricity and $1,500 per kW and year of facility
#: capacity.  Pass your own with ``pricing=``.
DEFAULT_PRICING: dict[str, Pricing] = {
    name: Pricing(
        system_price=Q_(price, "USD"), network_price_per_gpu=Q_(8000.0, "USD"), **_COMMON_PRICES
    )
    for name, price in (
        ("DGX-H100", 350e3),
        ("DGX-H200", 425e3),
        ("DGX-B200", 500e3),
        ("GB200-NVL72", 3.0e6),
        ("GB300-NVL72", 3.8e6),
    )
}


@attrs.frozen(kw_only=True)
class Scenario:
    """One model's training and serving workload.

    Parameters
    ----------
    model
        Catalog model name.
    train_gpus
        GPUs of the training job.
    global_batch, seq_len
        Sequences per step and tokens per sequence.
    tokens
        Tokens of the whole training run.
    serve_gpus
        GPUs of one serving deployment (tensor-parallel replicas fill them).
    input_tokens, output_tokens
        Request lengths for serving [tokens].
    train_precision, serve_precision
        Precisions of training and serving.
    """

    model: str
    train_gpus: int
    global_batch: int
    seq_len: int = 8192
    tokens: float = 15e12
    serve_gpus: int = 8
    input_tokens: int = 1000
    output_tokens: int = 1000
    train_precision: str = "bf16"
    serve_precision: str = "fp8"


#: Llama 3 70B on 1,024 GPUs and 405B on 16,384 GPUs with 8K-token sequences and
#: 8M/16M-token batches, 15T training tokens (Llama 3 paper, §3); serving in
#: FP8 with 1,000-token prompts and answers on 8 GPUs.
DEFAULT_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(model="llama3-70b", train_gpus=1024, global_batch=1024),
    Scenario(model="llama3-405b", train_gpus=16384, global_batch=2048, tokens=15.6e12),
)


@attrs.frozen(kw_only=True)
class WhatIfRow:
    """Figures of one model on one system, floats in the SI units their names end with.

    ``train_cost_usd`` and ``serve_cost_per_million_tokens_usd`` are None for a
    system without a price.
    """

    model: str
    system: str
    train_gpus: int
    train_layout: str
    step_time_s: float
    mfu: float
    train_time_s: float
    train_energy_J: float
    train_cost_usd: float | None
    serve_layout: str
    serve_output_tokens_per_second_per_gpu: float
    time_to_first_token_s: float
    time_per_output_token_s: float
    serve_energy_per_token_J: float
    serve_cost_per_million_tokens_usd: float | None
    note: str = ""


@attrs.frozen(kw_only=True, repr=False)
class WhatIfReport(Display):
    """Rows of :func:`what_if_report`, with a text rendering.

    Parameters
    ----------
    rows
        One :class:`WhatIfRow` per model and system.
    assumptions
        The inputs every figure rests on (tokens to train, batch, goodput,
        serving precision and lengths, what MFU is measured against, prices),
        one sentence each; printed under the tables.
    """

    rows: tuple[WhatIfRow, ...]
    assumptions: tuple[str, ...] = ()

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per row (the fields of :class:`WhatIfRow`)."""
        return [attrs.asdict(r) for r in self.rows]

    def format(self) -> str:
        """The report as aligned text tables, with the assumptions under them."""
        train_head = (
            f"{'model':<12} {'system':<12} {'GPUs':>6}  {'best layout':<30} {'step':>8} "
            f"{'MFU':>6} {'days':>7} {'MWh':>8} {'M$':>7}"
        )
        serve_head = (
            f"{'model':<12} {'system':<12} {'deployment':<18} {'tok/s/GPU':>10} "
            f"{'TTFT':>8} {'TPOT':>8} {'J/tok':>7} {'$/Mtok':>7}"
        )
        out = ["Training (best layout found by search_layouts; whole run)", train_head]
        out.append("-" * len(train_head))
        for r in self.rows:
            musd = None if r.train_cost_usd is None else r.train_cost_usd / 1e6
            out.append(
                f"{r.model:<12} {r.system:<12} {r.train_gpus:>6}  {r.train_layout:<30} "
                f"{r.step_time_s:>7.2f}s {r.mfu:>6.1%} {r.train_time_s / 86400.0:>7.1f} "
                f"{r.train_energy_J / 3.6e9:>8,.0f} {_num(musd, '>7.1f')}"
            )
        out += ["", "Serving (continuous batching, throughput-optimal batch)", serve_head]
        out.append("-" * len(serve_head))
        for r in self.rows:
            out.append(
                f"{r.model:<12} {r.system:<12} {r.serve_layout:<18} "
                f"{r.serve_output_tokens_per_second_per_gpu:>10,.0f} "
                f"{r.time_to_first_token_s * 1e3:>6.0f}ms "
                f"{r.time_per_output_token_s * 1e3:>6.1f}ms {r.serve_energy_per_token_J:>7.3f} "
                f"{_num(r.serve_cost_per_million_tokens_usd, '>7.3f')}"
            )
        notes = [f"  {r.model} on {r.system}: {r.note}" for r in self.rows if r.note]
        if notes:
            out += ["", "Notes:", *notes]
        if self.assumptions:
            out += ["", "Assumptions:", *(f"  {a}" for a in self.assumptions)]
        return "\n".join(out)


def _num(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec`` (e.g. ``'>7.1f'``), or a dash when unpriced (None)."""
    if value is None or math.isnan(value):
        width = int(spec.lstrip("<>^").split(".")[0])
        return "-".rjust(width)
    return format(value, spec)


def report_assumptions(
    scenarios: Sequence[Scenario], systems: Sequence[str], prices: Mapping[str, Pricing]
) -> tuple[str, ...]:
    """The sentences :class:`WhatIfReport` prints under its tables."""
    out = []
    for sc in scenarios:
        tokens_per_step = sc.global_batch * sc.seq_len
        out.append(
            f"{sc.model}: trained on {sc.tokens / 1e12:g}T tokens, global batch "
            f"{sc.global_batch:,} x {sc.seq_len:,} tokens ({tokens_per_step / 1e6:.1f}M per "
            f"step) in {sc.train_precision} on {sc.train_gpus:,} GPUs, days stretched by the "
            "modelled goodput (failures, checkpoints, restarts) and straggler slowdown of each "
            f"system (Notes); served in {sc.serve_precision} on "
            f"{sc.serve_gpus} GPUs with {sc.input_tokens:,}-token prompts and "
            f"{sc.output_tokens:,}-token answers."
        )
    precisions = sorted({sc.train_precision for sc in scenarios})
    out.append(
        "MFU is model FLOPs over the dense peak of the training precision "
        f"({', '.join(precisions)}): an FP8 run is measured against the FP8 peak, twice BF16's."
    )
    unpriced = [s for s in systems if s not in prices]
    price_text = (
        "Prices are assumptions (blackwell_model.study.report.DEFAULT_PRICING): capital "
        "amortised over 4 years, $8,000 of network per GPU, $0.08/kWh, $1,500 per kW-year of "
        "facility"
    )
    if unpriced:
        price_text += f"; no price for {', '.join(unpriced)} (cost shown as -)"
    out.append(price_text + ".")
    out.append(
        "Energy is at the facility: PUE by cooling (air 1.3, liquid 1.15); serving at the "
        "throughput-optimal continuous batch."
    )
    return tuple(out)


def _layout_text(lay: Any) -> str:
    return f"tp{lay.tp} pp{lay.pp} cp{lay.cp} dp{lay.dp} vpp{lay.vpp} mb{lay.micro_batch}"


def _best_serving(model: Any, system: str, sc: Scenario) -> tuple[Any, str]:
    """Highest output tokens/s per GPU over tensor-parallel splits of the serving GPUs."""
    cluster = catalog.cluster(system, gpus=sc.serve_gpus)
    best = None
    why = ""
    for tp in (1, 2, 4, 8):
        if sc.serve_gpus % tp or model.heads % tp:
            continue
        lay = InferenceLayout(tp=tp, dp=sc.serve_gpus // tp)
        try:
            rep = predict_inference(
                model,
                cluster,
                lay,
                input_tokens=sc.input_tokens,
                output_tokens=sc.output_tokens,
                precision=sc.serve_precision,
            )
        except BlackwellModelError as exc:
            why = f"with tp={tp}: {exc}"
            continue
        if (
            best is None
            or rep.output_tokens_per_second_per_gpu > best.output_tokens_per_second_per_gpu
        ):
            best = rep
    if best is None:
        raise SpecError(
            f"{model.name} cannot be served in {sc.serve_precision} on {sc.serve_gpus} GPUs "
            f"of {system} ({why})"
        )
    return best, f"tp{best.layout.tp} x {best.layout.dp} batch {best.batch}"


def what_if_report(
    scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS,
    systems: Sequence[str] = ("DGX-H100", "GB200-NVL72"),
    *,
    pricing: dict[str, Pricing] | None = None,
) -> WhatIfReport:
    """Train and serve each scenario's model on each system; the main report.

    For training, :func:`~blackwell_model.study.search_layouts` finds the
    fastest layout that fits on ``train_gpus`` GPUs, and
    :func:`~blackwell_model.predict_training_run` turns it into days, energy
    and dollars for the run's tokens.  For serving, the tensor-parallel split
    of ``serve_gpus`` GPUs with the most output tokens per second per GPU at
    the throughput-optimal batch is reported with its latencies, energy and
    cost per token.

    Parameters
    ----------
    scenarios
        Workloads (:data:`DEFAULT_SCENARIOS`).
    systems
        Catalog systems to compare.
    pricing
        System name -> :class:`~blackwell_model.solvers.energy.Pricing`;
        defaults to :data:`DEFAULT_PRICING` (a system without a price gets
        no cost column, NaN).
    """
    prices = DEFAULT_PRICING if pricing is None else pricing
    rows = []
    for sc in scenarios:
        model = catalog.model(sc.model)
        for system in systems:
            cluster = catalog.cluster(system, gpus=sc.train_gpus)
            res = search_layouts(
                model,
                cluster,
                global_batch=sc.global_batch,
                seq_len=sc.seq_len,
                precision=sc.train_precision,
                gpus=sc.train_gpus,
            )
            if res.best is None:
                raise SpecError(
                    f"no layout of {sc.model} fits on {sc.train_gpus} GPUs of {system}; "
                    f"rejections: {res.rejected}"
                )
            run = predict_training_run(
                model,
                cluster,
                res.best.layout,
                tokens=sc.tokens,
                pricing=prices.get(system),
                report=res.best,
            )
            serve, serve_text = _best_serving(model, system, sc)
            cost = serve.energy.cost(prices[system]) if system in prices else None
            note = (
                f"goodput {run.goodput:.1%} ({run.goodput_source}), straggler slowdown "
                f"x{run.straggler_slowdown:.3f}"
            )
            if cluster.rounding_note:
                note += f"; {cluster.rounding_note}"
            rows.append(
                WhatIfRow(
                    model=sc.model,
                    system=system,
                    train_gpus=sc.train_gpus,
                    train_layout=_layout_text(res.best.layout),
                    step_time_s=res.best.step_time.m,
                    mfu=res.best.mfu,
                    train_time_s=float(run.wall_time.m),
                    train_energy_J=float(run.facility_energy.m),
                    train_cost_usd=None if run.dollars is None else float(run.dollars),
                    serve_layout=serve_text,
                    serve_output_tokens_per_second_per_gpu=serve.output_tokens_per_second_per_gpu.m,
                    time_to_first_token_s=serve.time_to_first_token.m,
                    time_per_output_token_s=serve.time_per_output_token.m,
                    serve_energy_per_token_J=serve.energy_per_token.m,
                    serve_cost_per_million_tokens_usd=(
                        None if cost is None else float(cost.per_million_tokens.m)
                    ),
                    note=note,
                )
            )
    return WhatIfReport(
        rows=tuple(rows), assumptions=report_assumptions(scenarios, systems, prices)
    )
