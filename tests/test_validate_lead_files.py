"""Checks at the edges that need the one-line changes in the lead's files (issue 12):
flags of Layout, MemoryModel and Transformer use the one flag check; a layout's GPU
count stays 64-bit safe; predict_training and search_layouts check argument types."""

from __future__ import annotations

import attrs
import pytest

import blackwell_model as bm
from blackwell_model.errors import BlackwellModelError, SpecError


def test_every_bool_field_of_every_part_refuses_text_that_is_not_a_flag():
    """The class of defect: any attrs field annotated ``bool`` on a public class uses the
    one flag check (``bool_field``), so a string can never switch a flag on."""
    import importlib
    import pkgutil

    import blackwell_model

    unchecked = []
    for info in pkgutil.walk_packages(blackwell_model.__path__, "blackwell_model."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if not (isinstance(obj, type) and attrs.has(obj) and obj.__module__ == module.__name__):
                continue
            if obj.__name__.startswith("_"):
                continue
            for f in attrs.fields(obj):
                if f.type in (bool, "bool") and f.init and f.metadata.get("bm_kind") != "bool":
                    unchecked.append(f"{obj.__module__}.{obj.__name__}.{f.name}")
    # results (reports, curves, rows...) are built by the library, not from input
    results = ("Report", "Curve", "Row", "Result", "Breakdown", "Arrays", "Case", "Residual")
    user_facing = [u for u in unchecked if not u.endswith(results, 0, u.rindex("."))]
    assert not user_facing, f"bool fields without the flag check: {user_facing}"


def test_layout_sequence_parallel_text():
    """Item 5: ``Layout(sequence_parallel="false")`` was accepted and failed later."""
    lay = bm.Layout(global_batch=8, seq_len=1024, sequence_parallel="false")
    assert lay.sequence_parallel is False
    with pytest.raises(SpecError, match="sequence_parallel must be true or false"):
        bm.Layout(global_batch=8, seq_len=1024, sequence_parallel="nope")


def test_layout_gpus_product_is_bounded():
    """Four degrees below 2**31 can still multiply past 2**63: the layout refuses them."""
    with pytest.raises(SpecError, match="gpus"):
        bm.Layout(tp=2**16, pp=2**16, dp=2**16, cp=2**16, global_batch=2**16, seq_len=2**17)


def test_wrong_type_arguments_of_predict_training_and_search():
    """Item 10 (lead's files): memory=, solver=, model=None, executor=, progress=."""
    model = bm.catalog.model("llama3-8b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=8)
    layout = bm.Layout(tp=8, global_batch=8, seq_len=1024)
    for kwargs in ({"memory": "x"}, {"solver": 3}, {"power": "x"}):
        with pytest.raises(BlackwellModelError):
            bm.predict_training(model, cluster, layout, **kwargs)
    with pytest.raises(BlackwellModelError, match="model"):
        bm.predict_training(None, cluster, layout)
    for kwargs in ({"executor": "x"}, {"progress": 5}, {"memory": 1}):
        with pytest.raises(BlackwellModelError):
            bm.search_layouts(model, cluster, global_batch=8, seq_len=1024, **kwargs)


def test_ctrl_c_in_search_returns_the_layouts_ranked_so_far():
    """Item 12: Ctrl-C after the first chunk gives ``Interrupted`` carrying a ranked
    partial result over exactly the candidates that were examined."""
    model = bm.catalog.model("llama3-8b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=64)
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        raise KeyboardInterrupt

    with pytest.raises(bm.errors.Interrupted) as info:
        bm.search_layouts(
            model, cluster, global_batch=64, seq_len=4096, progress=progress, chunk_size=64
        )
    done, total = calls[0]
    assert done == 64 < total
    partial = info.value.partial
    assert isinstance(partial, bm.SearchResult)
    assert partial.enumerated == done
    assert partial.feasible + sum(partial.rejected.values()) == done
    assert f"after {done:,} of {total:,}" in str(info.value)
    times = partial.columns["step_time_s"]
    assert list(times) == sorted(times)  # ranked
