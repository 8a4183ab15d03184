"""Failures, checkpoints, restarts and stragglers: the goodput of a synchronous training job.

A synchronous job stops whenever any part it depends on fails.  Its
interruption rate is the sum of the failure rates of those parts
(:class:`FailureRates`, each figure from a published field study), counted
over what the job *exposes* (:func:`job_exposure`): its accelerators, HBM,
NICs and hosts, the scale-up switches and coolant loops of its domains, and
the fabric links and switches it routes through.  The *blast radius* of a
failure is what it takes out of service: a node on an 8-GPU server, the
whole NVLink domain on a rack-scale system such as GB200 NVL72 -- and a job
sharing such a rack is interrupted by its neighbours' failures too.

Each interruption costs a restart :math:`R` (:class:`RestartModel`: detect,
reschedule, re-initialise, reload the checkpoint) plus the work since the
last checkpoint.  Checkpointing every :math:`\\tau` seconds of work costs
:math:`\\delta` (:class:`CheckpointModel`: model state over the storage
bandwidth).  With exponential failures of mean time :math:`M`, Daly's
(2006) expected wall time for :math:`T_s` seconds of work is

.. math::

   T_w = M\\, e^{R/M} \\left(e^{(\\tau + \\delta)/M} - 1\\right) \\frac{T_s}{\\tau},
   \\qquad g = T_s / T_w

and its optimum interval is

.. math::

   \\tau_{opt} = \\sqrt{2 \\delta M}\\left[1 + \\tfrac{1}{3}\\sqrt{\\tfrac{\\delta}{2M}}
     + \\tfrac{1}{9}\\tfrac{\\delta}{2M}\\right] - \\delta \\quad (\\delta < 2M),

which reduces to Young's (1974) :math:`\\sqrt{2 \\delta M}` for small
:math:`\\delta / M`.

Stragglers: every synchronous step waits for its slowest rank.  With per-rank
step times :math:`t(1 + \\sigma Z_i)`, :math:`Z_i` independent standard
normal (:class:`StragglerModel`), the step takes
:math:`t(1 + \\sigma\\, E[\\max_{i \\le N} Z_i])` (:func:`expected_max_normal`).

References
----------
Young, J. W. (1974). A first order approximation to the optimum checkpoint
interval. Commun. ACM 17(9), 530-531.

Daly, J. T. (2006). A higher order estimate of the optimum checkpoint interval
for restart dumps. Future Generation Computer Systems 22(3), 303-312.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import pint

from .._spec import bool_field
from ..errors import SpecError
from ..hardware.system import Cluster, Cooling
from ..units import Q_, finite_non_negative, parse_quantity
from ._energy_fields import _frozen_map, _number, _q_attr, _q_non_negative, _q_positive
from .facility import fabric_switch_count

__all__ = [
    "MAX_PARAMETERS",
    "RADII",
    "SCOPES",
    "CheckpointModel",
    "Exposure",
    "FailureRate",
    "FailureRates",
    "GoodputReport",
    "ReliabilityModel",
    "RestartModel",
    "StragglerModel",
    "checkpoint_time_s",
    "daly_goodput",
    "daly_interval_s",
    "expected_max_normal",
    "job_exposure",
    "job_goodput",
    "young_interval_s",
]

_S_PER_DAY = 86400.0

#: Largest model size :func:`job_goodput` accepts [parameters]: 10^15, a thousand
#: times the largest model in the catalog; beyond it checkpoint times overflow.
MAX_PARAMETERS = 1e15
_GIB = float(2**30)

#: What a failure takes out of service until repaired (see the data file's header).
RADII = ("node", "domain", "job")

#: What a failure rate is counted per; :class:`Exposure` counts each for a job.
SCOPES = (
    "accelerator",
    "GiB",
    "nic",
    "node",
    "scale_up_switch",
    "liquid_domain",
    "domain",
    "fabric_link",
    "fabric_switch",
    "job",
)


# ------------------------------------------------------------------ failure rates
@attrs.frozen(kw_only=True)
class FailureRate:
    """Failures of one kind of part: ``events`` per ``per`` of operation of one unit.

    Parameters
    ----------
    part
        Name, e.g. ``"hbm"``.
    scope
        What one unit is, one of :data:`SCOPES` (``"accelerator"``, ``"GiB"``
        of HBM, ``"nic"``, ``"node"`` ...).
    events
        Failures counted by the source (>= 0).
    per
        Unit-time those failures were counted over [s], e.g. ``"1 yr"``.
    radius
        What a failure takes out of service, one of :data:`RADII`.
    source
        Where the figure comes from.
    unit
        Readable description of one unit.

    Examples
    --------
    >>> r = FailureRate(part="psu", scope="node", events=1, per="100000 h", radius="node",
    ...                 source="vendor MTBF")
    >>> r.rate_per_s * 3600
    1e-05
    """

    part: str
    scope: str = attrs.field()
    events: float = attrs.field(validator=finite_non_negative)
    per: pint.Quantity = _q_attr("s", None, _q_positive)
    radius: str = attrs.field(default="node")
    source: str = ""
    unit: str = ""

    @scope.validator
    def _check_scope(self, attribute: attrs.Attribute, value: str) -> None:  # type: ignore[type-arg]
        if value not in SCOPES:
            raise SpecError(f"scope must be one of {', '.join(SCOPES)}, got {value!r}")

    @radius.validator
    def _check_radius(self, attribute: attrs.Attribute, value: str) -> None:  # type: ignore[type-arg]
        if value not in RADII:
            raise SpecError(f"radius must be one of {', '.join(RADII)}, got {value!r}")

    def __attrs_post_init__(self) -> None:
        if self.per is None:
            raise SpecError(f"failure rate {self.part!r} needs per (a duration such as '1 yr')")

    @property
    def rate_per_s(self) -> float:
        """Failures per unit per second [1/s]."""
        return float(self.events) / float(self.per.m)

    @property
    def per_year(self) -> float:
        """Failures per unit per year (an annualised failure rate as a count)."""
        return self.rate_per_s * 365.25 * _S_PER_DAY


def _rates_map(value: Mapping[str, FailureRate]) -> Mapping[str, FailureRate]:
    for k, v in value.items():
        if not isinstance(v, FailureRate):
            raise SpecError(f"rates[{k!r}] must be a FailureRate, got {type(v).__name__}")
    return _frozen_map(dict(value))


@attrs.frozen(kw_only=True)
class FailureRates:
    """A table of :class:`FailureRate`, by part name.

    :meth:`default` loads the shipped table (every figure with its source;
    the Fleet docs page lists them).  Add or replace parts with
    :meth:`with_rate`; load a TOML file of your own with :meth:`from_toml`.

    Parameters
    ----------
    rates
        Part name -> :class:`FailureRate`.

    Examples
    --------
    >>> rates = FailureRates.default()
    >>> sorted(rates.rates)[:3]
    ['cooling', 'fabric_link', 'fabric_switch']
    >>> round(rates.rates["hbm"].per_year * 80, 4)   # uncorrectable errors per year, 80 GiB
    0.0823
    """

    rates: Mapping[str, FailureRate] = attrs.field(converter=_rates_map)

    @classmethod
    def default(cls) -> FailureRates:
        """The shipped table (``blackwell_model/solvers/data/failure_rates.toml``)."""
        return _default_rates()

    @classmethod
    def from_toml(cls, path: str | Path) -> FailureRates:
        """Read a table from a TOML file with one ``[part.NAME]`` table per part.

        Each part gives ``scope``, ``events``, ``per``, ``radius`` and
        ``source`` (``unit`` optional), as in the shipped file.
        """
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SpecError(f"{p}: cannot read failure rates: {exc}") from None
        return cls.from_dict(doc, origin=str(p))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, origin: str = "<dict>") -> FailureRates:
        """Build from ``{"part": {name: {scope, events, per, radius, source}}}``."""
        parts = doc.get("part")
        if not isinstance(parts, Mapping) or not parts:
            raise SpecError(f"{origin}: expected [part.NAME] tables, got keys {sorted(doc)}")
        out = {}
        for name, raw in parts.items():
            if not isinstance(raw, Mapping):
                raise SpecError(f"{origin}: [part.{name}] must be a table")
            missing = [k for k in ("scope", "events", "per", "source") if k not in raw]
            if missing:
                raise SpecError(f"{origin}: [part.{name}] lacks {', '.join(missing)}")
            extra = sorted(set(raw) - {"scope", "events", "per", "radius", "source", "unit"})
            if extra:
                raise SpecError(f"{origin}: [part.{name}] has unknown keys {extra}")
            out[name] = FailureRate(part=name, **raw)
        return cls(rates=out)

    def with_rate(self, part: str, **fields: Any) -> FailureRates:
        """A copy with ``part`` added or replaced (the fields of :class:`FailureRate`).

        Fields not given keep the current part's values (when it exists).
        """
        if part in self.rates:
            rate = attrs.evolve(self.rates[part], **fields)
        else:
            rate = FailureRate(part=part, **fields)
        return FailureRates(rates={**self.rates, part: rate})

    def without(self, *parts: str) -> FailureRates:
        """A copy without ``parts`` (unknown names raise)."""
        unknown = [p for p in parts if p not in self.rates]
        if unknown:
            raise SpecError(f"no failure rate for {unknown}; known: {sorted(self.rates)}")
        return FailureRates(rates={k: v for k, v in self.rates.items() if k not in parts})


@functools.lru_cache(maxsize=1)
def _default_rates() -> FailureRates:
    text = (resources.files(__package__) / "data" / "failure_rates.toml").read_text("utf-8")
    return FailureRates.from_dict(tomllib.loads(text), origin="failure_rates.toml")


# ------------------------------------------------------------------- exposure
@attrs.frozen(kw_only=True)
class Exposure:
    """What a job depends on: the count of every failure scope, and the blast radii.

    Built by :func:`job_exposure`.

    Parameters
    ----------
    gpus
        Accelerators the job runs on.
    counts
        Scope (:data:`SCOPES`) -> units whose failure interrupts the job.
    radius_gpus
        Radius (:data:`RADII`) -> accelerators a failure takes out of service.
    domains
        Scale-up domains the job occupies.
    """

    gpus: int
    counts: Mapping[str, float] = attrs.field(converter=_frozen_map)
    radius_gpus: Mapping[str, int] = attrs.field(converter=_frozen_map)
    domains: int = 1


def job_exposure(cluster: Cluster, gpus: int, *, rack_blast_radius: bool = True) -> Exposure:
    """Count the parts whose failure stops a job on ``gpus`` accelerators of ``cluster``.

    The job holds whole nodes (``ceil(gpus / node)``) inside
    ``ceil(gpus / domain)`` scale-up domains.  On a domain of several nodes
    (an NVL72 rack) with ``rack_blast_radius``, a failure of any node of an
    occupied domain takes the domain down, so the job is exposed to every
    node of its domains, its neighbours' included.  The fabric is counted
    only when the job spans domains: the switches of a fat-tree connecting
    its NICs (:func:`~blackwell_model.solvers.energy.fabric_switch_count`)
    and ``(tiers - 1) * nics / oversubscription`` switch-to-switch links.

    Parameters
    ----------
    cluster
        The :class:`~blackwell_model.hardware.Cluster`.
    gpus
        Accelerators of the job, in [1, cluster.gpus].
    rack_blast_radius
        Escalate node failures to the whole domain on multi-node domains.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rack = bm.catalog.cluster("GB200-NVL72", gpus=72)
    >>> job_exposure(rack, 32).counts["accelerator"]    # the rack's 72, not the job's 32
    72
    >>> job_exposure(rack, 32, rack_blast_radius=False).counts["accelerator"]
    32
    """
    if not isinstance(cluster, Cluster):
        raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
    if isinstance(gpus, bool) or not isinstance(gpus, int) or not 1 <= gpus <= cluster.gpus:
        raise SpecError(f"gpus must be an integer in [1, {cluster.gpus}], got {gpus!r}")
    dom = cluster.domain
    node = dom.node
    per_node = node.accelerators
    domains = math.ceil(gpus / dom.gpus)
    nodes = math.ceil(gpus / per_node)
    escalate = rack_blast_radius and dom.nodes > 1
    exposed_nodes = domains * dom.nodes if escalate else nodes
    exposed_gpus = exposed_nodes * per_node
    nics_per = node.nics_per_accelerator if (node.nic is not None and cluster.fabric) else 0
    fabric_links = 0
    fabric_switches = 0
    if domains > 1 and cluster.fabric is not None:
        job_nics = nodes * per_node * nics_per
        fabric_switches = fabric_switch_count(cluster.fabric, job_nics)
        fabric_links = (cluster.fabric.tiers - 1) * math.ceil(
            job_nics / cluster.fabric.oversubscription
        )
    su = dom.switches * domains if (dom.switch is not None and dom.gpus > 1) else 0
    counts = {
        "accelerator": exposed_gpus,
        "GiB": exposed_gpus * float(cluster.accelerator.memory_capacity.m) / _GIB,
        "nic": exposed_gpus * nics_per,
        "node": exposed_nodes,
        "scale_up_switch": su,
        "liquid_domain": domains if dom.cooling is Cooling.LIQUID else 0,
        "domain": domains,
        "fabric_link": fabric_links,
        "fabric_switch": fabric_switches,
        "job": 1,
    }
    radius = {"node": dom.gpus if escalate else per_node, "domain": dom.gpus, "job": 0}
    return Exposure(gpus=gpus, counts=counts, radius_gpus=radius, domains=domains)


# ------------------------------------------------------------ checkpoint, restart
def checkpoint_time_s(state_B: float, bandwidth_Bps: float) -> float:  # noqa: N803
    """Seconds to move ``state_B`` bytes at ``bandwidth_Bps``: :math:`\\delta = S / B`.

    Examples
    --------
    >>> checkpoint_time_s(5.67e12, 2e12)
    2.835
    """
    if not (_number(state_B) and state_B >= 0.0 and _number(bandwidth_Bps) and bandwidth_Bps > 0):
        raise SpecError(
            f"state_B must be >= 0 and bandwidth_Bps > 0, got {state_B!r} B, {bandwidth_Bps!r} B/s"
        )
    return float(state_B) / float(bandwidth_Bps)


@attrs.frozen(kw_only=True)
class CheckpointModel:
    """What a checkpoint holds and how fast it is written and read back.

    Every rank writes its shard (distributed checkpointing spreads replicated
    state over the data-parallel ranks), so the aggregate bandwidth is
    ``gpus * per-GPU bandwidth``, capped by the storage system's.

    Parameters
    ----------
    bytes_per_parameter
        Checkpoint bytes per model parameter.  14 (BF16 weights 2 + FP32
        master weights 4 + Adam moments 4 + 4: mixed-precision Adam as in
        Rajbhandari et al., ZeRO, SC'20, sec. 3.1, gradients not saved).
    write_bandwidth, read_bandwidth
        Storage bandwidth per accelerator [B/s].  0.5 and 1 GB/s
        (assumption: a parallel file system sized at ~4 GB/s of writes per
        8-GPU server; Meta's Tectonic sustains 2 TB/s, peak 7 TB/s, for 16K
        GPUs, Llama 3 paper sec. 3.3.1).
    storage_bandwidth, storage_read_bandwidth
        Aggregate caps of the storage system [B/s], or None.
    asynchronous
        Copy the state to host memory and write it in the background: the job
        blocks only for the copy.
    host_copy_bandwidth
        Device-to-host bandwidth of one accelerator for asynchronous
        checkpoints [B/s]; 25 GB/s (assumption: about half a PCIe Gen5 x16
        link, sharing it with the NIC).

    Examples
    --------
    >>> ck = CheckpointModel(storage_bandwidth="2 TB/s")
    >>> round(ck.write_time_s(405e9, 16384), 2)
    2.83
    """

    bytes_per_parameter: float = attrs.field(default=14.0, validator=finite_non_negative)
    write_bandwidth: pint.Quantity = _q_attr("B/s", "0.5 GB/s", _q_positive)
    read_bandwidth: pint.Quantity = _q_attr("B/s", "1 GB/s", _q_positive)
    storage_bandwidth: pint.Quantity | None = _q_attr("B/s", None, _q_positive)
    storage_read_bandwidth: pint.Quantity | None = _q_attr("B/s", None, _q_positive)
    asynchronous: bool = bool_field(default=False)
    host_copy_bandwidth: pint.Quantity = _q_attr("B/s", "25 GB/s", _q_positive)

    def state_bytes(self, parameters: float) -> float:
        """Checkpoint size of a model with ``parameters`` parameters [B]."""
        return float(parameters) * float(self.bytes_per_parameter)

    def _aggregate(self, per_gpu: pint.Quantity, cap: pint.Quantity | None, gpus: int) -> float:
        bw = float(per_gpu.m) * gpus
        return bw if cap is None else min(bw, float(cap.m))

    def write_time_s(self, parameters: float, gpus: int) -> float:
        """Seconds the job blocks to write one checkpoint [s]."""
        state = self.state_bytes(parameters)
        if self.asynchronous:
            return checkpoint_time_s(state / gpus, float(self.host_copy_bandwidth.m))
        bw = self._aggregate(self.write_bandwidth, self.storage_bandwidth, gpus)
        return checkpoint_time_s(state, bw)

    def read_time_s(self, parameters: float, gpus: int) -> float:
        """Seconds to read the checkpoint back on restart [s]."""
        bw = self._aggregate(self.read_bandwidth, self.storage_read_bandwidth, gpus)
        return checkpoint_time_s(self.state_bytes(parameters), bw)


@attrs.frozen(kw_only=True)
class RestartModel:
    """The time from a failure to training again, less reloading the checkpoint.

    Parameters
    ----------
    detect
        Until the failure is noticed [s].  5 min: Meta's clusters run health
        checks every 5 minutes (Kokolis et al., 'Revisiting Reliability in
        Large-Scale Machine Learning Research Clusters', HPCA'25); a hung
        collective waits for the NCCL watchdog (PyTorch's default timeout is
        10 min).
    reschedule
        Draining the failed node or domain, taking a spare, relaunching the
        processes [s].  5 min (assumption, with spares on hand).
    initialize
        Process-group set-up, model build and warm-up before the first step
        [s].  2 min (assumption; MegaScale, NSDI'24, reports 1,047 s for a
        naive 2,048-GPU initialisation and under 30 s optimised).

    Examples
    --------
    >>> RestartModel().fixed_s
    720.0
    """

    detect: pint.Quantity = _q_attr("s", "5 min", _q_non_negative)
    reschedule: pint.Quantity = _q_attr("s", "5 min", _q_non_negative)
    initialize: pint.Quantity = _q_attr("s", "2 min", _q_non_negative)

    @property
    def fixed_s(self) -> float:
        """Detect + reschedule + initialise [s]."""
        return float(self.detect.m + self.reschedule.m + self.initialize.m)


# ------------------------------------------------------------- Young / Daly
def young_interval_s(delta_s: float, mtti_s: float) -> float:
    """Young's optimum checkpoint interval :math:`\\sqrt{2 \\delta M}` [s].

    Examples
    --------
    >>> young_interval_s(2.0, 3600.0)
    120.0
    """
    _check_times(delta_s, mtti_s)
    return math.sqrt(2.0 * delta_s * mtti_s)


def daly_interval_s(delta_s: float, mtti_s: float) -> float:
    """Daly's (2006) higher-order optimum checkpoint interval [s] (see the module docstring).

    Examples
    --------
    >>> round(daly_interval_s(2.0, 3600.0), 3)
    118.67
    >>> daly_interval_s(9000.0, 3600.0)   # checkpoint longer than 2 M: once per M
    3600.0
    """
    _check_times(delta_s, mtti_s)
    if delta_s >= 2.0 * mtti_s:
        return float(mtti_s)
    x = delta_s / (2.0 * mtti_s)
    return math.sqrt(2.0 * delta_s * mtti_s) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - delta_s


def daly_goodput(tau_s: float, delta_s: float, restart_s: float, mtti_s: float) -> float:
    """Fraction of wall-clock time that is progress, Daly's (2006) exponential model.

    .. math:: g = \\frac{\\tau}{M\\, e^{R/M} (e^{(\\tau + \\delta)/M} - 1)}

    ``mtti_s = inf`` (no failures) gives :math:`\\tau / (\\tau + \\delta)`.

    Examples
    --------
    >>> daly_goodput(100.0, 0.0, 0.0, math.inf)
    1.0
    >>> round(daly_goodput(300.0, 3.0, 720.0, 15000.0), 4)
    0.9342
    """
    if not (_number(tau_s) and tau_s > 0.0):
        raise SpecError(f"tau_s must be > 0 s, got {tau_s!r}")
    if not (_number(restart_s) and restart_s >= 0.0):
        raise SpecError(f"restart_s must be >= 0 s, got {restart_s!r}")
    if math.isinf(mtti_s) and mtti_s > 0:
        _check_times(delta_s, 1.0)
        return tau_s / (tau_s + delta_s)
    _check_times(delta_s, mtti_s)
    m = float(mtti_s)
    return tau_s / (m * math.exp(restart_s / m) * math.expm1((tau_s + delta_s) / m))


def _check_times(delta_s: float, mtti_s: float) -> None:
    if not (_number(delta_s) and delta_s >= 0.0):
        raise SpecError(f"checkpoint time must be >= 0 s, got {delta_s!r}")
    if not (_number(mtti_s) and mtti_s > 0.0):
        raise SpecError(f"mean time to interrupt must be > 0 s, got {mtti_s!r}")


# ----------------------------------------------------------------- stragglers
@functools.lru_cache(maxsize=1024)
def expected_max_normal(n: int) -> float:
    """Expected largest of ``n`` independent standard normal draws, by quadrature.

    .. math:: E\\left[\\max_{i \\le n} Z_i\\right] = a + \\int_a^\\infty (1 - \\Phi(x)^n)\\,dx,
              \\quad a = -10

    (integration by parts; :math:`\\Phi(a)^n` is negligible).  Exact to about
    1e-6 (trapezoidal rule with a 1e-3 step, the upper tail computed in log
    space); 0 for ``n = 1``.

    Examples
    --------
    >>> round(expected_max_normal(2), 4)     # 1 / sqrt(pi)
    0.5642
    >>> round(expected_max_normal(1000), 3)
    3.241
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SpecError(f"n must be an integer >= 1, got {n!r}")
    if n == 1:
        return 0.0
    h = 1e-3
    lo, hi = -10.0, 12.0
    steps = int((hi - lo) / h)
    total = 0.0
    for i in range(steps + 1):
        q = 0.5 * math.erfc((lo + i * h) / math.sqrt(2.0))  # 1 - Phi(x), exact in the tail
        f = -math.expm1(n * math.log1p(-q)) if q < 1.0 else 1.0  # 1 - Phi(x)^n
        total += f * (0.5 if i in (0, steps) else 1.0)
    return lo + total * h


@attrs.frozen(kw_only=True)
class StragglerModel:
    """Per-rank step-time jitter, and the slowdown of waiting for the slowest rank.

    Each rank's step time is :math:`t(1 + \\sigma Z)` with :math:`Z` standard
    normal, independent across ranks and steps; a synchronous step takes the
    maximum over the ``N`` ranks.

    Parameters
    ----------
    sigma
        Relative standard deviation of one rank's step time.  0.01
        (assumption: clocks under DVFS vary with temperature and power; Meta
        reports a 1-2 % diurnal throughput swing of the whole Llama 3 job
        from it, Llama 3 paper sec. 3.3.4; per-rank jitter of the same order).

    Examples
    --------
    >>> round(StragglerModel().slowdown(16384), 4)
    1.0397
    """

    sigma: float = attrs.field(default=0.01, validator=finite_non_negative)

    def slowdown(self, ranks: int) -> float:
        """Expected step time with ``ranks`` ranks over the mean rank's: :math:`1 + \\sigma E[\\max]`."""
        return 1.0 + float(self.sigma) * expected_max_normal(int(ranks))


# ------------------------------------------------------------------- the model
@attrs.frozen(kw_only=True)
class ReliabilityModel:
    """Everything :func:`job_goodput` needs: failure rates, checkpoint, restart, stragglers.

    Parameters
    ----------
    rates
        :class:`FailureRates`; the shipped table by default.
    checkpoint
        :class:`CheckpointModel`.
    restart
        :class:`RestartModel`.
    stragglers
        :class:`StragglerModel`, or None to leave step times as predicted.
    rack_blast_radius
        A node failure on a multi-node NVLink domain takes the whole domain
        down (see :func:`job_exposure`).
    planned_per_day
        Planned interruptions of the job per day (firmware roll-outs,
        configuration changes: the operator's schedule), each costing a
        checkpoint and a restart.  0 by default.
    interval
        Checkpoint interval: ``"daly"`` (default), ``"young"``, or a duration.
    repair_time
        Until a failed node or domain is back in service [s]; sets the spares
        a fleet needs (:attr:`GoodputReport.gpus_in_repair`).  1 day
        (assumption: diagnosis and a swap of the failed tray or board from
        on-site spares; the broken part is repaired off-line).

    Examples
    --------
    >>> ReliabilityModel(planned_per_day=1.0).planned_per_day
    1.0
    """

    rates: FailureRates = attrs.field(factory=FailureRates.default)
    checkpoint: CheckpointModel = attrs.field(factory=CheckpointModel)
    restart: RestartModel = attrs.field(factory=RestartModel)
    stragglers: StragglerModel | None = attrs.field(factory=StragglerModel)
    rack_blast_radius: bool = bool_field(default=True)
    planned_per_day: float = attrs.field(default=0.0, validator=finite_non_negative)
    interval: Any = attrs.field(default="daly")
    repair_time: pint.Quantity = _q_attr("s", "1 d", _q_non_negative)

    @interval.validator
    def _check_interval(self, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
        if value in ("daly", "young"):
            return
        q = parse_quantity(value, "s", name="interval")
        if not (math.isfinite(float(q.m)) and q.m > 0):
            raise SpecError(f"interval must be 'daly', 'young' or a duration > 0 s, got {value!r}")


@attrs.frozen(kw_only=True)
class GoodputReport:
    """Interruptions, checkpoints, restarts and the goodput of one job.

    Built by :func:`job_goodput`; all floats in SI units.

    Parameters
    ----------
    exposure
        The job's :class:`Exposure`.
    rate_per_s
        Part -> interruptions per second of the job [1/s] (unplanned).
    planned_per_s
        Planned interruptions per second [1/s].
    checkpoint_s, reload_s, restart_s
        Blocking checkpoint write, checkpoint read, and whole restart
        (fixed part + reload) [s].
    interval_s
        Work between checkpoints [s].
    goodput
        Fraction of wall-clock time that is progress.
    waste
        ``checkpoint``, ``rework``, ``restart``, ``planned`` -> fraction of
        wall-clock time; with ``goodput`` they add up to 1.
    straggler_slowdown
        Step time with stragglers over the mean rank's (1 without a model).
    gpus_in_repair
        Accelerators out of service on average while failed parts of this
        job's exposure are repaired (the spares it needs to restart at once).
    """

    exposure: Exposure
    rate_per_s: Mapping[str, float] = attrs.field(converter=_frozen_map)
    planned_per_s: float
    checkpoint_s: float
    reload_s: float
    restart_s: float
    interval_s: float
    goodput: float
    waste: Mapping[str, float] = attrs.field(converter=_frozen_map)
    straggler_slowdown: float = 1.0
    gpus_in_repair: float = 0.0

    @property
    def interruption_rate_per_s(self) -> float:
        """Unplanned interruptions per second [1/s]."""
        return float(sum(self.rate_per_s.values()))

    @property
    def interruptions_per_day(self) -> float:
        """Unplanned plus planned interruptions per day."""
        return (self.interruption_rate_per_s + self.planned_per_s) * _S_PER_DAY

    @property
    def mtti(self) -> pint.Quantity:
        """Mean time between unplanned interruptions [s] (inf without failures)."""
        lam = self.interruption_rate_per_s
        return Q_(math.inf if lam == 0.0 else 1.0 / lam, "s")

    def interruptions(self, duration: Any) -> dict[str, float]:
        """Expected interruptions by part (and ``planned``) over ``duration`` (e.g. ``"54 d"``)."""
        t = float(parse_quantity(duration, "s", name="duration").m)
        out = {k: v * t for k, v in self.rate_per_s.items()}
        out["planned"] = self.planned_per_s * t
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary."""
        return {
            "interruptions_per_day": self.interruptions_per_day,
            "mtti_s": float(self.mtti.m),
            "checkpoint_s": self.checkpoint_s,
            "interval_s": self.interval_s,
            "restart_s": self.restart_s,
            "goodput": self.goodput,
            "waste": dict(self.waste),
            "straggler_slowdown": self.straggler_slowdown,
            "blast_radius_gpus": dict(self.exposure.radius_gpus),
            "gpus_in_repair": self.gpus_in_repair,
        }

    def summary(self) -> str:
        """A readable multi-line summary."""
        mtti = float(self.mtti.m)
        mtti_text = "no failures" if math.isinf(mtti) else f"{mtti / 3600.0:,.2f} h"
        top = sorted(self.rate_per_s.items(), key=lambda kv: -kv[1])
        parts = ", ".join(f"{k} {v * _S_PER_DAY:.2g}" for k, v in top if v > 0)
        lines = [
            f"goodput {self.goodput:.1%} (modelled): {self.interruptions_per_day:,.2f} "
            f"interruptions/day, mean time to interrupt {mtti_text}",
            f"  per day by part   {parts}" if parts else "  no part can fail",
            f"  checkpoint        {self.checkpoint_s:,.1f} s every "
            f"{self.interval_s / 60.0:,.1f} min of work; restart {self.restart_s / 60.0:,.1f} min",
            "  time lost         "
            + ", ".join(f"{k} {v:.1%}" for k, v in self.waste.items() if v > 0),
            f"  blast radius      {self.exposure.radius_gpus['node']} GPUs per node failure; "
            f"{self.gpus_in_repair:,.1f} GPUs in repair on average",
        ]
        if self.straggler_slowdown != 1.0:
            lines.append(
                f"  stragglers        slowest of {self.exposure.gpus:,} ranks: "
                f"+{self.straggler_slowdown - 1.0:.1%} per step"
            )
        return "\n".join(lines)


def job_goodput(
    cluster: Cluster,
    gpus: int,
    *,
    parameters: float,
    reliability: ReliabilityModel | None = None,
) -> GoodputReport:
    """Goodput of a synchronous training job on ``gpus`` accelerators of ``cluster``.

    Parameters
    ----------
    cluster
        The :class:`~blackwell_model.hardware.Cluster`.
    gpus
        Accelerators (ranks) of the job.
    parameters
        Model parameters (the checkpoint holds
        :attr:`CheckpointModel.bytes_per_parameter` bytes of each).
    reliability
        :class:`ReliabilityModel`; documented defaults when omitted.

    Returns
    -------
    GoodputReport

    Examples
    --------
    >>> import blackwell_model as bm
    >>> h100 = bm.catalog.cluster("DGX-H100", gpus=16384)
    >>> rep = job_goodput(h100, 16384, parameters=405e9)
    >>> 4 < rep.interruptions_per_day < 8, 0.85 < rep.goodput < 0.97
    (True, True)
    """
    rel = reliability or ReliabilityModel()
    if not (_number(parameters) and 0 <= parameters <= MAX_PARAMETERS):
        raise SpecError(
            f"parameters must be a number in [0, {MAX_PARAMETERS:.0e}] (model parameters), "
            f"got {parameters!r}"
        )
    exp = job_exposure(cluster, gpus, rack_blast_radius=rel.rack_blast_radius)
    rates = {name: r.rate_per_s * float(exp.counts[r.scope]) for name, r in rel.rates.rates.items()}
    lam = sum(rates.values())
    mtti = math.inf if lam == 0.0 else 1.0 / lam
    delta = rel.checkpoint.write_time_s(parameters, gpus)
    reload = rel.checkpoint.read_time_s(parameters, gpus)
    restart = rel.restart.fixed_s + reload
    if rel.interval == "daly":
        tau = daly_interval_s(delta, mtti) if lam > 0 and delta > 0 else math.inf
    elif rel.interval == "young":
        tau = young_interval_s(delta, mtti) if lam > 0 and delta > 0 else math.inf
    else:
        tau = float(parse_quantity(rel.interval, "s", name="interval").m)
    if math.isinf(tau):  # nothing to gain from checkpoints: none are taken
        g_unplanned = 1.0 if lam == 0 else math.exp(-restart * lam)
        first = {"checkpoint": 0.0, "rework": 0.0, "restart": restart * lam}
    else:
        g_unplanned = daly_goodput(tau, delta, restart, mtti)
        first = {
            "checkpoint": delta / tau,
            "rework": (tau + delta) / (2.0 * mtti) if lam else 0.0,
            "restart": restart / mtti if lam else 0.0,
        }
    planned = rel.planned_per_day / _S_PER_DAY
    planned_loss = min(1.0, planned * (restart + delta))
    goodput = g_unplanned * (1.0 - planned_loss)
    lost = 1.0 - g_unplanned
    share = sum(first.values())
    waste = {
        k: (lost * v / share if share > 0 else 0.0) * (1.0 - planned_loss) for k, v in first.items()
    }
    waste["planned"] = planned_loss
    # keep the parts adding up exactly
    waste["restart"] += 1.0 - goodput - sum(waste.values())
    repair_s = float(rel.repair_time.m)
    in_repair = sum(
        rates[name] * repair_s * exp.radius_gpus[r.radius] for name, r in rel.rates.rates.items()
    )
    slow = 1.0 if rel.stragglers is None else rel.stragglers.slowdown(gpus)
    return GoodputReport(
        exposure=exp,
        rate_per_s=rates,
        planned_per_s=planned,
        checkpoint_s=delta,
        reload_s=reload,
        restart_s=restart,
        interval_s=tau,
        goodput=goodput,
        waste=waste,
        straggler_slowdown=slow,
        gpus_in_repair=in_repair,
    )
