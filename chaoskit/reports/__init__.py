"""The ``chaoskit.report/1`` results document and its renderers: counts, terminal summary, HTML page.

Every front end builds the document with :func:`session_record`, :func:`finished` and
:func:`report_document` (see docs/report-schema.md); the renderers are pure functions over
it, so they can be used on a saved ``--chaos-report`` file too.
"""

from __future__ import annotations

from ._document import SCHEMA as SCHEMA
from ._document import finished as finished
from ._document import fired as fired
from ._document import report_document as report_document
from ._document import session_record as session_record
from ._document import software_used as software_used
from ._document import usage_totals as usage_totals
from ._html import render_html as render_html
from ._summary import Cell as Cell
from ._summary import MatrixRow as MatrixRow
from ._summary import cell_status as cell_status
from ._summary import matrix as matrix
from ._summary import summarize as summarize
from ._terminal import write_summary as write_summary

__all__ = [
    "Cell", "MatrixRow", "SCHEMA", "cell_status", "finished", "fired", "matrix", "render_html", "report_document",
    "session_record", "software_used", "summarize", "usage_totals", "write_summary",
]
