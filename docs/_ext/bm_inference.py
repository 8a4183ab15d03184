"""Sphinx extension: the predicted-vs-measured table of the inference cases.

Usage in a reST page::

    .. bm-inference-table::

renders one row per public inference case (TensorRT-LLM static-batch
throughput and time to first token) with the measured value, the prediction
of :func:`blackwell_model.predict.inference.predict_inference` at the
calibrated defaults, and the error, followed by the median.  The table is
computed at build time by
:func:`blackwell_model.validation.inference.inference_table_rst`, so it always
matches the code.  Add ``"bm_inference"`` to ``extensions`` in ``conf.py``
(``docs/_ext`` is already on ``sys.path``).
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

__all__ = ["InferenceTable", "setup"]


class InferenceTable(SphinxDirective):
    """``.. bm-inference-table::`` renders the inference validation table."""

    required_arguments = 0
    optional_arguments = 0
    has_content = False

    def run(self) -> list[nodes.Node]:
        from blackwell_model.validation.inference import inference_table_rst

        try:
            lines = inference_table_rst().splitlines()
        except Exception as exc:  # report in the build log, pointing at the directive
            raise self.error(f"bm-inference-table: {exc}") from None
        container = nodes.container(classes=["bm-inference"])
        source = "<bm-inference-table>"
        self.state.nested_parse(StringList(lines, source=source), self.content_offset, container)
        return [container]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``bm-inference-table`` directive."""
    app.add_directive("bm-inference-table", InferenceTable)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
