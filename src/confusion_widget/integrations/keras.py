"""``ConfusionCallback`` for Keras 3 (any backend): predicts the given validation
data at the end of each epoch, or records ``fit``'s own validation through a
metric, into a :class:`~confusion_widget.ConfusionRecorder`.

Importing this module imports Keras (``pip install confusion-widget[keras]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from confusion_widget._util import to_numpy
from confusion_widget.integrations._common import LOGIT_KEYS, Batches, RecorderHolder, pick, require

_keras = require(("keras",), "keras")

__all__ = ["ConfusionCallback"]


def _host(x: Any, name: str) -> np.ndarray:
    """A backend tensor (torch, jax, tensorflow) or array → a numpy array."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy") and not hasattr(x, "detach"):  # tensorflow
        return np.asarray(x.numpy())
    return to_numpy(x, name)


def _targets(y: Any, k: int) -> np.ndarray:
    """True class ids from ``(N,)`` ids, ``(N, 1)`` ids or ``(N, K)`` one-hot rows."""
    y = _host(y, "validation_data's y")
    if y.ndim == 2 and y.shape[1] == k and k > 1:
        return y.argmax(axis=1)  # one-hot (categorical_crossentropy targets)
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"validation_data's y must be (N,) class ids or (N, {k}) one-hot rows, got shape {y.shape}."
        )
    return y


_Callback: Any = _keras.callbacks.Callback  # the framework's callback base class


class ConfusionCallback(RecorderHolder, _Callback):
    """Record a confusion matrix of ``validation_data`` at the end of every epoch of
    ``model.fit``.

    Keras hands callbacks metrics, not predictions, so there are two ways:

    - ``validation_data`` given here: at each epoch end the callback predicts it
      once (the training data is not passed over again), on any backend.
    - ``validation_data=None`` and ``cb.metric()`` among ``model.compile``'s
      metrics: the callback records the predictions of ``fit``'s own validation
      (``fit(..., validation_data=...)`` or ``validation_split``), batch by batch,
      with no extra pass. This needs eager metrics: the torch backend, or
      ``compile(run_eagerly=True)``.

    Either way each validation is one epoch of a
    :class:`~confusion_widget.ConfusionRecorder`: the same run, run log and live
    widget as a hand-written loop.

    Parameters
    ----------
    validation_data
        ``(x, y)``: inputs (anything ``model.predict`` takes) and ``(N,)`` true class
        ids (or ``(N, K)`` one-hot rows); or an iterable of ``(x, y)`` batches in a
        fixed order (a ``keras.utils.PyDataset``, a ``tf.data.Dataset``, a torch
        ``DataLoader`` without shuffling), predicted batch by batch. ``None``: record
        ``fit``'s own validation through :meth:`metric`.
    labels
        ``K`` class names, or the number of classes.
    sample_ids
        Optional ``(N,)`` unique ids of the validation samples, in the order of
        the validation data (default: ``0 … N - 1``).
    store
        Optional run log (a path, or a ``RunStore`` open in mode ``"a"``).
    run
        The run's name in the log (default: ``"run-<date>-<time>"``).
    extract
        ``extract(predictions) -> logits`` for a model whose ``predict`` returns
        several outputs (a dict or list); by default a dict's ``"logits"`` entry.
    batch_size
        Batch size of the prediction (default: Keras' 32).
    **options
        Further :class:`~confusion_widget.ConfusionRecorder` options: ``images``,
        ``params``, ``if_exists``, ``mean``, ``std``.

    Notes
    -----
    Given ``validation_data``, the callback's prediction costs one inference pass
    over it per epoch, like Keras' own validation (which computes the loss and
    metrics only): leave ``validation_data`` out of ``fit`` to make it the only one.
    With :meth:`metric` there is no extra pass: the metric sees the predictions of
    ``fit``'s validation batch by batch (on their device), in the order of the
    validation data, which ``fit`` does not shuffle. Its value in the logs is the
    accuracy; a model saved with it compiled in needs ``compile=False`` (or the
    metric as a custom object) to load. A final ``softmax`` layer is fine:
    probabilities are recognised as such.

    Examples
    --------
    >>> cb = ConfusionCallback((x_val, y_val), labels=10, store="runs.db")  # doctest: +SKIP
    >>> model.fit(x_train, y_train, epochs=3, callbacks=[cb])  # doctest: +SKIP
    >>> cb.widget()  # doctest: +SKIP

    Recording ``fit``'s own validation instead (no extra pass):

    >>> cb = ConfusionCallback(None, labels=10)  # doctest: +SKIP
    >>> model.compile(loss=..., metrics=[cb.metric()])  # doctest: +SKIP
    >>> model.fit(x_train, y_train, validation_data=(x_val, y_val), callbacks=[cb])  # doctest: +SKIP
    """

    def __init__(
        self,
        validation_data: Any,
        labels: Sequence[Any] | int,
        sample_ids: Any = None,
        store: Any = None,
        run: str | None = None,
        extract: Callable[[Any], Any] | None = None,
        batch_size: int | None = None,
        **options: Any,
    ) -> None:
        RecorderHolder.__init__(self, labels, store=store, run=run, extract=extract, options=options)
        _Callback.__init__(self)
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise ValueError(f"batch_size must be an int >= 1 or None, got {batch_size!r}.")
        self._arrays = isinstance(validation_data, (tuple, list))
        self._in_fit = validation_data is None  # record fit's validation via metric()
        self._metric: Any = None
        self._held = Batches()
        self._testing = False
        self._seen = 0  # samples of the current validation
        self._recorded = 0  # validations recorded in this fit
        if self._arrays:
            if len(validation_data) != 2:
                raise ValueError(
                    f"validation_data must be (x, y), got a {type(validation_data).__name__} of "
                    f"{len(validation_data)} items; pass sample ids as sample_ids=."
                )
            x, y = validation_data
            self._y = _targets(y, len(self._labels))
            n = len(self._y)
            first = next(iter(x.values())) if isinstance(x, Mapping) else x
            if len(first) != n:
                raise ValueError(f"validation_data has {len(first)} inputs but {n} targets.")
            self._x = x
        elif not self._in_fit and not hasattr(validation_data, "__iter__"):
            raise TypeError(
                "validation_data must be (x, y), an iterable of (x, y) batches or None, got "
                f"{type(validation_data).__name__}."
            )
        self._data = validation_data
        self._ids = None if sample_ids is None else _host(sample_ids, "sample_ids").reshape(-1)
        if self._ids is not None and self._arrays and len(self._ids) != len(self._y):
            raise ValueError(f"sample_ids has {len(self._ids)} ids for {len(self._y)} samples.")
        self.batch_size = batch_size

    def metric(self, name: str = "confusion_accuracy") -> Any:
        """A Keras metric to put in ``model.compile(metrics=[...])`` when this callback
        was made with ``validation_data=None``: during ``fit``'s validation it hands
        each batch's predictions to the callback. Its value is the accuracy."""
        if not self._in_fit:
            raise ValueError(
                "metric() records fit's own validation: make the callback with "
                "validation_data=None (this one predicts its validation_data itself)."
            )
        if self._metric is None:
            self._metric = _RecordingMetric(self, name=name)
        return self._metric

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Make the recorder (a run already in the log fails now, not after an
        epoch) and check that ``fit``'s validation can be recorded (eager metrics)."""
        self.recorder  # noqa: B018
        self._recorded = 0
        if self._in_fit and _keras.backend.backend() != "torch" and not self.model.run_eagerly:
            raise ValueError(
                f"recording fit's validation needs eager metrics: on the {_keras.backend.backend()} "
                "backend compile with run_eagerly=True, or give the callback validation_data."
            )

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        """``fit``'s validation starts."""
        self._testing, self._seen = self._in_fit, 0
        self._held.clear()

    def _record_batch(self, y_true: Any, y_pred: Any) -> None:
        """One validation batch, from :meth:`metric` (device tensors, no host copy)."""
        ops, k = _keras.ops, len(self._labels)
        logits = self._logits(y_pred)
        shape = tuple(y_true.shape)
        if len(shape) == 2 and shape[1] == k and k > 1:
            y_true = ops.argmax(y_true, axis=1)  # one-hot rows
        elif len(shape) == 2 and shape[1] == 1:
            y_true = ops.reshape(y_true, (-1,))
        y_true = ops.cast(y_true, "int64")
        b = int(y_true.shape[0])
        ids = None
        if self._ids is not None:
            ids = self._ids[self._seen : self._seen + b]
            if len(ids) != b:
                raise ValueError(
                    f"sample_ids has {len(self._ids)} ids but fit's validation has more samples."
                )
        self._held.add(self.recorder, logits, y_true, ids)
        self._seen += b

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        """Record ``fit``'s validation as one epoch."""
        if not self._testing:
            return
        self._testing = False
        if not self._seen:
            raise ValueError(
                "fit's validation ran but no predictions reached ConfusionCallback: add "
                "cb.metric() to model.compile(metrics=[...])."
            )
        if self._ids is not None and self._seen != len(self._ids):
            raise ValueError(f"sample_ids has {len(self._ids)} ids for {self._seen} validation samples.")
        self._held.flush(self.recorder)
        self.recorder.end_epoch()
        self._recorded += 1

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Say so when nothing could be recorded."""
        if self._in_fit and not self._recorded:
            raise ValueError(
                "ConfusionCallback(validation_data=None) recorded nothing: fit ran no "
                "validation; pass validation_data (or validation_split) to fit, or to the callback."
            )

    def _logits(self, predictions: Any) -> Any:
        if self.extract is not None:
            return self.extract(predictions)
        if isinstance(predictions, (Mapping, list, tuple)):
            return pick(
                dict(predictions) if isinstance(predictions, Mapping) else dict(enumerate(predictions)),
                LOGIT_KEYS,
                "logits",
                "model.predict",
                "lambda predictions: predictions[<the classifier's output>]",
            )
        return predictions

    def _predict(self) -> tuple[np.ndarray, np.ndarray]:
        """``(N, K)`` predictions and ``(N,)`` targets of the validation data."""
        if self._arrays:
            out = self.model.predict(self._x, batch_size=self.batch_size, verbose=0)
            return _host(self._logits(out), "predictions"), self._y
        outs, ys = [], []
        for batch in self._data:
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise ValueError(
                    "each batch of validation_data must be (x, y), got "
                    f"{type(batch).__name__}{f' of {len(batch)}' if hasattr(batch, '__len__') else ''}."
                )
            outs.append(_host(self._logits(self.model.predict_on_batch(batch[0])), "predictions"))
            ys.append(_targets(batch[1], len(self._labels)))
        if not outs:
            raise ValueError("validation_data gave no batches.")
        return np.concatenate(outs), np.concatenate(ys)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Predict the validation data and record it as one epoch (unless recording
        ``fit``'s own validation)."""
        if self._in_fit:
            return
        logits, y = self._predict()
        if self._ids is not None and len(self._ids) != len(y):
            raise ValueError(f"sample_ids has {len(self._ids)} ids for {len(y)} validation samples.")
        rec = self.recorder
        rec.update(logits, y, sample_ids=self._ids)
        rec.end_epoch()


_Metric: Any = _keras.metrics.Metric


class _RecordingMetric(_Metric):
    """Accuracy that also hands ``fit``'s validation batches to a ``ConfusionCallback``."""

    def __init__(self, owner: ConfusionCallback, name: str = "confusion_accuracy") -> None:
        super().__init__(name=name)
        self._owner = owner
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        ops, owner = _keras.ops, self._owner
        if owner._testing:
            owner._record_batch(y_true, y_pred)
        logits = owner._logits(y_pred)
        if len(y_true.shape) == 2 and y_true.shape[1] > 1:
            y_true = ops.argmax(y_true, axis=1)
        hits = ops.cast(
            ops.equal(ops.argmax(logits, axis=-1), ops.cast(ops.reshape(y_true, (-1,)), "int64")), "float32"
        )
        self.correct.assign_add(ops.sum(hits))
        self.total.assign_add(ops.cast(ops.shape(hits)[0], "float32"))

    def result(self) -> Any:
        return _keras.ops.divide_no_nan(self.correct, self.total)

    def reset_state(self) -> None:
        self.correct.assign(0.0)
        self.total.assign(0.0)
