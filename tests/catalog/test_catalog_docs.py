"""The Sphinx catalog-table generator (docs/_ext/bm_catalog.py) renders every kind."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("sphinx")

EXT = Path(__file__).resolve().parents[2] / "docs" / "_ext" / "bm_catalog.py"


@pytest.fixture(scope="module")
def ext() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bm_catalog_under_test", EXT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "kind", ["accelerator", "cpu", "link", "switch", "superchip", "node", "system", "fabric"]
)
def test_every_row_has_every_column(ext: ModuleType, kind: str) -> None:
    import blackwell_model as bm

    lines = ext.catalog_rst(kind, sources=False)
    rows = [i for i, line in enumerate(lines) if line.startswith("   * - ")]
    assert len(rows) == 1 + len(bm.catalog.names(kind))  # header + one per entry
    widths = {
        sum(1 for line in lines[a:b] if line.startswith("     - "))
        for a, b in zip(rows, [*rows[1:], len(lines)], strict=True)
    }
    assert len(widths) == 1


def test_sources_listed_and_marked(ext: ModuleType) -> None:
    text = "\n".join(ext.catalog_rst("accelerator", names=["H100-SXM"]))
    assert "**H100-SXM**" in text
    assert "989.4" in text
    assert "``peak_flops``:" in text
    assert "(V)" in text


def test_unknown_kind_is_refused(ext: ModuleType) -> None:
    with pytest.raises(ValueError, match="no catalog table"):
        ext.catalog_rst("model")
