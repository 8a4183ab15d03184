"""with_accelerator swaps the accelerator everywhere and nothing else."""

from __future__ import annotations

import attrs
import pytest

import blackwell_model as bm
from blackwell_model.errors import SpecError


@pytest.mark.parametrize("system", ["GB200-NVL72", "DGX-H100", "MI300X-8"])
def test_swap_in_systems_and_clusters(system):
    rack = bm.catalog.system(system)
    fast = attrs.evolve(rack.accelerator, memory_bandwidth="16 TB/s", name="fast")
    swapped = bm.with_accelerator(rack, fast)
    assert swapped.accelerator.name == "fast"
    assert swapped.gpus == rack.gpus and swapped.switch == rack.switch
    if rack.node.superchip is not None:
        assert swapped.node.superchip.accelerator.name == "fast"
    cluster = bm.catalog.cluster(rack, gpus=4 * rack.gpus)
    swapped_cluster = bm.with_accelerator(cluster, fast)
    assert swapped_cluster.accelerator.memory_bandwidth.to("TB/s").m == pytest.approx(16.0)
    assert swapped_cluster.fabric == cluster.fabric and swapped_cluster.domains == cluster.domains
    # the original is untouched (parts are frozen)
    assert cluster.accelerator.name == rack.accelerator.name


def test_bad_input():
    rack = bm.catalog.system("DGX-H100")
    with pytest.raises(SpecError, match="Accelerator"):
        bm.with_accelerator(rack, "H200-SXM")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="Superchip, Node"):
        bm.with_accelerator(rack.accelerator, rack.accelerator)  # type: ignore[type-var]


def test_what_if_name_uses_readable_units():
    rack = bm.catalog.system("GB200-NVL72")
    fast = bm.with_accelerator(rack, memory_bandwidth=bm.Q_(16, "TB/s"))
    assert fast.name == "GB200-NVL72 [memory_bandwidth=16 TB/s]"


def test_layout_label():
    lay = bm.Layout(tp=8, pp=16, dp=64, global_batch=2048, seq_len=8192)
    assert lay.label == "tp8 cp1 pp16 vpp1 dp64 ep1 mb1 bf16 rc=none zero1"


# ------------------------------------------------------------- issue 12, item 14
@pytest.mark.parametrize("system", ["GB200-NVL72", "DGX-H100"])
@pytest.mark.parametrize(
    ("field", "value", "argument"),
    [
        ("scale_up_link", "NVLink4", "scale_up_link"),
        ("scale_up_ports", 9, "links_per_accelerator"),
        ("nic", "IB-XDR-800G", "nic"),
    ],
)
def test_with_accelerator_refuses_changes_the_composite_would_ignore(
    system, field, value, argument
):
    """Item 14: ``with_accelerator(cluster, scale_up_link=...)`` silently changed nothing
    (the domain keeps its own link); now it says so and names with_links."""
    cluster = bm.catalog.cluster(system, gpus=144)
    with pytest.raises(
        SpecError, match=rf"{field}= would change nothing.*with_links\(part, {argument}="
    ):
        bm.with_accelerator(cluster, **{field: value})


def test_with_accelerator_may_still_change_links_of_a_bare_superchip():
    sc = bm.catalog.superchip("GB200")
    out = bm.with_accelerator(sc, nic="IB-XDR-800G")
    assert out.accelerator.nic.name == "IB-XDR-800G"


def test_with_links_changes_what_the_model_uses():
    cluster = bm.catalog.cluster("DGX-H100", gpus=16)
    out = bm.with_links(
        cluster,
        scale_up_link="NVLink5",
        nic="IB-XDR-800G",
        fabric={"sharp": False, "switch": "Quantum-X800"},
    )
    assert out.domain.link.name == "NVLink5"
    assert out.domain.scale_up_bandwidth.to("GB/s").m == pytest.approx(900.0)
    assert out.domain.node.nic.name == "IB-XDR-800G"
    assert out.fabric.sharp is False and out.fabric.switch.name == "Quantum-X800"
    assert "scale_up_link=NVLink5" in out.name
    # and a prediction sees the faster scale-up network
    model = bm.catalog.model("llama3-70b")
    lay = bm.Layout(tp=8, pp=2, global_batch=32, seq_len=4096)
    slow = bm.predict_training(model, cluster, lay, check_memory=False)
    fast = bm.predict_training(model, out, lay, check_memory=False)
    assert fast.breakdown["tp_comm"] < slow.breakdown["tp_comm"]


@pytest.mark.parametrize(
    ("part", "kwargs", "match"),
    [
        (
            lambda: bm.catalog.system("DGX-H100"),
            {"fabric": {"sharp": False}},
            "fabric= has no effect",
        ),
        (
            lambda: bm.catalog.system("DGX-H100"),
            {"c2c_link": "NVLink-C2C"},
            "c2c_link= has no effect",
        ),
        (lambda: bm.catalog.superchip("GB200"), {"nic": "IB-NDR-400G"}, "nic= has no effect"),
        (
            lambda: bm.catalog.system("GB200-NVL72"),
            {"host_link": "PCIe-Gen5-x16"},
            "host_link= has no effect",
        ),
        (
            lambda: attrs.evolve(bm.catalog.cluster("DGX-H100", gpus=8), fabric=None),
            {"fabric": {"tiers": 2}},
            "no scale-out fabric",
        ),
        (lambda: bm.catalog.system("DGX-H100"), {}, "at least one change"),
    ],
)
def test_with_links_refuses_arguments_without_effect(part, kwargs, match):
    with pytest.raises(SpecError, match=match):
        bm.with_links(part(), **kwargs)


def test_with_links_checks_the_result():
    rack = bm.catalog.system("DGX-H100")
    with pytest.raises(SpecError, match="ports"):
        bm.with_links(rack, links_per_accelerator=64)  # 4 NVSwitch chips cannot take them
