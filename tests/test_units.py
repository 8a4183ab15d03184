"""The unit registry and the quantity converter."""

from __future__ import annotations

import math

import attrs
import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import SpecError, UnitMismatchError
from blackwell_model.units import Q_, format_quantity, parse_quantity, quantity


def test_bytes_per_second_is_not_hertz_nor_flops():
    q = bm.Q_("1 GB/s")
    assert not q.is_compatible_with("Hz")
    assert not q.is_compatible_with("TFLOP/s")
    with pytest.raises(pint.DimensionalityError):
        q.to("Hz")


def test_flop_is_its_own_dimension():
    assert not Q_("1 TFLOP").is_compatible_with("1/s")
    assert Q_("989.4 TFLOPS").to("flop/s").m == pytest.approx(989.4e12)


def test_decimal_and_binary_prefixes():
    assert Q_("1 GB").to("B").m == 1e9
    assert Q_("1 GiB").to("B").m == 2**30
    assert Q_("80 GB").to("GiB").m == pytest.approx(80e9 / 2**30)


def test_network_bits():
    # 400 Gb/s InfiniBand NDR = 50 GB/s each way
    assert Q_("400 Gb/s").to("GB/s").m == pytest.approx(50.0)
    assert Q_("400 Gbps").to("GB/s").m == pytest.approx(50.0)


def test_energy_and_power():
    assert Q_("1 kWh").to("J").m == pytest.approx(3.6e6)
    assert Q_("10.2 kW").to("W").m == pytest.approx(10200.0)
    assert Q_("5 pJ/bit").to("J/B").m == pytest.approx(40e-12)


def test_parse_quantity_canonical_units():
    q = parse_quantity("1.8 TB/s", "GB/s")
    assert q.units == Q_(1.0, "byte / second").units
    assert q.m == pytest.approx(1.8e12)
    assert isinstance(q.m, float)


def test_parse_quantity_returns_a_copy():
    original = Q_(3.0, "B/s")
    out = parse_quantity(original, "B/s")
    out.ito("GB/s")
    assert original.units == Q_(1.0, "B/s").units
    assert original.m == 3.0


def test_parse_quantity_foreign_registry():
    other = pint.UnitRegistry()
    q = parse_quantity(other.Quantity(2.0, "second"), "s")
    assert q.m == 2.0


@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        ("80 GB", UnitMismatchError, "B/s"),
        (80.0, UnitMismatchError, "needs a unit"),
        ("not a unit", SpecError, "memory_bandwidth"),
        ([1, 2], UnitMismatchError, "memory_bandwidth"),
    ],
)
def test_parse_quantity_errors_name_field(value, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        parse_quantity(value, "TB/s", name="memory_bandwidth")
    assert "memory_bandwidth" in str(info.value)


def test_unit_mismatch_is_a_type_error():
    with pytest.raises(TypeError):
        parse_quantity("3 W", "B/s")


def test_converter_in_attrs_class_names_field():
    @attrs.frozen
    class Pipe:
        rate = attrs.field(converter=quantity("GB/s"))

    assert Pipe("2 GB/s").rate.m == pytest.approx(2e9)
    with pytest.raises(UnitMismatchError, match="rate"):
        Pipe("2 GB")


def test_optional_converter_passes_none():
    @attrs.frozen
    class Maybe:
        power = attrs.field(converter=quantity("W", optional=True), default=None)

    assert Maybe().power is None


@given(
    mag=st.floats(min_value=1e-6, max_value=1e9, allow_nan=False),
    unit=st.sampled_from(["B/s", "kB/s", "MB/s", "GB/s", "TB/s", "GiB/s", "Gb/s", "Mib/s"]),
)
def test_parse_quantity_matches_pint_conversion(mag, unit):
    expected = Q_(mag, unit).to("B/s").m
    got = parse_quantity(f"{mag!r} {unit}", "B/s").m
    assert got == pytest.approx(expected, rel=1e-12)
    assert parse_quantity(Q_(mag, unit), "B/s").m == pytest.approx(expected, rel=1e-12)


@given(unit=st.sampled_from(["s", "W", "J", "Hz", "flop", "flop/s", "B"]))
def test_bandwidth_never_converts_to_other_dimensions(unit):
    with pytest.raises(UnitMismatchError):
        parse_quantity("1 GB/s", unit)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.35 TB/s", "3.35 TB/s"),
        ("700 W", "700 W"),
        ("989.4 TFLOPS", "989.4 TFLOPS"),
        ("2e-6 s", "2 µs"),
        ("80 GB", "80 GB"),
    ],
)
def test_format_quantity(text, expected):
    assert format_quantity(Q_(text)) == expected


def test_format_quantity_nonfinite_and_plain():
    assert "nan" in format_quantity(Q_(math.nan, "W")).lower()
    assert format_quantity(3) == "3"


# ---------------------------------------------------------------- issue 12, item 2
@pytest.mark.parametrize(
    "text",
    [
        "TB/s",  # no number is not 1 TB/s
        "2*3 TB/s",
        "1 TB/s / 2",
        "1 TB/s 2",
        "(1) TB/s",
        "nan TB/s",
        "inf TB/s",
        "1e400 TB/s",
        "0x10 GB/s",
        "1 GB/s)",
        "1 " + "GB/" * 100 + "s",
    ],
)
def test_quantity_text_is_a_number_and_a_unit_nothing_else(text):
    """Issue 12 item 2: a quantity string was evaluated as an expression."""
    with pytest.raises(SpecError, match="bandwidth must be a number and a unit of B/s"):
        parse_quantity(text, "B/s", name="bandwidth")


@pytest.mark.parametrize("text", ["9**9**9 GB/s", "9 GB/s**9**9**9"])
def test_quantity_text_is_never_evaluated(text):
    """Issue 12 item 2: pint evaluated ``"9**9**9 GB/s"`` and never returned (a C-level
    power no signal interrupts: the check runs in a child process with a time limit)."""
    import subprocess
    import sys

    code = (
        "from blackwell_model.units import parse_quantity\n"
        "try:\n"
        f"    parse_quantity({text!r}, 'B/s', name='bandwidth')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"parsing {text!r} did not return within 60 s")
    assert proc.stdout.startswith("SpecError bandwidth must be a number and a unit"), proc


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("3.35 TB/s", "B/s", 3.35e12),
        ("3.35TB/s", "B/s", 3.35e12),
        (" 1.5e3 GB / s ", "B/s", 1.5e12),
        ("-1 W", "W", -1.0),
        ("1500 USD/(kW*yr)", "USD/J", 1500.0 / (1000.0 * 365.25 * 86400.0)),
        ("1 GB s^-1", "B/s", 1e9),
        ("0.6 µs", "s", 0.6e-6),
        ("400 gCO2e/kWh", "gCO2e/J", 400.0 / 3.6e6),
    ],
)
def test_quantity_text_that_is_a_number_and_a_unit_parses(text, unit, expected):
    assert parse_quantity(text, unit).m == pytest.approx(expected, rel=1e-3)
