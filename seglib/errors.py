"""Exceptions raised by seglib.

Every error a user can cause carries one message that names the place (file,
parameter, column, row), what was expected, what was found and how to fix it.
They subclass built-in exceptions so callers can catch either.
"""


class SeglibError(Exception):
    """Base class of every error seglib raises on purpose."""


class ParamsError(SeglibError, ValueError):
    """A params file is missing, malformed or breaks the schema."""


class InputDataError(SeglibError, ValueError):
    """A client's input file cannot be read or does not hold what the params say."""


class StageError(SeglibError, RuntimeError):
    """A pipeline stage (notebook) failed during a run."""
