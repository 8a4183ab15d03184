"""The Sphinx site: every chapter of every toctree is in the built HTML (issue 12, item 17).

``docs/search.rst`` once collided with Sphinx's own search page: the "Layout search"
chapter was missing from the site and ``-W`` did not catch it.
"""

from __future__ import annotations

import html
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"

# Page names Sphinx's HTML builder writes for itself; a chapter may not use them.
SPHINX_PAGES = {"search", "genindex", "py-modindex", "modindex", "index"}


def _toctree_entries(doc: str) -> list[str]:
    """Documents listed in the toctrees of ``doc`` (relative to the docs root), recursively."""
    text = (DOCS / f"{doc}.rst").read_text("utf-8")
    base = str(Path(doc).parent)
    out = []
    for block in re.findall(r"^\.\. toctree::\n((?:(?:[ \t]+.*)?\n)+)", text, flags=re.M):
        for line in block.splitlines():
            entry = line.strip()
            if not entry or entry.startswith(":"):
                continue
            name = str(Path(base) / entry) if base != "." else entry
            out.append(name)
            out += _toctree_entries(name)
    return out


def _title(doc: str) -> str:
    """The first section title of a reStructuredText document."""
    lines = (DOCS / f"{doc}.rst").read_text("utf-8").splitlines()
    for above, below in itertools.pairwise(lines):
        if above.strip() and re.fullmatch(r"([=\-~^*#])\1{2,}", below.strip()):
            return above.strip()
    raise AssertionError(f"{doc}.rst has no title")


CHAPTERS = _toctree_entries("index")


def test_toctree_lists_the_chapters():
    assert "layout_search" in CHAPTERS and "tutorials/index" in CHAPTERS
    assert len(CHAPTERS) >= 15


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_chapter_takes_a_name_sphinx_uses_for_its_own_pages(chapter):
    assert chapter not in SPHINX_PAGES


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("furo")
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("html")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "MPLBACKEND": "Agg"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_toctree_chapter_is_in_the_built_site(site, chapter):
    page = site / f"{chapter}.html"
    assert page.exists(), f"{chapter}.html is missing from the built site"
    found = re.search(r"<title>(.*?)</title>", page.read_text("utf-8"), flags=re.S)
    assert found is not None
    title = html.unescape(found.group(1))
    assert title.startswith(_title(chapter)), f"{chapter}.html is {title!r}, not the chapter"


def _doc_commands(doc: str) -> list[str]:
    """``blackwell-model`` command lines of a page's literal blocks (``\\`` continues)."""
    text = (DOCS / f"{doc}.rst").read_text("utf-8").replace("\\\n", " ")
    return [
        re.sub(r"\s+#.*$", "", line).strip()
        for line in text.splitlines()
        if line.strip().startswith("blackwell-model")
    ]


@pytest.mark.parametrize("command", _doc_commands("getting_started"))
def test_getting_started_commands_run(command, capsys, monkeypatch, tmp_path):
    import shlex
    import shutil

    from blackwell_model.cli import main

    # run where a reader of the page would: a checkout, with its examples/
    shutil.copytree(DOCS.parent / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    code = main(shlex.split(command)[1:])
    _, err = capsys.readouterr()
    assert code == 0, f"{command}: {err}"
