"""Stage 5, the report: the stakeholder report's blocks and the figures of every notebook.

:mod:`~seglib.report.document` loads the run folder and turns it into HTML blocks;
:mod:`~seglib.report.plots` draws the figures. Rendering the executed notebook into the
self-contained page lives below, in :mod:`seglib.rendering`, so the runner does not
import this stage.
"""

from seglib.report import plots
from seglib.report.document import RunReport, load_run, quiet

__all__ = ["RunReport", "load_run", "plots", "quiet"]
