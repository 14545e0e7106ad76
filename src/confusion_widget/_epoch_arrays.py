"""Per-epoch arrays as users give them (lists of arrays, ``(E, N)`` arrays, tensors)
→ checked numpy rows, for :class:`~confusion_widget.Run`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._util import to_numpy

__all__ = ["epoch_rows", "float_row", "probability_row", "score_classes", "split_epochs", "stack_rows"]


def stack_rows(rows: list[np.ndarray | None]) -> np.ndarray | None:
    """``(E, N)`` of per-epoch rows, or ``None`` if any epoch lacks them."""
    return None if any(r is None for r in rows) else np.stack(rows)  # type: ignore[arg-type]


def float_row(values: Any, n: int, name: str) -> np.ndarray | None:
    """``(n,)`` float32, or ``None`` for ``None`` (unknown)."""
    if values is None:
        return None
    arr = np.asarray(to_numpy(values, name), dtype=np.float32).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} values for {n} predictions.")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains inf; use NaN where a value is unknown.")
    return arr


def probability_row(values: Any, n: int, name: str = "confidence") -> np.ndarray | None:
    """``(n,)`` float32 probabilities in [0, 1] or NaN (unknown); ``None`` stays."""
    arr = float_row(values, n, name)
    if arr is not None and ((arr < 0).any() or (arr > 1).any()):
        raise ValueError(f"{name} must hold probabilities in [0, 1] (or NaN where unknown).")
    return arr


def epoch_rows(x: Any, name: str) -> list[Any]:
    """``(E, N)`` data (or ``(N,)``, one epoch) as a list of per-epoch rows; a list
    may hold ``None`` for an epoch that lacks the values."""
    if isinstance(x, (list, tuple)) and x and all(r is None or np.ndim(r) == 1 for r in x):
        return list(x)
    arr = to_numpy(x, name)
    if arr.ndim == 1:
        return [arr]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (N,) or (E, N), got shape {arr.shape}.")
    return list(arr)


def split_epochs(x: Any, name: str) -> list[np.ndarray]:
    """A list/tuple of per-epoch arrays (or lists), or one array → numpy arrays."""
    if isinstance(x, (list, tuple)) and x and np.ndim(x[0]) >= 1:
        return [to_numpy(v, f"{name}[{i}]") for i, v in enumerate(x)]
    arr = to_numpy(x, name)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; there is nothing to count.")
    return [arr]


def score_classes(preds: list[np.ndarray], labels: Sequence[Any] | None) -> int | None:
    """``K`` from the labels and the scores' columns (``None``: infer from the ids)."""
    widths = {2 if p.shape[1] == 1 else p.shape[1] for p in preds if p.ndim == 2}
    if len(widths) > 1:
        raise ValueError(
            f"y_pred's scores have {sorted(widths)} columns in different epochs; every epoch "
            "must score the same classes."
        )
    k = len(labels) if labels is not None and not isinstance(labels, (str, bytes)) else None
    if widths:
        w = widths.pop()
        if k is not None and k != w:
            raise ValueError(
                f"y_pred scores have {w} columns but labels has {k} names; give one name per score column."
            )
        return w
    return k
