"""Running it all: one client's five notebooks in a run folder, with a manifest, then the HTML.

:mod:`~seglib.runs.pipeline` (:func:`run_pipeline`), :mod:`~seglib.runs.folders` (run
folders: temporary, complete, failed, latest), :mod:`~seglib.runs.manifest`,
:mod:`~seglib.runs.kernel` (the Jupyter kernel), :mod:`~seglib.runs.memory` (peak
memory) and :mod:`~seglib.runs.paths` (:func:`open_stage`, what every notebook does
first). Importing this package stays light: papermill and the engine are imported
when a run starts.
"""

from seglib.runs.folders import latest_run, remove_partial_runs
from seglib.runs.paths import open_stage, project_root, resolve
from seglib.runs.pipeline import STAGES, RunResult, run_pipeline

__all__ = ["STAGES", "RunResult", "latest_run", "open_stage", "project_root", "remove_partial_runs", "resolve",
           "run_pipeline"]
