"""What :class:`~confusion_widget.ConfusionRecorder` computes from ``(B, K)`` scores.

``update`` copies a batch's scores into one block the recorder owns, on the batch's
device, and the block is reduced when it is full (at most :data:`BLOCK_SCORES`
scores, or one batch) and at ``end_epoch``. The dozen array operations of a
reduction then run once per block rather than once per batch — at B = 256 and K = 100
their fixed cost was most of ``update``'s — and on memory that is reused rather than
allocated per batch (fresh memory each batch cost page faults). The reduction works
in place on the block.

Per row a reduction gives the predicted class (first maximum on ties, as numpy's
argmax), the top score, the true class' score, the softmax denominator
``sum(exp(s - top))``, the row sum and the largest score other than the true class';
per block, the smallest score. Whether scores are probabilities or logits is decided
per epoch at ``end_epoch`` from the row sums and the minimum (as
:func:`~confusion_widget.matrix.score_signals` does), so nothing here reads a value
on the host: ``update`` does not wait for a GPU (targets given on the host are
copied to the device once per block, as any host-to-device copy).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BLOCK_SCORES = 1 << 18  # 1 MiB of float32: stays in the CPU's caches while reduced
_LOG2E = 1.0 / math.log(2.0)  # exp(s) = exp2(s · log2 e); torch's exp2 is ~2× faster than exp
_NEG_INF = float("-inf")
FIELDS = ("pred", "top", "true", "denom", "row_sum", "other")


def torch_module() -> Any:
    """torch if the user's program imported it (a numpy user never pays for it)."""
    return sys.modules.get("torch")


@dataclass
class ScoreBlocks:
    """An epoch's scores: the block being filled and the rows reduced so far."""

    key: Any = None  # (device, float64?) of the block: a batch with another key starts one
    block: Any = None  # (rows, K) float32/float64 (torch on the batches' device, or numpy)
    n: int = 0  # rows filled
    targets: list[Any] = field(default_factory=list)  # the filled rows' targets, per batch
    reduced: dict[str, list[Any]] = field(default_factory=lambda: {f: [] for f in FIELDS})
    low: list[Any] = field(default_factory=list)  # each block's minimum score

    def add(self, x: Any, target: Any) -> None:
        """Copy one batch's scores into the block (outputs may be reused buffers, as
        CUDA graphs' are) and hold its targets (kept as ``EpochBuffer`` keeps them),
        reducing the block first when the batch does not fit or needs another device
        or precision."""
        torch = torch_module()
        if torch is None:
            key: tuple[Any, bool] = (None, x.dtype == np.float64)
        elif isinstance(x, torch.Tensor):
            key = (x.device, x.dtype == torch.float64)
        else:  # numpy scores go to a CPU tensor: torch's kernels are the faster ones
            key = (torch.device("cpu"), x.dtype == np.float64)
        b = len(x)
        if key != self.key or self.n + b > len(self.block):
            self.flush()
            if key != self.key or b > len(self.block):
                self._allocate(key, max(b, BLOCK_SCORES // x.shape[1]), x.shape[1])
        rows = slice(self.n, self.n + b)
        if torch is None:
            self.block[rows] = x
        elif isinstance(x, torch.Tensor):
            self.block[rows].copy_(x.detach())
        else:
            self.block.numpy()[rows] = x
        self.targets.append(target)
        self.n += b

    def _allocate(self, key: tuple[Any, bool], rows: int, k: int) -> None:
        device, double = key
        if device is None:
            self.block = np.empty((rows, k), np.float64 if double else np.float32)
        else:
            torch = torch_module()
            dtype = torch.float64 if double else torch.float32
            self.block = torch.empty((rows, k), dtype=dtype, device=device)
        self.key = key

    def flush(self) -> None:
        """Reduce the filled rows (nothing when there are none)."""
        if not self.n:
            return
        x, k = self.block[: self.n], self.block.shape[1]
        if self.key[0] is None:
            t = np.concatenate([np.asarray(t).reshape(-1) for t in self.targets])
            *rows, low = reduce_numpy(x, np.clip(t.astype(np.int64), 0, k - 1))
        else:
            torch = torch_module()
            t = torch.cat([torch.as_tensor(t, device=x.device).view(-1) for t in self.targets])
            # Clamped: a bad target cannot fault a GPU (it is refused at end_epoch).
            *rows, low = reduce_torch(x, t.view(-1, 1).long().clamp_(0, k - 1))
        for name, values in zip(FIELDS, rows):
            self.reduced[name].append(values)
        self.low.append(low)
        self.targets, self.n = [], 0


def reduce_torch(x: Any, t: Any) -> tuple[Any, ...]:
    """Reduce a block of scores in place, given its ``(n, 1)`` targets: ``(pred, top,
    true, denom, row_sum, other)`` as ``(n, 1)`` tensors and the block's minimum
    (0-d), on its device."""
    torch = torch_module()
    if x.device.type == "cpu":  # numpy's argmax is vectorised, torch's CPU one is not (~6x)
        pred = torch.from_numpy(x.numpy().argmax(axis=1)).view(-1, 1)
    else:
        pred = x.argmax(dim=1, keepdim=True)  # the first maximal index, as numpy's
    top, true = x.gather(1, pred), x.gather(1, t)
    row_sum, low = x.sum(dim=1, keepdim=True), x.amin()
    other = x.scatter_(1, t, _NEG_INF).amax(dim=1, keepdim=True)
    # The true class' entry is now -inf (exp 0): its term is added back on its own.
    denom = x.sub_(top).mul_(_LOG2E).exp2_().sum(dim=1, keepdim=True)
    denom += (true - top).mul_(_LOG2E).exp2_()
    return pred, top, true, denom, row_sum, other, low


def reduce_numpy(x: np.ndarray, t: np.ndarray) -> tuple[Any, ...]:
    """:func:`reduce_torch` for numpy blocks (when torch is not imported)."""
    rows = np.arange(len(x))
    pred = x.argmax(axis=1)
    top, true = x[rows, pred], x[rows, t]
    row_sum, low = x.sum(axis=1), x.min()
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf are refused at end_epoch
        x[rows, t] = -np.inf
        other = x.max(axis=1)
        x -= top[:, None]
        denom = np.exp(x, out=x).sum(axis=1) + np.exp(true - top)
    return pred, top, true, denom, row_sum, other, low
