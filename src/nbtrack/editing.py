"""Changing runs after they ended: tags, a note, archive and restore.

- **Tags** of a finished run are set and removed with :func:`tag_run` (a running run sets its own with
  ``run.set_tags``): the ``tags`` rows and the run's summary change in one transaction, so ``runs()``,
  queries on ``tags.<name>`` and the workspace see them at once.
- **A note** is free text about a run (what was tried, why it failed), kept in the reserved tag
  ``nbtrack.note`` (MLflow keeps its note in the tag ``mlflow.note.content``; W&B calls it "notes"), so it
  travels with merges and remotes and can be queried: ``where="tags.`nbtrack.note` ~ 'leak'"``.
- **Archiving** is MLflow's soft delete: an archived run keeps everything it recorded, but ``runs()``,
  ``nbtrack runs``, the sidebar and the workspace leave it out unless asked (``archived=True``,
  ``--archived``); :func:`restore_runs` brings it back. Archiving or restoring a run does the same to its
  child runs (a notebook run's cell runs, a sweep's jobs). :func:`nbtrack.delete_run` still deletes for
  good (its blobs go at the next ``nbtrack gc``).

Example::

    nbtrack.tag_run("4f7kq2xm", {"stage": "review"}, remove=["tmp"])
    nbtrack.set_note("4f7kq2xm", "leaks the test fold: rerun with group k-fold")
    archived = nbtrack.archive_runs(["4f7kq2xm", "9d2hw1ab"])
    nbtrack.restore_runs(archived)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from nbtrack import _values
from nbtrack.errors import InvalidValueError, RunStillRunningError
from nbtrack.store import Store, StoreLike, resolve_store
from nbtrack.store import ids as _ids
from nbtrack.store import runs as db
from nbtrack.store import summary as _summary

#: The reserved tag that holds a run's note.
NOTE_TAG = "nbtrack.note"
#: The longest note kept (UTF-8 bytes): the tag size limit.
MAX_NOTE_BYTES = _values.MAX_TAG_BYTES


def tag_run(
    run: str,
    tags: Mapping[str, object] | None = None,
    *,
    remove: Iterable[str] = (),
    store: StoreLike | None = None,
) -> dict[str, str]:
    """Set ``tags`` on a run that has ended and remove the tags named in ``remove``; returns its tags now.

    ``run`` is a run id, its short id, a unique prefix or a run name. Values are stored as text, like
    :meth:`nbtrack.Run.set_tags`. A name both set and removed is refused; removing a tag the run does not
    have does nothing. A run still ``running`` is refused (its own process writes its tags: call
    ``run.set_tags`` there, or tag it once it has ended).

    Example::

        nbtrack.tag_run("4f7kq2xm", {"stage": "review", "owner": "ana"}, remove=["tmp"])
    """
    encoded = {_values.check_key(k, "tag"): _values.tag_value(k, v) for k, v in (tags or {}).items()}
    removed = [_values.check_key(k, "tag") for k in ([remove] if isinstance(remove, str) else remove)]
    both = sorted(set(encoded) & set(removed))
    if both:
        raise InvalidValueError(f"Tag {both[0]!r} is both set and removed: keep it in only one of the two.")
    store = resolve_store(store, create=False)
    run_id = store.resolve_run_id(run)
    with store.transaction() as conn:
        status, keys, codes, num, strings, text = db.summary_for_update(conn, run_id)
        if status == "running":
            raise RunStillRunningError(
                f"Run {_ids.short_id(run_id)} is still running, and its own process writes its tags: call "
                "run.set_tags(...) in its code, or tag it once it has ended."
            )
        summary = _summary.decode(keys, codes, num, strings, text)
        summary.update((f"tags.{k}", v) for k, v in encoded.items())
        for key in removed:
            summary.pop(f"tags.{key}", None)
        db.write_tags(conn, run_id, encoded)
        db.delete_tags(conn, run_id, removed)
        db.write_summary(conn, run_id, _summary.encode(summary), time.time())
    return db.tags(store, run_id)


def set_note(run: str, text: str | None, *, store: StoreLike | None = None) -> str | None:
    """Set the note of a run that has ended (``None`` or blank text removes it); returns the note kept.

    The note is the reserved tag ``nbtrack.note`` (the module docstring says why); leading and trailing
    blank lines are dropped, line breaks inside are kept.

    Example::

        nbtrack.set_note("4f7kq2xm", "baseline for the Q3 report; do not delete")
    """
    note = note_text(text)
    if note is None:
        tag_run(run, remove=[NOTE_TAG], store=store)
        return None
    return tag_run(run, {NOTE_TAG: note}, store=store)[NOTE_TAG]


def note_text(text: str | None) -> str | None:
    """The note :func:`set_note` keeps for ``text`` (None: no note), or InvalidValueError naming the fix;
    callers that change several things check the note first, so a bad note changes nothing."""
    if text is not None and not isinstance(text, str):
        raise InvalidValueError(f"A note is text, not {type(text).__name__}: pass a str (or None to remove it).")
    note = (text or "").strip("\n\r").rstrip()
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise InvalidValueError(
            f"The note is {len(note.encode('utf-8'))} bytes; a note holds at most {MAX_NOTE_BYTES}: shorten it, "
            "or keep the long text as an artifact (log_text) and say in the note where it is."
        )
    return note if note.strip() else None


def archive_runs(runs: str | Iterable[str], *, store: StoreLike | None = None) -> list[str]:
    """Archive runs (MLflow's soft delete) with their child runs; returns the full ids archived now.

    Archived runs keep everything they recorded; listings leave them out unless asked
    (``nbtrack.runs(archived=True)``, ``nbtrack runs --archived``). Runs already archived keep their
    archive time and are not in the result, so restoring the result undoes exactly this call.

    Example::

        archived = nbtrack.archive_runs(["4f7kq2xm", "9d2hw1ab"])
        nbtrack.restore_runs(archived)  # undo
    """
    return _set_archived(runs, archive=True, store=store)


def restore_runs(runs: str | Iterable[str], *, store: StoreLike | None = None) -> list[str]:
    """Bring archived runs (and their archived child runs) back into listings; returns the full ids
    restored (a run that was not archived is not in the result).

    Example::

        nbtrack.restore_runs("4f7kq2xm")
    """
    return _set_archived(runs, archive=False, store=store)


def delete_archived(runs: str | Iterable[str], *, store: StoreLike | None = None) -> list[str]:
    """Delete archived runs for good, with their child runs (blobs go at the next ``nbtrack gc``); returns
    the ids deleted. A run that is not archived is refused: archive it first (what the workspace's
    "Delete permanently" does), or call :func:`nbtrack.delete_run`."""
    from nbtrack.store.maintenance import delete_run

    store = resolve_store(store, create=False)
    run_ids = _resolve_all(store, runs)
    for run_id in run_ids:
        if db.archived_at(store, run_id) is None:
            raise InvalidValueError(
                f"Run {_ids.short_id(run_id)} is not archived: archive it first (nbtrack archive "
                f"{_ids.short_id(run_id)}), or delete it with `nbtrack delete`."
            )
    deleted: list[str] = []
    for run_id in run_ids:
        if run_id not in deleted:
            deleted.extend(delete_run(run_id, recursive=True, store=store))
    return deleted


def _resolve_all(store: Store, runs: str | Iterable[str]) -> list[str]:
    names = [runs] if isinstance(runs, str) else list(runs)
    if not names:
        raise InvalidValueError("Name at least one run (an id, short id or run name).")
    return list(dict.fromkeys(store.resolve_run_id(name) for name in names))


def _set_archived(runs: str | Iterable[str], *, archive: bool, store: StoreLike | None) -> list[str]:
    store = resolve_store(store, create=False)
    run_ids = _resolve_all(store, runs)
    now = time.time()
    with store.transaction() as conn:
        return db.set_archived(conn, db.with_descendants(conn, run_ids), now if archive else None, now)
