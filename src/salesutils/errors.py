"""Errors that tell the user what is wrong with their input, in one line.

Every problem with data or parameters is raised as one of these, naming the file (or parameter
file), the column (or key) and the problem, so that a scheduled run fails with a message a person
can act on instead of a traceback deep inside pandas.
"""

from __future__ import annotations

__all__ = ["SalesUtilsError", "DataError", "ConfigError"]


class SalesUtilsError(Exception):
    """Base class of the errors this package raises on purpose."""


class DataError(SalesUtilsError, ValueError):
    """A data file or frame breaks the data contract.

    The message reads ``<source>: column '<column>': <problem>`` so that logs and notebooks show
    where to look first.
    """

    def __init__(self, problem: str, *, source: str | None = None, column: str | None = None):
        self.problem = problem
        self.source = source or "<data>"
        self.column = column
        where = self.source
        if column is not None:
            where += f": column '{column}'"
        super().__init__(f"{where}: {problem}")


class ConfigError(SalesUtilsError, ValueError):
    """A parameter file or override has a bad key or value."""

    def __init__(self, problem: str, *, source: str | None = None, key: str | None = None):
        self.problem = problem
        self.source = source or "<params>"
        self.key = key
        where = self.source
        if key is not None:
            where += f": key '{key}'"
        super().__init__(f"{where}: {problem}")
