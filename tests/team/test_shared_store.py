"""A store shared by two real OS users of one group (`nbtrack init --shared`): both write, both read."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

GROUP = "nbtrack-team"
USERS = ("nbt-alice", "nbt-bob")

WRITE = """
import pandas as pd, nbtrack
with nbtrack.start_run("{user}", params={{"who": "{user}"}}) as run:
    run.log_metric("score", {score})
    run.log_artifact(b"notes of {user}", "notes.txt")
nbtrack.snapshot(pd.DataFrame({{"x": [{score}, 2.0]}}), "shared-data", message="{user}")
"""

READ = """
import nbtrack
runs = nbtrack.runs(order_by="name")
print(sorted(runs["name"]), [nbtrack.load_artifact(r, "notes.txt").decode() for r in runs.run_id])
print([float(nbtrack.load("shared-data", v)["x"][0]) for v in (1, 2)])
print(nbtrack.fsck().clean)
"""


@pytest.fixture(scope="module")
def team():
    """Two OS users in one group (made once per machine; CI runs the suite as root)."""
    if os.geteuid() != 0:
        pytest.fail("this test makes OS users: run the suite as root, as .ci/run does")
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True)
    for user in USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--no-user-group", "-G", GROUP, user], check=True)
    return USERS


@pytest.fixture(scope="module")
def reachable_python(team):
    """Other users must be able to start this Python: every folder above the interpreter and the virtual
    environment gets o+x (traversal only) for the module's duration, as on a machine where Python is
    installed for everyone (here pyenv's lives under /root)."""
    folders = set()
    for start in (Path(os.path.realpath(sys.executable)), Path(sys.executable), Path(sys.prefix)):
        folders.update(p for p in start.parents if not stat.S_IMODE(p.stat().st_mode) & stat.S_IXOTH)
    before = {folder: stat.S_IMODE(folder.stat().st_mode) for folder in folders}
    for folder, mode in before.items():
        folder.chmod(mode | stat.S_IXOTH)
    yield
    for folder, mode in before.items():
        folder.chmod(mode)


@pytest.fixture
def project(team, reachable_python):
    """A project folder of the group, outside the test's private tmp folder (other users cannot enter that)."""
    parent = Path(tempfile.mkdtemp(prefix="nbtrack-team-", dir="/tmp"))
    parent.chmod(0o755)
    folder = parent / "project"
    folder.mkdir()
    os.chown(folder, -1, grp.getgrnam(GROUP).gr_gid)
    folder.chmod(0o2770)
    yield folder
    subprocess.run(["rm", "-rf", str(parent)], check=True)


def _as(user: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBTRACK_", "JPY_"))}
    env.update(HOME=str(cwd), MPLCONFIGDIR=str(cwd / f".mpl-{user}"))
    return subprocess.run(
        ["runuser", "-u", user, "--", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_two_users_of_one_group_write_and_read_one_store(project):
    alice, bob = USERS
    nbtrack = str(Path(sys.executable).parent / "nbtrack")
    made = _as(alice, [nbtrack, "init", "--shared", "--group", GROUP], project)
    assert made.returncode == 0 and f"shared by group {GROUP}" in made.stdout, made.stderr
    for user, score in ((alice, 1.0), (bob, 5.0)):
        done = _as(user, [sys.executable, "-c", WRITE.format(user=user, score=score)], project)
        assert done.returncode == 0, done.stderr
    for user in (alice, bob):
        read = _as(user, [sys.executable, "-c", READ], project)
        assert read.returncode == 0, read.stderr
        assert read.stdout.split("\n")[:3] == [
            "['nbt-alice', 'nbt-bob'] ['notes of nbt-alice', 'notes of nbt-bob']",
            "[1.0, 5.0]",
            "True",
        ]
    store = project / ".nbtrack"
    owners = {pwd.getpwuid(p.stat().st_uid).pw_name for p in (store / "objects").rglob("*") if p.is_file()}
    assert owners == {alice, bob}  # each wrote blobs the other then read
    for path in [store, *store.rglob("*")]:
        assert path.stat().st_gid == grp.getgrnam(GROUP).gr_gid, path
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o060 == 0o060, (path, oct(mode))
        assert mode & 0o007 == 0, (path, oct(mode))  # nothing for other users


def test_init_shared_refuses_an_existing_private_store_and_a_missing_group(tmp_path, cli):
    cli("init", str(tmp_path))
    assert "already exists and is not shared" in cli("init", str(tmp_path), "--shared", "--group", "root", code=2)
    assert "There is no group 'no-such-group'" in cli(
        "init", str(tmp_path / "other"), "--shared", "--group", "no-such-group", code=1
    )
