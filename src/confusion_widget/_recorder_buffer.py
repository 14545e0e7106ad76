"""What :class:`~confusion_widget.ConfusionRecorder` does per batch and at the end
of an epoch, apart from the run and the log: reduce a batch's scores on their device,
hold the results until ``end_epoch``, copy them to the host once, and align an
epoch to the run's sample order."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._store_codec import label_names
from ._util import is_torch_tensor, to_numpy
from .matrix import check_class_ids, score_signals, validate_labels

_NEG_INF = float("-inf")


def torch_module() -> Any:
    """torch if the user's program imported it (a numpy user never pays for it)."""
    return sys.modules.get("torch")


def reduce_scores(x: Any, target: Any) -> tuple[Any, ...]:
    """``(B, K)`` scores and ``(B,)`` targets → per row (class, max score, softmax
    denominator, row sum, true class' score, largest other score) and the batch's
    minimum score, computed where ``x`` lives.

    Whether the scores are probabilities or logits is decided per *epoch* at
    ``end_epoch`` (as :func:`~confusion_widget.matrix.score_signals` does for a
    whole array) from the row sums and the minimum, so nothing here needs a value on
    the host. The softmax of the winner is ``1 / sum(exp(s - s_max))``, of the true
    class ``exp(s_true - s_max) / sum(exp(s - s_max))``. Targets are validated at
    ``end_epoch``; here they are clamped into range, so a bad one cannot fault a GPU.
    """
    k = x.shape[1]
    if is_torch_tensor(x):
        torch = torch_module()
        x = x.detach()
        if not torch.is_floating_point(x) or x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # half precision would round the softmax sums
        t = (
            target.detach().long()
            if is_torch_tensor(target)
            else torch.as_tensor(target, device=x.device).long()
        )
        if t.device != x.device:  # targets elsewhere than the outputs: the user's own copy
            t = t.to(x.device)
        t = t.clamp(0, k - 1).view(-1, 1)
        # Every per-row result stays (B, 1) (keepdim): no indexing, which costs more
        # than the arithmetic at B = 256; the chunks are flattened at end_epoch.
        top, pred = x.max(dim=1, keepdim=True)  # first maximal index on ties, as numpy's argmax
        # One buffer, s = x - top, serves all the rest: the true class' score, then
        # (its own entry masked) the largest other score, then (exponentiated) the
        # softmax denominator without the true class.
        s = x - top
        true = s.gather(1, t)
        other = s.scatter_(1, t, _NEG_INF).amax(dim=1, keepdim=True)
        denom = s.exp_().sum(dim=1, keepdim=True) + true.exp()
        return pred, top, denom, x.sum(dim=1, keepdim=True), top + true, top + other, x.amin()
    x = np.asarray(x)
    if x.dtype.kind not in "f" or x.dtype == np.float16:
        x = x.astype(np.float32)
    t = np.clip(to_numpy(target, "targets").astype(np.int64), 0, k - 1)
    rows = np.arange(len(x))
    pred = x.argmax(axis=1)
    top = x[rows, pred]
    s = x - top[:, None]
    true = s[rows, t]
    s[rows, t] = -np.inf
    other = s.max(axis=1)
    np.exp(s, out=s)
    return pred, top, s.sum(axis=1) + np.exp(true), x.sum(axis=1), top + true, top + other, x.min()


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
    pred: list[Any] = field(default_factory=list)
    top: list[Any] = field(default_factory=list)
    denom: list[Any] = field(default_factory=list)
    row_sum: list[Any] = field(default_factory=list)
    true: list[Any] = field(default_factory=list)
    other: list[Any] = field(default_factory=list)
    batch_min: list[Any] = field(default_factory=list)
    target: list[Any] = field(default_factory=list)
    ids: list[Any] = field(default_factory=list)
    running: int = 0  # next running index when no sample ids are given
    auto_ids: bool = False
    given_ids: bool = False

    def __len__(self) -> int:
        return len(self.pred)

    def add(self, kind: str, outputs: Any, targets: Any, ids: Any) -> None:
        """One batch: ``(B, K)`` scores (``kind="scores"``), ``(B, 1)`` binary scores
        (kept as they are until ``end_epoch``) or ``(B,)`` class ids."""
        if kind == "binary":
            pred = keep(outputs)[:, 0]
        elif kind == "scores":
            pred, *reduced = reduce_scores(outputs, targets)
            for chunks, x in zip(
                (self.top, self.denom, self.row_sum, self.true, self.other, self.batch_min), reduced
            ):
                chunks.append(x)
        else:
            pred = keep(outputs)
        self.kind = kind
        self.pred.append(pred)
        self.target.append(keep(targets))
        self.ids.append(keep(ids))

    def arrays(self, n_classes: int) -> tuple[Any, ...]:
        """The epoch on the host: ``(y_true, y_pred, confidence, sample_ids, p_true,
        margin)``; the last two ``None`` for class ids (no scores).

        Raises ``ValueError`` for NaN or inf scores.
        """
        y_pred = to_host(self.pred, "outputs")
        y_true = to_host(self.target, "targets")
        ids = np.concatenate(
            [to_numpy(c, "sample_ids") if is_torch_tensor(c) else np.asarray(c) for c in self.ids]
        )
        if self.kind == "ids":
            return y_true, y_pred, np.full(len(y_pred), np.nan, np.float32), ids, None, None
        if self.kind == "binary":  # the rule of score_signals, over the whole epoch
            truth = check_class_ids(y_true, n_classes, "targets")
            y_pred, conf, p_true, margin = score_signals(y_pred[:, None], truth, "outputs")
            return y_true, y_pred, conf, ids, p_true, margin
        top, denom, row_sum, true, other = (
            to_host(c, "outputs").astype(np.float64)
            for c in (self.top, self.denom, self.row_sum, self.true, self.other)
        )
        low = float(to_host(self.batch_min, "outputs").min())
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
            conf.astype(np.float32),
            ids,
            p_true.astype(np.float32),
            margin.astype(np.float32),
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


def align(
    pos_of: dict[Any, int], run_ids: np.ndarray, ids: np.ndarray, *arrays: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Reorder an epoch's arrays (in the order of ``ids``) into the run's sample
    order (``run_ids``, with ``pos_of`` mapping id → position)."""
    n = len(pos_of)
    keys = ids.tolist()
    unknown = [k for k in keys if k not in pos_of]
    if unknown:
        raise ValueError(
            f"sample ids {unknown[:5]} were not in the run's first epoch; every epoch "
            "must evaluate the same samples."
        )
    pos = np.fromiter((pos_of[k] for k in keys), dtype=np.int64, count=len(keys))
    seen = np.bincount(pos, minlength=n)
    if (seen > 1).any():
        dup = [keys[i] for i in np.flatnonzero(seen[pos] > 1)[:5]]
        raise ValueError(f"sample ids {dup} appear more than once in this epoch.")
    if len(pos) != n:
        missing = run_ids[seen == 0][:5].tolist()
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
