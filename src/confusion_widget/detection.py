"""Object detection as a cell source: a ``(K+1)×(K+1)`` matrix whose last row and
column are the background, with the boxes drawn over each cell's images. The matching
rules are in :mod:`confusion_widget.matching`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .images import ImageProvider, image_source
from .matching import _check_thresholds, _Entries, _Image, _images, _n_classes
from .matrix import metric_rows, per_class_metrics, validate_labels
from .sources import (
    CellHits,
    CellIndex,
    CellSource,
    EpochCache,
    HasImageBoxes,
    HasMetrics,
    LazyExtras,
    confidence_key,
    validate_sample_ids,
)

if TYPE_CHECKING:
    from .wire import Box, MetricRow

__all__ = ["BACKGROUND", "DetectionSource", "detection_source"]

#: Name of the last row (unmatched predictions) and column (missed ground truth).
BACKGROUND = "background"


class DetectionSource(CellSource, HasMetrics, HasImageBoxes):
    """A cell source for detections: one ``(K+1)×(K+1)`` tile, one epoch.

    Build it with :func:`detection_source`. Positions (and sample ids) are images:
    one cell entry is one matched pair, unmatched prediction or missed ground-truth
    box, so several entries of a cell can show the same image.

    Attributes
    ----------
    labels
        ``K`` class names then :data:`BACKGROUND`.
    class_names
        The ``K`` class names.
    iou, score, class_wise
        The matching parameters (see :func:`~confusion_widget.matching.match_image`).
    images
        An :class:`~confusion_widget.images.ImageProvider` of the images, or ``None``.

    Notes
    -----
    Panel order inside a cell: highest prediction score first; missed ground truth
    (no prediction, confidence NaN) by image then box index. Each entry's ``extra``
    is ``{"boxes": [...], "caption": ...}``: the ground-truth and/or predicted box
    of the entry, as ``{"kind": "gt"|"pred", "xyxy": [x0, y0, x1, y1], "label":
    name}`` (predictions add ``"score"``) in the original image's pixels, and a
    caption with the pair's IoU.
    """

    def __init__(
        self,
        gts: list[_Image],
        preds: list[_Image],
        names: list[str],
        iou: float,
        score: float,
        class_wise: bool,
        sample_ids: np.ndarray,
        images: ImageProvider | None,
    ) -> None:
        self.class_names = names
        self.labels = [*names, BACKGROUND]
        self.iou, self.score, self.class_wise = iou, score, class_wise
        self.images = images
        self._gts, self._preds, self._ids = gts, preds, sample_ids
        k = len(names)
        e = _Entries(gts, preds, k, iou, score, class_wise)
        self._e = e
        self._code = e.row * (k + 1) + e.col
        self._matrix = np.bincount(self._code, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
        self._index: EpochCache[int, CellIndex] = EpochCache()

    @property
    def n_epochs(self) -> int:
        return 1

    def matrices(self) -> np.ndarray:
        """``(1, 1, K+1, K+1)`` int64 counts."""
        return self._matrix[None, None]

    def sample_ids(self) -> np.ndarray:
        return self._ids

    def metrics(self, epoch: int = -1) -> list[MetricRow]:
        """Per class (one epoch only): precision (matched as this class / predictions of it), recall
        (matched / ground truth of it), F1 and support (ground-truth boxes), from
        the matrix (a class confusion counts against both classes)."""
        return metric_rows(self.class_names, **per_class_metrics(self._matrix))

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """The matching outcomes counted in one cell, highest score first."""
        e = self._e
        index = self._index.get(0, lambda: CellIndex(self._code, confidence_key(e.score), e.image, e.gt))
        idx = index[row * len(self.labels) + col]
        return CellHits(e.image[idx], e.score[idx], LazyExtras(len(idx), lambda i: self._extra(int(idx[i]))))

    def image_boxes(self, pos: int, epoch: int = 0) -> list[Box]:
        """Every ground-truth box of image ``pos``, then its predictions at or above
        the score threshold (highest score first), as box dicts."""
        g, p = self._gts[int(pos)], self._preds[int(pos)]
        keep = np.flatnonzero(p.scores >= self.score)
        keep = keep[np.argsort(-p.scores[keep], kind="stable")]
        return [self._gt_box(g, i) for i in range(len(g.boxes))] + [
            self._pred_box(p, i) for i in keep.tolist()
        ]

    # -- internals -----------------------------------------------------------------
    def _gt_box(self, g: _Image, i: int) -> Box:
        return {"kind": "gt", "xyxy": g.boxes[i].tolist(), "label": self.class_names[g.labels[i]]}

    def _pred_box(self, p: _Image, i: int) -> Box:
        return {
            "kind": "pred",
            "xyxy": p.boxes[i].tolist(),
            "label": self.class_names[p.labels[i]],
            "score": float(p.scores[i]),
        }

    def _extra(self, j: int) -> dict[str, Any]:
        e = self._e
        im, gi, pi = int(e.image[j]), int(e.gt[j]), int(e.pred[j])
        boxes: list[Box] = []
        if gi >= 0:
            boxes.append(self._gt_box(self._gts[im], gi))
        if pi >= 0:
            boxes.append(self._pred_box(self._preds[im], pi))
        if gi >= 0 and pi >= 0:
            caption = f"IoU {e.iou[j]:.2f}"
        else:
            caption = "missed" if pi < 0 else "no match"
        return {"boxes": boxes, "caption": caption}

    def __repr__(self) -> str:
        return (
            f"DetectionSource(images={len(self._ids)}, classes={len(self.class_names)}, "
            f"iou={self.iou}, score={self.score}, class_wise={self.class_wise})"
        )


def detection_source(
    gt: Sequence[Mapping[str, Any]],
    pred: Sequence[Mapping[str, Any]],
    labels: Sequence[Any] | None = None,
    iou: float = 0.5,
    score: float = 0.0,
    images: Any = None,
    box_format: str = "xyxy",
    class_wise: bool = False,
    sample_ids: Any = None,
) -> DetectionSource:
    """A cell source for object detection, background last.

    Parameters
    ----------
    gt
        One dict per image: ``"boxes"`` ``(n, 4)`` and ``"labels"`` ``(n,)``
        (numpy, lists, torch tensors on any device).
    pred
        One dict per image: ``"boxes"``, ``"labels"`` and ``"scores"`` ``(m,)``; a
        torchvision detection model's output as it comes.
    labels
        ``K`` class names (``"0" … "K-1"``, K = the largest class id + 1, by
        default); :data:`BACKGROUND` is appended.
    iou
        Minimum IoU of a match, in (0, 1].
    score
        Predictions scoring below it are ignored.
    images
        One image per entry of ``gt`` (anything
        :class:`~confusion_widget.ImageSource` accepts), or an
        :class:`~confusion_widget.images.ImageProvider`.
    box_format
        ``"xyxy"`` (default) or ``"xywh"``; the box dicts sent to the frontend are
        always xyxy.
    class_wise
        Only match a prediction to ground truth of its own class.
    sample_ids
        ``(n_images,)`` unique image ids (``0 … n-1`` by default).

    Returns
    -------
    DetectionSource

    Raises
    ------
    TypeError
        If ``gt``/``pred`` are not lists of dicts.
    ValueError
        For lists of different lengths, missing keys, boxes that are not ``(n, 4)``,
        NaN/inf coordinates or scores, boxes with ``x1 < x0`` or ``y1 < y0``,
        labels and boxes of different lengths, class ids outside ``labels``,
        thresholds out of range, or a ``box_format`` other than xyxy/xywh.

    Examples
    --------
    >>> gt = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
    >>> pred = [{"boxes": [[0, 0, 10, 9], [20, 20, 30, 30]], "labels": [1, 0],
    ...          "scores": [0.9, 0.4]}]
    >>> src = detection_source(gt, pred, labels=["cat", "dog"])
    >>> src.labels
    ['cat', 'dog', 'background']
    >>> src.matrices()[0, 0].tolist()
    [[0, 0, 0], [0, 1, 0], [1, 0, 0]]
    """
    gts, preds = _images(gt, pred, box_format)
    iou, score = _check_thresholds(iou, score)
    k = _n_classes(gts, preds, None if labels is None else len(labels))
    names = validate_labels(labels, k)
    validate_labels([*names, BACKGROUND], k + 1)
    ids = validate_sample_ids(sample_ids, len(gts))
    return DetectionSource(gts, preds, names, iou, score, bool(class_wise), ids, image_source(images, ids))
