"""User parts files (issue 12): no take-over of catalog names, no raw exceptions on hostile
files, errors that name the file, the entry and the field."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import blackwell_model as bm
from blackwell_model import catalog
from blackwell_model.errors import (
    BlackwellModelError,
    SpecError,
    SpecFileError,
    UnknownNameError,
)

LINK = """
[link."{name}"]
kind = "nvlink"
bandwidth = "{bandwidth}"
latency = "1 us"
"""


@pytest.fixture
def isolated() -> Iterator[None]:
    """Undo every entry a test adds to the process-wide catalog."""
    reg = catalog._REGISTRY
    reg.ensure_loaded()
    saved = (
        {k: dict(v) for k, v in reg.entries.items()},
        {k: dict(v) for k, v in reg.aliases.items()},
        {k: dict(v) for k, v in reg.alias_display.items()},
    )
    try:
        yield
    finally:
        reg.entries, reg.aliases, reg.alias_display = saved


def _write(tmp_path: Path, text: str, name: str = "parts.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


# ------------------------------------------------------------ item 1: take-over
def test_alias_cannot_take_over_a_catalog_name(tmp_path, isolated):
    """Item 1: ``aliases = ["NVLink4"]`` made every later NVLink4 lookup return the user's
    part (a training prediction went from 13.6 s to 12,610 s)."""
    path = _write(
        tmp_path, LINK.format(name="Mine", bandwidth="1 GB/s") + 'aliases = ["NVLink4"]\n'
    )
    with pytest.raises(SpecFileError) as info:
        catalog.load_toml(path)
    msg = str(info.value)
    assert "'Mine'" in msg and "'NVLink4'" in msg and "links.toml" in msg and str(path) in msg
    assert catalog.link("NVLink4").bandwidth.m == pytest.approx(25e9)
    assert "Mine" not in catalog.names("link")


@pytest.mark.parametrize("name", ["nvlink4", "NVLINK4", "NVLink4"])
def test_name_differing_in_case_cannot_take_over(tmp_path, isolated, name):
    path = _write(tmp_path, LINK.format(name=name, bandwidth="1 GB/s"))
    with pytest.raises(SpecFileError, match="already in the catalog"):
        catalog.load_toml(path)
    assert catalog.link("nvlink4").bandwidth.m == pytest.approx(25e9)


def test_name_equal_to_an_existing_alias_is_refused(tmp_path, isolated):
    alias = catalog.entry_metadata("link", "Infinity-Fabric")["aliases"][0]
    path = _write(tmp_path, LINK.format(name=alias, bandwidth="1 GB/s"))
    with pytest.raises(SpecFileError, match="an alias of link 'Infinity-Fabric'"):
        catalog.load_toml(path)


def test_replace_is_the_explicit_override(tmp_path, isolated):
    path = _write(
        tmp_path, LINK.format(name="Mine", bandwidth="1 GB/s") + 'aliases = ["NVLink4"]\n'
    )
    catalog.load_toml(path, replace=True)
    assert catalog.link("NVLink4").name == "Mine"


def test_loading_the_same_file_again_replaces_its_own_entries(tmp_path, isolated):
    path = _write(tmp_path, LINK.format(name="Mine", bandwidth="1 GB/s"))
    catalog.load_toml(path)
    path.write_text(textwrap.dedent(LINK.format(name="Mine", bandwidth="2 GB/s")), "utf-8")
    catalog.load_toml(path)
    assert catalog.link("Mine").bandwidth.m == pytest.approx(2e9)
    other = _write(tmp_path, LINK.format(name="Mine", bandwidth="3 GB/s"), name="other.toml")
    with pytest.raises(SpecFileError, match="already in the catalog"):
        catalog.load_toml(other)


def test_two_entries_differing_only_in_case_in_one_file(tmp_path):
    path = _write(
        tmp_path,
        LINK.format(name="x-link", bandwidth="1 GB/s")
        + LINK.format(name="X-Link", bandwidth="2 GB/s"),
    )
    with pytest.raises(SpecFileError, match=r"'X-Link'.*'x-link'|'x-link'.*'X-Link'"):
        catalog.load_toml(path, register=False)


def test_alias_clashing_with_another_entry_of_the_file(tmp_path):
    path = _write(
        tmp_path,
        LINK.format(name="a-link", bandwidth="1 GB/s")
        + LINK.format(name="b-link", bandwidth="2 GB/s")
        + 'aliases = ["A-LINK"]\n',
    )
    with pytest.raises(SpecFileError, match="clashes"):
        catalog.load_toml(path, register=False)


@pytest.mark.parametrize("aliases", ['"xyz"', "5", '[""]', '["  "]', "[1]", '["a\\u0000b"]'])
def test_aliases_must_be_a_list_of_names(tmp_path, aliases):
    """Item 1: ``aliases = "xyz"`` was read as three aliases."""
    path = _write(
        tmp_path, LINK.format(name="y-link", bandwidth="1 GB/s") + f"aliases = {aliases}\n"
    )
    with pytest.raises(SpecFileError, match="alias"):
        catalog.load_toml(path, register=False)


def test_register_refuses_an_alias_that_takes_over(isolated):
    import attrs

    mine = attrs.evolve(catalog.link("NVLink4"), name="Mine-2")
    with pytest.raises(SpecError, match="'NVLink4'"):
        catalog.register(mine, aliases=["NVLink4"])
    with pytest.raises(TypeError, match="aliases must be a list"):
        catalog.register(mine, aliases="xyz")


# --------------------------------------------------- item 2: quantity strings
@pytest.mark.parametrize(
    "text", ["2*3 TB/s", "TB/s", "1 TB/s / 2", "(1) TB/s", "nan TB/s", "1e400 TB/s"]
)
def test_quantity_in_a_file_is_a_number_and_a_unit(tmp_path, text):
    """Item 2: pint evaluated quantity text (``"9**9**9 GB/s"`` hung the loader: see
    tests/test_units.py)."""
    path = _write(tmp_path, LINK.format(name="q-link", bandwidth=text))
    with pytest.raises(SpecError, match="bandwidth must be a number and a unit"):
        catalog.load_toml(path, register=False)


# ------------------------------------------------- item 10: hostile files
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8|not a text file"),
        (b'[link."x"]\nkind = "nvlink"\x00\n', "not a text file"),
        (("a = " + "[" * 5000 + "]" * 5000 + "\n").encode(), "nested too deeply"),
        (("a = " + "[" * 40 + "]" * 40 + "\n").encode(), "nested too deeply"),
        (("x = " + "{a = " * 40 + "1" + "}" * 40 + "\n").encode(), "nested too deeply"),
    ],
)
def test_binary_or_deeply_nested_files_are_spec_file_errors(tmp_path, data, match):
    """Item 10: non-UTF-8 or binary TOML raised UnicodeDecodeError, deep nesting RecursionError."""
    path = tmp_path / "bad.toml"
    path.write_bytes(data)
    with pytest.raises(SpecFileError, match=match):
        catalog.load_toml(path, register=False)


def test_byte_order_mark_is_accepted(tmp_path):
    """Item 10: a file saved with a UTF-8 BOM is still TOML."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + LINK.format(name="bom-link", bandwidth="1 GB/s").encode())
    assert "bom-link" in catalog.load_toml(path, register=False)["link"]


@pytest.mark.parametrize("path", [None, 5, b"parts.toml", ["parts.toml"]])
def test_path_must_be_a_path(path):
    """Item 10: a path of None raised a raw TypeError."""
    with pytest.raises(BlackwellModelError, match="path must be a file path") as info:
        catalog.load_toml(path)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)


def test_directory_and_nul_paths(tmp_path):
    with pytest.raises(SpecFileError, match="cannot read"):
        catalog.load_toml(tmp_path)
    with pytest.raises(SpecFileError, match="cannot read"):
        catalog.load_toml(str(tmp_path / "a\x00b.toml"))


@pytest.mark.parametrize("name", [None, 5, ["H100"]])
def test_lookup_names_must_be_text(name):
    with pytest.raises(BlackwellModelError, match="name must be text"):
        catalog.accelerator(name)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ['""', '"  "', '"a\\u0000b"', '" H100x"'])
def test_entry_names_must_be_clean_text(tmp_path, key):
    path = _write(
        tmp_path, f'[link.{key}]\nkind = "nvlink"\nbandwidth = "1 GB/s"\nlatency = "1 us"\n'
    )
    with pytest.raises(SpecFileError, match="name"):
        catalog.load_toml(path, register=False)


# ------------------------------------------ item 11: unknown part references
@pytest.mark.parametrize(
    ("field", "kind"), [("nic", "node"), ("host_link", "node"), ("scale_up_link", "accelerator")]
)
def test_unknown_reference_names_field_file_and_entry(tmp_path, field, kind):
    """Item 11: "unknown link 'X'" said neither the field, nor the file, nor the entry."""
    if kind == "node":
        text = f'[node."N-1"]\naccelerator = "H100-SXM"\naccelerators = 8\n{field} = "NoSuchLink"\n'
        entry = "Node 'N-1'"
    else:
        text = (
            '[accelerator."A-1"]\nmemory_capacity = "80 GB"\nmemory_bandwidth = "3 TB/s"\n'
            'tdp = "700 W"\npeak_flops = { bf16 = "1 PFLOP/s" }\n'
            f'{field} = "NoSuchLink"\nscale_up_ports = 4\n'
        )
        entry = "Accelerator 'A-1'"
    path = _write(tmp_path, text)
    with pytest.raises(UnknownNameError) as info:
        catalog.load_toml(path, register=False)
    msg = str(info.value)
    assert str(path) in msg and entry in msg and f"{field}: unknown link 'NoSuchLink'" in msg
    assert info.value.kind == "link" and info.value.name == "NoSuchLink"


def test_unknown_reference_in_python_names_the_field():
    import attrs

    with pytest.raises(UnknownNameError, match="nic: unknown link 'NVLink9'"):
        attrs.evolve(catalog.system("DGX-H100").node, nic="NVLink9")


# ------------------------------------------------------ item 16: rounding
def test_cluster_offers_the_gpus_asked_for():
    """Item 16: ``cluster("GB200-NVL72", gpus=1024)`` rounded up to 1,080 GPUs and the
    search then used all 1,080 (no layout: ``.best`` was None)."""
    cluster = catalog.cluster("GB200-NVL72", gpus=1024)
    assert cluster.gpus == 1024 and cluster.installed_gpus == 1080 and cluster.domains == 15
    assert "1,024 of 1,080" in cluster.name and "1,024 of the 1,080" in cluster.rounding_note
    res = bm.search_layouts(bm.catalog.model("llama3-8b"), cluster, global_batch=1024, seq_len=4096)
    assert res.gpus == 1024 and res.best is not None and res.best.gpus == 1024


def test_cluster_without_rounding_says_nothing():
    cluster = catalog.cluster("DGX-H100", gpus=64)
    assert cluster.gpus == cluster.installed_gpus == 64 and cluster.rounding_note == ""
    assert cluster.name == "DGX-H100 x 8"


def test_active_gpus_must_need_every_domain():
    import attrs

    cluster = catalog.cluster("DGX-H100", gpus=64)
    with pytest.raises(SpecError, match="active_gpus must be in"):
        attrs.evolve(cluster, active_gpus=8)
    assert attrs.evolve(cluster, active_gpus=60).gpus == 60
