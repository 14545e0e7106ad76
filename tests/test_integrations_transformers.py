"""The Hugging Face Trainer's ConfusionCallback: a small torch module trained on
digits for 3 epochs with an evaluation per epoch; the recorded matrices equal a
brute-force recount of predictions made independently (the model called directly)
at each evaluation, with sample ids from a dataset column, in memory and in the run
log; and the evaluation runs once per epoch (no second pass)."""

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate (transformers[torch])")

from confusion_widget import ConfusionWidget, Run  # noqa: E402
from confusion_widget.integrations.transformers import ConfusionCallback  # noqa: E402

torch.set_num_threads(1)
K = 10
LABELS = [f"digit {i}" for i in range(K)]


def digits(n_train=600, n_val=300):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.int64)
    return (x[:n_train], y[:n_train]), (x[n_train : n_train + n_val], y[n_train : n_train + n_val])


class Digits(torch.utils.data.Dataset):
    """Dicts with the model's inputs, its labels and a sample id the model does not take."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i], "uid": f"img-{i:04d}"}


class Tiny(torch.nn.Module):
    """A plain nn.Module returning a loss and logits, as the Trainer expects."""

    def __init__(self, extra_output=False):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, K))
        self.extra_output = extra_output
        self.forward_calls = 0

    def forward(self, x, labels=None):
        self.forward_calls += 1
        logits = self.net(x)
        out = {"logits": logits}
        if self.extra_output:
            out = {"hidden": self.net[0](x)[:, :3], "logits": logits}
        if labels is not None:
            out["loss"] = torch.nn.functional.cross_entropy(logits, labels)
        return out


class Snapshot(transformers.TrainerCallback):
    """Independent predictions on the whole validation set at each evaluation."""

    def __init__(self, x_val):
        self.x_val, self.preds, self.conf = x_val, [], []

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        with torch.no_grad():
            logits = model.net(self.x_val).double()
        self.preds.append(logits.argmax(1).numpy())
        self.conf.append(torch.softmax(logits, 1).max(1).values.numpy())


def brute_force(y_true, y_pred):
    m = np.zeros((K, K), np.int64)
    for t, p in zip(y_true, y_pred):
        m[t, p] += 1
    return m


def make_trainer(tmp_path, model, train, val, epochs=3, **kw):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=epochs,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=64,
        learning_rate=0.01,
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        dataloader_num_workers=0,
        seed=0,
        **kw,
    )
    return transformers.Trainer(
        model=model, args=args, train_dataset=Digits(*train), eval_dataset=Digits(*val)
    )


def test_records_each_evaluation(tmp_path):
    train, val = digits()
    model = Tiny()
    cb = ConfusionCallback(labels=LABELS, sample_id_column="uid", store=tmp_path / "r.db", run="hf")
    snap = Snapshot(val[0])
    calls = []

    def accuracy(eval_pred):
        calls.append(len(eval_pred.label_ids))
        return {"accuracy": float((eval_pred.predictions.argmax(1) == eval_pred.label_ids).mean())}

    trainer = make_trainer(tmp_path, model, train, val)
    trainer.compute_metrics = accuracy
    cb.attach(trainer)
    trainer.add_callback(snap)
    trainer.train()

    run = cb.recorder.run
    assert run.n_epochs == 3 == len(snap.preds)
    assert calls == [300] * 3  # the user's metrics still run, once per evaluation
    # one evaluation pass per epoch: 600 / 32 = 19 training and 300 / 64 = 5 eval batches
    assert model.forward_calls == 3 * (19 + 5)
    assert run.sample_ids().tolist() == [f"img-{i:04d}" for i in range(300)]
    y_val = val[1].numpy()
    for e in range(3):
        np.testing.assert_array_equal(run.counts(e), brute_force(y_val, snap.preds[e]))
        np.testing.assert_array_equal(run.y_pred(e), snap.preds[e])
        np.testing.assert_allclose(run.confidence(e), snap.conf[e], rtol=1e-5)
    assert not np.array_equal(snap.preds[0], snap.preds[2])  # it learned
    m = trainer.evaluate()
    assert "eval_accuracy" in m and run.n_epochs == 4  # an explicit evaluation is one more
    trainer.predict(Digits(*val))  # … a prediction is not
    assert run.n_epochs == 4
    cb.close()
    np.testing.assert_array_equal(Run.from_store(tmp_path / "r.db", "hf").matrices(), run.matrices())
    w = cb.widget()
    assert isinstance(w, ConfusionWidget)
    np.testing.assert_array_equal(w.matrices, run.matrices()[:, 0])


def test_batch_eval_metrics_and_several_outputs(tmp_path):
    """Per-batch hand-over (device tensors), and logits as the second model output
    via extract=; positions as sample ids."""
    train, val = digits(200, 150)
    cb = ConfusionCallback(labels=K, extract=lambda preds, labels: (preds[1], labels))
    snap = Snapshot(val[0])
    seen = []

    def metrics(eval_pred, compute_result):
        seen.append(compute_result)
        return {}

    trainer = make_trainer(tmp_path, Tiny(extra_output=True), train, val, epochs=2, batch_eval_metrics=True)
    trainer.compute_metrics = cb.compute_metrics(metrics)
    trainer.add_callback(cb)
    trainer.add_callback(snap)
    trainer.train()
    run = cb.recorder.run
    assert run.n_epochs == 2 and seen == [False, False, True] * 2
    np.testing.assert_array_equal(run.sample_ids(), np.arange(150))
    for e in range(2):
        np.testing.assert_array_equal(run.counts(e), brute_force(val[1].numpy(), snap.preds[e]))


def test_several_outputs_without_extract_show_the_shapes(tmp_path):
    train, val = digits(64, 64)
    cb = ConfusionCallback(labels=K)
    model = Tiny(extra_output=True)
    trainer = cb.attach(make_trainer(tmp_path, model, train, val, epochs=1))
    trainer.model.forward = lambda x, labels=None: {
        "loss": torch.tensor(0.0, requires_grad=True),
        "hidden": torch.zeros(len(x), 2, 3),
        "logits": torch.zeros(len(x), K),
    }
    with pytest.raises(ValueError, match=r"\(\(64, 2, 3\), \(64, 10\)\).*extract="):
        trainer.evaluate()


def test_unknown_column_and_missing_wiring(tmp_path):
    train, val = digits(64, 64)
    cb = ConfusionCallback(labels=K, sample_id_column="uuid")
    trainer = cb.attach(make_trainer(tmp_path, Tiny(), train, val, epochs=1))
    with pytest.raises(ValueError, match=r"'uuid' is not a column.*Did you mean 'uid'"):
        trainer.evaluate()
    unwired = ConfusionCallback(labels=K)
    trainer = make_trainer(tmp_path, Tiny(), train, val, epochs=1)
    trainer.add_callback(unwired)
    with pytest.raises(ValueError, match=r"cb.attach\(trainer\)"):
        trainer.evaluate()
    with pytest.raises(TypeError, match="sample_id_column"):
        ConfusionCallback(labels=K, sample_id_column=3)


def test_missing_framework_says_what_to_install(monkeypatch):
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.delitem(sys.modules, "confusion_widget.integrations.transformers")
    with pytest.raises(ImportError, match=r"pip install confusion-widget\[transformers\]"):
        importlib.import_module("confusion_widget.integrations.transformers")
