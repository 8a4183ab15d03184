"""Shared checks at the edges (issue 12): flags, counts, names and text are checked once,
in one place, for every part and argument."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

import blackwell_model as bm
from blackwell_model.errors import BlackwellModelError, SpecError


# ---------------------------------------------------------------- item 5: flags
@pytest.mark.parametrize("value", ["false", "False", " FALSE "])
def test_fabric_flag_text_false_is_false(value):
    """Item 5: ``Fabric.sharp = "false"`` was kept as a truthy string."""
    fab = attrs.evolve(bm.catalog.fabric("IB-NDR-fat-tree"), sharp=value, rail_optimized=value)
    assert fab.sharp is False and fab.rail_optimized is False


@pytest.mark.parametrize("value", ["flase", "", "no", "yes", 1, 0, None, 2.0, [True]])
def test_fabric_flag_refuses_what_is_not_a_flag(value):
    with pytest.raises(SpecError, match="sharp must be true or false") as info:
        attrs.evolve(bm.catalog.fabric("IB-NDR-fat-tree"), sharp=value)
    assert isinstance(info.value, TypeError)  # SpecTypeError: both ValueError and TypeError


def test_numpy_flags_are_flags():
    fab = attrs.evolve(bm.catalog.fabric("IB-NDR-fat-tree"), sharp=np.bool_(False))
    assert fab.sharp is False


# ---------------------------------------------------------------- item 6: 64-bit
@pytest.mark.parametrize(
    ("field", "value"),
    [("global_batch", 2**33), ("seq_len", 2**40), ("global_batch", 10**30), ("tp", 2**64)],
)
def test_counts_beyond_64_bit_safety_are_refused_at_the_edge(field, value):
    """Item 6: above ~9.2e18 tokens per step HFU went negative; larger integers raised
    OverflowError or numpy UFuncTypeError."""
    kwargs = {"global_batch": 8, "seq_len": 1024, field: value}
    with pytest.raises(SpecError, match=f"{field} must be an integer <= 2,147,483,647"):
        bm.Layout(**kwargs)


def test_largest_counts_give_finite_positive_figures():
    model = bm.catalog.model("llama3-8b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    big = 2**31 - 1
    lay = bm.Layout(tp=8, global_batch=big, seq_len=4096)
    rep = bm.predict_training(model, cluster, lay, check_memory=False)
    assert 0.0 < rep.hfu <= 1.0 and 0.0 < rep.mfu <= 1.0
    assert np.isfinite(rep.step_time.m) and rep.step_time.m > 0


@pytest.mark.parametrize("value", [True, 2.5, "²", "0x10", None, float("nan")])
def test_count_fields_refuse_non_integers(value):
    with pytest.raises(SpecError, match="ports"):
        attrs.evolve(bm.catalog.switch("QM9700"), ports=value)


def test_huge_quantity_magnitude_is_a_spec_error():
    with pytest.raises(SpecError, match="out of range"):
        bm.units.parse_quantity(bm.Q_(10**400, "W"), "W", name="tdp")


# ------------------------------------------------------ item 10: names and text
@pytest.mark.parametrize("name", ["", "   ", "H100\x00", 5, None, b"H100", " H100", "H100\n"])
def test_part_names_must_be_text(name):
    """Item 10: names that were empty, blank, held NUL or were not text were accepted."""
    link = bm.catalog.link("NVLink4")
    with pytest.raises(SpecError, match="name"):
        attrs.evolve(link, name=name)


@pytest.mark.parametrize("field", ["vendor", "notes", "memory_type"])
def test_free_text_fields_must_be_text(field):
    acc = bm.catalog.accelerator("H100-SXM")
    with pytest.raises(SpecError, match=field):
        attrs.evolve(acc, **{field: 42})
    with pytest.raises(SpecError, match=field):
        attrs.evolve(acc, **{field: "a\x00b"})


def test_fabric_oversubscription_refuses_flags_and_text():
    fab = bm.catalog.fabric("IB-NDR-fat-tree")
    assert attrs.evolve(fab, oversubscription="2").oversubscription == 2.0
    for bad in (True, "two", None):
        with pytest.raises(SpecError, match="oversubscription"):
            attrs.evolve(fab, oversubscription=bad)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda m, c, lay: bm.predict_inference(
                m, c, lay, input_tokens=8, output_tokens=8, power="x"
            ),
            "power must be a PowerModel",
        ),
        (
            lambda m, c, lay: bm.predict_inference(
                m, c, lay, input_tokens=8, output_tokens=8, power=0
            ),
            "power must be a PowerModel",
        ),
        (
            lambda m, c, lay: bm.predict_inference(None, c, lay, input_tokens=8, output_tokens=8),
            "model must be a Transformer",
        ),
        (
            lambda m, c, lay: bm.predict_inference(
                m, c, lay, input_tokens=8, output_tokens=8, solver=3
            ),
            "solver must be a ServingSolver",
        ),
        (
            lambda m, c, lay: bm.predict_inference(
                m, "DGX-H100", lay, input_tokens=8, output_tokens=8
            ),
            "cluster must be a Cluster",
        ),
        (
            lambda m, c, lay: bm.solvers.training_energy(None, c, power=[1]),
            "power must be a PowerModel",
        ),
        (
            lambda m, c, lay: bm.solvers.cluster_power(c, power="600 W"),
            "power must be a PowerModel",
        ),
    ],
)
def test_wrong_type_arguments_are_library_errors(call, match):
    """Item 10: wrong-type arguments gave AttributeError / TypeError from deep inside."""
    model = bm.catalog.model("llama3-8b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    layout = bm.InferenceLayout(tp=8)
    with pytest.raises(BlackwellModelError, match=match) as info:
        call(model, cluster, layout)
    assert isinstance(info.value, TypeError)


def test_serving_solver_for_another_model_is_refused():
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    layout = bm.InferenceLayout(tp=8)
    solver = bm.solvers.ServingSolver(bm.catalog.model("llama3-8b"), cluster, layout, "fp8")
    with pytest.raises(SpecError, match="solver was built for another model"):
        bm.predict_inference(
            bm.catalog.model("llama3-70b"),
            cluster,
            layout,
            input_tokens=8,
            output_tokens=8,
            precision="fp8",
            solver=solver,
        )
