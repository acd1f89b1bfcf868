"""Errors raised by DataFrame versions (all subclasses of :class:`nbtrack.errors.NbtrackError`)."""

from __future__ import annotations

from nbtrack.errors import InvalidValueError, NbtrackError


class UnsupportedDataError(InvalidValueError):
    """A DataFrame (or one of its columns) cannot be stored exactly; nothing was written."""


class DatasetNotFoundError(NbtrackError):
    """No dataset with that name, or no such version of it."""

    http_status = 404


class DataValidationError(NbtrackError):
    """A snapshot was refused because its ``expect=`` checks failed.

    ``failures`` lists the failing checks as ``(column, check, detail)`` tuples.
    """

    def __init__(self, message: str, failures: list[tuple[str, str, str]]):
        self.failures = failures
        super().__init__(message)


class CorruptDataError(NbtrackError):
    """A chunk of a data version is missing or damaged; run `nbtrack fsck`."""

    http_status = 500


__all__ = ["UnsupportedDataError", "DatasetNotFoundError", "DataValidationError", "CorruptDataError"]
