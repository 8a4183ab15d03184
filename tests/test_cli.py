"""The command line: every subcommand on defaults and on a user part; clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import networkx as nx
import pytest

from blackwell_model.cli import main

USER_PARTS = """
[accelerator."Test-GPU"]
vendor = "Acme"
memory_capacity = "141 GB"
memory_bandwidth = "4.8 TB/s"
tdp = "700 W"
scale_up_link = "NVLink4"
scale_up_ports = 18
nic = "IB-NDR-400G"
peak_flops = { bf16 = "989.4 TFLOP/s", fp8 = "1978.9 TFLOP/s" }
sources = { peak_flops = "test part" }

[node."Test-node"]
accelerator = "Test-GPU"
accelerators = 8

[system."Test-8"]
node = "Test-node"
switch = "NVSwitch3"
switches = 4
default_fabric = "IB-NDR-fat-tree"
"""


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_main_job_is_the_what_if_report(capsys):
    code, out, _ = run(capsys)
    assert code == 0
    for needle in ("llama3-70b", "llama3-405b", "DGX-H100", "GB200-NVL72", "MFU", "MWh", "J/tok"):
        assert needle in out


def test_accelerator_table(capsys):
    code, out, _ = run(capsys, "catalog", "--table")
    assert code == 0
    assert "H100-SXM" in out and "B200-GB200" in out
    # dense BF16 of H100 SXM, from the datasheet: 989.4 TFLOP/s
    assert "989" in out


def test_catalog_list_and_show(capsys):
    code, out, _ = run(capsys, "catalog")
    assert code == 0 and "accelerator (" in out and "system (" in out
    code, out, _ = run(capsys, "catalog", "accelerator", "h100-sxm")
    assert code == 0 and "sources:" in out and "3.35 TB/s" in out
    code, out, _ = run(capsys, "catalog", "system", "GB200-NVL72", "--json")
    assert code == 0 and json.loads(out)["result"]["part"]["nodes"] == 18


def test_unknown_name_is_one_line_error(capsys):
    code, out, err = run(capsys, "catalog", "accelerator", "H10-SMX")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "did you mean 'H100-SXM'" in err


def test_train_on_defaults_fits(capsys):
    code, out, _ = run(capsys, "train")
    assert code == 0 and "energy per step" in out


def test_train_defaults_and_json(capsys):
    code, out, _ = run(
        capsys, "train", "--json", "--gpus", "64", "--cp", "2", "--vpp", "5", "--precision", "fp8"
    )
    assert code == 0
    data = json.loads(out)["result"]
    # the layout fills the 64 GPUs: dp = 64 / (tp 4 * pp 4 * cp 2) = 2
    assert data["layout"]["dp"] == 2 and data["gpus"] == 64
    assert sum(data["breakdown_s"].values()) == pytest.approx(data["step_time_s"])


def test_train_bad_layout_is_one_line_error(capsys):
    code, _, err = run(
        capsys, "train", "--tp", "3", "--pp", "4", "--cp", "1", "--vpp", "1", "--gpus", "48"
    )
    assert code == 2 and "[rule: tp_heads]" in err and err.count("\n") == 1


def test_train_argument_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--gpus", "0"])
    assert info.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_graph_json_and_graphml(capsys, tmp_path):
    code, out, _ = run(capsys, "graph", "--system", "DGX-H100")
    assert code == 0
    g = nx.node_link_graph(json.loads(out), edges="edges")
    assert sum(1 for _, d in g.nodes(data=True) if d.get("kind") == "gpu") == 8
    path = tmp_path / "nvl72.graphml"
    code, _, err = run(
        capsys, "graph", "--system", "GB200-NVL72", "--format", "graphml", "-o", str(path)
    )
    assert code == 0 and path.exists() and "wrote" in err
    g = nx.read_graphml(path)
    assert sum(1 for _, d in g.nodes(data=True) if d.get("kind") == "gpu") == 72


def test_user_parts_file(capsys, tmp_path):
    parts = tmp_path / "parts.toml"
    parts.write_text(USER_PARTS)
    code, out, _ = run(capsys, "catalog", "accelerator", "Test-GPU", "--parts", str(parts))
    assert code == 0 and "4.8 TB/s" in out
    code, out, _ = run(
        capsys,
        "train",
        "--parts",
        str(parts),
        "--system",
        "Test-8",
        "--gpus",
        "16",
        "--model",
        "llama3-8b",
        "--tp",
        "2",
        "--pp",
        "1",
        "--cp",
        "1",
        "--vpp",
        "1",
        "--global-batch",
        "64",
    )
    assert code == 0 and "Test-8 x 2" in out
    code, _, err = run(capsys, "catalog", "--parts", str(tmp_path / "missing.toml"))
    assert code == 2 and "cannot read" in err


def test_python_dash_m_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "blackwell_model", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "blackwell-model" in proc.stdout


def test_infer_defaults_and_json(capsys):
    code, out, _ = run(capsys, "infer", "--tp", "4", "--dp", "2")
    assert code == 0 and "time to first token" in out and "energy per output token" in out
    code, out, _ = run(capsys, "infer", "--batch", "8", "--json")
    data = json.loads(out)["result"]
    assert code == 0 and data["batch"] == 8


def test_infer_batch_that_does_not_fit(capsys):
    code, _, err = run(capsys, "infer", "--model", "llama3-405b", "--tp", "1", "--batch", "1")
    assert code == 2 and "[rule: memory]" in err


def test_search_ranks_layouts(capsys):
    code, out, _ = run(
        capsys,
        "search",
        "--model",
        "llama3-8b",
        "--gpus",
        "16",
        "--global-batch",
        "64",
        "--top",
        "3",
    )
    assert code == 0 and "feasible" in out and "rejected by rule" in out
    code, out, _ = run(
        capsys, "search", "--model", "llama3-8b", "--gpus", "16", "--global-batch", "64", "--json"
    )
    data = json.loads(out)["result"]
    assert data["feasible"] > 0 and len(data["top"]) == 10
    assert data["enumerated"] == data["feasible"] + sum(data["rejected"].values())


def test_search_nothing_fits_exits_1(capsys):
    code, out, _ = run(
        capsys,
        "search",
        "--model",
        "llama3-405b",
        "--gpus",
        "8",
        "--global-batch",
        "8",
        "--seq-len",
        "4096",
    )
    assert code == 1 and "memory" in out


def test_compare_systems(capsys):
    code, out, _ = run(
        capsys,
        "compare",
        "--model",
        "llama3-8b",
        "--gpus",
        "64",
        "--global-batch",
        "128",
        "DGX-H100",
        "DGX-B200",
    )
    # two training rows, two serving rows and the assumptions under the tables
    assert code == 0 and out.count("llama3-8b") == 7  # + two goodput notes
    code, _, err = run(
        capsys,
        "compare",
        "--model",
        "llama3-8b",
        "--gpus",
        "64",
        "--global-batch",
        "128",
        "DGX-A100",
    )
    assert code == 2 and "does not support fp8" in err and err.count("\n") == 1


@pytest.mark.parametrize("cmd", ["catalog", "train", "infer", "search", "compare", "graph"])
def test_every_subcommand_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as info:
        main([cmd, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: blackwell-model " + cmd in out and "--parts" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["infer", "--system", "Test-8", "--model", "llama3-8b", "--tp", "1", "--dp", "8"],
        [
            "search",
            "--system",
            "Test-8",
            "--model",
            "llama3-8b",
            "--gpus",
            "16",
            "--global-batch",
            "64",
        ],
        ["compare", "Test-8", "--model", "llama3-8b", "--gpus", "16", "--global-batch", "64"],
        ["graph", "--system", "Test-8"],
    ],
)
def test_every_subcommand_takes_a_user_part(argv, capsys, tmp_path):
    parts = tmp_path / "parts.toml"
    parts.write_text(USER_PARTS)
    code, out, err = run(capsys, *argv, "--parts", str(parts))
    assert code == 0, err
    assert out.strip()


def test_unexpected_errors_are_one_line(capsys, monkeypatch):
    from blackwell_model import cli

    def boom(args):
        raise RuntimeError("something broke")

    monkeypatch.setattr(cli, "_cmd_graph", boom)
    monkeypatch.delenv("BLACKWELL_MODEL_DEBUG", raising=False)
    code, _, err = run(capsys, "graph")
    assert code == 3 and err.count("\n") == 1 and "RuntimeError: something broke" in err
