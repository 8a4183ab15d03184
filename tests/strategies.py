"""Hypothesis strategies for parts, shared by the test suite."""

from __future__ import annotations

from hypothesis import strategies as st

from blackwell_model.hardware import Accelerator, LinkSpec, Precision, SwitchSpec

__all__ = ["accelerators", "finite_positive", "links", "quantity_text", "switches"]

#: Positive finite floats spanning the magnitudes of real hardware.
finite_positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


def quantity_text(units: list[str]) -> st.SearchStrategy[str]:
    """Strings such as ``'12.5 TB/s'`` with a positive magnitude and one of ``units``."""
    return st.builds(lambda m, u: f"{m!r} {u}", finite_positive, st.sampled_from(units))


names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)

links = st.builds(
    LinkSpec,
    name=names,
    kind=st.sampled_from(["nvlink", "c2c", "pcie", "infiniband", "ethernet"]),
    bandwidth=quantity_text(["GB/s", "Gb/s", "TB/s", "MB/s", "GiB/s"]),
    latency=quantity_text(["ns", "us", "ms"]),
    energy_per_bit=st.one_of(st.none(), quantity_text(["pJ/bit"])),
)

switches = st.builds(
    SwitchSpec,
    name=names,
    kind=st.sampled_from(["nvlink", "infiniband", "ethernet"]),
    ports=st.integers(min_value=1, max_value=512),
    port_bandwidth=quantity_text(["GB/s", "Gb/s"]),
    latency=quantity_text(["ns"]),
    in_network_reduction=st.sampled_from(["", "NVLS", "SHARPv3"]),
    power=st.one_of(st.none(), quantity_text(["W", "kW"])),
)

peaks = st.dictionaries(
    st.sampled_from([p.value for p in Precision]),
    quantity_text(["TFLOP/s", "PFLOP/s", "GFLOP/s"]),
    min_size=1,
)


@st.composite
def accelerators(draw: st.DrawFn) -> Accelerator:
    """Random but valid accelerators (idle power below TDP)."""
    tdp = draw(st.floats(min_value=10.0, max_value=5000.0))
    idle = draw(st.one_of(st.none(), st.floats(min_value=1.0, max_value=0.9 * tdp)))
    link = draw(st.one_of(st.none(), links))
    return Accelerator(
        name=draw(names),
        vendor=draw(st.sampled_from(["NVIDIA", "AMD", "Acme"])),
        peak_flops=draw(peaks),
        memory_capacity=draw(quantity_text(["GB", "GiB", "TB"])),
        memory_bandwidth=draw(quantity_text(["TB/s", "GB/s"])),
        sram=draw(st.one_of(st.none(), quantity_text(["MB", "MiB"]))),
        tdp=f"{tdp!r} W",
        idle_power=None if idle is None else f"{idle!r} W",
        scale_up_link=link,
        scale_up_ports=0 if link is None else draw(st.integers(min_value=1, max_value=64)),
        nic=draw(st.one_of(st.none(), links)),
    )
