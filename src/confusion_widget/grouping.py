"""A source seen through a :class:`~confusion_widget.classview.ClassView`: a subset
plus ``"(other)"``, collapsed groups — every cell of a displayed class is the sum of
the source's cells inside it, so counts are conserved and every aggregation stays
right.

:func:`grouped_source` wraps a source in a :class:`GroupedSource` that has the same
capabilities (:class:`~confusion_widget.sources.HasMetrics`,
:class:`~confusion_widget.sources.TiledComparison`, …): the per-sample ones (image
boxes, histories, thresholds, tile epochs) are the source's own; the counts, the
cells and the metrics are recomputed for the displayed classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .classview import ClassView
from .counts import SPARSE_FROM, Coo, Counts
from .matrix import metric_rows, per_class_metrics
from .ordering import epoch_coo
from .runs import Run
from .sources import (
    CellHits,
    CellIndex,
    CellSource,
    EpochCache,
    HasImageBoxes,
    HasMetrics,
    HasSampleHistory,
    LazyExtras,
    Thresholded,
    TiledComparison,
    confidence_key,
)

__all__ = ["GroupedSource", "grouped_source"]

_CAPABILITIES = (HasMetrics, Thresholded, TiledComparison, HasSampleHistory, HasImageBoxes)
_CLASSES: dict[tuple[type, ...], type] = {}


def grouped_source(inner: CellSource, view: ClassView) -> CellSource:
    """``inner`` shown through ``view`` (``inner`` itself when the view changes nothing).

    Examples
    --------
    >>> from confusion_widget.runs import Run
    >>> run = Run(["a", "b", "c"], [0, 1, 2, 2], [[0, 2, 1, 2]])
    >>> src = grouped_source(run, ClassView(run.labels, np.array([True, False, False])))
    >>> src.labels, src.matrices()[0, 0].tolist()
    (['a', '(other)'], [[1, 0], [0, 3]])
    """
    if view.identity:
        return inner
    caps = tuple(c for c in _CAPABILITIES if isinstance(inner, c))
    cls = _CLASSES.get(caps)
    if cls is None:
        cls = _CLASSES[caps] = type("GroupedSource", (GroupedSource, *caps), {})
    return cls(inner, view)


class GroupedSource(CellSource):
    """``inner``'s classes shown as ``view``'s; see :func:`grouped_source` (which adds
    the capabilities of ``inner``).

    Parameters
    ----------
    inner
        The source.
    view
        The displayed classes.
    """

    def __init__(self, inner: CellSource, view: ClassView) -> None:
        self.inner, self.view = inner, view
        self.labels = list(view.labels)
        self._runs: EpochCache[int, CellIndex] = EpochCache()  # a Run's cells, by displayed code
        self._last: tuple[tuple[int, ...], CellHits] | None = None  # the last merged cell (pages)
        inner.subscribe(self._forget)

    def _forget(self) -> None:
        self._last = None  # the source changed (a new threshold): merge again

    # -- delegated ---------------------------------------------------------------------
    @property
    def tile_titles(self) -> list[str]:  # type: ignore[override]
        return list(self.inner.tile_titles)

    @property
    def images(self) -> Any:  # type: ignore[override]
        return self.inner.images

    @property
    def n_epochs(self) -> int:
        return self.inner.n_epochs

    @property
    def epoch_labels(self) -> list[str]:
        return self.inner.epoch_labels

    def sample_ids(self) -> np.ndarray:
        return self.inner.sample_ids()

    @property
    def has_samples(self) -> bool:
        return self.inner.has_samples

    def position_of(self, sample_id: Any) -> int:
        return self.inner.position_of(sample_id)

    def subscribe(self, callback: Callable[[], None]) -> None:
        self.inner.subscribe(callback)

    @property
    def threshold(self) -> float | None:
        return self.inner.threshold  # type: ignore[attr-defined]

    def set_threshold(self, threshold: float) -> None:
        self.inner.set_threshold(threshold)  # type: ignore[attr-defined]

    @property
    def diff_of(self) -> list[list[int] | None]:
        return list(self.inner.diff_of)  # type: ignore[attr-defined]

    def tile_epochs(self) -> list[list[int]]:
        return self.inner.tile_epochs()  # type: ignore[attr-defined]

    def sample_history(self, pos: int) -> Any:
        return self.inner.sample_history(pos)  # type: ignore[attr-defined]

    def image_boxes(self, pos: int, epoch: int) -> Any:
        return self.inner.image_boxes(pos, epoch)  # type: ignore[attr-defined]

    # -- counts ------------------------------------------------------------------------
    def all_counts(self) -> Counts:
        """The displayed counts of every (epoch, tile): sums of the source's cells."""
        d = len(self.labels)
        inner = self.inner.all_counts()
        tiles = []
        for e in range(inner.shape[0]):
            row: list[Any] = []
            for t in range(inner.shape[1]):
                c = inner.coo(e, t)
                r, k, v = self.view.counts(c.rows(), c.cols(), c.val)
                if d >= SPARSE_FROM:
                    row.append(Coo(d, r * d + k, v))
                else:
                    m = np.zeros((d, d), np.int64)
                    m[r, k] = v
                    row.append(m)
            tiles.append(row)
        return Counts(tiles, d)

    def matrices(self) -> np.ndarray:
        """``(E, T, D, D)`` displayed counts (dense)."""
        return self.all_counts().dense()

    def metrics(self, epoch: int = -1) -> list[Any]:
        """Precision, recall, F1 and support per displayed class, from the displayed
        counts of the first tile."""
        e = epoch % self.n_epochs
        r, k, v = self.view.counts(*epoch_coo(self.inner, e, (0,)))
        d = len(self.labels)
        m = Coo(d, r * d + k, v)
        return metric_rows(self.labels, **per_class_metrics(m if d >= SPARSE_FROM else m.dense()))

    # -- cells -------------------------------------------------------------------------
    def _diff_pair(self, tile: int) -> list[int] | None:
        if isinstance(self.inner, TiledComparison):
            return self.inner.diff_of[tile]
        return None

    def _inner_cells(self, epoch: int, tile: int, row: int, col: int) -> list[tuple[int, int]]:
        """The source's cells inside displayed cell ``(row, col)`` that hold entries
        (non-zero counts; for a difference tile, non-zero in either side)."""
        pair = self._diff_pair(tile)
        tiles = (tile,) if pair is None else (tile, *pair)
        rows, cols, _ = epoch_coo(self.inner, epoch, tiles)
        m = self.view.mapping
        keep = (m[rows] == row) & (m[cols] == col)
        k = len(self.inner.labels)
        codes = np.unique(rows[keep] * k + cols[keep])
        return [(int(c // k), int(c % k)) for c in codes]

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """The union of the source's cells inside this one: most confident first
        (for a difference tile: those that entered, then those that left, without
        the samples that only moved inside the displayed cell)."""
        if not self.has_samples:
            return CellHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        if isinstance(self.inner, Run):  # one index over the samples: fast for any cell
            d = len(self.labels)
            index = self._runs.get(epoch, lambda: self._run_index(epoch))
            pos = index[row * d + col]
            return CellHits(pos, self.inner.confidence(epoch)[pos])
        key = (epoch, tile, row, col)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        cells = self._inner_cells(epoch, tile, row, col)
        parts = [p for p in (self.inner._cell(epoch, tile, r, c) for r, c in cells) if len(p)]
        if self._diff_pair(tile) is not None:
            hits = _merge_changes(parts)
        else:
            hits = parts[0] if len(parts) == 1 else _merge(parts)
        self._last = (key, hits)
        return hits

    def _run_index(self, epoch: int) -> CellIndex:
        run = self.inner
        assert isinstance(run, Run)
        m = self.view.mapping
        code = m[run.y_true(epoch)] * len(self.labels) + m[run.y_pred(epoch)]
        return CellIndex(code, confidence_key(run.confidence(epoch)))


def _merge(parts: list[CellHits]) -> CellHits:
    """Several cells' entries as one, most confident first (ties: cell order)."""
    if not parts:
        return CellHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
    pos = np.concatenate([p.positions for p in parts])
    conf = np.concatenate([np.asarray(p.confidence, np.float32) for p in parts])
    order = np.argsort(confidence_key(conf), kind="stable")
    if all(p.extra is None for p in parts):
        return CellHits(pos[order], conf[order])
    part_of = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    starts = np.r_[0, np.cumsum([len(p) for p in parts])]

    def make(i: int) -> dict[str, Any]:
        j = int(order[i])
        extra = parts[part_of[j]].extra
        return {} if extra is None else dict(extra[j - starts[part_of[j]]])

    return CellHits(pos[order], conf[order], LazyExtras(len(order), make))


def _merge_changes(parts: list[CellHits]) -> CellHits:
    """Difference cells as one: entered, then left; a sample that left one inner cell
    for another inside the same displayed cell did not change it."""
    entries: list[tuple[int, float, dict[str, Any]]] = []
    for p in parts:
        extra = list(p.extra) if p.extra is not None else [{}] * len(p)
        entries += zip(p.positions.tolist(), np.asarray(p.confidence).tolist(), extra)
    entered = {pos for pos, _, x in entries if x.get("change") == "entered"}
    left = {pos for pos, _, x in entries if x.get("change") == "left"}
    moved = entered & left
    kept = [e for e in entries if e[0] not in moved]
    kept.sort(key=lambda e: e[2].get("change") != "entered")  # stable: entered first
    return CellHits(
        np.array([e[0] for e in kept], np.int64),
        np.array([e[1] for e in kept], np.float32),
        [e[2] for e in kept],
    )
