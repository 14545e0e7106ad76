"""``Run``: per-sample predictions of a single-label classifier over epochs — the cell
source of :meth:`ConfusionWidget.from_predictions`, of the recorder and of the run log.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._util import to_numpy
from .images import image_source
from .matrix import (
    as_class_ids,
    compact_counts,
    metric_rows,
    per_class_metrics,
    scores_to_predictions,
    validate_labels,
)
from .sources import (
    CellHits,
    CellIndex,
    CellSource,
    EpochCache,
    HasMetrics,
    HasSampleHistory,
    Subscribers,
    check_index,
    confidence_key,
    epoch_names,
    validate_sample_ids,
)

if TYPE_CHECKING:
    from .images import ImageProvider
    from .wire import HistoryEntry, MetricRow

__all__ = ["Run"]


class Run(CellSource, HasMetrics, HasSampleHistory):
    """Per-sample predictions of a single-label classifier, one row per epoch.

    Parameters
    ----------
    labels
        ``K`` class names.
    y_true
        ``(N,)`` true classes shared by all epochs, or ``(E, N)``.
    y_pred
        ``(E, N)`` predicted classes (a list of ``(N,)`` arrays works too).
    confidence
        ``(E, N)`` confidence of the predicted class, or ``None`` (unknown).
    sample_ids
        ``(N,)`` unique ids (ints or strings); ``0 … N-1`` when ``None``.
    images
        An :class:`~confusion_widget.images.ImageProvider` indexed by position.
    name
        A name for the run (used as a tile title when comparing).
    epoch_labels
        ``E`` names for the epochs (``"epoch 0"`` … when ``None``).

    Notes
    -----
    Arrays are stored compactly (int32 classes, float32 confidences): 9 bytes per
    sample per epoch. ``append_epoch`` lets a recorder grow the run while a widget
    shows it; subscribers are told after each append. A cell's samples are sorted
    the first time a cell of that epoch is asked for, not before.
    """

    def __init__(
        self,
        labels: Sequence[str],
        y_true: Any,
        y_pred: Any,
        confidence: Any = None,
        sample_ids: Any = None,
        images: ImageProvider | None = None,
        name: str = "",
        epoch_labels: Sequence[Any] | None = None,
    ) -> None:
        labels = validate_labels(labels, len(labels))
        preds = [as_class_ids(p, "y_pred") for p in _rows(y_pred, "y_pred")]
        trues = [as_class_ids(t, "y_true") for t in _rows(y_true, "y_true")]
        confs = None if confidence is None else _rows(confidence, "confidence")
        self._setup(labels, trues, preds, confs, sample_ids, name, epoch_labels)
        self.images = image_source(images, self.sample_ids()) if images is not None else None

    def _setup(
        self,
        labels: Sequence[str],
        trues: list[np.ndarray],
        preds: list[np.ndarray],
        confs: list[Any] | None,
        sample_ids: Any,
        name: str,
        epoch_labels: Sequence[Any] | None,
    ) -> None:
        """Store checked class ids (int64 ``(N,)`` per epoch); checks lengths."""
        self.labels = list(labels)
        self.name = str(name)
        self.tile_titles = [self.name]
        k, n, e = len(self.labels), len(preds[0]), len(preds)
        if len(trues) == 1:  # one truth for all epochs: stored once
            trues = trues * e
        if len(trues) != e:
            raise ValueError(
                f"y_true has {len(trues)} epochs but y_pred has {e}; pass one y_true per "
                "epoch, or a single y_true shared by all epochs."
            )
        for what, rows in (("y_pred", preds), ("y_true", trues)):
            for i, r in enumerate(rows):
                if len(r) != n:
                    raise ValueError(
                        f"{what} of epoch {i} has {len(r)} entries but y_pred of epoch 0 has {n}; "
                        "every epoch must hold the same samples, in the same order."
                    )
        if confs is not None and len(confs) != e:
            raise ValueError(f"confidence has {len(confs)} epochs but y_pred has {e}.")
        self._epoch_labels = None if epoch_labels is None else epoch_names(epoch_labels, e)
        # Nothing is made for what the user did not give: ids 0 … N-1 and unknown
        # (NaN) confidences come into being when first asked for.
        self._n = n
        self._ids = None if sample_ids is None else validate_sample_ids(sample_ids, n)
        self._nan: np.ndarray | None = None
        self._conf = [None if confs is None else _confidence(confs[i], n) for i in range(e)]
        self._y_true, self._y_pred, self._matrices = [], [], []
        compact: dict[int, np.ndarray] = {}  # one truth shared by the epochs: checked and stored once
        for t, p in zip(trues, preds):
            done = compact.get(id(t))
            yt, yp, m = compact_counts(t if done is None else done, p, k, true_checked=done is not None)
            compact[id(t)] = yt
            self._y_true.append(yt)
            self._y_pred.append(yp)
            self._matrices.append(m)
        self._index: EpochCache[int, CellIndex] = EpochCache()
        self._lock = threading.Lock()
        self._subscribers = Subscribers()

    # -- construction from predictions -------------------------------------------------
    @classmethod
    def from_predictions(
        cls,
        y_true: Any,
        y_pred: Any,
        labels: Sequence[Any] | None = None,
        images: Any = None,
        sample_ids: Any = None,
        *,
        confidence: Any = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        epoch_labels: Sequence[Any] | None = None,
        name: str = "",
    ) -> Run:
        """A run from one epoch of predictions (1-D arrays) or several (a list per epoch).

        Parameters
        ----------
        y_true
            ``(N,)`` true class indices, shared by all epochs, or a list with one
            ``(N,)`` array per epoch.
        y_pred
            ``(N,)`` predicted classes or ``(N, K)`` scores/logits/probabilities (the
            argmax — first maximum on ties — is the prediction and its probability
            the confidence; rows of probabilities summing to 1 are kept, anything
            else is softmaxed); a list of those, one per epoch, for several epochs.
            ``(N, 1)`` is a binary classifier's score for class 1: a probability if
            every value is in [0, 1], else a logit; class 1 when it is >= 0.5
            (logit >= 0).
        labels
            ``K`` class names (default: ``"0" … "K-1"``, ``K`` from the scores'
            columns, else the largest class id + 1).
        images
            One image per sample: an ``(N, H, W[, C])`` uint8 array, an
            ``(N, C, H, W)`` float tensor (with ``mean``/``std`` to undo
            normalisation), a list of PIL images or file paths, an indexable dataset,
            or a callable ``sample_id -> image``. Thumbnails are made on demand.
        sample_ids
            ``(N,)`` unique ids (default ``0 … N-1``), shown under thumbnails and
            returned by ``selected_samples``.
        confidence
            Per-sample confidence when ``y_pred`` holds class ids (one array per epoch).
        mean, std
            Per-channel normalisation to undo when making thumbnails of float images.
        epoch_labels
            One name per epoch (default ``"epoch 0"``, …).
        name
            A name for the run (a tile title when comparing runs).

        Raises
        ------
        ValueError
            For lengths that differ, class ids outside ``[0, K)`` (also a true class
            beyond the scores' columns), scores with NaN/inf, epochs whose scores have
            different numbers of columns, labels or epoch_labels of the wrong length.
        """
        preds = _split_epochs(y_pred, "y_pred")
        trues = _split_epochs(y_true, "y_true")
        k = _n_classes(preds, labels)
        classes, confs = [], []
        for e, p in enumerate(preds):
            if p.ndim == 2:
                c, cf = scores_to_predictions(p, f"y_pred[{e}]" if len(preds) > 1 else "y_pred")
            elif p.ndim == 1:
                c, cf = as_class_ids(p, "y_pred"), None
            else:
                raise ValueError(f"y_pred must be (N,) class ids or (N, K) scores per epoch, got {p.shape}.")
            classes.append(c)
            confs.append(cf)
        if confidence is not None:
            given = _split_epochs(confidence, "confidence")
            if len(given) != len(preds):
                raise ValueError(
                    f"confidence has {len(given)} epochs but y_pred has {len(preds)}; pass one "
                    "array per epoch."
                )
            confs = [g.reshape(-1) if g.ndim == 2 and 1 in g.shape else g for g in given]
        trues = [as_class_ids(t, "y_true") for t in trues]
        if k is None:  # negative ids are reported when counting
            k = max(0, *(int(a.max()) for a in (*trues, *classes))) + 1
        names = validate_labels(labels, k)
        run = cls.__new__(cls)
        run._setup(
            names,
            trues,
            classes,
            None if all(c is None for c in confs) else confs,
            sample_ids,
            name,
            epoch_labels,
        )
        run.images = (
            image_source(images, run.sample_ids(), mean=mean, std=std) if images is not None else None
        )
        return run

    @classmethod
    def from_store(cls, path: str | os.PathLike[str], run: str) -> Run:
        """A run read from a run log.

        Parameters
        ----------
        path
            The run log (opened read-only; it may be written by a training process).
        run
            The run's name in the log.
        """
        from .store import RunStore

        with RunStore(path, mode="r") as store:
            return store.load(run)

    # -- the cell-source protocol -------------------------------------------------------
    @property
    def n_epochs(self) -> int:
        return len(self._matrices)  # appended last: every other list already has the epoch

    @property
    def n_samples(self) -> int:
        return self._n

    @property
    def has_samples(self) -> bool:
        return self._n > 0

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def epoch_labels(self) -> list[str]:
        n, given = self.n_epochs, self._epoch_labels or []
        return [*given[:n], *(f"epoch {e}" for e in range(len(given), n))]

    def matrices(self) -> np.ndarray:
        """``(E, 1, K, K)`` int64 counts."""
        with self._lock:
            mats = list(self._matrices)
        return np.stack(mats)[:, None]

    def sample_ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = np.arange(self._n, dtype=np.int64)
        return self._ids

    def _epoch(self, epoch: int) -> int:
        return check_index(epoch, self.n_epochs, "epoch", negative=True)

    def y_true(self, epoch: int) -> np.ndarray:
        """``(N,)`` true classes at ``epoch`` (negative counts from the end)."""
        return self._y_true[self._epoch(epoch)]

    def y_pred(self, epoch: int) -> np.ndarray:
        """``(N,)`` predicted classes at ``epoch``."""
        return self._y_pred[self._epoch(epoch)]

    def confidence(self, epoch: int) -> np.ndarray:
        """``(N,)`` confidences at ``epoch`` (NaN: unknown)."""
        conf = self._conf[self._epoch(epoch)]
        if conf is not None:
            return conf
        if self._nan is None:
            self._nan = np.full(self._n, np.nan, dtype=np.float32)
            self._nan.flags.writeable = False
        return self._nan

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """Samples with true class ``row`` predicted as ``col``: most confident first
        (NaN last), then by position."""
        idx = self._index.get(epoch, lambda: self._build_index(epoch))
        pos = idx[row * self.n_classes + col]
        return CellHits(pos, self.confidence(epoch)[pos])

    def _build_index(self, epoch: int) -> CellIndex:
        code = self._y_true[epoch].astype(np.int64) * self.n_classes + self._y_pred[epoch]
        conf = self._conf[epoch]
        return CellIndex(code) if conf is None else CellIndex(code, confidence_key(conf))

    def metrics(self, epoch: int = -1) -> list[MetricRow]:
        """Per-class precision, recall, F1 and support at ``epoch`` (the last by default)."""
        return metric_rows(self.labels, **per_class_metrics(self._matrices[self._epoch(epoch)]))

    def sample_history(self, pos: int, title: str | None = None) -> list[HistoryEntry]:
        """One sample's true class, prediction and confidence at every epoch."""
        e = range(self.n_epochs)
        conf = [float(self.confidence(i)[pos]) for i in e]
        return [
            {
                "title": self.name if title is None else title,
                "epochs": self.epoch_labels,
                "true": [self.labels[self._y_true[i][pos]] for i in e],
                "pred": [self.labels[self._y_pred[i][pos]] for i in e],
                "confidence": [None if np.isnan(c) else c for c in conf],
            }
        ]

    # -- live growth -----------------------------------------------------------------
    def append_epoch(self, y_true: Any, y_pred: Any, confidence: Any = None) -> None:
        """Add one epoch of predictions for the same samples, then tell subscribers."""
        n, k = self.n_samples, self.n_classes
        yt, yp = as_class_ids(y_true, "y_true"), as_class_ids(y_pred, "y_pred")
        if len(yt) != n or len(yp) != n:
            raise ValueError(
                f"a new epoch must have the run's {n} samples; got {len(yt)} labels and "
                f"{len(yp)} predictions."
            )
        conf = None if confidence is None else _confidence(confidence, n)
        yt, yp, counts = compact_counts(yt, yp, k)
        with self._lock:
            self._y_true.append(yt)
            self._y_pred.append(yp)
            self._conf.append(conf)
            self._matrices.append(counts)  # last: n_epochs counts it
        self._subscribers.notify()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each appended epoch (held weakly for methods)."""
        self._subscribers.add(callback)

    def __repr__(self) -> str:
        return (
            f"Run(name={self.name!r}, epochs={self.n_epochs}, samples={self.n_samples}, "
            f"classes={self.n_classes})"
        )


def _confidence(values: Any, n: int) -> np.ndarray:
    """``(n,)`` float32 confidences in [0, 1] or NaN (unknown)."""
    if values is None:
        return np.full(n, np.nan, dtype=np.float32)
    conf = np.asarray(to_numpy(values, "confidence"), dtype=np.float32).reshape(-1)
    if len(conf) != n:
        raise ValueError(f"confidence has {len(conf)} values for {n} predictions.")
    if np.isinf(conf).any() or (conf < 0).any() or (conf > 1).any():
        raise ValueError("confidence must hold probabilities in [0, 1] (or NaN where unknown).")
    return conf


def _rows(x: Any, name: str) -> list[Any]:
    """``(E, N)`` data (or ``(N,)``, one epoch) as a list of per-epoch rows."""
    if isinstance(x, (list, tuple)) and x and all(np.ndim(r) == 1 for r in x):
        return list(x)
    arr = to_numpy(x, name)
    if arr.ndim == 1:
        return [arr]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (N,) or (E, N), got shape {arr.shape}.")
    return list(arr)


def _split_epochs(x: Any, name: str) -> list[np.ndarray]:
    """A list/tuple of per-epoch arrays (or lists), or one array → numpy arrays."""
    if isinstance(x, (list, tuple)) and x and np.ndim(x[0]) >= 1:
        return [to_numpy(v, f"{name}[{i}]") for i, v in enumerate(x)]
    arr = to_numpy(x, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; there is nothing to count.")
    return [arr]


def _n_classes(preds: list[np.ndarray], labels: Sequence[Any] | None) -> int | None:
    """``K`` from the labels and the scores' columns (``None``: infer from the ids)."""
    widths = {2 if p.shape[1] == 1 else p.shape[1] for p in preds if p.ndim == 2}
    if len(widths) > 1:
        raise ValueError(
            f"y_pred's scores have {sorted(widths)} columns in different epochs; every epoch "
            "must score the same classes."
        )
    k = len(labels) if labels is not None and not isinstance(labels, (str, bytes)) else None
    if widths:
        w = widths.pop()
        if k is not None and k != w:
            raise ValueError(
                f"y_pred scores have {w} columns but labels has {k} names; give one name per score column."
            )
        return w
    return k
