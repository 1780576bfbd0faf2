"""Running it all: one client's five notebooks in a run folder, with a manifest, then the HTML.

:mod:`~seglib.runs.pipeline` (:func:`run_pipeline`), :mod:`~seglib.runs.folders` (run
folders: temporary, complete, failed, latest), :mod:`~seglib.runs.cleanup` (what killed
runs left), :mod:`~seglib.runs.manifest`, :mod:`~seglib.runs.index` (``reports/index.html``),
:mod:`~seglib.runs.kernel` (the Jupyter kernel) and :mod:`~seglib.runs.memory` (peak
memory). The stage notebooks do not import it: they open their stage with
:func:`seglib.notebook.open_stage`.
"""

from seglib.runs.cleanup import AbandonedRun, clean_abandoned_runs
from seglib.runs.folders import allocate_run, latest_run
from seglib.runs.index import INDEX_FILE, write_index
from seglib.runs.pipeline import STAGES, RunResult, run_pipeline

__all__ = ["INDEX_FILE", "STAGES", "AbandonedRun", "RunResult", "allocate_run", "clean_abandoned_runs",
           "latest_run", "run_pipeline", "write_index"]
