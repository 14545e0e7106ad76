"""``ConfusionRecorder``: record a classifier's predictions while it trains.

Per batch, :meth:`ConfusionRecorder.update` reduces the model's outputs to what a confusion
matrix needs — predicted class, confidence — *on the outputs' device*, and appends the small
result to a per-epoch list. Nothing is copied to the host and nothing is read back per batch,
so a GPU loop is never synchronised by the recorder; :meth:`~ConfusionRecorder.end_epoch` does
one host copy per array for the whole epoch. Finished epochs live in a
:class:`~confusion_widget.Run` as int32 classes and float32 confidences (9 bytes per sample per
epoch), and optionally in a :class:`~confusion_widget.RunStore` file, one transaction per epoch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ._recorder_buffer import (
    EpochBuffer,
    SampleIndex,
    align,
    batch_kind,
    check_batch_ids,
    class_names,
    distributed,
    gather,
)
from ._recorder_detection import RecorderTask
from ._recorder_images import CapturedImages, encode_new, source_by_id
from ._recorder_lifetime import RecorderLifetime
from ._store_codec import check_name, params_json
from ._util import is_torch_tensor, json_id, to_numpy
from .counts import Coo
from .images import Encoded, ImageSource
from .matrix import check_class_ids
from .runs import Run
from .store import RunExistsError, RunInfo, RunStore, RunStoreError

if TYPE_CHECKING:
    pass

__all__ = ["ConfusionRecorder"]

_IF_EXISTS = ("error", "resume", "overwrite")


class ConfusionRecorder(RecorderLifetime, metaclass=RecorderTask):
    """Record predictions batch by batch, one epoch at a time, for a live widget and
    an optional run log on disk.

    Parameters
    ----------
    labels
        ``K >= 1`` class names, or the number of classes ``K >= 1``.
    images
        Optional image source indexed by **sample id**: an array/tensor of images,
        a list of PIL images or paths, a torch ``Dataset`` returning ``(image,
        label)`` (all indexed by integer ids ``0 … len - 1``), a mapping ``id ->
        image`` or a callable ``sample_id -> image``. Given once, nothing is
        captured per epoch. Alternatively pass ``images=`` to :meth:`update`.
    store
        A path of a run log (opened in append mode and closed by :meth:`close`) or a
        :class:`~confusion_widget.RunStore` open in mode ``"a"``. Each
        :meth:`end_epoch` is one transaction in it. Under ``torch.distributed``
        only rank 0 writes.
    run
        The run's name in the log, a non-empty string (default:
        ``"run-<date>-<time>"``).
    params
        Settings saved with the run (learning rate, …): string keys, JSON-able
        values (numpy/torch scalars and arrays are converted), checked here.
    if_exists
        When ``run`` is already in the log: ``"error"`` (default, raised here, before
        any training), ``"resume"`` (continue it: its epochs are loaded, numbering
        continues, labels and samples must match) or ``"overwrite"`` (replaced at the
        first ``end_epoch``).
    mean, std
        Per-channel normalisation to undo when making thumbnails of float images.
    task
        ``"classification"`` (default); ``"detection"`` makes a :class:`~confusion_widget.DetectionRecorder`.

    Raises
    ------
    PermissionError
        ``store`` is a path that cannot be written (the file, or its directory,
        where SQLite creates the ``-wal`` and ``-shm`` files): raised here, before
        any training. See :class:`~confusion_widget.RunStore` for the other errors
        of opening a log.

    Notes
    -----
    *GPU synchronisation.* ``update`` keeps torch tensors on their device: a
    batch's scores are copied into a block there (so outputs may be buffers the
    model writes again), and a full block — about 1 MiB of scores, or one batch —
    is reduced in place to each sample's argmax, winning and true-class scores,
    softmax denominator and margin (about 50 bytes per sample on the device, for the
    current epoch only). ``end_epoch`` concatenates the results and copies them to
    the host once. Validation that needs values (class ids in range, finite scores)
    therefore happens at ``end_epoch``. Targets and sample ids given as tensors are
    held by reference until then: do not modify them in place (numpy arrays are
    copied). ``update(..., images=)`` is the exception: it copies the images of
    samples not seen before to the host (the first epoch, once).

    *Memory.* Per-batch buffers hold one epoch; a finished epoch costs 9 bytes per
    sample (int32 true and predicted classes, a float32 confidence) in the run.

    *Sample order.* The first epoch fixes the order of samples; later epochs are
    aligned to it by sample id, so a shuffling validation loader is fine. Without
    ``sample_ids`` a running index is used, which only lines up when the loader does
    not shuffle. Under ``torch.distributed`` sample ids are required and duplicates
    (a ``DistributedSampler`` pads ranks with repeated samples) are dropped.

    *The log.* The recorder writes to the run it created (or resumed), identified by
    its uid, not just its name: if another writer replaces the run
    (``if_exists="overwrite"``) or appends to it, ``end_epoch`` raises
    :class:`~confusion_widget.store.RunStoreError` rather than mixing two runs.

    Examples
    --------
    >>> import numpy as np
    >>> rec = ConfusionRecorder(["cat", "dog"])
    >>> rec.update(np.array([[2.0, 0.1], [0.3, 1.2]]), np.array([0, 0]))
    >>> rec.end_epoch().tolist()
    [[1, 1], [0, 0]]
    >>> rec.n_epochs
    1
    """

    def __init__(
        self,
        labels: Sequence[Any] | int,
        images: Any = None,
        store: str | Any = None,
        run: str | None = None,
        params: dict[str, Any] | None = None,
        if_exists: str = "error",
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        self.labels = class_names(labels)
        if if_exists not in _IF_EXISTS:
            raise ValueError(f"if_exists must be one of {_IF_EXISTS}, got {if_exists!r}.")
        if isinstance(images, (str, bytes, os.PathLike)):
            raise TypeError("images must be a collection (one image per sample id), not a single path.")
        if run is not None and not check_name(run):
            raise ValueError("run must be a non-empty name (or None for a dated one).")
        params_json(params)  # not JSON-able: fail now, not after the first epoch
        self._images_in = images
        self._mean, self._std = mean, std
        self._params = dict(params or {})
        self._if_exists = if_exists
        self._name = run if run is not None else datetime.now().strftime("run-%Y%m%d-%H%M%S")
        self._buf = EpochBuffer()
        self._run: Run | None = None
        self._index = SampleIndex(np.empty(0, np.int64))  # the run's sample ids (first epoch)
        self._thumbs: dict[Any, Encoded] = {}  # captured via update(images=), by id
        self._unsaved_thumbs: dict[Any, Encoded] = {}  # … and not yet in the log
        self._image_source: ImageSource | None = None  # images= given once, by id
        self._source_saved = False  # its thumbnails are in the log
        self._first_epoch = threading.Event()
        self._closed = False
        self._rank, _ = distributed()
        self._store: RunStore | None = None
        self._info: RunInfo | None = None  # the run in the log, once created or resumed
        self._owns_store = False
        if store is not None and self._rank == 0:
            try:
                self._open_store(store)
            except BaseException:
                self.close()
                raise

    def _open_store(self, store: Any) -> None:
        if isinstance(store, RunStore):
            if store.mode != "a":
                raise ValueError(
                    f"store={store!r} is open read-only; pass the path or a RunStore opened with mode='a'."
                )
            self._store = store
        else:
            self._store, self._owns_store = RunStore(store, mode="a"), True
        info = next((r for r in self._store.runs() if r.name == self._name), None)
        if info is None:
            return
        if self._if_exists == "error":
            # Fail before the first epoch of training, not after it.
            raise RunExistsError(
                f"{self._store.path} already has a run named {self._name!r}; pass "
                "if_exists='resume' to continue it or if_exists='overwrite' to replace it."
            )
        if self._if_exists == "resume":
            if info.labels != self.labels:
                raise ValueError(
                    f"cannot resume run {self._name!r} in {self._store.path}: its labels "
                    f"are {info.labels}, not {self.labels}."
                )
            if info.n_epochs:
                self._adopt(self._store.load(info))
                self._info = info
            # else: a run killed before its first epoch; the first end_epoch checks
            # that its samples match and continues it.

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(
                f"the recorder of run {self._name!r} is closed; make a new ConfusionRecorder "
                "(if_exists='resume' continues the run in the log)."
            )

    # -- per batch ------------------------------------------------------------------
    def update(self, outputs: Any, targets: Any, sample_ids: Any = None, images: Any = None) -> None:
        """Add one batch.

        Parameters
        ----------
        outputs
            ``(B, K)`` logits, scores or probabilities (the argmax is the prediction
            and its softmax probability — the score itself for probabilities — the
            confidence), or ``(B,)`` predicted class ids (confidence unknown). With
            two labels, ``(B, 1)`` is a binary classifier's score for class 1 (a
            probability if the epoch's values are all in [0, 1], else a logit), as in
            :meth:`ConfusionWidget.from_predictions`. A torch tensor on any device, or
            a numpy array.
        targets
            ``(B,)`` true class ids.
        sample_ids
            ``(B,)`` unique ids of the batch's samples (ints or strings), e.g. the
            dataset indices. A running index when omitted (in every batch).
        images
            ``(B, …)`` images of the batch. Only samples without a thumbnail yet are
            encoded (once, on first sight) and kept as encoded bytes.

        Raises
        ------
        ValueError
            The recorder is closed, or the batch's shapes do not fit.
        """
        self._check_open()
        buf = self._buf
        shape = tuple(outputs.shape) if hasattr(outputs, "shape") else np.shape(outputs)
        kind = batch_kind(shape, len(self.labels), buf.kind)
        b = shape[0]
        if not (is_torch_tensor(outputs) or isinstance(outputs, np.ndarray)):
            outputs = to_numpy(outputs, "outputs")
        if not (is_torch_tensor(targets) or isinstance(targets, np.ndarray)):
            targets = to_numpy(targets, "targets")
        if tuple(targets.shape) != (b,):
            raise ValueError(
                f"targets must be ({b},) class ids for {b} outputs, got shape {tuple(targets.shape)}."
            )
        if sample_ids is None:
            ids = np.arange(buf.running, buf.running + b, dtype=np.int64)
        else:
            ids = (
                sample_ids
                if (is_torch_tensor(sample_ids) or isinstance(sample_ids, np.ndarray))
                else np.asarray(sample_ids)
            )
            check_batch_ids(ids, b)
        if images is not None:
            self._capture(images, ids)
        if sample_ids is None:
            buf.running += b
            buf.auto_ids = True
        else:
            buf.given_ids = True
        buf.add(kind, outputs, targets, ids)

    def _capture(self, images: Any, ids: Any) -> None:
        """Encode thumbnails of the batch's samples that have none yet."""
        host_ids = to_numpy(ids, "sample_ids") if is_torch_tensor(ids) else np.asarray(ids)
        new = encode_new(images, [json_id(v) for v in host_ids], self._thumbs, self._mean, self._std)
        self._thumbs.update(new)
        self._unsaved_thumbs.update(new)

    # -- per epoch ------------------------------------------------------------------
    def end_epoch(self) -> np.ndarray | Coo:
        """Close the epoch: align it to the run's sample order, write it to the store,
        append it to the run (live widgets update), and return its ``(K, K)`` matrix
        (rows true, columns predicted; a sparse ``Coo`` from 5,000 classes on).

        Raises
        ------
        ValueError
            The recorder is closed; no batch since the last ``end_epoch``. Or the
            epoch's data is invalid: class ids outside ``[0, K)``, non-finite scores,
            duplicated, unknown or missing sample ids compared with the first
            epoch, sample ids that ``images=`` cannot be indexed by, samples other
            than those of the run resumed from the log. Such an epoch could never be
            recorded: its batches are dropped.
        RunStoreError
            Writing the epoch to the log failed: the disk is full, the log stayed
            locked beyond the busy timeout, it was deleted, or another writer
            replaced the run or appended to it. The epoch is *not* lost: the
            recorder is left as it was before this call, with the epoch's batches
            still pending, so calling ``end_epoch()`` again retries (do so before
            the next epoch's ``update``). Under ``torch.distributed`` only rank 0
            writes, so only it raises, and it cannot retry alone.
        """
        self._check_open()
        buf, self._buf = self._buf, EpochBuffer()
        if not len(buf):
            raise ValueError("end_epoch() without any update() since the last epoch.")
        _, world = distributed()
        if world > 1 and buf.auto_ids:
            raise ValueError(
                "under torch.distributed every update() needs sample_ids (e.g. dataset "
                "indices): running indices of different ranks would collide."
            )
        if buf.auto_ids and buf.given_ids:
            raise ValueError("pass sample_ids to every update() of an epoch, or to none.")
        k = len(self.labels)
        y_true, y_pred, conf, ids, p_true, margin = buf.arrays(k)
        thumbs = self._unsaved_thumbs
        if world > 1:
            (y_true, y_pred, conf, p_true, margin), ids, thumbs = gather(
                (y_true, y_pred, conf, p_true, margin), ids, thumbs
            )
        y_true = check_class_ids(y_true, k, "targets").astype(np.int32)
        y_pred = check_class_ids(y_pred, k, "outputs").astype(np.int32)
        run, source = self._run, self._image_source
        if run is None:
            # The first epoch fixes the samples and their order; Run validates the ids.
            run = Run(
                self.labels,
                y_true,
                y_pred[None],
                conf[None],
                ids,
                name=self._name,
                p_true=[p_true],
                margin=[margin],
            )
            ids = run.sample_ids()
            if self._images_in is not None:
                source = self._images_source(ids)
        else:
            signals = [v for v in (p_true, margin) if v is not None]
            y_true, y_pred, conf, *signals = align(self._index, ids, y_true, y_pred, conf, *signals)
            if p_true is not None:
                p_true, margin = signals
            ids = run.sample_ids()
        if self._store is not None:
            try:
                self._write(self._store, ids, y_true, y_pred, conf, thumbs, source, p_true, margin)
            except BaseException as exc:
                if isinstance(exc, (TypeError, ValueError)) and not isinstance(exc, RunStoreError):
                    raise  # the epoch does not fit the run in the log: dropped, as above
                self._buf = buf  # the epoch stays pending: end_epoch() again retries
                if isinstance(exc, RunStoreError):
                    raise type(exc)(
                        f"{exc} The epoch was not recorded; its batches are kept: "
                        "call end_epoch() again to retry."
                    ) from exc
                raise
        self._unsaved_thumbs = {}
        if self._run is None:
            self._image_source = source
            self._adopt(run)
        else:
            run.append_epoch(y_true, y_pred, conf, p_true, margin)  # tells the widgets
        if run.images is None and self._thumbs:
            run.images = CapturedImages(ids, self._thumbs)
        self._first_epoch.set()
        return run.counts(-1)  # counted once, by the run

    def _write(
        self,
        store: RunStore,
        ids: np.ndarray,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        conf: np.ndarray,
        thumbs: dict[Any, Encoded],
        source: ImageSource | None,
        p_true: np.ndarray | None = None,
        margin: np.ndarray | None = None,
    ) -> None:
        """Write the epoch to this recorder's run in ``store`` (creating the run first)."""
        if self._info is None:
            self._info = store.create_run(
                self._name, self.labels, ids, self._params, if_exists=self._if_exists
            )
        if source is not None and not self._source_saved:
            # Thumbnails from images= for the samples the log has none of, so the log
            # shows images without the dataset (encoded once, cached by the source).
            stored = store.stored_thumbnail_ids(self._info)
            thumbs = {
                **thumbs,
                **{key: source.thumbnail(pos) for pos, key in enumerate(ids.tolist()) if key not in stored},
            }
        store.append_epoch(
            self._info,
            y_true,
            y_pred,
            conf,
            thumbnails=thumbs,
            epoch=self.n_epochs,
            p_true=p_true,
            margin=margin,
        )
        if source is not None:
            self._source_saved = True

    def _adopt(self, run: Run) -> None:
        """Make ``run`` (new, or resumed from the log) the recorder's run."""
        ids = run.sample_ids()
        self._index = SampleIndex(ids)
        if self._images_in is not None:
            if self._image_source is None:
                self._image_source = self._images_source(ids)
            run.images = self._image_source
        self._run = run

    def _images_source(self, ids: np.ndarray) -> ImageSource:
        """``images=`` (indexed by sample id) by position over ``ids``."""
        return source_by_id(self._images_in, ids, self._mean, self._std)

    # -- widgets and state ----------------------------------------------------------
    @property
    def n_epochs(self) -> int:
        """Epochs recorded so far (including a resumed run's earlier ones)."""
        return 0 if self._run is None else self._run.n_epochs

    @property
    def run(self) -> Run | None:
        """The :class:`~confusion_widget.Run` being recorded (``None`` before the
        first ``end_epoch``)."""
        return self._run

    @property
    def name(self) -> str:
        """The run's name (in the log, and as a tile title)."""
        return self._name

    def as_source(self) -> Run:
        """The cell source for :class:`~confusion_widget.ConfusionWidget`: the live run.

        Raises
        ------
        RuntimeError
            Before the first ``end_epoch`` (a widget needs at least one epoch).
        """
        if self._run is None or not self._run.n_epochs:
            raise RuntimeError(
                "no epoch recorded yet: call end_epoch() first, or rec.widget(wait=seconds) "
                "to wait for a training thread's first epoch."
            )
        return self._run

    def __repr__(self) -> str:
        where = f", store={str(self._store.path)!r}" if self._store is not None else ""
        return (
            f"ConfusionRecorder(run={self._name!r}, epochs={self.n_epochs}, "
            f"classes={len(self.labels)}{where})"
        )
