"""Comparisons and differences of detection runs: tiles of
:class:`~confusion_widget.detection.DetectionSource` epochs sharing one slider, and
difference tiles whose cells list the matched boxes that moved.

``ConfusionWidget.compare`` and ``ConfusionWidget.difference`` build these when given
detection sources (``from_detections`` widgets, detection recorders, detection runs
of a log). The score and IoU thresholds apply to every tile at once.

A difference cell (``b − a``) lists its *flipped* entries. A ground-truth box is the
same box in both tiles when their ground truth is the same (same images, same
boxes): it *entered* the cell when ``b`` counts it there and ``a`` elsewhere, it
*left* when ``a`` counted it there and ``b`` elsewhere (e.g. a box matched as class
3 at epoch 0 and as class 5 at epoch 1 enters ``(gt, 5)`` and leaves ``(gt, 3)``).
Predictions that match nothing (the background row) have no identity across tiles:
``b``'s are listed as entered, ``a``'s as left. Entered minus left is always the
cell's difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .detection import DetectionSource
from .sources import (
    CellHits,
    CellSource,
    HasImageBoxes,
    HasMetrics,
    TiledComparison,
    check_index,
    epoch_names,
)

if TYPE_CHECKING:
    from .wire import Box, MetricRow

__all__ = [
    "DetectionCompareSource",
    "as_detection",
    "detection_compare",
    "detection_difference",
    "detection_runs",
]

MAX_TILES = 8


def as_detection(obj: Any) -> DetectionSource | None:
    """The detection source behind ``obj`` (a source, a widget, a recorder), or None."""
    src = getattr(obj, "source", None) if not isinstance(obj, DetectionSource) else obj
    if src is None and hasattr(obj, "as_source"):
        try:
            src = obj.as_source()
        except RuntimeError:
            return None
    return src if isinstance(src, DetectionSource) else None


class DetectionCompareSource(CellSource, TiledComparison, HasImageBoxes, HasMetrics):
    """Tiles of detection sources (one epoch each per slider epoch), plus difference
    tiles. Build it with :func:`detection_compare` or :func:`detection_difference`.

    Attributes
    ----------
    score, iou
        The thresholds of every tile (see :meth:`set_thresholds`).
    """

    def __init__(
        self,
        views: Sequence[tuple[DetectionSource, str, Callable[[int], int]]],
        diffs: Sequence[tuple[int, int]] = (),
        n_epochs: int | None = None,
        epoch_labels: Sequence[str] | None = None,
    ) -> None:
        if not 1 <= len(views) <= MAX_TILES:
            raise ValueError(f"compare tiles 1 to {MAX_TILES} detection runs, got {len(views)}.")
        ref = views[0][0]
        for src, title, _ in views[1:]:
            if src.labels != ref.labels:
                raise ValueError(f"run {title!r} has the classes {src.class_names}, not {ref.class_names}.")
            if not np.array_equal(src.sample_ids(), ref.sample_ids()):
                raise ValueError(f"run {title!r} has other images (image ids) than {views[0][1]!r}.")
        self.labels = list(ref.labels)
        self._views = list(views)
        self._sources = list({id(s): s for s, _, _ in views}.values())
        self._diffs = [tuple(d) for d in diffs]
        self._n_epochs, self._epoch_labels = n_epochs, epoch_labels
        self.tile_titles = [t for _, t, _ in views] + [
            f"{views[b][1]} − {views[a][1]}" for a, b in self._diffs
        ]
        self.images = ref.images
        self.set_thresholds(score=ref.score, iou=ref.iou)

    # -- thresholds ------------------------------------------------------------------
    @property
    def score(self) -> float:
        return self._sources[0].score

    @property
    def iou(self) -> float:
        return self._sources[0].iou

    def set_thresholds(self, score: float | None = None, iou: float | None = None) -> None:
        """Re-match every tile's source at new thresholds (each notifies)."""
        for s in self._sources:
            s.set_thresholds(score=score, iou=iou)

    # -- the cell-source protocol ------------------------------------------------------
    @property
    def n_epochs(self) -> int:
        return self._n_epochs if self._n_epochs is not None else max(s.n_epochs for s, _, _ in self._views)

    @property
    def epoch_labels(self) -> list[str]:
        return epoch_names(self._epoch_labels, self.n_epochs)

    @property
    def diff_of(self) -> list[list[int] | None]:
        return [None] * len(self._views) + [[a, b] for a, b in self._diffs]

    def _epoch(self, v: int, e: int) -> int:
        src, _, epoch_of = self._views[v]
        return int(min(max(epoch_of(e), 0), src.n_epochs - 1))

    def tile_epochs(self) -> list[list[int]]:
        out = []
        for e in range(self.n_epochs):
            real = [self._epoch(v, e) for v in range(len(self._views))]
            out.append(real + [real[b] for _, b in self._diffs])
        return out

    def matrices(self) -> np.ndarray:
        held = [s.matrices() for s, _, _ in self._views]
        out = []
        for e in range(self.n_epochs):
            real = [held[v][min(self._epoch(v, e), len(held[v]) - 1), 0] for v in range(len(self._views))]
            out.append(real + [real[b] - real[a] for a, b in self._diffs])
        return np.asarray(out, dtype=np.int64)

    def sample_ids(self) -> np.ndarray:
        return self._views[0][0].sample_ids()

    def subscribe(self, callback: Callable[[], None]) -> None:
        for s in self._sources:
            s.subscribe(callback)

    def metrics(self, epoch: int = -1) -> list[MetricRow]:
        """The last real tile's per-class figures at its epoch."""
        v = len(self._views) - 1
        return self._views[v][0].metrics(self._epoch(v, epoch % self.n_epochs))

    def image_boxes(self, pos: int, epoch: int) -> list[Box]:
        """The boxes of the last real tile at its epoch."""
        v = len(self._views) - 1
        return self._views[v][0].image_boxes(pos, self._epoch(v, epoch))

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        if tile < len(self._views):
            return self._views[tile][0].cell(self._epoch(tile, epoch), 0, row, col)
        a, b = self._diffs[tile - len(self._views)]
        return self._flip_cell(epoch, a, b, row, col)

    # -- differences -------------------------------------------------------------------
    def _side(self, v: int, epoch: int) -> tuple[DetectionSource, int, Any, np.ndarray]:
        src = self._views[v][0]
        e = self._epoch(v, epoch)
        entries = src.entries(e)
        return src, e, entries, src.positions(e)[entries.image]

    def _flip_cell(self, epoch: int, a: int, b: int, row: int, col: int) -> CellHits:
        sa, ea, xa, pa = self._side(a, epoch)
        sb, eb, xb, pb = self._side(b, epoch)
        k1 = len(self.labels)
        same_gt = _same_ground_truth(sa, ea, sb, eb)
        big = 1 + max(int(xa.gt.max(initial=0)), int(xb.gt.max(initial=0)))
        key_a = np.where(xa.gt >= 0, pa * big + xa.gt, -1 - np.arange(len(xa.gt)))  # no gt: unique keys
        key_b = np.where(xb.gt >= 0, pb * big + xb.gt, -(len(xa.gt) + 1) - np.arange(len(xb.gt)))
        if not same_gt:  # no identity: every entry stands alone
            key_a, key_b = -1 - np.arange(len(xa.gt)), -(len(xa.gt) + 1) - np.arange(len(xb.gt))
        code_a, code_b = xa.row * k1 + xa.col, xb.row * k1 + xb.col
        here = row * k1 + col
        in_a, in_b = np.flatnonzero(code_a == here), np.flatnonzero(code_b == here)
        entered = in_b[~np.isin(key_b[in_b], key_a[in_a])]
        left = in_a[~np.isin(key_a[in_a], key_b[in_b])]
        col_a = dict(zip(key_a.tolist(), xa.col.tolist()))
        col_b = dict(zip(key_b.tolist(), xb.col.tolist()))
        ta, tb = self.tile_titles[a], self.tile_titles[b]

        def said(cols: dict[int, int], key: int) -> str:
            c = cols.get(key)
            return "(absent)" if c is None else self.labels[c]

        extra = []
        for change, src, x, ep, which, keys in (
            ("entered", sb, xb, eb, entered, key_b),
            ("left", sa, xa, ea, left, key_a),
        ):
            for j in which.tolist():
                e = dict(src._extra(x, ep, j))
                key = int(keys[j])
                e["change"] = change
                e["caption"] = f"{change} · {ta}: {said(col_a, key)} → {tb}: {said(col_b, key)}"
                extra.append(e)
        return CellHits(
            np.concatenate([pb[entered], pa[left]]),
            np.concatenate([xb.score[entered], xa.score[left]]),
            extra,
        )

    def __repr__(self) -> str:
        return f"DetectionCompareSource(tiles={self.tile_titles}, epochs={self.n_epochs})"


def _same_ground_truth(sa: DetectionSource, ea: int, sb: DetectionSource, eb: int) -> bool:
    ga, gb = sa._epochs[ea].gts, sb._epochs[eb].gts
    if ga is gb:
        return True
    return len(ga) == len(gb) and all(
        np.array_equal(x.boxes, y.boxes) and np.array_equal(x.labels, y.labels) for x, y in zip(ga, gb)
    )


def detection_compare(
    named: dict[str, DetectionSource], diffs: list[tuple[int, int]]
) -> DetectionCompareSource:
    """Tiles of named detection sources (their last epoch at or before the slider's)."""
    views = [(s, n, _identity) for n, s in named.items()]
    return DetectionCompareSource(views, diffs)


def _identity(e: int) -> int:
    return e


def detection_difference(
    src: DetectionSource, epochs: tuple[int, int] | None = None
) -> DetectionCompareSource:
    """One detection run's change between epochs (each epoch against the one before
    it, or epoch ``b`` against ``a``), with the boxes that moved between cells."""
    if epochs is None:
        views = [(src, "previous epoch", lambda e: e - 1), (src, "this epoch", _identity)]
        return DetectionCompareSource(views, [(0, 1)])
    if not (isinstance(epochs, (tuple, list)) and len(epochs) == 2):
        raise TypeError(f"epochs must be a pair (a, b) of epochs, got {epochs!r}.")
    a, b = (check_index(e, src.n_epochs, f"epochs[{i}]", negative=True) for i, e in enumerate(epochs))
    names = src.epoch_labels
    views = [(src, names[a], lambda e: a), (src, names[b], lambda e: b)]
    return DetectionCompareSource(views, [(0, 1)], n_epochs=1, epoch_labels=[f"{names[b]} vs {names[a]}"])


def detection_runs(runs: Any, diff: Any) -> DetectionCompareSource | None:
    """``compare``'s arguments → a detection comparison when every run is a detection
    source (or a widget/recorder of one); ``None`` otherwise."""
    if isinstance(runs, Mapping):
        items = list(runs.items())
    elif isinstance(runs, Sequence) and not isinstance(runs, (str, bytes)):
        items = [(f"run {i}", r) for i, r in enumerate(runs)]
    else:
        return None
    named = {str(n): as_detection(r) for n, r in items}
    if not named or any(s is None for s in named.values()):
        return None
    names = list(named)
    if diff is True:
        if len(names) != 2:
            raise ValueError("diff=True needs exactly two runs; pass diff=(a, b) to pick two.")
        diffs = [(0, 1)]
    elif diff is False:
        diffs = []
    else:
        if not (isinstance(diff, (tuple, list)) and len(diff) == 2) or any(n not in named for n in diff):
            raise ValueError(f"diff must be True, False or two of the runs {names}, got {diff!r}.")
        diffs = [(names.index(diff[0]), names.index(diff[1]))]
    return detection_compare({n: s for n, s in named.items() if s is not None}, diffs)
