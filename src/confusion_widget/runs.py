"""``Run``: per-sample predictions of a single-label classifier over epochs — the cell
source of :meth:`ConfusionWidget.from_predictions`, of the recorder and of the run log.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._epoch_arrays import epoch_rows, float_row, probability_row, score_classes, split_epochs, stack_rows
from .counts import Coo, Counts
from .dynamics import Table, dynamics, suspects
from .images import image_source
from .matrix import (
    as_class_ids,
    check_class_ids,
    compact_counts,
    metric_rows,
    per_class_metrics,
    score_signals,
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
        p_true: Any = None,
        margin: Any = None,
    ) -> None:
        labels = validate_labels(labels, len(labels))
        preds = [as_class_ids(p, "y_pred") for p in epoch_rows(y_pred, "y_pred")]
        trues = [as_class_ids(t, "y_true") for t in epoch_rows(y_true, "y_true")]
        extra = [
            None if v is None else epoch_rows(v, name)
            for v, name in ((confidence, "confidence"), (p_true, "p_true"), (margin, "margin"))
        ]
        self._setup(labels, trues, preds, extra[0], sample_ids, name, epoch_labels, extra[1], extra[2])
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
        p_true: Sequence[Any] | None = None,
        margin: Sequence[Any] | None = None,
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
        for what, given in (("confidence", confs), ("p_true", p_true), ("margin", margin)):
            if given is not None and len(given) != e:
                raise ValueError(f"{what} has {len(given)} epochs but y_pred has {e}.")
        self._epoch_labels = None if epoch_labels is None else epoch_names(epoch_labels, e)
        # Nothing is made for what the user did not give: ids 0 … N-1 and unknown
        # (NaN) confidences come into being when first asked for.
        self._n = n
        self._ids = None if sample_ids is None else validate_sample_ids(sample_ids, n)
        self._nan: np.ndarray | None = None
        self._conf = [None if confs is None else probability_row(confs[i], n) for i in range(e)]
        self._p_true = [None if p_true is None else probability_row(p_true[i], n, "p_true") for i in range(e)]
        self._margin = [None if margin is None else float_row(margin[i], n, "margin") for i in range(e)]
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
        self._stacked: tuple[int, Any] = (0, None)  # _histories() of that many epochs
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
        preds = split_epochs(y_pred, "y_pred")
        trues = [as_class_ids(t, "y_true") for t in split_epochs(y_true, "y_true")]
        if len(trues) not in (1, len(preds)):
            raise ValueError(
                f"y_true has {len(trues)} epochs but y_pred has {len(preds)}; pass one y_true per "
                "epoch, or a single y_true shared by all epochs."
            )
        k = score_classes(preds, labels)
        classes, confs, p_true, margin = [], [], [], []
        for e, p in enumerate(preds):
            if p.ndim == 2:  # scores: the true class' probability and margin too
                truth = check_class_ids(trues[e if len(trues) > 1 else 0], k, "y_true")
                if len(truth) != len(p):
                    raise ValueError(
                        f"y_true has {len(truth)} labels but y_pred has {len(p)} rows of scores."
                    )
                c, cf, pt, mg = score_signals(p, truth, f"y_pred[{e}]" if len(preds) > 1 else "y_pred")
            elif p.ndim == 1:
                c, cf, pt, mg = as_class_ids(p, "y_pred"), None, None, None
            else:
                raise ValueError(f"y_pred must be (N,) class ids or (N, K) scores per epoch, got {p.shape}.")
            classes.append(c)
            confs.append(cf)
            p_true.append(pt)
            margin.append(mg)
        if confidence is not None:
            given = split_epochs(confidence, "confidence")
            if len(given) != len(preds):
                raise ValueError(
                    f"confidence has {len(given)} epochs but y_pred has {len(preds)}; pass one "
                    "array per epoch."
                )
            confs = [g.reshape(-1) if g.ndim == 2 and 1 in g.shape else g for g in given]
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
            p_true,
            margin,
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
        """``(E, 1, K, K)`` int64 counts (a ``ValueError`` from ``SPARSE_FROM``
        classes on: see :meth:`all_counts`)."""
        return self.all_counts().dense()

    def all_counts(self) -> Counts:
        """Every epoch's counts as held: dense below ``SPARSE_FROM`` classes, sparse above."""
        with self._lock:
            mats = list(self._matrices)
        return Counts([[m] for m in mats], self.n_classes)

    def counts(self, epoch: int) -> np.ndarray | Coo:
        """``(K, K)`` int64 counts of one epoch (negative counts from the end); a
        :class:`~confusion_widget.counts.Coo` from ``SPARSE_FROM`` classes on."""
        m = self._matrices[self._epoch(epoch)]
        return m if isinstance(m, Coo) else m.copy()

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

    def p_true(self, epoch: int) -> np.ndarray | None:
        """``(N,)`` probability of the true class at ``epoch``, ``None`` if not recorded."""
        return self._p_true[self._epoch(epoch)]

    def margin(self, epoch: int) -> np.ndarray | None:
        """``(N,)`` true class' score minus the largest other at ``epoch``, or ``None``."""
        return self._margin[self._epoch(epoch)]

    def dynamics(self, **thresholds: float) -> Table:
        """Per-sample training dynamics over the run's epochs (forgetting events,
        cartography, AUM …); see :mod:`confusion_widget.dynamics` for the columns and
        ``thresholds`` (``confidence_threshold``, ``variability_threshold``)."""
        y_true, y_pred, p_true, margin = self._histories()
        return dynamics(self.sample_ids(), y_true, y_pred, p_true, margin, **thresholds)

    def suspects(self, k: int = 50) -> Table:
        """The ``k`` samples whose label is most likely wrong, most suspect first; see
        :func:`confusion_widget.dynamics.suspects`."""
        y_true, y_pred, _, _ = self._histories()
        return suspects(self.dynamics(), y_true, y_pred, self.n_classes, k)

    def _histories(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(E, N)`` true and predicted classes, ``p_true`` and margins (``None`` if
        an epoch lacks them), stacked once per number of epochs."""
        with self._lock:
            e = len(self._matrices)
            if self._stacked[0] != e:
                stacks = (np.stack(self._y_true[:e]), np.stack(self._y_pred[:e]))
                self._stacked = (e, (*stacks, stack_rows(self._p_true[:e]), stack_rows(self._margin[:e])))
            return self._stacked[1]

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
    def append_epoch(
        self, y_true: Any, y_pred: Any, confidence: Any = None, p_true: Any = None, margin: Any = None
    ) -> None:
        """Add one epoch of predictions for the same samples (with, when known, the
        confidence of the prediction, the probability of the true class and the
        margin), then tell subscribers."""
        n, k = self.n_samples, self.n_classes
        yt, yp = as_class_ids(y_true, "y_true"), as_class_ids(y_pred, "y_pred")
        if len(yt) != n or len(yp) != n:
            raise ValueError(
                f"a new epoch must have the run's {n} samples; got {len(yt)} labels and "
                f"{len(yp)} predictions."
            )
        conf, pt, mg = (
            probability_row(confidence, n),
            probability_row(p_true, n, "p_true"),
            float_row(margin, n, "margin"),
        )
        yt, yp, counts = compact_counts(yt, yp, k)
        with self._lock:
            self._y_true.append(yt)
            self._y_pred.append(yp)
            self._conf.append(conf)
            self._p_true.append(pt)
            self._margin.append(mg)
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
