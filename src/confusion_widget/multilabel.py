"""Multi-label confusion: the MLCM matrix and per-label 2×2 matrices, as cell sources.

Argmax confusion makes no sense when a sample carries several labels. Two views:

``mode="mlcm"``
    The multi-label confusion matrix (MLCM) of Heydarian, Doyle and Samavi, "MLCM:
    Multi-Label Confusion Matrix", IEEE Access 10:19083–19095, 2022: ``(L+1)×(L+1)``,
    rows true labels, columns predicted labels, index ``L`` the "no true label" row
    and the "no predicted label" column. The rule, per sample with true label set
    ``T`` and predicted set ``P`` (implemented as the paper states it; the authors'
    ``mlcm`` package departs from it when ``|T ∩ P| ≥ 1``, ``|T \\ P| ≥ 1`` and
    ``|P \\ T| ≥ 2``, where it also adds ``(t, p)`` for correctly predicted ``t``):

    - ``T`` and ``P`` empty: +1 at ``(L, L)``;
    - ``T`` empty, ``P`` not: +1 at ``(L, p)`` for every ``p`` in ``P``;
    - ``P`` empty, ``T`` not: +1 at ``(t, L)`` for every ``t`` in ``T``;
    - otherwise +1 at ``(t, t)`` for every ``t`` in ``T ∩ P``; then, with
      ``T2 = T \\ P`` and ``P2 = P \\ T``:

      - ``T2`` not empty, ``P2`` empty: +1 at ``(t, L)`` for every ``t`` in ``T2``;
      - ``T2`` empty, ``P2`` not: +1 at ``(t, p)`` for every ``t`` in ``T`` and
        every ``p`` in ``P2``;
      - both not empty: +1 at ``(t, p)`` for every ``t`` in ``T2`` and every ``p``
        in ``P2``.

    A sample can therefore sit in several cells, but at most once in each.

``mode="per_label"``
    One 2×2 matrix per label, ``[[TN, FP], [FN, TP]]`` (sklearn's
    ``multilabel_confusion_matrix`` layout): ``L`` tiles with classes
    ``["absent", "present"]``.

Both sources know the samples behind every cell, so the image panel works as for a
single-label :class:`~confusion_widget.Run`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._util import to_numpy
from .images import ImageSource, image_source
from .matrix import validate_labels
from .runs import CellHits, LazyExtras, Subscribers, _validate_sample_ids

__all__ = [
    "MODES",
    "NO_LABEL",
    "MultiLabelSource",
    "mlcm",
    "mlcm_entries",
    "multilabel_metrics",
    "multilabel_source",
    "per_label_confusion",
]

#: Name of the MLCM's extra row ("no true label") and column ("no predicted label").
NO_LABEL = "(no label)"
#: The two views of :func:`multilabel_source`.
MODES = ("mlcm", "per_label")
#: Class names of a per-label 2×2 tile (rows true, columns predicted).
PER_LABEL_CLASSES = ["absent", "present"]

# Samples per block when computing the MLCM: bounds the temporary memory (a block's
# masks, listed pairs or float32 copies) and keeps float32 sums of 0/1 products
# exact (below 2**24).
_BLOCK = 1 << 14
# Listing a pair costs about 200× a multiply-add of a float32 matrix product
# (measured here: ~20 ns vs ~0.1 ns), so pairs are listed when there are fewer than
# (samples × L²) / 200 of them: the usual case of small label sets.
_LIST_PAIRS_BELOW = 1 / 200


# -- validation ------------------------------------------------------------------------
def _binary(x: Any, name: str) -> np.ndarray:
    """An ``(N, L)`` 0/1 array (bool, ints or floats) → bool."""
    arr = to_numpy(x, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be an (N, L) 0/1 indicator array (one column per label); "
            f"got shape {arr.shape}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if arr.dtype == np.bool_:
        return arr
    bad = (arr != 0) & (arr != 1)  # NaN compares unequal to both
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must hold only 0 and 1; found {arr[r, c]!r} at [{r}, {c}]. "
            "Pass scores or probabilities as y_pred (they are thresholded), "
            "never as y_true."
        )
    return arr != 0


def _scores(arr: np.ndarray, name: str) -> np.ndarray:
    """Validate ``(..., N, L)`` scores: finite and in [0, 1]; return float32."""
    finite = np.isfinite(arr)
    if not finite.all():
        idx = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} contains NaN or inf scores (first at index {idx}).")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} scores must be probabilities in [0, 1]; got values in "
            f"[{lo:.3g}, {hi:.3g}]. For logits apply a sigmoid first "
            "(torch.sigmoid(logits))."
        )
    return arr.astype(np.float32, copy=False)


def _check_threshold(threshold: Any) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise TypeError(f"threshold must be a number in [0, 1], got {threshold!r}.") from None
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}.")
    return t


def _pair(y_true: Any, y_pred_binary: Any) -> tuple[np.ndarray, np.ndarray]:
    t = _binary(y_true, "y_true")
    p = _binary(y_pred_binary, "y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"y_true {t.shape} and y_pred {p.shape} must have the same (N, L) shape."
        )
    return t, p


# -- the MLCM rule ---------------------------------------------------------------------
class _Groups:
    """The MLCM case masks of a batch of samples (see the module docstring):
    ``(N, L)`` bool label masks and ``(N,)`` bool sample masks."""

    def __init__(self, t: np.ndarray, p: np.ndarray) -> None:
        self.t = t
        self.both = t & p
        self.t2 = t ^ self.both  # T \ P
        self.p2 = p ^ self.both  # P \ T
        has_t = t.any(axis=1)
        self.has_t2 = self.t2.any(axis=1)
        has_p2 = self.p2.any(axis=1)
        #: (t, L) for t in T2: covers "P empty, T not" (then T2 = T) and "T2 not
        #: empty, P2 empty".
        self.to_none = self.has_t2 & ~has_p2
        #: (L, p) for p in P2: "T empty, P not" (then P2 = P).
        self.from_none = ~has_t & has_p2
        #: (L, L): nothing true and nothing predicted (P2 empty and T empty → P empty).
        self.none_none = ~has_t & ~has_p2
        #: (t, p) for t in R, p in P2, where R = T2 if T2 is not empty, else T.
        self.pairs = has_t & has_p2

    def pair_masks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The samples of the pair case, and their ``R`` and ``P2`` label masks."""
        s = np.flatnonzero(self.pairs)
        rows = np.where(self.has_t2[s, None], self.t2[s], self.t[s])
        return s, rows, self.p2[s]


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of an ``(N, L)`` mask, as (samples, labels) in C order; a flat
    search then ``divmod`` is several times faster than a 2-D ``np.nonzero``."""
    flat = np.flatnonzero(mask)
    return np.divmod(flat, mask.shape[1])


def mlcm(y_true: Any, y_pred_binary: Any) -> np.ndarray:
    """The MLCM of 0/1 indicator arrays (Heydarian et al., 2022).

    Parameters
    ----------
    y_true, y_pred_binary
        ``(N, L)`` 0/1 arrays (numpy, torch, nested lists), true and predicted
        label sets.

    Returns
    -------
    numpy.ndarray
        ``(L+1, L+1)`` int64; rows true, columns predicted; index ``L`` is "no true
        label" (row) and "no predicted label" (column). The rule is in the module
        docstring.

    Notes
    -----
    Computed in blocks of samples without keeping the entries: the single-index
    cases are column counts; the pair case lists its pairs when label sets are
    small, and is a float32 matrix product of label masks (``R.T @ P2``) when they
    are dense. Equal to ``np.bincount`` of :func:`mlcm_entries`.

    Examples
    --------
    >>> mlcm([[1, 1, 0]], [[1, 0, 1]]).tolist()   # T={0,1}, P={0,2}
    [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    """
    t, p = _pair(y_true, y_pred_binary)
    return _mlcm(t, p)


def _mlcm(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    n_labels = t.shape[1]
    cm = np.zeros((n_labels + 1, n_labels + 1), dtype=np.int64)
    for start in range(0, len(t), _BLOCK):
        g = _Groups(t[start : start + _BLOCK], p[start : start + _BLOCK])
        cm[:n_labels, :n_labels] += np.diag(np.count_nonzero(g.both, axis=0))
        cm[:n_labels, n_labels] += np.count_nonzero(g.t2[g.to_none], axis=0)
        cm[n_labels, :n_labels] += np.count_nonzero(g.p2[g.from_none], axis=0)
        cm[n_labels, n_labels] += int(np.count_nonzero(g.none_none))
        _, rows, cols = g.pair_masks()
        cm[:n_labels, :n_labels] += _pair_counts(rows, cols)
    return cm


def _pair_counts(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``Σ_i outer(rows[i], cols[i])`` of two ``(n, L)`` masks as ``(L, L)`` int64:
    by listing the pairs when they are few, else as a float32 matrix product."""
    n, n_labels = rows.shape
    n_pairs = int(np.count_nonzero(rows, axis=1) @ np.count_nonzero(cols, axis=1))
    if n_pairs < _LIST_PAIRS_BELOW * n * n_labels**2:
        r, c, _ = _outer_pairs(rows, cols)
        return np.bincount(r * n_labels + c, minlength=n_labels**2).reshape(n_labels, n_labels)
    return np.rint(rows.astype(np.float32).T @ cols.astype(np.float32)).astype(np.int64)


def mlcm_entries(y_true: Any, y_pred_binary: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every +1 of the MLCM as ``(row, col, sample)``.

    Parameters
    ----------
    y_true, y_pred_binary
        ``(N, L)`` 0/1 arrays.

    Returns
    -------
    (rows, cols, samples)
        Three int64 arrays of equal length, one element per contributed +1
        (``np.bincount(rows * (L+1) + cols)`` is :func:`mlcm`). A sample appears
        at most once per cell. Order: grouped by case, not sorted.

    Examples
    --------
    >>> r, c, s = mlcm_entries([[0, 0], [1, 0]], [[0, 1], [0, 0]])
    >>> sorted(zip(r.tolist(), c.tolist(), s.tolist()))
    [(0, 2, 1), (2, 1, 0)]
    """
    t, p = _pair(y_true, y_pred_binary)
    return _mlcm_entries(t, p)


def _mlcm_entries(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_labels = t.shape[1]
    g = _Groups(t, p)
    rows, cols, samples = [], [], []

    def add(r: Any, c: Any, s: np.ndarray) -> None:
        rows.append(np.broadcast_to(np.asarray(r, dtype=np.int64), s.shape))
        cols.append(np.broadcast_to(np.asarray(c, dtype=np.int64), s.shape))
        samples.append(s.astype(np.int64, copy=False))

    s, lab = _nonzero(g.both)
    add(lab, lab, s)
    s, lab = _nonzero(g.t2[g.to_none])
    add(lab, n_labels, np.flatnonzero(g.to_none)[s])
    s, lab = _nonzero(g.p2[g.from_none])
    add(n_labels, lab, np.flatnonzero(g.from_none)[s])
    add(n_labels, n_labels, np.flatnonzero(g.none_none))
    which, row_mask, col_mask = g.pair_masks()
    r, c, s = _outer_pairs(row_mask, col_mask)
    add(r, c, which[s])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(samples)


def _outer_pairs(row_mask: np.ndarray, col_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ``(r, c, i)`` with ``row_mask[i, r]`` and ``col_mask[i, c]``,
    without a Python loop or an ``(N, L, L)`` temporary: each row entry is repeated
    once per column entry of its sample, and picks those column entries by offset."""
    s_r, r = _nonzero(row_mask)  # sorted by sample, then label
    s_c, c = _nonzero(col_mask)
    per_sample = np.bincount(s_c, minlength=len(row_mask))
    first_col = np.cumsum(per_sample) - per_sample  # offset of a sample's columns
    reps = per_sample[s_r]
    out_start = np.cumsum(reps) - reps
    within = np.arange(int(reps.sum())) - np.repeat(out_start, reps)
    cols = c[np.repeat(first_col[s_r], reps) + within]
    return np.repeat(r, reps), cols, np.repeat(s_r, reps)


def per_label_confusion(y_true: Any, y_pred_binary: Any) -> np.ndarray:
    """One 2×2 matrix per label, ``[[TN, FP], [FN, TP]]``, as sklearn's
    ``multilabel_confusion_matrix``.

    Returns
    -------
    numpy.ndarray
        ``(L, 2, 2)`` int64.

    Examples
    --------
    >>> per_label_confusion([[1, 0], [1, 1]], [[1, 1], [0, 1]]).tolist()
    [[[0, 0], [1, 1]], [[0, 1], [0, 1]]]
    """
    t, p = _pair(y_true, y_pred_binary)
    return _per_label(t, p)


def _per_label(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    tp = np.count_nonzero(t & p, axis=0)
    fn = np.count_nonzero(t, axis=0) - tp
    fp = np.count_nonzero(p, axis=0) - tp
    tn = len(t) - tp - fn - fp
    return np.stack([tn, fp, fn, tp], axis=1).reshape(-1, 2, 2).astype(np.int64)


def _metrics(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, support: np.ndarray,
             names: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of ``{label, tp, fp, fn, precision, recall, f1, support}``; 0/0 → 0."""
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / (tp + fp))
        recall = np.nan_to_num(tp / (tp + fn))
        f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
    return [
        {"label": names[i], "tp": int(tp[i]), "fp": int(fp[i]), "fn": int(fn[i]),
         "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
         "support": int(support[i])}
        for i in range(len(names))
    ]


def _mlcm_metrics(cm: np.ndarray, t: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
    tp = np.diag(cm)
    support = np.append(np.count_nonzero(t, axis=0), np.count_nonzero(~t.any(axis=1)))
    return _metrics(tp, cm.sum(axis=0) - tp, cm.sum(axis=1) - tp, support, names)


def _per_label_metrics(m: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
    return _metrics(m[:, 1, 1], m[:, 0, 1], m[:, 1, 0], m[:, 1].sum(axis=1), names)


def multilabel_metrics(y_true: Any, y_pred_binary: Any, labels: Sequence[Any] | None = None,
                       mode: str = "mlcm") -> list[dict[str, Any]]:
    """Per-label precision, recall and F1.

    Parameters
    ----------
    y_true, y_pred_binary
        ``(N, L)`` 0/1 arrays.
    labels
        ``L`` label names (``"0" … "L-1"`` by default).
    mode
        ``"mlcm"``: the paper's statistics from the MLCM — ``TP`` the diagonal,
        ``FP`` the column sum − ``TP``, ``FN`` the row sum − ``TP`` — with a last
        row for :data:`NO_LABEL` (the "no true label" row / "no predicted label"
        column). A sample whose missed label is paired with several wrong
        predictions adds one ``FN`` per pair, so ``FN`` (and ``FP``) can exceed
        the per-label counts of sklearn. ``"per_label"``: the one-vs-rest counts
        of :func:`per_label_confusion`, equal to sklearn's
        ``precision_recall_fscore_support(average=None, zero_division=0)``.

    Returns
    -------
    list of dict
        One dict per label: ``label``, ``tp``, ``fp``, ``fn``, ``precision``,
        ``recall``, ``f1`` (0 where undefined) and ``support`` (the number of
        samples whose true set holds the label; for :data:`NO_LABEL`, the number
        with no true label).
    """
    t, p = _pair(y_true, y_pred_binary)
    names = validate_labels(labels, t.shape[1])
    if mode == "mlcm":
        return _mlcm_metrics(_mlcm(t, p), t, [*names, NO_LABEL])
    if mode == "per_label":
        return _per_label_metrics(_per_label(t, p), names)
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")


# -- the cell source -------------------------------------------------------------------
class MultiLabelSource:
    """A cell source for multi-label predictions (MLCM or per-label 2×2 tiles).

    Build it with :func:`multilabel_source`. Attributes follow the cell-source
    protocol of :mod:`confusion_widget.runs`.

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
        The score threshold: a label is predicted when its score is ``>=``
        ``threshold``.
    scores_given
        True when ``y_pred`` held scores, which :meth:`set_threshold` can
        re-threshold; False for 0/1 predictions.
    images
        An :class:`~confusion_widget.images.ImageSource`, or ``None``.

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

    def __init__(self, y_true: np.ndarray, preds: list[np.ndarray], scores: list[np.ndarray] | None,
                 names: list[str], mode: str, threshold: float, sample_ids: np.ndarray,
                 images: ImageSource | None) -> None:
        self.mode = mode
        self.label_names = names
        self.labels = [*names, NO_LABEL] if mode == "mlcm" else list(PER_LABEL_CLASSES)
        self.tile_titles = [""] if mode == "mlcm" else list(names)
        self.threshold = threshold
        self.scores_given = scores is not None
        self.images = images
        self._t = y_true
        self._pred = preds
        self._scores = scores
        self._ids = sample_ids
        self._lock = threading.Lock()
        self._index: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
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
        return [f"epoch {e}" for e in range(self.n_epochs)]

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

    def metrics(self, epoch: int = -1) -> list[dict[str, Any]]:
        """Per-label statistics of one epoch (the last by default); see
        :func:`multilabel_metrics`."""
        e = self._check_epoch(epoch)
        m = self._mats[e]
        if self.mode == "mlcm":
            return _mlcm_metrics(m[0], self._t, self.labels)
        return _per_label_metrics(m, self.label_names)

    def cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """The samples that contributed to one cell, most confident first."""
        e = self._check_epoch(epoch)
        k = len(self.labels)
        if not 0 <= tile < len(self.tile_titles):
            raise ValueError(f"tile {tile} is out of range [0, {len(self.tile_titles)}).")
        if not (0 <= row < k and 0 <= col < k):
            raise ValueError(f"cell ({row}, {col}) is outside the {k}×{k} matrix.")
        if self.mode == "mlcm":
            order, conf, starts = self._mlcm_index(e)
            code = row * k + col
            sl = slice(starts[code], starts[code + 1])
            pos, cf = order[sl], conf[sl]
        else:
            pos, cf = self._per_label_cell(e, tile, row, col)
        return CellHits(pos, cf, LazyExtras(len(pos), lambda i: self._caption(e, int(pos[i]))))

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
            If the predictions were given as 0/1 (``scores_given`` is False), or the
            threshold is outside [0, 1].
        """
        t = _check_threshold(threshold)
        if self._scores is None:
            raise ValueError(
                "y_pred was given as 0/1 predictions; there are no scores to "
                "re-threshold. Pass probabilities to use set_threshold."
            )
        with self._lock:
            self.threshold = t
            self._pred = [s >= t for s in self._scores]
            self._index.clear()
            self._mats = self._compute_matrices()
        self._subscribers.notify()

    # -- internals -----------------------------------------------------------------
    def _check_epoch(self, epoch: int) -> int:
        e = int(epoch)
        if e < 0:
            e += self.n_epochs
        if not 0 <= e < self.n_epochs:
            raise ValueError(f"epoch {epoch} is out of range [0, {self.n_epochs}).")
        return e

    def _compute_matrices(self) -> np.ndarray:
        if self.mode == "mlcm":
            return np.stack([_mlcm(self._t, p) for p in self._pred])[:, None]
        return np.stack([_per_label(self._t, p) for p in self._pred])

    def _mlcm_index(self, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(positions, confidences) of all entries sorted by (cell, -confidence,
        position), and each cell's start offset; built on first use, per epoch."""
        with self._lock:
            idx = self._index.get(e)
            if idx is not None:
                return idx
            pred, n_labels = self._pred[e], self._t.shape[1]
            rows, cols, pos = _mlcm_entries(self._t, pred)
            conf = np.full(len(pos), np.nan, dtype=np.float32)
            if self._scores is not None:
                s = self._scores[e]
                predicted = cols < n_labels
                missed = ~predicted & (rows < n_labels)
                neither = ~predicted & ~missed
                conf[predicted] = s[pos[predicted], cols[predicted]]
                conf[missed] = 1.0 - s[pos[missed], rows[missed]]
                conf[neither] = 1.0 - s[pos[neither]].max(axis=1)
            k = n_labels + 1
            code = rows * k + cols
            key = np.where(np.isnan(conf), np.inf, -conf)
            order = np.lexsort((pos, key, code))
            starts = np.searchsorted(code[order], np.arange(k * k + 1))
            idx = (pos[order], conf[order], starts)
            self._index[e] = idx
            return idx

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


def multilabel_source(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None,
                      threshold: float = 0.5, images: Any = None, mode: str = "mlcm",
                      sample_ids: Any = None) -> MultiLabelSource:
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
        accepts), or an ``ImageSource``.
    mode
        ``"mlcm"`` (one ``(L+1)×(L+1)`` matrix; see the module docstring for the
        rule) or ``"per_label"`` (``L`` tiles of ``[[TN, FP], [FN, TP]]``).
    sample_ids
        ``(N,)`` unique ids (``0 … N-1`` by default).

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
    ids = _validate_sample_ids(sample_ids, len(t))
    source = image_source(images, ids)
    return MultiLabelSource(t, preds, scores, names, mode, thr, ids, source)
