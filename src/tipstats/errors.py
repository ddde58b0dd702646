"""Errors that a user can cause and should read as one line, never as a traceback."""

from __future__ import annotations


class TipstatsError(Exception):
    """An expected problem (bad file, missing input, busy warehouse). The CLI prints it as one line.

    ``exit_code`` follows the CLI convention: 1 for a rejected or unreadable input, 2 for a usage
    problem (missing file, unsupported type).
    """

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(TipstatsError):
    exit_code = 2


class UnreadableFileError(TipstatsError):
    """The file cannot be parsed at all (binary, wrong type, broken zip...)."""

    exit_code = 1
