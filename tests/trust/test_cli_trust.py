"""The command line: ``calibrate``, ``--calibration``, the interval line and the extrapolation note."""

from __future__ import annotations

import json

import pytest

from blackwell_model.cli import main

MANIFEST = """\
[cluster]
system = "DGX-H100"
gpus = 8

[[gemm]]
file = "sweep.csv"

[[memory]]
bandwidth = "3.0 TB/s"
"""
SWEEP = "m,n,k,dtype,tflops\n8192,8192,8192,bf16,640\n4096,4096,1024,bf16,560\n1024,8192,4096,bf16,600\n"


def test_calibrate_then_train_with_it(tmp_path, capsys):
    (tmp_path / "m.toml").write_text(MANIFEST)
    (tmp_path / "sweep.csv").write_text(SWEEP)
    out = tmp_path / "cal.json"
    assert main(["calibrate", str(tmp_path / "m.toml"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "roofline.gemm_max" in text and "written to" in text
    data = json.loads(out.read_text())
    assert data["fitted"]["roofline.hbm"] == pytest.approx(3.0 / 3.35, rel=1e-3)
    assert main(["train", "--model", "llama3-8b", "--gpus", "8", "--tp", "1", "--pp", "1", "--cp", "1", "--vpp", "1", "--seq-len", "4096", "--global-batch", "64",
                 "--calibration", str(out)]) == 0  # fmt: skip
    assert "80 % interval" in capsys.readouterr().out
    assert main(["calibrate", str(tmp_path / "m.toml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["accelerator"] == "H100-SXM"


def test_note_only_when_extrapolated(capsys):
    assert main(["train", "--system", "MI300X-8", "--gpus", "64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("note: extrapolated") and "MI300X" in lines[-1]
    assert main(["train"]) == 0
    assert "extrapolated" not in capsys.readouterr().out
    assert main(["infer", "--system", "TPU-v5p-6144", "--gpus", "8"]) == 0
    assert "note: extrapolated" in capsys.readouterr().out
    assert main(["train", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # JSON output stays plain JSON
    assert doc["result"]["evidence"]["validated"] is True
    low, high = (
        doc["result"]["interval"]["values"]["step_time_s"][0],
        doc["result"]["interval"]["values"]["step_time_s"][2],
    )
    assert low < doc["result"]["step_time_s"] < high


def test_calibrate_errors(tmp_path, capsys):
    assert main(["calibrate", str(tmp_path / "missing.toml")]) == 2
    (tmp_path / "bad.toml").write_text("[[gemm]]\n")
    assert main(["calibrate", str(tmp_path / "bad.toml")]) == 2
    assert "missing key 'file'" in capsys.readouterr().err
