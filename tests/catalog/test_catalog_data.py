"""The shipped catalog data: published figures, provenance and physical invariants.

Expected numbers are the vendors' published figures (or hand arithmetic on
them), never values read back from the code.
"""

from __future__ import annotations

import math
import re
import tomllib
from importlib import resources
from typing import Any

import attrs
import pytest

import blackwell_model as bm
from blackwell_model.catalog import KINDS

GB = 1e9
TB = 1e12
TFLOPS = 1e12
PFLOPS = 1e15

HARDWARE_KINDS = [k for k in KINDS if k != "model"]


def _raw_entries() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(file, kind, name, raw table) for every entry of the shipped TOML files."""
    out = []
    data = resources.files("blackwell_model.catalog") / "data"
    for item in sorted(data.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".toml"):
            continue
        doc = tomllib.loads(item.read_text("utf-8"))
        for kind, table in doc.items():
            if kind not in HARDWARE_KINDS:  # models are tested with the workload package
                continue
            for name, raw in table.items():
                out.append((item.name, kind, name, raw))
    return out


RAW = _raw_entries()
ALL_ENTRIES = [(kind, name) for _, kind, name, _ in RAW]


# ------------------------------------------------------------ published facts


def test_h100_sxm_published_figures() -> None:
    h100 = bm.catalog.accelerator("H100-SXM")
    assert h100.peak_flops_per_s("bf16") == pytest.approx(989.4 * TFLOPS)
    assert h100.peak_flops_per_s("fp8") == pytest.approx(1978.9 * TFLOPS)
    assert h100.memory_bandwidth.m == pytest.approx(3.35 * TB)
    # nvidia-smi: 81559 MiB on 'H100 80GB HBM3' (the datasheet's 80 GB is binary)
    assert h100.memory_capacity.m == pytest.approx(81559 * 2**20)
    assert h100.scale_up_bandwidth_bidirectional.m == pytest.approx(900 * GB)
    assert h100.tdp.m == pytest.approx(700)


def test_b200_in_gb200_published_figures() -> None:
    b200 = bm.catalog.accelerator("B200-GB200")
    assert b200.peak_flops_per_s("bf16") == pytest.approx(2.5 * PFLOPS)
    assert b200.peak_flops_per_s("fp4") == pytest.approx(10 * PFLOPS)  # 20 PF sparse / 2
    assert b200.memory_bandwidth.m == pytest.approx(8 * TB)
    # NVLink 5: 18 links, 1.8 TB/s "total" = 900 GB/s each way.
    assert b200.scale_up_bandwidth_bidirectional.m == pytest.approx(1.8 * TB)
    assert b200.scale_up_bandwidth.m == pytest.approx(900 * GB)
    assert b200.scale_up_link.bandwidth.m == pytest.approx(50 * GB)


def test_hgx_b200_gpu_is_the_1000w_part() -> None:
    b200 = bm.catalog.accelerator("B200")
    assert bm.catalog.accelerator("B200-HGX") is b200
    assert bm.catalog.accelerator("B200-SXM") is b200
    assert b200.tdp.m == pytest.approx(1000)
    assert b200.peak_flops_per_s("bf16") == pytest.approx(2250 * TFLOPS)  # 4.5 PF sparse / 2
    assert b200.peak_flops_per_s("fp4") == pytest.approx(9000 * TFLOPS)  # 18 PF sparse / 2
    # nvidia-smi: 183359 MiB (179 GiB, 'the 180 GB' of the datasheet)
    assert b200.memory_capacity.m == pytest.approx(180 * 2**30, rel=0.01)


def test_gb200_nvl72_rack() -> None:
    nvl72 = bm.catalog.system("GB200-NVL72")
    assert nvl72.gpus == 72
    assert nvl72.cpus == 36
    assert nvl72.total_scale_up_bandwidth.m == pytest.approx(129.6 * TB)  # 72 x 1.8 TB/s
    acc = nvl72.accelerator
    assert nvl72.gpus * acc.peak_flops_per_s("bf16") == pytest.approx(180 * PFLOPS)
    assert nvl72.gpus * acc.peak_flops_per_s("fp8") == pytest.approx(360 * PFLOPS)
    assert nvl72.gpus * acc.peak_flops_per_s("fp4") == pytest.approx(720 * PFLOPS)
    assert nvl72.gpus * acc.memory_bandwidth.m == pytest.approx(576 * TB)
    assert nvl72.cpus * nvl72.node.cpu.cores == 2592


def test_gb300_nvl72_rack() -> None:
    nvl72 = bm.catalog.system("GB300-NVL72")
    assert nvl72.gpus == 72
    assert nvl72.cpus == 36
    acc = nvl72.accelerator
    assert nvl72.gpus * acc.peak_flops_per_s("fp4") == pytest.approx(1080 * PFLOPS)
    assert nvl72.gpus * acc.peak_flops_per_s("bf16") == pytest.approx(180 * PFLOPS)
    assert acc.memory_capacity.m == pytest.approx(279 * GB)
    assert nvl72.total_scale_up_bandwidth.m == pytest.approx(129.6 * TB)
    assert nvl72.node.nic_bandwidth.m == pytest.approx(100 * GB)  # 800 Gb/s ConnectX-8


def test_hgx_and_dgx_eight_gpu_boards() -> None:
    dgx_h100 = bm.catalog.system("DGX-H100")
    assert dgx_h100.gpus == 8
    assert dgx_h100.total_scale_up_bandwidth.m == pytest.approx(7.2 * TB)
    dgx_b200 = bm.catalog.system("DGX-B200")
    assert dgx_b200.total_scale_up_bandwidth.m == pytest.approx(14.4 * TB)
    # NVIDIA's 1,440 GB total is binary: 8 x 180 GiB, within the 1 % the driver keeps
    assert dgx_b200.gpus * dgx_b200.accelerator.memory_capacity.m == pytest.approx(
        1440 * 2**30, rel=0.01
    )
    # HGX B200 table: 144 PF FP4 and 72 PF FP8, both sparse.
    assert 8 * dgx_b200.accelerator.peak_flops_per_s("fp4") * 2 == pytest.approx(144 * PFLOPS)
    assert 8 * dgx_b200.accelerator.peak_flops_per_s("fp8") * 2 == pytest.approx(72 * PFLOPS)
    dgx_h200 = bm.catalog.system("DGX-H200")
    assert dgx_h200.gpus * dgx_h200.accelerator.memory_capacity.m == pytest.approx(
        1128 * 2**30, rel=0.01
    )
    # DGX H100/H200: "32 PFLOPs of FP8" (sparse) = 8 x 1,978.9 x 2 TFLOPS.
    assert 8 * dgx_h200.accelerator.peak_flops_per_s("fp8") * 2 == pytest.approx(
        32 * PFLOPS, rel=0.02
    )
    dgx_a100 = bm.catalog.system("DGX-A100")
    assert dgx_a100.gpus == 8
    assert dgx_a100.switches == 6
    assert dgx_a100.total_scale_up_bandwidth.m == pytest.approx(8 * 600 * GB)
    assert dgx_a100.max_power.m == pytest.approx(6.5e3)
    assert bm.catalog.system("DGX-B200").max_power.m == pytest.approx(14.3e3)


def test_h800_reduced_nvlink() -> None:
    h800 = bm.catalog.accelerator("H800")
    assert h800.scale_up_ports == 8
    assert h800.scale_up_bandwidth_bidirectional.m == pytest.approx(400 * GB)
    assert bm.catalog.system("DGX-H800").scale_up_bandwidth.m == pytest.approx(200 * GB)
    assert not h800.supports("fp4")


def test_amd_infinity_fabric_aggregate() -> None:
    mi300x = bm.catalog.accelerator("MI300X")
    assert mi300x.scale_up_ports == 7
    assert mi300x.scale_up_bandwidth_bidirectional.m == pytest.approx(896 * GB)
    assert mi300x.peak_flops_per_s("bf16") == pytest.approx(1307.4 * TFLOPS)
    mesh = bm.catalog.system("MI300X-8")
    assert mesh.topology is bm.DomainTopology.MESH
    assert mesh.switch is None
    assert mesh.gpus == 8


def test_tpu_pod_figures() -> None:
    v5e = bm.catalog.system("TPU-v5e-256")
    assert v5e.gpus == 256
    assert v5e.gpus * v5e.accelerator.peak_flops_per_s("bf16") == pytest.approx(
        50.63 * PFLOPS, rel=0.01
    )
    # 4 ports x 50 GB/s x 2 directions = 400 GB/s bidirectional per chip.
    assert v5e.accelerator.scale_up_bandwidth_bidirectional.m == pytest.approx(400 * GB)
    # DCN: 2 x 100 Gb/s per 8-chip host; 6.4 Tb/s per pod.
    assert v5e.gpus * v5e.node.nic_bandwidth.m * 8 == pytest.approx(6.4e12)
    v6e = bm.catalog.system("TPU-v6e-256")
    assert v6e.gpus * v6e.accelerator.peak_flops_per_s("bf16") == pytest.approx(
        234.9 * PFLOPS, rel=0.001
    )
    assert v6e.accelerator.scale_up_bandwidth_bidirectional.m == pytest.approx(800 * GB)
    v5p = bm.catalog.system("TPU-v5p-6144")
    assert v5p.gpus == 16 * 16 * 24
    assert v5p.accelerator.scale_up_bandwidth_bidirectional.m == pytest.approx(1200 * GB)
    assert v5p.accelerator.memory_capacity.m == pytest.approx(95 * 2**30)


def test_trn2_instance_totals() -> None:
    trn2 = bm.catalog.system("Trn2-16")
    acc = trn2.accelerator
    assert trn2.gpus == 16
    assert trn2.torus_shape == (4, 4)
    assert trn2.gpus * acc.peak_flops_per_s("bf16") == pytest.approx(10.7 * PFLOPS, rel=0.01)
    assert trn2.gpus * acc.peak_flops_per_s("fp8") == pytest.approx(20.8 * PFLOPS, rel=0.01)
    assert trn2.gpus * acc.memory_bandwidth.m == pytest.approx(46.4 * TB)
    assert trn2.gpus * acc.memory_capacity.m == pytest.approx(1536 * 2**30)
    assert trn2.gpus * trn2.node.nic_bandwidth.m * 8 == pytest.approx(3.2e12)  # EFAv3 3.2 Tb/s
    # AWS: 1,024 GB/s NeuronLink-v3 per chip inside an instance (read as both directions).
    assert acc.scale_up_bandwidth_bidirectional.m == pytest.approx(1024 * GB)


def test_gaudi3_and_maia_port_budgets() -> None:
    gaudi = bm.catalog.system("Gaudi3-HLS-3")
    assert gaudi.links_per_accelerator + gaudi.node.nics_per_accelerator == 24
    assert gaudi.link.bandwidth.m == pytest.approx(25 * GB)  # 200 GbE
    maia = bm.catalog.system("Maia100-4")
    ports = maia.links_per_accelerator + maia.node.nics_per_accelerator
    assert ports == 12
    assert ports * maia.link.bandwidth.m == pytest.approx(600 * GB)  # 12 x 400 GbE


@pytest.mark.parametrize(
    ("name", "per_direction_gbyte_s"),
    [
        ("NVLink3", 25),
        ("NVLink4", 25),
        ("NVLink5", 50),
        ("NVLink-C2C", 450),
        ("PCIe-Gen4-x16", 32),
        ("PCIe-Gen5-x16", 64),
        ("PCIe-Gen6-x16", 128),
        ("IB-HDR-200G", 25),
        ("IB-NDR-400G", 50),
        ("IB-XDR-800G", 100),
        ("Ethernet-400G", 50),
        ("Ethernet-800G", 100),
        ("Infinity-Fabric", 64),
    ],
)
def test_link_rates_per_direction(name: str, per_direction_gbyte_s: float) -> None:
    assert bm.catalog.link(name).bandwidth.m == pytest.approx(per_direction_gbyte_s * GB)


# Vendors mix conventions: Mellanox/NVIDIA InfiniBand headlines count both
# directions (QM9700 "51.2 Tb/s bidirectional" = 64 x 400 Gb/s x 2), while the
# Quantum-X800 (115.2 Tb/s) and SN5600 (51.2 Tb/s) headlines are ports x rate.
@pytest.mark.parametrize(
    ("name", "ports", "both_directions_tbit_s"),
    [
        ("QM8700", 40, 16.0),  # 40 x 200 Gb/s x 2
        ("QM9700", 64, 51.2),  # vendor, bidirectional
        ("Quantum-X800", 144, 2 * 115.2),  # vendor 144 x 800 Gb/s, one direction
        ("Spectrum-4", 64, 2 * 51.2),  # vendor 64 x 800 GbE, one direction
        ("NVSwitch3", 64, 3.2 * 8),  # 3.2 TB/s = 64 x 50 GB/s (both directions)
        ("NVLink-Switch", 72, 7.2 * 8),  # 7.2 TB/s = 72 x 100 GB/s (both directions)
    ],
)
def test_switch_radix_and_capacity(name: str, ports: int, both_directions_tbit_s: float) -> None:
    sw = bm.catalog.switch(name)
    assert sw.ports == ports
    assert sw.switching_capacity.m * 8 == pytest.approx(both_directions_tbit_s * 1e12)


def test_in_network_reduction_only_where_published() -> None:
    assert bm.catalog.switch("Quantum-X800").supports_reduction
    assert bm.catalog.switch("QM9700").supports_reduction
    assert not bm.catalog.switch("Spectrum-4").supports_reduction
    assert not bm.catalog.fabric("Spectrum-X-Ethernet").sharp


# ------------------------------------------------------- precision support


@pytest.mark.parametrize(
    ("name", "unsupported"),
    [
        ("A100-SXM-80GB", ["fp8", "fp6", "fp4"]),
        ("H100-SXM", ["fp6", "fp4"]),
        ("H100-PCIe", ["fp6", "fp4"]),
        ("H200-SXM", ["fp6", "fp4"]),
        ("MI300X", ["fp6", "fp4"]),
        ("TPU-v5e", ["fp8", "fp4", "fp64"]),
    ],
)
def test_unsupported_precisions_are_absent(name: str, unsupported: list[str]) -> None:
    acc = bm.catalog.accelerator(name)
    for p in unsupported:
        assert not acc.supports(p)
        with pytest.raises(bm.UnsupportedPrecisionError, match=p):
            acc.peak(p)


# --------------------------------------------------------- every entry builds


@pytest.mark.parametrize(("kind", "name"), ALL_ENTRIES, ids=[f"{k}:{n}" for k, n in ALL_ENTRIES])
def test_every_entry_builds(kind: str, name: str) -> None:
    part = bm.catalog.get(kind, name)
    assert part.name == name
    assert isinstance(part, KINDS[kind]())


def test_required_entries_present() -> None:
    want = {
        "accelerator": [
            "A100-SXM-80GB",
            "H100-SXM",
            "H100-PCIe",
            "H200-SXM",
            "H800",
            "B200",
            "B200-GB200",
            "B300",
            "B300-GB300",
            "MI300X",
            "MI325X",
            "MI355X",
            "Gaudi3",
            "TPU-v5e",
            "TPU-v5p",
            "TPU-v6e",
            "Trainium2",
            "Maia100",
        ],
        "cpu": ["Grace", "Xeon-8480C"],
        "link": [
            "NVLink3",
            "NVLink4",
            "NVLink5",
            "NVLink-C2C",
            "PCIe-Gen5-x16",
            "PCIe-Gen6-x16",
            "IB-HDR-200G",
            "IB-NDR-400G",
            "IB-XDR-800G",
            "Ethernet-400G",
            "Ethernet-800G",
            "Infinity-Fabric",
            "ICI-v5e",
            "ICI-v5p",
            "ICI-v6e",
            "NeuronLink-v3",
        ],
        "switch": [
            "NVSwitch2",
            "NVSwitch3",
            "NVLink-Switch",
            "QM8700",
            "QM9700",
            "Quantum-X800",
            "Spectrum-4",
        ],
        "superchip": ["GB200", "GB300"],
        "system": [
            "DGX-A100",
            "DGX-H100",
            "DGX-H200",
            "DGX-H800",
            "DGX-B200",
            "DGX-B300",
            "GB200-NVL72",
            "GB300-NVL72",
            "MI300X-8",
        ],
        "fabric": [
            "IB-HDR-fat-tree",
            "IB-NDR-fat-tree",
            "IB-XDR-fat-tree",
            "Spectrum-X-Ethernet",
        ],
    }
    for kind, wanted in want.items():
        have = set(bm.catalog.names(kind))
        assert set(wanted) <= have, f"{kind}: missing {sorted(set(wanted) - have)}"


# ------------------------------------------------------------------ provenance

_MARK = re.compile(r"\((V|R|U)\)\s*$")


def _numeric_fields(kind: str) -> set[str]:
    cls = KINDS[kind]()
    out = set()
    for f in attrs.fields(cls):
        numeric_kind = f.metadata.get("bm_kind") in ("quantity", "int", "peaks")
        if numeric_kind or f.name in ("oversubscription", "torus_shape", "tiers"):
            out.add(f.name)
    return out


@pytest.mark.parametrize(
    ("origin", "kind", "name", "raw"), RAW, ids=[f"{k}:{n}" for _, k, n, _ in RAW]
)
def test_every_numeric_field_has_a_source(
    origin: str, kind: str, name: str, raw: dict[str, Any]
) -> None:
    numeric = _numeric_fields(kind)
    sources = raw.get("sources", {})
    missing = [k for k in raw if k in numeric and k not in sources]
    assert not missing, f"{origin} [{kind}.{name!r}]: no source for {missing}"
    for key, text in sources.items():
        assert key in raw, f"{origin} [{kind}.{name!r}]: source for absent field {key!r}"
        assert _MARK.search(text) or "assumption" in text.lower(), (
            f"{origin} [{kind}.{name!r}] source of {key!r} has no (V)/(R)/(U) mark "
            f"and is not marked as an assumption: {text!r}"
        )


@pytest.mark.parametrize(
    ("origin", "kind", "name", "raw"),
    [r for r in RAW if r[1] == "accelerator"],
    ids=[n for _, k, n, _ in RAW if k == "accelerator"],
)
def test_accelerator_notes_say_dense_and_which_gb(
    origin: str, kind: str, name: str, raw: dict[str, Any]
) -> None:
    notes = raw.get("notes", "").lower()
    assert "dense" in notes, f"{name}: notes must say the stored peaks are dense"
    assert ("decimal" in notes) or ("gib" in notes), f"{name}: notes must say which GB is meant"


def test_every_system_names_a_default_fabric() -> None:
    for name in bm.catalog.names("system"):
        meta = bm.catalog.entry_metadata("system", name)
        assert "default_fabric" in meta, name
        bm.catalog.fabric(meta["default_fabric"])  # exists and builds


@pytest.mark.parametrize("kind", HARDWARE_KINDS)
def test_aliases_do_not_collide(kind: str) -> None:
    owner: dict[str, str] = {}
    for _, k, name, raw in RAW:
        if k != kind:
            continue
        for key in [name, *raw.get("aliases", [])]:
            low = key.lower()
            assert owner.get(low, name) == name, f"{kind}: {key!r} used by {owner[low]} and {name}"
            owner[low] = name


def test_names_are_unique_across_files() -> None:
    seen: dict[tuple[str, str], str] = {}
    for origin, kind, name, _ in RAW:
        key = (kind, name.lower())
        assert key not in seen, f"{kind} {name!r} in both {seen[key]} and {origin}"
        seen[key] = origin


# ------------------------------------------------------- physical invariants

ACCELERATORS = [n for _, k, n, _ in RAW if k == "accelerator"]


@pytest.mark.parametrize("name", ACCELERATORS)
def test_precision_ordering(name: str) -> None:
    acc = bm.catalog.accelerator(name)
    p = {k.value: v.m for k, v in acc.peak_flops.items()}
    assert "bf16" in p, "every catalogued accelerator has a BF16 rate"
    if "fp16" in p:
        assert p["fp16"] == pytest.approx(p["bf16"])
    if "fp8" in p:
        assert p["fp8"] >= p["bf16"]
    if "fp4" in p and "fp8" in p:
        assert p["fp4"] >= p["fp8"]
    if "fp6" in p and "fp8" in p:
        assert p["fp6"] >= p["fp8"]
    if "tf32" in p:
        assert p["tf32"] <= p["bf16"]
    if "fp64" in p:
        assert p["fp64"] <= p["bf16"]


@pytest.mark.parametrize("name", ACCELERATORS)
def test_ridge_point_is_peak_over_bandwidth(name: str) -> None:
    acc = bm.catalog.accelerator(name)
    for prec, rate in acc.peak_flops.items():
        assert acc.ridge_point(prec).to("flop/B").m == pytest.approx(
            rate.to("flop/s").m / acc.memory_bandwidth.to("B/s").m
        )


def test_h100_ridge_point_by_hand() -> None:
    # 989.4e12 FLOP/s / 3.35e12 B/s = 295.34 FLOP/B
    assert bm.catalog.accelerator("H100").ridge_point("bf16").m == pytest.approx(295.34, rel=1e-4)


# Vendor-documented capacities; GiB only where the vendor writes GiB.
DOCUMENTED_CAPACITY_B = {
    "A100-SXM-80GB": 81920 * 2**20,
    "H100-SXM": 81559 * 2**20,
    "H100-PCIe": 81559 * 2**20,
    "H200-SXM": 143771 * 2**20,
    "H800": 81559 * 2**20,
    "B200": 183359 * 2**20,
    "B200-GB200": 189471 * 2**20,  # nvidia-smi on GB200
    "B300": 270e9,
    "B300-GB300": 279e9,
    "MI300X": 192 * 2**30,
    "MI325X": 256 * 2**30,
    "MI355X": 288 * 2**30,
    "Gaudi3": 128e9,
    "TPU-v5e": 16e9,
    "TPU-v5p": 95 * 2**30,
    "TPU-v6e": 32e9,
    "Trainium2": 96 * 2**30,
    "Maia100": 64e9,
}


def test_capacity_table_covers_every_accelerator() -> None:
    assert set(DOCUMENTED_CAPACITY_B) == set(bm.catalog.names("accelerator"))


@pytest.mark.parametrize(("name", "capacity"), sorted(DOCUMENTED_CAPACITY_B.items()))
def test_memory_capacity_in_documented_units(name: str, capacity: float) -> None:
    assert bm.catalog.accelerator(name).memory_capacity.m == pytest.approx(capacity)


SYSTEMS = [n for _, k, n, _ in RAW if k == "system"]


@pytest.mark.parametrize("name", SYSTEMS)
def test_domain_wiring_is_consistent(name: str) -> None:
    dom = bm.catalog.system(name)
    acc = dom.accelerator
    assert dom.links_per_accelerator <= acc.scale_up_ports
    if dom.topology is bm.DomainTopology.MESH:
        # every pair of accelerators is joined by the same number of links
        assert dom.links_per_accelerator % (dom.gpus - 1) == 0
    elif dom.topology is bm.DomainTopology.TORUS:
        assert dom.links_per_accelerator == 2 * len(dom.torus_shape)
        assert math.prod(dom.torus_shape) == dom.gpus
    else:
        assert dom.switch.ports * dom.switches >= dom.gpus * dom.links_per_accelerator
        assert dom.switch.port_bandwidth == dom.link.bandwidth


SYSTEMS_WITH_POWER = [n for _, k, n, raw in RAW if k == "system" and "max_power" in raw]


@pytest.mark.parametrize("name", SYSTEMS_WITH_POWER)
def test_accelerator_power_fits_in_system_power(name: str) -> None:
    dom = bm.catalog.system(name)
    assert dom.gpus * dom.accelerator.tdp.m < dom.max_power.m
