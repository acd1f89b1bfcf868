"""The one exception hierarchy of nbtrack.

Every message says what to do next. Shells translate these at the edge: the CLI into
``click.ClickException``, the magics into ``UsageError``, the REST server into JSON ``{code, message}``.
"""

from __future__ import annotations


class NbtrackError(Exception):
    """Base class of every error nbtrack raises on purpose."""

    http_status = 400


class StoreNotFoundError(NbtrackError):
    """No store where one was required."""

    http_status = 404


class StoreVersionError(NbtrackError):
    """The store was written by a newer nbtrack, or its schema cannot be read."""

    http_status = 500


class StoreWriteError(NbtrackError):
    """The store could not be written (permissions, full disk, ...)."""

    http_status = 500


class RunNotFoundError(NbtrackError):
    """No run matches the given id or prefix."""

    http_status = 404


class AmbiguousRunIdError(NbtrackError):
    """A short run id matches several runs."""


class QueryError(NbtrackError):
    """A ``where`` or ``order_by`` text could not be parsed.

    ``position`` is the 0-based character offset of the problem in ``text``.
    """

    def __init__(self, message: str, text: str = "", position: int = 0):
        self.text = text
        self.position = position
        pointer = f"\n  {text}\n  {' ' * position}^" if text else ""
        super().__init__(f"{message} (at position {position}){pointer}")


class InvalidValueError(NbtrackError):
    """A param, metric, tag or name that nbtrack cannot store exactly."""


class NoActiveRunError(NbtrackError):
    """A module-level logging call was made outside any run."""


class ArtifactNotFoundError(NbtrackError):
    """No artifact or blob with that name or hash."""

    http_status = 404


class UntrustedArtifactError(NbtrackError):
    """Loading this artifact would unpickle data; the caller must opt in."""


__all__ = [name for name in dir() if name.endswith("Error")]
