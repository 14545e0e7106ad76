"""``ConfusionCallback`` for the Hugging Face ``Trainer``: records every evaluation
from the predictions the ``Trainer`` already computes, into a
:class:`~confusion_widget.ConfusionRecorder`.

Importing this module imports transformers (``pip install confusion-widget[transformers]``).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from confusion_widget.integrations._common import Batches, RecorderHolder, check_extracted, require

_tf = require(("transformers",), "transformers")

__all__ = ["ConfusionCallback"]

_HOW = "lambda predictions, label_ids: (logits, targets)"


def _shape(x: Any) -> str:
    return str(tuple(x.shape)) if hasattr(x, "shape") else type(x).__name__


def _column(dataset: Any, column: str) -> np.ndarray | None:
    """The values of ``column`` in ``dataset``, in index order, or ``None`` when the
    dataset has no such column (a ``datasets.Dataset`` reads the column; other
    datasets are read item by item, once per dataset)."""
    names = getattr(dataset, "column_names", None)
    if isinstance(names, (list, tuple)):
        return np.asarray(list(dataset[column])) if column in names else None
    if not hasattr(dataset, "__len__") or not len(dataset):
        return None
    first = dataset[0]
    if not isinstance(first, Mapping) or column not in first:
        return None
    return np.asarray([dataset[i][column] for i in range(len(dataset))])


def _column_names(dataset: Any) -> list[str]:
    names = getattr(dataset, "column_names", None)
    if isinstance(names, (list, tuple)):
        return [str(n) for n in names]
    try:
        first = dataset[0]
    except Exception:
        return []
    return [str(k) for k in first] if isinstance(first, Mapping) else []


_Callback: Any = _tf.TrainerCallback  # the framework's callback base class


class ConfusionCallback(RecorderHolder, _Callback):
    """Record a confusion matrix at every evaluation of a Hugging Face ``Trainer``,
    from the predictions the ``Trainer`` already computed (no second evaluation pass).

    A ``TrainerCallback`` is not shown predictions (``on_prediction_step`` gets no
    logits, ``on_evaluate`` only metrics), but ``compute_metrics`` is: the callback
    wraps it (:meth:`attach`, or ``compute_metrics=cb.compute_metrics(fn)``), holds
    the predictions it sees, and records them as one epoch of a
    :class:`~confusion_widget.ConfusionRecorder` in ``on_evaluate`` — the same run,
    run log and live widget as a hand-written loop. Predictions of
    ``trainer.predict(...)`` are not recorded.

    Parameters
    ----------
    labels
        ``K`` class names, or the number of classes.
    sample_id_column
        Optional name of a column (a ``datasets.Dataset`` column, or a key of the
        dicts a torch dataset returns) whose values are the evaluated samples' ids.
        Default: their positions ``0 … N - 1`` in the evaluation dataset.
    store
        Optional run log (a path, or a ``RunStore`` open in mode ``"a"``).
    run
        The run's name in the log (default: ``"run-<date>-<time>"``).
    extract
        ``extract(predictions, label_ids) -> (logits, targets)`` for models whose
        predictions or labels are not one array each. By default the first of
        several outputs (the ``Trainer`` orders them as the model's output, without
        the loss) is the logits.
    metric_key_prefix
        The evaluations recorded: those whose metrics carry this prefix (``"eval"``
        for ``trainer.evaluate()``; ``"eval_<name>"`` for one of a dict of
        evaluation datasets). Others are ignored.
    **options
        Further :class:`~confusion_widget.ConfusionRecorder` options: ``images``,
        ``params``, ``if_exists``, ``mean``, ``std``.

    Notes
    -----
    *Mechanism and limits.* Predictions are read from ``compute_metrics``; so the
    ``Trainer`` must have one (:meth:`attach` installs one when it has none) and
    ``prediction_loss_only`` must be off. With ``batch_eval_metrics=True`` each
    batch's (device) logits are handed over as they are computed; otherwise the
    ``Trainer`` has concatenated them on the host (as for any ``compute_metrics``).
    ``preprocess_logits_for_metrics`` applies first: if it reduces logits to class
    ids, the recorded confidence is unknown. Under DDP the ``Trainer`` already
    gathers the predictions on every rank (in dataset order), and every rank's
    recorder sees the whole evaluation set; rank 0 writes the log.

    Examples
    --------
    >>> cb = ConfusionCallback(labels=10, store="runs.db", sample_id_column="id")  # doctest: +SKIP
    >>> trainer = cb.attach(Trainer(model, args, train_dataset=train, eval_dataset=val))  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    >>> cb.widget()  # doctest: +SKIP
    """

    def __init__(
        self,
        labels: Sequence[Any] | int,
        sample_id_column: str | None = None,
        store: Any = None,
        run: str | None = None,
        extract: Callable[[Any, Any], tuple[Any, Any]] | None = None,
        metric_key_prefix: str = "eval",
        **options: Any,
    ) -> None:
        RecorderHolder.__init__(self, labels, store=store, run=run, extract=extract, options=options)
        if sample_id_column is not None and not isinstance(sample_id_column, str):
            raise TypeError(
                f"sample_id_column must be a column name (str), got {type(sample_id_column).__name__}."
            )
        if not isinstance(metric_key_prefix, str) or not metric_key_prefix:
            raise ValueError(f"metric_key_prefix must be a non-empty str, got {metric_key_prefix!r}.")
        self.sample_id_column = sample_id_column
        self.metric_key_prefix = metric_key_prefix
        self._pending: list[tuple[Any, Any]] = []
        self._trainer: Any = None
        self._ids_of: tuple[Any, np.ndarray] | None = None  # (dataset, its id column)

    # -- wiring ---------------------------------------------------------------------
    def attach(self, trainer: Any) -> Any:
        """Add this callback to ``trainer`` and wrap its ``compute_metrics`` (installing
        one that computes nothing when it has none). Returns ``trainer``."""
        if not isinstance(trainer, _tf.Trainer):
            raise TypeError(f"attach needs a transformers Trainer, got {type(trainer).__name__}.")
        fn = trainer.compute_metrics
        if getattr(fn, "_confusion_callback", None) is not self:
            trainer.compute_metrics = self.compute_metrics(fn)
        if self not in trainer.callback_handler.callbacks:
            trainer.add_callback(self)
        self._trainer = trainer
        return trainer

    def compute_metrics(
        self, fn: Callable[..., dict[str, Any]] | None = None
    ) -> Callable[..., dict[str, Any]]:
        """A ``compute_metrics`` for the ``Trainer`` that hands the predictions to this
        callback, then returns ``fn(eval_prediction)`` (``{}`` without ``fn``).

        ``fn`` keeps its ``compute_result`` argument under ``batch_eval_metrics``.
        """
        if fn is not None and not callable(fn):
            raise TypeError(f"fn must be a compute_metrics callable or None, got {type(fn).__name__}.")
        takes_result = fn is not None and "compute_result" in inspect.signature(fn).parameters

        def compute_metrics(eval_pred: Any, compute_result: bool | None = None) -> dict[str, Any]:
            self._collect(eval_pred.predictions, eval_pred.label_ids)
            if fn is None:
                return {}
            if compute_result is None:
                return fn(eval_pred)
            if not takes_result:
                raise ValueError(
                    "with batch_eval_metrics=True, your compute_metrics must take a "
                    "`compute_result` argument (a bool: the last batch of the evaluation)."
                )
            return fn(eval_pred, compute_result=compute_result)

        compute_metrics._confusion_callback = self  # type: ignore[attr-defined]
        return compute_metrics

    def _collect(self, predictions: Any, label_ids: Any) -> None:
        """Hold one evaluation's (or, per batch, one batch's) logits and targets."""
        if self.extract is not None:
            logits, targets, _ = check_extracted(self.extract(predictions, label_ids), 3, "(logits, targets)")
            self._pending.append((logits, targets))
            return
        if label_ids is None:
            raise ValueError(
                "the Trainer computed no label_ids: the evaluation batches lack the model's "
                "label field (TrainingArguments' label_names; 'labels' by default)."
            )
        if isinstance(predictions, list) and isinstance(label_ids, list):
            # eval_do_concat_batches=False: one array per batch
            for p, t in zip(predictions, label_ids):
                self._collect(p, t)
            return
        if isinstance(predictions, (tuple, list)):
            if not predictions:
                raise ValueError(f"the Trainer's predictions are empty; pass extract={_HOW}.")
            first = predictions[0]
            if not hasattr(first, "shape") or len(first.shape) not in (1, 2):
                shapes = ", ".join(_shape(p) for p in predictions)
                raise ValueError(
                    f"the model's outputs other than the loss are ({shapes}): the first is not "
                    f"(B, K) logits; pass extract={_HOW}."
                )
            predictions = first
        if isinstance(label_ids, (tuple, list)):
            raise ValueError(
                f"the Trainer gave {len(label_ids)} label arrays ({', '.join(_shape(t) for t in label_ids)}); "
                f"pass extract={_HOW}."
            )
        self._pending.append((predictions, label_ids))

    # -- events ---------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Make the recorder (a run already in the log fails now, not after an epoch)."""
        self.recorder  # noqa: B018

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
        """Record the evaluation just made as one epoch."""
        pending, self._pending = self._pending, []
        if f"{self.metric_key_prefix}_runtime" not in (metrics or {}):
            return  # another evaluation set (or prefix) than the one recorded
        if not pending:
            raise ValueError(
                "the evaluation's predictions never reached ConfusionCallback: call "
                "cb.attach(trainer), or pass compute_metrics=cb.compute_metrics(your_fn) to the "
                "Trainer, and keep prediction_loss_only=False."
            )
        n = sum(len(t) for _, t in pending)
        ids = self._sample_ids(kwargs.get("eval_dataloader"), n)
        rec, held, start = self.recorder, Batches(), 0
        for logits, targets in pending:
            b = len(targets)
            held.add(rec, logits, targets, ids[start : start + b])
            start += b
        held.flush(rec)
        rec.end_epoch()

    def on_predict(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
        """Drop ``trainer.predict``'s predictions: they are not an evaluation."""
        self._pending = []

    def _sample_ids(self, dataloader: Any, n: int) -> np.ndarray:
        """The ids of the ``n`` evaluated samples, in evaluation order (the ``Trainer``
        evaluates with a sequential sampler and gathers ranks in dataset order)."""
        column = self.sample_id_column
        if column is None:
            return np.arange(n, dtype=np.int64)
        candidates = [getattr(dataloader, "dataset", None)]
        if self._trainer is not None:
            candidates.append(self._trainer.eval_dataset)
        for dataset in candidates:
            if dataset is None or isinstance(dataset, Mapping):
                continue
            if self._ids_of is not None and self._ids_of[0] is dataset:
                ids = self._ids_of[1]
            else:
                found = _column(dataset, column)
                if found is None:
                    continue
                ids = found
                self._ids_of = (dataset, ids)
            if len(ids) != n:
                raise ValueError(
                    f"sample_id_column {column!r} has {len(ids)} values but the evaluation "
                    f"made {n} predictions."
                )
            return ids
        names = next((_column_names(d) for d in candidates if d is not None), [])
        close = difflib.get_close_matches(column, names, n=3)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"sample_id_column {column!r} is not a column of the evaluation dataset "
            f"(columns: {names}).{hint} A datasets.Dataset loses columns the model does not "
            "take: use cb.attach(trainer) (it reads trainer.eval_dataset) or "
            "remove_unused_columns=False."
        )
