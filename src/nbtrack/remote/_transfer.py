"""``push``, ``pull``, ``sync`` and ``check_remote``: a store's history to and from a remote.

The remote's layout (every name is the xxh3-128 hash of the file's bytes; nothing is ever replaced)::

    objects/<2 hex>/<hash>     blobs: artifacts, figures, output notebooks, models, data chunks
    packs/<hash>.db.gz         a pack: a store-shaped SQLite database (gzip) holding the rows one push sent
                               (runs with everything they recorded, data versions, experiments, registry)
    manifests/<hash>.json      one per push, written last: its pack, every object the pack refers to,
                               and the keys of what it holds (run ids with their update times, dataset
                               fingerprints, experiment names, registry keys)

A push lists ``manifests/`` once, reads only the manifests it has not seen (kept in the store), and from
their union knows what the remote holds; it builds a pack of what the store has and the remote lacks
(with :func:`nbtrack.store.merge.merge_selection`, the merge behind ``nbtrack merge``), uploads the
objects the remote lacks, then the pack, then the manifest. A pull merges each manifest's pack not merged
yet, after downloading and checking the objects it refers to. See docs/team.md for the guarantees.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from nbtrack import environment
from nbtrack._progress import progress
from nbtrack.errors import CorruptRemoteObjectError, RemoteError
from nbtrack.remote._config import open_remote
from nbtrack.remote._folder import RemoteFolder
from nbtrack.store import DB_FILENAME, Store, StoreLike, resolve_store
from nbtrack.store import remotes as _dal
from nbtrack.store.blobs import hash_bytes, is_blob_hash
from nbtrack.store.merge import Selection, merge_selection

FORMAT = 1
_THREADS = 8
#: objects at least this large are looked for on the remote before they are sent (one request, to spare
#: sending them again after a killed push or when a teammate sent the same data chunk meanwhile)
_CHECK_FIRST = 256 * 1024
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class PushReport:
    """What a push sent."""

    remote: str
    runs: int = 0
    data_versions: int = 0
    experiments: int = 0
    registry: bool = False
    objects_sent: int = 0
    objects_present: int = 0  # already on the remote (another push sent them): not sent
    bytes_sent: int = 0
    manifest: str | None = None

    def __str__(self) -> str:
        if self.manifest is None:
            again = f" ({self.objects_sent} missing objects sent again)" if self.objects_sent else ""
            return f"{self.remote} is up to date: nothing to push{again}."
        registry = ", the model registry" if self.registry else ""
        return (
            f"Pushed {self.runs} runs, {self.data_versions} data versions{registry} to {self.remote}: "
            f"{self.objects_sent} objects sent ({_size(self.bytes_sent)} in all), {self.objects_present} "
            f"already there; manifest {self.manifest[:12]}."
        )


@dataclass
class PullReport:
    """What a pull brought in."""

    remote: str
    manifests: int = 0
    runs_added: int = 0
    runs_updated: int = 0
    data_versions_added: int = 0
    model_versions_added: int = 0
    objects_received: int = 0
    bytes_received: int = 0
    renumbered: dict[tuple[str, int], int] = field(default_factory=dict)  # {(dataset, their number): ours}

    def __str__(self) -> str:
        if not self.manifests:
            return f"Nothing new on {self.remote}."
        text = (
            f"Pulled {self.manifests} pushes from {self.remote}: {self.runs_added} runs added, {self.runs_updated} "
            f"updated, {self.data_versions_added} data versions, {self.model_versions_added} model versions; "
            f"{self.objects_received} objects received ({_size(self.bytes_received)})."
        )
        if self.renumbered:
            moved = ", ".join(f"{d}@{theirs} is {d}@{ours} here" for (d, theirs), ours in self.renumbered.items())
            text += f" Numbered differently here (the global ids are the same): {moved}."
        return text


@dataclass
class CheckReport:
    """What ``check_remote`` read: every manifest, pack and object, each against its hash."""

    remote: str
    manifests: int = 0
    packs: int = 0
    objects: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"{self.remote}: {self.manifests} manifests, {self.packs} packs, {self.objects} objects checked"
        if self.ok:
            return head + ": all intact."
        return head + f"; {len(self.problems)} problems:\n  " + "\n  ".join(self.problems)


@dataclass
class _RemoteState:
    """The union of a remote's manifests: what it holds."""

    runs: dict[str, float] = field(default_factory=dict)
    versions: set[tuple[str, str]] = field(default_factory=set)
    experiments: set[str] = field(default_factory=set)
    registry: set[str] = field(default_factory=set)
    objects: set[str] = field(default_factory=set)

    def add(self, manifest: dict) -> None:
        for run_id, updated in manifest["runs"].items():
            if updated > self.runs.get(run_id, float("-inf")):
                self.runs[run_id] = updated
        self.versions.update((d, fp) for d, fp in manifest["versions"])
        self.experiments.update(manifest["experiments"])
        self.registry.update(manifest["registry"])
        self.objects.update(manifest["objects"])


# ---------------------------------------------------------------- push
def push(
    remote: str | None = None, *, store: StoreLike | None = None, verify: bool = False, show_progress: bool = True
) -> PushReport:
    """Send to ``remote`` (default: the only remote, or ``origin``) what this store has and it lacks:
    finished runs with everything they recorded, data versions (only chunks the remote lacks), experiments
    and the model registry. Idempotent; a push killed at any moment is completed by the next one.

    ``verify=True`` checks that every object of this store the remote's manifests list is on the remote,
    instead of trusting them, and uploads again those missing (after a damaged object was deleted from
    the remote, as the pull that refused it says).

    Example::

        nbtrack.add_remote("origin", "s3://ml-team/churn")
        nbtrack.push()
    """
    store = resolve_store(store, create=False)
    store.require_writable("push to a remote")
    store.reconcile_crashed()
    folder = open_remote(store, remote)
    state = _RemoteState()
    for _, manifest, _ in _refresh(store, folder, show_progress):
        state.add(manifest)
    report = PushReport(folder.name)
    if verify:  # what the manifests promise is checked, and sent again where it is missing
        _send_objects(store, folder, sorted(_dal.referenced_blobs(store) & state.objects), report, show_progress, True)
    selection = _selection(store, state)
    if selection is None:
        return report
    with tempfile.TemporaryDirectory(prefix="nbtrack-push-") as tmp:
        pack_file, contents = _make_pack(store, selection, Path(tmp))
        objects = sorted(contents["objects"])
        _send_objects(store, folder, [h for h in objects if h not in state.objects], report, show_progress)
        if not verify:
            report.objects_present += sum(1 for h in objects if h in state.objects)
        pack_bytes = gzip.compress(pack_file.read_bytes(), compresslevel=6, mtime=0)
    pack = hash_bytes(pack_bytes)
    report.bytes_sent += max(0, folder.write(_pack(pack), data=pack_bytes))
    manifest = {
        "format": FORMAT,
        "created": time.time(),
        "host": socket.gethostname(),
        "user": environment.user(),
        "pack": pack,
        **contents,
        "objects": objects,
    }
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    name = hash_bytes(body.encode())
    report.bytes_sent += max(0, folder.write(f"manifests/{name}.json", data=body.encode()))  # last: done
    with store.transaction() as conn:
        _dal.add_manifests(conn, folder.name, [(name, body, True)])
    report.runs, report.data_versions = len(contents["runs"]), len(contents["versions"])
    report.experiments, report.registry, report.manifest = len(contents["experiments"]), selection.models, name
    return report


def _selection(store: Store, state: _RemoteState) -> Selection | None:
    """What ``store`` holds and the remote lacks, with the data versions those rows name (the versions
    their runs read or wrote and every version a delta builds on), so the numbers map on a pull."""
    runs = {r for r, updated in _dal.finished_runs(store).items() if updated > state.runs.get(r, float("-inf"))}
    rows = _dal.data_versions(store)
    wanted = {(d, v) for d, v, fp, _ in rows if (d, fp) not in state.versions}
    registry = bool(set(_dal.registry_keys(store)) - state.registry)
    experiments = set(_dal.experiment_names(store)) - state.experiments
    if not (runs or wanted or registry or experiments):
        return None
    by_number = {(d, v): (fp, parent) for d, v, fp, parent in rows}
    wanted.update((d, v) for run_id, d, v in _dal.run_data_versions(store) if run_id in runs and (d, v) in by_number)
    for key in list(wanted):
        parent = by_number[key][1]
        while parent is not None and (key[0], parent) in by_number and (key[0], parent) not in wanted:
            wanted.add((key[0], parent))
            parent = by_number[(key[0], parent)][1]
    return Selection(frozenset(runs), frozenset((d, by_number[(d, v)][0]) for d, v in wanted), registry)


def _make_pack(store: Store, selection: Selection, tmp: Path) -> tuple[Path, dict]:
    """Merge the selection into a new store-shaped database; its file and the keys of what it holds."""
    pack = Store.open(tmp / "pack", create=True)
    try:
        merge_selection(store, pack, selection)
        contents = {
            "runs": _dal.finished_runs(pack),
            "versions": sorted([d, fp] for d, _, fp, _ in _dal.data_versions(pack)),
            "experiments": sorted(_dal.experiment_names(pack)),
            "registry": sorted(_dal.registry_keys(pack)) if selection.models else [],
            "objects": _dal.referenced_blobs(pack),
        }
        pack.checkpoint()
    finally:
        pack.close()
    return tmp / "pack" / DB_FILENAME, contents


def _send_objects(
    store: Store, folder: RemoteFolder, hashes: list[str], report: PushReport, show: bool, check_all: bool = False
) -> None:
    def send(digest: str) -> int:
        if not store.blobs.verify(digest):
            raise RemoteError(
                f"Blob {digest} of {store.root} is missing or damaged, so it was not pushed: run `nbtrack fsck` "
                "(`--repair` drops broken artifact rows), then push again."
            )
        path = store.blobs.file(digest)
        return folder.write(_object(digest), source=str(path), check=check_all or path.stat().st_size >= _CHECK_FIRST)

    for sent in _parallel(send, hashes, f"push {folder.name}: objects", show):
        if sent < 0:
            report.objects_present += 1  # a killed push, or someone else, sent it already
        else:
            report.objects_sent += 1
            report.bytes_sent += sent


# ---------------------------------------------------------------- pull
def pull(remote: str | None = None, *, store: StoreLike | None = None, show_progress: bool = True) -> PullReport:
    """Bring in every push on ``remote`` (default: the only remote, or ``origin``) this store has not
    merged: runs, data versions, experiments, model versions and alias moves. Each object is checked
    against its hash before anything refers to it; a damaged one is refused, never merged. Pulling twice
    changes nothing.

    Example::

        nbtrack.pull()
        nbtrack.runs(where="user = 'alice'")
    """
    store = resolve_store(store, create=False)
    store.require_writable("pull from a remote")
    folder = open_remote(store, remote)
    todo = [(m["created"], name, m) for name, m, merged in _refresh(store, folder, show_progress) if not merged]
    report = PullReport(folder.name)
    for _, name, manifest in sorted(todo, key=lambda t: (t[0], t[1])):
        _pull_one(store, folder, name, manifest, report, show_progress)
    return report


def _pull_one(store: Store, folder: RemoteFolder, name: str, manifest: dict, report: PullReport, show: bool) -> None:
    missing = [h for h in manifest["objects"] if not store.blobs.exists(h)]

    def fetch(digest: str) -> int:
        data = folder.read(_object(digest), digest)
        store.blobs.put_bytes(data)
        return len(data)

    for size in _parallel(fetch, missing, f"pull {folder.name}: objects", show):
        report.objects_received += 1
        report.bytes_received += size
    data = folder.read(_pack(manifest["pack"]), manifest["pack"])
    report.bytes_received += len(data)
    try:
        data = gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise CorruptRemoteObjectError(
            f"Pack {manifest['pack'][:12]} on remote {folder.name!r} is not a pack nbtrack wrote ({error}): nothing "
            "of it was merged. Push again from the store that made it (`nbtrack push --verify`)."
        ) from None
    with tempfile.TemporaryDirectory(prefix="nbtrack-pull-") as tmp:
        os.makedirs(os.path.join(tmp, "pack"))
        Path(tmp, "pack", DB_FILENAME).write_bytes(data)
        pack = Store.open(Path(tmp) / "pack", create=False)
        try:
            lacking = sorted(h for h in _dal.referenced_blobs(pack) if not store.blobs.present(h))
            if lacking:
                raise CorruptRemoteObjectError(
                    f"Manifest {name[:12]} on remote {folder.name!r} does not list objects its pack refers to "
                    f"({', '.join(h[:12] for h in lacking[:3])}): nothing of it was merged. Run `nbtrack push "
                    "--verify` from the store that pushed it (its user and host are in the manifest)."
                )
            merged = merge_selection(pack, store, None)
        finally:
            pack.close()
    with store.transaction() as conn:
        _dal.mark_merged(conn, folder.name, name)
    report.manifests += 1
    report.runs_added += merged.runs_added
    report.runs_updated += merged.runs_updated
    report.data_versions_added += merged.data_versions_added
    report.model_versions_added += merged.model_versions_added
    report.renumbered.update(merged.renumbered)


def sync(
    remote: str | None = None, *, store: StoreLike | None = None, show_progress: bool = True
) -> tuple[PullReport, PushReport]:
    """:func:`pull` then :func:`push`: afterwards the store and the remote hold the same history.

    Example::

        pulled, pushed = nbtrack.sync()
    """
    pulled = pull(remote, store=store, show_progress=show_progress)
    return pulled, push(remote, store=store, show_progress=show_progress)


# ---------------------------------------------------------------- manifests
def _refresh(store: Store, folder: RemoteFolder, show: bool) -> list[tuple[str, dict, bool]]:
    """Every manifest on the remote as ``(name, manifest, merged here)``: one listing, and a download of
    each manifest not seen before (checked against its name, then kept in the store)."""
    cached = {name: (body, merged) for name, body, merged in _dal.manifests(store, folder.name)}
    names = [n[: -len(".json")] for n in folder.list("manifests") if n.endswith(".json")]
    new = [n for n in names if is_blob_hash(n) and n not in cached]

    def fetch(name: str) -> tuple[str, str, bool]:
        body = folder.read(f"manifests/{name}.json", name).decode("utf-8", "replace")
        _parse(body, folder, name)
        return name, body, False

    fetched = list(_parallel(fetch, new, f"{folder.name}: manifests", show))
    if fetched:
        with store.transaction() as conn:
            _dal.add_manifests(conn, folder.name, fetched)
    everything = {**cached, **{n: (b, m) for n, b, m in fetched}}
    return [(n, _parse(b, folder, n), m) for n, (b, m) in everything.items()]


def _parse(body: str, folder: RemoteFolder, name: str) -> dict:
    try:
        manifest = json.loads(body)
        if manifest["format"] > FORMAT:
            raise RemoteError(
                f"Remote {folder.name!r} holds pushes of a newer nbtrack (manifest format {manifest['format']}): "
                "upgrade nbtrack (`pip install -U` its checkout or wheel) and run the command again."
            )
        missing = [
            k
            for k in ("pack", "runs", "versions", "experiments", "registry", "objects", "created")
            if k not in manifest
        ]
        if missing:
            raise KeyError(", ".join(missing))
        return manifest
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptRemoteObjectError(
            f"Manifest {name} on remote {folder.name!r} is not a manifest nbtrack wrote ({error!r}): delete "
            f"manifests/{name}.json from the remote (its pack is then ignored) and push again from its store."
        ) from None


# ---------------------------------------------------------------- check
def check_remote(
    remote: str | None = None, *, store: StoreLike | None = None, show_progress: bool = True
) -> CheckReport:
    """Download every manifest, pack and object of ``remote`` and check each against its name (the
    remote's ``fsck``). Reports problems, changes nothing.

    Example::

        print(nbtrack.check_remote("origin"))
    """
    store = resolve_store(store, create=False)
    folder = open_remote(store, remote)
    report = CheckReport(folder.name)
    manifests: list[dict] = []
    for name in (n[: -len(".json")] for n in folder.list("manifests") if n.endswith(".json")):
        report.manifests += 1
        try:
            manifests.append(
                _parse(folder.read(f"manifests/{name}.json", name).decode("utf-8", "replace"), folder, name)
            )
        except RemoteError as error:
            report.problems.append(str(error))
    packs = sorted({m["pack"] for m in manifests})
    objects = sorted({h for m in manifests for h in m["objects"]})

    def read(path_and_hash: tuple[str, str]) -> str | None:
        try:
            folder.read(*path_and_hash)
        except RemoteError as error:
            return str(error)
        return None

    work = [(_pack(p), p) for p in packs] + [(_object(h), h) for h in objects]
    report.problems += [p for p in _parallel(read, work, f"check {folder.name}", show_progress) if p]
    report.packs, report.objects = len(packs), len(objects)
    return report


# ---------------------------------------------------------------- helpers
def _object(digest: str) -> str:
    return f"objects/{digest[:2]}/{digest}"


def _pack(digest: str) -> str:
    return f"packs/{digest}.db.gz"


def _parallel(function: Callable[[T], R], items: list[T], desc: str, show: bool) -> Iterable[R]:
    """``function`` over ``items`` on a few threads (transfers wait on the network), in order, with a bar."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(min(_THREADS, len(items))) as pool:
        return list(progress(pool.map(function, items), total=len(items), desc=desc, enabled=show))


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} B"
