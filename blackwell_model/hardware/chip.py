"""Accelerators (GPUs, TPUs, ...) and host CPUs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pint

from .._spec import Spec, int_field, name_field, part_field, q_field, sources_field, text_field
from ..errors import SpecError, UnsupportedPrecisionError
from ..units import Q_, parse_quantity
from .link import LinkSpec
from .precision import Precision

__all__ = ["CPU", "Accelerator", "PrecisionMap"]


class PrecisionMap(dict[Precision, pint.Quantity]):
    """A dict keyed by :class:`Precision` that also accepts precision names.

    ``peaks["bf16"]`` and ``peaks[Precision.BF16]`` are the same entry.
    """

    def __getitem__(self, key: Any) -> pint.Quantity:
        return super().__getitem__(Precision.parse(key))

    def __contains__(self, key: object) -> bool:
        try:
            return super().__contains__(Precision.parse(key))
        except KeyError:
            return False

    def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        """Entry for ``key`` (a Precision or its name), or ``default``."""
        return self[key] if key in self else default  # noqa: SIM401 (self.get would recurse)


def _peak_map(value: Any, field: attrs.Attribute) -> PrecisionMap:  # type: ignore[type-arg]
    if not isinstance(value, Mapping) or not value:
        raise SpecError(
            f"{field.name} must be a non-empty table of precision -> dense peak rate "
            f"(e.g. {{'bf16': '989.4 TFLOP/s'}}), got {value!r}"
        )
    out: dict[Precision, pint.Quantity] = {}
    for key, rate in value.items():
        p = Precision.parse(key)
        q = parse_quantity(rate, "TFLOP/s", name=f"{field.name}[{p.value}]")
        mag = float(q.m)
        if not (mag > 0 and mag < float("inf")):
            raise SpecError(
                f"{field.name}[{p.value}] must be a finite rate > 0 FLOP/s, got {rate!r}"
            )
        out[p] = q
    # Keep a stable order (the enum's) so that equal parts print identically.
    return PrecisionMap((p, out[p]) for p in Precision if p in out)


def _optional_units(value: Any, field: attrs.Attribute) -> int | None:  # type: ignore[type-arg]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{field.name} must be an integer >= 1 or left out, got {value!r}")
    return value


@attrs.frozen(kw_only=True, repr=False)
class Accelerator(Spec):
    """An AI accelerator: a GPU, TPU or similar device with its own memory.

    Parameters
    ----------
    name
        Catalog name, e.g. ``"H100-SXM"``.
    vendor
        Manufacturer.
    peak_flops
        Dense peak tensor rate per precision [FLOP/s].  Vendors often quote
        2:4-sparse figures, exactly twice the dense rate; store dense.
    memory_capacity
        Usable device memory [B] (decimal GB unless the source says GiB).
    memory_bandwidth
        Peak device-memory bandwidth [B/s].
    memory_type
        E.g. ``"HBM3e"``.
    sram
        Last-level on-chip memory (L2 or SRAM) [B], where known.
    tdp
        Thermal design power (maximum board power) [W].
    idle_power
        Power when idle [W], where known.
    scale_up_link
        One scale-up port (NVLink, Infinity Fabric, ICI), or None.
    scale_up_ports
        Number of scale-up ports (18 NVLink links on H100 and B200).
    nic
        Default scale-out network port per accelerator, or None.
    host_link
        Link to the host CPU (PCIe or C2C), or None.
    compute_units
        Parallel compute units the GEMM kernels spread tiles over (streaming
        multiprocessors on NVIDIA, compute units on AMD), where known; the
        roofline's wave quantisation uses it.
    sources
        Field name -> source (URL or paper + table), with confidence.
    notes
        Caveats, e.g. which figures the vendor quotes sparse.

    Examples
    --------
    >>> import blackwell_model as bm
    >>> h100 = bm.catalog.accelerator("H100-SXM")
    >>> print(h100.peak_flops["bf16"].to("TFLOP/s"))
    989.4 TFLOP/s
    >>> faster = attrs.evolve(h100, memory_bandwidth="4.8 TB/s")
    >>> round(faster.ridge_point("bf16").m, 1)
    206.1
    """

    catalog_kind = "accelerator"

    name: str = name_field()
    vendor: str = text_field()
    peak_flops: PrecisionMap = attrs.field(
        converter=attrs.Converter(_peak_map, takes_field=True),  # type: ignore[call-overload,misc]
        metadata={"bm_kind": "peaks"},
    )
    memory_capacity: pint.Quantity = q_field("GB")
    memory_bandwidth: pint.Quantity = q_field("TB/s")
    memory_type: str = text_field()
    sram: pint.Quantity | None = q_field("MB", optional=True)
    tdp: pint.Quantity = q_field("W")
    idle_power: pint.Quantity | None = q_field("W", optional=True)
    scale_up_link: LinkSpec | None = part_field(lambda: LinkSpec, "link", optional=True)
    scale_up_ports: int = int_field(minimum=0, default=0)
    nic: LinkSpec | None = part_field(lambda: LinkSpec, "link", optional=True)
    host_link: LinkSpec | None = part_field(lambda: LinkSpec, "link", optional=True)
    compute_units: int | None = attrs.field(
        default=None,
        converter=attrs.Converter(_optional_units, takes_field=True),  # type: ignore[call-overload,misc]
    )
    sources: dict[str, str] = sources_field()
    notes: str = text_field()

    @idle_power.validator
    def _check_idle(self, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
        if value is not None and value.m >= self.tdp.m:
            raise SpecError(f"idle_power must be < tdp ({self.tdp:~P}), got {value:~P}")

    @scale_up_ports.validator
    def _check_ports(self, attribute: attrs.Attribute, value: int) -> None:  # type: ignore[type-arg]
        if value > 0 and self.scale_up_link is None:
            raise SpecError(f"scale_up_ports is {value} but scale_up_link is not given")

    def supports(self, precision: Precision | str) -> bool:
        """True if the accelerator has a tensor rate for ``precision``."""
        return Precision.parse(precision) in self.peak_flops

    def peak(self, precision: Precision | str) -> pint.Quantity:
        """Dense peak rate at ``precision`` [FLOP/s].

        Raises
        ------
        UnsupportedPrecisionError
            If the accelerator has no rate for that precision (e.g. FP8 on A100).
        """
        p = Precision.parse(precision)
        try:
            return self.peak_flops[p]
        except KeyError:
            have = ", ".join(x.value for x in self.peak_flops)
            raise UnsupportedPrecisionError(
                f"{self.name} does not support {p.value}; supported precisions: {have}"
            ) from None

    def peak_flops_per_s(self, precision: Precision | str) -> float:
        """Dense peak rate at ``precision`` as a float [FLOP/s] (for solvers)."""
        return float(self.peak(precision).m)

    def ridge_point(self, precision: Precision | str) -> pint.Quantity:
        """Arithmetic intensity where compute and memory time are equal [FLOP/B].

        .. math:: I^* = \\frac{P_{peak}}{B_{mem}}
        """
        return Q_(self.peak_flops_per_s(precision) / float(self.memory_bandwidth.m), "flop/B")

    @property
    def scale_up_bandwidth(self) -> pint.Quantity:
        """Scale-up bandwidth per direction, all ports [B/s] (900 GB/s on B200)."""
        if self.scale_up_link is None:
            return Q_(0.0, "B/s")
        return self.scale_up_link.bandwidth * float(self.scale_up_ports)

    @property
    def scale_up_bandwidth_bidirectional(self) -> pint.Quantity:
        """Scale-up bandwidth, both directions summed [B/s] (1.8 TB/s on B200)."""
        return self.scale_up_bandwidth * 2.0


@attrs.frozen(kw_only=True, repr=False)
class CPU(Spec):
    """A host CPU (Grace, Xeon, EPYC).

    Parameters
    ----------
    name
        Catalog name.
    vendor
        Manufacturer.
    cores
        Physical cores.
    frequency
        Base clock [Hz], where known.
    memory_capacity
        Attached memory per CPU [B], where known.
    memory_bandwidth
        Memory bandwidth per CPU [B/s], where known.
    tdp
        Thermal design power [W], where known.
    """

    catalog_kind = "cpu"

    name: str = name_field()
    vendor: str = text_field()
    cores: int = int_field(minimum=1)
    frequency: pint.Quantity | None = q_field("GHz", optional=True)
    memory_capacity: pint.Quantity | None = q_field("GB", optional=True)
    memory_bandwidth: pint.Quantity | None = q_field("GB/s", optional=True)
    tdp: pint.Quantity | None = q_field("W", optional=True)
    sources: dict[str, str] = sources_field()
    notes: str = text_field()
