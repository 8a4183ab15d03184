"""to_graph: the wiring of superchips, domains, fabrics; edge data; exports; errors."""

from __future__ import annotations

import json
import pickle
import sys

import attrs
import networkx as nx
import pytest
from topology._parts import NIC, mesh_domain, single_gpu_cluster, switch, torus_domain

import blackwell_model as bm
from blackwell_model.errors import SpecError, TopologyError
from blackwell_model.hardware import Cluster, Node, ScaleUpDomain, SwitchSpec
from blackwell_model.topology import (
    EdgeData,
    devices,
    draw,
    plain_graph,
    to_graph,
    to_graphml,
    to_node_link_json,
)


def kinds(g: nx.DiGraph) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, k in g.nodes(data="kind"):
        out[k] = out.get(k, 0) + 1
    return out


def test_gb200_superchip_grace_to_each_b200_450_GBps_each_way() -> None:
    g = to_graph(bm.catalog.superchip("GB200"))
    assert kinds(g) == {"gpu": 2, "cpu": 1}
    for gpu in ("gpu0", "gpu1"):
        for u, v in ((gpu, "cpu0"), ("cpu0", gpu)):
            d = g.edges[u, v]
            assert d["bandwidth"] == pytest.approx(450e9)
            assert d["links"] == 1
            assert d["spec"].name == "NVLink-C2C"
            assert d["plane"] == "host"


def test_nvl72_rack_wiring() -> None:
    g = to_graph(bm.catalog.system("GB200-NVL72"))
    assert kinds(g) == {"gpu": 72, "cpu": 36, "nic": 72, "switch": 18}
    gpu = "tray7/gpu1"
    switches = [v for v in g.successors(gpu) if g.nodes[v]["kind"] == "switch"]
    assert sorted(switches) == sorted(f"nvswitch{s}" for s in range(18))
    for s in switches:
        assert g.edges[gpu, s]["links"] == 1
        assert g.edges[gpu, s]["bandwidth"] == pytest.approx(50e9)
        assert g.edges[s, gpu]["bandwidth"] == pytest.approx(50e9)
    # each NVLink Switch chip: one port per GPU, 72 of its 72 ports
    assert g.out_degree("nvswitch5") == 72
    # NVLink5 0.6 us per GPU-GPU hop, split over the two cables of the hop
    assert g.edges[gpu, "nvswitch0"]["latency"] + g.edges["nvswitch0", "tray0/gpu0"][
        "latency"
    ] == pytest.approx(0.6e-6)
    # Grace of superchip 0 of tray 7 feeds GPUs 0 and 1 of the tray
    assert g.has_edge("tray7/gpu1", "tray7/cpu0")
    assert g.has_edge("tray7/gpu2", "tray7/cpu1")


def test_hgx_h100_board_spreads_18_links_over_4_nvswitch_as_5_4_4_5() -> None:
    g = to_graph(bm.catalog.system("DGX-H100"))
    assert kinds(g)["switch"] == 4
    links = [g.edges["tray0/gpu3", f"nvswitch{s}"]["links"] for s in range(4)]
    assert links == [5, 4, 4, 5]


def test_hgx_b200_board_two_nvlink_switch_chips_nine_links_each() -> None:
    dgx = bm.catalog.system("DGX-H100")
    b200 = bm.catalog.accelerator("B200-GB200")
    node = attrs.evolve(dgx.node, accelerator=b200)
    dom = ScaleUpDomain(
        name="HGX-B200", node=node, switch=bm.catalog.switch("NVLink-Switch"), switches=2
    )
    g = to_graph(dom)
    assert [g.edges["tray0/gpu0", f"nvswitch{s}"]["links"] for s in range(2)] == [9, 9]
    assert g.edges["tray0/gpu0", "nvswitch1"]["bandwidth"] == pytest.approx(9 * 50e9)


def test_mesh_domain_links_every_pair() -> None:
    g = to_graph(mesh_domain())
    gpus = devices(g)
    assert len(gpus) == 8
    for a in gpus:
        peers = sorted(v for v in g.successors(a) if g.nodes[v]["kind"] == "gpu")
        assert peers == sorted(b for b in gpus if b != a)
    assert g.edges["tray0/gpu0", "tray0/gpu5"]["bandwidth"] == pytest.approx(64e9)


def test_torus_neighbours_with_wraparound() -> None:
    g = to_graph(torus_domain((4, 4), links=4))
    chip = "tray5/gpu0"  # coordinates (1, 1)
    peers = sorted(v for v in g.successors(chip) if g.nodes[v]["kind"] == "gpu")
    assert peers == sorted(f"tray{i}/gpu0" for i in (1, 4, 6, 9))
    corner = sorted(v for v in g.successors("tray0/gpu0") if g.nodes[v]["kind"] == "gpu")
    assert corner == sorted(f"tray{i}/gpu0" for i in (1, 3, 4, 12))  # wraps around
    assert "gpu" in g.graph["relay_kinds"]


def test_torus_dimension_of_two_aggregates_both_directions() -> None:
    g = to_graph(torus_domain((2, 4), links=4))
    assert g.edges["tray0/gpu0", "tray4/gpu0"]["links"] == 2  # (0,0)-(1,0), +1 and wrap
    assert g.edges["tray0/gpu0", "tray1/gpu0"]["links"] == 1


def test_cluster_node_ids_follow_the_hierarchy() -> None:
    c = bm.catalog.cluster("GB200-NVL72", gpus=4 * 72)
    g = to_graph(c)
    for node in (
        "d3/tray7/gpu1",
        "d3/nvswitch5",
        "d3/tray7/cpu1",
        "d3/tray7/nic1",
        "fabric/leaf12",
        "fabric/spine0",
    ):
        assert node in g
    a = g.nodes["d3/tray7/gpu1"]
    assert (a["domain"], a["tray"], a["local"], a["superchip"]) == (3, 7, 1, 0)
    assert a["rank"] == 3 * 72 + 7 * 4 + 1
    assert devices(g)[a["rank"]] == "d3/tray7/gpu1"
    assert g.nodes["d3/tray7/nic1"]["gpu"] == "d3/tray7/gpu1"


def test_non_blocking_two_tier_fat_tree_from_radix() -> None:
    # radix 8, non-blocking: 4 down + 4 up per leaf; 16 GPUs -> 4 leaves; the fewest spines
    # giving each leaf equal links: 2 spines, 2 parallel links from every leaf to each.
    g = to_graph(single_gpu_cluster(16, radix=8))
    tiers = [d.get("tier") for _, d in g.nodes(data=True) if d["kind"] == "switch"]
    assert tiers.count("leaf") == 4
    assert tiers.count("spine") == 2
    assert g.edges["fabric/leaf0", "fabric/spine1"]["links"] == 2
    assert g.edges["fabric/leaf0", "fabric/spine1"]["bandwidth"] == pytest.approx(100e9)
    assert g.out_degree("fabric/leaf0") == 4 + 2


def test_three_tier_fat_tree_pods_and_cores() -> None:
    # radix 4: leaves of 2 down / 2 up, pods of 2 leaves and 2 spines, 4 pods, 4 cores.
    g = to_graph(single_gpu_cluster(16, radix=4, tiers=3))
    tiers = [d.get("tier") for _, d in g.nodes(data=True) if d["kind"] == "switch"]
    assert (tiers.count("leaf"), tiers.count("spine"), tiers.count("core")) == (8, 8, 4)
    assert g.nodes["d5/tray0/gpu0"]["leaf"] == 2  # 2 GPUs per leaf
    assert g.nodes["d5/tray0/gpu0"]["pod"] == 1  # 2 leaves per pod
    assert sorted(g.successors("fabric/spine0")) == [
        "fabric/core0",
        "fabric/core1",
        "fabric/leaf0",
        "fabric/leaf1",
    ]


def test_two_to_one_oversubscribed_leaf() -> None:
    # radix 6 at 2:1: 4 down, 2 up per leaf.
    g = to_graph(single_gpu_cluster(16, radix=6, oversubscription=2.0))
    up = sum(
        d["links"] for _, v, d in g.out_edges("fabric/leaf0", data=True) if v.startswith("fabric/")
    )
    down = sum(1 for v in g.successors("fabric/leaf0") if g.nodes[v]["kind"] == "nic")
    assert (down, up) == (4, 2)


def test_rail_optimised_puts_gpu_i_of_every_node_on_rail_i() -> None:
    g = to_graph(bm.catalog.cluster("DGX-H100", gpus=8 * 128, rail_optimized=True))
    leaf_of = {gid: g.nodes[gid]["leaf"] for gid in devices(g)}
    for local in range(8):
        rails = {g.nodes[f"d{d}/tray0/gpu{local}"]["rail"] for d in range(32)}
        leaves = {leaf_of[f"d{d}/tray0/gpu{local}"] for d in range(32)}
        assert rails == {local}
        assert len(leaves) == 1
    assert leaf_of["d0/tray0/gpu0"] != leaf_of["d0/tray0/gpu1"]


def test_edge_data_is_shared_and_read_only() -> None:
    g = to_graph(bm.catalog.system("GB200-NVL72"))
    d1 = g.edges["tray0/gpu0", "nvswitch0"]
    d2 = g.edges["tray9/gpu3", "nvswitch7"]
    assert d1 is d2
    assert isinstance(d1, EdgeData)
    with pytest.raises(TopologyError, match="read-only"):
        d1["bandwidth"] = 1.0
    with pytest.raises(TopologyError, match="read-only"):
        g.add_edge("tray0/gpu0", "nvswitch0", bandwidth=1.0)
    h = g.copy()
    h.edges["tray0/gpu0", "nvswitch0"]["bandwidth"] = 1.0  # a copy owns plain dicts
    assert g.edges["tray0/gpu0", "nvswitch0"]["bandwidth"] == pytest.approx(50e9)
    back = pickle.loads(pickle.dumps(g))
    assert back.edges["tray1/gpu1", "nvswitch1"] == d1
    assert g.to_undirected().number_of_edges() == g.number_of_edges() // 2


def test_graphml_and_node_link_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    g = to_graph(bm.catalog.system("DGX-H100"))
    path = tmp_path / "dgx.graphml"
    to_graphml(g, path)
    back = nx.read_graphml(path)
    assert back.number_of_edges() == g.number_of_edges()
    e = back.edges["tray0/gpu0", "nvswitch0"]
    assert e["spec"] == "NVLink4"
    assert e["bandwidth"] == pytest.approx(5 * 25e9)
    assert back.nodes["nvswitch0"]["spec"] == "NVSwitch3"
    text = to_node_link_json(g, tmp_path / "dgx.json")
    data = json.loads((tmp_path / "dgx.json").read_text())
    assert json.loads(text) == data
    h = nx.node_link_graph(data, edges="edges")
    assert h.number_of_nodes() == g.number_of_nodes()
    assert plain_graph(g).graph["spec"] == "DGX-H100"


def test_draw_a_rack() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = draw(to_graph(bm.catalog.system("GB200-NVL72")))
    assert ax.get_title() == "GB200-NVL72"
    plt.close("all")


def test_draw_names_the_plot_extra_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"blackwell_model\[plot\]"):
        draw(to_graph(bm.catalog.superchip("GB200")))


def test_draw_refuses_a_huge_graph() -> None:
    pytest.importorskip("matplotlib")
    with pytest.raises(TopologyError, match="max_nodes"):
        draw(to_graph(bm.catalog.system("GB200-NVL72")), max_nodes=10)


# --- bad input ---------------------------------------------------------------------------


def test_to_graph_refuses_other_objects() -> None:
    with pytest.raises(TopologyError, match="Superchip, Node, ScaleUpDomain or Cluster"):
        to_graph("GB200-NVL72")  # type: ignore[arg-type]


def test_cluster_too_large_for_the_radix_and_tiers_is_refused() -> None:
    # 3 tiers of 64-port switches reach 64 * 64 * 32 = 131,072 / 2 = 65,536 NICs
    with pytest.raises(SpecError, match="connects at most 65536 NICs"):
        bm.catalog.cluster("GB200-NVL72", gpus=100_000)
    with pytest.raises(SpecError, match="add a tier"):
        bm.catalog.cluster("GB200-NVL72", gpus=4096, tiers=2)


def test_fabric_without_ports_for_the_nics_is_a_topology_error() -> None:
    c = single_gpu_cluster(2, radix=4)
    node = attrs.evolve(c.domain.node, nics_per_accelerator=3)
    c = Cluster(name="3 NICs", domain=attrs.evolve(c.domain, node=node), domains=2, fabric=c.fabric)
    with pytest.raises(TopologyError, match="each accelerator needs 3 NIC ports"):
        to_graph(c)


def test_switch_with_too_few_ports_for_its_share_is_a_topology_error() -> None:
    dgx = bm.catalog.system("DGX-H100")
    small = SwitchSpec(
        name="NVS-36", kind="nvlink", ports=36, port_bandwidth="25 GB/s", latency="0 ns"
    )
    dom = attrs.evolve(dgx, switch=small)  # 4 x 36 = 144 = 8 x 18 ports in all ...
    with pytest.raises(TopologyError, match=r"switch 0 of 4 \(NVS-36\) needs 8 .* = 40 ports"):
        to_graph(dom)  # ... but switch 0 carries 5 links of each GPU


def test_mesh_with_too_few_links_is_a_topology_error() -> None:
    dom = attrs.evolve(mesh_domain(), links_per_accelerator=6)
    with pytest.raises(TopologyError, match="at least 7 links each"):
        to_graph(dom)


def test_node_graph_has_nics_and_host_links() -> None:
    g = to_graph(bm.catalog.node("GB200-tray"))
    assert kinds(g) == {"gpu": 4, "cpu": 2, "nic": 4}
    assert g.edges["gpu3", "nic3"]["bandwidth"] == pytest.approx(NIC.bandwidth_Bps)
    h100_node = Node(
        name="x",
        accelerator=bm.catalog.accelerator("H100-SXM"),
        accelerators=2,
        host_link=bm.catalog.link("NVLink-C2C"),
        cpu=bm.catalog.cpu("Grace"),
        cpus=1,
    )
    g = to_graph(h100_node)
    assert g.has_edge("gpu1", "cpu0")


def test_torus_with_too_few_links_is_a_topology_error() -> None:
    with pytest.raises(TopologyError, match="needs at least 6 links"):
        to_graph(torus_domain((2, 2, 2), links=4))


def test_three_tier_fabric_that_cannot_reach_every_pod() -> None:
    # 2 tiers of radix 4 reach 8 leaves' worth = 8 NICs; Cluster checks the totals,
    # to_graph checks what the radix can wire: here the leaves overflow the spines.
    c = single_gpu_cluster(8, radix=4)
    assert to_graph(c).number_of_nodes() > 0
    with pytest.raises(SpecError):
        single_gpu_cluster(9, radix=4)
    assert switch(4).ports == 4
