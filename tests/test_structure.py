"""The package's shape: no import cycle between the parts and the catalog; split modules
keep every public name where users import it from."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import blackwell_model

ROOT = Path(blackwell_model.__file__).parent


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports, at module level or inside functions."""
    out: set[str] = set()
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


LOWER_LAYERS = [
    "_spec.py",
    "units.py",
    "errors.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "hardware").glob("*.py")),
]


@pytest.mark.parametrize("relpath", LOWER_LAYERS)
def test_part_layers_never_import_the_catalog(relpath):
    """``_spec -> catalog -> hardware -> _spec`` was an import cycle: the lower layers
    must not import the catalog, not even lazily inside a function."""
    path = ROOT / relpath
    package = "blackwell_model" + (
        "." + ".".join(path.relative_to(ROOT).parent.parts) if path.parent != ROOT else ""
    )
    bad = sorted(m for m in _imports(path, package) if m.startswith("blackwell_model.catalog"))
    assert not bad, f"{relpath} imports {bad}"


def test_part_fields_still_resolve_catalog_names():
    import attrs

    rack = blackwell_model.catalog.system("GB200-NVL72")
    assert attrs.evolve(rack, link="NVLink4").link.name == "NVLink4"


def _energy_names() -> list[str]:
    from blackwell_model.solvers import energy

    return list(energy.__all__)


ENERGY_NAMES = _energy_names()


def test_energy_keeps_its_18_public_names():
    """solvers/energy.py exported 18 names before the split (a1a41e2); all stay."""
    assert len(ENERGY_NAMES) == 18


@pytest.mark.parametrize("name", ENERGY_NAMES)
def test_energy_names_importable_where_they_were(name):
    from blackwell_model import solvers
    from blackwell_model.solvers import energy

    assert name in energy.__all__
    assert getattr(energy, name) is getattr(solvers, name)


def test_energy_is_split_into_power_facility_and_pricing():
    from blackwell_model.solvers import energy, facility, power, pricing

    assert energy.PowerModel is power.PowerModel
    assert energy.cluster_power is facility.cluster_power
    assert energy.Pricing is pricing.Pricing
    # pricing knows nothing of the power model, and the power model nothing of money
    assert not any(
        "facility" in m or "power" in m
        for m in _imports(Path(pricing.__file__), "blackwell_model.solvers")
    )
    assert not any(
        "pricing" in m for m in _imports(Path(power.__file__), "blackwell_model.solvers")
    )


PLOT_NAMES = {
    "roofline": ["roofline_chart"],
    "breakdown": ["breakdown_bars"],
    "pareto": ["PARETO_METRICS", "pareto_front", "pareto_mask", "search_energy"],
    "validation": ["predicted_vs_measured"],
    "network": ["topology"],
    "serving": ["latency_throughput"],
}


@pytest.mark.parametrize("family", sorted(PLOT_NAMES))
def test_plot_is_a_package_with_a_module_per_figure_family(family):
    from blackwell_model import plot

    module = importlib.import_module(f"blackwell_model.plot.{family}")
    for name in PLOT_NAMES[family]:
        assert name in plot.__all__
        assert getattr(plot, name) is getattr(module, name)
    # a figure family stays readable
    assert len(Path(module.__file__).read_text("utf-8").splitlines()) < 800


def test_plot_function_named_topology_is_not_shadowed_by_a_module():
    import blackwell_model.plot.network  # noqa: F401 - importing submodules must not rebind
    from blackwell_model import plot

    assert callable(plot.topology)
