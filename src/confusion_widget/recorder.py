"""``ConfusionRecorder``: record a classifier's predictions while it trains.

Per batch, :meth:`ConfusionRecorder.update` reduces the model's outputs to what a
confusion matrix needs — predicted class, confidence — *on the outputs' device*,
and appends the small result to a per-epoch list. Nothing is copied to the host
and nothing is read back per batch, so a GPU loop is never synchronised by the
recorder; :meth:`~ConfusionRecorder.end_epoch` does one host copy per array for the
whole epoch. Finished epochs live in a :class:`~confusion_widget.Run` as int32
classes and float32 confidences (9 bytes per sample per epoch), and optionally in a
:class:`~confusion_widget.RunStore` file, one transaction per epoch.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ._util import to_numpy
from .images import Encoded, ImageSource
from .matrix import check_class_ids, confusion_counts, validate_labels
from .runs import Run
from .store import RunExistsError, RunStore

if TYPE_CHECKING:
    from .widget import ConfusionWidget

__all__ = ["ConfusionRecorder"]

_IF_EXISTS = ("error", "resume", "overwrite")


def _torch() -> Any:
    """torch if the user's program imported it (a numpy user never pays for it)."""
    return sys.modules.get("torch")


def _is_tensor(x: Any) -> bool:
    # isinstance rather than a module-name test, so tensor subclasses count too.
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _distributed() -> tuple[int, int]:
    """``(rank, world_size)`` of an initialised ``torch.distributed`` group, else (0, 1)."""
    torch = _torch()
    if torch is None:
        return 0, 1
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def _reduce_scores(x: Any) -> tuple[Any, ...]:
    """``(B, K)`` scores → per-row (class, max score, softmax denominator, row sum)
    and the batch's minimum score, computed where ``x`` lives.

    Whether the scores are probabilities or logits is decided per *epoch* at
    ``end_epoch`` (as :func:`~confusion_widget.matrix.scores_to_predictions` does
    for a whole array) from the row sums and the minimum, so nothing here needs a
    value on the host. The softmax of the winner is ``1 / sum(exp(s - s_max))``.
    """
    if _is_tensor(x):
        torch = _torch()
        x = x.detach()
        if not torch.is_floating_point(x) or x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # half precision would round the softmax sums
        top, pred = x.max(dim=1)  # first maximal index on ties, as numpy's argmax
        denom = (x - top[:, None]).exp_().sum(dim=1)
        return pred, top, denom, x.sum(dim=1), x.amin()
    x = np.asarray(x)
    if x.dtype.kind not in "f" or x.dtype == np.float16:
        x = x.astype(np.float32)
    pred = x.argmax(axis=1)
    top = np.take_along_axis(x, pred[:, None], axis=1)[:, 0]
    shifted = x - top[:, None]
    np.exp(shifted, out=shifted)
    return pred, top, shifted.sum(axis=1), x.sum(axis=1), x.min()


def _keep(x: Any) -> Any:
    """What ``update`` holds until ``end_epoch``: tensors by reference (a copy would
    be a device op per batch, and model outputs and loader batches are new tensors
    every batch), numpy arrays copied (host buffers are often reused in place)."""
    return x.detach() if _is_tensor(x) else np.array(x, copy=True)


def _to_host(chunks: list[Any], name: str) -> np.ndarray:
    """Concatenate per-batch chunks and copy them to the host: one device→host copy
    for a field's whole epoch when the chunks are tensors on one device."""
    if all(_is_tensor(c) for c in chunks) and len({c.device for c in chunks}) == 1:
        torch = _torch()
        cat = torch.cat([c.reshape(-1) for c in chunks])
        return cat.cpu().numpy()
    return np.concatenate([to_numpy(c, name).reshape(-1) for c in chunks])


@dataclass
class _EpochBuffer:
    """What ``update`` collected since the last ``end_epoch`` (device or host arrays)."""

    kind: str | None = None  # "scores" or "ids": fixed by the epoch's first batch
    pred: list[Any] = field(default_factory=list)
    top: list[Any] = field(default_factory=list)
    denom: list[Any] = field(default_factory=list)
    row_sum: list[Any] = field(default_factory=list)
    batch_min: list[Any] = field(default_factory=list)
    target: list[Any] = field(default_factory=list)
    ids: list[Any] = field(default_factory=list)
    running: int = 0  # next running index when no sample ids are given
    auto_ids: bool = False
    given_ids: bool = False

    def __len__(self) -> int:
        return len(self.pred)


class _CapturedImages:
    """Thumbnails captured by ``update(..., images=)``, keyed by sample id and served
    by position like an :class:`~confusion_widget.images.ImageSource`."""

    def __init__(self, ids: np.ndarray, thumbs: dict[Any, Encoded]) -> None:
        self._ids = ids
        self._thumbs = thumbs  # shared with the recorder: later captures show up

    def __len__(self) -> int:
        return len(self._ids)

    def thumbnail(self, pos: int) -> Encoded:
        sid = self._ids[int(pos)]
        hit = self._thumbs.get(sid.item() if hasattr(sid, "item") else sid)
        return hit if hit is not None else Encoded(None, error="no image was captured for this sample")

    def large(self, pos: int) -> Encoded:
        return self.thumbnail(pos)


class ConfusionRecorder:
    """Record predictions batch by batch, one epoch at a time, for a live widget and
    an optional run log on disk.

    Parameters
    ----------
    labels
        ``K`` class names, or the number of classes ``K``.
    images
        Optional image source indexed by **sample id**: an array/tensor of images,
        a list of PIL images or paths, a torch ``Dataset`` returning ``(image,
        label)``, or a callable ``sample_id -> image``. Given once, nothing is
        captured per epoch. Alternatively pass ``images=`` to :meth:`update`.
    store
        A path of a run log (opened in append mode and closed by :meth:`close`) or an
        open :class:`~confusion_widget.RunStore`. Each :meth:`end_epoch` is one
        transaction in it. Under ``torch.distributed`` only rank 0 writes.
    run
        The run's name in the log (default: ``"run-<date>-<time>"``).
    params
        Free-form JSON-able settings saved with the run (learning rate, …).
    if_exists
        When ``run`` is already in the log: ``"error"`` (default, raised here, before
        any training), ``"resume"`` (continue it: its epochs are loaded, numbering
        continues, labels and samples must match) or ``"overwrite"`` (replaced at the
        first ``end_epoch``).
    mean, std
        Per-channel normalisation to undo when making thumbnails of float images.

    Notes
    -----
    *GPU synchronisation.* ``update`` keeps torch tensors on their device: the
    argmax, the winner's score and the softmax denominator are computed there and
    appended to a list (20 bytes per sample on the device, plus the targets, for the
    current epoch only). ``end_epoch`` concatenates each list and copies it to the host once.
    Validation that needs values (class ids in range, finite scores) therefore
    happens at ``end_epoch``. Tensors given to ``update`` are held by reference until
    then: do not modify them in place (numpy arrays are copied). ``update(..., images=)`` is the exception: it copies
    the images of samples not seen before to the host (the first epoch, once).

    *Memory.* Per-batch buffers hold one epoch; a finished epoch costs 9 bytes per
    sample (int32 true and predicted classes, a float32 confidence) in the run.

    *Sample order.* The first epoch fixes the order of samples; later epochs are
    aligned to it by sample id, so a shuffling validation loader is fine. Without
    ``sample_ids`` a running index is used, which only lines up when the loader does
    not shuffle. Under ``torch.distributed`` sample ids are required and duplicates
    (a ``DistributedSampler`` pads ranks with repeated samples) are dropped.

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
        if isinstance(labels, (int, np.integer)):
            self.labels = validate_labels(None, int(labels))
        else:
            self.labels = validate_labels(labels, len(labels))
        if if_exists not in _IF_EXISTS:
            raise ValueError(f"if_exists must be one of {_IF_EXISTS}, got {if_exists!r}.")
        self._images_in = images
        self._mean, self._std = mean, std
        self._params = dict(params or {})
        self._if_exists = if_exists
        self._name = run or datetime.now().strftime("run-%Y%m%d-%H%M%S")
        self._buf = _EpochBuffer()
        self._run: Run | None = None
        self._pos_of: dict[Any, int] | None = None
        self._thumbs: dict[Any, Encoded] = {}  # captured via update(images=), by id
        self._unsaved_thumbs: dict[Any, Encoded] = {}
        self._image_source: ImageSource | None = None  # images= given once, by id
        self._source_saved = False  # its thumbnails are in the log
        self._first_epoch = threading.Event()
        self._rank, _ = _distributed()
        self._store: RunStore | None = None
        self._owns_store = False
        if store is not None and self._rank == 0:
            self._open_store(store)

    def _open_store(self, store: Any) -> None:
        if isinstance(store, RunStore):
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
                "if_exists='resume' to continue it or if_exists='overwrite' to replace it.")
        if self._if_exists == "resume":
            if info.labels != self.labels:
                raise ValueError(
                    f"cannot resume run {self._name!r} in {self._store.path}: its labels "
                    f"are {info.labels}, not {self.labels}.")
            if info.n_epochs:
                self._adopt(self._store.load(self._name))
            # else: a run killed before its first epoch; the first end_epoch checks
            # that its samples match and continues it.

    # -- per batch ------------------------------------------------------------------
    def update(self, outputs: Any, targets: Any, sample_ids: Any = None, images: Any = None) -> None:
        """Add one batch.

        Parameters
        ----------
        outputs
            ``(B, K)`` logits, scores or probabilities (the argmax is the prediction
            and its softmax probability — the score itself for probabilities — the
            confidence), or ``(B,)`` predicted class ids (confidence unknown). A torch
            tensor on any device, or a numpy array.
        targets
            ``(B,)`` true class ids.
        sample_ids
            ``(B,)`` unique ids of the batch's samples (ints or strings), e.g. the
            dataset indices. A running index when omitted (in every batch).
        images
            ``(B, …)`` images of the batch. Only samples without a thumbnail yet are
            encoded (once, on first sight) and kept as encoded bytes.
        """
        buf = self._buf
        shape = tuple(outputs.shape) if hasattr(outputs, "shape") else np.shape(outputs)
        if len(shape) not in (1, 2):
            raise ValueError(f"outputs must be (B, K) scores or (B,) class ids, got shape {shape}.")
        kind = "scores" if len(shape) == 2 else "ids"
        if len(shape) == 2 and shape[1] != len(self.labels):
            raise ValueError(f"outputs have {shape[1]} columns but there are {len(self.labels)} labels.")
        if buf.kind is not None and kind != buf.kind:
            raise ValueError(
                f"this epoch's earlier batches gave {buf.kind} and this one gives {kind}; "
                "use one kind of output per epoch.")
        b = shape[0]
        if not (_is_tensor(outputs) or isinstance(outputs, np.ndarray)):
            outputs = to_numpy(outputs, "outputs")
        if not (_is_tensor(targets) or isinstance(targets, np.ndarray)):
            targets = to_numpy(targets, "targets")
        if tuple(targets.shape) != (b,):
            raise ValueError(f"targets must be ({b},) class ids for {b} outputs, got shape {tuple(targets.shape)}.")
        if sample_ids is None:
            ids = np.arange(buf.running, buf.running + b, dtype=np.int64)
            buf.running += b
            buf.auto_ids = True
        else:
            ids = sample_ids if (_is_tensor(sample_ids) or isinstance(sample_ids, np.ndarray)) \
                else np.asarray(sample_ids)
            if len(ids) != b:
                raise ValueError(f"sample_ids has {len(ids)} ids for {b} outputs.")
            buf.given_ids = True
        if images is not None:
            self._capture(images, ids)
        buf.kind = kind
        if kind == "scores":
            pred, top, denom, row_sum, batch_min = _reduce_scores(outputs)
            buf.top.append(top)
            buf.denom.append(denom)
            buf.row_sum.append(row_sum)
            buf.batch_min.append(batch_min)
        else:
            pred = _keep(outputs)
        buf.pred.append(pred)
        buf.target.append(_keep(targets))
        buf.ids.append(_keep(ids))

    def _capture(self, images: Any, ids: Any) -> None:
        """Encode thumbnails of the batch's samples that have none yet."""
        host_ids = to_numpy(ids, "sample_ids") if _is_tensor(ids) else np.asarray(ids)
        keys = [v.item() if hasattr(v, "item") else v for v in host_ids]
        new = [i for i, k in enumerate(keys) if k not in self._thumbs]
        if not new:
            return
        if len(images) != len(keys):
            raise ValueError(f"images has {len(images)} items for a batch of {len(keys)}.")
        if _is_tensor(images):
            # One host copy of just the new images (a sync only while samples are new).
            index = _torch().as_tensor(new, device=images.device)
            picked = images.detach().index_select(0, index).cpu()
        elif isinstance(images, np.ndarray):
            picked = images[new]
        else:
            picked = [images[i] for i in new]
        source = ImageSource(picked, np.arange(len(new)), mean=self._mean, std=self._std)
        for j, i in enumerate(new):
            enc = source.thumbnail(j)
            self._thumbs[keys[i]] = enc
            self._unsaved_thumbs[keys[i]] = enc

    # -- per epoch ------------------------------------------------------------------
    def end_epoch(self) -> np.ndarray:
        """Close the epoch: align it to the run's sample order, append it to the run
        (live widgets update), write it to the store, and return its ``(K, K)``
        matrix (rows true, columns predicted).

        Raises
        ------
        ValueError
            No batch since the last ``end_epoch``; class ids outside ``[0, K)``;
            non-finite scores; duplicated, unknown or missing sample ids compared
            with the first epoch.
        """
        buf, self._buf = self._buf, _EpochBuffer()
        if not len(buf):
            raise ValueError("end_epoch() without any update() since the last epoch.")
        _, world = _distributed()
        if world > 1 and buf.auto_ids:
            raise ValueError(
                "under torch.distributed every update() needs sample_ids (e.g. dataset "
                "indices): running indices of different ranks would collide.")
        if buf.auto_ids and buf.given_ids:
            raise ValueError("pass sample_ids to every update() of an epoch, or to none.")
        y_true, y_pred, conf, ids = self._epoch_arrays(buf)
        thumbs, self._unsaved_thumbs = self._unsaved_thumbs, {}
        if world > 1:
            y_true, y_pred, conf, ids, thumbs = self._gather(y_true, y_pred, conf, ids, thumbs)
        k = len(self.labels)
        y_true = check_class_ids(y_true, k, "targets").astype(np.int32)
        y_pred = check_class_ids(y_pred, k, "outputs").astype(np.int32)
        first = self._run is None
        if first:
            # The first epoch fixes the samples and their order; Run validates the ids.
            run = Run(self.labels, y_true, y_pred[None], conf[None], ids, name=self._name)
            ids = run.sample_ids()
            if self._images_in is not None:
                self._image_source = self._images_source(ids)
            if self._store is not None:
                self._store.create_run(self._name, self.labels, ids, self._params,
                                       if_exists=self._if_exists)
        else:
            y_true, y_pred, conf = self._align(ids, y_true, y_pred, conf)
            ids = self._run.sample_ids()
        if self._store is not None:
            if self._image_source is not None and not self._source_saved:
                thumbs.update(self._source_thumbnails(ids))
            self._store.append_epoch(self._name, y_true, y_pred, conf, thumbnails=thumbs)
        if first:
            self._adopt(run)  # only now: a failed write leaves the recorder as it was
        else:
            self._run.append_epoch(y_true, y_pred, conf)  # tells the widgets
        if self._run.images is None and self._thumbs:
            self._run.images = _CapturedImages(ids, self._thumbs)
        self._first_epoch.set()
        return confusion_counts(y_true.astype(np.int64), y_pred, k)

    def _epoch_arrays(self, buf: _EpochBuffer) -> tuple[np.ndarray, ...]:
        y_pred = _to_host(buf.pred, "outputs")
        y_true = _to_host(buf.target, "targets")
        ids = np.concatenate([to_numpy(c, "sample_ids") if _is_tensor(c) else np.asarray(c)
                              for c in buf.ids])
        if buf.kind == "ids":
            return y_true, y_pred, np.full(len(y_pred), np.nan, np.float32), ids
        top = _to_host(buf.top, "outputs").astype(np.float64)
        denom = _to_host(buf.denom, "outputs").astype(np.float64)
        row_sum = _to_host(buf.row_sum, "outputs").astype(np.float64)
        low = float(_to_host(buf.batch_min, "outputs").min())
        bad = ~np.isfinite(row_sum)  # any NaN/inf in a row makes its sum non-finite
        if bad.any():
            raise ValueError(f"outputs contain NaN or inf scores (first in row {int(np.argmax(bad))} of the epoch).")
        # The same rule as scores_to_predictions, over the whole epoch: rows that are
        # probabilities keep their score, anything else is softmaxed.
        is_prob = low >= 0 and top.max() <= 1 and np.allclose(row_sum, 1.0, atol=1e-3)
        conf = top if is_prob else 1.0 / denom
        return y_true, y_pred, conf.astype(np.float32), ids

    def _gather(self, y_true: np.ndarray, y_pred: np.ndarray, conf: np.ndarray, ids: np.ndarray,
                thumbs: dict[Any, Encoded]) -> tuple[Any, ...]:
        """Every rank's records, in rank order, on every rank; duplicates dropped.

        ``all_gather_object`` pickles, which is fine between the ranks of one job
        (it never touches the run log); it also carries string ids and thumbnails.
        """
        import torch.distributed as dist

        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, (y_true, y_pred, conf, ids, thumbs))
        y_true = np.concatenate([p[0] for p in parts])
        y_pred = np.concatenate([p[1] for p in parts])
        conf = np.concatenate([p[2] for p in parts])
        ids = np.concatenate([p[3] for p in parts])
        merged: dict[Any, Encoded] = {}
        for p in parts:
            merged.update(p[4])
        # A DistributedSampler pads the ranks with repeats of the first samples.
        _, first = np.unique(ids, return_index=True)
        keep = np.sort(first)
        return y_true[keep], y_pred[keep], conf[keep], ids[keep], merged

    def _adopt(self, run: Run) -> None:
        """Make ``run`` (new, or resumed from the log) the recorder's run."""
        ids = run.sample_ids()
        self._pos_of = {v: i for i, v in enumerate(ids.tolist())}
        if self._images_in is not None:
            if self._image_source is None:
                self._image_source = self._images_source(ids)
            run.images = self._image_source
        self._run = run

    def _source_thumbnails(self, ids: np.ndarray) -> dict[Any, Encoded]:
        """Thumbnails from ``images=`` for the samples the log has none of, so the
        log shows images without the dataset. Encoded once (at the first epoch, or
        the first after a resume), and cached by the source for the widget too."""
        stored = self._store.stored_thumbnail_ids(self._name)
        self._source_saved = True
        keys = [v.item() if hasattr(v, "item") else v for v in ids]
        return {key: self._image_source.thumbnail(pos)
                for pos, key in enumerate(keys) if key not in stored}

    def _images_source(self, ids: np.ndarray) -> ImageSource:
        """``images=`` is indexed by sample id: wrap it in a callable id → image."""
        images = self._images_in
        if isinstance(images, ImageSource):
            return images
        if not callable(images) or hasattr(images, "__getitem__"):
            if ids.dtype.kind in "iu" and not isinstance(images, Mapping) and \
                    int(ids.max()) >= len(images):
                raise ValueError(
                    f"sample id {int(ids.max())} is outside images (len {len(images)}); "
                    "images= is indexed by sample id.")
            items = images
            images = lambda sid: items[sid]  # noqa: E731
        return ImageSource(images, ids, mean=self._mean, std=self._std)

    def _align(self, ids: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        """Reorder an epoch's arrays into the run's sample order."""
        pos_of = self._pos_of
        n = len(pos_of)
        keys = ids.tolist()
        unknown = [k for k in keys if k not in pos_of]
        if unknown:
            raise ValueError(
                f"sample ids {unknown[:5]} were not in the run's first epoch; every epoch "
                "must evaluate the same samples.")
        pos = np.fromiter((pos_of[k] for k in keys), dtype=np.int64, count=len(keys))
        seen = np.bincount(pos, minlength=n)
        if (seen > 1).any():
            dup = [keys[i] for i in np.flatnonzero(seen[pos] > 1)[:5]]
            raise ValueError(f"sample ids {dup} appear more than once in this epoch.")
        if len(pos) != n:
            ids0 = self._run.sample_ids()
            missing = ids0[seen == 0][:5].tolist()
            raise ValueError(
                f"this epoch has {len(pos)} of the run's {n} samples (missing e.g. "
                f"{missing}); every epoch must evaluate the same samples.")
        out = []
        for a in arrays:
            aligned = np.empty_like(a)
            aligned[pos] = a
            out.append(aligned)
        return tuple(out)

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

    def wait_for_first_epoch(self, timeout: float | None = None) -> bool:
        """Block until the first epoch is recorded (e.g. by a training thread).
        Returns ``False`` on timeout."""
        return self.n_epochs > 0 or self._first_epoch.wait(timeout)

    def as_source(self) -> Run:
        """The cell source for :class:`~confusion_widget.ConfusionWidget`: the live run.

        Raises
        ------
        RuntimeError
            Before the first ``end_epoch`` (a widget needs at least one epoch).
        """
        if not self.n_epochs:
            raise RuntimeError(
                "no epoch recorded yet: call end_epoch() first, or rec.widget(wait=seconds) "
                "to wait for a training thread's first epoch.")
        return self._run

    def widget(self, wait: float | None = None, **options: Any) -> ConfusionWidget:
        """A :class:`~confusion_widget.ConfusionWidget` that follows the run: it
        updates after every ``end_epoch`` (also from a background thread), and its
        slider follows the newest epoch unless the user moved it.

        Parameters
        ----------
        wait
            Seconds to wait for the first epoch when none is recorded yet (training
            in a background thread). ``None``: do not wait; raise ``RuntimeError``
            if there is no epoch.
        **options
            Widget options (``aggregation``, ``colormap``, …).
        """
        from .widget import ConfusionWidget

        if wait is not None and not self.wait_for_first_epoch(wait):
            raise TimeoutError(f"no epoch was recorded within {wait} s.")
        return ConfusionWidget(self, **options)

    def close(self) -> None:
        """Close the run log if the recorder opened it (the run stays in memory)."""
        if self._owns_store and self._store is not None:
            self._store.close()
        self._store = None

    def __enter__(self) -> ConfusionRecorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f", store={str(self._store.path)!r}" if self._store is not None else ""
        return f"ConfusionRecorder(run={self._name!r}, epochs={self.n_epochs}, classes={len(self.labels)}{where})"
