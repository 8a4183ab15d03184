"""Small parts built by hand for topology tests (numbers chosen for hand derivation)."""

from __future__ import annotations

import blackwell_model as bm
from blackwell_model.hardware import (
    Cluster,
    DomainTopology,
    Fabric,
    LinkSpec,
    Node,
    ScaleUpDomain,
    SwitchSpec,
)

#: 400 Gb/s NIC = 50 GB/s each way, 2.7 us per network step.
NIC = LinkSpec(name="NIC-400G", kind="infiniband", bandwidth="400 Gb/s", latency="2.7 us")
NIC_Bps = 50e9
SWITCH_LATENCY_s = 200e-9


def switch(ports: int) -> SwitchSpec:
    """An InfiniBand switch of ``ports`` x 400 Gb/s, 200 ns, SHARP."""
    return SwitchSpec(
        name=f"IB-{ports}",
        kind="infiniband",
        ports=ports,
        port_bandwidth="400 Gb/s",
        latency="200 ns",
        in_network_reduction="SHARPv3",
    )


def single_gpu_cluster(
    n: int,
    *,
    radix: int,
    tiers: int = 2,
    oversubscription: float = 1.0,
    rail_optimized: bool = False,
    sharp: bool = True,
) -> Cluster:
    """``n`` domains of one H100 with one 400G NIC each: a plain fat-tree of GPUs."""
    h100 = bm.catalog.accelerator("H100-SXM")
    node = Node(name="1xH100", accelerator=h100, accelerators=1, nic=NIC)
    dom = ScaleUpDomain(name="1xH100", node=node, nodes=1)
    fab = Fabric(
        name=f"ft{radix}",
        switch=switch(radix),
        tiers=tiers,
        oversubscription=oversubscription,
        rail_optimized=rail_optimized,
        sharp=sharp,
    )
    return Cluster(name=f"{n} x 1xH100", domain=dom, domains=n, fabric=fab)


def mesh_domain() -> ScaleUpDomain:
    """An MI300X-style platform: 8 GPUs, 7 links each, one to every peer."""
    h100 = bm.catalog.accelerator("H100-SXM")
    link = LinkSpec(name="IF", kind="infinity_fabric", bandwidth="64 GB/s", latency="1 us")
    node = Node(name="mesh8", accelerator=h100, accelerators=8, nic=NIC)
    return ScaleUpDomain(
        name="mesh8", node=node, topology=DomainTopology.MESH, link=link, links_per_accelerator=7
    )


def torus_domain(shape: tuple[int, ...], links: int) -> ScaleUpDomain:
    """A TPU-style torus of single-chip nodes, ``links`` ICI ports of 100 GB/s each."""
    h100 = bm.catalog.accelerator("H100-SXM")
    ici = LinkSpec(name="ICI", kind="ici", bandwidth="100 GB/s", latency="1 us")
    node = Node(name="chip", accelerator=h100, accelerators=1, nic=NIC)
    gpus = 1
    for k in shape:
        gpus *= k
    return ScaleUpDomain(
        name=f"torus{shape}",
        node=node,
        nodes=gpus,
        topology="torus",
        link=ici,
        links_per_accelerator=links,
        torus_shape=shape,
    )
