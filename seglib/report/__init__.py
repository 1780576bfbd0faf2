"""Stage 5, the report: the stakeholder report's blocks and the figures of every notebook.

:mod:`~seglib.report.document` loads the run folder and turns it into HTML blocks, each a template in
``templates/`` rendered with autoescaping (:func:`seglib.rendering.render`);
:mod:`~seglib.report.plots` draws the figures, every segment in the colour
:func:`~seglib.report.palette.segment_color` gives its id. Rendering the executed notebook into the
self-contained page lives below, in :mod:`seglib.rendering`, so the runner does not
import this stage.
"""

from seglib.report import palette, plots
from seglib.report.document import RunReport, load_run, quiet
from seglib.report.palette import segment_color

__all__ = ["RunReport", "load_run", "palette", "plots", "quiet", "segment_color"]
