"""Per-sample records of a classifier over epochs, and the cell-source protocol.

The widget never looks at raw predictions: it asks a *cell source* for its matrices
and for the entries behind one cell. :class:`Run` is the source for single-label
classification; multi-label, detection and comparison views implement the same
protocol (see ``docs/architecture.md``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._util import to_numpy
from .images import ImageSource, image_source
from .matrix import check_class_ids, confusion_counts, per_class_metrics, scores_to_predictions, validate_labels

__all__ = ["CellHits", "CellSource", "LazyExtras", "Run", "Subscribers"]


@dataclass
class CellHits:
    """The entries behind one cell, in panel order (most confident first).

    Attributes
    ----------
    positions
        Sample positions (indices into ``sample_ids()``), ``(n,)`` int64.
    confidence
        ``(n,)`` float32, NaN where unknown.
    extra
        Optional per-entry JSON-able dicts (detection boxes, difference side…),
        aligned with ``positions``; ``None`` when there is nothing extra.
    """

    positions: np.ndarray
    confidence: np.ndarray
    extra: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.positions)


class LazyExtras(Sequence):
    """Per-entry ``extra`` dicts of a :class:`~confusion_widget.runs.CellHits`, made
    only for the entries that are looked at (the widget slices one page), so a cell
    of 100,000 entries costs nothing until shown.

    Parameters
    ----------
    n
        Number of entries.
    make
        ``make(i) -> dict`` for entry ``i`` of the cell.
    """

    def __init__(self, n: int, make: Callable[[int], dict[str, Any]]) -> None:
        self._n, self._make = int(n), make

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._make(j) for j in range(*i.indices(self._n))]
        j = int(i)
        if j < 0:
            j += self._n
        if not 0 <= j < self._n:
            raise IndexError(f"entry {i} is out of range [0, {self._n}).")
        return self._make(j)


class Subscribers:
    """Callbacks to run when a source changes; bound methods are held weakly, so a
    widget that is gone does not keep a run's listeners alive."""

    def __init__(self) -> None:
        self._refs: list[Any] = []

    def add(self, callback: Callable[[], None]) -> None:
        self._refs.append(weakref.WeakMethod(callback) if hasattr(callback, "__self__") else callback)

    def notify(self) -> None:
        alive = []
        for ref in self._refs:
            fn = ref() if isinstance(ref, weakref.WeakMethod) else ref
            if fn is not None:
                alive.append(ref)
                fn()
        self._refs = alive


@runtime_checkable
class CellSource(Protocol):
    """What the widget needs from a source of confusion matrices."""

    labels: list[str]
    tile_titles: list[str]
    images: ImageSource | None

    @property
    def n_epochs(self) -> int: ...

    def matrices(self) -> np.ndarray:
        """``(E, T, K, K)`` int64 counts (signed for difference views)."""
        ...

    def cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits: ...

    def sample_ids(self) -> np.ndarray: ...

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the source gains epochs (live runs)."""
        ...


@dataclass
class _EpochIndex:
    """Positions of one epoch's samples grouped by cell, panel order inside a cell."""

    order: np.ndarray  # positions sorted by (cell code, -confidence, position)
    starts: np.ndarray  # (K*K + 1,) offsets into ``order``


class Run:
    """Per-sample predictions of a single-label classifier, one row per epoch.

    Parameters
    ----------
    labels
        ``K`` class names.
    y_true
        ``(N,)`` true classes shared by all epochs, or ``(E, N)``.
    y_pred
        ``(E, N)`` predicted classes.
    confidence
        ``(E, N)`` confidence of the predicted class, or ``None`` (unknown).
    sample_ids
        ``(N,)`` unique ids (ints or strings); ``0 … N-1`` when ``None``.
    images
        An :class:`~confusion_widget.images.ImageSource` indexed by position.
    name
        A name for the run (used as a tile title when comparing).
    epoch_labels
        ``E`` names for the epochs (``"epoch 0"`` … when ``None``).

    Notes
    -----
    Arrays are stored compactly (int32 classes, float32 confidences): 9 bytes per
    sample per epoch. ``append_epoch`` lets a recorder grow the run while a widget
    shows it; subscribers are told after each append.
    """

    def __init__(
        self,
        labels: Sequence[str],
        y_true: Any,
        y_pred: Any,
        confidence: Any = None,
        sample_ids: Any = None,
        images: ImageSource | None = None,
        name: str = "",
        epoch_labels: Sequence[str] | None = None,
    ) -> None:
        self.labels = list(labels)
        self.name = name
        k = len(self.labels)
        preds = [check_class_ids(p, k, "y_pred") for p in _epoch_rows(y_pred)]
        n = len(preds[0])
        trues = [check_class_ids(t, k, "y_true") for t in _epoch_rows(y_true)]
        if len(trues) == 1:  # one truth for all epochs: stored once
            trues = trues * len(preds)
        if len(trues) != len(preds) or any(len(t) != n or len(p) != n for t, p in zip(trues, preds)):
            raise ValueError(
                f"y_true ({len(trues)} epochs) and y_pred ({len(preds)} epochs of {n}) do not match."
            )
        # counts from the int64 arrays (bincount's native index type), storage as int32
        self._matrices: list[np.ndarray] = [confusion_counts(t, p, k) for t, p in zip(trues, preds)]
        shared = {id(t): t.astype(np.int32) for t in trues}
        self._y_true = [shared[id(t)] for t in trues]
        self._y_pred = [p.astype(np.int32) for p in preds]
        shape = (len(preds), n)
        if confidence is None:
            conf = np.full(shape, np.nan, dtype=np.float32)
        else:
            conf = np.broadcast_to(np.asarray(confidence, dtype=np.float32), shape)
        self._conf = [np.ascontiguousarray(r) for r in conf]
        self._ids = _validate_sample_ids(sample_ids, n)
        self.images = images
        if images is not None and len(images) != n:
            raise ValueError(f"images has {len(images)} items but there are {n} samples.")
        self._epoch_labels = list(epoch_labels) if epoch_labels is not None else None
        self._index: dict[int, _EpochIndex] = {}
        self._lock = threading.Lock()
        self._subscribers = Subscribers()
        self.tile_titles = [name] if name else [""]

    # -- construction from predictions -------------------------------------------------
    @classmethod
    def from_predictions(
        cls,
        y_true: Any,
        y_pred: Any,
        labels: Sequence[Any] | None = None,
        sample_ids: Any = None,
        images: Any = None,
        name: str = "",
        epoch_labels: Sequence[str] | None = None,
        confidence: Any = None,
        image_options: dict[str, Any] | None = None,
    ) -> Run:
        """Build a run from one epoch (1-D arrays) or several (a list per epoch).

        ``y_pred`` may be class ids ``(N,)`` or scores/logits ``(N, K)`` per epoch;
        ``y_true`` may be one ``(N,)`` array shared by all epochs.
        """
        preds = _split_epochs(y_pred, "y_pred")
        trues = _split_epochs(y_true, "y_true")
        if len(trues) not in (1, len(preds)):
            raise ValueError(
                f"y_true has {len(trues)} epochs but y_pred has {len(preds)}; pass one "
                "y_true per epoch, or a single y_true shared by all epochs."
            )
        if confidence is not None:
            confs_in = _split_epochs(confidence, "confidence")
            if len(confs_in) != len(preds):
                raise ValueError("confidence needs one array per epoch of y_pred.")
        n_classes = len(labels) if labels is not None else None
        classes, confs = [], []
        for e, p in enumerate(preds):
            if p.ndim == 2:
                if n_classes is not None and p.shape[1] != n_classes:
                    raise ValueError(
                        f"y_pred scores have {p.shape[1]} columns but labels has "
                        f"{n_classes} names."
                    )
                c, cf = scores_to_predictions(p, "y_pred")
            elif p.ndim == 1:
                c = check_class_ids(p, n_classes, "y_pred")
                cf = np.full(len(c), np.nan, dtype=np.float32)
            else:
                raise ValueError(
                    f"y_pred must be (N,) class ids or (N, K) scores per epoch, got {p.shape}."
                )
            if confidence is not None:
                cf = np.asarray(confs_in[e], dtype=np.float32).reshape(-1)
                if len(cf) != len(c):
                    raise ValueError(f"confidence has {len(cf)} values for {len(c)} predictions.")
            classes.append(c)
            confs.append(cf)
        trues = [check_class_ids(t, n_classes, "y_true") for t in trues]
        n = len(classes[0])
        for e, c in enumerate(classes):
            if len(c) != n:
                raise ValueError(
                    f"epoch {e} has {len(c)} predictions but epoch 0 has {n}; every epoch "
                    "must evaluate the same samples (in the same order)."
                )
        for t in trues:
            if len(t) != n:
                raise ValueError(
                    f"y_true has {len(t)} labels but y_pred has {n} predictions; they must "
                    "have the same length."
                )
        if n_classes is None:
            n_classes = max(max(int(t.max()) for t in trues), max(int(c.max()) for c in classes)) + 1
            for p in preds:
                if p.ndim == 2:
                    n_classes = max(n_classes, p.shape[1])
        names = validate_labels(labels, n_classes)
        y_t = trues[0] if len(trues) == 1 else np.stack(trues)
        run = cls(names, y_t, classes, np.stack(confs), sample_ids, None, name, epoch_labels)
        run.images = image_source(images, run.sample_ids(), **(image_options or {}))
        return run

    # -- the cell-source protocol -------------------------------------------------------
    @property
    def n_epochs(self) -> int:
        return len(self._y_pred)

    @property
    def n_samples(self) -> int:
        return len(self._ids)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def epoch_labels(self) -> list[str]:
        if self._epoch_labels is not None and len(self._epoch_labels) == self.n_epochs:
            return list(self._epoch_labels)
        return [f"epoch {e}" for e in range(self.n_epochs)]

    def matrices(self) -> np.ndarray:
        """``(E, 1, K, K)`` int64 counts."""
        return np.stack(self._matrices)[:, None]

    def sample_ids(self) -> np.ndarray:
        return self._ids

    def y_true(self, epoch: int) -> np.ndarray:
        return self._y_true[epoch]

    def y_pred(self, epoch: int) -> np.ndarray:
        return self._y_pred[epoch]

    def confidence(self, epoch: int) -> np.ndarray:
        return self._conf[epoch]

    def cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """Samples with true class ``row`` predicted as ``col`` at ``epoch``.

        Ordered most confident first (NaN confidences last), then by position, so a
        cell's most confident mistakes lead the panel.
        """
        k = self.n_classes
        if not (0 <= epoch < self.n_epochs):
            raise ValueError(f"epoch {epoch} is out of range [0, {self.n_epochs}).")
        if tile != 0:
            raise ValueError(f"tile {tile} is out of range: a run has one tile.")
        if not (0 <= row < k and 0 <= col < k):
            raise ValueError(f"cell ({row}, {col}) is outside the {k}×{k} matrix.")
        idx = self._epoch_index(epoch)
        code = row * k + col
        pos = idx.order[idx.starts[code] : idx.starts[code + 1]]
        return CellHits(pos, self._conf[epoch][pos])

    def _epoch_index(self, epoch: int) -> _EpochIndex:
        with self._lock:
            idx = self._index.get(epoch)
            if idx is None:
                k = self.n_classes
                code = self._y_true[epoch].astype(np.int64) * k + self._y_pred[epoch]
                conf = self._conf[epoch]
                key = np.where(np.isnan(conf), np.inf, -conf)  # NaN last
                order = np.lexsort((key, code))
                starts = np.searchsorted(code[order], np.arange(k * k + 1))
                idx = _EpochIndex(order, starts)
                self._index[epoch] = idx
            return idx

    def metrics(self, epoch: int = -1) -> list[dict[str, Any]]:
        """Per-class precision, recall, F1 and support at ``epoch`` (the last by default)."""
        m = per_class_metrics(self._matrices[epoch])
        return [
            {"label": name, "precision": float(m["precision"][i]), "recall": float(m["recall"][i]),
             "f1": float(m["f1"][i]), "support": int(m["support"][i])}
            for i, name in enumerate(self.labels)
        ]

    def sample_history(self, pos: int, title: str | None = None) -> list[dict[str, Any]]:
        """One sample's true class, prediction and confidence at every epoch."""
        conf = [float(self._conf[e][pos]) for e in range(self.n_epochs)]
        return [{
            "title": self.name if title is None else title,
            "epochs": self.epoch_labels,
            "true": [self.labels[self._y_true[e][pos]] for e in range(self.n_epochs)],
            "pred": [self.labels[self._y_pred[e][pos]] for e in range(self.n_epochs)],
            "confidence": [None if np.isnan(c) else c for c in conf],
        }]

    # -- live growth -----------------------------------------------------------------
    def append_epoch(self, y_true: Any, y_pred: Any, confidence: Any = None) -> None:
        """Add one epoch of predictions for the same samples, then tell subscribers."""
        n, k = self.n_samples, self.n_classes
        yt = check_class_ids(y_true, k, "y_true")
        yp = check_class_ids(y_pred, k, "y_pred")
        if len(yt) != n or len(yp) != n:
            raise ValueError(
                f"a new epoch must have the run's {n} samples; got {len(yt)} labels and "
                f"{len(yp)} predictions."
            )
        conf = (
            np.full(n, np.nan, dtype=np.float32)
            if confidence is None
            else np.asarray(to_numpy(confidence, "confidence"), dtype=np.float32).reshape(n)
        )
        with self._lock:
            self._y_true.append(yt.astype(np.int32))
            self._y_pred.append(yp.astype(np.int32))
            self._conf.append(conf)
            self._matrices.append(confusion_counts(yt, yp, k))
        self._subscribers.notify()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each appended epoch (held weakly for methods)."""
        self._subscribers.add(callback)

    def __repr__(self) -> str:
        return (
            f"Run(name={self.name!r}, epochs={self.n_epochs}, samples={self.n_samples}, "
            f"classes={self.n_classes})"
        )


def _epoch_rows(x: Any) -> list[Any]:
    """``(E, N)`` data as a list of per-epoch rows (a list of arrays stays a list)."""
    if isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape") and np.ndim(x[0]) == 1:
        return list(x)
    arr = np.atleast_2d(np.asarray(x))
    if arr.ndim != 2:
        raise ValueError(f"predictions must be (E, N), got shape {arr.shape}.")
    return list(arr)


def _split_epochs(x: Any, name: str) -> list[np.ndarray]:
    """A list/tuple of per-epoch arrays, or one array → list of numpy arrays."""
    if isinstance(x, (list, tuple)) and x and not np.isscalar(x[0]):
        first = x[0]
        if hasattr(first, "__len__") or hasattr(first, "shape"):
            return [to_numpy(v, f"{name}[{i}]") for i, v in enumerate(x)]
    arr = to_numpy(x, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; there is nothing to count.")
    return [arr]


def _validate_sample_ids(sample_ids: Any, n: int) -> np.ndarray:
    if sample_ids is None:
        return np.arange(n, dtype=np.int64)
    if hasattr(sample_ids, "detach"):
        sample_ids = to_numpy(sample_ids, "sample_ids")
    ids = np.asarray(sample_ids)
    if ids.ndim != 1 or len(ids) != n:
        raise ValueError(f"sample_ids must be 1-D with one id per sample ({n}); got shape {ids.shape}.")
    if ids.dtype.kind in "iu":
        ids = ids.astype(np.int64)
    elif ids.dtype.kind in "US":
        ids = ids.astype(str).astype(object)
    elif ids.dtype.kind == "O":
        if not all(isinstance(v, (str, int, np.integer)) for v in ids):
            raise TypeError("sample_ids must be integers or strings.")
    else:
        raise TypeError(f"sample_ids must be integers or strings, got dtype {ids.dtype}.")
    if ids.dtype == object:
        dup = len(set(ids.tolist())) != n
    else:  # sort + neighbours: far faster than np.unique's hashing here
        s = np.sort(ids)
        dup = bool((s[1:] == s[:-1]).any())
    if dup:
        raise ValueError("sample_ids contains duplicates; every sample needs a unique id.")
    return ids
