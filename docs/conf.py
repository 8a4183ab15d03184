"""Sphinx configuration for blackwell_model."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

import blackwell_model  # noqa: E402

project = "blackwell_model"
author = "blackwell_model developers"
copyright = "2026, blackwell_model developers"
release = blackwell_model.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "bm_catalog",
    "bm_inference",
    "bm_validation",
    "bm_coverage",
    "bm_plots",
    "bm_examples",
]

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}

templates_path: list[str] = []
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"blackwell_model {release}"
html_static_path = ["_static"]
