"""Renderers for a ``chaoskit.report/1`` results document: counts, terminal summary, HTML page.

All pure functions over the plain JSON-ready document the pytest plugin builds after a run
(see docs/report-schema.md), so they can be used on a saved ``--chaos-report`` file too.
"""

from __future__ import annotations

from ._html import render_html as render_html
from ._summary import Cell as Cell
from ._summary import MatrixRow as MatrixRow
from ._summary import cell_status as cell_status
from ._summary import matrix as matrix
from ._summary import summarize as summarize
from ._terminal import write_summary as write_summary

__all__ = ["Cell", "MatrixRow", "cell_status", "matrix", "render_html", "summarize", "write_summary"]
