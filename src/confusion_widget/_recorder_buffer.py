"""What :class:`~confusion_widget.ConfusionRecorder` does per batch and at the end
of an epoch, apart from the run and the log: reduce a batch's scores on their device,
hold the results until ``end_epoch``, copy them to the host once, and align an
epoch to the run's sample order."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._util import is_torch_tensor, to_numpy
from .matrix import scores_to_predictions


def torch_module() -> Any:
    """torch if the user's program imported it (a numpy user never pays for it)."""
    return sys.modules.get("torch")


def reduce_scores(x: Any) -> tuple[Any, ...]:
    """``(B, K)`` scores → per-row (class, max score, softmax denominator, row sum)
    and the batch's minimum score, computed where ``x`` lives.

    Whether the scores are probabilities or logits is decided per *epoch* at
    ``end_epoch`` (as :func:`~confusion_widget.matrix.scores_to_predictions` does
    for a whole array) from the row sums and the minimum, so nothing here needs a
    value on the host. The softmax of the winner is ``1 / sum(exp(s - s_max))``.
    """
    if is_torch_tensor(x):
        torch = torch_module()
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
            pred, *reduced = reduce_scores(outputs)
            for chunks, x in zip((self.top, self.denom, self.row_sum, self.batch_min), reduced):
                chunks.append(x)
        else:
            pred = keep(outputs)
        self.kind = kind
        self.pred.append(pred)
        self.target.append(keep(targets))
        self.ids.append(keep(ids))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The epoch on the host: ``(y_true, y_pred, confidence, sample_ids)``.

        Raises ``ValueError`` for NaN or inf scores.
        """
        y_pred = to_host(self.pred, "outputs")
        y_true = to_host(self.target, "targets")
        ids = np.concatenate(
            [to_numpy(c, "sample_ids") if is_torch_tensor(c) else np.asarray(c) for c in self.ids]
        )
        if self.kind == "ids":
            return y_true, y_pred, np.full(len(y_pred), np.nan, np.float32), ids
        if self.kind == "binary":  # the rule of scores_to_predictions, over the whole epoch
            y_pred, conf = scores_to_predictions(y_pred[:, None], "outputs")
            return y_true, y_pred, conf, ids
        top = to_host(self.top, "outputs").astype(np.float64)
        denom = to_host(self.denom, "outputs").astype(np.float64)
        row_sum = to_host(self.row_sum, "outputs").astype(np.float64)
        low = float(to_host(self.batch_min, "outputs").min())
        bad = ~np.isfinite(row_sum)  # any NaN/inf in a row makes its sum non-finite
        if bad.any():
            raise ValueError(
                f"outputs contain NaN or inf scores (first in row {int(np.argmax(bad))} of the epoch)."
            )
        # The same rule as scores_to_predictions, over the whole epoch: rows that are
        # probabilities keep their score, anything else is softmaxed.
        is_prob = low >= 0 and top.max() <= 1 and np.allclose(row_sum, 1.0, atol=1e-3)
        conf = top if is_prob else 1.0 / denom
        return y_true, y_pred, conf.astype(np.float32), ids


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


def gather(
    y_true: np.ndarray, y_pred: np.ndarray, conf: np.ndarray, ids: np.ndarray, thumbs: dict[Any, Any]
) -> tuple[Any, ...]:
    """Every ``torch.distributed`` rank's records of an epoch, in rank order, on every
    rank; duplicate sample ids dropped (a ``DistributedSampler`` pads the ranks with
    repeats of the first samples).

    ``all_gather_object`` pickles, which is fine between the ranks of one job
    (it never touches the run log); it also carries string ids and thumbnails.
    """
    import torch.distributed as dist

    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, (y_true, y_pred, conf, ids, thumbs))
    y_true, y_pred, conf, ids = (np.concatenate([p[i] for p in parts]) for i in range(4))
    merged: dict[Any, Any] = {}
    for p in parts:
        merged.update(p[4])
    _, first = np.unique(ids, return_index=True)
    keep = np.sort(first)
    return y_true[keep], y_pred[keep], conf[keep], ids[keep], merged


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
