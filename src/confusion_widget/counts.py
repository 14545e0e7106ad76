"""Confusion counts held dense or sparse: what the widget holds and the wire sends.

Below :data:`SPARSE_FROM` classes a ``(K, K)`` int64 matrix per epoch is cheap and
numpy is fastest on it. At 10,000 classes one such matrix is 800 MB while a trained
model's matrix has a few tens of thousands of non-zero cells, so from
:data:`SPARSE_FROM` classes up a matrix is a :class:`Coo`: the sorted flat positions
(``row * K + col``) of its non-zero cells and their values. :class:`Counts` holds one
matrix per (epoch, tile) in either form and answers what the widget needs — the
non-zero cells of one tile, totals and traces, a dense epoch when it is small —
without ever making a dense ``K × K`` array of a sparse one unless asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np

__all__ = ["SPARSE_FROM", "Coo", "Counts", "as_counts", "count_pairs", "difference"]

#: From this many classes on, counts are held as :class:`Coo` (no dense K × K array).
SPARSE_FROM = 5000


class Coo:
    """One ``(K, K)`` count matrix as its non-zero cells.

    Parameters
    ----------
    k
        The number of classes.
    pos
        Sorted, unique flat positions ``row * K + col`` (int64).
    val
        The counts at those positions (int64, non-zero).

    Examples
    --------
    >>> m = Coo.from_dense(np.array([[3, 0], [1, 2]]))
    >>> m.pos.tolist(), m.val.tolist(), m.trace(), m.sum()
    ([0, 2, 3], [3, 1, 2], 5, 6)
    >>> m.dense().tolist()
    [[3, 0], [1, 2]]
    """

    __slots__ = ("k", "pos", "val")

    def __init__(self, k: int, pos: np.ndarray, val: np.ndarray) -> None:
        self.k = int(k)
        self.pos = np.asarray(pos, dtype=np.int64)
        self.val = np.asarray(val, dtype=np.int64)

    @classmethod
    def from_dense(cls, m: np.ndarray) -> Coo:
        """The non-zero cells of a dense ``(K, K)`` matrix."""
        flat = np.asarray(m).reshape(-1)
        pos = np.flatnonzero(flat)
        return cls(m.shape[-1], pos, flat[pos])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.k, self.k)

    @property
    def nnz(self) -> int:
        return len(self.pos)

    def rows(self) -> np.ndarray:
        return self.pos // self.k

    def cols(self) -> np.ndarray:
        return self.pos % self.k

    def sum(self) -> int:
        return int(self.val.sum())

    def trace(self) -> int:
        return int(self.val[self.pos % (self.k + 1) == 0].sum())

    def diagonal(self) -> np.ndarray:
        """``(K,)`` int64 counts on the diagonal."""
        out = np.zeros(self.k, np.int64)
        on = self.pos % (self.k + 1) == 0
        out[self.pos[on] // (self.k + 1)] = self.val[on]
        return out

    def row_sums(self) -> np.ndarray:
        return np.bincount(self.rows(), weights=self.val, minlength=self.k).astype(np.int64)

    def col_sums(self) -> np.ndarray:
        return np.bincount(self.cols(), weights=self.val, minlength=self.k).astype(np.int64)

    def dense(self) -> np.ndarray:
        """The ``(K, K)`` int64 matrix (K² × 8 bytes: 800 MB at 10,000 classes)."""
        out = np.zeros(self.k * self.k, np.int64)
        out[self.pos] = self.val
        return out.reshape(self.k, self.k)

    def row_range(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions (relative to cell ``(r0, 0)``) and values of rows ``r0 … r1-1``."""
        lo, hi = np.searchsorted(self.pos, [r0 * self.k, r1 * self.k])
        return self.pos[lo:hi] - r0 * self.k, self.val[lo:hi]

    def minus(self, other: Coo) -> Coo:
        """``self - other`` (signed counts of a difference tile), still sparse.

        Examples
        --------
        >>> a, b = Coo(2, np.array([0, 3]), np.array([5, 2])), Coo(2, np.array([0, 1]), np.array([5, 1]))
        >>> a.minus(b).dense().tolist()
        [[0, -1], [0, 2]]
        """
        pos = np.concatenate([self.pos, other.pos])
        val = np.concatenate([self.val, -other.val])
        order = np.argsort(pos, kind="stable")
        pos, val = pos[order], val[order]
        if len(pos) == 0:
            return Coo(self.k, pos, val)
        starts = np.flatnonzero(np.concatenate(([True], pos[1:] != pos[:-1])))
        sums = np.add.reduceat(val, starts)
        keep = sums != 0
        return Coo(self.k, pos[starts][keep], sums[keep])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Coo)
            and other.k == self.k
            and np.array_equal(other.pos, self.pos)
            and np.array_equal(other.val, self.val)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Coo(k={self.k}, nnz={self.nnz}, total={self.sum()})"


Matrix = Union[np.ndarray, Coo]


def count_pairs(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> Coo:
    """Count the ``(true, predicted)`` pairs of one epoch (checked class ids) into a
    :class:`Coo` without a ``K × K`` array: the cell codes are sorted and their runs
    counted (about 10 ms for a million pairs).

    Examples
    --------
    >>> count_pairs(np.array([0, 1, 1, 1]), np.array([0, 0, 1, 0]), 2).dense().tolist()
    [[1, 0], [2, 1]]
    """
    code_type = np.int32 if k * k < 2**31 else np.int64
    codes = np.multiply(y_true, k, dtype=code_type)
    codes += y_pred
    codes.sort()
    if len(codes) == 0:
        return Coo(k, np.zeros(0, np.int64), np.zeros(0, np.int64))
    starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
    return Coo(k, codes[starts], np.diff(np.append(starts, len(codes))))


def difference(b: Matrix, a: Matrix) -> Matrix:
    """``b - a`` of two tiles held alike (both dense or both :class:`Coo`)."""
    if isinstance(b, Coo) and isinstance(a, Coo):
        return b.minus(a)
    return np.asarray(b) - np.asarray(a)


class Counts:
    """The counts of every (epoch, tile): shape ``(E, T, K, K)``, each tile dense
    (small K) or a :class:`Coo` (K ≥ :data:`SPARSE_FROM`).

    Examples
    --------
    >>> c = Counts.from_array(np.array([[[[3, 0], [1, 2]]]]))
    >>> c.shape, c.sparse, c.coo(0, 0).val.tolist()
    ((1, 1, 2, 2), False, [3, 1, 2])
    >>> c.accuracy().tolist()
    [[0.8333333333333334]]
    """

    def __init__(self, tiles: Sequence[Sequence[Matrix]], k: int) -> None:
        if len(tiles) == 0 or len(tiles[0]) == 0:
            raise ValueError("counts need at least one epoch and one tile.")
        self._tiles = [list(row) for row in tiles]
        self.k = int(k)
        self.shape = (len(self._tiles), len(self._tiles[0]), self.k, self.k)

    @classmethod
    def from_array(cls, mats: np.ndarray) -> Counts:
        """From a dense ``(E, T, K, K)`` integer array (kept as it is below
        :data:`SPARSE_FROM` classes)."""
        mats = np.asarray(mats, dtype=np.int64)
        if mats.shape[-1] < SPARSE_FROM:
            return cls(list(mats), mats.shape[-1])
        return cls([[Coo.from_dense(t) for t in e] for e in mats], mats.shape[-1])

    @property
    def sparse(self) -> bool:
        """True when the tiles are held as :class:`Coo` (no dense K × K array)."""
        return self.k >= SPARSE_FROM

    def __len__(self) -> int:
        return self.shape[0]

    def tile(self, epoch: int, tile: int) -> Matrix:
        """One tile as held: a dense ``(K, K)`` array or a :class:`Coo`."""
        return self._tiles[epoch][tile]

    def coo(self, epoch: int, tile: int) -> Coo:
        m = self._tiles[epoch][tile]
        return m if isinstance(m, Coo) else Coo.from_dense(m)

    def epoch(self, epoch: int) -> np.ndarray:
        """One epoch as a dense ``(T, K, K)`` array; a ``ValueError`` for sparse counts."""
        self._check_dense("one epoch")
        return np.asarray(self._tiles[epoch])

    def dense(self) -> np.ndarray:
        """All counts as a dense ``(E, T, K, K)`` array; a ``ValueError`` for sparse counts."""
        self._check_dense("all epochs")
        return np.asarray(self._tiles)

    def _check_dense(self, what: str) -> None:
        if self.sparse:
            gb = self.k * self.k * 8 / 1e9
            raise ValueError(
                f"the counts of {self.k} classes are held sparse; {what} as a dense array would take "
                f"{gb:.1f} GB per tile. Use w.counts.coo(epoch, tile) (non-zero cells) or "
                "w.counts.coo(epoch, tile).dense() for one tile."
            )

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """``(E, T)`` int64 totals and traces."""
        total = np.zeros(self.shape[:2], np.int64)
        trace = np.zeros(self.shape[:2], np.int64)
        for e, row in enumerate(self._tiles):
            for t, m in enumerate(row):
                if isinstance(m, Coo):
                    total[e, t], trace[e, t] = m.sum(), m.trace()
                else:
                    total[e, t], trace[e, t] = m.sum(), np.trace(m)
        return total, trace

    def accuracy(self) -> np.ndarray:
        """``(E, T)`` trace / total (NaN for empty tiles)."""
        total, trace = self.totals()
        with np.errstate(invalid="ignore", divide="ignore"):
            return trace / total.astype(np.float64)

    def cells(self, diff_of: Sequence[Any] | None = None) -> np.ndarray:
        """``(n, 5)`` int64 rows ``(epoch, tile, row, col, size)`` of every non-zero
        cell, ``size`` the absolute count; for a difference tile of ``diff_of[t] =
        (a, b)`` every cell non-zero in ``a`` or ``b``, sized ``|a| + |b|`` (the
        samples that may have entered or left it)."""
        parts = []
        for e in range(self.shape[0]):
            for t in range(self.shape[1]):
                pair = diff_of[t] if diff_of is not None else None
                m = self.coo(e, t)
                if pair is not None:
                    a, b = self.coo(e, pair[0]), self.coo(e, pair[1])
                    m = Coo(a.k, a.pos, np.abs(a.val)).minus(Coo(b.k, b.pos, -np.abs(b.val)))
                parts.append(
                    np.stack([np.full(m.nnz, e), np.full(m.nnz, t), m.rows(), m.cols(), np.abs(m.val)], 1)
                )
        return np.concatenate(parts).astype(np.int64)

    def nbytes(self) -> int:
        return sum(
            m.pos.nbytes + m.val.nbytes if isinstance(m, Coo) else m.nbytes
            for row in self._tiles
            for m in row
        )

    def __repr__(self) -> str:
        e, t, k, _ = self.shape
        return f"Counts(epochs={e}, tiles={t}, classes={k}, {'sparse' if self.sparse else 'dense'})"


def as_counts(counts: Counts | np.ndarray) -> Counts:
    """``counts`` itself, or a dense ``(E, T, K, K)`` array as :class:`Counts`."""
    return counts if isinstance(counts, Counts) else Counts.from_array(counts)
