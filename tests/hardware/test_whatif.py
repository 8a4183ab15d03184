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
