"""Overhead of the training-framework callbacks on a validation epoch of a tiny model.

The model is the tiny CNN of ``bench_recorder`` (two 3×3 convolutions, 8×8 digits,
K = 10) on N = 7,188 validation samples (the digits, 4×) in batches of 64, torch on
one thread, CPU. Each row times the framework's own validation epoch without and
with the callback, alternating the two (best of 5 each), so a burst of load on the
shared cores hits both:

- Lightning: ``trainer.validate`` (``validation_step`` returns the logits, targets
  and sample ids in both cases; the callback adds the recorder's updates and its
  ``end_epoch``).
- Hugging Face: ``trainer.evaluate`` with an accuracy ``compute_metrics``, and with
  the same one wrapped by the callback (the callback records the predictions the
  ``Trainer`` already gathered).
- Keras (torch backend): Keras' validation epoch is ``model.evaluate``. Given
  ``validation_data``, the callback makes a ``model.predict`` pass over it (Keras
  gives callbacks no predictions): its overhead is the recording on top of that pass,
  and the pass itself is printed as "the predict pass". With ``cb.metric()`` it
  records Keras' own validation: the time in the metric (recording and its
  accuracy) and in ``on_test_end``.

"In the callback" is the time spent in the callback's hooks (best of 5), the robust
figure; "end to end" (with / without − 1) swings by tens of percent on the shared cores.

Run: ``.venv/bin/python benchmarks/bench_integrations.py`` (a minute or two, most of
it importing the frameworks).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import table
from bench_recorder import _tiny_cnn  # the same tiny CNN as the recorder's benchmark

K, BATCH, REPEAT, PAIRS = 10, 64, 4, 5


def _data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = np.tile((x / 16.0).astype(np.float32), (REPEAT, 1)).reshape(-1, 1, 8, 8)
    return x, np.tile(y, REPEAT).astype(np.int64)


def _pairs(without, with_) -> tuple[float, float]:
    """Best times of ``without()`` and ``with_()``, alternated."""
    a, b = [], []
    for _ in range(PAIRS):
        for fn, out in ((without, a), (with_, b)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return min(a), min(b)


def _timed(cls: type, hooks: tuple[str, ...]) -> type:
    """A subclass of callback ``cls`` that adds the time spent in ``hooks`` to ``self.spent``."""

    def wrap(name: str):
        inner = getattr(cls, name)

        def hook(self, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return inner(self, *args, **kwargs)
            finally:
                self.spent += time.perf_counter() - t0

        return hook

    return type(f"Timed{cls.__name__}", (cls,), {"spent": 0.0, **{h: wrap(h) for h in hooks}})


def bench_lightning(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from confusion_widget.integrations.lightning import ConfusionCallback

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = _tiny_cnn(K)

        def validation_step(self, batch, batch_idx):
            xb, yb, ids = batch
            return {"logits": self.net(xb), "target": yb, "sample_ids": ids}

    loader = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y), torch.arange(len(y))), batch_size=BATCH
    )
    model = Module()
    kw = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    cb = _timed(ConfusionCallback, ("on_validation_batch_end", "on_validation_epoch_end"))(K)
    plain, recorded = pl.Trainer(**kw), pl.Trainer(callbacks=[cb], **kw)
    spent = []

    def with_cb() -> None:
        cb.spent = 0.0
        recorded.validate(model, loader, verbose=False)
        spent.append(cb.spent)

    base, with_ = _pairs(lambda: plain.validate(model, loader, verbose=False), with_cb)
    return base, with_, min(spent)


def bench_transformers(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    import torch
    import transformers

    from confusion_widget.integrations.transformers import ConfusionCallback

    transformers.logging.set_verbosity_error()

    class Data(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(y)

        def __getitem__(self, i: int) -> dict:
            return {"x": torch.from_numpy(x[i]), "labels": int(y[i])}

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _tiny_cnn(K)

        def forward(self, x, labels=None):
            logits = self.net(x)
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    def accuracy(p):
        return {"accuracy": float((p.predictions.argmax(1) == p.label_ids).mean())}

    with tempfile.TemporaryDirectory() as tmp:

        def trainer():
            args = transformers.TrainingArguments(
                output_dir=tmp,
                per_device_eval_batch_size=BATCH,
                report_to=[],
                disable_tqdm=True,
                use_cpu=True,
                dataloader_num_workers=0,
            )
            return transformers.Trainer(
                model=Model(), args=args, eval_dataset=Data(), compute_metrics=accuracy
            )

        cb = _timed(ConfusionCallback, ("_collect", "on_evaluate"))(K)
        plain, recorded = trainer(), cb.attach(trainer())
        spent = []

        def with_cb() -> None:
            cb.spent = 0.0
            recorded.evaluate()
            spent.append(cb.spent)

        base, with_ = _pairs(plain.evaluate, with_cb)
        return base, with_, min(spent)


def bench_keras(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Keras' validation epoch (``evaluate``), the callback's ``predict`` pass, its
    recording of that pass (the time ``on_epoch_end`` adds to ``predict``), and the
    time spent recording a validation through ``cb.metric()`` (no extra pass)."""
    import keras

    from confusion_widget.integrations.keras import ConfusionCallback

    def cnn(metrics=()):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(K),
            ]
        )
        model.compile(
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=list(metrics)
        )
        return model

    model = cnn()
    xk = x.transpose(0, 2, 3, 1).copy()
    cb = ConfusionCallback((xk, y), labels=K, batch_size=BATCH)
    cb.set_model(model)
    t_eval, t_predict = _pairs(
        lambda: model.evaluate(xk, y, batch_size=BATCH, verbose=0),
        lambda: model.predict(xk, batch_size=BATCH, verbose=0),
    )
    predicted = model.predict(xk, batch_size=BATCH, verbose=0)
    cb._predict = lambda: (predicted, y)  # the pass timed above; time the rest of on_epoch_end
    best = float("inf")
    for _ in range(PAIRS):
        t0 = time.perf_counter()
        cb.on_epoch_end(0)
        best = min(best, time.perf_counter() - t0)

    # fit's own validation recorded through the metric: time in the metric and on_test_end
    in_fit = _timed(ConfusionCallback, ("on_test_end",))(None, labels=K)
    metric = in_fit.metric()
    update = metric.update_state

    def timed_update(*args, **kwargs):
        t0 = time.perf_counter()
        update(*args, **kwargs)
        in_fit.spent += time.perf_counter() - t0

    metric.update_state = timed_update
    recorded = cnn([metric])
    spent = []
    for _ in range(PAIRS):
        in_fit.spent = 0.0
        recorded.evaluate(xk, y, batch_size=BATCH, verbose=0, callbacks=[in_fit])
        spent.append(in_fit.spent)
    return t_eval, t_predict, best, min(spent)


def main() -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    x, y = _data()
    rows, out = [], {}
    for name, bench in (("lightning", bench_lightning), ("transformers", bench_transformers)):
        base, with_cb, spent = bench(x, y)
        pct, spent_pct = 100 * (with_cb - base) / base, 100 * spent / base
        rows.append(
            (
                name,
                f"{base * 1e3:.0f}",
                f"{with_cb * 1e3:.0f}",
                f"{pct:+.1f}%",
                f"{spent * 1e3:.0f} ({spent_pct:.1f}%)",
            )
        )
        out[f"{name}_overhead_pct"], out[f"{name}_in_callback_pct"] = pct, spent_pct
    t_eval, t_predict, t_record, t_metric = bench_keras(x, y)
    pct, metric_pct = 100 * t_record / t_eval, 100 * t_metric / t_eval
    rows.append(
        ("keras: validation_data", f"{t_eval * 1e3:.0f}", "", "", f"{t_record * 1e3:.0f} ({pct:.1f}%)")
    )
    rows.append(
        ("keras: cb.metric()", f"{t_eval * 1e3:.0f}", "", "", f"{t_metric * 1e3:.0f} ({metric_pct:.1f}%)")
    )
    rows.append(
        ("keras: the predict pass", "", f"{t_predict * 1e3:.0f}", f"{t_predict / t_eval:.0%} of evaluate", "")
    )
    out["keras_in_callback_pct"], out["keras_predict_pct"] = pct, 100 * t_predict / t_eval
    out["keras_metric_pct"] = metric_pct
    print(f"Callbacks, tiny CNN, N = {len(y):,} validation samples, batches of {BATCH}, 1 thread")
    print(
        table(
            rows,
            (
                "framework",
                "validation epoch ms",
                "with callback ms",
                "end to end",
                "in the callback ms (% of epoch)",
            ),
        )
    )
    return out


if __name__ == "__main__":
    main()
