"""ConfusionRecorder: per-batch updates, epochs aligned by id, images, live widgets,
the run log, and torch.distributed (two gloo processes)."""

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

import confusion_widget._store_schema as schema_mod
import confusion_widget.images as images_mod
from confusion_widget import ConfusionRecorder, ConfusionWidget, RunStore
from confusion_widget.images import ImageProvider
from confusion_widget.store import RunExistsError, RunStoreError

K = 7
LABELS = [f"c{i}" for i in range(K)]


def make_data(n=500, epochs=3, seed=0):
    """True classes and per-epoch logits that get better with the epochs."""
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, K, n)
    logits = [
        (rng.normal(size=(n, K)) + 2.5 * np.eye(K)[yt] * (e + 1) / epochs).astype(np.float32)
        for e in range(epochs)
    ]
    return yt, logits


def as_kind(logits, kind):
    if kind == "logits":
        return logits
    if kind == "probs":
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return logits.argmax(axis=1)


def batches(n, batch, seed):
    """Shuffled batches of sample indices, as a shuffling DataLoader gives them."""
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + batch] for i in range(0, n, batch)]


def record(rec, yt, outputs_per_epoch, lib="numpy", shuffle=True, batch=64, images=None):
    for e, out in enumerate(outputs_per_epoch):
        for idx in (
            batches(len(yt), batch, seed=e)
            if shuffle
            else [np.arange(i, min(i + batch, len(yt))) for i in range(0, len(yt), batch)]
        ):
            o, t, i = out[idx], yt[idx], idx
            if lib == "torch":
                o, t, i = torch.from_numpy(o), torch.from_numpy(t), torch.from_numpy(i)
            kw = {"images": images[idx]} if images is not None else {}
            rec.update(o, t, sample_ids=i if shuffle else None, **kw)
        rec.end_epoch()
    return rec


def by_id(run, epoch, getter):
    """A run's per-sample array of one epoch, reordered by sample id."""
    return getattr(run, getter)(epoch)[np.argsort(run.sample_ids())]


@pytest.mark.parametrize("lib", ["numpy", "torch"])
@pytest.mark.parametrize("kind", ["logits", "probs", "ids"])
def test_matches_from_predictions_on_shuffled_batches(lib, kind):
    yt, logits = make_data()
    outs = [as_kind(lg, kind) for lg in logits]
    rec = record(ConfusionRecorder(LABELS), yt, outs, lib=lib)
    ref = ConfusionWidget.from_predictions(yt, outs, labels=LABELS)
    w = rec.widget()
    np.testing.assert_array_equal(w.matrices, ref.matrices)
    run, ref_run = rec.run, ref.source
    assert sorted(run.sample_ids().tolist()) == list(range(len(yt)))
    for e in range(len(outs)):
        np.testing.assert_array_equal(by_id(run, e, "y_true"), ref_run.y_true(e))
        np.testing.assert_array_equal(by_id(run, e, "y_pred"), ref_run.y_pred(e))
        np.testing.assert_allclose(
            by_id(run, e, "confidence"), ref_run.confidence(e), rtol=1e-5, equal_nan=True
        )
    if kind == "ids":
        assert np.isnan(run.confidence(0)).all()


def test_epoch_order_is_the_first_epochs_order():
    yt, logits = make_data(n=100, epochs=2)
    rec = record(ConfusionRecorder(LABELS), yt, logits)
    first = np.concatenate(batches(100, 64, seed=0))
    assert rec.run.sample_ids().tolist() == first.tolist()
    assert rec.run.y_true(1).tolist() == yt[first].tolist()


def test_end_epoch_returns_the_epochs_matrix():
    from sklearn.metrics import confusion_matrix  # imported here: the DDP workers import this module

    yt, logits = make_data(n=300, epochs=1)
    rec = ConfusionRecorder(K)
    for idx in batches(300, 50, seed=1):
        rec.update(torch.from_numpy(logits[0][idx]), torch.from_numpy(yt[idx]), sample_ids=idx)
    cm = rec.end_epoch()
    assert cm.shape == (K, K)
    np.testing.assert_array_equal(cm, confusion_matrix(yt, logits[0].argmax(1), labels=range(K)))
    assert rec.labels == [str(i) for i in range(K)]
    assert rec.n_epochs == 1


def test_running_index_without_sample_ids():
    yt, logits = make_data(n=130, epochs=2)
    rec = record(ConfusionRecorder(LABELS), yt, logits, shuffle=False)
    assert rec.run.sample_ids().tolist() == list(range(130))
    assert rec.run.y_pred(1).tolist() == logits[1].argmax(1).tolist()


def test_string_ids_and_list_inputs():
    rec = ConfusionRecorder(["a", "b"])
    rec.update([[0.9, 0.1], [0.2, 0.8]], [0, 0], sample_ids=["x", "y"])
    rec.end_epoch()
    rec.update([[0.1, 0.9], [0.7, 0.3]], [0, 0], sample_ids=["y", "x"])
    rec.end_epoch()
    assert rec.run.sample_ids().tolist() == ["x", "y"]
    assert rec.run.y_pred(1).tolist() == [0, 1]
    np.testing.assert_allclose(rec.run.confidence(1), [0.7, 0.9], rtol=1e-6)


def test_numpy_buffers_reused_in_place():
    rec = ConfusionRecorder(["a", "b"])
    out, target, ids = np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int64)
    for b in range(3):  # one host buffer refilled for every batch
        out[:], target[:], ids[:] = [b % 2, 1], [0, 1], [2 * b, 2 * b + 1]
        rec.update(out, target, sample_ids=ids)
    rec.end_epoch()
    assert rec.run.sample_ids().tolist() == list(range(6))
    assert rec.run.y_pred(0).tolist() == [0, 1, 1, 1, 0, 1]


def test_half_precision_logits():
    yt, logits = make_data(n=64, epochs=1)
    rec = ConfusionRecorder(K)
    rec.update(torch.from_numpy(logits[0]).half(), torch.from_numpy(yt))
    rec.end_epoch()
    ref = ConfusionWidget.from_predictions(yt, logits[0].astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(rec.run.confidence(0), ref.source.confidence(0), rtol=1e-3)


class SyncSpy(torch.Tensor):
    """A tensor that records every call which would wait for a GPU: reading values
    on the host (``.cpu()``, ``.item()``, ``.numpy()``, ``bool(t)``…)."""

    calls: ClassVar[list[str]] = []
    SYNCS: ClassVar[set[str]] = {
        "cpu",
        "item",
        "tolist",
        "numpy",
        "__bool__",
        "__int__",
        "__float__",
        "__index__",
        "__array__",
    }

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        moves_to_host = name == "to" and "cpu" in repr((args[1:], kwargs))
        if name in cls.SYNCS or moves_to_host:
            cls.calls.append(name)
        return super().__torch_function__(func, types, args, kwargs or {})


@pytest.mark.parametrize("kind", ["logits", "ids"])
def test_update_never_reads_tensor_values_on_the_host(kind):
    yt, logits = make_data(n=256, epochs=2)
    rec = ConfusionRecorder(LABELS)
    for e in range(2):
        SyncSpy.calls = []
        for idx in batches(256, 32, seed=e):
            out = torch.from_numpy(as_kind(logits[e], kind)[idx]).as_subclass(SyncSpy)
            rec.update(
                out,
                torch.from_numpy(yt[idx]).as_subclass(SyncSpy),
                sample_ids=torch.from_numpy(idx).as_subclass(SyncSpy),
            )
        assert SyncSpy.calls == [], "update() read a tensor on the host"
        # What update() keeps until end_epoch is still device tensors.
        assert all(isinstance(c, torch.Tensor) for c in rec._buf.pred + rec._buf.target)
        rec.end_epoch()
        assert SyncSpy.calls, "end_epoch() is where the one host copy happens"
    ref = ConfusionWidget.from_predictions(yt, [as_kind(lg, kind) for lg in logits])
    np.testing.assert_array_equal(rec.widget().matrices, ref.matrices)


def test_finished_epochs_are_compact():
    yt, logits = make_data(n=200, epochs=2)
    rec = record(ConfusionRecorder(LABELS), yt, logits, lib="torch")
    run = rec.run
    assert run.y_pred(1).dtype == np.int32
    assert run.y_true(1).dtype == np.int32
    assert run.confidence(1).dtype == np.float32
    assert len(rec._buf) == 0  # per-batch buffers are dropped at end_epoch


@pytest.mark.parametrize(
    ("epoch1", "match"),
    [
        (lambda ids: ids[:-1], "199 of the run's 200 samples"),
        (lambda ids: np.r_[ids[:-1], 999], r"\[999\] were not in the run's first epoch"),
        (lambda ids: np.r_[ids[:-1], ids[0]], "more than once"),
    ],
)
def test_misaligned_epochs_are_errors(epoch1, match):
    yt, logits = make_data(n=200, epochs=2)
    rec = ConfusionRecorder(LABELS)
    rec.update(logits[0], yt, sample_ids=np.arange(200))
    rec.end_epoch()
    ids = epoch1(np.arange(200))
    rec.update(logits[1][: len(ids)], yt[: len(ids)], sample_ids=ids)
    with pytest.raises(ValueError, match=match):
        rec.end_epoch()
    assert rec.n_epochs == 1


def test_bad_input():
    rec = ConfusionRecorder(["a", "b", "c"])
    with pytest.raises(ValueError, match="without any update"):
        rec.end_epoch()
    with pytest.raises(ValueError, match="4 columns but there are 3 labels"):
        rec.update(np.zeros((2, 4)), [0, 1])
    with pytest.raises(ValueError, match=r"targets must be \(2,\)"):
        rec.update(np.zeros((2, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="got shape"):
        rec.update(np.zeros((2, 3, 1)), [0, 1])
    with pytest.raises(ValueError, match="sample_ids has 1 ids for 2"):
        rec.update(np.zeros((2, 3)), [0, 1], sample_ids=[5])
    rec.update(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="one kind of output per epoch"):
        rec.update(np.array([0, 1]), [0, 1])
    rec.update(np.zeros((2, 3)), [0, 1], sample_ids=[7, 8])
    with pytest.raises(ValueError, match="to every update"):
        rec.end_epoch()
    rec.update(np.array([[0.0, np.nan, 1.0]]), [0])
    with pytest.raises(ValueError, match="NaN or inf"):
        rec.end_epoch()
    rec.update(np.array([0, 5]), [0, 1])
    with pytest.raises(ValueError, match="outside"):
        rec.end_epoch()
    rec.update(np.array([0, 1]), [0, 1], sample_ids=[3, 3])
    with pytest.raises(ValueError, match="duplicates"):
        rec.end_epoch()
    with pytest.raises(ValueError, match="if_exists"):
        ConfusionRecorder(["a"], if_exists="append")


def test_widget_before_the_first_epoch():
    rec = ConfusionRecorder(LABELS)
    assert rec.run is None
    assert rec.n_epochs == 0
    with pytest.raises(RuntimeError, match="no epoch recorded yet"):
        rec.widget()
    with pytest.raises(RuntimeError, match="no epoch recorded yet"):
        ConfusionWidget(rec)
    with pytest.raises(TimeoutError):
        rec.widget(wait=0.05)


def test_widget_follows_a_training_thread():
    from IPython.display import display

    yt, logits = make_data(n=300, epochs=6)
    rec = ConfusionRecorder(LABELS)
    go_on = threading.Event()

    def train():
        for e in range(6):
            if e == 3:
                go_on.wait(10)
            for idx in batches(300, 64, seed=e):
                rec.update(
                    torch.from_numpy(logits[e][idx]),
                    torch.from_numpy(yt[idx]),
                    sample_ids=torch.from_numpy(idx),
                )
            rec.end_epoch()

    thread = threading.Thread(target=train)
    thread.start()
    w = rec.widget(wait=10)  # blocks until the thread's first epoch, then follows it
    display(w)
    deadline = time.monotonic() + 30
    while rec.n_epochs < 3 and time.monotonic() < deadline:  # the thread then waits for go_on
        time.sleep(0.02)
    assert w.n_epochs == 3
    assert w.epoch == 2
    w2 = ConfusionWidget(rec)
    w2.epoch = 0  # a user moved this one's slider: it stays put
    go_on.set()
    thread.join(20)
    assert w.n_epochs == 6
    assert w.epoch == 5
    assert w.epoch_labels[-1] == "epoch 5"
    assert w2.n_epochs == 6
    assert w2.epoch == 0
    ref = ConfusionWidget.from_predictions(yt, logits, labels=LABELS)
    np.testing.assert_array_equal(w.matrices, ref.matrices)


def count_encodes(monkeypatch):
    calls = []
    real = images_mod._encode

    def spy(im, size):
        calls.append(size)
        return real(im, size)

    monkeypatch.setattr(images_mod, "_encode", spy)
    return calls


def test_update_images_are_encoded_once_per_sample(monkeypatch, tmp_path):
    yt, logits = make_data(n=150, epochs=3)
    imgs = np.random.default_rng(1).integers(0, 255, (150, 8, 8), dtype=np.uint8)
    calls = count_encodes(monkeypatch)
    rec = record(
        ConfusionRecorder(LABELS, store=tmp_path / "runs.db", run="r"),
        yt,
        logits,
        lib="torch",
        images=torch.from_numpy(imgs),
    )
    assert len(calls) == 150  # the first epoch's samples, none again in epochs 1 and 2
    run = rec.run
    pos = 17
    sid = int(run.sample_ids()[pos])
    expected = images_mod.ImageSource(imgs[[sid]], [sid]).thumbnail(0)
    assert run.images.thumbnail(pos).data == expected.data
    rec.close()
    stored = ConfusionWidget.from_store(tmp_path / "runs.db", run="r").source
    assert stored.images.thumbnail(pos).data == expected.data


def test_images_given_once_are_indexed_by_sample_id(monkeypatch, tmp_path):
    yt, logits = make_data(n=120, epochs=2)
    imgs = np.random.default_rng(2).integers(0, 255, (120, 8, 8), dtype=np.uint8)
    dataset = [(torch.from_numpy(im), int(y)) for im, y in zip(imgs, yt)]  # a torch-style Dataset
    calls = count_encodes(monkeypatch)
    rec = record(ConfusionRecorder(LABELS, images=dataset), yt, logits)
    assert calls == []  # nothing is captured per epoch
    run = rec.run
    for pos in (0, 5, 99):
        sid = int(run.sample_ids()[pos])
        assert run.images.thumbnail(pos).data == images_mod.ImageSource(imgs[[sid]], [sid]).thumbnail(0).data
    with pytest.raises(ValueError, match="indexed by sample id"):
        record(ConfusionRecorder(LABELS, images=imgs[:50]), yt, logits[:1])


def test_images_given_once_are_saved_in_the_log(tmp_path):
    yt, logits = make_data(n=60, epochs=2)
    imgs = np.random.default_rng(3).integers(0, 255, (60, 8, 8), dtype=np.uint8)
    with ConfusionRecorder(LABELS, images=imgs, store=tmp_path / "r.db", run="a") as rec:
        record(rec, yt, logits)
    run = ConfusionWidget.from_store(tmp_path / "r.db", run="a").source
    sid = int(run.sample_ids()[3])
    assert run.images.thumbnail(3).data == images_mod.ImageSource(imgs[[sid]], [sid]).thumbnail(0).data


def test_store_round_trip_and_name_collisions(tmp_path):
    path = tmp_path / "runs.db"
    yt, logits = make_data(n=200, epochs=4)
    with ConfusionRecorder(LABELS, store=path, run="resnet", params={"lr": 3e-4}) as rec:
        record(rec, yt, logits[:2], lib="torch")
        live = rec.widget().matrices
    w = ConfusionWidget.from_store(path, run="resnet")
    np.testing.assert_array_equal(w.matrices, live)
    assert w.source.sample_ids().tolist() == rec.run.sample_ids().tolist()
    with RunStore(path, mode="r") as store:
        (info,) = store.runs()
    assert (info.name, info.n_epochs, info.n_samples, info.params) == ("resnet", 2, 200, {"lr": 3e-4})

    with pytest.raises(RunExistsError, match="already has a run named 'resnet'"):
        ConfusionRecorder(LABELS, store=path, run="resnet")  # before any training
    with pytest.raises(ValueError, match="cannot resume"):
        ConfusionRecorder(LABELS[::-1], store=path, run="resnet", if_exists="resume")

    with ConfusionRecorder(LABELS, store=path, run="resnet", if_exists="resume") as rec:
        assert rec.n_epochs == 2
        record(rec, yt, logits[2:], lib="torch")  # shuffled differently: aligned by id
        assert rec.n_epochs == 4
    full = ConfusionWidget.from_predictions(yt, logits, labels=LABELS)
    resumed = ConfusionWidget.from_store(path, run="resnet")
    np.testing.assert_array_equal(resumed.matrices, full.matrices)
    assert resumed.epoch_labels == [f"epoch {e}" for e in range(4)]

    with ConfusionRecorder(LABELS, store=path, run="resnet", if_exists="overwrite") as rec:
        record(rec, yt, logits[3:])
    with RunStore(path, mode="r") as store:
        assert [(r.name, r.n_epochs) for r in store.runs()] == [("resnet", 1)]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


N_DDP, EPOCHS_DDP = 101, 3  # odd: a DistributedSampler pads one rank with a repeat


def _ddp_worker(out_dir):
    """One rank of the distributed test (run in its own process)."""
    from datetime import timedelta

    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    dist.init_process_group("gloo", timeout=timedelta(seconds=60))
    rank = dist.get_rank()
    yt, logits = make_data(n=N_DDP, epochs=EPOCHS_DDP)
    rec = ConfusionRecorder(LABELS, store=Path(out_dir) / "runs.db", run="ddp")
    sampler = DistributedSampler(range(N_DDP), shuffle=True, seed=7)
    mats = []
    for e in range(EPOCHS_DDP):
        sampler.set_epoch(e)
        idx = torch.tensor(list(sampler))
        for b in idx.split(16):
            rec.update(torch.from_numpy(logits[e])[b], torch.from_numpy(yt)[b], sample_ids=b)
        mats.append(rec.end_epoch())
    rec.close()
    np.save(Path(out_dir) / f"rank{rank}.npy", np.stack(mats))
    dist.destroy_process_group()


def test_distributed_two_gloo_processes(tmp_path):
    env = dict(
        os.environ,
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(_free_port()),
        WORLD_SIZE="2",
        OMP_NUM_THREADS="1",
    )
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import test_recorder; test_recorder._ddp_worker({str(tmp_path)!r})"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=dict(env, RANK=str(r)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for r in range(2)
    ]
    outs = [p.communicate(timeout=180)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outs)
    yt, logits = make_data(n=N_DDP, epochs=EPOCHS_DDP)
    ref = ConfusionWidget.from_predictions(yt, logits, labels=LABELS).matrices
    for r in range(2):  # every rank's end_epoch returned the whole epoch's matrix
        np.testing.assert_array_equal(np.load(tmp_path / f"rank{r}.npy"), ref)
    stored = ConfusionWidget.from_store(tmp_path / "runs.db", run="ddp")
    np.testing.assert_array_equal(stored.matrices, ref)
    assert sorted(stored.source.sample_ids().tolist()) == list(range(N_DDP))  # padding dropped
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["runs.db"]


def test_distributed_needs_sample_ids(monkeypatch):
    import confusion_widget.recorder as recorder_mod

    monkeypatch.setattr(recorder_mod, "distributed", lambda: (0, 2))
    rec = ConfusionRecorder(["a", "b"])
    rec.update(np.array([0, 1]), [0, 1])
    with pytest.raises(ValueError, match="needs sample_ids"):
        rec.end_epoch()


# -- the run in the log is this recorder's, and an epoch is never lost ------------------
def one_epoch(rec, yt, logits, **kw):
    rec.update(logits, yt, sample_ids=np.arange(len(yt)), **kw)
    return rec.end_epoch()


def stored(path, run):
    with RunStore(path, mode="r") as store:
        return store.load(run)


def test_a_stale_recorder_never_writes_into_the_run_that_replaced_its_own(tmp_path):
    path = tmp_path / "runs.db"
    yt, logits = make_data(n=40, epochs=3)
    a = ConfusionRecorder(LABELS, store=path, run="x")
    one_epoch(a, yt, logits[0])
    b = ConfusionRecorder(LABELS, store=path, run="x", if_exists="overwrite")  # another writer
    one_epoch(b, yt, logits[2])
    a.update(logits[1], yt, sample_ids=np.arange(40))
    for _ in range(2):  # a retry meets the same refusal; the epoch stays pending
        with pytest.raises(
            RunStoreError,
            match=rf"{path}.*'x'.*another writer replaced it.*"
            r"not recorded.*end_epoch\(\) again",
        ):
            a.end_epoch()
        assert a.n_epochs == 1
        assert len(a._buf) == 1
    run = stored(path, "x")
    assert run.n_epochs == 1
    assert run.y_pred(0).tolist() == logits[2].argmax(1).tolist()
    a.close()
    b.close()


def test_two_recorders_resuming_one_run_do_not_interleave(tmp_path):
    path = tmp_path / "runs.db"
    yt, logits = make_data(n=40, epochs=3)
    with ConfusionRecorder(LABELS, store=path, run="x") as rec:
        one_epoch(rec, yt, logits[0])
    a = ConfusionRecorder(LABELS, store=path, run="x", if_exists="resume")
    b = ConfusionRecorder(LABELS, store=path, run="x", if_exists="resume")
    one_epoch(a, yt, logits[1])
    b.update(logits[2], yt, sample_ids=np.arange(40))
    with pytest.raises(RunStoreError, match=rf"{path} holds 2 epochs of run 'x'.*another writer appended"):
        b.end_epoch()
    assert b.n_epochs == 1
    assert len(b._buf) == 1
    assert stored(path, "x").n_epochs == 2
    a.close()
    b.close()


def test_a_failed_write_keeps_the_epoch_for_a_retry(tmp_path, monkeypatch):
    monkeypatch.setattr(schema_mod, "BUSY_TIMEOUT", 0.05)
    path = tmp_path / "runs.db"
    yt, logits = make_data(n=40, epochs=2)
    imgs = np.random.default_rng(4).integers(0, 255, (40, 8, 8), dtype=np.uint8)
    rec = ConfusionRecorder(LABELS, store=path, run="r")
    one_epoch(rec, yt, logits[0])
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another process holds the log past the busy timeout
    for idx in np.array_split(np.arange(40), 2):
        rec.update(logits[1][idx], yt[idx], sample_ids=idx, images=imgs[idx])
    with pytest.raises(RunStoreError, match=rf"{path} could not be written.*locked.*not recorded"):
        rec.end_epoch()
    assert rec.n_epochs == 1
    assert len(rec._buf) == 2
    lock.execute("ROLLBACK")
    lock.close()
    cm = rec.end_epoch()  # the retry records the same epoch, with its thumbnails
    np.testing.assert_array_equal(cm, rec.run.matrices()[1, 0])
    assert rec.n_epochs == 2
    assert len(rec._buf) == 0
    rec.close()
    run = stored(path, "r")
    assert run.n_epochs == 2
    assert run.y_pred(1).tolist() == logits[1].argmax(1).tolist()
    assert run.images.thumbnail(5).data == images_mod.ImageSource(imgs[[5]], [5]).thumbnail(0).data


def test_a_failed_first_write_is_retried_into_the_run_it_created(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    yt, logits = make_data(n=30, epochs=1)
    real = RunStore.append_epoch
    failures = [RunStoreError(f"{path} could not be written: database or disk is full")]

    def append_epoch(self, *args, **kw):
        if failures:
            raise failures.pop()
        return real(self, *args, **kw)

    monkeypatch.setattr(RunStore, "append_epoch", append_epoch)
    rec = ConfusionRecorder(LABELS, store=path, run="r")  # if_exists="error"
    rec.update(logits[0], yt)
    with pytest.raises(RunStoreError, match=r"disk is full.*not recorded"):
        rec.end_epoch()
    assert rec.run is None
    rec.end_epoch()  # not "already has a run named 'r'": it is this recorder's run
    rec.close()
    with RunStore(path, mode="r") as store:
        assert [(r.name, r.n_epochs) for r in store.runs()] == [("r", 1)]


def test_a_resumed_run_whose_log_was_deleted_is_not_recorded_into_nothing(tmp_path):
    path = tmp_path / "runs.db"
    yt, logits = make_data(n=30, epochs=2)
    with ConfusionRecorder(LABELS, store=path, run="r") as rec:
        one_epoch(rec, yt, logits[0])
    rec = ConfusionRecorder(LABELS, store=path, run="r", if_exists="resume")
    for f in tmp_path.glob("runs.db*"):
        f.unlink()
    rec.update(logits[1], yt, sample_ids=np.arange(30))
    with pytest.raises(RunStoreError, match=rf"{path} was deleted or replaced.*not recorded"):
        rec.end_epoch()
    assert rec.n_epochs == 1
    assert len(rec._buf) == 1
    rec.close()


def test_a_closed_recorder_refuses_to_record(tmp_path):
    yt, logits = make_data(n=20, epochs=2)
    for store in (None, tmp_path / "runs.db"):
        rec = ConfusionRecorder(LABELS, store=store, run="r")
        one_epoch(rec, yt, logits[0])
        rec.update(logits[1], yt, sample_ids=np.arange(20))
        rec.close()
        rec.close()  # idempotent
        with pytest.raises(ValueError, match="recorder of run 'r' is closed"):
            rec.end_epoch()
        with pytest.raises(ValueError, match="recorder of run 'r' is closed"):
            rec.update(logits[1], yt)
        assert rec.n_epochs == 1
        assert rec.widget().n_epochs == 1
    assert stored(tmp_path / "runs.db", "r").n_epochs == 1


def test_thumbnails_captured_in_a_dropped_epoch_still_reach_the_log(tmp_path):
    path = tmp_path / "runs.db"
    yt, logits = make_data(n=20, epochs=1)
    imgs = np.random.default_rng(5).integers(0, 255, (20, 8, 8), dtype=np.uint8)
    rec = ConfusionRecorder(LABELS, store=path, run="r")
    rec.update(logits[0], np.full(20, K), sample_ids=np.arange(20), images=imgs)  # bad targets
    with pytest.raises(ValueError, match="outside"):
        rec.end_epoch()
    one_epoch(rec, yt, logits[0], images=imgs)  # the samples are known: nothing re-captured
    rec.close()
    with RunStore(path, mode="r") as store:
        assert store.stored_thumbnail_ids("r") == set(range(20))


# -- arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize("labels", [0, -3, [], np.int64(0), ()])
def test_a_recorder_needs_at_least_one_class(labels):
    with pytest.raises(ValueError, match=r"labels.*at least one class"):
        ConfusionRecorder(labels)


@pytest.mark.parametrize("labels", [True, 2.0, np.float32(3), "abc", None, {"a", "b"}, {0: "a"}])
def test_labels_must_be_names_or_a_count(labels):
    with pytest.raises(TypeError, match="labels must be"):
        ConfusionRecorder(labels)


def test_recorder_arguments_are_checked_before_training(tmp_path, monkeypatch):
    with pytest.raises(TypeError, match="run name must be a string"):
        ConfusionRecorder(K, run=3)
    with pytest.raises(ValueError, match="non-empty name"):
        ConfusionRecorder(K, run="")
    with pytest.raises(TypeError, match=r"params\['model'\] cannot be saved as JSON"):
        ConfusionRecorder(K, params={"model": torch.nn.Linear(2, 2)})
    with pytest.raises(TypeError, match="not a single path"):
        ConfusionRecorder(K, images="images/")
    path = tmp_path / "runs.db"
    RunStore(path).close()
    with RunStore(path, mode="r") as store, pytest.raises(ValueError, match="open read-only"):
        ConfusionRecorder(K, store=store)
    with ConfusionRecorder(K, store=path, run="r") as rec:
        rec.update(np.eye(K), np.arange(K))
        rec.end_epoch()
    closed = []
    monkeypatch.setattr(RunStore, "close", lambda self: closed.append(self.path))
    with pytest.raises(RunExistsError):
        ConfusionRecorder(K, store=path, run="r")
    assert closed == [path]  # a failed constructor does not leave its log open


def test_update_checks_sample_ids_without_reading_values():
    rec = ConfusionRecorder(["a", "b"])
    for ids, match in [
        (np.zeros((2, 1), np.int64), "1-D"),
        (np.array([0.0, 1.0]), "dtype float64"),
        (torch.tensor([0.0, 1.0]), "dtype torch.float32"),
        ([True, False], "dtype bool"),
    ]:
        with pytest.raises(ValueError, match=match):
            rec.update(np.array([0, 1]), [0, 1], sample_ids=ids)
    with pytest.raises(ValueError, match="images has 3 items"):
        rec.update(np.array([0, 1]), [0, 1], images=np.zeros((3, 4, 4), np.uint8))
    assert len(rec._buf) == 0
    assert rec._buf.running == 0


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        (np.arange(-1, 29), "sample id -1 is outside images"),
        (np.arange(1, 31), "sample id 30 is outside images"),
        (np.array([f"s{i}" for i in range(30)]), "not integers"),
    ],
)
def test_images_given_once_must_be_indexable_by_the_sample_ids(ids, match):
    yt, logits = make_data(n=30, epochs=1)
    imgs = np.zeros((30, 4, 4), np.uint8)
    for images in (imgs, list(imgs)):
        rec = ConfusionRecorder(LABELS, images=images)
        rec.update(logits[0], yt, sample_ids=ids)
        with pytest.raises(ValueError, match=rf"(?s)(?=.*{match}).*images= is indexed by sample id"):
            rec.end_epoch()
        assert rec.n_epochs == 0


def test_images_given_once_as_a_mapping_take_string_ids():
    yt, logits = make_data(n=12, epochs=1)
    imgs = np.random.default_rng(6).integers(0, 255, (12, 8, 8), dtype=np.uint8)
    ids = [f"s{i}" for i in range(12)]
    rec = ConfusionRecorder(LABELS, images=dict(zip(ids, imgs)))
    rec.update(logits[0], yt, sample_ids=ids)
    rec.end_epoch()
    pos = rec.run.sample_ids().tolist().index("s7")
    assert rec.run.images.thumbnail(pos).data == images_mod.ImageSource(imgs[[7]], [7]).thumbnail(0).data


def test_captured_images_are_image_providers():
    rec = ConfusionRecorder(["a", "b"])
    rec.update(np.array([0, 1]), [0, 1], images=np.zeros((2, 4, 4), np.uint8))
    rec.end_epoch()
    assert isinstance(rec.run.images, ImageProvider)
    assert "large" not in vars(type(rec.run.images))
    assert rec.run.images.large(1) == rec.run.images.thumbnail(1)


def test_resuming_with_other_samples_drops_the_epoch_like_any_invalid_one(tmp_path):
    path = tmp_path / "runs.db"
    with RunStore(path) as store:
        store.create_run("r", LABELS, np.arange(10))  # killed before its first epoch
    yt, logits = make_data(n=12, epochs=1)
    rec = ConfusionRecorder(LABELS, store=path, run="r", if_exists="resume")
    rec.update(logits[0], yt)
    with pytest.raises(ValueError, match=r"cannot resume run 'r'.*sample ids differ"):
        rec.end_epoch()
    assert len(rec._buf) == 0
    assert rec.n_epochs == 0
    rec.close()


def test_a_store_opened_by_a_relative_path_survives_chdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yt, logits = make_data(n=10, epochs=2)
    with ConfusionRecorder(LABELS, store="runs.db", run="r") as rec:
        one_epoch(rec, yt, logits[0])
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")
        one_epoch(rec, yt, logits[1])
    assert stored(tmp_path / "runs.db", "r").n_epochs == 2


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("scale", [1.0, None])  # logits, or probabilities (sigmoid)
def test_a_single_output_column_is_a_binary_score_as_in_from_predictions(dtype, scale):
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(40, 1)) * 3)
    scores = logits if scale else torch.sigmoid(logits)
    y = torch.tensor(rng.integers(0, 2, 40))
    rec = ConfusionRecorder(["neg", "pos"])
    for s in range(0, 40, 16):
        rec.update(scores[s : s + 16].to(dtype), y[s : s + 16])
    rec.end_epoch()
    ref = ConfusionWidget.from_predictions(y.numpy(), scores.to(dtype).float().numpy(), labels=["neg", "pos"])
    np.testing.assert_array_equal(rec.run.matrices(), ref.source.matrices())
    np.testing.assert_allclose(rec.run.confidence(0), ref.source.confidence(0), atol=1e-6)
    with pytest.raises(ValueError, match="one column is a binary score: for 2 labels"):
        ConfusionRecorder(["a", "b", "c"]).update(scores, y)


@pytest.mark.parametrize("lib", ["numpy", "torch", "mixed"])
def test_the_recorder_records_p_true_and_the_margin_as_from_predictions(lib, tmp_path):
    yt, logits = make_data(n=120, epochs=3)
    rec = ConfusionRecorder(LABELS, store=tmp_path / "runs.db", run="r")
    for e in range(3):
        for idx in batches(120, 32, seed=e):
            out = torch.from_numpy(logits[e][idx]) if lib != "numpy" else logits[e][idx]
            target = torch.from_numpy(yt[idx]) if lib == "torch" else yt[idx]
            rec.update(out, target, sample_ids=idx)
        rec.end_epoch()
    ref = ConfusionWidget.from_predictions(yt, logits).source
    order = rec.run.sample_ids()  # the first epoch's order
    for e in range(3):
        np.testing.assert_allclose(rec.run.p_true(e), ref.p_true(e)[order], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(rec.run.margin(e), ref.margin(e)[order], rtol=1e-5, atol=1e-6)
    rec.close()
    logged = ConfusionWidget.from_store(tmp_path / "runs.db", "r").dynamics()
    expected = ref.dynamics().take(order)
    for column in ("confidence", "variability", "aum", "forgetting_events", "first_learned"):
        np.testing.assert_allclose(logged[column], expected[column], rtol=1e-5, atol=1e-6)


def test_sample_index_finds_ids_of_every_kind():
    from confusion_widget._recorder_buffer import SampleIndex

    ints = SampleIndex(np.array([30, 10, 20], np.int64))
    assert ints.positions(np.array([20, 30, 99, 10])).tolist() == [2, 0, -1, 1]
    assert ints.positions(np.array(["10"])).tolist() == [-1]  # a string is not the int
    assert ints.positions(np.array([10, "x"], object)).tolist() == [1, -1]
    strs = SampleIndex(np.array(["b", "a", "c"], object))  # a run's string ids
    assert strs.positions(np.array(["c", "a", "zz", "b"])).tolist() == [2, 1, -1, 0]
    assert strs.positions(np.array([1, 2])).tolist() == [-1, -1]
    assert strs.positions(np.array([], "<U1")).tolist() == []
