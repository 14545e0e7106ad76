"""RunStore: the SQLite run log — round trip, schema checks, bad files, name
collisions, a writer killed mid-epoch, and a reader while another process writes."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from confusion_widget import ConfusionWidget, RunStore
from confusion_widget.images import Encoded
from confusion_widget.store import RunExistsError, RunStoreError

LABELS = ["cat", "dog", "fox"]


def epoch_arrays(n, e, k=3):
    """Deterministic epoch ``e`` of ``n`` samples, so a reader can check every value."""
    i = np.arange(n)
    return i % k, (i + e) % k, np.full(n, e / 100, np.float32)


def check_epochs(run, n, k=3, confidence=True):
    for e in range(run.n_epochs):
        yt, yp, conf = epoch_arrays(n, e, k)
        assert run.y_true(e).tolist() == yt.tolist()
        assert run.y_pred(e).tolist() == yp.tolist()
        if confidence:
            assert np.all(run.confidence(e) == conf)


def make_log(path, n=50, epochs=3, name="r1", ids=None):
    with RunStore(path) as store:
        store.create_run(name, LABELS, ids if ids is not None else np.arange(100, 100 + n), params={"lr": 0.1})
        for e in range(epochs):
            assert store.append_epoch(name, *epoch_arrays(n, e)) == e


def test_round_trip(tmp_path):
    path = tmp_path / "runs.db"
    make_log(path)
    with RunStore(path) as store:
        store.create_run("r2", LABELS, ["a", "b", "c"])
        store.append_epoch("r2", [0, 1, 2], [0, 2, 2])  # confidence unknown
        png = Encoded(b"\x89PNG fake", "image/png", 8, 8)
        assert store.put_thumbnails("r2", {"b": png, "c": Encoded(None, error="unreadable")}) == 1
        assert store.has_run("r2") and not store.has_run("r3")
    with RunStore(path, mode="r") as store:
        infos = store.runs()
        r1, r2 = store.load("r1"), store.load("r2")
        with pytest.raises(KeyError, match="no run 'nope'.*'r1', 'r2'"):
            store.load("nope")
    assert [(i.name, i.n_epochs, i.n_samples, i.labels, i.params) for i in infos] == [
        ("r1", 3, 50, LABELS, {"lr": 0.1}), ("r2", 1, 3, LABELS, {})]
    assert infos[0].created.endswith("+00:00")
    assert r1.n_epochs == 3 and r1.sample_ids().tolist() == list(range(100, 150))
    check_epochs(r1, 50)
    assert r1.images is None
    assert r2.sample_ids().tolist() == ["a", "b", "c"] and np.isnan(r2.confidence(0)).all()
    assert r2.matrices()[0, 0].tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    # Thumbnails are read lazily from the file, after the store was closed.
    assert r2.images.thumbnail(1) == png and r2.images.large(1) == png
    assert r2.images.thumbnail(0).data is None and "no thumbnail" in r2.images.thumbnail(0).error
    w = ConfusionWidget.from_store(path, run="r1")
    assert w.n_epochs == 3 and w.tile_titles == ["r1"]


def test_epochs_are_raw_little_endian_blobs(tmp_path):
    """No pickle: anyone can read the arrays back with np.frombuffer."""
    path = tmp_path / "runs.db"
    make_log(path, n=10, epochs=1)
    con = sqlite3.connect(path)
    yt, yp, conf = con.execute("SELECT y_true, y_pred, confidence FROM epochs").fetchone()
    ids, labels = con.execute("SELECT sample_ids, labels FROM runs").fetchone()
    con.close()
    ref = epoch_arrays(10, 0)
    assert np.frombuffer(yt, "<i4").tolist() == ref[0].tolist()
    assert np.frombuffer(yp, "<i4").tolist() == ref[1].tolist()
    assert np.frombuffer(conf, "<f4").tolist() == ref[2].tolist()
    assert np.frombuffer(ids, "<i8").tolist() == list(range(100, 110))
    assert json.loads(labels) == LABELS


def test_wal_mode(tmp_path):
    path = tmp_path / "runs.db"
    make_log(path, epochs=1)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_name_collisions(tmp_path):
    path = tmp_path / "runs.db"
    make_log(path, n=5, epochs=2)
    with RunStore(path) as store:
        with pytest.raises(RunExistsError, match=rf"{path}.*'r1'.*if_exists='resume'.*'overwrite'"):
            store.create_run("r1", LABELS, np.arange(100, 105))
        with pytest.raises(ValueError, match="its labels"):
            store.create_run("r1", ["a", "b", "c"], np.arange(100, 105), if_exists="resume")
        with pytest.raises(ValueError, match="sample ids differ"):
            store.create_run("r1", LABELS, np.arange(5), if_exists="resume")
        info = store.create_run("r1", LABELS, np.arange(100, 105), if_exists="resume")
        assert info.n_epochs == 2
        assert store.append_epoch("r1", *epoch_arrays(5, 2)) == 2  # numbering continues
        check_epochs(store.load("r1"), 5)
        store.put_thumbnails("r1", {100: Encoded(b"x", "image/png", 1, 1)})
        info = store.create_run("r1", LABELS, np.arange(7), if_exists="overwrite")
        assert (info.n_epochs, info.n_samples) == (0, 7)
        assert store.append_epoch("r1", *epoch_arrays(7, 0)) == 0
        assert store.load("r1").images is None  # the old run's thumbnails went with it
        with pytest.raises(ValueError, match="if_exists must be"):
            store.create_run("r1", LABELS, [1], if_exists="merge")


def test_bad_epochs(tmp_path):
    with RunStore(tmp_path / "runs.db") as store:
        store.create_run("r", LABELS, [1, 2])
        with pytest.raises(ValueError, match="has no finished epoch"):
            store.load("r")
        with pytest.raises(ValueError, match="2 samples; got 3 labels"):
            store.append_epoch("r", [0, 1, 2], [0, 1, 2])
        with pytest.raises(ValueError, match="outside"):
            store.append_epoch("r", [0, 3], [0, 1])
        with pytest.raises(ValueError, match="unknown sample id 9"):
            store.put_thumbnails("r", {9: Encoded(b"x")})
        with pytest.raises(ValueError, match="duplicates"):
            store.create_run("s", LABELS, [1, 1])
        assert [r.name for r in store.runs()] == ["r"]


def test_read_only_mode(tmp_path):
    path = tmp_path / "runs.db"
    with pytest.raises(FileNotFoundError, match=str(path)):
        RunStore(path, mode="r")
    make_log(path, epochs=1)
    with RunStore(path, mode="r") as store:
        with pytest.raises(ValueError, match="read-only"):
            store.append_epoch("r1", *epoch_arrays(50, 1))
    with pytest.raises(ValueError, match="mode must be"):
        RunStore(path, mode="w")
    store = RunStore(path, mode="r")
    store.close()
    with pytest.raises(ValueError, match="closed"):
        store.runs()


def test_empty_file_becomes_a_new_log(tmp_path):
    path = tmp_path / "new.db"
    path.touch()
    with RunStore(path) as store:
        assert store.runs() == []


def test_schema_version_is_checked(tmp_path):
    path = tmp_path / "runs.db"
    make_log(path, epochs=1)
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    for mode in ("r", "a"):
        with pytest.raises(RunStoreError, match=rf"{path} has run-log schema version '99'.*reads version 1"):
            RunStore(path, mode=mode)


def test_foreign_sqlite_db_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    before = path.read_bytes()
    for mode in ("r", "a"):
        with pytest.raises(RunStoreError, match=rf"{path} is an SQLite database but not a confusion-widget run log"):
            RunStore(path, mode=mode)
    assert path.read_bytes() == before
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('format', 'something else')")
    con.commit()
    con.close()
    with pytest.raises(RunStoreError, match="format 'something else'"):
        RunStore(path, mode="r")


@pytest.mark.parametrize(
    "content",
    [b"epoch,accuracy\n0,0.5\n" * 20, os.urandom(4096), b"SQLite format 3\x00" + b"\0" * 20],
    ids=["text", "random", "short-header"],
)
def test_not_a_database(tmp_path, content):
    path = tmp_path / "runs.db"
    path.write_bytes(content)
    for mode in ("r", "a"):
        with pytest.raises(RunStoreError, match=rf"{path} is not a confusion-widget run log"):
            RunStore(path, mode=mode)
    assert path.read_bytes() == content


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.97])
def test_truncated_file(tmp_path, fraction):
    path = tmp_path / "runs.db"
    make_log(path, n=20_000, epochs=4)  # closing checkpoints the WAL into the file
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * fraction))
    with pytest.raises(RunStoreError, match=str(path)):
        with RunStore(path, mode="r") as store:
            store.load("r1")


WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from confusion_widget import RunStore
    path, n, epochs, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    i = np.arange(n)
    with RunStore(path) as store:
        store.create_run("live", ["cat", "dog", "fox"], i, if_exists="overwrite")
        for e in range(epochs):
            store.append_epoch("live", i % 3, (i + e) % 3, np.full(n, e / 100, np.float32))
            print(e, flush=True)
            time.sleep(pause)
""")


def start_writer(tmp_path, n, epochs, pause):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs.db"), str(n), str(epochs), str(pause)],
                            stdout=subprocess.PIPE, text=True)


def test_sigkill_mid_epoch_keeps_previous_epochs(tmp_path):
    """A writer killed while it writes 2.4 MB epochs back to back: every epoch that
    was committed opens intact, the one being written is gone, the log stays usable."""
    path = tmp_path / "runs.db"
    n = 200_000
    for delay in (0.0, 0.013, 0.029):
        proc = start_writer(tmp_path, n, 10_000, 0.0)
        done = [int(proc.stdout.readline()) for _ in range(3)]  # three epochs committed
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert (tmp_path / "runs.db-wal").exists()  # killed without a clean close
        with RunStore(path, mode="r") as store:
            run = store.load("live")
        assert run.n_epochs >= done[-1] + 1
        check_epochs(run, n)
        with RunStore(path) as store:  # appending after the crash continues numbering
            assert store.append_epoch("live", *epoch_arrays(n, run.n_epochs)) == run.n_epochs


def test_recorder_killed_mid_epoch(tmp_path):
    """The training process dies between two batches of an epoch."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        import numpy as np
        from confusion_widget import ConfusionRecorder
        rec = ConfusionRecorder(["cat", "dog", "fox"], store=sys.argv[1], run="train")
        i = np.arange(1000)
        for e in range(100):
            for b in range(10):
                idx = i[b * 100:(b + 1) * 100]
                rec.update(np.eye(3)[(idx + e) % 3], idx % 3, sample_ids=idx)
                if e == 3 and b == 5:
                    print("mid-epoch", flush=True)
                    time.sleep(60)
            rec.end_epoch()
    """))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs.db")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "mid-epoch"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run = ConfusionWidget.from_store(tmp_path / "runs.db", run="train").source
    assert run.n_epochs == 3
    check_epochs(run, 1000, confidence=False)
    assert np.all(run.confidence(0) == 1.0)  # one-hot scores are probabilities


def test_reader_while_another_process_writes(tmp_path):
    path = tmp_path / "runs.db"
    n, epochs = 100_000, 8
    proc = start_writer(tmp_path, n, epochs, 0.15)
    assert proc.stdout.readline().strip() == "0"
    seen = []
    while True:
        running = proc.poll() is None
        with RunStore(path, mode="r") as store:
            run = store.load("live")
        check_epochs(run, n)  # never half an epoch
        seen.append(run.n_epochs)
        if not running:
            break
        time.sleep(0.05)
    assert proc.returncode == 0
    assert seen == sorted(seen) and seen[-1] == epochs
    assert any(0 < s < epochs for s in seen)  # it did read while the writer was writing
