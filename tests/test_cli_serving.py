"""CLI serving options (issue 13): latency targets, engine limits, disaggregation, sizing."""

from __future__ import annotations

import json

from blackwell_model.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_infer_tpot_target_acceptance(capsys):
    """Issue 13 acceptance: the operating point meets --max-tpot."""
    code, out, _ = run(
        capsys, "infer", "--model", "llama3-70b", "--system", "DGX-H100", "--tp", "8",
        "--max-tpot", "30ms", "--json",
    )  # fmt: skip
    assert code == 0
    rep = json.loads(out)["result"]
    assert rep["time_per_output_token_s"] <= 0.030
    assert "TPOT <= 30 ms" in rep["assumptions"]["targets"]
    assert rep["assumptions"]["kv_cache"].startswith("fp8")


def test_infer_states_its_assumptions(capsys):
    code, out, _ = run(
        capsys, "infer", "--model", "llama3-8b", "--tp", "1", "--max-batch", "32",
        "--kv-precision", "bf16", "--max-ttft", "1s",
    )  # fmt: skip
    assert code == 0
    assert "assumptions:" in out and "max_batch_size 32" in out and "bf16" in out


def test_infer_impossible_target_is_one_line_error(capsys):
    code, _, err = run(capsys, "infer", "--tp", "8", "--max-tpot", "0.1ms")
    assert code == 2
    assert "latency" in err and "time per output token" in err


def test_infer_disaggregated(capsys):
    code, out, _ = run(
        capsys, "infer", "--model", "llama3-70b", "--system", "DGX-H100",
        "--disaggregated", "tp4:tp8", "--input-tokens", "4096", "--output-tokens", "256", "--json",
    )  # fmt: skip
    assert code == 0
    rep = json.loads(out)["result"]
    assert rep["prefill_per_decode"] > 0
    assert rep["decode_layout"]["tp"] == 8


def test_infer_disaggregated_bad_spec(capsys):
    code, _, err = run(capsys, "infer", "--disaggregated", "tp4")
    assert code == 2 and "PREFILL:DECODE" in err


def test_size_subcommand(capsys):
    code, out, _ = run(
        capsys, "size", "DGX-H100", "--model", "llama3-8b", "--rate", "5", "--gpus", "8",
        "--json",
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out)["result"]["rows"]
    assert rows[0]["system"] == "DGX-H100" and rows[0]["gpus"] >= 1
    assert rows[0]["joules_per_token"] > 0


def test_size_length_mix_text(capsys):
    code, out, _ = run(
        capsys, "size", "DGX-H100", "--model", "llama3-8b", "--rate", "5", "--gpus", "8",
        "--lengths", "1000/200:0.7,4000/500:0.3", "--aggregated-only",
    )  # fmt: skip
    assert code == 0 and "$/Mtok" in out


def test_compare_with_serving_targets(capsys):
    code, out, _ = run(
        capsys, "compare", "DGX-H100", "--model", "llama3-8b", "--gpus", "64",
        "--global-batch", "64", "--tokens", "1e9", "--max-tpot", "40ms", "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)["result"]
    assert data["serving"][0]["tpot_s"] <= 0.040
