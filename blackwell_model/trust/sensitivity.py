"""What should I buy more of?  Elasticities of a prediction to hardware figures and efficiencies.

The elasticity of a metric :math:`M` (step time; serving throughput or
latency) to a figure :math:`\\theta` is

.. math:: \\varepsilon = \\frac{\\partial \\ln M}{\\partial \\ln \\theta}
          \\approx \\frac{\\ln M(\\theta (1+h)) - \\ln M(\\theta / (1+h))}
                        {\\ln (1+h)^2}

by central finite differences on a re-prediction with the figure changed
(:func:`scale_hardware` for the hardware, :func:`attrs.evolve` of the
efficiency objects for the parameters).  ``-0.6`` for HBM bandwidth means 10 %
more bandwidth makes the step about 6 % shorter.  A fraction that would pass
1 is stepped one-sidedly; a parameter at 0 has elasticity 0.

Sum rule
--------
A step made only of work at hardware rates and hardware latencies is
homogeneous: multiplying every rate (peak FLOP/s at every precision, HBM,
scale-up, scale-out and host bandwidth) by :math:`k` and every latency by
:math:`1/k` divides it by :math:`k`.  By Euler's theorem the elasticities
then satisfy

.. math:: \\sum_{rates} \\varepsilon - \\sum_{latencies} \\varepsilon = -1

for a time (+1 for a throughput); fixed times of the efficiency model
(per-kernel and per-step overheads, collective base latencies) make the sum
smaller in magnitude by their share of the step.
:attr:`Sensitivity.homogeneity` is that sum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import pint

from .._display import Display
from ..errors import SpecError
from ..hardware.precision import Precision
from ..hardware.system import Cluster
from ..hardware.whatif import with_accelerator
from ..solvers.collectives import efficiency_for
from ..units import Q_, format_quantity

__all__ = [
    "HARDWARE_FIGURES",
    "Sensitivity",
    "scale_hardware",
    "sensitivity",
]

#: Hardware figures :func:`sensitivity` varies (peak FLOP/s is varied per
#: precision, as ``peak_flops[bf16]`` ...): name -> what it scales.
HARDWARE_FIGURES: Mapping[str, str] = {
    "peak_flops": "dense peak FLOP/s at one precision [FLOP/s]",
    "memory_bandwidth": "HBM bandwidth [B/s]",
    "scale_up_bandwidth": "scale-up link (NVLink...) bandwidth and switch ports [B/s]",
    "scale_up_latency": "scale-up link and switch latency [s]",
    "scale_out_bandwidth": "NIC, fabric cable and fabric switch port bandwidth [B/s]",
    "scale_out_latency": "NIC, fabric cable and fabric switch latency [s]",
    "host_bandwidth": "accelerator-to-host link (PCIe, NVLink-C2C) bandwidth [B/s]",
}

_LATENCIES = ("scale_up_latency", "scale_out_latency")

_TRAINING_PARAMETERS = (
    "roofline.gemm_max",
    "roofline.attention",
    "roofline.attention_backward",
    "roofline.vector",
    "roofline.hbm",
    "roofline.elementwise",
    "roofline.overhead_s",
    "low_precision_gemm_fraction",
    "tp_overlap",
    "cp_overlap",
    "ep_overlap",
    "dp_overlap",
    "pp_overlap",
    "host_launch_s",
    "step_overhead_s",
    "collectives.scale_up",
    "collectives.network",
    "collectives.all_to_all",
)
_SERVING_PARAMETERS = (
    "roofline.gemm_max",
    "roofline.attention",
    "roofline.vector",
    "roofline.hbm",
    "roofline.elementwise",
    "narrow_gemm",
    "step_overhead_s",
    "prefill_overhead_s",
    "tp_overlap",
    "ep_overlap",
    "collectives.scale_up",
    "collectives.network",
    "collectives.all_to_all",
)
_FRACTIONS = {
    "gemm_max", "attention", "attention_backward", "vector", "hbm", "elementwise",
    "low_precision_gemm_fraction", "tp_overlap", "cp_overlap", "ep_overlap", "dp_overlap",
    "pp_overlap", "scale_up", "network", "all_to_all", "narrow_gemm",
}  # fmt: skip


def _link(link: Any, bw: float, lat: float) -> Any:
    if link is None or (bw == 1.0 and lat == 1.0):
        return link
    return attrs.evolve(link, bandwidth=link.bandwidth * bw, latency=link.latency * lat)


def _switch(sw: Any, bw: float, lat: float) -> Any:
    if sw is None or (bw == 1.0 and lat == 1.0):
        return sw
    return attrs.evolve(sw, port_bandwidth=sw.port_bandwidth * bw, latency=sw.latency * lat)


def scale_hardware(
    cluster: Cluster,
    *,
    compute: float | Mapping[Any, float] = 1.0,
    memory_bandwidth: float = 1.0,
    scale_up_bandwidth: float = 1.0,
    scale_up_latency: float = 1.0,
    scale_out_bandwidth: float = 1.0,
    scale_out_latency: float = 1.0,
    host_bandwidth: float = 1.0,
) -> Cluster:
    """``cluster`` with its hardware figures multiplied by factors (a what-if on every part).

    The accelerator changes through :func:`~blackwell_model.hardware.with_accelerator`;
    links and switches through :func:`attrs.evolve` wherever they appear
    (the accelerator's own ports, the node, the scale-up domain, the
    superchip's C2C link and the fabric).  The cluster keeps its name, so the
    collective preset (chosen by link name) does not change.

    Parameters
    ----------
    cluster
        The :class:`~blackwell_model.hardware.Cluster`.
    compute
        Factor on the dense peak at every precision, or precision -> factor.
    memory_bandwidth
        Factor on the HBM bandwidth.
    scale_up_bandwidth, scale_up_latency
        Factors on the scale-up links and switch ports, and on their latency.
    scale_out_bandwidth, scale_out_latency
        Factors on the NICs, fabric cables and fabric switch ports, and on
        their latency.
    host_bandwidth
        Factor on the host link (PCIe, NVLink-C2C).

    Returns
    -------
    Cluster

    Raises
    ------
    SpecError
        A factor that is not a finite number > 0.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> c = bm.catalog.cluster("DGX-H100", gpus=16)
    >>> fast = scale_hardware(c, memory_bandwidth=2.0, compute={"bf16": 1.5})
    >>> print(fast.accelerator.memory_bandwidth.to("TB/s"), fast.accelerator.peak("bf16").to("TFLOP/s"))
    6.7 TB/s 1484.1 TFLOP/s
    """
    if not isinstance(cluster, Cluster):
        raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
    factors = {
        "memory_bandwidth": memory_bandwidth,
        "scale_up_bandwidth": scale_up_bandwidth,
        "scale_up_latency": scale_up_latency,
        "scale_out_bandwidth": scale_out_bandwidth,
        "scale_out_latency": scale_out_latency,
        "host_bandwidth": host_bandwidth,
    }
    per_precision = (
        {Precision.parse(k): float(v) for k, v in compute.items()}
        if isinstance(compute, Mapping)
        else {p: float(compute) for p in cluster.accelerator.peak_flops}
    )
    for name, value in [
        *factors.items(),
        *((f"compute[{p.value}]", v) for p, v in per_precision.items()),
    ]:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value > 0)
        ):
            raise SpecError(f"{name} must be a factor > 0, got {value!r}")
    acc = cluster.accelerator
    peaks = {p: q * per_precision.get(p, 1.0) for p, q in acc.peak_flops.items()}
    su_bw, su_lat = scale_up_bandwidth, scale_up_latency
    so_bw, so_lat = scale_out_bandwidth, scale_out_latency
    new_acc = attrs.evolve(
        acc,
        peak_flops=peaks,
        memory_bandwidth=acc.memory_bandwidth * memory_bandwidth,
        scale_up_link=_link(acc.scale_up_link, su_bw, su_lat),
        nic=_link(acc.nic, so_bw, so_lat),
        host_link=_link(acc.host_link, host_bandwidth, 1.0),
    )
    out = with_accelerator(cluster, new_acc, name=cluster.name)
    dom = out.domain
    node = dom.node
    if node.superchip is not None:
        sc = attrs.evolve(
            node.superchip, c2c_link=_link(node.superchip.c2c_link, host_bandwidth, su_lat)
        )
        node = attrs.evolve(node, superchip=sc, accelerator=new_acc)
    node = attrs.evolve(
        node,
        nic=_link(node.nic, so_bw, so_lat),
        host_link=_link(node.host_link, host_bandwidth, 1.0),
    )
    dom = attrs.evolve(
        dom,
        node=node,
        link=_link(dom.link, su_bw, su_lat),
        switch=_switch(dom.switch, su_bw, su_lat),
    )
    fabric = out.fabric
    if fabric is not None:
        fabric = attrs.evolve(
            fabric,
            switch=_switch(fabric.switch, so_bw, so_lat),
            link=_link(fabric.link, so_bw, so_lat),
        )
    return attrs.evolve(out, domain=dom, fabric=fabric)


@attrs.frozen(kw_only=True, repr=False)
class Sensitivity(Display):
    """Elasticities of one predicted metric.

    Parameters
    ----------
    metric
        What was differentiated (``"step_time"``, ``"output_tokens_per_second"``,
        ``"time_per_output_token"``, ``"time_to_first_token"``).
    value
        The metric at the prediction [s or 1/s].
    elasticities
        Figure or parameter -> :math:`\\partial \\ln M / \\partial \\ln \\theta`.
        Hardware figures are named as in :data:`HARDWARE_FIGURES`
        (``peak_flops[bf16]``); efficiency parameters by their field
        (``roofline.hbm``, ``tp_overlap``, ``collectives.network``).
    kinds
        Name -> ``"rate"``, ``"latency"`` (hardware) or ``"efficiency"``.
    step
        Relative step :math:`h` of the finite differences.
    """

    metric: str
    value: pint.Quantity
    elasticities: Mapping[str, float]
    kinds: Mapping[str, str]
    step: float

    @property
    def hardware(self) -> dict[str, float]:
        """Elasticities to the hardware figures."""
        return {k: v for k, v in self.elasticities.items() if self.kinds[k] != "efficiency"}

    @property
    def efficiency(self) -> dict[str, float]:
        """Elasticities to the efficiency parameters."""
        return {k: v for k, v in self.elasticities.items() if self.kinds[k] == "efficiency"}

    @property
    def homogeneity(self) -> float:
        """Sum over rates minus sum over latencies: -1 for a time made only of hardware work."""
        return sum(
            v if self.kinds[k] == "rate" else -v
            for k, v in self.elasticities.items()
            if self.kinds[k] != "efficiency"
        )

    def ranked(self, kind: str | None = None) -> list[tuple[str, float]]:
        """``(name, elasticity)`` by decreasing benefit: what shortens a time (or raises a
        throughput) most per per cent of the figure first; ``kind`` filters
        (``"rate"``, ``"latency"``, ``"efficiency"``)."""
        sign = 1.0 if self.metric.startswith("output_tokens") else -1.0
        items = [(k, v) for k, v in self.elasticities.items() if kind in (None, self.kinds[k])]
        return sorted(items, key=lambda kv: -sign * kv[1])

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "metric": self.metric,
            "value": float(self.value.m),
            "elasticities": dict(self.elasticities),
            "kinds": dict(self.kinds),
            "step": self.step,
            "homogeneity": self.homogeneity,
        }

    def summary(self) -> str:
        """A table: each figure's elasticity, largest benefit first."""
        lines = [
            f"elasticity of {self.metric} ({format_quantity(self.value)}) to +1 % of each figure "
            f"(sum over rates - latencies {self.homogeneity:+.3f})",
        ]
        for kind, title in (("rate", "hardware rates"), ("latency", "hardware latencies"),
                            ("efficiency", "efficiency parameters")):  # fmt: skip
            rows = [(k, v) for k, v in self.ranked(kind) if abs(v) >= 5e-4]
            if rows:
                lines.append(f"  {title}:")
                lines += [f"    {k:<36} {v:+.3f}" for k, v in rows]
        return "\n".join(lines)


def _get(obj: Any, name: str) -> float:
    for part in name.split("."):
        obj = getattr(obj, part)
    return float(obj)


def _evolve(obj: Any, name: str, value: float) -> Any:
    head, _, rest = name.partition(".")
    if rest:
        return attrs.evolve(obj, **{head: _evolve(getattr(obj, head), rest, value)})
    return attrs.evolve(obj, **{head: value})


def _predictor(report: Any, metric: str) -> tuple[Any, Any]:
    """(predict(cluster, efficiency) -> metric value, the report's efficiency with collectives set)."""
    inputs = getattr(report, "inputs", None)
    if inputs is None:
        raise SpecError(
            f"this {type(report).__name__} does not carry its inputs; use one returned by "
            "predict_training or predict_inference"
        )
    model, cluster = inputs["model"], inputs["cluster"]
    eff = inputs["efficiency"]
    if eff.collectives is None:
        eff = attrs.evolve(eff, collectives=efficiency_for(cluster))
    if inputs["phase"] == "training":
        from ..predict.training import predict_training

        def train(c: Cluster, e: Any) -> float:
            rep = predict_training(
                model, c, report.layout, efficiency=e, memory=inputs["memory"],
                power=inputs["power"], check_memory=False,
            )  # fmt: skip
            return float(getattr(rep, metric).m)

        return train, eff
    from ..predict.inference import predict_inference

    def serve(c: Cluster, e: Any) -> float:
        rep = predict_inference(
            model, c, report.layout, batch=report.batch, input_tokens=report.input_tokens,
            output_tokens=report.output_tokens, precision=report.precision,
            kv_precision=report.kv_precision, efficiency=e, memory=inputs["memory"],
            power=inputs["power"], check_memory=False, continuous=not report.static,
        )  # fmt: skip
        return float(getattr(rep, metric).m)

    return serve, eff


_METRICS = {
    "training": ("step_time", "tokens_per_second"),
    "serving": (
        "output_tokens_per_second",
        "time_per_output_token",
        "time_to_first_token",
    ),
}


def sensitivity(
    report: Any,
    *,
    metric: str | None = None,
    step: float = 0.05,
    efficiency: bool = True,
) -> Sensitivity:
    """Elasticity of a report's metric to each hardware figure and efficiency parameter.

    ``report.sensitivity()`` calls this.  Each figure costs two
    re-predictions.

    Parameters
    ----------
    report
        A :class:`~blackwell_model.TrainingReport` or
        :class:`~blackwell_model.InferenceReport` from the predictors.
    metric
        Training: ``"step_time"`` (default) or ``"tokens_per_second"``;
        serving: ``"output_tokens_per_second"`` (default),
        ``"time_per_output_token"`` or ``"time_to_first_token"``.
    step
        Relative step :math:`h` of the central differences, in (0, 0.5].
    efficiency
        Also vary the main efficiency parameters.

    Returns
    -------
    Sensitivity

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rep = bm.predict_training("llama3-8b", bm.catalog.cluster("DGX-H100", gpus=8),
    ...                           bm.Layout(tp=1, dp=8, global_batch=64, seq_len=4096))
    >>> s = rep.sensitivity()
    >>> s.ranked("rate")[0][0]
    'peak_flops[bf16]'
    """
    if not (isinstance(step, int | float) and 0.0 < step <= 0.5):
        raise SpecError(f"step must be in (0, 0.5], got {step!r}")
    phase = report.inputs["phase"] if getattr(report, "inputs", None) else "training"
    allowed = _METRICS[phase]
    metric = metric or allowed[0]
    if metric not in allowed:
        raise SpecError(f"metric must be one of {', '.join(allowed)} for {phase}, got {metric!r}")
    predict, eff = _predictor(report, metric)
    cluster: Cluster = report.inputs["cluster"]
    base = predict(cluster, eff)
    up, down = 1.0 + step, 1.0 / (1.0 + step)
    out: dict[str, float] = {}
    kinds: dict[str, str] = {}

    def hw(name: str, kind: str, **factors: Any) -> None:
        def at(f: float) -> float:
            scaled = {
                k: ({p: f for p in v} if isinstance(v, tuple) else f) for k, v in factors.items()
            }
            return predict(scale_hardware(cluster, **scaled), eff)  # type: ignore[arg-type]

        out[name] = math.log(at(up) / at(down)) / math.log(up / down)
        kinds[name] = kind

    for p in cluster.accelerator.peak_flops:
        hw(f"peak_flops[{p.value}]", "rate", compute=(p,))
    hw("memory_bandwidth", "rate", memory_bandwidth=1)
    hw("scale_up_bandwidth", "rate", scale_up_bandwidth=1)
    hw("scale_up_latency", "latency", scale_up_latency=1)
    if cluster.fabric is not None:
        hw("scale_out_bandwidth", "rate", scale_out_bandwidth=1)
        hw("scale_out_latency", "latency", scale_out_latency=1)
    hw("host_bandwidth", "rate", host_bandwidth=1)
    if efficiency:
        for name in _TRAINING_PARAMETERS if phase == "training" else _SERVING_PARAMETERS:
            value = _get(eff, name)
            kinds[name] = "efficiency"
            if value <= 0.0:
                out[name] = 0.0
                continue
            hi = value * up
            if name.rpartition(".")[2] in _FRACTIONS:
                hi = min(hi, 1.0)
            lo = value * down
            if hi <= lo:  # pragma: no cover - only for value at the lower bound
                out[name] = 0.0
                continue
            m_hi = predict(cluster, _evolve(eff, name, hi))
            m_lo = predict(cluster, _evolve(eff, name, lo))
            out[name] = math.log(m_hi / m_lo) / math.log(hi / lo)
    unit = "s" if "time" in metric else "1/s"
    return Sensitivity(
        metric=metric, value=Q_(base, unit), elasticities=out, kinds=kinds, step=step
    )
