"""papermill's engine for the runner: the stage notebook saved as it runs, but not at every cell.

papermill's own engine writes the whole output notebook at the start and the end of every
cell, so it can be watched while it runs. Each write copies, validates and serialises the
notebook with every figure produced so far: on the 200-row demo table that was about 200
writes and 2.8 s per run, on the runner's side, between one cell and the next. This engine
writes it at a cell's start or end only when the last write is at least :data:`MIN_SAVE_GAP`
seconds old; the notebook's start and end (success or failure, papermill writes both in a
``finally``) always write it, so the kept notebook is the same as before. What the file on disk
can miss while the stage runs: a cell that started within :data:`MIN_SAVE_GAP` seconds of the
last write shows as running only at the next write (the next cell, or papermill's autosave when
the cell prints); if the runner process itself is killed meanwhile, the kept notebook lacks the
cells of those last seconds. The runner's own failures (a cell's error, a kernel that dies) are
not affected: the final write happens.

Imported by the runner with papermill itself (:func:`seglib.runs.pipeline._papermill`).
"""

from __future__ import annotations

from papermill.engines import (
    NBClientEngine,
    NotebookExecutionManager,
    papermill_engines,
)

#: The engine's name in papermill's registry (``engine_name=``).
ENGINE_NAME = "seglib"
#: At most one write of the notebook per this many seconds while cells run.
MIN_SAVE_GAP = 2.0


class SparseSaves(NotebookExecutionManager):
    """papermill's execution manager, its per-cell writes thinned to one per :data:`MIN_SAVE_GAP` seconds."""

    _per_cell = False

    def save(self, **kwargs):
        if self._per_cell and (self.now() - self.last_save_time).total_seconds() < MIN_SAVE_GAP:
            return None
        return super().save(**kwargs)

    def cell_start(self, cell, cell_index=None, **kwargs):
        return self._thinned(super().cell_start, cell, cell_index, **kwargs)

    def cell_complete(self, cell, cell_index=None, **kwargs):
        return self._thinned(super().cell_complete, cell, cell_index, **kwargs)

    def _thinned(self, step, *args, **kwargs):
        self._per_cell = True
        try:
            return step(*args, **kwargs)
        finally:
            self._per_cell = False


class SparseSaveEngine(NBClientEngine):
    """papermill's nbclient engine with :class:`SparseSaves` (what ``Engine.execute_notebook`` does, otherwise)."""

    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                         autosave_cell_every=30, **kwargs):
        nb_man = SparseSaves(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                             autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


papermill_engines.register(ENGINE_NAME, SparseSaveEngine)
