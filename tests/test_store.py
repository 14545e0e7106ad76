"""RunStore: the SQLite run log — round trip, schema checks, bad files, name
collisions, a writer killed mid-epoch, and a reader while another process writes."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import confusion_widget._store_schema as schema_mod
from confusion_widget import ConfusionWidget, ConfusionWidgetWarning, RunStore
from confusion_widget.images import Encoded, ImageProvider
from confusion_widget.store import RunExistsError, RunInfo, RunStoreError

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
        ids = ids if ids is not None else np.arange(100, 100 + n)
        store.create_run(name, LABELS, ids, params={"lr": 0.1})
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
        assert store.has_run("r2")
        assert not store.has_run("r3")
    with RunStore(path, mode="r") as store:
        infos = store.runs()
        r1, r2 = store.load("r1"), store.load("r2")
        with pytest.raises(KeyError, match=r"no run 'nope'.*'r1', 'r2'"):
            store.load("nope")
    assert [(i.name, i.n_epochs, i.n_samples, i.labels, i.params) for i in infos] == [
        ("r1", 3, 50, LABELS, {"lr": 0.1}),
        ("r2", 1, 3, LABELS, {}),
    ]
    assert infos[0].created.endswith("+00:00")
    assert r1.n_epochs == 3
    assert r1.sample_ids().tolist() == list(range(100, 150))
    check_epochs(r1, 50)
    assert r1.images is None
    assert r2.sample_ids().tolist() == ["a", "b", "c"]
    assert np.isnan(r2.confidence(0)).all()
    assert r2.matrices()[0, 0].tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    # Thumbnails are read lazily from the file, after the store was closed.
    assert r2.images.thumbnail(1) == png
    assert r2.images.large(1) == png
    assert r2.images.thumbnail(0).data is None
    assert "no thumbnail" in r2.images.thumbnail(0).error
    w = ConfusionWidget.from_store(path, run="r1")
    assert w.n_epochs == 3
    assert w.tile_titles == ["r1"]


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
    with RunStore(path, mode="r") as store, pytest.raises(ValueError, match="read-only"):
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
        with raises_naming(RunStoreError, path, "has run-log schema version '99'", "reads versions 1 to 4"):
            RunStore(path, mode=mode)


def test_foreign_sqlite_db_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (name TEXT)")
    con.commit()
    con.close()
    before = path.read_bytes()
    for mode in ("r", "a"):
        with raises_naming(RunStoreError, path, "is an SQLite database but not a confusion-widget run log"):
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
    with pytest.raises(RunStoreError, match=str(path)), RunStore(path, mode="r") as store:
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
    args = [str(tmp_path / "runs.db"), str(n), str(epochs), str(pause)]
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True)


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
    script.write_text(
        textwrap.dedent("""
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
    """)
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "runs.db")], stdout=subprocess.PIPE, text=True
    )
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
    assert seen == sorted(seen)
    assert seen[-1] == epochs
    assert any(0 < s < epochs for s in seen)  # it did read while the writer was writing


def raises_naming(exc, path, *fragments):
    """pytest.raises for ``exc`` whose message names ``path`` and every fragment."""
    return pytest.raises(exc, match="(?s)" + ".*".join(re.escape(str(f)) for f in (path, *fragments)))


# -- a run is identified by its uid, not its name ---------------------------------------
def test_a_replaced_run_is_never_written_through_its_old_run_info(tmp_path):
    path = tmp_path / "runs.db"
    a = RunStore(path)
    info = a.create_run("x", LABELS, np.arange(5))
    assert isinstance(info, RunInfo)
    assert len(info.uid) == 32
    assert a.runs()[0].uid == info.uid
    assert a.append_epoch(info, *epoch_arrays(5, 0)) == 0
    with RunStore(path) as b:  # another writer replaces "x"
        new = b.create_run("x", LABELS, np.arange(5), if_exists="overwrite")
        b.append_epoch(new, *epoch_arrays(5, 7))
    # SQLite reused the rowid: the id alone could not tell the two runs apart.
    con = sqlite3.connect(path)
    assert con.execute("SELECT id FROM runs").fetchall() == [(1,)]
    con.close()
    assert new.uid != info.uid
    for write in (
        lambda: a.append_epoch(info, *epoch_arrays(5, 1)),
        lambda: a.append_epoch(info, *epoch_arrays(5, 1), thumbnails={0: Encoded(b"p")}),
        lambda: a.put_thumbnails(info, {0: Encoded(b"p")}),
        lambda: a.load(info),
    ):
        with raises_naming(RunStoreError, path, "'x'", "another writer replaced it"):
            write()
    run = a.load("x")  # B's run, untouched
    assert run.n_epochs == 1
    assert run.y_pred(0).tolist() == epoch_arrays(5, 7)[1].tolist()
    assert run.images is None
    assert a.append_epoch("x", *epoch_arrays(5, 8)) == 1  # by name: whatever run is "x" now
    a.close()


def test_two_writers_of_one_run_are_told_apart_by_epoch_number(tmp_path):
    path = tmp_path / "runs.db"
    make_log(path, n=5, epochs=2, name="x")
    with RunStore(path) as a, RunStore(path) as b:
        info_a = a.create_run("x", LABELS, np.arange(100, 105), if_exists="resume")
        info_b = b.create_run("x", LABELS, np.arange(100, 105), if_exists="resume")
        assert info_a.uid == info_b.uid
        assert info_a.n_epochs == 2
        assert a.append_epoch(info_a, *epoch_arrays(5, 2), epoch=2) == 2
        with raises_naming(RunStoreError, path, "holds 3 epochs of run 'x'", "another writer appended"):
            b.append_epoch(info_b, *epoch_arrays(5, 9), epoch=2)
        assert a.load("x").n_epochs == 3


def make_v1_log(path):
    """A log as confusion-widget wrote it before runs had a uid (schema version 1)."""
    make_log(path, n=5, epochs=2)
    with RunStore(path) as store:
        store.create_run("r2", LABELS, ["a", "b"])
        store.append_epoch("r2", [0, 1], [1, 1])
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE runs DROP COLUMN uid")
    con.execute("ALTER TABLE epochs DROP COLUMN p_true")
    con.execute("ALTER TABLE epochs DROP COLUMN margin")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def schema_of(path):
    con = sqlite3.connect(path)
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    columns = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
    uids = [r[0] for r in con.execute("SELECT uid FROM runs")] if "uid" in columns else None
    con.close()
    return version, uids


def test_version_1_log_is_read_as_is_and_migrated_by_a_writer(tmp_path):
    path = tmp_path / "runs.db"
    make_v1_log(path)
    before = path.read_bytes()
    with RunStore(path, mode="r") as store:
        assert [(r.name, r.n_epochs, r.uid) for r in store.runs()] == [("r1", 2, None), ("r2", 1, None)]
        check_epochs(store.load("r1"), 5)
    assert path.read_bytes() == before
    assert schema_of(path) == ("1", None)
    with RunStore(path) as store:
        infos = store.runs()
        assert store.append_epoch(infos[0], *epoch_arrays(5, 2)) == 2
    version, uids = schema_of(path)
    assert version == "4"
    assert [i.uid for i in infos] == uids
    assert len(set(uids)) == 2
    assert all(uids)
    with RunStore(path, mode="r") as store:
        check_epochs(store.load("r1"), 5)
        assert store.load("r2").sample_ids().tolist() == ["a", "b"]


def test_migration_is_one_transaction(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    make_v1_log(path)
    calls = []

    def failing_uid():
        calls.append(1)
        if len(calls) == 2:
            raise OSError("no entropy")
        return "f" * 32

    monkeypatch.setattr(schema_mod, "new_uid", failing_uid)
    with pytest.raises(OSError, match="no entropy"):
        RunStore(path)
    assert schema_of(path) == ("1", None)  # no column added, no uid filled
    with RunStore(path, mode="r") as store:
        check_epochs(store.load("r1"), 5)


# -- foreign and damaged files ----------------------------------------------------------
def test_another_apps_meta_table_is_a_run_store_error(tmp_path):
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta (id INTEGER, blob BLOB)")
    con.execute("INSERT INTO meta VALUES (1, x'00')")
    con.commit()
    con.close()
    before = path.read_bytes()
    for mode in ("r", "a"):
        with raises_naming(RunStoreError, path, "not a confusion-widget run log", "'meta' table"):
            RunStore(path, mode=mode)
    assert path.read_bytes() == before


def test_a_runs_table_missing_columns_is_a_run_store_error(tmp_path):
    path = tmp_path / "runs.db"
    make_log(path, n=5, epochs=1)
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE runs DROP COLUMN params")
    con.commit()
    con.close()
    for mode in ("r", "a"):
        with raises_naming(RunStoreError, path, "damaged", "'runs'", "['params']"):
            RunStore(path, mode=mode)


N_DAMAGED = 6
DAMAGE = {
    "blob-not-a-multiple-of-4": ("UPDATE epochs SET y_pred = x'00010203040506' WHERE epoch = 1", ()),
    "blob-of-wrong-count": ("UPDATE epochs SET y_true = ? WHERE epoch = 0", (bytes(4 * (N_DAMAGED + 1)),)),
    "class-id-too-large": (
        "UPDATE epochs SET y_pred = ? WHERE epoch = 2",
        (np.full(N_DAMAGED, 3, "<i4").tobytes(),),
    ),
    "negative-class-id": (
        "UPDATE epochs SET y_true = ? WHERE epoch = 0",
        (np.full(N_DAMAGED, -1, "<i4").tobytes(),),
    ),
    "confidence-as-text": ("UPDATE epochs SET confidence = 'high' WHERE epoch = 1", ()),
    "labels-bad-json": ("UPDATE runs SET labels = '[\"cat\", '", ()),
    "labels-not-a-list": ("UPDATE runs SET labels = '{}'", ()),
    "labels-repeated": ('UPDATE runs SET labels = \'["cat", "cat", "fox"]\'', ()),
    "params-bad-json": ("UPDATE runs SET params = 'lr=0.1'", ()),
    "string-ids-bad-json": ("UPDATE runs SET id_kind = 'str', sample_ids = CAST('[\"a\", ' AS BLOB)", ()),
    "string-ids-repeated": (
        "UPDATE runs SET id_kind = 'str', sample_ids = ?",
        (json.dumps(["a"] * N_DAMAGED).encode(),),
    ),
    "unknown-id-kind": ("UPDATE runs SET id_kind = 'float'", ()),
    "negative-sample-count": ("UPDATE runs SET n_samples = -1", ()),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_run_data_is_a_run_store_error_naming_file_and_run(tmp_path, damage):
    path = tmp_path / "runs.db"
    make_log(path, n=N_DAMAGED, epochs=3)
    con = sqlite3.connect(path)
    con.execute(*DAMAGE[damage])
    con.commit()
    con.close()
    with raises_naming(RunStoreError, path, "damaged", "run 'r1'"), RunStore(path, mode="r") as store:
        store.runs()
        store.load("r1")
    with raises_naming(RunStoreError, path, "run 'r1'"):
        ConfusionWidget.from_store(path, run="r1")


def make_log_into(store, n=50, epochs=3):
    store.create_run("r1", LABELS, np.arange(n))
    for e in range(epochs):
        store.append_epoch("r1", *epoch_arrays(n, e))
    store.put_thumbnails("r1", {0: Encoded(b"png", "image/png", 1, 1)})


# -- writes that fail, and a log deleted under a writer ---------------------------------
def test_a_locked_log_is_a_run_store_error_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(schema_mod, "BUSY_TIMEOUT", 0.05)
    path = tmp_path / "runs.db"
    store = RunStore(path)
    info = store.create_run("r", LABELS, np.arange(5))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with raises_naming(RunStoreError, path, "could not be written", "locked"):
        store.append_epoch(info, *epoch_arrays(5, 0))
    other.execute("ROLLBACK")
    other.close()
    assert store.append_epoch(info, *epoch_arrays(5, 0)) == 0
    store.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_writes_to_a_log_deleted_under_the_writer_are_refused(tmp_path, how):
    path = tmp_path / "runs.db"
    store = RunStore(path)
    info = store.create_run("r", LABELS, np.arange(5))
    store.append_epoch(info, *epoch_arrays(5, 0))
    for f in tmp_path.glob("runs.db*"):
        f.unlink()
    if how == "replaced":
        with RunStore(path) as other:
            other.create_run("r", LABELS, np.arange(5))
    with raises_naming(RunStoreError, path, "was deleted or replaced", "nothing was written"):
        store.append_epoch(info, *epoch_arrays(5, 1))
    store.close()


def test_stored_images_never_show_another_runs_thumbnails(tmp_path):
    path = tmp_path / "runs.db"
    with RunStore(path) as store:
        make_log_into(store, n=5, epochs=1)
        run = store.load("r1")
        assert isinstance(run.images, ImageProvider)
        assert "large" not in vars(type(run.images))
        assert run.images.large(0).data == b"png"
        new = store.create_run("r1", LABELS, np.arange(5), if_exists="overwrite")  # same rowid
        store.append_epoch(new, *epoch_arrays(5, 0), thumbnails={0: Encoded(b"other", "image/png", 1, 1)})
    thumb = run.images.thumbnail(0)
    assert thumb.data is None
    assert "replaced" in thumb.error
    run = ConfusionWidget.from_store(path, run="r1").source
    for f in tmp_path.glob("runs.db*"):
        f.unlink()
    thumb = run.images.thumbnail(0)  # the log is gone: a placeholder, not an exception
    assert thumb.data is None
    assert f"no run log at {path}" in thumb.error


# -- arguments ----------------------------------------------------------------------------
def test_create_run_checks_its_arguments(tmp_path):
    path = tmp_path / "runs.db"
    with RunStore(path) as store:
        bad = [
            (TypeError, "run name must be a string", {"name": 7}),
            (ValueError, "must not be empty", {"name": ""}),
            (ValueError, "at least one class", {"labels": []}),
            (TypeError, "labels must be a list", {"labels": None}),
            (TypeError, "labels must be a list", {"labels": {"cat", "dog"}}),
            (ValueError, "at least one sample", {"sample_ids": []}),
            (TypeError, "sample_ids must be an array", {"sample_ids": None}),
            (TypeError, "mixes integers and strings", {"sample_ids": np.array([1, "a"], dtype=object)}),
            (TypeError, "params['opt'] cannot be saved as JSON", {"params": {"lr": 0.1, "opt": object()}}),
            (TypeError, "params keys must be strings", {"params": {1: 2}}),
            (TypeError, "params must be a mapping", {"params": [("lr", 0.1)]}),
        ]
        for exc, match, kw in bad:
            args = {"name": "r", "labels": LABELS, "sample_ids": [1, 2]} | kw
            with pytest.raises(exc, match=re.escape(match)):
                store.create_run(**args)
        with pytest.raises(TypeError, match="run name must be a string"):
            store.has_run(7)
        assert store.runs() == []
        info = store.create_run("r", LABELS, [1, 2], params={"lr": np.float32(0.5), "sizes": np.arange(2)})
        assert info.params == {"lr": 0.5, "sizes": [0, 1]} == store.runs()[0].params


def test_append_epoch_checks_its_arrays_and_writes_nothing_on_error(tmp_path):
    path = tmp_path / "runs.db"
    with RunStore(path) as store:
        info = store.create_run("r", LABELS, [1, 2])
        bad = [
            (ValueError, f"run 'r' in {path} has 2 samples", {"confidence": [0.5, 0.5, 0.5]}),
            (ValueError, "confidences of shape (2, 1)", {"confidence": [[0.5], [0.5]]}),
            (TypeError, "confidence must be numeric", {"confidence": ["high", "low"]}),
            (ValueError, "probabilities in [0, 1]", {"confidence": [0.5, 3.0]}),
            (ValueError, "probabilities in [0, 1]", {"confidence": [np.inf, 0.5]}),
            (ValueError, "y_pred must hold integer class indices", {"y_pred": [0.0, np.nan]}),
            (ValueError, "outside [0, 3)", {"y_true": [0, 3]}),
            (TypeError, "is a bytes, not an Encoded", {"thumbnails": {1: b"png"}}),
            (ValueError, "unknown sample id 5", {"thumbnails": {5: Encoded(b"png")}}),
        ]
        for exc, match, kw in bad:
            args = {"y_true": [0, 1], "y_pred": [1, 1]} | kw
            with pytest.raises(exc, match=re.escape(match)):
                store.append_epoch(info, **args)
        assert store.runs()[0].n_epochs == 0
        assert store.stored_thumbnail_ids(info) == set()


@pytest.mark.skipif(not hasattr(sqlite3.Connection, "setlimit"), reason="Python >= 3.11")
def test_a_run_too_big_for_sqlite_is_a_run_store_error(tmp_path):
    path = tmp_path / "runs.db"
    with RunStore(path) as store:
        store._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 100)  # as 125 million sample ids
        with raises_naming(RunStoreError, path, "could not be written", "too big"):
            store.create_run("r", LABELS, np.arange(50))
        assert store.runs() == []


def test_epoch_numbers_continue_after_a_gap(tmp_path):
    path = tmp_path / "runs.db"
    make_log(path, n=5, epochs=3)
    con = sqlite3.connect(path)
    con.execute("DELETE FROM epochs WHERE epoch = 1")  # e.g. pruned by hand
    con.commit()
    con.close()
    with RunStore(path) as store:
        assert store.append_epoch("r1", *epoch_arrays(5, 3)) == 3  # not a clash with epoch 2
        assert store.load("r1").n_epochs == 3


def test_training_signals_round_trip_and_version_2_logs_stay_readable(tmp_path):
    path = tmp_path / "runs.db"
    rng = np.random.default_rng(0)
    p = rng.random((2, 5)).astype(np.float32)
    m = rng.normal(size=(2, 5)).astype(np.float32)
    with RunStore(path) as store:
        store.create_run("r", LABELS, np.arange(5))
        for e in range(2):
            store.append_epoch("r", *epoch_arrays(5, e), p_true=p[e], margin=m[e])
        with pytest.raises(ValueError, match=r"p_true must be finite and in \[0, 1\]"):
            store.append_epoch("r", *epoch_arrays(5, 2), p_true=p[0] + 1)
        with pytest.raises(ValueError, match=r"margin must be \(5,\)"):
            store.append_epoch("r", *epoch_arrays(5, 2), margin=m)
    with RunStore(path, mode="r") as store:
        run = store.load("r")
    np.testing.assert_array_equal(np.stack([run.p_true(e) for e in range(2)]), p)
    np.testing.assert_array_equal(np.stack([run.margin(e) for e in range(2)]), m)
    assert not np.isnan(run.dynamics()["aum"]).any()
    # the same log as version 2 wrote it: no signals, read as is, dynamics say what is missing
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE epochs DROP COLUMN p_true")
    con.execute("ALTER TABLE epochs DROP COLUMN margin")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with RunStore(path, mode="r") as store:
        old = store.load("r")
    assert old.p_true(0) is None and old.margin(1) is None
    with pytest.warns(ConfusionWidgetWarning, match="aum needs the margins"):
        assert np.isnan(old.dynamics()["aum"]).all()
    with RunStore(path) as store:  # a writer migrates it; old epochs keep no signals
        store.append_epoch("r", *epoch_arrays(5, 2), p_true=p[0], margin=m[0])
    with RunStore(path, mode="r") as store:
        mixed = store.load("r")
    assert mixed.p_true(0) is None and mixed.p_true(2) is not None
