"""The catalog API: lookups, errors, user TOML files, register() and cluster()."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model import catalog
from blackwell_model.catalog import KINDS
from blackwell_model.errors import (
    SpecError,
    SpecFileError,
    UnitMismatchError,
    UnknownNameError,
)

GB = 1e9


@pytest.fixture
def isolated_catalog() -> Iterator[None]:
    """Undo every entry a test adds to the process-wide catalog."""
    reg = catalog._REGISTRY
    reg.ensure_loaded()
    entries = {k: dict(v) for k, v in reg.entries.items()}
    aliases = {k: dict(v) for k, v in reg.aliases.items()}
    try:
        yield
    finally:
        reg.entries = entries
        reg.aliases = aliases


def _write(tmp_path: Path, text: str, name: str = "parts.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


VALID_PART = """
    [accelerator."Acme-X1"]
    aliases = ["X1"]
    vendor = "Acme"
    memory_capacity = "96 GB"
    memory_bandwidth = "4 TB/s"
    tdp = "800 W"
    scale_up_link = "NVLink4"
    scale_up_ports = 18
    nic = "IB-NDR-400G"
    peak_flops = { bf16 = "1200 TFLOP/s", fp8 = "2400 TFLOP/s" }
    sources = { peak_flops = "Acme datasheet rev 2 (dense) (V)" }
"""


# ------------------------------------------------------------------- names()


def test_names_by_kind_and_all() -> None:
    every = catalog.names()
    assert set(every) == set(KINDS)
    accs = catalog.names("accelerator")
    assert accs == every["accelerator"]
    assert accs == sorted(accs, key=str.lower)
    assert "H100-SXM" in accs
    assert "GB200-NVL72" in catalog.names("system")


def test_names_of_unknown_kind() -> None:
    with pytest.raises(UnknownNameError, match="accelerator"):
        catalog.names("accelerators")


# ------------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    ("kind", "query", "name"),
    [
        ("accelerator", "h100-sxm", "H100-SXM"),
        ("accelerator", "H100", "H100-SXM"),
        ("accelerator", "  b200-hgx ", "B200"),
        ("accelerator", "TRILLIUM", "TPU-v6e"),
        ("system", "nvl72", "GB200-NVL72"),
        ("system", "HGX-B200", "DGX-B200"),
        ("switch", "sn5600", "Spectrum-4"),
        ("link", "connectx-8", "IB-XDR-800G"),
        ("fabric", "quantum-2 fat-tree", "IB-NDR-fat-tree"),
    ],
)
def test_lookup_is_case_insensitive_and_knows_aliases(kind: str, query: str, name: str) -> None:
    assert catalog.get(kind, query).name == name
    assert catalog.get(kind, query) is catalog.get(kind, name)


def test_typed_helpers() -> None:
    assert isinstance(catalog.accelerator("B200"), bm.Accelerator)
    assert isinstance(catalog.cpu("Grace"), bm.CPU)
    assert isinstance(catalog.link("NVLink5"), bm.LinkSpec)
    assert isinstance(catalog.switch("QM9700"), bm.SwitchSpec)
    assert isinstance(catalog.superchip("GB300"), bm.Superchip)
    assert isinstance(catalog.node("GB200-tray"), bm.Node)
    assert isinstance(catalog.system("DGX-H100"), bm.ScaleUpDomain)
    assert isinstance(catalog.fabric("IB-XDR-fat-tree"), bm.Fabric)


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.accelerator("H100-SMX")
    err = info.value
    assert isinstance(err, KeyError)
    text = str(err)
    assert text.startswith("unknown accelerator 'H100-SMX'")
    assert "did you mean" in text
    assert "H100-SXM" in text
    assert not text.startswith('"')  # readable, not KeyError's repr
    assert err.kind == "accelerator"
    assert err.name == "H100-SMX"


def test_unknown_name_without_close_match_lists_names() -> None:
    with pytest.raises(UnknownNameError, match="valid names"):
        catalog.fabric("zzzzzzzz")


def test_unknown_kind() -> None:
    with pytest.raises(UnknownNameError, match="catalog kind"):
        catalog.get("gpu", "H100")


def test_entry_metadata() -> None:
    meta = catalog.entry_metadata("system", "gb300 nvl72")
    assert meta["default_fabric"] == "IB-XDR-fat-tree"
    assert meta["origin"].endswith(".toml")
    assert "GB300 NVL72" in meta["aliases"]


# ----------------------------------------------------------------- load_toml


def test_load_user_part_that_references_catalog_entries(
    tmp_path: Path, isolated_catalog: None
) -> None:
    path = _write(tmp_path, VALID_PART)
    loaded = catalog.load_toml(path)
    x1 = loaded["accelerator"]["Acme-X1"]
    assert catalog.get("accelerator", "acme-x1") is x1
    assert catalog.accelerator("X1") is x1
    assert x1.scale_up_link is catalog.link("NVLink4")
    assert x1.scale_up_bandwidth_bidirectional.m == pytest.approx(900 * GB)
    assert x1.peak_flops_per_s("fp8") == pytest.approx(2400e12)
    assert x1.memory_capacity.m == pytest.approx(96e9)
    assert "Acme-X1" in catalog.names("accelerator")


def test_load_toml_system_built_from_user_parts(tmp_path: Path, isolated_catalog: None) -> None:
    path = _write(
        tmp_path,
        VALID_PART
        + """
    [node."Acme-X1-node"]
    accelerator = "Acme-X1"
    accelerators = 8

    [system."Acme-8"]
    default_fabric = "IB-NDR-fat-tree"
    node = "Acme-X1-node"
    switch = "NVSwitch3"
    switches = 4
    """,
    )
    catalog.load_toml(path)
    cl = catalog.cluster("Acme-8", gpus=100)
    assert cl.domains == 13  # ceil(100 / 8)
    assert cl.fabric.switch.name == "QM9700"


def test_load_toml_without_register_leaves_catalog_alone(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_PART.replace("Acme-X1", "Acme-X2").replace('"X1"', '"X2"'))
    loaded = catalog.load_toml(path, register=False)
    assert loaded["accelerator"]["Acme-X2"].name == "Acme-X2"
    assert "Acme-X2" not in catalog.names("accelerator")


def test_malformed_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, '[accelerator."Bad"\nvendor = "x"\n')
    with pytest.raises(SpecFileError, match="not valid TOML"):
        catalog.load_toml(path, register=False)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecFileError, match="cannot read"):
        catalog.load_toml(tmp_path / "nope.toml")


def test_unknown_kind_in_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[gpu."X"]\nvendor = "x"\n')
    with pytest.raises(SpecFileError, match=r"unknown kind \[gpu\]"):
        catalog.load_toml(path, register=False)


def test_unknown_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path, VALID_PART.replace('tdp = "800 W"', 'tdp = "800 W"\n    hbm_stacks = 8')
    )
    with pytest.raises(SpecFileError, match="hbm_stacks"):
        catalog.load_toml(path, register=False)


def test_missing_required_field(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_PART.replace('    memory_bandwidth = "4 TB/s"\n', ""))
    with pytest.raises(SpecFileError, match="memory_bandwidth"):
        catalog.load_toml(path, register=False)


def test_wrong_unit(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_PART.replace('"4 TB/s"', '"80 GB"'))
    with pytest.raises(UnitMismatchError, match="memory_bandwidth") as info:
        catalog.load_toml(path, register=False)
    assert "Acme-X1" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_bare_number_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_PART.replace('tdp = "800 W"', "tdp = 800"))
    with pytest.raises(UnitMismatchError, match="tdp"):
        catalog.load_toml(path, register=False)


def test_unknown_reference(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_PART.replace('"NVLink4"', '"NVLink9"'))
    with pytest.raises(UnknownNameError, match="NVLink9"):
        catalog.load_toml(path, register=False)


_BAD_MAGNITUDES = st.one_of(
    st.floats(max_value=0.0, allow_nan=False, allow_infinity=False),
    st.just(math.nan),
)


@settings(max_examples=25)
@given(
    field=st.sampled_from(["memory_bandwidth", "memory_capacity", "tdp"]),
    value=_BAD_MAGNITUDES,
)
def test_non_positive_or_nan_values_name_the_field(field: str, value: float) -> None:
    unit = {"memory_bandwidth": "TB/s", "memory_capacity": "GB", "tdp": "W"}[field]
    data = {
        "name": "Acme-Bad",
        "memory_capacity": "96 GB",
        "memory_bandwidth": "4 TB/s",
        "tdp": "800 W",
        "peak_flops": {"bf16": "1200 TFLOP/s"},
        field: f"{value!r} {unit}",
    }
    with pytest.raises(SpecError, match=field):
        bm.Accelerator.from_dict(data)


@settings(max_examples=25)
@given(value=_BAD_MAGNITUDES)
def test_non_positive_or_nan_peak_names_the_precision(value: float) -> None:
    data = {
        "name": "Acme-Bad",
        "memory_capacity": "96 GB",
        "memory_bandwidth": "4 TB/s",
        "tdp": "800 W",
        "peak_flops": {"bf16": "1200 TFLOP/s", "fp8": f"{value!r} TFLOP/s"},
    }
    with pytest.raises(SpecError, match=r"peak_flops\[fp8\]"):
        bm.Accelerator.from_dict(data)


def test_negative_value_in_file_names_file_entry_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID_PART.replace('"800 W"', '"-800 W"'))
    with pytest.raises(SpecError, match="tdp") as info:
        catalog.load_toml(path, register=False)
    assert "Acme-X1" in str(info.value)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------ register


def test_register_and_replace(isolated_catalog: None) -> None:
    import attrs

    h100 = catalog.accelerator("H100-SXM")
    fast = attrs.evolve(h100, name="H100-fast-HBM", memory_bandwidth="4.8 TB/s")
    assert catalog.register(fast, aliases=["H100F"]) is fast
    assert catalog.accelerator("h100f") is fast
    with pytest.raises(SpecError, match="already in the catalog"):
        catalog.register(fast)
    faster = attrs.evolve(fast, memory_bandwidth="6 TB/s")
    catalog.register(faster, replace=True)
    assert catalog.accelerator("H100-fast-HBM").memory_bandwidth.m == pytest.approx(6e12)


def test_register_needs_a_known_kind() -> None:
    with pytest.raises(UnknownNameError):
        catalog.register(catalog.accelerator("H100"), kind="gpu")


# ------------------------------------------------------------------- cluster


@pytest.mark.parametrize(
    ("system", "gpus", "domains", "tiers"),
    [
        # ceil(gpus / 72); 64-port QM9700: 1 tier 64, 2 tiers 2,048, 3 tiers 65,536 NICs
        ("GB200-NVL72", 4096, 57, 3),
        ("GB200-NVL72", 72, 1, 2),
        ("GB200-NVL72", 1000, 14, 2),
        ("DGX-H100", 1024, 128, 2),
        ("DGX-H100", 8, 1, 1),
        ("DGX-H100", 16384, 2048, 3),
        # 144-port Quantum-X800: 2 tiers 72 x 144 = 10,368 NICs
        ("GB300-NVL72", 10368, 144, 2),
        ("GB300-NVL72", 10369, 145, 3),
        # 40-port QM8700: 2 tiers 20 x 40 = 800 NICs
        ("DGX-A100", 800, 100, 2),
        ("DGX-A100", 808, 101, 3),
    ],
)
def test_cluster_defaults(system: str, gpus: int, domains: int, tiers: int) -> None:
    cl = catalog.cluster(system, gpus=gpus)
    dom = catalog.system(system)
    assert cl.domains == domains
    assert cl.fabric.tiers == tiers
    assert cl.fabric.name == catalog.entry_metadata("system", system)["default_fabric"]
    assert cl.nics == cl.installed_gpus  # one NIC per installed GPU
    assert cl.gpus == gpus  # what was asked for, not the rounded-up count
    assert cl.domain.node.nic == dom.node.nic
    rounded = "" if gpus == cl.installed_gpus else f" ({gpus:,} of {cl.installed_gpus:,} GPUs)"
    assert cl.name == f"{dom.name} x {domains}{rounded}"


def test_cluster_default_nic_speed_is_the_systems() -> None:
    assert catalog.cluster("DGX-H100", gpus=64).domain.node.nic_bandwidth.m == pytest.approx(
        50 * GB
    )
    assert catalog.cluster("GB300-NVL72", gpus=144).domain.node.nic_bandwidth.m == pytest.approx(
        100 * GB
    )
    assert catalog.cluster("DGX-A100", gpus=64).domain.node.nic_bandwidth.m == pytest.approx(
        25 * GB
    )


@settings(max_examples=30)
@given(gpus=st.integers(min_value=1, max_value=60_000))
def test_cluster_rounds_up_to_whole_domains(gpus: int) -> None:
    cl = catalog.cluster("DGX-H100", gpus=gpus)
    assert cl.domains == -(-gpus // 8)
    assert cl.gpus >= gpus > cl.gpus - 8
    # fewest tiers: the next smaller tree would not fit
    caps = {1: 64, 2: 32 * 64, 3: 32 * 64 * 32}
    assert caps[cl.fabric.tiers] >= cl.nics
    if cl.fabric.tiers > 1:
        assert caps[cl.fabric.tiers - 1] < cl.nics


# DGX-A100 at 16,384 GPUs is the one combination that cannot be built with
# the defaults; test_hdr_fabric_cannot_reach_16k_gpus covers it.
SYSTEM_SIZES = [
    (system, gpus)
    for system in sorted(catalog.names("system"))
    for gpus in (1024, 16384)
    if (system, gpus) != ("DGX-A100", 16384)
]


@pytest.mark.parametrize(("system", "gpus"), SYSTEM_SIZES)
def test_cluster_builds_for_every_system(system: str, gpus: int) -> None:
    cl = catalog.cluster(system, gpus=gpus)
    assert cl.gpus >= gpus
    assert cl.nics <= cl.fabric.max_endpoints


def test_hdr_fabric_cannot_reach_16k_gpus() -> None:
    # 40-port switches, non-blocking 3 tiers: 20 x 40 x 20 = 16,000 < 16,384 NICs.
    with pytest.raises(SpecError, match="16000"):
        catalog.cluster("DGX-A100", gpus=16384)
    # 2:1 oversubscribed leaves: 26 down ports -> 26 x 40 x 20 = 20,800 NICs.
    cl = catalog.cluster("DGX-A100", gpus=16384, oversubscription=2.0)
    assert cl.fabric.max_endpoints == 20_800
    assert cl.fabric.tiers == 3


def test_cluster_overrides() -> None:
    cl = catalog.cluster(
        "DGX-H100",
        gpus=256,
        fabric="IB-XDR-fat-tree",
        tiers=3,
        oversubscription=2.0,
        rail_optimized=False,
        nic="IB-XDR-800G",
        name="test cluster",
    )
    assert cl.name == "test cluster"
    assert cl.fabric.switch.name == "Quantum-X800"
    assert cl.fabric.tiers == 3
    assert cl.fabric.oversubscription == pytest.approx(2.0)
    assert cl.fabric.rail_optimized is False
    assert cl.domain.node.nic.name == "IB-XDR-800G"
    assert cl.domain.node.nic_bandwidth.m == pytest.approx(100 * GB)


def test_cluster_accepts_objects() -> None:
    dom = catalog.system("DGX-B200")
    fab = catalog.fabric("Spectrum-X-Ethernet")
    cl = catalog.cluster(dom, gpus=512, fabric=fab)
    assert cl.domain is dom
    assert cl.fabric.switch.name == "Spectrum-4"
    assert cl.fabric.sharp is False


def test_fabric_too_small_raises() -> None:
    # one 64-port switch cannot connect 1,024 NICs
    with pytest.raises(SpecError, match="connects at most 64"):
        catalog.cluster("DGX-H100", gpus=1024, tiers=1)


@pytest.mark.parametrize("gpus", [0, -8, 2.5, True, "64", 2**31])
def test_cluster_gpus_must_be_a_positive_integer(gpus: object) -> None:
    with pytest.raises(SpecError, match="gpus"):
        catalog.cluster("DGX-H100", gpus=gpus)  # type: ignore[arg-type]


# ---------------------------------------------------------------- round trip

ENTRIES = [(k, n) for k, names in catalog.names().items() for n in names if k != "model"]


@pytest.mark.parametrize(("kind", "name"), ENTRIES, ids=[f"{k}:{n}" for k, n in ENTRIES])
def test_to_dict_from_dict_round_trip(kind: str, name: str) -> None:
    part = catalog.get(kind, name)
    data = part.to_dict()
    again = type(part).from_dict(data)
    assert again == part
    assert again.to_dict() == data


def test_unit_errors_in_a_file_name_the_file(tmp_path):
    import blackwell_model as bm
    from blackwell_model.errors import UnitMismatchError

    path = tmp_path / "bad_units.toml"
    path.write_text('[link."Bad-Link"]\nkind = "nvlink"\nbandwidth = "50 GB"\nlatency = "1 us"\n')
    with pytest.raises(UnitMismatchError, match=r"bad_units\.toml.*bandwidth"):
        bm.catalog.load_toml(path)


def test_a_file_with_a_bad_entry_adds_nothing(tmp_path):
    import blackwell_model as bm

    path = tmp_path / "half_good.toml"
    path.write_text(
        '[link."Good-Link-X"]\nkind = "nvlink"\nbandwidth = "50 GB/s"\nlatency = "1 us"\n'
        '[link."Bad-Link-X"]\nkind = "nvlink"\nbandwidth = "-50 GB/s"\nlatency = "1 us"\n'
    )
    with pytest.raises(SpecError, match="Bad-Link-X"):
        bm.catalog.load_toml(path)
    assert "Good-Link-X" not in bm.catalog.names("link")
    assert "Bad-Link-X" not in bm.catalog.names("link")
