"""Multi-label confusion, the counting: the MLCM matrix and per-label 2×2 matrices.

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

Pure functions on ``(N, L)`` 0/1 arrays; the cell source that shows them is in
:mod:`confusion_widget.multilabel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._util import to_numpy
from .matrix import metric_rows, validate_labels

if TYPE_CHECKING:
    from .wire import MetricRow

__all__ = [
    "MODES",
    "NO_LABEL",
    "PER_LABEL_CLASSES",
    "mlcm",
    "mlcm_entries",
    "multilabel_metrics",
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
            f"{name} must be an (N, L) 0/1 indicator array (one column per label); got shape {arr.shape}."
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
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} must have the same (N, L) shape.")
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


def _metrics(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, support: np.ndarray, names: Sequence[str]
) -> list[MetricRow]:
    """Rows of ``{label, tp, fp, fn, precision, recall, f1, support}``; 0/0 → 0."""
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / (tp + fp))
        recall = np.nan_to_num(tp / (tp + fn))
        f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
    return metric_rows(names, precision, recall, f1, support, tp=tp, fp=fp, fn=fn)


def mlcm_metrics(cm: np.ndarray, t: np.ndarray, names: Sequence[str]) -> list[MetricRow]:
    """Per-label figures from an MLCM ``cm`` and the true sets ``t``."""
    tp = np.diag(cm)
    support = np.append(np.count_nonzero(t, axis=0), np.count_nonzero(~t.any(axis=1)))
    return _metrics(tp, cm.sum(axis=0) - tp, cm.sum(axis=1) - tp, support, names)


def per_label_metrics(m: np.ndarray, names: Sequence[str]) -> list[MetricRow]:
    """Per-label figures from ``(L, 2, 2)`` per-label matrices."""
    return _metrics(m[:, 1, 1], m[:, 0, 1], m[:, 1, 0], m[:, 1].sum(axis=1), names)


def multilabel_metrics(
    y_true: Any, y_pred_binary: Any, labels: Sequence[Any] | None = None, mode: str = "mlcm"
) -> list[MetricRow]:
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
        return mlcm_metrics(_mlcm(t, p), t, [*names, NO_LABEL])
    if mode == "per_label":
        return per_label_metrics(_per_label(t, p), names)
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
