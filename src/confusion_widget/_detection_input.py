"""Detections as users give them, over one epoch or several → checked images per
epoch, the image ids and each epoch's image positions (for
:func:`confusion_widget.detection.detection_source`).

``pred`` is one list of per-image dicts (one epoch) or a list of such lists (one per
epoch); ``gt`` is one list shared by every epoch or one list per epoch. Epochs with
different images need per-epoch ``sample_ids`` (and per-epoch ground truth).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .matching import BOX_FORMATS, _Image, _n_classes
from .sources import validate_sample_ids

__all__ = ["EpochImages", "read_epochs"]


class EpochImages:
    """One epoch's validated ground truth and predictions, and the position (in the
    source's ids) of each of its images."""

    __slots__ = ("gts", "pos", "preds")

    def __init__(self, gts: list[_Image], preds: list[_Image], pos: np.ndarray) -> None:
        self.gts, self.preds, self.pos = gts, preds, pos


def _is_list(v: Any) -> bool:
    return isinstance(v, Sequence) and not isinstance(v, (str, bytes, Mapping))


def _per_epoch(v: Any, name: str) -> bool:
    """True for a list of lists (one per epoch), False for a list of dicts."""
    if not _is_list(v):
        raise TypeError(
            f"{name} must be a list with one dict per image (or one such list per epoch), "
            f"got {type(v).__name__}."
        )
    return len(v) > 0 and all(_is_list(x) for x in v)


def _ids_per_epoch(sample_ids: Any, n_epochs: int) -> bool:
    return (
        sample_ids is not None
        and _is_list(sample_ids)
        and len(sample_ids) == n_epochs
        and n_epochs > 0
        and all(_is_list(x) or isinstance(x, np.ndarray) for x in sample_ids)
    )


def read_epochs(
    gt: Any, pred: Any, box_format: str, sample_ids: Any, n_labels: int | None
) -> tuple[list[EpochImages], np.ndarray, int]:
    """Check ``gt``/``pred`` (one epoch or several) → the epochs, the image ids
    (positions) and ``K``.

    Raises
    ------
    TypeError, ValueError
        Naming the epoch, image and field: ``pred[1][3]['scores']`` is image 3 of
        epoch 1 (``pred[3]['scores']`` with one epoch).
    """
    if box_format not in BOX_FORMATS:
        raise ValueError(f"box_format must be one of {BOX_FORMATS}, got {box_format!r}.")
    multi = _per_epoch(pred, "pred")
    gt_multi = _per_epoch(gt, "gt")
    preds_in = list(pred) if multi else [pred]
    n_epochs = len(preds_in)
    if gt_multi and len(gt) != n_epochs:
        raise ValueError(
            f"gt has {len(gt)} lists (one per epoch) but pred has {n_epochs} epochs; pass one "
            "ground-truth list shared by every epoch, or one per epoch."
        )
    gts_in = list(gt) if gt_multi else [gt] * n_epochs
    for e, (g, p) in enumerate(zip(gts_in, preds_in)):
        where = f" at epoch {e}" if multi else ""
        if len(g) != len(p):
            g_name = f"gt[{e}]" if gt_multi else "gt"
            p_name = f"pred[{e}]" if multi else "pred"
            raise ValueError(
                f"{g_name} has {len(g)} images but {p_name} has {len(p)}; pass one dict per image "
                f"in both, in the same order{where}."
            )
        if not len(p):
            raise ValueError(f"gt and pred are empty{where}; there are no images to match.")
    per_epoch_ids = _ids_per_epoch(sample_ids, n_epochs) and multi
    sizes = [len(p) for p in preds_in]
    if not per_epoch_ids and len(set(sizes)) > 1:
        e = next(i for i, s in enumerate(sizes) if s != sizes[0])
        raise ValueError(
            f"pred[{e}] has {sizes[e]} images but pred[0] has {sizes[0]}; epochs with different "
            "images need image ids: pass sample_ids= as one list of image ids per epoch (and gt as "
            "one list per epoch)."
        )
    if per_epoch_ids and not gt_multi:
        raise ValueError(
            "sample_ids= holds one list per epoch, so gt must be one list per epoch too (the images "
            "of an epoch and their ground truth, in the same order)."
        )
    if per_epoch_ids:
        epoch_ids = [validate_sample_ids(ids, sizes[e]) for e, ids in enumerate(sample_ids)]
        kinds = {ids.dtype == object for ids in epoch_ids}
        if len(kinds) > 1:
            raise TypeError("sample_ids mixes integers and strings across epochs; use one kind.")
        seen: dict[Any, int] = {}
        for ids in epoch_ids:
            for v in ids.tolist():
                seen.setdefault(v, len(seen))
        all_ids = np.array(list(seen), dtype=object if kinds == {True} else np.int64)
        positions = [np.array([seen[v] for v in ids.tolist()], dtype=np.int64) for ids in epoch_ids]
    else:
        all_ids = validate_sample_ids(sample_ids, sizes[0])
        positions = [np.arange(sizes[0], dtype=np.int64)] * n_epochs
    epochs: list[EpochImages] = []
    shared: list[_Image] | None = None
    for e, (g, p) in enumerate(zip(gts_in, preds_in)):
        g_pre = f"gt[{e}]" if gt_multi else "gt"
        p_pre = f"pred[{e}]" if multi else "pred"
        if gt_multi or shared is None:
            gts = [_Image(d, f"{g_pre}[{i}]", box_format, False) for i, d in enumerate(g)]
            shared = gts
        preds_e = [_Image(d, f"{p_pre}[{i}]", box_format, True) for i, d in enumerate(p)]
        epochs.append(EpochImages(shared, preds_e, positions[e]))
    k = n_labels
    for e, ep in enumerate(epochs):
        try:
            k = _n_classes(ep.gts, ep.preds, n_labels)
        except ValueError as exc:
            if not multi:
                raise
            raise ValueError(f"epoch {e}: {exc}") from None
    if n_labels is None:  # the largest class id over every epoch + 1
        k = max(_n_classes(ep.gts, ep.preds, None) for ep in epochs)
    assert k is not None
    return epochs, all_ids, k
