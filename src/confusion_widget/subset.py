"""A run restricted to some of its samples: the cell source of a widget whose matrix
counts only the samples selected in the dynamics view (``w.filter_samples(ids)``).

:class:`SubsetRun` is a :class:`~confusion_widget.Run` of the parent run's records at
the chosen positions: its counts are recomputed from the parent's ``y_true`` /
``y_pred`` at those positions, epoch by epoch; its cells hold only those samples
(most confident first, as the parent's); images, sample ids and histories are the
parent's. It follows a live parent: epochs the parent gains are copied on the next
read. :func:`subset_source` does the same for every run of a comparison.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from .compare import CompareSource
from .images import Encoded, ImageProvider
from .runs import Run
from .sources import CellSource

__all__ = ["SubsetRun", "subset_source"]


class _SubsetImages(ImageProvider):
    """The parent's images, by position in the subset."""

    def __init__(self, base: ImageProvider, positions: np.ndarray) -> None:
        self._base, self._pos = base, positions

    def __len__(self) -> int:
        return len(self._pos)

    def thumbnail(self, pos: int) -> Encoded:
        return self._base.thumbnail(int(self._pos[pos]))

    def large(self, pos: int) -> Encoded:
        return self._base.large(int(self._pos[pos]))


class SubsetRun(Run):
    """The samples of ``run`` at ``positions`` (a live view of a growing run).

    Parameters
    ----------
    run
        The parent run.
    positions
        Sample positions in ``run`` (indices into ``run.sample_ids()``), any order,
        no duplicates; they are kept sorted. May be empty.

    Raises
    ------
    ValueError
        For a position out of range or repeated.
    TypeError
        For positions that are not integers.
    """

    def __init__(self, run: Run, positions: Any) -> None:
        pos = np.asarray(positions)
        if pos.size == 0:
            pos = np.zeros(0, dtype=np.int64)
        if pos.ndim != 1 or not np.issubdtype(pos.dtype, np.integer):
            raise TypeError(
                f"positions must be a 1-D array of integers, got {pos.dtype} of shape {pos.shape}."
            )
        pos = np.sort(pos.astype(np.int64))
        n = run.n_samples
        if len(pos) and (pos[0] < 0 or pos[-1] >= n):
            raise ValueError(f"positions must be in [0, {n}) (the run's samples), got {pos[0]} … {pos[-1]}.")
        if len(pos) > 1 and (pos[1:] == pos[:-1]).any():
            raise ValueError("positions contains duplicates; pass each sample once.")
        self._parent, self._positions = run, pos
        self._catching_up = threading.Lock()
        e = run.n_epochs
        rows = [self._rows(i) for i in range(e)]
        given = [r[2:] for r in rows]
        p_true = [g[1] for g in given]
        margin = [g[2] for g in given]
        self._setup(
            run.labels,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [g[0] for g in given] if any(g[0] is not None for g in given) else None,
            run.sample_ids()[pos],
            run.name,
            run.epoch_labels[:e],
            p_true if any(p is not None for p in p_true) else None,
            margin if any(m is not None for m in margin) else None,
        )
        self._epoch_labels = None  # read from the parent: it may grow
        self.images = None if run.images is None else _SubsetImages(run.images, pos)

    @property
    def positions(self) -> np.ndarray:
        """The parent's positions of the samples, sorted (position ``i`` here is
        ``positions[i]`` there)."""
        return self._positions

    @property
    def parent(self) -> Run:
        """The run this is a subset of."""
        return self._parent

    def _rows(self, e: int) -> tuple[Any, ...]:
        """The parent's epoch ``e`` at the positions: y_true, y_pred, confidence,
        p_true, margin (the last three ``None`` when the parent lacks them)."""
        run, pos = self._parent, self._positions
        conf = run._conf[e]
        p_true, margin = run.p_true(e), run.margin(e)
        return (
            run.y_true(e)[pos],
            run.y_pred(e)[pos],
            None if conf is None else conf[pos],
            None if p_true is None else p_true[pos],
            None if margin is None else margin[pos],
        )

    def _catch_up(self) -> None:
        """Copy the epochs the parent gained since."""
        with self._catching_up:
            while len(self._matrices) < self._parent.n_epochs:
                self.append_epoch(*self._rows(len(self._matrices)))

    @property
    def n_epochs(self) -> int:
        self._catch_up()
        return len(self._matrices)

    @property
    def epoch_labels(self) -> list[str]:
        return self._parent.epoch_labels[: self.n_epochs]

    def all_counts(self) -> Any:
        self._catch_up()
        return super().all_counts()

    def _histories(self) -> Any:
        self._catch_up()
        return super()._histories()

    def __repr__(self) -> str:
        return f"SubsetRun({len(self._positions)} of {self._parent!r})"


def _positions_of(run: Run, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The run's positions of the ids it has, and a mask of ``ids`` it has."""
    own = run.sample_ids()
    if own.dtype == object or ids.dtype == object or own.dtype.kind != ids.dtype.kind:
        where = {v: i for i, v in enumerate(own.tolist())}
        found = [where.get(v, -1) for v in ids.tolist()]
        arr = np.asarray(found, dtype=np.int64)
        return arr[arr >= 0], arr >= 0
    order = np.argsort(own, kind="stable")
    at = np.searchsorted(own, ids, sorter=order)
    at = np.minimum(at, max(len(own) - 1, 0))
    hit = own[order[at]] == ids if len(own) else np.zeros(len(ids), bool)
    return order[at[hit]].astype(np.int64), hit


def _as_ids(ids: Iterable[Any]) -> np.ndarray:
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"ids must be a list of sample ids, got the string {ids!r}.")
    arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype.kind not in "iuUSO":
        raise TypeError(f"sample ids are integers or strings, got {arr.dtype}.")
    return arr


def subset_source(source: CellSource, ids: Iterable[Any]) -> CellSource:
    """``source`` restricted to the samples with these ids: a :class:`SubsetRun` of a
    run, a comparison of the runs' subsets (each run keeps the ids it has).

    Parameters
    ----------
    source
        A :class:`~confusion_widget.Run` or a comparison of runs.
    ids
        Sample ids, as ``source.sample_ids()`` holds them (duplicates ignored).

    Raises
    ------
    ValueError
        For an id no run has (a few are named), or a source without per-sample
        predictions (a bare matrix, multi-label, detection, a table queried in place).
    TypeError
        For ids that are neither integers nor strings.
    """
    wanted = _as_ids(ids)
    if len(wanted):
        wanted = (
            np.unique(wanted) if wanted.dtype != object else np.asarray(list(dict.fromkeys(wanted)), object)
        )
    if isinstance(source, Run):
        pos, hit = _positions_of(source, wanted)
        _check_known(wanted, hit)
        return SubsetRun(source, pos)
    if isinstance(source, CompareSource):
        views, known = [], np.zeros(len(wanted), bool)
        for v in source._views:
            pos, hit = _positions_of(v.run, wanted)
            known |= hit
            views.append((SubsetRun(v.run, pos), v.title, v.epoch_of))
        _check_known(wanted, known)
        diffs = [(int(a), int(b)) for a, b in source._diffs]
        return CompareSource(views, diffs, source._n_epochs, source._epoch_labels)
    raise ValueError(
        "filtering the matrix to samples needs per-sample predictions over epochs (a run, or a "
        f"comparison of runs); this widget shows a {type(source).__name__}."
    )


def _check_known(ids: np.ndarray, hit: np.ndarray) -> None:
    if not hit.all():
        missing = ids[~hit][:5].tolist()
        raise ValueError(
            f"{int((~hit).sum())} sample id(s) are not in the run, e.g. {missing}; pass ids from "
            "the run's sample_ids() (the dynamics table's sample_id column)."
        )
