"""Sphinx extension: run an example script at build time and show its source and output.

Usage in a reST page::

    .. bm-example:: tutorial_gb200_vs_h100.py
       :skip-docstring:
       :figures:

runs ``examples/tutorial_gb200_vs_h100.py`` with the Python that runs Sphinx,
in a fresh temporary directory, with ``MPLBACKEND=Agg``, and renders

1. the script's source as a Python code block (captioned with its path), then
2. what it printed to standard output, as a literal block, then
3. with ``:figures:``, every PNG file the script wrote into its working
   directory, in name order, embedded in the page.

Nothing is cached: every build re-reads the pages that use the directive and
runs their scripts again, so the output shown is always that of the code
being documented.  A script that exits with a non-zero status, or runs past
its timeout, fails the build whatever the warning settings: the error names
the page, the script and its exit status and quotes the end of its standard
error.  With ``--keep-going`` every failing example is reported before the
build stops.

Options
-------
``:skip-docstring:``
    Leave the module docstring out of the displayed source (the page's prose
    says the same).  The script still runs whole.
``:hide-source:``
    Show only the output.
``:hide-output:``
    Show only the source (the script still runs and must succeed).
``:figures:``
    Embed the PNG files the script writes into its working directory.
``:timeout:``
    Seconds before the script is stopped (default: the ``bm_examples_timeout``
    configuration value, 120).
``:args:``
    Command-line arguments for the script, split as a shell would.
``:caption:``
    Caption of the source block (default: the script's path, e.g.
    ``examples/tutorial_gb200_vs_h100.py``).

Configuration values (in ``conf.py``, all optional):

``bm_examples_dir``
    Folder of the scripts, relative to the configuration directory
    (default ``"../examples"``).
``bm_examples_timeout``
    Default timeout in seconds (default 120).

Add ``"bm_examples"`` to ``extensions`` in ``conf.py`` (``docs/_ext`` is
already on ``sys.path``).
"""

from __future__ import annotations

import ast
import base64
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.directives.code import container_wrapper
from sphinx.environment import BuildEnvironment
from sphinx.errors import SphinxError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

__all__ = ["ExampleError", "ExampleRun", "RunExample", "run_example", "setup", "strip_docstring"]

logger = logging.getLogger(__name__)

#: Lines of standard error quoted in a failure message.
STDERR_TAIL_LINES = 40


class ExampleError(SphinxError):
    """One or more example scripts failed during the build."""

    category = "Example script failed"


class ExampleRun:
    """What one run of a script produced (plain data)."""

    def __init__(
        self,
        returncode: int | None,
        stdout: str,
        stderr: str,
        figures: list[tuple[str, bytes]],
        elapsed_s: float,
    ) -> None:
        self.returncode = returncode  # None: stopped at the timeout
        self.stdout = stdout
        self.stderr = stderr
        self.figures = figures
        self.elapsed_s = elapsed_s

    @property
    def ok(self) -> bool:
        """True when the script exited with status 0."""
        return self.returncode == 0


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


def run_example(
    script: Path, *, args: list[str] | None = None, timeout_s: float = 120.0
) -> ExampleRun:
    """Run ``script`` with this Python in a fresh temporary directory.

    The environment is the caller's with ``MPLBACKEND=Agg`` (no display) and
    ``PYTHONUNBUFFERED=1``.  PNG files the script writes into its working
    directory are returned as ``(name, bytes)``; the directory is removed
    afterwards.
    """
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONUNBUFFERED"] = "1"
    with tempfile.TemporaryDirectory(prefix="bm_example_") as tmp:
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(script), *(args or [])],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return ExampleRun(
                None,
                _text(exc.stdout),
                _text(exc.stderr),
                [],
                time.perf_counter() - start,
            )
        elapsed = time.perf_counter() - start
        figures = [(p.name, p.read_bytes()) for p in sorted(Path(tmp).glob("*.png"))]
    return ExampleRun(proc.returncode, proc.stdout, proc.stderr, figures, elapsed)


def strip_docstring(source: str) -> str:
    """``source`` without its module docstring and the blank lines after it."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    body = tree.body
    if not (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return source
    end = body[0].end_lineno or body[0].lineno
    lines = source.splitlines(keepends=True)[end:]
    while lines and not lines[0].strip():
        lines.pop(0)
    return "".join(lines)


class RunExample(SphinxDirective):
    """``.. bm-example:: SCRIPT`` runs an example and shows its source and output."""

    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = False
    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {
        "skip-docstring": directives.flag,
        "hide-source": directives.flag,
        "hide-output": directives.flag,
        "figures": directives.flag,
        "timeout": directives.positive_int,
        "args": directives.unchanged,
        "caption": directives.unchanged,
    }

    def _script(self) -> Path:
        folder = Path(self.config.bm_examples_dir)
        if not folder.is_absolute():
            folder = Path(self.env.app.confdir) / folder
        name: str = self.arguments[0]
        return (folder / name).resolve()

    def run(self) -> list[nodes.Node]:
        script = self._script()
        if not script.is_file():
            raise self.error(f"bm-example: no script {script}")
        self.env.note_dependency(str(script))
        examples = self.env.bm_examples_docs  # type: ignore[attr-defined]
        examples.add(self.env.docname)

        source = script.read_text("utf-8")
        timeout = self.options.get("timeout", self.config.bm_examples_timeout)
        args = shlex.split(self.options.get("args", ""))
        result = run_example(script, args=args, timeout_s=float(timeout))
        shown = f"{script.parent.name}/{script.name}"
        logger.info(
            "bm-example: %s ran in %.1f s (exit %s)", shown, result.elapsed_s, result.returncode
        )

        if not result.ok:
            return self._failure(shown, result, float(timeout))
        if result.stderr.strip():
            logger.info("bm-example: %s wrote to standard error:\n%s", shown, result.stderr)

        out: list[nodes.Node] = []
        if "hide-source" not in self.options:
            text = strip_docstring(source) if "skip-docstring" in self.options else source
            code = nodes.literal_block(text, text, source=str(script))
            code["language"] = "python"
            code["classes"].append("bm-example-source")
            self.set_source_info(code)
            caption = self.options.get("caption", shown)
            out.append(container_wrapper(self, code, caption))
        if "hide-output" not in self.options:
            printed = result.stdout.rstrip("\n") or "(no output)"
            block = nodes.literal_block(printed, printed)
            block["language"] = "text"
            block["classes"].append("bm-example-output")
            self.set_source_info(block)
            out.append(container_wrapper(self, block, f"Output of ``{shown}``"))
        if "figures" in self.options:
            for name, data in result.figures:
                uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
                image = nodes.image(uri=uri, alt=f"{name}, written by {shown}")
                image["candidates"] = {"?": uri}
                figure = nodes.figure("", image, classes=["bm-example-figure"])
                figure += nodes.caption("", f"{name}, written by {shown}")
                out.append(figure)
        return out

    def _failure(self, shown: str, result: ExampleRun, timeout: float) -> list[nodes.Node]:
        if result.returncode is None:
            status = f"did not finish within {timeout:g} s"
        else:
            status = f"exited with status {result.returncode}"
        tail = "\n".join(result.stderr.rstrip().splitlines()[-STDERR_TAIL_LINES:])
        message = f"{shown} {status}; standard error:\n{tail or '(empty)'}"
        logger.error("bm-example: %s", message, location=self.get_location())
        failures = self.env.bm_examples_failed  # type: ignore[attr-defined]
        failures.append((self.env.docname, shown, status, tail))
        block = nodes.literal_block(message, message)
        block["classes"].append("bm-example-error")
        return [block]


def _init_env(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    if not hasattr(env, "bm_examples_docs"):
        env.bm_examples_docs = set()  # type: ignore[attr-defined]
    # Failures belong to one build only.
    env.bm_examples_failed = []  # type: ignore[attr-defined]


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    docs = getattr(env, "bm_examples_docs", None)
    if docs is not None:
        docs.discard(docname)
    failed = getattr(env, "bm_examples_failed", None)
    if failed is not None:
        failed[:] = [f for f in failed if f[0] != docname]


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    # A parallel reader starts from a copy of the main environment, which may
    # already hold other readers' results: take only the documents it read.
    env.bm_examples_docs |= other.bm_examples_docs & docnames  # type: ignore[attr-defined]
    env.bm_examples_failed.extend(  # type: ignore[attr-defined]
        f
        for f in other.bm_examples_failed  # type: ignore[attr-defined]
        if f[0] in docnames
    )


def _outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    # Cache nothing across builds: re-read (and so re-run) every page with an example.
    docs: set[str] = getattr(env, "bm_examples_docs", set())
    return sorted(d for d in docs if d not in removed)


def _check(app: Sphinx, exception: Exception | None) -> None:
    failed = getattr(app.env, "bm_examples_failed", [])
    if exception is not None or not failed:
        return
    lines = [f"{len(failed)} example script(s) failed:"]
    for docname, shown, status, tail in failed:
        lines.append(f"  {shown} (in {docname}) {status}")
        lines.extend("    " + line for line in tail.splitlines()[-STDERR_TAIL_LINES:])
    raise ExampleError("\n".join(lines))


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``bm-example`` directive and its configuration values."""
    app.add_config_value("bm_examples_dir", "../examples", "env", types=[str])
    app.add_config_value("bm_examples_timeout", 120, "env", types=[int, float])
    app.add_directive("bm-example", RunExample)
    app.connect("env-before-read-docs", _init_env)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("build-finished", _check)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
