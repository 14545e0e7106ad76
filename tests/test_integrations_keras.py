"""The Keras ConfusionCallback on the torch backend: a tiny model trained on digits
for 3 epochs; the recorded matrices equal a brute-force recount of predictions made
independently (the model called directly) at each epoch's end, in memory and in the
run log."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported
keras = pytest.importorskip("keras")
import torch  # noqa: E402

from confusion_widget import ConfusionWidget, Run  # noqa: E402

# keras' torch backend converts tensors with np.array(x), which numpy 2 warns about
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TORCH_BACKEND = keras.backend.backend() == "torch"
needs_torch_backend = pytest.mark.skipif(
    not TORCH_BACKEND, reason="keras was imported with another backend: see test_in_a_subprocess"
)
if TORCH_BACKEND:
    from confusion_widget.integrations.keras import ConfusionCallback

torch.set_num_threads(1)
K = 10
LABELS = [f"digit {i}" for i in range(K)]


def digits(n_train=600, n_val=300):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return (x[:n_train], y[:n_train]), (x[n_train : n_train + n_val], y[n_train : n_train + n_val])


def model(softmax=False, metrics=()):
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(K, activation="softmax" if softmax else None),
        ]
    )
    m.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.CategoricalCrossentropy(from_logits=not softmax)
        if softmax
        else keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(metrics),
    )
    return m


class Snapshot(keras.callbacks.Callback):
    """Independent predictions: the model called on the whole validation set."""

    def __init__(self, x_val):
        super().__init__()
        self.x_val, self.preds, self.conf = x_val, [], []

    def on_epoch_end(self, epoch, logs=None):
        out = keras.ops.convert_to_numpy(self.model(self.x_val, training=False)).astype(np.float64)
        self.preds.append(out.argmax(1))
        e = np.exp(out - out.max(1, keepdims=True))
        self.conf.append((e / e.sum(1, keepdims=True)).max(1) if out.min() < 0 else out.max(1))


def brute_force(y_true, y_pred):
    m = np.zeros((K, K), np.int64)
    for t, p in zip(y_true, y_pred):
        m[t, p] += 1
    return m


@needs_torch_backend
def test_records_each_epoch(tmp_path):
    (x_tr, y_tr), (x_val, y_val) = digits()
    ids = np.array([f"val-{i:03d}" for i in range(len(y_val))])
    cb = ConfusionCallback(
        (x_val, y_val), labels=LABELS, sample_ids=ids, store=tmp_path / "r.db", run="keras"
    )
    snap = Snapshot(x_val)
    m = model()
    m.fit(x_tr, y_tr, epochs=3, batch_size=64, verbose=0, callbacks=[cb, snap])

    run = cb.recorder.run
    assert run.n_epochs == 3 == len(snap.preds)
    assert run.sample_ids().tolist() == ids.tolist()
    for e in range(3):
        np.testing.assert_array_equal(run.counts(e), brute_force(y_val, snap.preds[e]))
        np.testing.assert_array_equal(run.y_pred(e), snap.preds[e])
        np.testing.assert_allclose(run.confidence(e), snap.conf[e], rtol=1e-5)
    assert not np.array_equal(snap.preds[0], snap.preds[2])  # it learned
    cb.close()
    np.testing.assert_array_equal(Run.from_store(tmp_path / "r.db", "keras").matrices(), run.matrices())
    w = cb.widget()
    assert isinstance(w, ConfusionWidget)
    np.testing.assert_array_equal(w.matrices, run.matrices()[:, 0])


@needs_torch_backend
def test_records_fits_own_validation_without_a_second_pass(tmp_path):
    (x_tr, y_tr), (x_val, y_val) = digits()
    cb = ConfusionCallback(
        None, labels=LABELS, sample_ids=np.arange(300) * 7, store=tmp_path / "f.db", run="fit"
    )
    snap = Snapshot(x_val)
    m = model(metrics=[cb.metric()])

    def no_predict(*args, **kwargs):
        raise AssertionError("the callback must not predict: fit's validation is recorded")

    m.predict = m.predict_on_batch = no_predict
    hist = m.fit(
        x_tr, y_tr, validation_data=(x_val, y_val), epochs=3, batch_size=64, verbose=0, callbacks=[cb, snap]
    )
    run = cb.recorder.run
    assert run.n_epochs == 3
    np.testing.assert_array_equal(run.sample_ids(), np.arange(300) * 7)
    for e in range(3):
        np.testing.assert_array_equal(run.counts(e), brute_force(y_val, snap.preds[e]))
        np.testing.assert_allclose(run.confidence(e), snap.conf[e], rtol=1e-5)
        # the metric's value is the validation accuracy
        assert hist.history["val_confusion_accuracy"][e] == pytest.approx((snap.preds[e] == y_val).mean())
    cb.close()
    np.testing.assert_array_equal(Run.from_store(tmp_path / "f.db", "fit").matrices(), run.matrices())


@needs_torch_backend
def test_fits_own_validation_needs_the_metric_and_a_validation():
    (x_tr, y_tr), (x_val, y_val) = digits(100, 50)
    cb = ConfusionCallback(None, labels=K)
    with pytest.raises(ValueError, match=r"add cb.metric\(\) to model.compile"):
        model().fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=1, verbose=0, callbacks=[cb])
    cb = ConfusionCallback(None, labels=K)
    with pytest.raises(ValueError, match="fit ran no validation"):
        model(metrics=[cb.metric()]).fit(x_tr, y_tr, epochs=1, verbose=0, callbacks=[cb])
    with pytest.raises(ValueError, match="validation_data=None"):
        ConfusionCallback((x_val, y_val), labels=K).metric()


@needs_torch_backend
def test_batches_one_hot_targets_and_softmax_outputs():
    from torch.utils.data import DataLoader, TensorDataset

    (x_tr, y_tr), (x_val, y_val) = digits(300, 150)
    onehot = np.eye(K, dtype=np.float32)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x_val), torch.from_numpy(onehot[y_val])), batch_size=40
    )
    cb = ConfusionCallback(loader, labels=K)
    snap = Snapshot(x_val)
    model(softmax=True).fit(x_tr, onehot[y_tr], epochs=2, batch_size=64, verbose=0, callbacks=[cb, snap])
    run = cb.recorder.run
    assert run.n_epochs == 2
    for e in range(2):
        np.testing.assert_array_equal(run.counts(e), brute_force(y_val, snap.preds[e]))
        np.testing.assert_allclose(run.confidence(e), snap.conf[e], rtol=1e-5)  # probabilities kept


@needs_torch_backend
def test_dict_outputs_need_extract():
    _, (x_val, y_val) = digits(100, 50)
    inp = keras.Input((64,))
    h = keras.layers.Dense(16, activation="relu")(inp)
    m = keras.Model(inp, {"scores": keras.layers.Dense(K)(h), "aux": keras.layers.Dense(1)(h)})
    cb = ConfusionCallback((x_val, y_val), labels=K)
    cb.set_model(m)
    with pytest.raises(ValueError, match=r"model.predict gave the keys \['aux', 'scores'\].*extract="):
        cb.on_epoch_end(0)
    cb = ConfusionCallback((x_val, y_val), labels=K, extract=lambda p: p["scores"])
    cb.set_model(m)
    cb.on_epoch_end(0)
    out = keras.ops.convert_to_numpy(m(x_val)["scores"])
    np.testing.assert_array_equal(cb.recorder.run.counts(0), brute_force(y_val, out.argmax(1)))


@needs_torch_backend
def test_a_run_already_in_the_log_fails_before_training(tmp_path):
    from confusion_widget.store import RunExistsError

    (x_tr, y_tr), (x_val, y_val) = digits(100, 50)
    first = ConfusionCallback((x_val, y_val), labels=K, store=tmp_path / "r.db", run="dup")
    model().fit(x_tr, y_tr, epochs=1, verbose=0, callbacks=[first])
    first.close()
    again = ConfusionCallback((x_val, y_val), labels=K, store=tmp_path / "r.db", run="dup")
    m = model()
    with pytest.raises(RunExistsError, match="if_exists="):
        m.fit(x_tr, y_tr, epochs=1, verbose=0, callbacks=[again])
    assert m.optimizer.iterations.numpy() == 0  # not a single training step


@needs_torch_backend
def test_bad_validation_data():
    x, y = np.zeros((5, 64), np.float32), np.zeros(5, np.int64)
    with pytest.raises(ValueError, match=r"validation_data must be \(x, y\).*sample_ids="):
        ConfusionCallback((x, y, y), labels=K)
    with pytest.raises(ValueError, match="5 inputs but 4 targets"):
        ConfusionCallback((x, y[:4]), labels=K)
    with pytest.raises(ValueError, match="sample_ids has 3 ids for 5"):
        ConfusionCallback((x, y), labels=K, sample_ids=[1, 2, 3])
    with pytest.raises(TypeError, match="validation_data must be"):
        ConfusionCallback(42, labels=K)


def test_missing_framework_says_what_to_install(monkeypatch):
    import importlib

    monkeypatch.setitem(sys.modules, "keras", None)
    monkeypatch.delitem(sys.modules, "confusion_widget.integrations.keras", raising=False)
    with pytest.raises(ImportError, match=r"pip install confusion-widget\[keras\]"):
        importlib.import_module("confusion_widget.integrations.keras")


@pytest.mark.skipif(TORCH_BACKEND, reason="runs the tests above when keras has another backend")
def test_in_a_subprocess():
    env = dict(os.environ, KERAS_BACKEND="torch")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__))],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
