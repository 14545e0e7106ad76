"""What :class:`~confusion_widget.ConfusionRecorder` does per batch and at the end
of an epoch, apart from the run and the log: hold a batch's results until
``end_epoch`` (scores reduced on their device by :mod:`._score_block`), copy them to
the host once, and align an epoch to the run's sample order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._score_block import ScoreBlocks, torch_module
from ._store_codec import label_names
from ._util import is_torch_tensor, to_numpy
from .matrix import check_class_ids, score_signals, validate_labels


def keep(x: Any) -> Any:
    """What ``update`` holds until ``end_epoch``: tensors by reference (a copy would
    be a device op per batch, and model outputs and loader batches are new tensors
    every batch), numpy arrays copied (host buffers are often reused in place)."""
    return x.detach() if is_torch_tensor(x) else np.array(x, copy=True)


def to_host(chunks: list[Any], name: str) -> np.ndarray:
    """Concatenate per-batch chunks and copy them to the host: one device→host copy
    for a field's whole epoch when the chunks are tensors on one device."""
    if all(is_torch_tensor(c) for c in chunks) and len({c.device for c in chunks}) == 1:
        return to_numpy(torch_module().cat([c.reshape(-1) for c in chunks]), name)
    return np.concatenate([to_numpy(c, name).reshape(-1) for c in chunks])


@dataclass
class EpochBuffer:
    """What ``update`` collected since the last ``end_epoch`` (device or host arrays)."""

    kind: str | None = None  # "scores", "binary" or "ids": fixed by the epoch's first batch
    pred: list[Any] = field(default_factory=list)  # binary scores or class ids, per batch
    scores: ScoreBlocks = field(default_factory=ScoreBlocks)  # (B, K) scores, reduced
    target: list[Any] = field(default_factory=list)
    ids: list[Any] = field(default_factory=list)
    running: int = 0  # next running index when no sample ids are given
    auto_ids: bool = False
    given_ids: bool = False

    def __len__(self) -> int:
        """The number of batches."""
        return len(self.target)

    def add(self, kind: str, outputs: Any, targets: Any, ids: Any) -> None:
        """One batch: ``(B, K)`` scores (``kind="scores"``), ``(B, 1)`` binary scores
        (kept as they are until ``end_epoch``) or ``(B,)`` class ids."""
        target = keep(targets)
        if kind == "scores":
            self.scores.add(outputs, target)
        else:
            self.pred.append(keep(outputs)[:, 0] if kind == "binary" else keep(outputs))
        self.kind = kind
        self.target.append(target)
        self.ids.append(keep(ids))

    def arrays(self, n_classes: int) -> tuple[Any, ...]:
        """The epoch on the host: ``(y_true, y_pred, confidence, sample_ids, p_true,
        margin)``; the last two ``None`` for class ids (no scores).

        Raises ``ValueError`` for NaN or inf scores.
        """
        y_true = to_host(self.target, "targets")
        ids = np.concatenate(
            [to_numpy(c, "sample_ids") if is_torch_tensor(c) else np.asarray(c) for c in self.ids]
        )
        if self.kind != "scores":
            y_pred = to_host(self.pred, "outputs")
            if self.kind == "ids":
                return y_true, y_pred, np.full(len(y_pred), np.nan, np.float32), ids, None, None
            # binary: the rule of score_signals, over the whole epoch
            truth = check_class_ids(y_true, n_classes, "targets")
            y_pred, conf, p_true, margin = score_signals(y_pred[:, None], truth, "outputs")
            return y_true, y_pred, conf, ids, p_true, margin
        self.scores.flush()
        reduced = self.scores.reduced
        if not reduced["pred"]:
            raise ValueError("this epoch's batches hold no samples (every update() had 0 rows).")
        y_pred = to_host(reduced["pred"], "outputs")
        # In the block's precision: float32 scores give float32 signals anyway.
        top, true, denom, row_sum, other = (
            to_host(reduced[name], "outputs") for name in ("top", "true", "denom", "row_sum", "other")
        )
        low = float(to_host(self.scores.low, "outputs").min())
        bad = ~np.isfinite(row_sum)  # any NaN/inf in a row makes its sum non-finite
        if bad.any():
            raise ValueError(
                f"outputs contain NaN or inf scores (first in row {int(np.argmax(bad))} of the epoch)."
            )
        # The same rule as score_signals, over the whole epoch: rows that are
        # probabilities keep their scores, anything else is softmaxed.
        is_prob = low >= 0 and top.max() <= 1 and np.allclose(row_sum, 1.0, atol=1e-3)
        conf = top if is_prob else 1.0 / denom
        p_true = true if is_prob else np.exp(true - top) / denom
        margin = true - other
        margin[~np.isfinite(margin)] = np.nan  # one class: there is no other score
        return (
            y_true,
            y_pred,
            conf.astype(np.float32, copy=False),
            ids,
            p_true.astype(np.float32, copy=False),
            margin.astype(np.float32, copy=False),
        )


def batch_kind(shape: tuple[int, ...], n_labels: int, current: str | None) -> str:
    """What a batch's outputs are: ``"scores"`` ``(B, K)``, ``"binary"`` ``(B, 1)``
    for two labels, or class ``"ids"`` ``(B,)``; the same kind all epoch."""
    if len(shape) not in (1, 2):
        raise ValueError(f"outputs must be (B, K) scores or (B,) class ids, got shape {shape}.")
    kind = "ids" if len(shape) == 1 else "binary" if shape[1] == 1 and n_labels == 2 else "scores"
    if kind == "scores" and shape[1] != n_labels:
        raise ValueError(
            f"outputs have {shape[1]} columns but there are {n_labels} labels"
            f"{' (one column is a binary score: for 2 labels)' if shape[1] == 1 else ''}."
        )
    if current is not None and kind != current:
        raise ValueError(
            f"this epoch's earlier batches gave {current} and this one gives {kind}; "
            "use one kind of output per epoch."
        )
    return kind


def check_batch_ids(ids: Any, b: int) -> None:
    """A batch's ``sample_ids``: ``(B,)`` integers or strings (dtype only: no values
    are read, so a tensor on a GPU is not synchronised)."""
    if len(ids.shape) != 1:
        raise ValueError(f"sample_ids must be 1-D, one id per output, got shape {tuple(ids.shape)}.")
    if len(ids) != b:
        raise ValueError(f"sample_ids has {len(ids)} ids for {b} outputs.")
    if is_torch_tensor(ids):
        ok = not (ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch_module().bool)
    else:
        ok = ids.dtype.kind in "iuUSO"
    if not ok:
        raise ValueError(f"sample_ids must be integers or strings, got dtype {ids.dtype}.")


def gather(arrays: tuple[Any, ...], ids: np.ndarray, thumbs: dict[Any, Any]) -> tuple[Any, ...]:
    """Every ``torch.distributed`` rank's records of an epoch (``arrays`` per sample,
    ``None`` where a rank has none), in rank order, on every rank; duplicate sample ids
    dropped (a ``DistributedSampler`` pads the ranks with repeats of the first
    samples). Returns ``(arrays, ids, thumbs)``.

    ``all_gather_object`` pickles, which is fine between the ranks of one job
    (it never touches the run log); it also carries string ids and thumbnails.
    """
    import torch.distributed as dist

    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, (arrays, ids, thumbs))
    ids = np.concatenate([p[1] for p in parts])
    merged: dict[Any, Any] = {}
    for p in parts:
        merged.update(p[2])
    _, first = np.unique(ids, return_index=True)
    keep = np.sort(first)

    def joined(i: int) -> Any:
        columns = [p[0][i] for p in parts]
        return None if any(c is None for c in columns) else np.concatenate(columns)[keep]

    return tuple(joined(i) for i in range(len(arrays))), ids[keep], merged


class SampleIndex:
    """The positions of a run's sample ids, looked up for a whole epoch at once with a
    sorted copy and one binary search (a dict lookup per sample took most of
    ``end_epoch`` at 256,000 samples). A run's ids are int64 or strings."""

    def __init__(self, run_ids: np.ndarray) -> None:
        self.ids = run_ids
        self._keys = run_ids if run_ids.dtype.kind in "iu" else run_ids.astype(str)
        self._order = np.argsort(self._keys, kind="stable")
        self._sorted = self._keys[self._order]

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Each id's position in the run, ``-1`` for ids the run does not have."""
        numeric = self._keys.dtype.kind in "iu"
        if ids.dtype.kind not in ("iu" if numeric else "U"):  # other types: one by one
            pos_of = {v: i for i, v in enumerate(self.ids.tolist())}
            return np.fromiter((pos_of.get(v, -1) for v in ids.tolist()), np.int64, len(ids))
        if not len(ids):
            return np.empty(0, np.int64)
        at = np.minimum(np.searchsorted(self._sorted, ids), len(self._sorted) - 1)
        return np.where(self._sorted[at] == ids, self._order[at], -1)


def align(index: SampleIndex, ids: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Reorder an epoch's arrays (in the order of ``ids``) into the run's sample
    order (``index.ids``)."""
    n = len(index.ids)
    if len(ids) == n and np.array_equal(ids, index.ids):
        return arrays  # the first epoch's order again, as a loader that does not shuffle gives
    pos = index.positions(ids)
    if (pos < 0).any():
        raise ValueError(
            f"sample ids {ids[pos < 0][:5].tolist()} were not in the run's first epoch; "
            "every epoch must evaluate the same samples."
        )
    seen = np.bincount(pos, minlength=n)
    if (seen > 1).any():
        dup = ids[np.flatnonzero(seen[pos] > 1)[:5]].tolist()
        raise ValueError(f"sample ids {dup} appear more than once in this epoch.")
    if len(pos) != n:
        missing = index.ids[seen == 0][:5].tolist()
        raise ValueError(
            f"this epoch has {len(pos)} of the run's {n} samples (missing e.g. "
            f"{missing}); every epoch must evaluate the same samples."
        )
    out = []
    for a in arrays:
        aligned = np.empty_like(a)
        aligned[pos] = a
        out.append(aligned)
    return tuple(out)


def distributed() -> tuple[int, int]:
    """``(rank, world_size)`` of an initialised ``torch.distributed`` group, else (0, 1)."""
    torch = torch_module()
    if torch is None:
        return 0, 1
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def class_names(labels: Any) -> list[str]:
    """``K >= 1`` class names, from names or from the number of classes."""
    if isinstance(labels, bool):
        raise TypeError(f"labels must be class names or the number of classes, got {labels!r}.")
    if isinstance(labels, (int, np.integer)):
        if labels < 1:
            raise ValueError(
                f"labels is {labels}: a recorder needs at least one class; pass "
                "the number of classes K >= 1 or K class names."
            )
        return validate_labels(None, int(labels))
    return label_names(labels)
