"""ConfusionRecorder: per-batch updates, epochs aligned by id, images, live widgets,
the run log, and torch.distributed (two gloo processes)."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import confusion_widget.images as images_mod
from confusion_widget import ConfusionRecorder, ConfusionWidget, RunStore
from confusion_widget.store import RunExistsError

K = 7
LABELS = [f"c{i}" for i in range(K)]


def make_data(n=500, epochs=3, seed=0):
    """True classes and per-epoch logits that get better with the epochs."""
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, K, n)
    logits = [(rng.normal(size=(n, K)) + 2.5 * np.eye(K)[yt] * (e + 1) / epochs).astype(np.float32)
              for e in range(epochs)]
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
    return [order[i:i + batch] for i in range(0, n, batch)]


def record(rec, yt, outputs_per_epoch, lib="numpy", shuffle=True, batch=64, images=None):
    for e, out in enumerate(outputs_per_epoch):
        for idx in (batches(len(yt), batch, seed=e) if shuffle else [np.arange(i, min(i + batch, len(yt)))
                                                                     for i in range(0, len(yt), batch)]):
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
        np.testing.assert_allclose(by_id(run, e, "confidence"), ref_run.confidence(e), rtol=1e-5, equal_nan=True)
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
    assert rec.labels == [str(i) for i in range(K)] and rec.n_epochs == 1


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

    calls: list[str] = []
    SYNCS = {"cpu", "item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__", "__array__"}

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
            rec.update(out, torch.from_numpy(yt[idx]).as_subclass(SyncSpy),
                       sample_ids=torch.from_numpy(idx).as_subclass(SyncSpy))
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
    assert run.y_pred(1).dtype == np.int32 and run.y_true(1).dtype == np.int32
    assert run.confidence(1).dtype == np.float32
    assert len(rec._buf) == 0  # per-batch buffers are dropped at end_epoch


@pytest.mark.parametrize(
    "epoch1, match",
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
    assert rec.run is None and rec.n_epochs == 0
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
                rec.update(torch.from_numpy(logits[e][idx]), torch.from_numpy(yt[idx]),
                           sample_ids=torch.from_numpy(idx))
            rec.end_epoch()

    thread = threading.Thread(target=train)
    thread.start()
    w = rec.widget(wait=10)  # blocks until the thread's first epoch, then follows it
    display(w)
    deadline = time.monotonic() + 30
    while rec.n_epochs < 3 and time.monotonic() < deadline:  # the thread then waits for go_on
        time.sleep(0.02)
    assert w.n_epochs == 3 and w.epoch == 2  # the slider follows the newest epoch
    w2 = ConfusionWidget(rec)
    w2.epoch = 0  # a user moved this one's slider: it stays put
    go_on.set()
    thread.join(20)
    assert w.n_epochs == 6 and w.epoch == 5 and w.epoch_labels[-1] == "epoch 5"
    assert w2.n_epochs == 6 and w2.epoch == 0
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
    rec = record(ConfusionRecorder(LABELS, store=tmp_path / "runs.db", run="r"), yt, logits,
                 lib="torch", images=torch.from_numpy(imgs))
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
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE="2",
               OMP_NUM_THREADS="1")
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); " \
           f"import test_recorder; test_recorder._ddp_worker({str(tmp_path)!r})"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=dict(env, RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for r in range(2)]
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

    monkeypatch.setattr(recorder_mod, "_distributed", lambda: (0, 2))
    rec = ConfusionRecorder(["a", "b"])
    rec.update(np.array([0, 1]), [0, 1])
    with pytest.raises(ValueError, match="needs sample_ids"):
        rec.end_epoch()
