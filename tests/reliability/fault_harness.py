"""Fault injection over every write path of nbtrack, sized by the caller.

``tests/reliability/test_fault_injection.py`` runs each (write path, fault) pair once or twice;
``bench/bench_reliability.py`` runs many injections and reports the figures in docs/reliability.md.

Write paths (:data:`WRITE_PATHS`, each a ``prepare`` step and a ``write`` step against one store): a run
written and finished, metrics flushed, an artifact, a figure and a model captured by ``nbtrack.track()``, a
full snapshot, a keyed delta snapshot, a data link (``record_data``), ``merge``, ``gc``, ``delete_run``,
``fsck --repair``, ``import_mlflow``, a notebook run through papermill (its output notebook saved as an
artifact), a model registered and aliased, the schema migration of a store written by nbtrack 0.1.0, and a
team remote's ``pull`` (into the faulty store) and ``push`` (to a ``file://`` remote on the same faulty
disk, which must read clean after every fault: ``check_remote``).

Faults (:data:`FAULTS`):

* ``full_disk``: the store lives on a small tmpfs the harness mounts, filled to the last byte by a ballast
  file before the write (needs root);
* ``read_only``: that tmpfs remounted read-only before the store is opened (root is refused too);
* ``damage``: after the write succeeded, a file it wrote (``nbtrack.db`` or one of its new blobs) is
  truncated or has one bit flipped, and everything committed is read back;
* ``sigkill``: the write path runs in a child process, in a loop, and is SIGKILLed at a random moment.

After each injection (:func:`inject`): everything committed before the fault reads back unchanged
(compared value by value with what was read before it), ``fsck`` is clean (or, for ``damage``, names the
damage), the store takes the write again, and the error the user saw is one :class:`NbtrackError` whose
message says what happened and what to do (never a raw ``sqlite3``/``OSError``/Arrow exception).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures" / "stores"
NOTEBOOKS = HERE.parent / "notebooks"
DISK_BYTES = 8 << 20

# -- what was committed ----------------------------------------------------------------------------


def committed(store) -> dict[str, Any]:
    """Every run (status, params, each metric value and step, tags, artifacts with their bytes' hash, data
    links) and every dataset version (its loaded frame's content and dtypes), keyed by run id and
    ``dataset@version``; reading anything damaged raises (the caller classifies it)."""
    import nbtrack
    from nbtrack import data as _data

    found: dict[str, Any] = {}
    frame = nbtrack.runs(store=store)
    for run_id in frame["run_id"]:
        record = nbtrack.get_run(run_id, store=store)
        history = record.metrics
        metrics = (
            []
            if history is None
            else sorted(
                (str(k), int(s), repr(float(v))) for k, s, v in zip(history["key"], history["step"], history["value"])
            )
        )
        artifacts = sorted((a["name"], a["hash"], _blob_digest(store, a["hash"])) for a in record.artifacts)
        links = sorted(
            json.dumps({k: v for k, v in link.items() if k != "time"}, sort_keys=True, default=str)
            for link in record.inputs + record.outputs
        )
        found[run_id] = {
            "name": record.name,
            "status": record.status,
            "params": repr(sorted(record.params.items(), key=repr)),
            "metrics": metrics,
            "tags": sorted(record.tags.items()),
            "artifacts": artifacts,
            "links": links,
        }
    from nbtrack import registry

    for model in registry.list_models(store=store):
        for v in registry.model_versions(model["name"], store=store):
            key = f"model:{v.model}/{v.version}"
            found[key] = (v.run_id, v.artifact, v.blob, _blob_digest(store, v.blob), sorted(v.aliases))
    sets = _data.datasets(store=store)
    for name in sets["name"] if len(sets) else []:
        for version in _data.versions(name, store=store)["version"]:
            df = _data.load(name, version=int(version), store=store)
            found[f"{name}@{int(version)}"] = _frame_digest(df)
    return found


def _blob_digest(store, digest: str) -> str:
    """The sha256 of a blob's bytes (read through nbtrack's hash check); ``missing`` for a blob the
    store lost before the trial (the ``fsck_repair`` path's own setup)."""
    from nbtrack.errors import ArtifactNotFoundError

    try:
        return hashlib.sha256(store.blobs.read_bytes(digest)).hexdigest()
    except ArtifactNotFoundError:
        return "missing"


def _frame_digest(df) -> str:
    import pandas as pd

    content = pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes() if len(df) else b""
    shape = repr((df.shape, [str(t) for t in df.dtypes], list(map(str, df.columns)), type(df.index).__name__))
    return hashlib.sha256(content + shape.encode()).hexdigest()


def changed(before: dict[str, Any], after: dict[str, Any], volatile: set[str]) -> list[str]:
    """Keys committed before whose content is gone or different after (``volatile``: the write's own
    targets, which it may remove or change: a deleted run, a repaired artifact row)."""
    out = []
    for key, value in before.items():
        if key in volatile:
            continue
        if key not in after:
            out.append(f"{key}: gone")
        elif after[key] != value:
            out.append(f"{key}: changed")
    return out


# -- the write paths -------------------------------------------------------------------------------


def _frame(rows: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": rng.random(rows),
            "c": pd.Categorical(rng.choice(["a", "b", "c"], rows)),
            "s": [f"s{i % 97}" for i in range(rows)],
        }
    )


def seed_store(store) -> None:
    """The data every trial must find unchanged: two finished runs (params, 300 metric values, tags, an
    artifact), a keyed dataset with two versions and a flat one."""
    import nbtrack

    for i in range(2):
        with nbtrack.start_run(f"base-{i}", params={"i": i, "lr": 0.1, "layers": (16, 8)}, store=store) as run:
            for step in range(150):
                run.log_metrics({"loss": 1 / (step + 1), "acc": step / 150}, step=step)
            run.set_tag("kind", "base")
            run.log_artifact(os.urandom(30_000), "weights.bin")
    df = _frame(3000, 1)
    nbtrack.snapshot(df, "base", key="id", store=store)
    df.loc[::50, "x"] = -1.0
    nbtrack.snapshot(df, "base", key="id", store=store)
    nbtrack.snapshot(_frame(500, 2), "flat", store=store)


@dataclass
class WritePath:
    name: str
    write: Callable[[Any, Path, int], str | None]  # (store, work folder, iteration) -> what it committed
    prepare: Callable[[Any, Path], None] | None = None  # before the fault, on a healthy store
    volatile: tuple[str, ...] = ()  # run names the write may remove (whole)
    fresh_store: Callable[[Path, Path], None] | None = None  # builds the store itself (the migration)
    slow: bool = False  # a kernel or MLflow start: fewer injections in CI
    dirty: bool = False  # its prepared store is deliberately not fsck-clean until the write ran
    cli: Callable[[Path, dict], list[str]] | None = None  # the same write through the CLI: (work, committed)


def _run(store, work, i):
    import nbtrack

    with nbtrack.start_run(f"run-{i}", params={"i": i, "name": "x" * 50}, store=store) as run:
        run.set_tag("t", str(i))
        run.log_metric("m", i)
    return run.run_id


def _metrics(store, work, i):
    import nbtrack

    run = nbtrack.start_run(f"metrics-{i}", store=store)
    for step in range(5000):
        run.log_metric("loss", 1 / (step + 1), step=step)
    run.log_metrics({"a": 1.0, "b": 2.0}, step=5000)
    run.flush()
    run.finish("ok")
    return run.run_id


def _artifact(store, work, i):
    import nbtrack

    source = work / "artifact.bin"
    source.write_bytes(os.urandom(200_000))
    with nbtrack.start_run(f"artifact-{i}", store=store) as run:
        run.log_artifact(os.urandom(300_000), "bytes.bin")
        run.log_artifact(source)
    return run.run_id


def _figure_and_model(store, work, i):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.linear_model import LinearRegression

    import nbtrack

    x = np.arange(40.0).reshape(-1, 1) + i
    code = "fig = plt.figure(); plt.plot(x[:, 0]); model = LinearRegression().fit(x, x[:, 0] * 2)\nscore = 1.0"
    namespace = {"plt": plt, "np": np, "LinearRegression": LinearRegression, "x": x}
    with nbtrack.track(f"figure-{i}", code=code, namespace=namespace, store=store) as run:
        exec(code, namespace)
    plt.close("all")
    return run.run_id


def _snapshot_full(store, work, i):
    import nbtrack

    nbtrack.snapshot(_frame(20_000, 100 + i), "full", store=store)


def _snapshot_keyed(store, work, i):
    import nbtrack

    df = nbtrack.load("base", store=store)
    df.loc[df.index[i % 50 :: 40], "x"] = float(i)
    df["c"] = df["c"].cat.add_categories([f"new{i}"]) if f"new{i}" not in df["c"].cat.categories else df["c"]
    nbtrack.snapshot(df, "base", key="id", store=store)


def _data_link(store, work, i):
    import nbtrack

    with nbtrack.start_run(f"link-{i}", store=store) as run:
        run.record_data("input", f"{i:032x}", name="train", dataset="base", version=1, rows=3000, columns=4)
        nbtrack.snapshot(_frame(200, 300 + i), "linked", store=store)
    return run.run_id


def _prepare_merge(store, work):
    import nbtrack
    from nbtrack.store import Store

    other = Store.open(work / "other" / ".nbtrack")
    if not len(nbtrack.runs(store=other)):
        for j in range(3):
            with nbtrack.start_run(f"other-{j}", params={"j": j}, store=other) as run:
                run.log_metric("v", j)
                run.log_artifact(os.urandom(100_000), "part.bin")
        nbtrack.snapshot(_frame(2000, 7), "other-data", store=other)
    other.close()


def _merge(store, work, i):
    from nbtrack.store.merge import merge

    merge(work / "other" / ".nbtrack", into=store)


def _prepare_garbage(store, work):
    """A run whose artifact becomes garbage once it is deleted (gc then has a blob to remove)."""
    import nbtrack

    for j in range(3):
        with nbtrack.start_run("garbage", store=store) as run:
            run.log_artifact(os.urandom(50_000), "g.bin")
        nbtrack.delete_run(run.run_id, store=store)


def _gc(store, work, i):
    import nbtrack

    if i:  # in a loop (the SIGKILL trials) each round makes its own garbage
        _prepare_garbage(store, work)
    nbtrack.gc(grace_s=0, store=store)


def _prepare_victim(store, work):
    import nbtrack

    for j in range(2):
        with nbtrack.start_run("victim", params={"j": j}, store=store) as run:
            run.log_metrics({"m": 1.0})
            run.log_artifact(os.urandom(20_000), "v.bin")


def _delete(store, work, i):
    import nbtrack

    if i:
        _prepare_victim(store, work)
    victims = nbtrack.runs(where="name = 'victim'", store=store)
    for run_id in victims["run_id"]:
        nbtrack.delete_run(run_id, store=store)


def _prepare_broken(store, work):
    """An artifact row whose blob is gone: ``fsck --repair`` has a row to delete."""
    import nbtrack

    with nbtrack.start_run("broken", store=store) as run:
        digest = run.log_artifact(os.urandom(10_000), "lost.bin")
    store.blobs.delete(digest)


def _fsck_repair(store, work, i):
    import nbtrack

    if i:
        _prepare_broken(store, work)
    nbtrack.fsck(repair=True, store=store)


def _prepare_mlflow(store, work):
    import mlflow  # noqa: F401
    from mlflow import MlflowClient

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    uri = (work / "mlruns").as_uri()
    if (work / "mlruns").exists():
        return
    client = MlflowClient(uri)
    experiment = client.create_experiment("from-mlflow")
    for j in range(2):
        run = client.create_run(experiment, run_name=f"ml-{j}")
        client.log_param(run.info.run_id, "alpha", j)
        for step in range(20):
            client.log_metric(run.info.run_id, "loss", 1 / (step + 1), step=step)
        (work / "model.txt").write_text(f"model {j}")
        client.log_artifact(run.info.run_id, str(work / "model.txt"))
        client.set_terminated(run.info.run_id)


def _import_mlflow(store, work, i):
    from nbtrack.interop.mlflow import import_mlflow

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    if i:  # a run imported before is skipped: drop our copies so each round writes again
        import nbtrack

        for run_id in nbtrack.runs(where="tags.mlflow.run_id != ''", store=store)["run_id"]:
            nbtrack.delete_run(run_id, store=store)
    import_mlflow((work / "mlruns").as_uri(), store=store)


def _prepare_model(store, work):
    import nbtrack

    with nbtrack.start_run("trained", params={"alpha": 0.5}, store=store) as run:
        run.log_metric("auc", 0.91)
        run.log_model({"weights": list(range(100))}, "model.pkl")


def _register(store, work, i):
    import nbtrack

    if i:
        _prepare_model(store, work)
    run_id = nbtrack.runs(where="name = 'trained'", store=store)["run_id"].iloc[0]
    version = nbtrack.register_model(run_id, "churn", store=store, require="metrics.auc >= 0.9")
    nbtrack.set_model_alias("churn", version.version, "champion", reason=f"round {i}", store=store)


def _notebook(store, work, i):
    import nbtrack

    result = nbtrack.run_notebook(
        NOTEBOOKS / "prod_plain.ipynb", {"alpha": float(i)}, name=f"nb-{i}", store=store, cwd=work
    )
    return result.run_id


def _old_store(root: Path, work: Path) -> None:
    """A store written by nbtrack 0.1.0 (schema 2): opening it runs the migrations."""
    shutil.copytree(FIXTURES / "schema-2", root)


def _migrate(store, work, i):
    """Nothing: the migration ran when the harness opened the old store."""


def _team_run(team, j: int) -> None:
    import nbtrack

    with nbtrack.start_run(f"team-{j}", params={"j": j}, store=team) as run:
        run.log_metric("v", j)
        run.log_artifact(os.urandom(60_000), "part.bin")


def _prepare_pull(store, work):
    """A teammate's store (runs, artifacts, a data version) pushed to a ``file://`` remote off the faulty
    disk, added here as ``origin``."""
    import nbtrack
    from nbtrack.remote import add_remote, push, remotes
    from nbtrack.store import Store

    team = Store.open(work / "team" / ".nbtrack")
    if "origin" not in remotes(store=team):
        add_remote("origin", (work / "remote").as_uri(), store=team)
        for j in range(3):
            _team_run(team, j)
        nbtrack.snapshot(_frame(2000, 11), "team-data", store=team)
        push("origin", store=team, show_progress=False)
    team.close()
    if "origin" not in remotes(store=store):
        add_remote("origin", (work / "remote").as_uri(), store=store)


def _pull(store, work, i):
    from nbtrack.remote import pull, push
    from nbtrack.store import Store

    if i:  # in a loop (the SIGKILL trials) the teammate has pushed something new each round
        team = Store.open(work / "team" / ".nbtrack")
        _team_run(team, 100 + i)
        push("origin", store=team, show_progress=False)
        team.close()
    pull("origin", store=store, show_progress=False)


def _prepare_push(store, work):
    """``origin``: a ``file://`` remote next to the store, on the same (faulty) disk."""
    from nbtrack.remote import add_remote, remotes

    if "origin" not in remotes(store=store):
        add_remote("origin", (store.root.parent / "remote").as_uri(), store=store)


def _push(store, work, i):
    """Push what the store has; the remote must read clean before (after a killed or failed push) and after."""
    import nbtrack
    from nbtrack.remote import check_remote, push

    _check_remote_clean(check_remote("origin", store=store, show_progress=False))
    if i:  # in a loop each round has a new run to send
        with nbtrack.start_run(f"pushed-{i}", params={"i": i}, store=store) as run:
            run.log_artifact(os.urandom(40_000), "p.bin")
    push("origin", store=store, show_progress=False)
    _check_remote_clean(check_remote("origin", store=store, show_progress=False))


def _check_remote_clean(report) -> None:
    if report.problems:
        raise AssertionError(f"the remote does not read clean: {report.problems[:3]}")


def _ids_named(committed_: dict, name: str) -> list[str]:
    return [k for k, v in committed_.items() if isinstance(v, dict) and v.get("name") == name]


WRITE_PATHS: dict[str, WritePath] = {
    p.name: p
    for p in [
        WritePath("run", _run),
        WritePath("metrics", _metrics),
        WritePath("artifact", _artifact),
        WritePath("figure_model", _figure_and_model),
        WritePath("snapshot_full", _snapshot_full),
        WritePath("snapshot_keyed", _snapshot_keyed),
        WritePath("data_link", _data_link),
        WritePath("merge", _merge, prepare=_prepare_merge, cli=lambda work, c: ["merge", str(work / "other")]),
        WritePath("gc", _gc, prepare=_prepare_garbage, cli=lambda work, c: ["gc"]),
        WritePath(
            "delete",
            _delete,
            prepare=_prepare_victim,
            volatile=("victim",),
            cli=lambda work, c: ["delete", _ids_named(c, "victim")[0], "--yes"],
        ),
        WritePath(
            "fsck_repair",
            _fsck_repair,
            prepare=_prepare_broken,
            volatile=("broken",),
            dirty=True,
            cli=lambda work, c: ["fsck", "--repair"],
        ),
        WritePath(
            "import_mlflow",
            _import_mlflow,
            prepare=_prepare_mlflow,
            slow=True,
            cli=lambda work, c: ["import-mlflow", "--tracking-uri", (work / "mlruns").as_uri()],
        ),
        WritePath("model_registry", _register, prepare=_prepare_model),
        WritePath("notebook", _notebook, slow=True, cli=lambda work, c: ["run", str(NOTEBOOKS / "prod_plain.ipynb")]),
        WritePath("migration", _migrate, fresh_store=_old_store, cli=lambda work, c: ["runs"]),
        WritePath("pull", _pull, prepare=_prepare_pull, cli=lambda work, c: ["pull", "origin"]),
        WritePath("push", _push, prepare=_prepare_push, cli=lambda work, c: ["push", "origin"]),
    ]
}

# -- messages --------------------------------------------------------------------------------------

_DAMAGE = r"damaged|corrupt|missing|malformed|is empty|not an SQLite database|holds no tables"
#: what a clear message says for each fault: (what happened, what to do)
MESSAGE_WORDS = {
    "full_disk": (r"full|space", r"free"),
    "read_only": (r"read-only", r"writable|copy"),
    "damage": (_DAMAGE, r"fsck|restore"),
    "truncate": (_DAMAGE, r"fsck|restore"),
    "bitflip": (_DAMAGE, r"fsck|restore"),
}


def judge_error(error: BaseException, fault: str) -> str | None:
    """None when ``error`` is one clear nbtrack error for ``fault``, else what is wrong with it."""
    from nbtrack.errors import NbtrackError

    if not isinstance(error, NbtrackError):
        return f"raw {type(error).__module__}.{type(error).__name__}: {str(error)[:200]}"
    text = str(error)
    what, todo = MESSAGE_WORDS[fault]
    if not re.search(what, text, re.I) or not re.search(todo, text, re.I):
        return f"{type(error).__name__} does not say what happened and what to do: {text[:300]}"
    return None


# -- the small disk --------------------------------------------------------------------------------


class Ballast:
    """A file that takes every free byte of a file system (but ``leave``), and gives them back."""

    def __init__(self, folder: Path):
        self.path = folder / "ballast"

    def fill(self, leave: int = 0) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 16, 4096, 512, 1):
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError:
                    continue
            if leave:
                os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
        finally:
            os.close(fd)

    def free(self) -> None:
        self.path.unlink(missing_ok=True)


class SmallDisk:
    """A tmpfs of ``size`` bytes mounted at ``mount`` (root only), with a ballast file to fill it."""

    def __init__(self, mount: Path, size: int = DISK_BYTES):
        self.mount, self.size = mount, size
        self._ballast = Ballast(mount)

    def __enter__(self) -> SmallDisk:
        self.mount.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.mount)], check=True)
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run(["umount", "-l", str(self.mount)], check=False)

    def clear(self) -> None:
        self.read_write()
        for entry in self.mount.iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()

    def fill(self, leave: int = 0) -> None:
        """Take every free byte but ``leave`` (so a write can run out of space half-way)."""
        self._ballast.fill(leave)

    def free(self) -> None:
        self._ballast.free()

    def read_only(self) -> None:
        done = subprocess.run(["mount", "-o", "remount,ro", str(self.mount)], capture_output=True, text=True)
        if done.returncode:
            held = [
                os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd") if _link_in(fd, self.mount)
            ]
            raise RuntimeError(f"cannot remount {self.mount} read-only ({done.stderr.strip()}); open here: {held}")

    def read_write(self) -> None:
        subprocess.run(["mount", "-o", "remount,rw", str(self.mount)], check=True)


def _link_in(fd: str, folder: Path) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder))
    except OSError:
        return False


# -- one injection ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    path: str
    fault: str
    detail: str = ""  # e.g. which file was damaged and how
    injected: bool = True
    wrote: bool = False  # the write succeeded despite the fault (a delete on a full disk may)
    message: str | None = None  # what the user saw
    clear: bool | None = None  # None: no message was due
    lost: list[str] = field(default_factory=list)  # committed data gone or changed after the fault
    fsck_ok: bool = True  # clean, or (damage) names the damage
    usable: bool = True  # the store took the write again
    silently_wrong: bool = False  # damage: a read returned changed values without an error
    cli_runs: int = 0  # the CLI command ran against the faulty store
    cli_clear: int = 0  # ... and failed with one clear Error: line
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.clear is not False and not self.lost and self.fsck_ok and self.usable and not self.problems

    def describe(self) -> str:
        bits = [f"{self.path}/{self.fault}{' ' + self.detail if self.detail else ''}"]
        if self.clear is False:
            bits.append(f"unclear message: {self.message}")
        if self.lost:
            bits.append(f"lost {self.lost[:5]}")
        if not self.fsck_ok:
            bits.append("fsck wrong")
        if not self.usable:
            bits.append("store not usable afterwards")
        bits += self.problems
        return "; ".join(bits)


def _open(root: Path):
    from nbtrack.store import Store

    return Store.open(root)


def _new_session() -> None:
    """Each injection is a new user session: a run an earlier trial left unfinished (its write failed, as
    the fault meant it to) is not the active run of this one (its store is closed)."""
    from nbtrack import tracking

    with tracking._active_lock:
        tracking._active.clear()


def _setup(path: WritePath, root: Path, work: Path):
    """A healthy store at ``root`` with the seed data and what ``path`` needs; its committed content."""
    if path.fresh_store is not None:
        path.fresh_store(root, work)
        store = _open(root)
    else:
        store = _open(root)
        seed_store(store)
    if path.prepare is not None:
        path.prepare(store, work)
    return store, committed(store)


def _setup_closed(path: WritePath, root: Path, work: Path) -> dict[str, Any]:
    """:func:`_setup`, closed again; for the migration, the old store as it lies (what it reads as once
    migrated is the reference)."""
    if path.fresh_store is not None:
        path.fresh_store(root, work)
        return _migrated_reference(work)
    store, before = _setup(path, root, work)
    store.close()
    return before


def _volatile(path: WritePath, before: dict[str, Any]) -> set[str]:
    return {k for k, v in before.items() if isinstance(v, dict) and v.get("name") in path.volatile}


def _check_after(outcome: Outcome, path: WritePath, root: Path, work: Path, before: dict, *, killed=False) -> None:
    """Reopen the store: committed data unchanged, fsck clean, and the write works again."""
    try:
        store = _open(root)
    except Exception as error:  # any failure to reopen is the finding
        outcome.usable = False
        outcome.problems.append(f"reopen: {type(error).__name__}: {error}")
        return
    try:
        try:
            after = committed(store)
        except Exception as error:
            outcome.lost.append(f"read failed: {type(error).__name__}: {error}")
            return
        outcome.lost = changed(before, after, _volatile(path, before))
        if killed and any(v.get("status") == "running" for v in after.values() if isinstance(v, dict)):
            outcome.problems.append("a run of the killed process still reads `running`")
        if not path.dirty:
            _check_fsck(outcome, store)
        try:
            path.write(store, work, 10_000 + random.randrange(10_000))
        except Exception as error:
            outcome.usable = False
            outcome.problems.append(f"write again: {type(error).__name__}: {error}")
        if path.dirty:
            _check_fsck(outcome, store)
    finally:
        store.close()


def cli_attempt(outcome: Outcome, path: WritePath, root: Path, work: Path, before: dict, fault: str) -> None:
    """The write path's CLI command against the faulty store: it succeeds, or exits 1 printing one
    ``Error:`` line that says what happened and what to do (no traceback)."""
    if path.cli is None or outcome.wrote:  # the write went through (space was left): nothing to refuse
        return
    from click.testing import CliRunner

    from nbtrack.cli import main
    from nbtrack.store import _store

    argv = path.cli(work, before)
    old = os.environ.get("NBTRACK_HOME")
    os.environ["NBTRACK_HOME"] = str(root)
    try:
        result = CliRunner().invoke(main, argv, catch_exceptions=True)
    finally:
        if old is None:
            os.environ.pop("NBTRACK_HOME", None)
        else:
            os.environ["NBTRACK_HOME"] = old
        for key in [k for k in _store._stores if k[1] == root]:
            _store._stores.pop(key).close()
    outcome.cli_runs += 1
    if result.exit_code == 0:
        return
    text = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        outcome.problems.append(f"CLI {argv[0]}: raw {type(result.exception).__name__}: {result.exception}")
        return
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    what, todo = MESSAGE_WORDS[fault]
    if len(errors) != 1 or "Traceback" in text or not re.search(what, text, re.I) or not re.search(todo, text, re.I):
        outcome.problems.append(f"CLI {argv[0]}: unclear: {text[-400:]!r}")
    else:
        outcome.cli_clear += 1


def _check_fsck(outcome: Outcome, store) -> None:
    import nbtrack

    report = nbtrack.fsck(store=store)
    if not report.clean:
        outcome.fsck_ok = False
        outcome.problems.append(f"fsck: {report.lines()[-3:]}")


def inject_full_disk(path: WritePath, disk: SmallDisk, work: Path, rng: random.Random) -> Outcome:
    _new_session()
    outcome = Outcome(path.name, "full_disk")
    disk.clear()
    root = disk.mount / ".nbtrack"
    store = None
    if path.fresh_store is not None:  # the migration: the old store is opened on the full disk
        path.fresh_store(root, work)
        before = _migrated_reference(work)
    else:
        store, before = _setup(path, root, work)
    leave = rng.choice([0, rng.randrange(1 << 20)])
    outcome.detail = f"({leave:,} B left)"
    try:
        disk.fill(leave)
        try:
            if store is None:
                store = _open(root)
            path.write(store, work, 0)
            outcome.wrote = True
        except Exception as error:  # judged below
            outcome.message = f"{type(error).__name__}: {error}"
            problem = judge_error(error, "full_disk")
            outcome.clear = problem is None
            if problem:
                outcome.message = problem
        if store is not None:
            store.close()
            store = None
        cli_attempt(outcome, path, root, work, before, "full_disk")
        if path.fresh_store is None or outcome.wrote:  # a full disk still reads
            _read_while_full(outcome, root, before, _volatile(path, before))
    finally:
        if store is not None:
            store.close()
        disk.free()
    _check_after(outcome, path, root, work, before)
    return outcome


def _read_while_full(outcome: Outcome, root: Path, before: dict, volatile: set[str]) -> None:
    try:
        store = _open(root)
        try:
            now = committed(store)
        finally:
            store.close()
    except Exception as error:
        outcome.problems.append(f"cannot read while the disk is full: {type(error).__name__}: {error}")
        return
    gone = changed(before, now, volatile)
    if gone:
        outcome.problems.append(f"reads while full differ: {gone[:3]}")


_REFERENCE: dict[str, Any] = {}


def _migrated_reference(work: Path) -> dict[str, Any]:
    """What the 0.1.0 fixture store reads as once migrated (on an ordinary disk)."""
    if "migration" not in _REFERENCE:
        root = work / "reference" / ".nbtrack"
        shutil.rmtree(root.parent, ignore_errors=True)
        _old_store(root, work)
        store = _open(root)
        _REFERENCE["migration"] = committed(store)
        store.close()
    return _REFERENCE["migration"]


def inject_read_only(path: WritePath, disk: SmallDisk, work: Path, rng: random.Random) -> Outcome:
    _new_session()
    outcome = Outcome(path.name, "read_only")
    disk.clear()
    root = disk.mount / ".nbtrack"
    before = _setup_closed(path, root, work)
    disk.read_only()
    try:
        store = None
        try:
            store = _open(root)
            path.write(store, work, 0)
            outcome.wrote = True
            outcome.problems.append("the write succeeded on a read-only store")
        except Exception as error:
            outcome.message = f"{type(error).__name__}: {error}"
            problem = judge_error(error, "read_only")
            outcome.clear = problem is None
            if problem:
                outcome.message = problem
        finally:
            if store is not None:
                store.close()
        cli_attempt(outcome, path, root, work, before, "read_only")
    finally:
        disk.read_write()
    _check_after(outcome, path, root, work, before)
    return outcome


def _damage_file(target: Path, rng: random.Random, how: str) -> str:
    data = bytearray(target.read_bytes())
    if how == "truncate" or (how == "any" and rng.random() < 0.5):
        cut = rng.randrange(len(data))
        target.write_bytes(bytes(data[:cut]))
        return f"truncated {target.name[:8]} {len(data)}->{cut} B"
    bit = rng.randrange(len(data) * 8)
    data[bit // 8] ^= 1 << (bit % 8)
    target.write_bytes(bytes(data))
    return f"bit {bit} of {target.name[:8]} flipped"


def inject_damage(
    path: WritePath, root: Path, work: Path, rng: random.Random, target: str = "any", how: str = "any"
) -> Outcome:
    """The write succeeds on an ordinary disk; then one file it wrote is truncated or bit-flipped, and the
    whole store is read back: each read returns the committed value or raises a clear error (and fsck
    names the damage). ``target``: ``db``, ``blob`` or ``any``; ``how``: ``truncate``, ``flip`` or ``any``."""
    _new_session()
    import nbtrack

    outcome = Outcome(path.name, "truncate" if how == "truncate" else "bitflip" if how == "flip" else "damage")
    shutil.rmtree(root, ignore_errors=True)
    store, _ = _setup(path, root, work)
    blobs_before = set(store.blobs.iter_hashes())
    path.write(store, work, 0)
    before = committed(store)
    store.checkpoint()
    new_blobs = sorted(set(store.blobs.iter_hashes()) - blobs_before)
    store.close()
    for suffix in ("-wal", "-shm"):
        (root / f"nbtrack.db{suffix}").unlink(missing_ok=True)
    if target == "db" or (target == "any" and (not new_blobs or rng.random() < 0.5)):
        victim = root / "nbtrack.db"
    else:
        if not new_blobs:
            outcome.injected = False
            return outcome
        digest = rng.choice(new_blobs)
        victim = root / "objects" / digest[:2] / digest[2:]
    pristine = victim.read_bytes()
    outcome.detail = f"({'db' if victim.name == 'nbtrack.db' else 'blob'}: {_damage_file(victim, rng, how)})"
    failed = None
    try:
        store = _open(root)
        try:
            after = committed(store)
            outcome.lost = changed(before, after, set())
            if outcome.lost:
                outcome.silently_wrong = True
                outcome.problems.append("values changed without an error")
        finally:
            store.close()
    except Exception as error:  # judged below
        failed = error
    if failed is not None:
        outcome.message = f"{type(failed).__name__}: {failed}"
        problem = judge_error(failed, "damage")
        outcome.clear = problem is None
        if problem:
            outcome.message = problem
    # fsck must name the damage whenever reading met it (and never crash)
    try:
        store = _open(root)
        try:
            report = nbtrack.fsck(store=store)
        finally:
            store.close()
        if failed is not None or outcome.silently_wrong:
            outcome.fsck_ok = not report.clean
    except Exception as error:
        problem = judge_error(error, "damage")
        outcome.fsck_ok = problem is None  # refusing the store with a clear message names the damage too
        if problem:
            outcome.problems.append(f"fsck: {problem}")
    outcome.lost = []  # the damaged file's content is lost by construction; what matters is it is not silent
    victim.write_bytes(pristine)  # restored from a copy, as the message says; with it goes the damaged
    for suffix in ("-wal", "-shm"):  # database's write-ahead log (it would be replayed onto the copy)
        (root / f"nbtrack.db{suffix}").unlink(missing_ok=True)
    _check_after(outcome, path, root, work, before)
    return outcome


CHILD = """
import json, os, sys, time
sys.path.insert(0, {here!r})
import fault_harness
from nbtrack.store import Store
path = fault_harness.WRITE_PATHS[sys.argv[1]]
root, work = sys.argv[2], fault_harness.Path(sys.argv[3])
if path.fresh_store is not None:
    print("ready", flush=True)
    Store.open(root)
    print("done", flush=True)
    time.sleep(60)
store = Store.open(root)
print("ready", flush=True)
i = 1
while True:
    receipt = path.write(store, work, i)
    print(json.dumps(receipt), flush=True)
    i += 1
"""


def inject_sigkill(path: WritePath, root: Path, work: Path, rng: random.Random, window: float) -> Outcome:
    """The write path runs in a child process in a loop and is SIGKILLed ``0..window`` s after it is ready."""
    _new_session()
    outcome = Outcome(path.name, "sigkill")
    shutil.rmtree(root, ignore_errors=True)
    before = _setup_closed(path, root, work)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(here=str(HERE)), path.name, str(root), str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        outcome.injected = False
        outcome.problems.append(f"child did not start: {child.communicate()[1][-800:]}")
        return outcome
    delay = rng.random() * (0.05 if path.fresh_store is not None else window)
    time.sleep(delay)
    alive = child.poll() is None
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate()
    outcome.detail = f"(after {delay:.2f} s)"
    if not alive:
        outcome.problems.append(f"the child ended before the kill: {err[-800:]}")
    receipts = [json.loads(x) for x in out.splitlines() if x.strip() and x.strip() not in ("ready", "done")]
    _check_after(outcome, path, root, work, before, killed=True)
    if receipts and any(isinstance(r, str) for r in receipts):
        store = _open(root)
        try:
            import nbtrack

            present = set(nbtrack.runs(store=store)["run_id"])
        finally:
            store.close()
        missing = [r for r in receipts if isinstance(r, str) and r not in present]
        if missing:
            outcome.lost += [f"run {r} committed by the child: gone" for r in missing]
    return outcome


FAULTS = ("full_disk", "read_only", "truncate", "bitflip", "sigkill")


@dataclass
class Tally:
    injected: int = 0
    lost: int = 0  # injections after which committed data was gone or changed
    messages: int = 0  # injections where an error was shown
    clear: int = 0
    silently_wrong: int = 0
    cli_runs: int = 0
    cli_clear: int = 0
    failures: list[str] = field(default_factory=list)


def run_matrix(
    tmp: Path,
    paths: list[str],
    faults: list[str],
    rounds: int,
    seed: int,
    window: float = 1.0,
    target: str = "any",
) -> dict[tuple[str, str], Tally]:
    """Each (write path, fault) ``rounds`` times; the tally per pair. ``full_disk`` and ``read_only`` need
    root (a tmpfs is mounted under ``tmp``); ``truncate`` and ``bitflip`` damage ``target`` (``db``,
    ``blob`` or ``any``: either, at random)."""
    rng = random.Random(seed)
    tallies: dict[tuple[str, str], Tally] = {}
    work = tmp / "work"
    work.mkdir(parents=True, exist_ok=True)
    disk_faults = [f for f in faults if f in ("full_disk", "read_only")]
    disk = SmallDisk(tmp / "disk") if disk_faults else None
    if disk is not None:
        disk.__enter__()
    try:
        for name in paths:
            path = WRITE_PATHS[name]
            for fault in faults:
                tally = tallies.setdefault((name, fault), Tally())
                for _ in range(rounds):
                    if fault == "full_disk":
                        outcome = inject_full_disk(path, disk, work, rng)
                    elif fault == "read_only":
                        outcome = inject_read_only(path, disk, work, rng)
                    elif fault in ("truncate", "bitflip"):
                        how = "truncate" if fault == "truncate" else "flip"
                        outcome = inject_damage(path, tmp / "store" / ".nbtrack", work, rng, target, how)
                    else:
                        outcome = inject_sigkill(path, tmp / "store" / ".nbtrack", work, rng, window)
                    add(tally, outcome)
    finally:
        if disk is not None:
            disk.__exit__()
    return tallies


def add(tally: Tally, outcome: Outcome) -> None:
    if not outcome.injected:
        if outcome.problems:
            tally.failures.append(outcome.describe())
        return
    tally.injected += 1
    tally.lost += bool(outcome.lost)
    tally.cli_runs += outcome.cli_runs
    tally.cli_clear += outcome.cli_clear
    tally.silently_wrong += outcome.silently_wrong
    if outcome.message is not None:
        tally.messages += 1
        tally.clear += bool(outcome.clear)
    if not outcome.ok:
        tally.failures.append(outcome.describe())


def summary(tallies: dict[tuple[str, str], Tally]) -> Counter:
    total: Counter = Counter()
    for tally in tallies.values():
        total.update(
            injected=tally.injected,
            lost=tally.lost,
            messages=tally.messages,
            clear=tally.clear,
            silently_wrong=tally.silently_wrong,
            cli_runs=tally.cli_runs,
            cli_clear=tally.cli_clear,
            failing=len(tally.failures),
        )
    return total
