"""Read-only run logs, as a user that file modes apply to: a finished log in a
read-only directory or file opens for viewing, and writers are refused up front."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from test_store import make_log_into

from confusion_widget import RunStore


# -- read-only logs (chmod), as a user that file modes apply to -------------------------
@pytest.fixture
def shared_dir():
    """A directory another user can enter (pytest's tmp_path is private to its user)."""
    d = Path(tempfile.mkdtemp(prefix="cw-store-"))
    d.chmod(0o755)
    yield d
    for p in [d, *d.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(d)


CHILD = textwrap.dedent("""
    import os, sys
    import numpy as np
    from confusion_widget import ConfusionRecorder, ConfusionWidget, RunStore
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    print("uid", os.geteuid())

    def attempt(what, f):
        try:
            print(what, "ok", f())
        except Exception as exc:
            print(what, type(exc).__name__, exc)

    path = sys.argv[1]
""")


def as_unprivileged(code, path):
    """Run ``code`` in a new interpreter as a user that file modes restrict; returns
    its printed lines as ``{what: "ok value" or "ErrorType message"}``.

    Root ignores file modes, so as root the child drops to uid/gid 65534 ("nobody")
    after importing what it needs. It cannot be started as that user: the venv's
    interpreter lives under /root, which only root may enter.
    """
    proc = subprocess.run(
        [sys.executable, "-c", CHILD + textwrap.dedent(code), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines.pop("uid") != "0"  # file modes apply to the child
    return lines


READ = """
    attempt("load", lambda: RunStore(path, mode="r").load("r1").n_epochs)
    attempt("widget", lambda: ConfusionWidget.from_store(path, run="r1").n_epochs)
    attempt("thumbnail", lambda: ConfusionWidget.from_store(path, run="r1").source.images.thumbnail(0).data)
"""

WRITE = """
    attempt("append", lambda: RunStore(path))
    attempt("recorder", lambda: ConfusionRecorder(3, store=path, run="new"))
"""


def make_shared_log(folder, open_writer=False):
    """A log with 3 epochs and one thumbnail in ``folder``; with ``open_writer`` the
    files are copied while a writer holds them, so the epochs are in the -wal file."""
    folder.mkdir()
    path = folder / "runs.db"
    src = folder.parent / "src.db" if open_writer else path
    store = RunStore(src)
    make_log_into(store)
    if open_writer:
        for suffix in ("", "-wal", "-shm"):
            shutil.copy(f"{src}{suffix}", f"{path}{suffix}")
    store.close()
    return path


def give_to_child(folder):
    """Make ``folder`` writable by the unprivileged child (chown as root)."""
    if os.geteuid() == 0:
        os.chown(folder, 65534, 65534)


@pytest.mark.parametrize("case", ["read-only-dir", "read-only-file", "read-only-dir-after-a-crash"])
def test_read_only_log_opens_for_viewing_and_refuses_writers_up_front(shared_dir, case):
    folder = shared_dir / "logs"
    path = make_shared_log(folder, open_writer=case == "read-only-dir-after-a-crash")
    assert (Path(f"{path}-wal").exists()) == (case == "read-only-dir-after-a-crash")
    path.chmod(0o444)
    if case == "read-only-file":
        give_to_child(folder)
    else:
        folder.chmod(0o555)
    out = as_unprivileged(READ + WRITE, path)
    for what in ("append", "recorder"):
        assert out[what].startswith(f"PermissionError cannot write the run log {path}:")
    assert out["load"] == "ok 3"
    assert out["widget"] == "ok 3"
    assert out["thumbnail"] == "ok b'png'"
    assert sorted(p.name for p in folder.iterdir() if "-" not in p.name) == ["runs.db"]


def test_new_log_in_a_read_only_dir_fails_up_front(shared_dir):
    folder = shared_dir / "logs"
    folder.mkdir()
    folder.chmod(0o555)
    path = folder / "runs.db"
    out = as_unprivileged(WRITE, path)
    for what in ("append", "recorder"):
        assert out[what].startswith(f"PermissionError cannot write the run log {path}: its directory")
    assert not path.exists()


def test_read_only_dir_with_a_wal_but_no_shm_says_what_to_do(shared_dir):
    folder = shared_dir / "logs"
    path = make_shared_log(folder, open_writer=True)
    Path(f"{path}-shm").unlink()
    folder.chmod(0o555)
    out = as_unprivileged('attempt("load", lambda: RunStore(path, mode="r").load("r1").n_epochs)', path)
    assert out["load"].startswith(f"RunStoreError {path} cannot be read here")
    assert "runs.db-wal" in out["load"]
    assert "writable directory" in out["load"]
