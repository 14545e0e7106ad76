"""Object detection as a cell source: a ``(K+1)×(K+1)`` matrix per epoch whose last
row and column are the background, with the boxes drawn over each cell's images, and
score and IoU thresholds that can change after it is built. The matching rules are
in :mod:`confusion_widget.matching`; re-matching at new thresholds in
:mod:`confusion_widget._rematch`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._detection_input import EpochImages, read_epochs
from ._rematch import Candidates, MatchEntries
from .images import ImageProvider, image_source
from .matching import _check_thresholds, _Image
from .matrix import metric_rows, validate_labels
from .sources import (
    CellHits,
    CellIndex,
    CellSource,
    EpochCache,
    HasImageBoxes,
    HasMetrics,
    LazyExtras,
    Subscribers,
    confidence_key,
    epoch_names,
)

if TYPE_CHECKING:
    from .wire import Box, MetricRow

__all__ = ["BACKGROUND", "DEFAULT_IOU", "DEFAULT_SCORE", "DetectionSource", "detection_source"]

#: Name of the last row (unmatched predictions) and column (missed ground truth).
BACKGROUND = "background"
#: The thresholds a detection widget or recorder starts with, unless told otherwise.
DEFAULT_IOU = 0.5
DEFAULT_SCORE = 0.0


class DetectionSource(CellSource, HasMetrics, HasImageBoxes):
    """A cell source for detections: one ``(K+1)×(K+1)`` tile per epoch, at score and
    IoU thresholds that :meth:`set_thresholds` changes.

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
        The current matching parameters (see
        :func:`~confusion_widget.matching.match_image`).
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

    What does not depend on the thresholds (each prediction's candidate ground
    truth and their IoUs) is computed once per epoch; a new IoU threshold re-runs
    the greedy matching for all images at once, a new score threshold only drops
    predictions (see :mod:`confusion_widget._rematch`).
    """

    _index: EpochCache[tuple[int, float, float], tuple[MatchEntries, CellIndex]]

    def __init__(
        self,
        epochs: list[EpochImages],
        names: list[str],
        iou: float,
        score: float,
        class_wise: bool,
        sample_ids: np.ndarray,
        images: ImageProvider | None,
        epoch_labels: Sequence[Any] | None = None,
    ) -> None:
        self.class_names = names
        self.labels = [*names, BACKGROUND]
        self.class_wise = class_wise
        self.images = images
        self._epochs = epochs
        self._ids = sample_ids
        self._epoch_labels = epoch_names(epoch_labels, len(epochs))
        self._cands = [Candidates(ep.gts, ep.preds, len(names)) for ep in epochs]
        self._local: list[dict[int, int] | None] = [
            None
            if np.array_equal(ep.pos, np.arange(len(ep.pos)))
            else {p: i for i, p in enumerate(ep.pos.tolist())}
            for ep in epochs
        ]
        self._subscribers = Subscribers()
        self._index = EpochCache()
        self._lock = threading.RLock()
        self.iou, self.score = iou, score
        self._compute()

    # -- thresholds --------------------------------------------------------------------
    def set_thresholds(self, score: float | None = None, iou: float | None = None) -> None:
        """Re-match every epoch at new thresholds and notify subscribers.

        Parameters
        ----------
        score
            Predictions scoring below it are ignored; in [0, 1] (unchanged if None).
        iou
            Minimum IoU of a match, in (0, 1] (unchanged if None).

        Raises
        ------
        ValueError, TypeError
            For a threshold outside its range or not a number.
        """
        iou_, score_ = _check_thresholds(
            self.iou if iou is None else iou, self.score if score is None else score
        )
        with self._lock:
            if (iou_, score_) == (self.iou, self.score):
                return
            self.iou, self.score = iou_, score_
            self._compute()
        self._subscribers.notify()

    def append_epoch(self, gts: list[_Image], preds: list[_Image], label: str | None = None) -> None:
        """Add an epoch of the same images (in the order of :meth:`sample_ids`), as a
        detection recorder does after each epoch, and notify subscribers."""
        if len(gts) != len(self._ids) or len(preds) != len(self._ids):
            raise ValueError(f"an epoch needs {len(self._ids)} images, got {len(preds)}.")
        cands = Candidates(gts, preds, len(self.class_names))
        with self._lock:
            self._cands.append(cands)
            self._local.append(None)
            self._epochs.append(EpochImages(gts, preds, np.arange(len(self._ids), dtype=np.int64)))
            self._epoch_labels = [*self._epoch_labels, label or f"epoch {len(self._epochs) - 1}"]
            self._compute()
        self._subscribers.notify()

    def _compute(self) -> None:
        """The counts at the current thresholds (the outcomes behind the cells are
        made when a cell of the epoch is first asked for)."""
        k = len(self.labels)
        iou, score, cw = self.iou, self.score, self.class_wise
        codes = [c.codes(iou, score, cw) for c in self._cands]
        mats = np.stack([np.bincount(c, minlength=k * k).reshape(k, k) for c in codes])[:, None]
        self._state = ((iou, score), mats)  # read with n_epochs = len(mats) in one step
        self._index.clear()

    def subscribe(self, callback: Callable[[], None]) -> None:
        self._subscribers.add(callback)

    # -- the cell-source protocol ----------------------------------------------------
    @property
    def n_epochs(self) -> int:
        return len(self._state[1])

    @property
    def epoch_labels(self) -> list[str]:
        return self._epoch_labels[: self.n_epochs]

    def matrices(self) -> np.ndarray:
        """``(E, 1, K+1, K+1)`` int64 counts at the current thresholds."""
        return self._state[1]

    def sample_ids(self) -> np.ndarray:
        return self._ids

    def entries(self, epoch: int) -> MatchEntries:
        """The matching outcomes of ``epoch`` at the current thresholds (image indices
        are the epoch's own; :meth:`positions` maps them to sample positions)."""
        return self._outcomes(epoch)[0]

    def _outcomes(self, epoch: int) -> tuple[MatchEntries, CellIndex]:
        (iou, score), _ = self._state

        def build() -> tuple[MatchEntries, CellIndex]:
            e = self._cands[epoch].entries(iou, score, self.class_wise)
            return e, CellIndex(e.row * len(self.labels) + e.col, confidence_key(e.score), e.image, e.gt)

        return self._index.get((epoch, iou, score), build)

    def positions(self, epoch: int) -> np.ndarray:
        """Sample position of each image of ``epoch``."""
        return self._epochs[epoch].pos

    def metrics(self, epoch: int = -1) -> list[MetricRow]:
        """Per class at ``epoch`` and the current thresholds, as COCO counts them
        (class-wise greedy matching, whatever ``class_wise``): precision (matched /
        predictions of the class), recall (matched / its ground-truth boxes), F1,
        AP (pycocotools' 101-point interpolated average precision at the current
        IoU threshold, over the predictions kept by the score threshold; ``None``
        for a class without ground truth) and support (ground-truth boxes)."""
        fig = self._cands[epoch].class_figures(self.iou, self.score)
        p, r = np.nan_to_num(fig["precision"]), np.nan_to_num(fig["recall"])
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.nan_to_num(2 * p * r / (p + r))
        rows = metric_rows(self.class_names, p, r, f1, fig["support"])
        for row, ap in zip(rows, fig["ap"].tolist()):
            row["ap"] = None if ap != ap else ap
        return rows

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """The matching outcomes counted in one cell, highest score first."""
        e, index = self._outcomes(epoch)
        idx = index[row * len(self.labels) + col]
        pos = self._epochs[epoch].pos
        return CellHits(
            pos[e.image[idx]],
            e.score[idx],
            LazyExtras(len(idx), lambda i: self._extra(e, epoch, int(idx[i]))),
        )

    def image_boxes(self, pos: int, epoch: int = -1) -> list[Box]:
        """Every ground-truth box of image ``pos`` at ``epoch`` (the last by default),
        then its predictions at or above the score threshold (highest score first),
        as box dicts; empty when the image is not in that epoch."""
        ep = self._epochs[epoch]
        local = self._local[epoch]
        i = int(pos) if local is None else local.get(int(pos), -1)
        if not 0 <= i < len(ep.gts):
            return []
        g, p = ep.gts[i], ep.preds[i]
        keep = np.flatnonzero(p.scores >= self.score)
        keep = keep[np.argsort(-p.scores[keep], kind="stable")]
        return [self._gt_box(g, j) for j in range(len(g.boxes))] + [
            self._pred_box(p, j) for j in keep.tolist()
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

    def _extra(self, e: MatchEntries, epoch: int, j: int) -> dict[str, Any]:
        ep = self._epochs[epoch]
        im, gi, pi = int(e.image[j]), int(e.gt[j]), int(e.pred[j])
        boxes: list[Box] = []
        if gi >= 0:
            boxes.append(self._gt_box(ep.gts[im], gi))
        if pi >= 0:
            boxes.append(self._pred_box(ep.preds[im], pi))
        if gi >= 0 and pi >= 0:
            caption = f"IoU {e.iou[j]:.2f}"
        else:
            caption = "missed" if pi < 0 else "no match"
        return {"boxes": boxes, "caption": caption}

    def __repr__(self) -> str:
        return (
            f"DetectionSource(images={len(self._ids)}, classes={len(self.class_names)}, "
            f"epochs={self.n_epochs}, iou={self.iou}, score={self.score}, class_wise={self.class_wise})"
        )


def detection_source(
    gt: Sequence[Any],
    pred: Sequence[Any],
    labels: Sequence[Any] | None = None,
    iou: float = DEFAULT_IOU,
    score: float = DEFAULT_SCORE,
    images: Any = None,
    box_format: str = "xyxy",
    class_wise: bool = False,
    sample_ids: Any = None,
    epoch_labels: Sequence[Any] | None = None,
) -> DetectionSource:
    """A cell source for object detection, background last, over one epoch or several.

    Parameters
    ----------
    gt
        One dict per image: ``"boxes"`` ``(n, 4)`` and ``"labels"`` ``(n,)``
        (numpy, lists, torch tensors on any device); shared by every epoch, or one
        such list per epoch.
    pred
        One dict per image: ``"boxes"``, ``"labels"`` and ``"scores"`` ``(m,)``; a
        torchvision detection model's output as it comes. Or one such list per
        epoch (``pred[e][i]`` is image ``i`` at epoch ``e``).
    labels
        ``K`` class names (``"0" … "K-1"``, K = the largest class id + 1, by
        default); :data:`BACKGROUND` is appended.
    iou
        Minimum IoU of a match, in (0, 1]; the widget's ``iou_threshold`` starts here.
    score
        Predictions scoring below it are ignored, in [0, 1]; the widget's
        ``score_threshold`` starts here.
    images
        One image per image id (anything :class:`~confusion_widget.ImageSource`
        accepts), or an :class:`~confusion_widget.images.ImageProvider`.
    box_format
        ``"xyxy"`` (default) or ``"xywh"``; the box dicts sent to the frontend are
        always xyxy.
    class_wise
        Only match a prediction to ground truth of its own class.
    sample_ids
        ``(n_images,)`` unique image ids (``0 … n-1`` by default); or, when epochs
        hold different images, one list of ids per epoch (then ``gt`` is one list
        per epoch too, and the images are the ids of all epochs in order of first
        appearance).
    epoch_labels
        Names of the epochs (``"epoch 0"``, … by default).

    Returns
    -------
    DetectionSource

    Raises
    ------
    TypeError
        If ``gt``/``pred`` are not lists of dicts (or lists of them per epoch).
    ValueError
        Naming the image and the field (``pred[1][3]['scores']`` is image 3 at
        epoch 1): lists of different lengths, epochs with different numbers of
        images without per-epoch ``sample_ids``, missing keys, boxes that are not
        ``(n, 4)``, NaN/inf coordinates or scores, boxes with ``x1 < x0`` or
        ``y1 < y0``, labels and boxes of different lengths, class ids outside
        ``labels``; thresholds out of range, or a ``box_format`` other than
        xyxy/xywh.

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
    >>> src.set_thresholds(score=0.5)
    >>> src.matrices()[0, 0].tolist()
    [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    """
    iou, score = _check_thresholds(iou, score)
    epochs, ids, k = read_epochs(gt, pred, box_format, sample_ids, None if labels is None else len(labels))
    names = validate_labels(labels, k)
    validate_labels([*names, BACKGROUND], k + 1)
    return DetectionSource(
        epochs, names, iou, score, bool(class_wise), ids, image_source(images, ids), epoch_labels
    )
