"""How far to trust a prediction: intervals from the validation residuals, and the evidence behind it.

Every shipped measured case (:mod:`blackwell_model.validation`: training
runs and serving benchmarks) leaves a residual, the log ratio of measured to
predicted time,

.. math:: e_i = \\ln \\frac{t_i^{measured}}{t_i^{predicted}}

(a step time for training, the time per token implied by a throughput, or a
time to first token).  :func:`prediction_interval` turns the residuals of the
cases *comparable* to a prediction into a range for it.

Method
------
1. **Comparable cases.**  The first group with at least :data:`MIN_CASES`
   cases of: the same phase (training or serving), hardware generation
   (:func:`generation`) and workload class (dense or MoE); the same phase
   and class on any generation; the same phase.
2. **Bias and spread.**  The group's mean residual :math:`\\mu` (the model's
   bias there: MoE training rows on Blackwell run about 5 % slower than predicted, so their
   intervals sit above the prediction) and sample standard deviation
   :math:`s` of its :math:`n` cases.
3. **Extrapolation.**  Each thing the prediction has that no measured case
   has adds a documented variance, estimated from the validation data
   (:func:`extrapolation_sigmas`):

   * a part of a measured generation that was never measured itself
     (B300; H200 for training): the spread between the mean residuals of the measured
     parts of one generation (B200 and GB200);
   * a generation without any measured case of the phase (MI300X, Gaudi 3,
     TPU, Trainium2, Maia, and serving on Blackwell): the root mean square of
     the held-out bias of the leave-one-generation-out calibrations
     (:func:`~blackwell_model.validation.calibrate.load_logo`: Blackwell
     fitted on A100 and H100, A100 fitted on the others), plus the part term
     above (its part was never measured either);
   * a workload class without a measured case of the phase (MoE serving on
     a generation other than Hopper): the held-out bias of MoE training
     fitted on dense models only.
4. **Interval.**  For one new case of the group, the distribution-free
   prediction interval: the empirical quantiles of the :math:`n` log errors
   at :math:`(1 \\mp L)/2` with Weibull plotting positions (a new case falls
   between the :math:`k`-th smallest and :math:`k`-th largest of :math:`n`
   exchangeable cases with probability :math:`(n + 1 - 2k)/(n + 1)`).  The
   residuals are heavy-tailed (a few cases miss by 20-30 %), so a normal
   interval from their standard deviation covers far more than :math:`L` at
   :math:`L = 0.5`.  Where the level asks for more than the sample can say
   (:math:`(1 - L)/2 < 1/(n + 1)`), the Student-t interval
   :math:`\\mu \\pm t_{n-1,(1+L)/2} \\sqrt{s^2 (1 + 1/n)}` is used instead.
   The extrapolation variance is added in quadrature to each side's
   distance from :math:`\\mu` (scaled by the normal quantile of the level).
   Throughput gets the reciprocal factors, energy the same factors as time
   (the power drawn is held at the predicted level).

A leave-one-out check over the shipped cases (each case's interval built
from the others' residuals; :func:`leave_one_out_coverage`,
``python benchmarks/bench_trust.py``) brackets the measurement in about the
stated fraction of cases.  The residuals come from the shipped calibration,
which saw every case: the held-out case leaves the interval statistics, not
the fit of the global parameters (the leave-one-generation-out figures above
are the stricter test).
"""

from __future__ import annotations

import functools
import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pint

from .._display import Display
from .._json import _suffix
from .._validate import check_float
from ..errors import SpecError
from ..units import Q_, format_quantity

__all__ = [
    "GENERATIONS",
    "MIN_CASES",
    "RESIDUALS_FILE",
    "CaseResidual",
    "Evidence",
    "PredictionInterval",
    "evidence",
    "extrapolation_sigmas",
    "generation",
    "interval_factors",
    "leave_one_out_coverage",
    "prediction_interval",
    "student_t_quantile",
    "validation_residuals",
    "write_residuals",
]

#: Accelerator (catalog name) -> hardware generation.  Parts not listed are a
#: generation of their own (no measured case shares it).
GENERATIONS: Mapping[str, str] = {
    "A100-SXM-80GB": "NVIDIA Ampere",
    "H100-SXM": "NVIDIA Hopper",
    "H100-PCIe": "NVIDIA Hopper",
    "H200-SXM": "NVIDIA Hopper",
    "H800": "NVIDIA Hopper",
    "B200": "NVIDIA Blackwell",
    "B200-GB200": "NVIDIA Blackwell",
    "B300": "NVIDIA Blackwell",
    "B300-GB300": "NVIDIA Blackwell",
}

#: Fewest cases a comparable group needs before a wider group is used.
MIN_CASES = 5

#: File (in ``blackwell_model/trust/data``) holding the residuals of the shipped
#: cases at the shipped defaults; ``python -m blackwell_model.trust.check
#: --residuals`` rewrites it, a slow test checks it is current.
RESIDUALS_FILE = "residuals.json"

#: Levels of comparability tried in order: the attributes that must match.
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("phase", "generation", "moe"),
    ("phase", "moe"),
    ("phase",),
)


def generation(accelerator: Any) -> str:
    """Hardware generation of an accelerator (an :class:`~blackwell_model.Accelerator` or name).

    Examples
    --------
    >>> generation("H200-SXM"), generation("MI300X")
    ('NVIDIA Hopper', 'MI300X')
    """
    name = accelerator if isinstance(accelerator, str) else accelerator.name
    return GENERATIONS.get(name, name)


@attrs.frozen(kw_only=True)
class CaseResidual:
    """The residual of one shipped measured case at the shipped defaults.

    Parameters
    ----------
    id
        Case id in ``public_cases.json``.
    phase
        ``"training"`` or ``"serving"``.
    accelerator, system
        Catalog names of the accelerator and the system.
    moe
        True for a mixture-of-experts model.
    log_error
        :math:`\\ln(t^{measured} / t^{predicted})` of the case's time.
    """

    id: str
    phase: str
    accelerator: str
    system: str
    moe: bool
    log_error: float

    @property
    def generation(self) -> str:
        """Hardware generation (:func:`generation`)."""
        return generation(self.accelerator)


def _compute_residuals() -> tuple[CaseResidual, ...]:
    from .. import catalog
    from ..validation.inference import evaluate_inference
    from ..validation.training import validation_table

    acc = {n: catalog.system(n).accelerator.name for n in catalog.names("system")}
    out = [
        CaseResidual(
            id=r.id,
            phase="training",
            accelerator=acc[r.hardware],
            system=r.hardware,
            moe=r.moe,
            log_error=math.log1p(r.error),
        )
        for r in validation_table().rows
    ]
    for r in evaluate_inference():
        e = math.log1p(r.error)  # throughput: predicted/measured - 1 -> time ratio
        out.append(
            CaseResidual(
                id=r.case.id,
                phase="serving",
                accelerator=acc[r.case.system],
                system=r.case.system,
                moe=bool(catalog.model(r.case.model).is_moe),
                log_error=-e if r.case.metric == "ttft" else e,
            )
        )
    return tuple(out)


@functools.cache
def _stored_residuals() -> tuple[CaseResidual, ...]:
    text = resources.files("blackwell_model.trust").joinpath("data", RESIDUALS_FILE)
    return tuple(CaseResidual(**r) for r in json.loads(text.read_text("utf-8")))


def validation_residuals(*, recompute: bool = False) -> tuple[CaseResidual, ...]:
    """The residuals of every shipped case (training and serving) at the shipped defaults.

    Parameters
    ----------
    recompute
        Predict every case now (a few seconds) instead of reading the stored
        snapshot (:data:`RESIDUALS_FILE`).
    """
    return _compute_residuals() if recompute else _stored_residuals()


def write_residuals(path: str | Path | None = None) -> Path:
    """Recompute the residuals and write them as JSON (default: the shipped file)."""
    target = Path(path) if path is not None else Path(__file__).with_name("data") / RESIDUALS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = [attrs.asdict(r) for r in _compute_residuals()]
    target.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    _stored_residuals.cache_clear()
    return target


@functools.cache
def extrapolation_sigmas() -> dict[str, float]:
    """The extra log-spreads for parts, generations and workload classes without a case.

    Returns
    -------
    dict
        ``part``: the spread between measured parts of one generation;
        ``generation``: the RMS held-out log bias of the leave-one-generation-out
        calibrations; ``class``: the held-out log bias of MoE fitted on dense.
    """
    from ..validation.calibrate import load_logo

    res = [r for r in validation_residuals() if r.phase == "training" and not r.moe]
    by_gen: dict[str, dict[str, list[float]]] = {}
    for r in res:
        by_gen.setdefault(r.generation, {}).setdefault(r.accelerator, []).append(r.log_error)
    part_vars = [
        statistics.variance([statistics.fmean(v) for v in parts.values()])
        for parts in by_gen.values()
        if len(parts) >= 2
    ]
    logo = {str(r["group"]): r for r in load_logo()}
    gens = [math.log1p(float(logo[g]["bias_held_out"])) for g in ("blackwell", "a100") if g in logo]
    moe = logo.get("moe")
    return {
        "part": math.sqrt(statistics.fmean(part_vars)) if part_vars else 0.0,
        "generation": math.sqrt(statistics.fmean(g * g for g in gens)) if gens else 0.0,
        "class": abs(math.log1p(float(moe["bias_held_out"]))) if moe else 0.0,
    }


def student_t_quantile(p: float, dof: float) -> float:
    """Quantile of Student's t distribution (Cornish-Fisher expansion, A&S 26.7.5).

    Accurate to about 1 % for ``dof >= 3``; the normal quantile as ``dof``
    grows.

    Examples
    --------
    >>> round(student_t_quantile(0.9, 10), 3)  # tables: 1.372
    1.372
    """
    if not 0.0 < p < 1.0:
        raise SpecError(f"p must be in (0, 1), got {p!r}")
    if dof < 1:
        raise SpecError(f"dof must be >= 1, got {dof!r}")
    z = statistics.NormalDist().inv_cdf(p)
    v = float(dof)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


@attrs.frozen(kw_only=True)
class _Target:
    phase: str
    accelerator: str
    system: str
    moe: bool

    @property
    def generation(self) -> str:
        return generation(self.accelerator)


def interval_factors(
    target: Any, level: float, pool: Sequence[CaseResidual] | None = None
) -> dict[str, Any]:
    """Low and high factors on the predicted time, and how they were found.

    Parameters
    ----------
    target
        Anything with ``phase``, ``accelerator``, ``system`` and ``moe``
        (a :class:`CaseResidual`, or the description of a prediction).
    level
        Coverage in (0, 1), e.g. 0.8.
    pool
        Residuals to draw from (default :func:`validation_residuals`).

    Returns
    -------
    dict
        ``low``, ``high`` (factors on the time), ``bias`` (:math:`\\mu`),
        ``sigma`` (total log spread), ``cases``, ``group`` (description)
        and ``widened`` (the extrapolation terms added).
    """
    level = check_float(level, "level")
    if not 0.0 < level < 1.0:
        raise SpecError(f"level must be in (0, 1), got {level!r}")
    pool = validation_residuals() if pool is None else pool
    tgen = generation(target.accelerator)
    group: list[CaseResidual] = []
    keys: tuple[str, ...] = ()
    for keys in _LEVELS:
        group = [
            r for r in pool if all(_attr(r, k) == _attr(target, k) for k in keys)
        ]  # fmt: skip
        if len(group) >= MIN_CASES:
            break
    if len(group) < 2:
        group, keys = list(pool), ()
    errs = [r.log_error for r in group]
    n = len(errs)
    mu = statistics.fmean(errs)
    s2 = statistics.variance(errs) * (1.0 + 1.0 / n)
    sig = extrapolation_sigmas()
    same_phase = [r for r in pool if r.phase == target.phase]
    widened = []
    gen_cases = [r for r in same_phase if r.generation == tgen]
    if not gen_cases:  # an unmeasured generation's part is unmeasured too
        widened += ["generation", "part"]
    elif not any(r.accelerator == target.accelerator for r in gen_cases):
        widened.append("part")
    if not any(r.moe == target.moe for r in (gen_cases or same_phase)):
        widened.append("class")
    extra = sum(sig[w] ** 2 for w in widened)
    sigma = math.sqrt(s2 + extra)
    tail = (1.0 - level) / 2.0
    if tail >= 1.0 / (n + 1):  # distribution-free: empirical quantiles (Weibull positions)
        q_low, q_high = np.quantile(errs, [tail, 1.0 - tail], method="weibull")
        below, above = mu - float(q_low), float(q_high) - mu
    else:  # the sample is too small for the level: Student-t
        below = above = student_t_quantile(1.0 - tail, max(n - 1, 1)) * math.sqrt(s2)
    z2 = student_t_quantile(1.0 - tail, 10**6) ** 2 * extra
    desc = ", ".join(_describe(k, target) for k in keys) or "all cases"
    return {
        "low": math.exp(mu - math.sqrt(below**2 + z2)),
        "high": math.exp(mu + math.sqrt(above**2 + z2)),
        "bias": mu,
        "sigma": sigma,
        "cases": n,
        "group": desc,
        "widened": tuple(widened),
    }


def _attr(obj: Any, key: str) -> Any:
    return generation(obj.accelerator) if key == "generation" else getattr(obj, key)


def _describe(key: str, target: Any) -> str:
    if key == "moe":
        return "MoE" if target.moe else "dense"
    if key == "generation":
        return generation(target.accelerator)
    return str(getattr(target, key))


@attrs.frozen(kw_only=True, repr=False)
class PredictionInterval(Display):
    """A low/high range around a prediction, at a stated coverage.

    Parameters
    ----------
    level
        Intended coverage (0.8: the measurement falls inside four times in five).
    values
        Quantity name -> ``(low, predicted, high)`` as pint Quantities (step
        time, throughput, energy ...).
    bias
        Mean log residual of the comparable cases, :math:`\\mu`
        (> 0: measured slower than predicted).
    sigma
        Log spread used, extrapolation included.
    cases
        Comparable cases behind it.
    group
        Which cases (``"training, NVIDIA Hopper, dense"``).
    widened
        Extrapolation terms added: ``"part"``, ``"generation"``, ``"class"``.
    """

    level: float
    values: Mapping[str, tuple[pint.Quantity, pint.Quantity, pint.Quantity]]
    bias: float
    sigma: float
    cases: int
    group: str
    widened: tuple[str, ...]

    @property
    def low(self) -> pint.Quantity:
        """Low end of the first (main) quantity: the step time or time per output token."""
        return next(iter(self.values.values()))[0]

    @property
    def high(self) -> pint.Quantity:
        """High end of the first (main) quantity."""
        return next(iter(self.values.values()))[2]

    def contains(self, name: str, measured: Any) -> bool:
        """True if ``measured`` (a Quantity, or a float in SI units) lies in ``values[name]``."""
        low, _, high = self.values[name]
        x = (
            float(measured.to(low.units).m)
            if isinstance(measured, pint.Quantity)
            else float(measured)
        )
        return bool(low.m <= x <= high.m)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``{name_unit: [low, predicted, high]}`` in SI units plus the method's figures.

        Keys carry the unit as in every JSON output (``step_time_s``,
        ``energy_per_step_J``); rates per second have none (``tokens_per_second``).
        """
        values = {}
        for name, triple in self.values.items():
            suffix, _ = _suffix(triple[0])
            suffix = "" if suffix == "_Hz" else suffix
            values[name + suffix] = [_suffix(q)[1] for q in triple]
        return {
            "level": self.level,
            "values": values,
            "bias": self.bias,
            "sigma": self.sigma,
            "cases": self.cases,
            "group": self.group,
            "widened": list(self.widened),
        }

    def summary(self) -> str:
        """One line per quantity: low - high (predicted)."""
        lines = [
            f"{self.level:.0%} interval from {self.cases} comparable measured cases "
            f"({self.group}; bias {math.expm1(self.bias):+.1%})"
            + (f", widened for unmeasured {', '.join(self.widened)}" if self.widened else "")
        ]
        for name, (lo, mid, hi) in self.values.items():
            lines.append(
                f"  {name:<28} {format_quantity(lo)} - {format_quantity(hi)} "
                f"(predicted {format_quantity(mid)})"
            )
        return "\n".join(lines)


def _scaled(q: pint.Quantity, factor: float) -> pint.Quantity:
    return Q_(float(q.m) * factor, q.units)


def _inputs(report: Any) -> Mapping[str, Any]:
    inputs = getattr(report, "inputs", None)
    if inputs is None:
        raise SpecError(
            f"this {type(report).__name__} does not carry its inputs (model, cluster); "
            "use one returned by predict_training or predict_inference"
        )
    return inputs


def _target(report: Any) -> _Target:
    inputs = _inputs(report)
    cluster = inputs["cluster"]
    return _Target(
        phase=inputs["phase"],
        accelerator=cluster.accelerator.name,
        system=cluster.domain.name,
        moe=bool(inputs["model"].is_moe),
    )


def prediction_interval(report: Any, level: float = 0.8) -> PredictionInterval:
    """The interval of a :class:`~blackwell_model.TrainingReport` or :class:`~blackwell_model.InferenceReport`.

    See the module documentation for the method.  ``report.interval(level)``
    calls this.

    Parameters
    ----------
    report
        A report returned by :func:`~blackwell_model.predict_training` or
        :func:`~blackwell_model.predict_inference`.
    level
        Coverage in (0, 1).

    Returns
    -------
    PredictionInterval
        Training: ``step_time``, ``tokens_per_second``, ``energy_per_step``;
        serving: ``time_per_output_token``, ``time_to_first_token``,
        ``output_tokens_per_second``, ``energy_per_token``.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rep = bm.predict_training("llama3-8b", bm.catalog.cluster("DGX-H100", gpus=8),
    ...                           bm.Layout(tp=1, dp=8, global_batch=64, seq_len=4096))
    >>> iv = rep.interval(0.8)
    >>> iv.low < rep.step_time < iv.high
    True
    """
    f = interval_factors(_target(report), level)
    lo, hi = f["low"], f["high"]
    values: dict[str, tuple[pint.Quantity, pint.Quantity, pint.Quantity]] = {}

    def add_time(name: str, q: pint.Quantity) -> None:
        values[name] = (_scaled(q, lo), q, _scaled(q, hi))

    def add_rate(name: str, q: pint.Quantity) -> None:
        values[name] = (_scaled(q, 1.0 / hi), q, _scaled(q, 1.0 / lo))

    if _inputs(report)["phase"] == "training":
        add_time("step_time", report.step_time)
        add_rate("tokens_per_second", report.tokens_per_second)
        if report.energy is not None:
            add_time("energy_per_step", report.energy_per_step)
    else:
        add_time("time_per_output_token", report.time_per_output_token)
        add_time("time_to_first_token", report.time_to_first_token)
        add_rate("output_tokens_per_second", report.output_tokens_per_second)
        add_time("energy_per_token", report.energy_per_token)
    return PredictionInterval(
        level=level,
        values=values,
        bias=f["bias"],
        sigma=f["sigma"],
        cases=f["cases"],
        group=f["group"],
        widened=f["widened"],
    )


@attrs.frozen(kw_only=True, repr=False)
class Evidence(Display):
    """Whether a prediction has published measurements behind it.

    Parameters
    ----------
    phase
        ``"training"`` or ``"serving"``.
    accelerator, system
        The prediction's accelerator and system (catalog names).
    workload
        ``"dense"`` or ``"MoE"``.
    accelerator_cases
        Shipped measured cases of this phase on this accelerator.
    system_cases
        The same on this system.
    generation, generation_cases
        Its hardware generation and the cases of this phase on it.
    workload_cases
        Cases of this phase, generation and workload class.
    """

    phase: str
    accelerator: str
    system: str
    workload: str
    accelerator_cases: int
    system_cases: int
    generation: str
    generation_cases: int
    workload_cases: int

    @property
    def validated(self) -> bool:
        """True when the accelerator, the system and the workload class all have measured cases."""
        return bool(self.accelerator_cases and self.system_cases and self.workload_cases)

    @property
    def note(self) -> str:
        """One line: what is measured and what is extrapolated."""
        if self.validated:
            return (
                f"validated: {self.accelerator_cases} measured {self.phase} case(s) on "
                f"{self.accelerator}, {self.workload_cases} {self.workload} on {self.generation}"
            )
        missing = []
        if not self.accelerator_cases:
            missing.append(f"{self.accelerator} {self.phase}")
        elif not self.system_cases:
            missing.append(f"the {self.system} system")
        if not self.workload_cases and self.generation_cases:
            missing.append(f"{self.workload} {self.phase} on {self.generation}")
        nearest = (
            f"nearest: {self.generation_cases} case(s) on {self.generation}"
            if self.generation_cases
            else f"no {self.phase} case of its generation"
        )
        return (
            f"extrapolated: no published measurement of {' or '.join(missing)} was compared "
            f"with the model ({nearest}); read the interval, not the point"
        )

    def summary(self) -> str:
        """:attr:`note`."""
        return self.note

    def to_dict(self) -> dict[str, Any]:
        """Plain data, with ``validated`` and ``note``."""
        return {**attrs.asdict(self), "validated": self.validated, "note": self.note}


def evidence(report: Any) -> Evidence:
    """Which published measurements stand behind a report (``report.evidence()``).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> rep = bm.predict_training("llama3-8b", bm.catalog.cluster("MI300X-8", gpus=8),
    ...                           bm.Layout(tp=1, dp=8, global_batch=64, seq_len=4096))
    >>> rep.evidence().validated
    False
    """
    t = _target(report)
    return _evidence(t)


def _evidence(t: Any) -> Evidence:
    same = [r for r in validation_residuals() if r.phase == t.phase]
    gen = [r for r in same if r.generation == generation(t.accelerator)]
    return Evidence(
        phase=t.phase,
        accelerator=t.accelerator,
        system=t.system,
        workload="MoE" if t.moe else "dense",
        accelerator_cases=sum(r.accelerator == t.accelerator for r in same),
        system_cases=sum(r.system == t.system for r in same),
        generation=generation(t.accelerator),
        generation_cases=len(gen),
        workload_cases=sum(r.moe == t.moe for r in gen),
    )


def leave_one_out_coverage(
    level: float = 0.8,
    *,
    residuals: Sequence[CaseResidual] | None = None,
    key: Callable[[CaseResidual], str] | None = None,
) -> dict[str, tuple[int, int]]:
    """Leave-one-out check of the intervals over the shipped cases.

    Each case's interval is built from the residuals of every other case (as
    :func:`interval_factors`), and checked for containing the case's own
    measurement.

    Parameters
    ----------
    level
        Coverage of the intervals.
    residuals
        The cases (default :func:`validation_residuals`).
    key
        Groups the result (default: phase, generation and class).

    Returns
    -------
    dict
        Group -> (cases inside, cases), plus ``"all"``.
    """
    res = list(validation_residuals() if residuals is None else residuals)
    key = key or (lambda r: f"{r.phase}, {r.generation}, {'MoE' if r.moe else 'dense'}")
    out: dict[str, list[int]] = {}
    for i, r in enumerate(res):
        f = interval_factors(r, level, pool=res[:i] + res[i + 1 :])
        inside = int(math.log(f["low"]) <= r.log_error <= math.log(f["high"]))
        for k in (key(r), "all"):
            cell = out.setdefault(k, [0, 0])
            cell[0] += inside
            cell[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}
