"""Detection runs in a run log (schema version 4): writing an epoch's boxes, labels
and scores per image, and reading a run back as a
:class:`~confusion_widget.detection.DetectionSource`.

A detection run is an ordinary ``runs`` row (its labels are the ``K`` classes, its
sample ids the image ids) with a ``detection_runs`` row (the thresholds it was
recorded with). Each epoch is one ``detections`` row: per image (in the run's sample
order) the number of ground-truth and predicted boxes, then all boxes, labels and
scores of the epoch concatenated, as little-endian arrays (no pickle).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _store_codec as codec
from . import _store_schema as schema
from ._detection_input import EpochImages
from .detection import DetectionSource
from .matching import _Image

if TYPE_CHECKING:
    from .sources import CellSource
    from .store import RunInfo, RunStore

__all__ = ["append_detection_epoch", "is_detection_run", "load_detection", "open_run"]


def _has_tables(store: RunStore) -> bool:
    return bool(store._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'detections'"))


def is_detection_run(store: RunStore, run: str | RunInfo) -> bool:
    """True when ``run`` in ``store`` was recorded as a detection run."""
    if not _has_tables(store):  # a log older than version 4, read as is
        return False
    row = store._row(run, "read")
    return bool(store._query("SELECT 1 FROM detection_runs WHERE run_id = ?", (row.id,)))


def detection_epoch_count(store: RunStore, run_id: int) -> int:
    """The number of detection epochs of a run (0 for a classifier's)."""
    if not _has_tables(store):
        return 0
    return int(store._query("SELECT count(*) FROM detections WHERE run_id = ?", (run_id,))[0][0])


def _concat(ims: list[_Image], with_scores: bool) -> list[bytes]:
    sizes = np.array([len(im.boxes) for im in ims], dtype="<i4")
    boxes = np.concatenate([im.boxes for im in ims]).astype("<f8") if ims else np.zeros((0, 4), "<f8")
    labels = np.concatenate([im.labels for im in ims]).astype("<i4") if ims else np.zeros(0, "<i4")
    out = [sizes.tobytes(), boxes.tobytes(), labels.tobytes()]
    if with_scores:
        out.append(np.concatenate([im.scores for im in ims]).astype("<f8").tobytes() if ims else b"")
    return out


def append_detection_epoch(
    store: RunStore,
    run: RunInfo,
    gts: list[_Image],
    preds: list[_Image],
    thresholds: tuple[float, float, bool],
    epoch: int | None = None,
) -> int:
    """Append one detection epoch (images in the run's sample order) in one
    transaction; the first one marks the run as a detection run with its thresholds
    ``(iou, score, class_wise)``. Returns the epoch's number.

    Raises
    ------
    RunStoreError
        Another writer replaced the run or appended to it (``epoch`` given and not
        the next number), or the write failed.
    ValueError
        A number of images other than the run's.
    """
    with store._writing() as conn:
        row = store._row(run, "append an epoch to")
        if len(gts) != row.n or len(preds) != row.n:
            raise ValueError(
                f"the epoch has {len(preds)} images; run {row.name!r} in {store.path} has {row.n}."
            )
        number = conn.execute(
            "SELECT coalesce(max(epoch) + 1, 0) FROM detections WHERE run_id = ?", (row.id,)
        ).fetchone()[0]
        if epoch is not None and epoch != number:
            raise store._error(
                f"holds {number} epochs of run {row.name!r}, not the {epoch} this writer recorded: "
                "another writer appended to it meanwhile. Nothing was written."
            )
        iou, score, class_wise = thresholds
        conn.execute(
            "INSERT OR IGNORE INTO detection_runs (run_id, iou, score, class_wise) VALUES (?, ?, ?, ?)",
            (row.id, float(iou), float(score), int(bool(class_wise))),
        )
        conn.execute(
            "INSERT INTO detections (run_id, epoch, created, gt_sizes, gt_boxes, gt_labels, "
            "pred_sizes, pred_boxes, pred_labels, pred_scores) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, number, schema.now(), *_concat(gts, False), *_concat(preds, True)),
        )
    return int(number)


def _images(path: Any, name: str, blobs: tuple[Any, ...], n: int, what: str, scores: bool) -> list[_Image]:
    """One epoch's boxes of one kind (``gt``/``pred``) back into per-image records."""
    try:
        sizes = np.frombuffer(blobs[0], "<i4").astype(np.int64)
        boxes = np.frombuffer(blobs[1], "<f8").reshape(-1, 4)
        labels = np.frombuffer(blobs[2], "<i4").astype(np.int64)
        vals = np.frombuffer(blobs[3], "<f8") if scores else np.full(len(labels), np.nan)
        ok = len(sizes) == n and (sizes >= 0).all() and sizes.sum() == len(boxes) == len(labels) == len(vals)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise codec.damaged(path, name, f"has {what} boxes that do not fit its {n} images")
    out = []
    for s in np.split(np.arange(len(boxes)), np.cumsum(sizes)[:-1]):
        im = _Image.__new__(_Image)
        im.boxes, im.labels, im.scores = boxes[s], labels[s], vals[s]
        out.append(im)
    return out


def load_detection(store: RunStore, run: str | RunInfo) -> DetectionSource:
    """Read a detection run as a :class:`~confusion_widget.detection.DetectionSource`
    (every epoch, at the thresholds it was recorded with; thumbnails if stored).

    Raises
    ------
    RunStoreError
        No finished epoch yet, or damaged data (the message names the file and run).
    """
    from ._stored_images import StoredImages
    from .matrix import validate_labels

    with store._reading():
        row = store._row(run, "load")
        (iou, score, class_wise), *_ = store._query(
            "SELECT iou, score, class_wise FROM detection_runs WHERE run_id = ?", (row.id,)
        )
        rows = store._query(
            "SELECT epoch, gt_sizes, gt_boxes, gt_labels, pred_sizes, pred_boxes, pred_labels, "
            "pred_scores FROM detections WHERE run_id = ? ORDER BY epoch",
            (row.id,),
        )
        n_thumbs = store._query("SELECT count(*) FROM thumbnails WHERE run_id = ?", (row.id,))[0][0]
    if not rows:
        raise store._error(f"has no finished epoch of run {row.name!r} yet; a run needs one to be shown.")
    ids = codec.decode_ids(store.path, row)
    pos = np.arange(row.n, dtype=np.int64)
    k = len(row.labels)
    epochs = []
    for r in rows:
        gts = _images(store.path, row.name, r[1:4], row.n, f"epoch {r[0]}'s ground-truth", False)
        preds = _images(store.path, row.name, r[4:8], row.n, f"epoch {r[0]}'s predicted", True)
        for kind, ims in (("ground-truth", gts), ("predicted", preds)):
            bad = [
                i
                for i, im in enumerate(ims)
                if len(im.labels) and not 0 <= im.labels.min() <= im.labels.max() < k
            ]
            if bad:
                raise codec.damaged(
                    store.path,
                    row.name,
                    f"has {kind} class ids outside [0, {k}) at epoch {r[0]}, image {bad[0]}",
                )
        epochs.append(EpochImages(gts, preds, pos))
    images = StoredImages(store.path, row.id, row.uid, row.n) if n_thumbs else None
    names = validate_labels(row.labels, k)
    return DetectionSource(epochs, names, float(iou), float(score), bool(class_wise), ids, images)


def open_run(path: str | os.PathLike[str], run: str) -> CellSource:
    """A run of a run log as a cell source: a :class:`~confusion_widget.Run` for a
    classifier's run, a :class:`~confusion_widget.detection.DetectionSource` for a
    detection run.

    Parameters
    ----------
    path
        The run log (opened read-only; it may be written meanwhile).
    run
        The run's name.

    Returns
    -------
    CellSource

    Raises
    ------
    KeyError
        No run of that name (the message lists the runs).
    RunStoreError
        Not a run log, damaged data, or a run without a finished epoch.
    """
    from .store import RunStore

    with RunStore(path, mode="r") as store:
        if is_detection_run(store, run):
            return load_detection(store, run)
        return store.load(run)
