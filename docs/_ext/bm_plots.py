"""Sphinx extension: figures of :mod:`blackwell_model.plot` drawn at build time.

Registers matplotlib's ``plot`` directive
(:mod:`matplotlib.sphinxext.plot_directive`), so a page can write::

    .. plot::
       :include-source:

       from blackwell_model import plot
       plot.roofline_chart(["H100-SXM", "B200"], model="llama3-8b", seq_len=4096)

and the figure is drawn from the shipped code when the documentation is
built.  The extension sets documentation-wide defaults for the directive
unless ``conf.py`` sets them: one PNG per figure at 110 dpi
(``plot_formats``), no links to other formats or to the source
(``plot_html_show_formats``, ``plot_html_show_source_link``), source shown
(``plot_include_source``).

Without matplotlib (the ``plot`` extra) the build still succeeds: a
stand-in ``plot`` directive shows the code and a note that the figure needs
matplotlib.  Add ``"bm_plots"`` to ``extensions`` in ``conf.py`` (``docs/_ext``
is already on ``sys.path``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util.docutils import SphinxDirective

__all__ = ["PLOT_DEFAULTS", "PlotUnavailable", "setup"]

#: Defaults of the plot directive's settings, applied where conf.py is silent.
PLOT_DEFAULTS: dict[str, Any] = {
    "plot_formats": [("png", 110)],
    "plot_html_show_formats": False,
    "plot_html_show_source_link": False,
    "plot_include_source": True,
}


class PlotUnavailable(SphinxDirective):
    """Stand-in ``plot`` directive without matplotlib: the code and a note."""

    has_content = True
    optional_arguments = 2
    final_argument_whitespace = False
    option_spec: ClassVar[dict[str, Any]] = {
        "include-source": directives.unchanged,
        "caption": directives.unchanged,
        "alt": directives.unchanged,
        "context": directives.unchanged,
        "nofigs": directives.flag,
        "class": directives.unchanged,
        "show-source-link": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        code = "\n".join(self.content)
        note = nodes.note(
            "",
            nodes.paragraph(
                text='This figure is drawn with matplotlib: pip install "blackwell_model[plot]" '
                "and rebuild the documentation."
            ),
        )
        block = nodes.literal_block(code, code)
        block["language"] = "python"
        return [block, note]


def _defaults(app: Sphinx, config: Config) -> None:
    raw = getattr(config, "_raw_config", {})
    for name, value in PLOT_DEFAULTS.items():
        if name not in raw and name in config:
            setattr(config, name, value)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``plot`` directive (matplotlib's, or a stand-in without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        app.add_directive("plot", PlotUnavailable)
    else:
        app.setup_extension("matplotlib.sphinxext.plot_directive")
        app.connect("config-inited", _defaults, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
