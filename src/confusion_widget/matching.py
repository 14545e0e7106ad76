"""Object-detection matching: boxes matched by IoU → a ``(K+1)×(K+1)`` matrix whose
last row and column are the background. The cell source is in
:mod:`confusion_widget.detection`.

Matching, per image (:func:`match_image`):

1. Predictions with ``score >= score`` take part; the others are ignored entirely
   (they appear nowhere in the matrix or in :meth:`DetectionSource.image_boxes`).
2. They are visited in order of descending score; equal scores keep their
   original order (a stable sort), so the earlier prediction goes first.
3. Each takes the still unmatched ground-truth box of highest IoU among those with
   ``IoU >= iou``, whatever its class, so that class confusions show up off the
   diagonal; equal IoUs go to the lower ground-truth index. With
   ``class_wise=True`` only ground truth of the prediction's own class qualifies
   (then the only errors are background ones).
4. A matched pair adds 1 at ``(gt class, pred class)``; a prediction left
   unmatched (a duplicate, a box on nothing) adds 1 at ``(background, pred
   class)``; a ground-truth box left unmatched (a miss) adds 1 at ``(gt class,
   background)``. The ``(background, background)`` cell stays 0.

Inputs follow torchvision's detection format: one dict per image with ``"boxes"``
``(n, 4)`` and ``"labels"`` ``(n,)`` (predictions also ``"scores"``), as numpy
arrays, lists or torch tensors on any device, so a torchvision model's output can
be passed as it comes. Boxes are ``xyxy`` in pixels (``x0 <= x1``, ``y0 <= y1``),
or ``xywh`` with ``box_format="xywh"``. Class ids index ``labels``; note that
torchvision's COCO models count the background as class 0 in their own category
list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._util import to_numpy

__all__ = ["BOX_FORMATS", "box_iou", "detection_matrix", "match_image"]

BOX_FORMATS = ("xyxy", "xywh")


# -- validation ------------------------------------------------------------------------
def _boxes(x: Any, name: str, box_format: str = "xyxy") -> np.ndarray:
    """``(n, 4)`` boxes → float64 xyxy; ``(0,)`` (an empty tensor) is ``(0, 4)``."""
    arr = to_numpy(x, name)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be (n, 4) boxes, got shape {arr.shape}.")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"{name} contains NaN or inf coordinates (box {row}).")
    if box_format == "xywh":
        if (arr[:, 2:] < 0).any():
            row = int(np.argwhere(arr[:, 2:] < 0)[0][0])
            raise ValueError(f"{name}[{row}] has a negative width or height: {arr[row].tolist()}.")
        arr = np.concatenate([arr[:, :2], arr[:, :2] + arr[:, 2:]], axis=1)
    bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}[{row}] = {arr[row].tolist()} has x1 < x0 or y1 < y0; boxes must be "
            "(x0, y0, x1, y1) with x0 <= x1 and y0 <= y1 (pass box_format='xywh' for "
            "(x, y, width, height))."
        )
    return arr


def _class_ids(x: Any, n: int, name: str) -> np.ndarray:
    """``(n,)`` non-negative integer class ids → int64 (the upper bound is checked
    once all images are read, by ``_n_classes``)."""
    arr = to_numpy(x, name)
    if arr.size == 0:
        arr = arr.reshape(0)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{name} must be ({n},), one class per box; got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.floating) and (not np.isfinite(arr).all() or (arr != np.round(arr)).any()):
        raise ValueError(f"{name} must hold integer class ids.")
    arr = arr.astype(np.int64)
    if n and arr.min() < 0:
        raise ValueError(f"{name} contains the negative class id {int(arr.min())}.")
    return arr


def _scores(x: Any, n: int, name: str) -> np.ndarray:
    arr = to_numpy(x, name)
    if arr.size == 0:
        arr = arr.reshape(0)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{name} must be ({n},), one score per box; got shape {arr.shape}.")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf scores.")
    return arr


def _check_thresholds(iou: Any, score: Any) -> tuple[float, float]:
    for name, v in (("iou", iou), ("score", score)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number, got {type(v).__name__} {v!r}.")
    iou, score = float(iou), float(score)
    if not 0.0 < iou <= 1.0:
        raise ValueError(f"iou must be in (0, 1], got {iou}.")
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}.")
    return iou, score


class _Image:
    """One image's validated boxes (xyxy float64), class ids and scores."""

    __slots__ = ("boxes", "labels", "scores")

    def __init__(self, d: Any, name: str, box_format: str, with_scores: bool) -> None:
        if not isinstance(d, Mapping):
            raise TypeError(
                f"{name} must be a dict with 'boxes' and 'labels'"
                f"{' and scores' if with_scores else ''}, got {type(d).__name__}."
            )
        keys = ("boxes", "labels", "scores") if with_scores else ("boxes", "labels")
        missing = [k for k in keys if k not in d]
        if missing:
            raise ValueError(f"{name} has no {missing} key(s); it needs {list(keys)}.")
        self.boxes = _boxes(d["boxes"], f"{name}['boxes']", box_format)
        n = len(self.boxes)
        self.labels = _class_ids(d["labels"], n, f"{name}['labels']")
        # ground truth has no scores: NaN, so that every _Image has the same fields
        self.scores = _scores(d["scores"], n, f"{name}['scores']") if with_scores else np.full(n, np.nan)


def _images(gt: Any, pred: Any, box_format: str) -> tuple[list[_Image], list[_Image]]:
    if box_format not in BOX_FORMATS:
        raise ValueError(f"box_format must be one of {BOX_FORMATS}, got {box_format!r}.")
    for name, v in (("gt", gt), ("pred", pred)):
        if isinstance(v, Mapping) or not isinstance(v, Sequence) or isinstance(v, (str, bytes)):
            raise TypeError(f"{name} must be a list with one dict per image, got {type(v).__name__}.")
    if len(gt) != len(pred):
        raise ValueError(
            f"gt has {len(gt)} images but pred has {len(pred)}; pass one dict per image "
            "in both, in the same order."
        )
    if len(gt) == 0:
        raise ValueError("gt and pred are empty; there are no images to match.")
    gts = [_Image(d, f"gt[{i}]", box_format, False) for i, d in enumerate(gt)]
    preds = [_Image(d, f"pred[{i}]", box_format, True) for i, d in enumerate(pred)]
    return gts, preds


def _n_classes(gts: list[_Image], preds: list[_Image], k: int | None) -> int:
    """``k``, or the largest class id + 1 when ``k`` is None; checks ids are below ``k``."""
    top = max((int(im.labels.max()) for im in (*gts, *preds) if len(im.labels)), default=0)
    if k is None:
        return top + 1
    if top >= k:
        where = next(
            f"{kind}[{i}]"
            for kind, ims in (("gt", gts), ("pred", preds))
            for i, im in enumerate(ims)
            if len(im.labels) and im.labels.max() == top
        )
        raise ValueError(
            f"{where}['labels'] contains class {top}, outside [0, {k}); pass labels= "
            "with one name per class id."
        )
    return k


# -- matching --------------------------------------------------------------------------
def box_iou(a: Any, b: Any) -> np.ndarray:
    """Intersection over union of every box of ``a`` with every box of ``b``.

    Parameters
    ----------
    a, b
        ``(n, 4)`` and ``(m, 4)`` xyxy boxes.

    Returns
    -------
    numpy.ndarray
        ``(n, m)`` float64; 0 where the union is empty (two zero-area boxes).

    Examples
    --------
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]]).round(3).tolist()
    [[0.333, 0.0]]
    """
    return _iou(_boxes(a, "a"), _boxes(b, "b"))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Outer products of coordinate columns: no (n, m, 2) temporaries, ~3× faster
    # than broadcasting the corner pairs at 50 × 50 boxes.
    ax0, ay0, ax1, ay1 = a.T
    bx0, by0, bx1, by1 = b.T
    iw = np.minimum.outer(ax1, bx1) - np.maximum.outer(ax0, bx0)
    ih = np.minimum.outer(ay1, by1) - np.maximum.outer(ay0, by0)
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    union = np.add.outer((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0)) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_image(
    gt_boxes: Any,
    gt_labels: Any,
    pred_boxes: Any,
    pred_labels: Any,
    pred_scores: Any,
    iou: float = 0.5,
    score: float = 0.0,
    class_wise: bool = False,
) -> list[tuple[int, int]]:
    """Match one image's predicted boxes to its ground truth (rules in the module
    docstring).

    Parameters
    ----------
    gt_boxes, pred_boxes
        ``(n, 4)`` and ``(m, 4)`` xyxy boxes.
    gt_labels, pred_labels
        ``(n,)`` and ``(m,)`` class ids.
    pred_scores
        ``(m,)`` scores.
    iou
        Minimum IoU of a match, in (0, 1].
    score
        Predictions with a lower score are ignored.
    class_wise
        Only match a prediction to ground truth of its own class.

    Returns
    -------
    list of (gt index or -1, pred index or -1)
        First one pair per prediction taking part, in visiting order (descending
        score), ``(g, p)`` or ``(-1, p)`` when unmatched; then ``(g, -1)`` for each
        unmatched ground-truth box, in index order.

    Examples
    --------
    >>> gt = [[0, 0, 10, 10]]
    >>> match_image(gt, [3], [[0, 0, 10, 10], [1, 1, 10, 10]], [3, 5], [0.6, 0.9])
    [(0, 1), (-1, 0)]
    """
    g = _boxes(gt_boxes, "gt_boxes")
    p = _boxes(pred_boxes, "pred_boxes")
    gl = _class_ids(gt_labels, len(g), "gt_labels")
    pl = _class_ids(pred_labels, len(p), "pred_labels")
    ps = _scores(pred_scores, len(p), "pred_scores")
    iou, score = _check_thresholds(iou, score)
    return _match(g, gl, p, pl, ps, iou, score, class_wise)


def _match(
    g: np.ndarray,
    gl: np.ndarray,
    p: np.ndarray,
    pl: np.ndarray,
    ps: np.ndarray,
    iou: float,
    score: float,
    class_wise: bool,
) -> list[tuple[int, int]]:
    keep = np.flatnonzero(ps >= score)
    order = keep[np.argsort(-ps[keep], kind="stable")]
    taken = [False] * len(g)
    out: list[tuple[int, int]] = []
    if len(g) and len(order):
        ious = _iou(p[order], g)
        ok = ious >= iou
        if class_wise:
            ok &= pl[order][:, None] == gl[None, :]
        n_ok = np.count_nonzero(ok, axis=1).tolist()
        key = np.where(ok, ious, -1.0)
        best = key.argmax(axis=1).tolist()  # highest IoU, ties → lower gt index
        for i, pi in enumerate(order.tolist()):
            match = -1
            if n_ok[i]:
                match = best[i]
                if taken[match]:  # rare: fall back to this prediction's other candidates
                    cands = np.argsort(-key[i], kind="stable")[: n_ok[i]].tolist()
                    match = next((c for c in cands if not taken[c]), -1)
                if match >= 0:
                    taken[match] = True
            out.append((match, pi))
    else:
        out.extend((-1, pi) for pi in order.tolist())
    out.extend((gi, -1) for gi, t in enumerate(taken) if not t)
    return out


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]``."""
    lo = np.maximum(a[:, :2], b[:, :2])
    hi = np.minimum(a[:, 2:], b[:, 2:])
    wh = np.clip(hi - lo, 0.0, None)
    inter = wh[:, 0] * wh[:, 1]
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


class _Entries:
    """All matching outcomes of a data set, one element per matrix +1: the image,
    the gt and pred box indices in that image (-1: none), the cell, the prediction's
    score and the pair's IoU (NaN: none)."""

    def __init__(
        self,
        gts: list[_Image],
        preds: list[_Image],
        n_classes: int,
        iou: float,
        score: float,
        class_wise: bool,
    ) -> None:
        img: list[int] = []
        gi: list[int] = []
        pi: list[int] = []
        for i, (g, p) in enumerate(zip(gts, preds)):
            pairs = _match(g.boxes, g.labels, p.boxes, p.labels, p.scores, iou, score, class_wise)
            if pairs:
                g_idx, p_idx = zip(*pairs)
                img.extend([i] * len(pairs))
                gi.extend(g_idx)
                pi.extend(p_idx)
        self.image = np.asarray(img, dtype=np.int64)
        self.gt = np.asarray(gi, dtype=np.int64)
        self.pred = np.asarray(pi, dtype=np.int64)
        n = len(self.image)
        self.row = np.full(n, n_classes, dtype=np.int64)
        self.col = np.full(n, n_classes, dtype=np.int64)
        self.score = np.full(n, np.nan, dtype=np.float32)
        self.iou = np.full(n, np.nan, dtype=np.float64)
        # Look boxes up in the concatenation of all images' boxes: box j of image i
        # is at offset[i] + j.
        g_off, g_boxes, g_labels, _ = _concat(gts)
        p_off, p_boxes, p_labels, p_scores = _concat(preds)
        has_g, has_p = self.gt >= 0, self.pred >= 0
        g_at = g_off[self.image[has_g]] + self.gt[has_g]
        p_at = p_off[self.image[has_p]] + self.pred[has_p]
        self.row[has_g] = g_labels[g_at]
        self.col[has_p] = p_labels[p_at]
        self.score[has_p] = p_scores[p_at]
        both = has_g & has_p
        self.iou[both] = _paired_iou(
            g_boxes[g_off[self.image[both]] + self.gt[both]],
            p_boxes[p_off[self.image[both]] + self.pred[both]],
        )


def _concat(ims: list[_Image]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-image offsets and the concatenated boxes, labels and scores."""
    sizes = np.array([len(im.boxes) for im in ims], dtype=np.int64)
    offsets = np.cumsum(sizes) - sizes
    boxes = np.concatenate([im.boxes for im in ims])
    labels = np.concatenate([im.labels for im in ims])
    scores = np.concatenate([im.scores for im in ims])
    return offsets, boxes, labels, scores


def detection_matrix(
    gt: Sequence[Mapping[str, Any]],
    pred: Sequence[Mapping[str, Any]],
    num_classes: int | None = None,
    iou: float = 0.5,
    score: float = 0.0,
    box_format: str = "xyxy",
    class_wise: bool = False,
) -> np.ndarray:
    """The ``(K+1)×(K+1)`` detection confusion matrix, background last.

    Parameters
    ----------
    gt, pred
        One dict per image (see the module docstring).
    num_classes
        ``K``; the largest class id + 1 by default.
    iou, score, class_wise
        See :func:`match_image`.
    box_format
        ``"xyxy"`` or ``"xywh"``.

    Returns
    -------
    numpy.ndarray
        ``(K+1, K+1)`` int64; rows ground truth, columns predictions.

    Examples
    --------
    >>> gt = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
    >>> pred = [{"boxes": [[0, 0, 10, 9]], "labels": [0], "scores": [0.8]}]
    >>> detection_matrix(gt, pred).tolist()
    [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    """
    gts, preds = _images(gt, pred, box_format)
    iou, score = _check_thresholds(iou, score)
    k = _n_classes(gts, preds, None if num_classes is None else int(num_classes))
    e = _Entries(gts, preds, k, iou, score, class_wise)
    return np.bincount(e.row * (k + 1) + e.col, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
