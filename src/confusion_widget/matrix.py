"""The numpy core: validation, labels → counts, normalisation, scores → classes.

Everything here is a pure function on arrays. Counting uses
``np.bincount(y_true * K + y_pred, minlength=K*K)``, about 50× faster than
``sklearn.metrics.confusion_matrix`` at N = 1e6 (see ``benchmarks/``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._util import to_numpy
from .counts import SPARSE_FROM, Coo, count_pairs

__all__ = [
    "AGGREGATIONS",
    "MAX_CLASSES",
    "as_class_ids",
    "canonical_aggregation",
    "check_class_ids",
    "compact_counts",
    "confusion_counts",
    "metric_rows",
    "most_confused",
    "normalize",
    "per_class_metrics",
    "score_signals",
    "scores_to_predictions",
    "validate_labels",
    "validate_matrix",
]

_BLOCK = 1 << 16  # samples per block when counting
#: The most classes a matrix may have (dense ``K × K`` counts per epoch).
MAX_CLASSES = 10_000

#: Aggregation names, with sklearn's ``normalize=`` vocabulary as aliases.
AGGREGATIONS: dict[str, str] = {
    "count": "count",
    "row": "row",
    "column": "column",
    "total": "total",
    "true": "row",
    "pred": "column",
    "all": "total",
}


def canonical_aggregation(name: Any) -> str:
    """Map an aggregation name or sklearn alias to one of count/row/column/total."""
    if name is None:
        return "count"
    if isinstance(name, str) and name.lower() in AGGREGATIONS:
        return AGGREGATIONS[name.lower()]
    raise ValueError(f"aggregation must be one of {sorted(AGGREGATIONS)} (or None), got {name!r}.")


def validate_matrix(cm: Any, name: str = "cm") -> np.ndarray:
    """Check a confusion matrix or a stack of them and return ``(E, K, K)`` int64.

    Parameters
    ----------
    cm
        A ``(K, K)`` matrix or an ``(E, K, K)`` stack of per-epoch matrices: numpy,
        torch tensor on any device, or nested lists. Rows are true classes, columns
        predicted classes. Counts must be finite, non-negative whole numbers.
    name
        The argument's name, for error messages.

    Returns
    -------
    numpy.ndarray
        ``(E, K, K)`` int64 (``E = 1`` for a single matrix).

    Examples
    --------
    >>> validate_matrix([[3, 1], [0, 4]]).shape
    (1, 2, 2)
    """
    arr = to_numpy(cm, name)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be a (K, K) matrix or an (E, K, K) stack of per-epoch "
            f"matrices; got {arr.ndim}-D with shape {arr.shape}."
        )
    if arr.shape[-1] != arr.shape[-2]:
        raise ValueError(
            f"{name} must be square (rows are true classes, columns predicted); got shape {arr.shape}."
        )
    if arr.shape[-1] == 0 or (arr.ndim == 3 and arr.shape[0] == 0):
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one class.")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} has complex dtype {arr.dtype}; counts must be real.")
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if not finite.all():
            idx = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(
                f"{name} contains non-finite values (first at index {idx}: {arr[idx]}); "
                "counts must be finite."
            )
        if (arr != np.round(arr)).any():
            idx = tuple(int(i) for i in np.argwhere(arr != np.round(arr))[0])
            raise ValueError(
                f"{name} contains non-integer counts (first at index {idx}: {arr[idx]}). "
                "Pass raw counts and choose aggregation='row'/'column'/'total' to "
                "normalise in the widget."
            )
    if (arr < 0).any():
        idx = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ValueError(
            f"{name} contains negative counts (first at index {idx}: {arr[idx]}); counts must be >= 0."
        )
    if arr.max(initial=0) > 2**53:
        raise ValueError(f"{name} has counts above 2**53, which cannot be shown exactly.")
    arr = arr.astype(np.int64, copy=False)
    return arr[None] if arr.ndim == 2 else arr


def validate_labels(labels: Sequence[Any] | None, n_classes: int, name: str = "labels") -> list[str]:
    """Return ``n_classes`` class names as strings (``"0", "1", …`` when ``None``).

    Raises
    ------
    ValueError
        If the number of labels differs from ``n_classes`` or a name repeats.
    TypeError
        If ``labels`` is a string or not a sequence.
    """
    if (
        isinstance(n_classes, (bool, np.bool_))
        or not isinstance(n_classes, (int, np.integer))
        or n_classes < 1
    ):
        raise ValueError(f"{name}: there must be at least one class, got {n_classes!r}.")
    if n_classes > MAX_CLASSES:
        raise ValueError(
            f"{n_classes} classes is more than the {MAX_CLASSES:,} the widget draws; class ids "
            "must be 0 … K-1 (map your labels to indices, or check for a stray huge id)."
        )
    if labels is None:
        return [str(i) for i in range(n_classes)]
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"{name} must be a list of class names, not a single string.")
    if isinstance(labels, (set, frozenset, Mapping)):
        raise TypeError(
            f"{name} must be an ordered list of class names (index i names class i), "
            f"not a {type(labels).__name__}."
        )
    if hasattr(labels, "tolist"):
        labels = labels.tolist()
    try:
        names = [str(v) for v in labels]
    except TypeError:
        raise TypeError(f"{name} must be a list of class names, got {type(labels).__name__}.") from None
    if len(names) != n_classes:
        raise ValueError(
            f"{name} has {len(names)} names but the matrix has {n_classes} classes; "
            "give exactly one name per class, in class-index order."
        )
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            raise ValueError(
                f"{name} contains the duplicate name {n!r} (positions {seen[n]} and {i}); "
                "class names must be unique."
            )
        seen[n] = i
    return names


def as_class_ids(y: Any, name: str) -> np.ndarray:
    """``y`` as a non-empty 1-D integer array (bools and integral floats converted);
    the range is checked by :func:`check_class_ids` or :func:`compact_counts`."""
    arr = to_numpy(y, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; there is nothing to count.")
    if arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise ValueError(
                f"{name} must hold integer class indices; it contains NaN, inf or "
                "fractional values. For scores or logits pass an (N, K) array."
            )
        return arr.astype(np.int64)
    return arr


def _out_of_range(arr: np.ndarray, n_classes: int | None, name: str) -> ValueError | None:
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and (n_classes is None or hi < n_classes):
        return None
    k = "K" if n_classes is None else n_classes
    return ValueError(
        f"{name} contains class {lo if lo < 0 else hi}, outside [0, {k}). Class indices must be "
        "0 … K-1; pass labels= with one name per class, or map your labels to indices."
    )


def check_class_ids(y: Any, n_classes: int | None, name: str) -> np.ndarray:
    """Validate a 1-D array of class indices and return it as int64.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D, is empty, holds non-integers or values outside
        ``[0, n_classes)``.
    """
    arr = as_class_ids(y, name).astype(np.int64, copy=False)
    error = _out_of_range(arr, n_classes, name)
    if error is not None:
        raise error
    return arr


def compact_counts(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, *, true_checked: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | Coo]:
    """Check two integer class-id arrays against ``[0, K)``, copy them to int32 and
    count their pairs, block by cache-sized block, so that each array is read from
    memory once and no N-sized temporary is made.

    Parameters
    ----------
    y_true, y_pred
        ``(N,)`` integer arrays (see :func:`as_class_ids`).
    n_classes
        ``K``.
    true_checked
        ``y_true`` is already a checked int32 array (a truth shared by epochs): it
        is used as it is.

    Returns
    -------
    (y_true, y_pred, counts)
        int32 ``(N,)`` copies and the ``(K, K)`` int64 matrix — a sparse
        :class:`~confusion_widget.counts.Coo` from ``SPARSE_FROM`` classes on.

    Examples
    --------
    >>> compact_counts(np.array([0, 1, 1]), np.array([0, 0, 1]), 2)[2].tolist()
    [[1, 0], [1, 1]]
    """
    k, n = int(n_classes), len(y_pred)
    if len(y_true) != n:
        raise ValueError(f"y_true has {len(y_true)} entries but y_pred has {n}; they must match.")
    yt = y_true if true_checked else np.empty(n, np.int32)
    yp = np.empty(n, np.int32)
    sparse = k >= SPARSE_FROM  # no K × K array: pairs counted by sorting (count_pairs)
    step = _BLOCK if sparse else max(_BLOCK, k * k)
    code = np.empty(min(step, n), np.int32 if k * k < 2**31 else np.int64)
    counts = None if sparse else np.zeros(k * k, np.int64)
    for start in range(0, n, step):
        block = slice(start, start + step)
        pairs = (
            ((y_pred, yp, "y_pred"),) if true_checked else ((y_true, yt, "y_true"), (y_pred, yp, "y_pred"))
        )
        for src, dst, name in pairs:
            error = _out_of_range(src[block], k, name)
            if error is not None:
                raise _out_of_range(src, k, name) or error  # the message names the whole array's extreme
            dst[block] = src[block]
        if counts is not None:
            c = code[: len(yp[block])]
            np.multiply(yt[block], k, out=c, casting="unsafe")
            np.add(c, yp[block], out=c)
            counts += np.bincount(c, minlength=k * k)
    if counts is None:
        return yt, yp, count_pairs(yt, yp, k)
    return yt, yp, counts.reshape(k, k)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Count ``(true, predicted)`` pairs into a ``(K, K)`` int64 matrix.

    Inputs must already be validated int arrays in ``[0, K)`` of equal length.

    Examples
    --------
    >>> confusion_counts(np.array([0, 1, 1]), np.array([0, 0, 1]), 2)
    array([[1, 0],
           [1, 1]])
    """
    m = compact_counts(y_true, y_pred, n_classes)[2]
    return m.dense() if isinstance(m, Coo) else m


def normalize(cm: np.ndarray, aggregation: str = "count") -> np.ndarray:
    """Normalise counts the way sklearn's ``normalize=`` does.

    ``row`` (sklearn ``'true'``) divides by row sums, ``column`` (``'pred'``) by
    column sums, ``total`` (``'all'``) by the grand total; empty rows/columns give
    0, not NaN (as sklearn). Works on ``(..., K, K)`` arrays.
    """
    how = canonical_aggregation(aggregation)
    cm = np.asarray(cm)
    if how == "count":
        return cm
    cm = cm.astype(np.float64)
    if how == "row":
        denom = cm.sum(axis=-1, keepdims=True)
    elif how == "column":
        denom = cm.sum(axis=-2, keepdims=True)
    else:
        denom = cm.sum(axis=(-2, -1), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = cm / denom
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def scores_to_predictions(scores: Any, name: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    """Turn ``(N, K)`` scores, probabilities or logits into classes and confidences.

    The prediction is the argmax (the first maximum on ties). When every row is a
    probability vector (in [0, 1], summing to 1) the winner's score is its
    confidence; anything else is treated as logits and the confidence is the
    winner's softmax probability. One column, ``(N, 1)``, is a binary classifier's
    score for class 1: a probability if every value is in [0, 1], else a logit;
    the prediction is 1 when it is >= 0.5 (logit >= 0).

    Returns
    -------
    (classes, confidence)
        int64 ``(N,)`` and float32 ``(N,)``.

    Examples
    --------
    >>> scores_to_predictions(np.array([[-2.0], [0.5], [3.0]]))[0].tolist()
    [0, 1, 1]
    """
    pred, conf, _, _ = score_signals(scores, None, name)
    return pred, conf


def score_signals(
    scores: Any, y_true: np.ndarray | None, name: str = "y_pred"
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """:func:`scores_to_predictions`, and with ``y_true`` (checked class ids) also
    each sample's ``p_true`` (the probability of its true class) and ``margin`` (its
    true class' score minus the largest other score, on the scale of the scores: a
    logit margin for logits; a single binary column counts as the scores
    ``[0, x]`` for a logit ``x`` and ``[1 - p, p]`` for a probability ``p``).

    Returns
    -------
    (classes, confidence, p_true, margin)
        int64, float32, float32, float32 ``(N,)`` (the last two ``None`` without
        ``y_true``). One max and one log-sum-exp per row; no full softmax.
    """
    s = to_numpy(scores, name)
    if s.ndim != 2:
        raise ValueError(f"{name} scores must be (N, K), got shape {s.shape}.")
    if s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {s.shape}).")
    if s.dtype != np.float64:
        s = s.astype(np.float32)
    if not np.isfinite(s).all():
        row = int(np.argwhere(~np.isfinite(s))[0][0])
        raise ValueError(f"{name} contains NaN or inf scores (first in row {row}).")
    binary = s.shape[1] == 1
    if binary:  # [1 - p, p] for probabilities, [0, x] for a logit x
        x = s[:, 0].astype(np.float64)
        is_prob = bool(x.min() >= 0 and x.max() <= 1)
        s = np.stack([1.0 - x, x] if is_prob else [np.zeros_like(x), x], axis=1)
        pred = (x >= (0.5 if is_prob else 0.0)).astype(np.int64)  # ties go to class 1
    else:
        is_prob = bool(
            s.min() >= 0 and s.max() <= 1 and np.allclose(s.sum(axis=1, dtype=np.float64), 1.0, atol=1e-3)
        )
        pred = s.argmax(axis=1)
    rows = np.arange(len(s))
    top = s[rows, pred].astype(np.float64)
    # the softmax denominator, relative to the winner: sum(exp(s - s_win)); 1 for probabilities
    denom = np.ones(len(s)) if is_prob else np.exp(s - top[:, None]).sum(axis=1, dtype=np.float64)
    conf: np.ndarray = top if is_prob else 1.0 / denom
    if y_true is None:
        return pred.astype(np.int64), conf.astype(np.float32), None, None
    true = s[rows, y_true].astype(np.float64)
    p_true: np.ndarray = true if is_prob else np.exp(true - top) / denom
    margin = np.empty(len(s))
    for start in range(0, len(s), _BLOCK):  # the largest other score, a block of rows at a time
        others = s[start : start + _BLOCK].copy()
        others[np.arange(len(others)), y_true[start : start + _BLOCK]] = -np.inf
        margin[start : start + _BLOCK] = true[start : start + _BLOCK] - others.max(axis=1)
    return (
        pred.astype(np.int64),
        conf.astype(np.float32),
        p_true.astype(np.float32),
        margin.astype(np.float32),
    )


def per_class_metrics(cm: np.ndarray | Coo) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class of a ``(K, K)`` matrix (dense or
    a :class:`~confusion_widget.counts.Coo`).

    Undefined ratios (0 / 0) are 0, as sklearn's ``zero_division=0``.
    """
    if isinstance(cm, Coo):
        tp, support, predicted = (a.astype(np.float64) for a in (cm.diagonal(), cm.row_sums(), cm.col_sums()))
    else:
        cm = np.asarray(cm, dtype=np.float64)
        tp, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / predicted)
        recall = np.nan_to_num(tp / support)
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def metric_rows(
    names: Sequence[str],
    precision: np.ndarray,
    recall: np.ndarray,
    f1: np.ndarray,
    support: np.ndarray,
    **counts: np.ndarray,
) -> list[Any]:
    """Per-class figures as the widget's ``_metrics`` rows
    (:class:`~confusion_widget.wire.MetricRow`), one per name; ``counts`` adds
    integer columns (``tp=…``). Ratios are rounded to 6 decimals: their JSON is then
    8 characters instead of up to 20 (at 10,000 classes the rows cross the wire at
    every epoch step)."""
    floats = {
        k: np.round(np.asarray(v, dtype=np.float64), 6).tolist()
        for k, v in (("precision", precision), ("recall", recall), ("f1", f1))
    }
    ints = {k: np.asarray(v).astype(np.int64).tolist() for k, v in (("support", support), *counts.items())}
    columns = {**floats, **ints}
    return [{"label": str(name), **{k: v[i] for k, v in columns.items()}} for i, name in enumerate(names)]


def most_confused(
    cm: np.ndarray, labels: Sequence[str], min_count: int = 1, top: int | None = None
) -> list[tuple[str, str, int]]:
    """Off-diagonal cells sorted by count, as fastai's ``most_confused``.

    Returns
    -------
    list of (true label, predicted label, count)
    """
    cm = np.asarray(cm)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    rows, cols = np.nonzero(off >= max(min_count, 1))
    counts = off[rows, cols]
    order = np.lexsort((cols, rows, -counts))
    if top is not None:
        order = order[:top]
    return [(labels[rows[i]], labels[cols[i]], int(counts[i])) for i in order]
