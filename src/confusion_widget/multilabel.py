"""Multi-label predictions as a cell source: the MLCM (one ``(L+1)×(L+1)`` tile) or
per-label 2×2 tiles, re-thresholdable, with the samples behind every cell. The
counting rules are in :mod:`confusion_widget.mlcm`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._util import to_numpy
from .images import ImageProvider, image_source
from .matrix import validate_labels
from .mlcm import (
    MODES,
    NO_LABEL,
    PER_LABEL_CLASSES,
    _binary,
    _check_threshold,
    _mlcm,
    _mlcm_entries,
    _per_label,
    _scores,
    mlcm_metrics,
    per_label_metrics,
)
from .sources import (
    CellHits,
    CellIndex,
    CellSource,
    EpochCache,
    HasMetrics,
    LazyExtras,
    Subscribers,
    Thresholded,
    check_index,
    confidence_key,
    epoch_names,
    validate_sample_ids,
)

if TYPE_CHECKING:
    from .wire import MetricRow

__all__ = ["MultiLabelSource", "multilabel_source"]


class MultiLabelSource(CellSource, HasMetrics, Thresholded):
    """A cell source for multi-label predictions (MLCM or per-label 2×2 tiles).

    Build it with :func:`multilabel_source`.

    Attributes
    ----------
    mode
        ``"mlcm"`` or ``"per_label"``.
    labels
        MLCM: the ``L`` label names then :data:`NO_LABEL`; per-label:
        ``["absent", "present"]``.
    label_names
        The ``L`` label names.
    tile_titles
        ``[""]`` (MLCM) or the ``L`` label names (one 2×2 tile per label).
    threshold
        The score threshold (a label is predicted when its score is ``>=``
        ``threshold``), or ``None`` when ``y_pred`` held 0/1 predictions, which
        cannot be re-thresholded.
    images
        An :class:`~confusion_widget.images.ImageProvider`, or ``None``.

    Notes
    -----
    Panel order inside a cell is most confident first, then by position; the
    confidence of an entry is, when scores were given (NaN otherwise):

    - MLCM cell ``(row, p)`` with ``p < L``: the score of the predicted label ``p``;
    - MLCM cell ``(t, L)`` ("no predicted label"): ``1 − score[t]``, how sure the
      model was that the missed label ``t`` is absent;
    - MLCM cell ``(L, L)``: ``1 − max(score)``;
    - per-label tile ``l``, column "present": ``score[l]``; column "absent":
      ``1 − score[l]``.

    Each entry's ``extra`` sets the thumbnail caption to the sample's true and
    predicted label sets at that epoch.
    """

    def __init__(
        self,
        y_true: np.ndarray,
        preds: list[np.ndarray],
        scores: list[np.ndarray] | None,
        names: list[str],
        mode: str,
        threshold: float,
        sample_ids: np.ndarray,
        images: ImageProvider | None,
        epoch_labels: Sequence[Any] | None = None,
    ) -> None:
        self.mode = mode
        self.label_names = names
        self.labels = [*names, NO_LABEL] if mode == "mlcm" else list(PER_LABEL_CLASSES)
        self.tile_titles = [""] if mode == "mlcm" else list(names)
        self.threshold = threshold if scores is not None else None
        self.images = images
        self._t = y_true
        self._pred = preds
        self._scores = scores
        self._ids = sample_ids
        self._epoch_labels = epoch_names(epoch_labels, len(preds))
        self._index: EpochCache[int, tuple[CellIndex, np.ndarray, np.ndarray]] = EpochCache()
        self._subscribers = Subscribers()
        self._mats = self._compute_matrices()

    # -- protocol ------------------------------------------------------------------
    @property
    def n_epochs(self) -> int:
        return len(self._pred)

    @property
    def n_samples(self) -> int:
        return len(self._ids)

    @property
    def epoch_labels(self) -> list[str]:
        return self._epoch_labels

    def matrices(self) -> np.ndarray:
        """``(E, 1, L+1, L+1)`` (MLCM) or ``(E, L, 2, 2)`` (per-label) int64 counts."""
        return self._mats

    def sample_ids(self) -> np.ndarray:
        return self._ids

    def y_true(self) -> np.ndarray:
        """``(N, L)`` bool true label sets."""
        return self._t

    def y_pred(self, epoch: int) -> np.ndarray:
        """``(N, L)`` bool predicted label sets at ``epoch`` (current threshold)."""
        return self._pred[self._check_epoch(epoch)]

    def metrics(self, epoch: int = -1) -> list[MetricRow]:
        """Per-label statistics of one epoch (the last by default); see
        :func:`~confusion_widget.mlcm.multilabel_metrics`."""
        m = self._mats[self._check_epoch(epoch)]
        if self.mode == "mlcm":
            return mlcm_metrics(m[0], self._t, self.labels)
        return per_label_metrics(m, self.label_names)

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """The samples that contributed to one cell, most confident first."""
        if self.mode == "mlcm":
            index, pos, conf = self._index.get(epoch, lambda: self._mlcm_index(epoch))
            idx = index[row * len(self.labels) + col]
            pos, cf = pos[idx], conf[idx]
        else:
            pos, cf = self._per_label_cell(epoch, tile, row, col)
        return CellHits(pos, cf, LazyExtras(len(pos), lambda i: self._caption(epoch, int(pos[i]))))

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after :meth:`set_threshold` (held weakly for methods)."""
        self._subscribers.add(callback)

    # -- re-thresholding -----------------------------------------------------------
    def set_threshold(self, threshold: float) -> None:
        """Re-threshold the scores (``score >= threshold``), recompute every epoch's
        matrices and tell subscribers (the widget then redraws).

        Raises
        ------
        ValueError
            If the predictions were given as 0/1 (``threshold`` is ``None``), or the
            threshold is outside [0, 1].
        """
        t = _check_threshold(threshold)
        if self._scores is None:
            raise ValueError(
                "y_pred was given as 0/1 predictions; there are no scores to "
                "re-threshold. Pass probabilities to use set_threshold."
            )
        preds = [s >= t for s in self._scores]
        mats = self._compute_matrices(preds)
        self.threshold, self._pred, self._mats = t, preds, mats
        self._index.clear()
        self._subscribers.notify()

    # -- internals -----------------------------------------------------------------
    def _check_epoch(self, epoch: int) -> int:
        return check_index(epoch, self.n_epochs, "epoch", negative=True)

    def _compute_matrices(self, preds: list[np.ndarray] | None = None) -> np.ndarray:
        preds = self._pred if preds is None else preds
        if self.mode == "mlcm":
            return np.stack([_mlcm(self._t, p) for p in preds])[:, None]
        return np.stack([_per_label(self._t, p) for p in preds])

    def _mlcm_index(self, e: int) -> tuple[CellIndex, np.ndarray, np.ndarray]:
        """Every +1 of epoch ``e``'s MLCM (sample positions, confidences), indexed by
        cell: most confident first, then by position."""
        n_labels = self._t.shape[1]
        rows, cols, pos = _mlcm_entries(self._t, self._pred[e])
        conf = np.full(len(pos), np.nan, dtype=np.float32)
        if self._scores is not None:
            s = self._scores[e]
            predicted = cols < n_labels
            missed = ~predicted & (rows < n_labels)
            neither = ~predicted & ~missed
            conf[predicted] = s[pos[predicted], cols[predicted]]
            conf[missed] = 1.0 - s[pos[missed], rows[missed]]
            conf[neither] = 1.0 - s[pos[neither]].max(axis=1)
        return CellIndex(rows * (n_labels + 1) + cols, confidence_key(conf), pos), pos, conf

    def _per_label_cell(self, e: int, tile: int, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
        # Every sample sits in exactly one cell of every tile, so an index would hold
        # N·L entries; comparing two columns is O(N) per click instead.
        pos = np.flatnonzero((self._t[:, tile] == bool(row)) & (self._pred[e][:, tile] == bool(col)))
        if self._scores is None:
            return pos, np.full(len(pos), np.nan, dtype=np.float32)
        s = self._scores[e][pos, tile]
        conf = (s if col == 1 else 1.0 - s).astype(np.float32)
        order = np.lexsort((pos, -conf))
        return pos[order], conf[order]

    def _caption(self, e: int, pos: int) -> dict[str, Any]:
        names = self.label_names
        true = ", ".join(names[i] for i in np.flatnonzero(self._t[pos])) or "—"
        pred = ", ".join(names[i] for i in np.flatnonzero(self._pred[e][pos])) or "—"
        return {"caption": f"true: {true} | pred: {pred}"}

    def __repr__(self) -> str:
        return (
            f"MultiLabelSource(mode={self.mode!r}, samples={self.n_samples}, "
            f"labels={len(self.label_names)}, epochs={self.n_epochs}, "
            f"threshold={self.threshold})"
        )


def multilabel_source(
    y_true: Any,
    y_pred: Any,
    labels: Sequence[Any] | None = None,
    threshold: float = 0.5,
    images: Any = None,
    mode: str = "mlcm",
    sample_ids: Any = None,
    epoch_labels: Sequence[Any] | None = None,
) -> MultiLabelSource:
    """A cell source for multi-label predictions.

    Parameters
    ----------
    y_true
        ``(N, L)`` 0/1 true label indicators (numpy, torch on any device, lists).
    y_pred
        ``(N, L)`` 0/1 predictions, or scores/probabilities in [0, 1] (a label is
        predicted when its score is ``>= threshold``; the scores are kept for
        confidences and :meth:`MultiLabelSource.set_threshold`). Several epochs:
        an ``(E, N, L)`` array or a list of ``(N, L)`` arrays. Floats are taken as
        scores unless every value is exactly 0 or 1. Logits are refused: apply a
        sigmoid first.
    labels
        ``L`` label names (``"0" … "L-1"`` by default).
    threshold
        Score threshold in [0, 1].
    images
        One image per sample (anything :class:`~confusion_widget.ImageSource`
        accepts), or an :class:`~confusion_widget.images.ImageProvider`.
    mode
        ``"mlcm"`` (one ``(L+1)×(L+1)`` matrix; see the module docstring for the
        rule) or ``"per_label"`` (``L`` tiles of ``[[TN, FP], [FN, TP]]``).
    sample_ids
        ``(N,)`` unique ids (``0 … N-1`` by default).
    epoch_labels
        One name per epoch (default ``"epoch 0"``, …).

    Returns
    -------
    MultiLabelSource

    Raises
    ------
    ValueError
        For shapes that differ, a ``y_true`` that is not 0/1, NaN/inf or
        out-of-range scores, integer predictions other than 0/1, ``labels`` of the
        wrong length, an unknown ``mode`` or a threshold outside [0, 1].

    Examples
    --------
    >>> src = multilabel_source([[1, 0], [0, 1]], [[0.9, 0.2], [0.7, 0.1]], labels=["a", "b"])
    >>> src.matrices()[0, 0].tolist()
    [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    thr = _check_threshold(threshold)
    t = _binary(y_true, "y_true")
    raw = to_numpy(y_pred, "y_pred")
    if raw.ndim == 2:
        raw = raw[None]
    if raw.ndim != 3:
        raise ValueError(
            f"y_pred must be (N, L), or (E, N, L) / a list of (N, L) arrays for several "
            f"epochs; got shape {raw.shape}."
        )
    if raw.shape[1:] != t.shape:
        raise ValueError(
            f"y_pred has shape {raw.shape[1:]} per epoch but y_true is {t.shape}; they "
            "must match (one row per sample, one column per label)."
        )
    is_scores = np.issubdtype(raw.dtype, np.floating) and not ((raw == 0) | (raw == 1)).all()
    if is_scores:
        scores = list(_scores(raw, "y_pred"))
        preds = [s >= thr for s in scores]
    else:
        scores = None
        preds = [_binary(p, "y_pred") for p in raw]
    names = validate_labels(labels, t.shape[1])
    if mode == "mlcm":
        validate_labels([*names, NO_LABEL], t.shape[1] + 1)
    ids = validate_sample_ids(sample_ids, len(t))
    return MultiLabelSource(t, preds, scores, names, mode, thr, ids, image_source(images, ids), epoch_labels)
