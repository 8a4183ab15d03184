"""Every script in examples/ runs to completion and prints something.

Each script runs in a subprocess with this Python, in a fresh temporary
directory (so figures they write land there), with ``MPLBACKEND=Agg``.
Scripts that import matplotlib at module level are skipped when it is not
installed (it is the ``plot`` extra, not a test dependency).  Together the
scripts take 15-20 s, so the test that runs them is marked slow.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
TIMEOUT_S = 120

# A module-level import of matplotlib (or of blackwell_model.plot, which needs it).
_NEEDS_MPL = re.compile(
    r"^(import matplotlib|from matplotlib\b|from blackwell_model import plot\b"
    r"|import blackwell_model\.plot|from blackwell_model\.plot\b)",
    re.MULTILINE,
)


def test_examples_exist() -> None:
    assert SCRIPTS, f"no scripts in {EXAMPLES}"
    assert any(p.name.startswith("tutorial_") for p in SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    source = script.read_text("utf-8")
    if _NEEDS_MPL.search(source) and importlib.util.find_spec("matplotlib") is None:
        pytest.skip("needs matplotlib (the plot extra)")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{script.name} did not finish within {TIMEOUT_S} s")
    assert proc.returncode == 0, (
        f"{script.name} exited with status {proc.returncode}; stderr:\n{proc.stderr[-4000:]}"
    )
    assert proc.stdout.strip(), f"{script.name} printed nothing"


def test_tutorials_have_docstrings() -> None:
    """Each tutorial explains its question and how to read the answer."""
    for script in SCRIPTS:
        if not script.name.startswith("tutorial_"):
            continue
        source = script.read_text("utf-8")
        assert source.startswith('"""'), f"{script.name} has no module docstring"
        docstring = source.split('"""')[1]
        for heading in ("The question", "How to read the answer"):
            assert heading in docstring, f"{script.name}: docstring lacks {heading!r}"
