"""Part classes: construction, validation, what-ifs and round trips."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import accelerators, links, switches

from blackwell_model import Q_
from blackwell_model.errors import (
    SpecError,
    SpecFileError,
    UnitMismatchError,
    UnknownNameError,
    UnsupportedPrecisionError,
)
from blackwell_model.hardware import (
    CPU,
    Accelerator,
    Cluster,
    Fabric,
    LinkSpec,
    Node,
    Precision,
    ScaleUpDomain,
    Superchip,
    SwitchSpec,
    fat_tree_capacity,
)

NVL4 = LinkSpec(name="nvl4", kind="nvlink", bandwidth="25 GB/s", latency="0.6 us")
NDR = LinkSpec(name="ndr", kind="infiniband", bandwidth="400 Gb/s", latency="2.7 us")


def make_gpu(**changes):
    fields = dict(
        name="TestGPU",
        vendor="Acme",
        peak_flops={"bf16": "989.4 TFLOP/s", "fp8": "1978.9 TFLOP/s"},
        memory_capacity="80 GB",
        memory_bandwidth="3.35 TB/s",
        tdp="700 W",
        scale_up_link=NVL4,
        scale_up_ports=18,
        nic=NDR,
    )
    fields.update(changes)
    return Accelerator(**fields)


def test_precision_parse_and_bytes():
    assert Precision.parse("BF16") is Precision.BF16
    assert Precision.parse("bfloat16") is Precision.BF16
    assert Precision.parse(" FP8 ") is Precision.FP8
    assert Precision.FP4.bytes == 0.5
    assert Precision.FP6.bits == 6.0
    assert Precision.FP64.bytes == 8.0
    with pytest.raises(UnknownNameError, match="fp8"):
        Precision.parse("fp9")


def test_accelerator_fields_are_canonical():
    gpu = make_gpu()
    assert gpu.memory_bandwidth.m == pytest.approx(3.35e12)
    assert gpu.peak_flops[Precision.BF16].m == pytest.approx(989.4e12)
    assert gpu.peak("BF16").m == pytest.approx(989.4e12)
    # 18 links x 25 GB/s = 450 GB/s each way, 900 GB/s total (H100 datasheet)
    assert gpu.scale_up_bandwidth.to("GB/s").m == pytest.approx(450.0)
    assert gpu.scale_up_bandwidth_bidirectional.to("GB/s").m == pytest.approx(900.0)
    # ridge = 989.4e12 / 3.35e12 = 295.3 FLOP/B
    assert gpu.ridge_point("bf16").m == pytest.approx(989.4 / 3.35)


def test_unsupported_precision():
    gpu = make_gpu(peak_flops={"bf16": "312 TFLOP/s"})
    assert not gpu.supports("fp8")
    with pytest.raises(UnsupportedPrecisionError, match="fp8") as info:
        gpu.peak("fp8")
    assert "bf16" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("field", "value", "error", "fragment"),
    [
        ("memory_bandwidth", "80 GB", UnitMismatchError, "memory_bandwidth"),
        ("memory_bandwidth", "-8 TB/s", SpecError, "memory_bandwidth must be > 0 B/s, got -8 TB/s"),
        ("memory_bandwidth", "0 TB/s", SpecError, "memory_bandwidth must be > 0"),
        ("memory_bandwidth", Q_(math.nan, "TB/s"), SpecError, "memory_bandwidth must be finite"),
        ("memory_capacity", Q_(math.inf, "GB"), SpecError, "memory_capacity must be finite"),
        ("tdp", 700, UnitMismatchError, "tdp needs a unit"),
        ("peak_flops", {"fp9": "1 TFLOP/s"}, UnknownNameError, "fp9"),
        ("peak_flops", {"bf16": "-1 TFLOP/s"}, SpecError, "peak_flops\\[bf16\\]"),
        ("peak_flops", {"bf16": "1 TB/s"}, UnitMismatchError, "peak_flops\\[bf16\\]"),
        ("peak_flops", {}, SpecError, "non-empty"),
        ("scale_up_ports", -1, SpecError, "scale_up_ports must be an integer >= 0, got -1"),
        ("scale_up_ports", 2.5, SpecError, "scale_up_ports must be an integer"),
        ("idle_power", "800 W", SpecError, "idle_power must be < tdp"),
        ("scale_up_link", 3, SpecError, "scale_up_link must be a LinkSpec"),
    ],
)
def test_bad_accelerator_input(field, value, error, fragment):
    with pytest.raises(error, match=fragment):
        make_gpu(**{field: value})


def test_ports_without_link_is_an_error():
    with pytest.raises(SpecError, match="scale_up_link"):
        make_gpu(scale_up_link=None, scale_up_ports=4)


def test_evolve_what_if():
    gpu = make_gpu()
    faster = attrs.evolve(gpu, memory_bandwidth="10 TB/s")
    assert faster.memory_bandwidth.m == pytest.approx(1e13)
    assert gpu.memory_bandwidth.m == pytest.approx(3.35e12)
    assert faster.ridge_point("bf16").m < gpu.ridge_point("bf16").m
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        gpu.tdp = Q_(1.0, "W")  # type: ignore[misc]


def test_accelerator_dict_round_trip_and_unknown_fields():
    gpu = make_gpu(sources={"tdp": "datasheet"})
    data = gpu.to_dict()
    assert data["memory_bandwidth"] == "3350000000000.0 B/s"
    assert data["peak_flops"]["bf16"] == "989400000000000.0 FLOP/s"
    assert Accelerator.from_dict(data) == gpu
    with pytest.raises(SpecFileError, match="'colour'"):
        Accelerator.from_dict({**data, "colour": "green"})
    incomplete = {k: v for k, v in data.items() if k != "tdp"}
    with pytest.raises(SpecFileError, match="'tdp'"):
        Accelerator.from_dict(incomplete)
    with pytest.raises(SpecFileError):
        Accelerator.from_dict(["not", "a", "table"])  # type: ignore[arg-type]


def test_from_dict_error_names_the_part():
    data = make_gpu().to_dict()
    data["memory_bandwidth"] = "-1 TB/s"
    with pytest.raises(SpecError, match="Accelerator 'TestGPU': memory_bandwidth"):
        Accelerator.from_dict(data)


@given(accelerators())
def test_accelerator_round_trip_property(gpu):
    again = Accelerator.from_dict(gpu.to_dict())
    assert again == gpu
    assert again.to_dict() == gpu.to_dict()


@given(links)
def test_link_round_trip(link):
    assert LinkSpec.from_dict(link.to_dict()) == link
    assert link.bidirectional_bandwidth.m == pytest.approx(2 * link.bandwidth_Bps)


@given(switches)
def test_switch_round_trip(sw):
    assert SwitchSpec.from_dict(sw.to_dict()) == sw
    assert sw.switching_capacity.m == pytest.approx(2 * sw.ports * sw.port_bandwidth.m)
    assert sw.supports_reduction == bool(sw.in_network_reduction)


@given(accelerators(), st.floats(min_value=1e9, max_value=1e14))
def test_evolve_round_trips(gpu, bw):
    changed = attrs.evolve(gpu, memory_bandwidth=Q_(bw, "B/s"))
    back = attrs.evolve(changed, memory_bandwidth=gpu.memory_bandwidth)
    assert back == gpu


def test_link_kind_error_lists_valid():
    with pytest.raises(SpecError, match="'nvlink'"):
        LinkSpec(name="x", kind="smoke-signals", bandwidth="1 GB/s", latency="1 us")


GRACE = CPU(name="cpu", cores=72, memory_bandwidth="512 GB/s")
C2C = LinkSpec(name="c2c", kind="c2c", bandwidth="450 GB/s", latency="0.6 us")
NVL5 = LinkSpec(name="nvl5", kind="nvlink", bandwidth="50 GB/s", latency="0.6 us")
NVSW = SwitchSpec(
    name="sw",
    kind="nvlink",
    ports=72,
    port_bandwidth="50 GB/s",
    latency="0 ns",
    in_network_reduction="NVLS",
)
IBSW = SwitchSpec(
    name="ib", kind="infiniband", ports=64, port_bandwidth="400 Gb/s", latency="200 ns"
)


def nvl72(gpu=None):
    gpu = gpu or make_gpu(scale_up_link=NVL5)
    sc = Superchip(name="sc", cpu=GRACE, accelerator=gpu, accelerators=2, c2c_link=C2C)
    tray = Node(name="tray", superchip=sc, superchips=2)
    return ScaleUpDomain(
        name="rack", node=tray, nodes=18, switch=NVSW, switches=18, cooling="liquid"
    )


def test_superchip_node_domain_counts():
    rack = nvl72()
    assert rack.node.accelerators == 4 and rack.node.cpus == 2
    assert rack.gpus == 72 and rack.cpus == 36
    # 72 GPUs x 18 links x 100 GB/s bidirectional = 129.6 TB/s (NVIDIA: "130 TB/s")
    assert rack.total_scale_up_bandwidth.to("TB/s").m == pytest.approx(129.6)
    assert rack.scale_up_bandwidth.to("GB/s").m == pytest.approx(900.0)
    assert rack.node.nic == NDR


def test_domain_switch_ports_must_suffice():
    tray = nvl72().node
    with pytest.raises(SpecError, match="ports"):
        ScaleUpDomain(name="short", node=tray, nodes=18, switch=NVSW, switches=9)


def test_switched_domain_needs_switch():
    tray = nvl72().node
    with pytest.raises(SpecError, match="needs a switch"):
        ScaleUpDomain(name="no-switch", node=tray, nodes=2)


def test_torus_shape_must_match():
    gpu = make_gpu()
    node = Node(name="host", accelerator=gpu, accelerators=4)
    ok = ScaleUpDomain(name="t", node=node, nodes=16, topology="torus", torus_shape=[8, 8])
    assert ok.gpus == 64 and ok.torus_shape == (8, 8)
    with pytest.raises(SpecError, match="torus_shape"):
        ScaleUpDomain(name="t", node=node, nodes=16, topology="torus", torus_shape=[4, 4])
    with pytest.raises(SpecError, match="torus_shape"):
        ScaleUpDomain(name="t", node=node, nodes=16, topology="mesh", torus_shape=[8, 8])


def test_node_inconsistencies():
    gpu = make_gpu()
    sc = Superchip(name="sc", cpu=GRACE, accelerator=gpu, c2c_link=C2C)
    with pytest.raises(SpecError, match="accelerators must be superchips"):
        Node(name="n", superchip=sc, superchips=2, accelerators=3)
    with pytest.raises(SpecError, match="differs"):
        Node(name="n", superchip=sc, superchips=1, accelerator=make_gpu(name="other"))
    with pytest.raises(SpecError, match="needs an accelerator"):
        Node(name="n")
    with pytest.raises(SpecError, match="no superchip"):
        Node(name="n", accelerator=gpu, accelerators=8, superchips=2)


@pytest.mark.parametrize(
    ("radix", "tiers", "over", "expected"),
    [
        (64, 1, 1.0, 64),
        (64, 2, 1.0, 32 * 64),  # 32 down-ports per leaf x 64 leaves
        (64, 3, 1.0, 32 * 64 * 32),  # k^3/4 = 65,536
        (64, 2, 3.0, 48 * 64),  # 48 down : 16 up
        (40, 2, 1.0, 800),  # HDR QM8700, k^2/2
    ],
)
def test_fat_tree_capacity_by_hand(radix, tiers, over, expected):
    assert fat_tree_capacity(radix, tiers, over) == expected


def test_cluster_capacity_check():
    rack = nvl72()
    fabric = Fabric(name="ft", switch=IBSW, tiers=2)
    ok = Cluster(name="c", domain=rack, domains=28, fabric=fabric)  # 2016 <= 2048
    assert ok.gpus == 2016 and ok.nics == 2016
    with pytest.raises(SpecError, match="connects at most 2048"):
        Cluster(name="c", domain=rack, domains=29, fabric=fabric)
    with pytest.raises(SpecError, match="no fabric"):
        Cluster(name="c", domain=rack, domains=2)
    with pytest.raises(SpecError, match="oversubscription"):
        Fabric(name="ft", switch=IBSW, oversubscription=0.5)
    with pytest.raises(SpecError, match="tiers"):
        Fabric(name="ft", switch=IBSW, tiers=4)


def test_cluster_round_trip():
    cluster = Cluster(
        name="c",
        domain=nvl72(),
        domains=4,
        fabric=Fabric(name="ft", switch=IBSW, tiers=2, oversubscription=2),
    )
    assert Cluster.from_dict(cluster.to_dict()) == cluster


def test_summary_is_readable():
    text = make_gpu().summary()
    assert "memory_bandwidth  3.35 TB/s" in text
    assert "bf16: 989.4 TFLOPS" in text
