"""``ConfusionRecorder(task="detection", labels=...)``: record a detector's boxes
while it trains, one epoch at a time, for a live widget and an optional run log.

:class:`DetectionRecorder` is what ``ConfusionRecorder(task="detection", ...)``
returns (see :class:`RecorderTask`, the recorder's metaclass).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ._detection_input import EpochImages
from ._recorder_buffer import class_names
from ._recorder_images import source_by_id
from ._recorder_lifetime import RecorderLifetime
from ._store_codec import check_name, params_json
from ._util import is_torch_tensor, json_id, to_numpy
from .detection import DEFAULT_IOU, DEFAULT_SCORE, DetectionSource
from .matching import _check_thresholds, _Image
from .sources import validate_sample_ids

if TYPE_CHECKING:
    from .store import RunInfo, RunStore

__all__ = ["TASKS", "DetectionRecorder", "RecorderTask"]

TASKS = ("classification", "detection")


class RecorderTask(type):
    """Metaclass of ``ConfusionRecorder``: ``task="detection"`` makes a
    :class:`DetectionRecorder`; ``task="classification"`` (the default) the classifier's
    recorder."""

    def __call__(cls, *args: Any, task: str = "classification", **kwargs: Any) -> Any:
        if task == "detection":
            return DetectionRecorder(*args, **kwargs)
        if task != "classification":
            raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
        return super().__call__(*args, **kwargs)


def _detached(d: Any, name: str) -> Any:
    """A batch entry held until ``end_epoch``: tensors detached, on their device."""
    if not isinstance(d, Mapping):
        raise TypeError(f"{name} must be a dict with 'boxes' and 'labels', got {type(d).__name__}.")
    return {k: v.detach() if is_torch_tensor(v) else np.array(v, copy=True) for k, v in d.items()}


class DetectionRecorder(RecorderLifetime):
    """Record a detection model's outputs batch by batch, one epoch at a time.

    Make it with ``ConfusionRecorder(labels, task="detection", ...)``.

    Parameters
    ----------
    labels
        ``K >= 1`` class names (class ids index them), or ``K``.
    images
        Optional images indexed by **image id** (as ``ConfusionRecorder``'s).
    store
        A run-log path (opened in append mode, closed by :meth:`close`) or a
        :class:`~confusion_widget.RunStore` open in mode ``"a"``.
    run
        The run's name in the log (default: ``"run-<date>-<time>"``).
    params
        Settings saved with the run (JSON-able values).
    if_exists
        When ``run`` is already in the log: ``"error"`` (default), ``"resume"``
        (continue it: its epochs are loaded, the next ``end_epoch`` appends after
        them; its images and labels must be this recorder's) or ``"overwrite"``.
    iou, score
        The thresholds the widget starts with (the same defaults as
        ``from_detections``: 0.5 and 0.0); the widget's sliders change them. A
        resumed run keeps the thresholds it was recorded with.
    class_wise
        Only match a prediction to ground truth of its own class.
    mean, std
        Per-channel normalisation to undo when making thumbnails of float images.

    Notes
    -----
    ``update`` keeps the tensors on their device (detached, not copied; do not
    modify them in place); ``end_epoch`` copies the epoch to the host once. The
    first epoch fixes the images and their order (by ``image_ids``, or a running
    index); later epochs must hold the same images, in any order.

    Examples
    --------
    >>> from confusion_widget import ConfusionRecorder
    >>> rec = ConfusionRecorder(["cat", "dog"], task="detection")
    >>> rec.update([{"boxes": [[0, 0, 10, 9]], "labels": [1], "scores": [0.9]}],
    ...            [{"boxes": [[0, 0, 10, 10]], "labels": [1]}], image_ids=[7])
    >>> rec.end_epoch().tolist()
    [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    """

    def __init__(
        self,
        labels: Sequence[Any] | int,
        images: Any = None,
        store: str | Any = None,
        run: str | None = None,
        params: dict[str, Any] | None = None,
        if_exists: str = "error",
        iou: float = DEFAULT_IOU,
        score: float = DEFAULT_SCORE,
        class_wise: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        from .store import RunExistsError, RunStore

        self.labels = class_names(labels)
        self.iou, self.score = _check_thresholds(iou, score)
        self.class_wise = bool(class_wise)
        if if_exists not in ("error", "resume", "overwrite"):
            raise ValueError(f"if_exists must be 'error', 'resume' or 'overwrite', got {if_exists!r}.")
        if run is not None and not check_name(run):
            raise ValueError("run must be a non-empty name (or None for a dated one).")
        params_json(params)
        self._name = run if run is not None else datetime.now().strftime("run-%Y%m%d-%H%M%S")
        self._params, self._if_exists = dict(params or {}), if_exists
        self._images_in, self._mean, self._std = images, mean, std
        self._batches: list[tuple[list[Any], list[Any], Any]] = []
        self._source: DetectionSource | None = None
        self._pos_of: dict[Any, int] = {}
        self._first_epoch = threading.Event()
        self._closed = False
        self._store: RunStore | None = None
        self._owns_store = False
        self._info: RunInfo | None = None
        if store is not None:
            if isinstance(store, RunStore):
                if store.mode != "a":
                    raise ValueError(f"store={store!r} is open read-only; open it with mode='a'.")
                self._store = store
            else:
                self._store, self._owns_store = RunStore(store, mode="a"), True
            info = next((r for r in self._store.runs() if r.name == self._name), None)
            try:
                if info is not None and if_exists == "error":
                    raise RunExistsError(
                        f"{self._store.path} already has a run named {self._name!r}; pass "
                        "if_exists='resume' to continue it or if_exists='overwrite' to replace it."
                    )
                if info is not None and if_exists == "resume":
                    self._resume(info)
            except BaseException:
                self.close()
                raise

    def _resume(self, info: RunInfo) -> None:
        """Continue the log's run ``info``: its epochs become the live source's."""
        from ._store_detection import is_detection_run, load_detection

        store = self._store
        assert store is not None
        if info.labels != self.labels:
            raise ValueError(
                f"cannot resume run {self._name!r} in {store.path}: its labels are "
                f"{info.labels}, not {self.labels}."
            )
        if not info.n_epochs:
            return  # killed before its first epoch: the first end_epoch continues it
        if not is_detection_run(store, info):
            raise ValueError(
                f"cannot resume run {self._name!r} in {store.path}: it is a classifier's run; "
                "record detections under another run name."
            )
        src = load_detection(store, info)
        if src.images is None and self._images_in is not None:
            src.images = source_by_id(self._images_in, src.sample_ids(), self._mean, self._std)
        self.iou, self.score, self.class_wise = src.iou, src.score, src.class_wise
        self._source, self._info = src, info
        self._pos_of = {v: i for i, v in enumerate(src.sample_ids().tolist())}
        self._first_epoch.set()

    # -- per batch ------------------------------------------------------------------
    def update(self, predictions: Sequence[Any], targets: Sequence[Any], image_ids: Any = None) -> None:
        """Add one batch: a torchvision detection model's output and its targets.

        Parameters
        ----------
        predictions
            One dict per image: ``"boxes"`` ``(m, 4)`` xyxy, ``"labels"`` ``(m,)``,
            ``"scores"`` ``(m,)`` (torch tensors on any device, numpy, lists).
        targets
            One dict per image: ``"boxes"`` ``(n, 4)`` and ``"labels"`` ``(n,)``.
        image_ids
            ``(B,)`` unique image ids (ints or strings); a running index if omitted
            (which only lines up across epochs when the loader does not shuffle).

        Raises
        ------
        TypeError, ValueError
            Lists of different lengths, entries that are not dicts; a closed recorder.
        """
        self._check_open()
        for name, v in (("predictions", predictions), ("targets", targets)):
            if isinstance(v, (Mapping, str, bytes)) or not isinstance(v, Sequence):
                raise TypeError(f"{name} must be a list with one dict per image, got {type(v).__name__}.")
        if len(predictions) != len(targets):
            raise ValueError(f"predictions has {len(predictions)} images but targets has {len(targets)}.")
        ids = None
        if image_ids is not None:
            ids = to_numpy(image_ids, "image_ids", allow_text=True).reshape(-1)
            if len(ids) != len(predictions):
                raise ValueError(f"image_ids has {len(ids)} ids for {len(predictions)} images.")
        if self._batches and (ids is None) != (self._batches[0][2] is None):
            raise ValueError("pass image_ids to every update() of an epoch, or to none.")
        preds = [_detached(d, f"predictions[{i}]") for i, d in enumerate(predictions)]
        gts = [_detached(d, f"targets[{i}]") for i, d in enumerate(targets)]
        self._batches.append((preds, gts, ids))

    # -- per epoch ------------------------------------------------------------------
    def end_epoch(self) -> np.ndarray:
        """Close the epoch: validate it, write it to the log, add it to the live
        source (widgets update) and return its ``(K+1, K+1)`` matrix at the current
        thresholds.

        Raises
        ------
        ValueError
            No batch since the last epoch; invalid data, naming the image and the
            field (NaN scores, ``x1 < x0``, class ids outside ``labels``); image ids
            duplicated, or other than the first epoch's.
        """
        self._check_open()
        batches, self._batches = self._batches, []
        if not batches:
            raise ValueError("end_epoch() without any update() since the last epoch.")
        preds_in = [d for b in batches for d in b[0]]
        gts_in = [d for b in batches for d in b[1]]
        if batches[0][2] is None:
            ids = np.arange(len(preds_in), dtype=np.int64)
        else:
            ids = validate_sample_ids(np.concatenate([b[2] for b in batches]), len(preds_in))
        names = [f"image {json_id(v)!r}" for v in ids.tolist()]
        preds = [_Image(d, f"{n}: predictions", "xyxy", True) for n, d in zip(names, preds_in)]
        gts = [_Image(d, f"{n}: targets", "xyxy", False) for n, d in zip(names, gts_in)]
        k = len(self.labels)
        for kind, ims in (("targets", gts), ("predictions", preds)):
            for name, im in zip(names, ims):
                if len(im.labels) and im.labels.max() >= k:
                    raise ValueError(
                        f"{name}: {kind}['labels'] contains class {int(im.labels.max())}, outside "
                        f"[0, {k}); the recorder's labels name {k} classes."
                    )
        src = self._source
        if src is not None:
            order = self._align(ids)
            gts, preds = [gts[i] for i in order], [preds[i] for i in order]
            ids = src.sample_ids()
        if self._store is not None:
            self._write(ids, gts, preds, src is None)
        if src is None:
            images = (
                None if self._images_in is None else source_by_id(self._images_in, ids, self._mean, self._std)
            )
            epoch = EpochImages(gts, preds, np.arange(len(ids), dtype=np.int64))
            src = DetectionSource([epoch], self.labels, self.iou, self.score, self.class_wise, ids, images)
            self._pos_of = {v: i for i, v in enumerate(ids.tolist())}
            self._source = src
            self._first_epoch.set()
        else:
            src.append_epoch(gts, preds)
        return src.matrices()[-1, 0].copy()

    def _align(self, ids: np.ndarray) -> list[int]:
        """The order that puts this epoch's images in the first epoch's order."""
        where = {v: i for i, v in enumerate(ids.tolist())}
        unknown = [v for v in where if v not in self._pos_of]
        missing = [v for v in self._pos_of if v not in where]
        if unknown or missing:
            raise ValueError(
                f"this epoch's images differ from the first epoch's: unknown image ids "
                f"{unknown[:5]}, missing {missing[:5]}; every epoch must hold the same images."
            )
        return [where[v] for v in self._pos_of]

    def _write(self, ids: np.ndarray, gts: list[_Image], preds: list[_Image], first: bool) -> None:
        from ._store_detection import append_detection_epoch

        store = self._store
        assert store is not None
        if first:
            self._info = store.create_run(
                self._name, self.labels, ids, self._params, if_exists=self._if_exists
            )
            if self._images_in is not None:
                src = source_by_id(self._images_in, ids, self._mean, self._std)
                store.put_thumbnails(
                    self._info, {key: src.thumbnail(p) for p, key in enumerate(ids.tolist())}
                )
        assert self._info is not None
        append_detection_epoch(
            store, self._info, gts, preds, (self.iou, self.score, self.class_wise), self.n_epochs
        )

    # -- widgets and state ----------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the recorder of run {self._name!r} is closed; make a new recorder.")

    @property
    def n_epochs(self) -> int:
        """Epochs recorded so far."""
        return 0 if self._source is None else self._source.n_epochs

    @property
    def name(self) -> str:
        """The run's name."""
        return self._name

    @property
    def run(self) -> DetectionSource | None:
        """The live :class:`~confusion_widget.detection.DetectionSource` (``None``
        before the first ``end_epoch``)."""
        return self._source

    def as_source(self) -> DetectionSource:
        """The live detection source (raises ``RuntimeError`` before the first epoch)."""
        if self._source is None:
            raise RuntimeError("no epoch recorded yet: call end_epoch() first, or rec.widget(wait=seconds).")
        return self._source

    def __repr__(self) -> str:
        return f"DetectionRecorder(run={self._name!r}, epochs={self.n_epochs}, classes={len(self.labels)})"
