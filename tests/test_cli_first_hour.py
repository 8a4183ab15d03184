"""The command line as a new user meets it (issue 12): one-line errors, Ctrl-C, visible
defaults, GPUs used as asked, one strict JSON schema."""

from __future__ import annotations

import io
import json

import pytest

import blackwell_model as bm
from blackwell_model.cli import main


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except KeyboardInterrupt:  # escaping, it would stop the whole test session
        pytest.fail("KeyboardInterrupt escaped main() (a traceback at the command line)")
    out, err = capsys.readouterr()
    return code, out, err


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity (not JSON)."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------- item 19: one-line usage errors
@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--gpus", "0"],
        ["train", "--tp"],
        ["train", "--bogus"],
        ["infer", "--precision", "fp7"],
        ["bogus"],
        ["search", "--gpus", "99999999999999999999"],
        ["compare", "--tokens", "nan"],
        ["train", "--glob", "8"],  # no abbreviations: --glob is not --global-batch
    ],
)
def test_argument_errors_are_one_line(argv, capsys):
    """Item 19: argument errors printed a 13-line usage block; the README promises one."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "error:" in err and "--help" in err


# -------------------------------------------- item 13: the README's train example
def test_readme_train_example_runs_and_shows_its_defaults(capsys):
    """Item 13: ``train --gpus 72 --tp 4 --pp 2`` failed on hidden defaults cp=2, vpp=5."""
    code, out, err = run(
        capsys,
        "train", "--model", "llama3-70b", "--system", "GB200-NVL72",
        "--gpus", "72", "--tp", "4", "--pp", "2",
    )  # fmt: skip
    assert code == 0, err
    defaults = next(line for line in out.splitlines() if line.startswith("defaults"))
    for shown in ("cp=2", "vpp=5", "dp=4", "micro-batch=1", "global-batch=128", "seq-len=8192"):
        assert shown in defaults
    for given in ("tp=", "pp=", "gpus=", "model=", "system="):
        assert f" {given}" not in defaults
    assert "uses 64 of the 72 GPUs" in out


def test_train_defaults_follow_what_was_given(capsys):
    code, out, _ = run(
        capsys,
        "train",
        "--model",
        "llama3-8b",
        "--gpus",
        "8",
        "--tp",
        "8",
        "--pp",
        "1",
        "--cp",
        "1",
    )
    assert code == 0 and "vpp=1" in out  # no interleaving without pipeline stages


def test_layout_error_names_the_defaults_in_use(capsys):
    code, _, err = run(capsys, "train", "--model", "llama3-8b", "--gpus", "64", "--pp", "8")
    assert code == 2 and err.count("\n") == 1
    assert "[rule:" in err and "defaults (not given on the command line)" in err and "vpp=5" in err


# ------------------------------------------------- item 15: GPUs used as asked
def test_infer_refuses_fewer_gpus_than_the_layout(capsys):
    """Item 15: ``infer --gpus 4 --tp 8`` silently ran on 8 GPUs."""
    code, out, err = run(capsys, "infer", "--gpus", "4", "--tp", "8")
    assert (
        code == 2
        and out == ""
        and "--gpus 4 is fewer than the deployment needs: tp*pp = 8*1 = 8" in err
    )


def test_infer_says_what_it_leaves_unused(capsys):
    """Item 15: ``--gpus 12`` built 2 nodes and used 8 without a word."""
    code, out, _ = run(capsys, "infer", "--gpus", "12", "--tp", "8", "--json")
    doc = strict_json(out)
    assert code == 0 and doc["result"]["gpus"] == 8 and doc["inputs"]["gpus"] == 12
    assert any("uses 8 of the 12 GPUs" in n for n in doc["notes"])


def test_infer_fills_the_gpus_with_replicas(capsys):
    code, out, _ = run(
        capsys, "infer", "--model", "llama3-8b", "--gpus", "16", "--tp", "8", "--json"
    )
    doc = strict_json(out)
    assert code == 0 and doc["result"]["gpus"] == 16 and doc["result"]["layout"]["dp"] == 2


def test_infer_dp_beyond_gpus_is_an_error(capsys):
    code, _, err = run(capsys, "infer", "--gpus", "8", "--tp", "8", "--dp", "2")
    assert code == 2 and "tp*pp*dp = 8*1*2 = 16 GPUs but --gpus is 8" in err


# ------------------------------------------------------------- item 12: Ctrl-C
def _small_search():
    return bm.search_layouts(
        bm.catalog.model("llama3-8b"),
        bm.catalog.cluster("DGX-H100", gpus=16),
        global_batch=64,
        seq_len=4096,
    )


def test_ctrl_c_in_search_is_one_line_and_exit_130(capsys, monkeypatch):
    """Item 12: Ctrl-C during ``search`` printed a 23-49 line KeyboardInterrupt traceback."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bm.study, "search_layouts", interrupted)
    code, out, err = run(capsys, "search", "--model", "llama3-8b", "--gpus", "16")
    assert code == 130 and out == "" and err == "blackwell-model: interrupted\n"


def test_ctrl_c_in_search_prints_the_partial_result(capsys, monkeypatch):
    partial = _small_search()

    def interrupted(*args, **kwargs):
        raise bm.errors.Interrupted("search interrupted after 4,096 of 9,000 candidates", partial)

    monkeypatch.setattr(bm.study, "search_layouts", interrupted)
    code, out, err = run(capsys, "search", "--model", "llama3-8b", "--gpus", "16", "--top", "3")
    assert code == 130 and err.count("\n") == 1 and "4,096 of 9,000" in err
    assert "feasible" in out and "partial result" in out
    code, out, _ = run(capsys, "search", "--model", "llama3-8b", "--gpus", "16", "--json")
    doc = strict_json(out)
    assert code == 130 and doc["result"]["feasible"] == partial.feasible
    assert any("interrupted" in n for n in doc["notes"])


def test_ctrl_c_elsewhere_is_one_line_too(capsys, monkeypatch):
    from blackwell_model import cli

    def interrupted(run):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_infer", interrupted)
    code, _, err = run(capsys, "infer")
    assert code == 130 and err == "blackwell-model: interrupted\n"


# ------------------------------------------------ item 18: progress and assumptions
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_moves_by_candidates(capsys, monkeypatch):
    """Item 18: the bar moved twice on a 72k-candidate search."""
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    code = main(["search", "--model", "deepseek-v3", "--gpus", "16384"])
    capsys.readouterr()
    assert code == 0
    updates = term.getvalue().count("\r")
    assert updates >= 10, term.getvalue()


def test_main_report_states_its_assumptions():
    """Item 18: tokens to train, batch, goodput, serve precision and lengths, and what MFU
    is measured against, under the tables."""
    from blackwell_model.study.report import Scenario, what_if_report

    sc = Scenario(
        model="llama3-8b", train_gpus=64, global_batch=128, train_precision="fp8", tokens=2e12
    )
    text = what_if_report([sc], ["DGX-H100", "MI300X-8"]).format()
    tail = text[text.index("Assumptions:") :]
    for needle in (
        "2T tokens",
        "global batch 128 x 8,192 tokens",
        "modelled goodput",
        "served in fp8",
        "1,000-token prompts",
        "FP8 peak",
        "no price for MI300X-8",
    ):
        assert needle in tail, needle
    notes = text[text.index("Notes:") : text.index("Assumptions:")]
    assert notes.count("goodput") == 2 and "(modelled)" in notes


# --------------------------------------------------------- item 9: one JSON schema
JSON_COMMANDS = [
    ["catalog"],
    ["catalog", "link"],
    ["catalog", "accelerator", "B200"],
    ["catalog", "--table"],
    ["train", "--model", "llama3-8b", "--gpus", "8", "--tp", "8", "--pp", "1", "--cp", "1"],
    ["infer", "--model", "llama3-8b", "--tp", "1"],
    ["search", "--model", "llama3-8b", "--gpus", "16", "--global-batch", "64"],
    [
        "compare", "--model", "llama3-8b", "--gpus", "64", "--global-batch", "128",
        "DGX-H100", "MI300X-8",
    ],
]  # fmt: skip


def _numbers_and_keys(data, path=""):
    """Every (key path, value) of a JSON document."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _numbers_and_keys(v, f"{path}.{k}")
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _numbers_and_keys(v, f"{path}[{i}]")
    else:
        yield path, data


@pytest.mark.parametrize("argv", JSON_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_json_output_is_one_strict_schema(argv, capsys):
    """Item 9: ``compare --json`` wrote bare NaN, ``catalog --table --json`` printed text,
    values were strings with units in one command and suffixed floats in another."""
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    doc = strict_json(out)
    assert list(doc) == ["schema", "command", "inputs", "defaults", "notes", "result"]
    assert doc["schema"] == "blackwell-model/1" and doc["command"] == argv[0]
    for path, value in _numbers_and_keys(doc["result"]):
        # no quantity hides in a string: "3.35 TB/s" would be a number with a unit as text
        if isinstance(value, str) and "sources" not in path and "notes" not in path:
            assert not bm.units._QUANTITY_RE.fullmatch(value), (path, value)


def test_json_of_an_unpriced_system_is_null_not_nan(capsys):
    code, out, _ = run(capsys, *JSON_COMMANDS[-1], "--json")
    assert code == 0
    rows = strict_json(out)["result"]["rows"]
    unpriced = next(r for r in rows if r["system"] == "MI300X-8")
    assert unpriced["train_cost_usd"] is None
    assert unpriced["serve_cost_per_million_tokens_usd"] is None
    priced = next(r for r in rows if r["system"] == "DGX-H100")
    assert priced["train_cost_usd"] > 0 and priced["train_energy_J"] > 0


def test_train_and_infer_json_carry_the_energy_the_text_shows(capsys):
    code, out, _ = run(capsys, *JSON_COMMANDS[4], "--json")
    energy = strict_json(out)["result"]["energy"]
    assert energy["energy_J"] > 0 and energy["energy_per_token_J"] > 0 and energy["pue"] >= 1
    assert energy["average_power_W"] > 0 and energy["peak_power_W"] >= energy["average_power_W"]
    code, out, _ = run(capsys, *JSON_COMMANDS[5], "--json")
    assert code == 0
    result = strict_json(out)["result"]
    assert result["energy_per_token_J"] > 0 and result["energy"]["energy_J"] > 0
    assert result["memory_capacity_B"] > 0


def test_catalog_part_json_has_floats_under_unit_suffixed_keys(capsys):
    code, out, _ = run(capsys, "catalog", "accelerator", "H100-SXM", "--json")
    assert code == 0
    part = strict_json(out)["result"]["part"]
    assert part["memory_bandwidth_Bps"] == pytest.approx(3.35e12)
    assert part["tdp_W"] == pytest.approx(700.0)
    assert part["peak_flops_flop_per_s"]["bf16"] == pytest.approx(989.4e12)
    assert part["scale_up_link"]["bandwidth_Bps"] == pytest.approx(25e9)
