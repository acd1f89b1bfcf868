"""The one exception hierarchy of nbtrack.

Every message says what to do next. Shells translate these at the edge: the CLI into
``click.ClickException``, the magics into ``UsageError``, the REST server into JSON ``{code, message}``
with the status and code written out in ``nbtrack.server._errors.ERROR_CODES``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbtrack.production.execute import NotebookRun


class NbtrackError(Exception):
    """Base class of every error nbtrack raises on purpose."""


class StoreNotFoundError(NbtrackError):
    """No store where one was required."""


class StoreVersionError(NbtrackError):
    """The store was written by a newer nbtrack, or its schema cannot be read."""


class StoreWriteError(NbtrackError):
    """The store could not be written (permissions, full disk, ...)."""


class RunNotFoundError(NbtrackError):
    """No run matches the given id or prefix."""


class AmbiguousRunIdError(NbtrackError):
    """A short run id matches several runs."""


class RunStillRunningError(NbtrackError):
    """A change only a finished run accepts (tags or a note set from outside) was asked of a running run."""


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


class UntrustedArtifactError(NbtrackError):
    """Loading this artifact would unpickle data; the caller must opt in."""


class UnknownParameterError(InvalidValueError):
    """A ``-p NAME VALUE`` names a parameter the notebook does not have."""


class TrackUsageError(NbtrackError):
    """The %%track options or the cell's params cannot be tracked; nothing was run."""


# -- DataFrame versions ---------------------------------------------------------------------------------
class UnsupportedDataError(InvalidValueError):
    """A DataFrame (or one of its columns) cannot be stored exactly; nothing was written."""


class DatasetNotFoundError(NbtrackError):
    """No dataset with that name, or no such version of it."""


class DataValidationError(NbtrackError):
    """A snapshot was refused because its ``expect=`` checks failed.

    ``failures`` lists the failing checks as ``(column, check, detail)`` tuples.
    """

    def __init__(self, message: str, failures: list[tuple[str, str, str]]):
        self.failures = failures
        super().__init__(message)


class CorruptDataError(NbtrackError):
    """A chunk of a data version is missing or damaged; run `nbtrack fsck`."""


# -- notebooks and kernels --------------------------------------------------------------------------------
class NotebookFailedError(NbtrackError):
    """A notebook run failed; ``.result`` holds the ``NotebookRun`` (partial output included)."""

    def __init__(self, result: NotebookRun):
        self.result = result
        error = result.error or {}
        where = f" in cell {error['cell_index']}" if error.get("cell_index") is not None else ""
        saved = f" The partial output notebook is at {result.output_path}." if result.output_path else ""
        super().__init__(
            f"Notebook run {result.run_id} failed{where}: {error.get('type', 'Error')}: "
            f"{error.get('message', '')}.{saved} See it with `nbtrack show {result.run_id[-8:]}`."
        )


class RerunFailedError(NbtrackError):
    """A rerun's notebook failed; ``run_id`` is the failed run (its partial output is stored)."""

    def __init__(self, message: str, run_id: str):
        super().__init__(message)
        self.run_id = run_id


class KernelStartError(NbtrackError):
    """A pre-started kernel died or did not answer in time; the notebook that needed it did not run."""


class KernelShutdownError(NbtrackError):
    """Kernels of a sweep could not be stopped after their notebooks ran."""


class MlflowUnavailableError(NbtrackError):
    """MLflow is not installed in this environment."""


class JobNotFoundError(NbtrackError):
    """No rerun job with this id (jobs live in the server's memory; a restart forgets them)."""


# -- store damage and access ------------------------------------------------------------------------------
class CorruptBlobError(CorruptDataError):
    """A blob's bytes no longer hash to its name (damaged on disk); nothing was read from it."""


class DamagedStoreError(StoreVersionError):
    """The store's database is empty, missing or damaged while its objects/ still hold data."""


class StoreReadOnlyError(StoreWriteError):
    """The store is opened read-only (its folder or database cannot be written); only reads work."""


class UnsafeGcError(NbtrackError):
    """``gc`` was refused because what it would remove points at a replaced or damaged database."""


# -- model registry ---------------------------------------------------------------------------------------
class ModelNotFoundError(NbtrackError):
    """No registered model with that name, or no such version or alias of it."""


class RequirementNotMetError(NbtrackError):
    """A register or alias move was refused because its ``require`` condition does not hold for the run."""


# -- remotes ----------------------------------------------------------------------------------------------
class RemoteError(NbtrackError):
    """A remote (``nbtrack remote add``) is unknown, unreachable, or refused a transfer."""


class CorruptRemoteObjectError(RemoteError):
    """An object, pack or manifest on a remote does not hash to its name (damaged or truncated): refused."""
