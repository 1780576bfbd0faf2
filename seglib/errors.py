"""Exceptions raised by seglib.

Every error a user can cause carries one message that names the place (file,
parameter, column, row), what was expected, what was found and how to fix it.
They subclass built-in exceptions so callers can catch either.
"""

from __future__ import annotations


class SeglibError(Exception):
    """Base class of every error seglib raises on purpose."""


class ParamsError(SeglibError, ValueError):
    """A params file is missing, malformed or breaks the schema."""


class InputDataError(SeglibError, ValueError):
    """A client's input file cannot be read or does not hold what the params say."""


class StageError(SeglibError, RuntimeError):
    """A pipeline stage (notebook) failed during a run.

    ``str(error)`` is the one message for people (stage, cell, error, where the failed
    notebook is kept). The parts are also fields, for programs (``seglib batch`` reports
    them as they are):

    stage : str or None
        The stage, such as ``03_clustering``.
    notebook : str or None
        The executed notebook's file name, such as ``03_clustering.ipynb``.
    cell : int or None
        The failing cell's index (0-based, markdown cells included) in the failed notebook
        that is kept in the run folder.
    execution_count : int or None
        The cell's execution count, the ``[n]`` shown beside it.
    error_type : str or None
        The exception's class name raised in the cell, such as ``ValueError``.
    error_message : str or None
        The exception's whole message (not cut to its first line).
    run_folder : str or None
        The failed run's folder, when there is one.
    """

    def __init__(self, message: str, *, stage: str | None = None, notebook: str | None = None,
                 cell: int | None = None, execution_count: int | None = None, error_type: str | None = None,
                 error_message: str | None = None, run_folder: str | None = None):
        super().__init__(message)
        self.stage = stage
        self.notebook = notebook
        self.cell = cell
        self.execution_count = execution_count
        self.error_type = error_type
        self.error_message = error_message
        self.run_folder = run_folder

    def __reduce__(self):  # keyword fields survive pickling and copying
        return (_stage_error, (str(self), self.__dict__))

    def fields(self) -> dict:
        """The parts as plain data (what a run's result file and its manifest record)."""
        return {"stage": self.stage, "notebook": self.notebook, "cell": self.cell,
                "execution_count": self.execution_count, "error_type": self.error_type,
                "error_message": self.error_message}


def _stage_error(message: str, fields: dict) -> StageError:
    error = StageError(message)
    error.__dict__.update(fields)
    return error


class ToolMissingError(SeglibError, RuntimeError):
    """A program seglib calls (such as headless Chromium for ``seglib pdf``) is not installed."""
