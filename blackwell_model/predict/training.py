"""``predict_training``: one model, one cluster, one layout -> a TrainingReport."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pint

from .._display import Display
from .._spec import as_part
from .._validate import check_instance
from ..errors import InfeasibleLayoutError, SpecError
from ..hardware.system import Cluster
from ..parallel.layout import Layout, stack_layouts
from ..parallel.memory import MemoryBreakdown, MemoryModel, memory_per_gpu
from ..solvers.energy import EnergyReport, PowerModel, training_energy
from ..solvers.training import BREAKDOWN_KEYS, TrainingEfficiency, TrainingSolver
from ..units import Q_, format_quantity
from ..workload import Transformer

_S = Q_(1.0, "s")

__all__ = ["TrainingReport", "layout_arrays", "predict_training", "with_energy"]


@attrs.frozen(kw_only=True, repr=False)
class TrainingReport(Display):
    """Predicted cost of one training step, with its breakdown.

    Quantities are pint Quantities; ``*_s``-style floats are available on the
    solver results for scripting at speed.

    Parameters
    ----------
    model_name, cluster_name
        What was predicted.
    layout
        The :class:`~blackwell_model.parallel.Layout`.
    gpus
        GPUs the layout occupies.
    step_time
        Time of one optimizer step [s].
    breakdown
        Part of the step -> time [s]; the parts add up to ``step_time``
        (keys: :data:`~blackwell_model.solvers.training.BREAKDOWN_KEYS`).
    model_flops_per_step
        Model FLOPs of one step, no recomputation (6N + 12·l·h·s per token,
        the NeMo/Megatron convention) [FLOP].
    hardware_flops_per_step
        FLOPs executed, recomputation included [FLOP].
    peak_flops_per_gpu
        Dense peak of one GPU at the layout's precision [FLOP/s], the
        denominator of :attr:`mfu` and :attr:`hfu`.
    memory
        :class:`~blackwell_model.parallel.MemoryBreakdown` of the busiest GPU.
    memory_capacity
        HBM capacity of one GPU [B].
    energy
        :class:`~blackwell_model.solvers.energy.EnergyReport` of one step
        (facility energy by part and phase, power).
    uncapped_breakdown
        The breakdown before a power cap slowed it (None without a cap).
    inputs
        What the report was predicted from (``model``, ``cluster``,
        ``efficiency``, ``memory``, ``power``), kept for :meth:`interval`,
        :meth:`evidence` and :meth:`sensitivity`; None for a report built by
        hand.  Not compared by ``==``.
    """

    model_name: str
    cluster_name: str
    layout: Layout
    gpus: int
    step_time: pint.Quantity
    breakdown: Mapping[str, pint.Quantity]
    model_flops_per_step: pint.Quantity
    hardware_flops_per_step: pint.Quantity
    peak_flops_per_gpu: pint.Quantity
    memory: MemoryBreakdown
    memory_capacity: pint.Quantity
    energy: EnergyReport | None = None
    uncapped_breakdown: Mapping[str, pint.Quantity] | None = None
    inputs: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

    def interval(self, level: float = 0.8) -> Any:
        """Low/high step time, throughput and energy at coverage ``level``.

        From the validation residuals of comparable measured cases; see
        :func:`blackwell_model.trust.prediction_interval`.
        """
        from ..trust.intervals import prediction_interval

        return prediction_interval(self, level)

    def evidence(self) -> Any:
        """Published measurements behind this prediction (:func:`blackwell_model.trust.evidence`)."""
        from ..trust.intervals import evidence

        return evidence(self)

    def sensitivity(self, **kwargs: Any) -> Any:
        """Elasticity of the step time to each hardware figure and efficiency parameter.

        See :func:`blackwell_model.trust.sensitivity` for the keyword arguments.
        """
        from ..trust.sensitivity import sensitivity

        return sensitivity(self, **kwargs)

    @property
    def energy_per_step(self) -> pint.Quantity:
        """Facility energy of one step, PUE included [J]."""
        return self._energy().energy_per_step

    @property
    def energy_per_token(self) -> pint.Quantity:
        """Facility energy per trained token [J]."""
        return self._energy().energy_per_token

    @property
    def average_power(self) -> pint.Quantity:
        """Average facility power of the GPUs in use and their share of the cluster [W]."""
        return self._energy().average_power

    @property
    def peak_power(self) -> pint.Quantity:
        """Facility power of the busiest phase of the step [W]."""
        return self._energy().peak_power

    @property
    def energy_breakdown(self) -> Mapping[str, pint.Quantity]:
        """Energy of one step by part (accelerators, CPUs, NICs, switches, overheads) [J]."""
        return self._energy().breakdown

    def _energy(self) -> EnergyReport:
        if self.energy is None:
            raise SpecError("this report was built without an energy model (energy=None)")
        return self.energy

    @property
    def tokens_per_second(self) -> pint.Quantity:
        """Training throughput of the whole layout [1/s tokens]."""
        return Q_(self.layout.tokens_per_step / self.step_time.m, "1/s")

    @property
    def tokens_per_second_per_gpu(self) -> pint.Quantity:
        """Throughput per GPU [1/s tokens]."""
        return self.tokens_per_second / self.gpus

    @property
    def mfu(self) -> float:
        """Model FLOPs utilisation: model FLOPs / (step time x GPUs x dense peak)."""
        return float(
            self.model_flops_per_step.m / (self.step_time.m * self.gpus * self.peak_flops_per_gpu.m)
        )

    @property
    def hfu(self) -> float:
        """Hardware FLOPs utilisation: executed FLOPs (recomputation included) / peak."""
        return float(
            self.hardware_flops_per_step.m
            / (self.step_time.m * self.gpus * self.peak_flops_per_gpu.m)
        )

    @property
    def model_flops_per_second_per_gpu(self) -> pint.Quantity:
        """Achieved model FLOP/s per GPU (NeMo's "model TFLOPs per GPU") [FLOP/s]."""
        return Q_(self.model_flops_per_step.m / (self.step_time.m * self.gpus), "flop/s")

    @property
    def memory_per_gpu(self) -> pint.Quantity:
        """Memory needed on the busiest GPU [B]."""
        return self.memory.total

    @property
    def fits(self) -> bool:
        """True if :attr:`memory_per_gpu` fits in the GPU's HBM."""
        return bool(self.memory.total_B <= self.memory_capacity.m)

    @property
    def memory_headroom(self) -> pint.Quantity:
        """HBM left free on the busiest GPU [B] (negative when it does not fit)."""
        return Q_(self.memory_capacity.m - self.memory.total_B, "B")

    @property
    def memory_per_rank(self) -> dict[str, pint.Quantity]:
        """Memory needed on the first, busiest middle and last pipeline rank [B]."""
        return self.memory.per_rank()

    def to_dict(self) -> dict[str, Any]:
        """Plain-data summary (floats in SI units)."""
        return {
            "model": self.model_name,
            "cluster": self.cluster_name,
            "gpus": self.gpus,
            "layout": self.layout.to_dict(),
            "step_time_s": self.step_time.m,
            "tokens_per_second": self.tokens_per_second.m,
            "tokens_per_second_per_gpu": self.tokens_per_second_per_gpu.m,
            "mfu": self.mfu,
            "hfu": self.hfu,
            "memory_per_gpu_B": self.memory.total_B,
            "memory_capacity_B": float(self.memory_capacity.m),
            "memory_headroom_B": float(self.memory_headroom.m),
            "memory_per_rank_B": dict(self.memory.ranks_B),
            "busiest_rank": self.memory.rank,
            "breakdown_s": {k: v.m for k, v in self.breakdown.items()},
            "memory_B": {k: v.m for k, v in self.memory.as_dict().items()},
        }

    def summary(self) -> str:
        """A readable multi-line summary."""
        lines = [
            f"{self.model_name} on {self.cluster_name}: {self.gpus} GPUs, "
            f"tp={self.layout.tp} pp={self.layout.pp} dp={self.layout.dp} cp={self.layout.cp} "
            f"ep={self.layout.ep} vpp={self.layout.vpp}, {self.layout.precision.value}",
            f"  step time        {format_quantity(self.step_time)}",
            f"  tokens/s/GPU     {self.tokens_per_second_per_gpu.m:,.0f}",
            f"  MFU              {self.mfu:.1%}  (HFU {self.hfu:.1%})",
            f"  memory per GPU   {format_quantity(self.memory.total)} of "
            f"{format_quantity(self.memory_capacity)} ({self.memory.rank} pipeline rank; "
            f"{format_quantity(self.memory_headroom)} free)",
        ]
        if len(self.memory.ranks_B) > 1:
            lines.append(
                "  memory per rank  "
                + ", ".join(f"{k} {format_quantity(v)}" for k, v in self.memory.per_rank().items())
            )
        if self.memory.offloaded_B > 0:
            off = format_quantity(Q_(self.memory.offloaded_B, "B"))
            lines.append(f"  host memory      {off} of activations offloaded per GPU")
        if self.energy is not None:
            lines += [
                f"  energy per step  {format_quantity(self.energy_per_step)} "
                f"({format_quantity(self.energy_per_token)} per token, PUE {self.energy.pue:g})",
                f"  power            {format_quantity(self.average_power)} average, "
                f"{format_quantity(self.peak_power)} peak",
            ]
        lines.append("  breakdown:")
        for k, v in self.breakdown.items():
            if v.m > 0:
                lines.append(f"    {k:<16} {format_quantity(v):>10}  {v.m / self.step_time.m:6.1%}")
        return "\n".join(lines)


def layout_arrays(layouts: list[Layout], *, flash_attention: bool = True) -> dict[str, Any]:
    """Pack layouts (of one precision) into the arrays :meth:`TrainingSolver.evaluate` reads.

    :func:`~blackwell_model.parallel.stack_layouts` plus the ``flash_attention``
    key (False: the unfused attention core of pre-2022 frameworks).
    """
    if not layouts:
        raise SpecError("layouts must hold at least one Layout")
    out = stack_layouts(layouts)
    out["flash_attention"] = np.full(len(layouts), int(flash_attention), dtype=np.int64)
    return out


def predict_training(
    model: Any,
    cluster: Cluster,
    layout: Layout,
    *,
    efficiency: TrainingEfficiency | None = None,
    memory: MemoryModel | None = None,
    check_memory: bool = True,
    solver: TrainingSolver | None = None,
    power: PowerModel | None = None,
) -> TrainingReport:
    """Predict one training step of ``model`` on ``cluster`` with ``layout``.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` (or catalog name).
    cluster
        A :class:`~blackwell_model.hardware.Cluster`.
    layout
        A :class:`~blackwell_model.parallel.Layout`; it may use fewer GPUs
        than the cluster has (the rest idle), not more.
    efficiency
        :class:`~blackwell_model.solvers.training.TrainingEfficiency`;
        calibrated defaults when omitted.
    memory
        :class:`~blackwell_model.parallel.MemoryModel` constants; its
        ``flash_attention`` also chooses the fused or the unfused attention
        core for the step time.
    check_memory
        Raise when the busiest GPU needs more memory than it has (set False to
        get the report anyway; :attr:`TrainingReport.fits` tells).
    solver
        A :class:`~blackwell_model.solvers.training.TrainingSolver` to reuse
        its caches across calls (must be for the same model and cluster).
    power
        :class:`~blackwell_model.solvers.energy.PowerModel` for the report's
        energy (documented defaults when omitted).  A ``power_cap`` slows the
        compute-bound phases: the report's step time and breakdown include it.

    Raises
    ------
    InfeasibleLayoutError
        If the layout does not divide the model, batch or cluster (the
        ``rule`` names which), or does not fit in memory (rule ``"memory"``,
        with the bytes needed and available).

    Examples
    --------
    >>> import blackwell_model as bm
    >>> model = bm.catalog.model("llama3-8b")
    >>> cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    >>> layout = bm.Layout(tp=2, dp=4, micro_batch=1, global_batch=128, seq_len=8192, precision="bf16")
    >>> report = bm.predict_training(model, cluster, layout)
    >>> 0.2 < report.mfu < 0.8
    True
    """
    model = as_part(model, Transformer, "model", "model")
    check_instance(memory, (MemoryModel, type(None)), "memory", "a MemoryModel or None")
    check_instance(solver, (TrainingSolver, type(None)), "solver", "a TrainingSolver or None")
    if not isinstance(layout, Layout):
        raise SpecError(f"layout must be a Layout, got {type(layout).__name__} {layout!r}")
    if not isinstance(cluster, Cluster):
        raise SpecError(f"cluster must be a Cluster, got {type(cluster).__name__} {cluster!r}")
    layout.check(model, cluster.gpus)
    acc = cluster.accelerator
    peak = acc.peak_flops_per_s(layout.precision)
    mem = memory_per_gpu(model, layout, memory=memory)
    capacity = float(acc.memory_capacity.m)
    if check_memory and mem.total_B > capacity:
        parts = ", ".join(f"{k} {format_quantity(v)}" for k, v in mem.as_dict().items())
        raise InfeasibleLayoutError(
            "memory",
            f"{model.name} with tp={layout.tp} pp={layout.pp} dp={layout.dp} cp={layout.cp} "
            f"ep={layout.ep} needs {format_quantity(mem.total)} per GPU ({parts}) but "
            f"{acc.name} has {format_quantity(acc.memory_capacity)}",
        )
    if solver is None:
        solver = TrainingSolver(model, cluster, efficiency, memory=memory)
    elif not isinstance(solver, TrainingSolver):
        raise SpecError(
            f"solver must be a TrainingSolver or None, got {type(solver).__name__} {solver!r}"
        )
    elif not solver.matches(model, cluster):
        raise SpecError(
            f"solver was built for {solver.model.name} on {solver.cluster.name}, not for "
            f"{model.name} on {cluster.name}; build one with TrainingSolver(model, cluster)"
        )
    flash = memory.flash_attention if memory is not None else True
    res = solver.evaluate(layout_arrays([layout], flash_attention=flash))
    step = float(res.step_time_s[0])
    breakdown = {k: Q_(float(res.breakdown[k][0]), "s") for k in BREAKDOWN_KEYS}
    model_flops = model.training_flops_per_token(layout.seq_len) * layout.tokens_per_step
    report = TrainingReport(
        model_name=model.name,
        cluster_name=cluster.name,
        layout=layout,
        gpus=layout.gpus,
        step_time=Q_(step, "s"),
        breakdown=breakdown,
        model_flops_per_step=Q_(model_flops, "flop"),
        hardware_flops_per_step=Q_(float(res.hardware_flops[0]), "flop"),
        peak_flops_per_gpu=Q_(peak, "flop/s"),
        memory=mem,
        memory_capacity=acc.memory_capacity,
        inputs={
            "phase": "training",
            "model": model,
            "cluster": cluster,
            "efficiency": solver.eff,
            "memory": memory,
            "power": power,
        },
    )
    return with_energy(report, cluster, power=power)


def with_energy(
    report: TrainingReport,
    cluster: Cluster,
    *,
    power: PowerModel | None = None,
    activity: Mapping[str, Any] | None = None,
) -> TrainingReport:
    """``report`` with its :attr:`~TrainingReport.energy` from the energy model.

    A power cap in ``power`` lowers the clock of compute-bound phases, so the
    returned step time and breakdown include the slowdown.

    Parameters
    ----------
    report
        A report from :func:`predict_training` (energy is recomputed from its
        uncapped phase times).
    cluster
        The cluster it was predicted on.
    power
        :class:`~blackwell_model.solvers.energy.PowerModel`.
    activity
        Phase activity overrides (see
        :func:`~blackwell_model.solvers.energy.training_energy`).
    """
    base = report
    if report.energy is not None and report.uncapped_breakdown is not None:
        base = attrs.evolve(
            report,
            breakdown=report.uncapped_breakdown,
            step_time=report.energy.result.uncapped_step_time_s * _S,
        )
    energy = training_energy(base, cluster, power=power, activity=activity)
    changes: dict[str, Any] = {"energy": energy, "uncapped_breakdown": None}
    if energy.result.step_time_s != energy.result.uncapped_step_time_s:
        # a power cap lowers the clock of compute-bound phases: the step is slower
        changes["step_time"] = Q_(energy.result.step_time_s, "s")
        changes["breakdown"] = {k: Q_(energy.result.phase_time_s[k], "s") for k in base.breakdown}
        changes["uncapped_breakdown"] = base.breakdown
    return attrs.evolve(base, **changes)
