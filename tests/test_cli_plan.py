"""The ``plan`` subcommand: a fleet by GPUs or a power budget, and a fleet-wide job."""

from __future__ import annotations

import json

from blackwell_model.cli import main


def test_plan_by_power_budget_with_a_model(capsys) -> None:
    assert main(["plan", "--power-budget", "2 MW", "--model", "llama3-70b"]) == 0
    out = capsys.readouterr().out
    assert "size set by power budget" in out
    assert "interruptions/day" in out


def test_plan_json_and_errors(capsys) -> None:
    assert main(["plan", "--system", "DGX-H100", "--gpus", "64", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["result"]
    assert data["gpus"] == 64 and data["domains"] == 8 and data["cooling"] == "air"
    assert (
        main(["plan", "--system", "DGX-H100", "--gpus", "64", "--cooling", "liquid", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["result"]["cooling"] == "liquid"
    assert main(["plan"]) == 2
    assert "needs gpus, a power_budget" in capsys.readouterr().err
