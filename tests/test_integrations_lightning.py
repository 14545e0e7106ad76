"""The Lightning ConfusionCallback: a tiny model trained on digits for 3 epochs; the
recorded matrices equal a brute-force recount of predictions made independently at
each validation epoch's end, in memory, in the run log, and under DDP (two gloo
processes, ``ddp_spawn``)."""

import importlib
import sys
import warnings

import numpy as np
import pytest
import torch

pl = pytest.importorskip("lightning.pytorch")

from confusion_widget import ConfusionWidget, Run  # noqa: E402
from confusion_widget.integrations.lightning import ConfusionCallback  # noqa: E402

torch.set_num_threads(1)
K = 10
LABELS = [f"digit {i}" for i in range(K)]
ID_OFFSET = 5000  # sample ids that are not positions


def digits(n_train=600, n_val=300):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.int64)
    return (x[:n_train], y[:n_train]), (x[n_train : n_train + n_val], y[n_train : n_train + n_val])


class Tiny(pl.LightningModule):
    """An MLP whose validation_step returns logits, targets and sample ids."""

    def __init__(self, output="dict"):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, K))
        self.output = output

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y, _ = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y, ids = batch
        logits = self(x)
        if self.output == "dict":
            return {"logits": logits, "target": y, "sample_ids": ids}
        if self.output == "tuple":
            return logits, y
        return {"loss": torch.nn.functional.cross_entropy(logits, y), "preds": logits.argmax(1)}

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)


class Snapshot(pl.Callback):
    """Independent predictions on the whole validation set at each epoch's end."""

    def __init__(self, x_val):
        self.x_val, self.preds, self.conf = x_val, [], []

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        with torch.no_grad():
            logits = pl_module(self.x_val.to(pl_module.device)).double()
        self.preds.append(logits.argmax(1).numpy())
        self.conf.append(torch.softmax(logits, 1).max(1).values.numpy())


def brute_force(y_true, y_pred):
    m = np.zeros((K, K), np.int64)
    for t, p in zip(y_true, y_pred):
        m[t, p] += 1
    return m


def loaders(train, val, shuffle_val=False, batch=64):
    from torch.utils.data import DataLoader, TensorDataset

    ids = torch.arange(len(val[1])) + ID_OFFSET
    return (
        DataLoader(TensorDataset(*train, torch.arange(len(train[1]))), batch_size=batch, shuffle=True),
        DataLoader(
            TensorDataset(*val, ids),
            batch_size=batch,
            shuffle=shuffle_val,
            generator=torch.Generator().manual_seed(1),
        ),
    )


def trainer(callbacks, epochs=3, **kw):
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
        **kw,
    )


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(num_workers|shuffl|does not have many workers).*")
        yield


def test_records_each_validation_epoch(tmp_path):
    train, val = digits()
    train_dl, val_dl = loaders(train, val, shuffle_val=True)  # batches in a new order each epoch
    cb = ConfusionCallback(labels=LABELS, store=tmp_path / "runs.db", run="mlp")
    snap = Snapshot(val[0])
    trainer([cb, snap]).fit(Tiny(), train_dl, val_dl)  # sanity-check batches are skipped

    rec = cb.recorder
    assert rec.n_epochs == 3 == len(snap.preds)
    run = rec.run
    order = np.argsort(run.sample_ids())  # run positions → validation order
    np.testing.assert_array_equal(run.sample_ids()[order], np.arange(len(val[1])) + ID_OFFSET)
    y_val = val[1].numpy()
    for e in range(3):
        ref = brute_force(y_val, snap.preds[e])
        np.testing.assert_array_equal(run.counts(e), ref)
        np.testing.assert_array_equal(run.y_pred(e)[order], snap.preds[e])
        np.testing.assert_array_equal(run.y_true(e)[order], y_val)
        np.testing.assert_allclose(run.confidence(e)[order], snap.conf[e], rtol=1e-5)
    assert not np.array_equal(snap.preds[0], snap.preds[2])  # it learned: epochs differ
    cb.close()
    stored = Run.from_store(tmp_path / "runs.db", "mlp")
    np.testing.assert_array_equal(stored.matrices(), run.matrices())
    w = cb.widget()
    assert isinstance(w, ConfusionWidget) and w.labels == LABELS
    np.testing.assert_array_equal(w.matrices, run.matrices()[:, 0])


def test_extract_and_validate_call():
    train, val = digits(200, 100)
    train_dl, val_dl = loaders(train, val)
    cb = ConfusionCallback(labels=K, extract=lambda out, batch: (out[0], out[1]))
    snap = Snapshot(val[0])
    t = trainer([cb, snap], epochs=1, num_sanity_val_steps=0)
    t.fit(Tiny("tuple"), train_dl, val_dl)
    t.validate(t.lightning_module, val_dl, verbose=False)  # a second epoch, same model
    assert cb.recorder.n_epochs == 2
    np.testing.assert_array_equal(cb.recorder.run.sample_ids(), np.arange(100))  # running index
    for e in range(2):
        np.testing.assert_array_equal(cb.recorder.run.counts(e), brute_force(val[1].numpy(), snap.preds[e]))


def test_output_without_logits_names_the_keys():
    train, val = digits(100, 50)
    train_dl, val_dl = loaders(train, val)
    cb = ConfusionCallback(labels=K)
    with pytest.raises(ValueError, match=r"validation_step gave the keys \['loss', 'preds'\].*extract="):
        trainer([cb], epochs=1, num_sanity_val_steps=0).fit(Tiny("other"), train_dl, val_dl)


def test_bad_arguments_fail_before_training():
    with pytest.raises(TypeError, match=r"unknown recorder option.*'image'"):
        ConfusionCallback(labels=K, image=None)
    with pytest.raises(ValueError, match="dataloader_idx"):
        ConfusionCallback(labels=K, dataloader_idx=-1)
    with pytest.raises(ValueError, match="labels"):
        ConfusionCallback(labels=0)
    with pytest.raises(ValueError, match="if_exists"):
        ConfusionCallback(labels=K, if_exists="append")


def test_pickles_without_its_recorder(tmp_path):
    """ddp_spawn pickles callbacks to its workers: each makes its own recorder."""
    import pickle

    cb = ConfusionCallback(labels=K, store=tmp_path / "p.db")
    assert cb.recorder.n_epochs == 0  # made, with its log open (an SQLite connection)
    copy = pickle.loads(pickle.dumps(cb))
    assert copy._recorder is None
    assert copy.recorder.name == cb.recorder.name  # the worker writes the same run
    copy.recorder.update(np.eye(K), np.arange(K))
    copy.recorder.end_epoch()
    copy.close()
    cb.close()
    assert Run.from_store(tmp_path / "p.db", cb.recorder.name).n_epochs == 1


def test_missing_framework_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)
    monkeypatch.setitem(sys.modules, "pytorch_lightning", None)
    monkeypatch.delitem(sys.modules, "confusion_widget.integrations.lightning")
    with pytest.raises(ImportError, match=r"pip install confusion-widget\[lightning\]"):
        importlib.import_module("confusion_widget.integrations.lightning")


def test_import_confusion_widget_imports_no_framework():
    import subprocess

    code = (
        "import sys, confusion_widget, confusion_widget.integrations; "
        "print([m for m in ('lightning', 'keras', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(out_dir):
    """One rank of the DDP test, launched as torchrun would (in its own process)."""
    from pathlib import Path

    data = np.load(Path(out_dir) / "digits.npz")  # the parent's (no sklearn import here)
    train = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
    val = torch.from_numpy(data["x_val"]), torch.from_numpy(data["y_val"])
    train_dl, val_dl = loaders(train, val)
    cb = ConfusionCallback(labels=LABELS, store=Path(out_dir) / "ddp.db", run="ddp")
    model = Tiny()
    t = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[cb],
    )
    t.fit(model, train_dl, val_dl)
    rec = cb.recorder
    np.save(Path(out_dir) / f"rank{t.global_rank}.npy", rec.run.matrices()[:, 0])
    if t.global_rank == 0:
        with torch.no_grad():
            np.save(Path(out_dir) / "preds.npy", model(val[0]).argmax(1).numpy())


def test_ddp_two_processes_gather_into_one_run(tmp_path):
    """Two gloo ranks under Lightning's DDP: each validates half the samples (the
    sampler pads one rank); every rank's recorder holds the whole set, rank 0's log
    too, equal to an independent recount of the final model's predictions."""
    import os
    import subprocess
    from pathlib import Path

    env = dict(
        os.environ,
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(_free_port()),
        WORLD_SIZE="2",
        LOCAL_WORLD_SIZE="2",
        GROUP_RANK="0",
        TORCHELASTIC_RUN_ID="confusion-test",
        OMP_NUM_THREADS="1",
        PYTHONWARNINGS="ignore",
    )
    train, val = digits(200, 101)  # odd: a DistributedSampler pads one rank
    np.savez(
        tmp_path / "digits.npz",
        x_train=train[0].numpy(),
        y_train=train[1].numpy(),
        x_val=val[0].numpy(),
        y_val=val[1].numpy(),
    )
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import test_integrations_lightning as t; t._ddp_worker({str(tmp_path)!r})"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for r in range(2)
    ]
    outs = [p.communicate(timeout=240)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outs)
    stored = Run.from_store(tmp_path / "ddp.db", "ddp")
    assert stored.n_epochs == 2
    assert sorted(stored.sample_ids().tolist()) == list(range(ID_OFFSET, ID_OFFSET + 101))  # padding dropped
    preds = np.load(tmp_path / "preds.npy")
    order = np.argsort(stored.sample_ids())
    np.testing.assert_array_equal(stored.y_pred(1)[order], preds)
    np.testing.assert_array_equal(stored.counts(1), brute_force(val[1].numpy(), preds))
    for r in range(2):  # every rank's recorder gathered the whole epoch
        np.testing.assert_array_equal(np.load(tmp_path / f"rank{r}.npy"), stored.matrices()[:, 0])
