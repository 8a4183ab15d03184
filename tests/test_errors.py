"""The exception hierarchy mixes with the builtins callers already catch."""

from __future__ import annotations

import pytest

from blackwell_model import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.SpecError, ValueError),
        (errors.SpecFileError, ValueError),
        (errors.UnsupportedPrecisionError, ValueError),
        (errors.UnitMismatchError, TypeError),
        (errors.UnknownNameError, KeyError),
        (errors.InfeasibleLayoutError, ValueError),
        (errors.TopologyError, ValueError),
    ],
)
def test_hierarchy(cls, builtin):
    assert issubclass(cls, errors.BlackwellModelError)
    assert issubclass(cls, builtin)


def test_unknown_name_lists_close_matches_and_reads_well():
    exc = errors.UnknownNameError("accelerator", "H10-SXM", ["H100-SXM", "H200-SXM", "B200"])
    text = str(exc)
    assert text.startswith("unknown accelerator 'H10-SXM'; did you mean 'H100-SXM'")
    assert not text.startswith('"')  # KeyError would repr() the message
    assert exc.candidates == ("H100-SXM", "H200-SXM", "B200")


def test_unknown_name_without_close_match_lists_names():
    exc = errors.UnknownNameError("precision", "zzz", ["fp8", "bf16"])
    assert "valid names: 'fp8', 'bf16'" in str(exc)


def test_infeasible_layout_carries_rule():
    exc = errors.InfeasibleLayoutError("memory", "needs 1.2 TB per GPU, has 80 GB")
    assert exc.rule == "memory"
    assert "needs 1.2 TB" in str(exc) and "[rule: memory]" in str(exc)
