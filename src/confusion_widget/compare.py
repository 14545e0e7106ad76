"""Several runs (or several epochs of one run) side by side, their differences,
and the samples that flipped.

A :class:`CompareSource` is a cell source whose tiles are *views*: a run at an epoch
chosen from the slider's epoch, plus optional *difference tiles* (B − A of two
views). Samples are matched across runs by sample id, so runs that evaluated their
samples in a different order still compare correctly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .counts import Counts, difference
from .flips import flips
from .images import Encoded, ImageProvider
from .runs import Run
from .sources import CellHits, CellSource, HasSampleHistory, TiledComparison, check_index, epoch_names

if TYPE_CHECKING:
    from .detection_compare import DetectionCompareSource
    from .wire import HistoryEntry

__all__ = ["CompareSource", "align_run", "compare_source", "difference_source", "flips", "flips_of"]

MAX_TILES = 8


@dataclass
class _View:
    """One real tile: ``run`` at ``epoch_of(e)`` for slider epoch ``e``."""

    run: Run
    title: str
    gpos: np.ndarray  # the run's sample positions → global positions
    epoch_of: Callable[[int], int]


def align_run(run: Run, labels: Sequence[str], mapping: Mapping[str, str] | None = None) -> Run:
    """Express ``run`` in the class order of ``labels`` (by class name).

    Parameters
    ----------
    run
        The run to re-label.
    labels
        The reference class names.
    mapping
        Optional ``{run's class name: reference class name}`` for renamed classes.

    Raises
    ------
    ValueError
        If the class sets differ (after ``mapping``); the message lists the classes
        missing on each side.
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        raise TypeError(
            f"mapping must be a dict {{their class name: reference class name}}, got {mapping!r}."
        )
    mapping = dict(mapping or {})
    theirs = [mapping.get(n, n) for n in run.labels]
    if theirs == list(labels):
        return run
    extra = sorted(set(theirs) - set(labels))
    missing = sorted(set(labels) - set(theirs))
    if extra or missing or len(set(theirs)) != len(theirs):
        raise ValueError(
            "the run has different classes from the reference (the first run): "
            f"not in the reference: {extra}; missing from the run: {missing}. "
            "Compare runs with the same class set, or pass mapping={their_name: reference_name}."
        )
    index = {n: i for i, n in enumerate(labels)}
    perm = np.array([index[n] for n in theirs], dtype=np.int32)
    epochs = range(run.n_epochs)
    p_true, margin = ([f(e) for e in epochs] for f in (run.p_true, run.margin))
    return Run(
        list(labels),
        np.stack([perm[run.y_true(e)] for e in epochs]),
        np.stack([perm[run.y_pred(e)] for e in epochs]),
        np.stack([run.confidence(e) for e in epochs]),
        run.sample_ids(),
        run.images,
        run.name,
        run.epoch_labels,
        p_true=p_true,
        margin=margin,
    )


class _CompositeImages(ImageProvider):
    """Images by global position: from the first run that has the sample and images."""

    def __init__(self, views: list[_View], n: int) -> None:
        self._owner = np.full(n, -1, dtype=np.int64)
        self._local = np.full(n, -1, dtype=np.int64)
        self._views = views
        for i, v in reversed(list(enumerate(views))):
            if v.run.images is not None:
                self._owner[v.gpos] = i
                self._local[v.gpos] = np.arange(len(v.gpos))
        self._n = n

    def __len__(self) -> int:
        return self._n

    def _pick(self, pos: int) -> tuple[Any, int] | None:
        i = self._owner[pos]
        return None if i < 0 else (self._views[i].run.images, int(self._local[pos]))

    def thumbnail(self, pos: int) -> Encoded:
        hit = self._pick(pos)
        return Encoded(None, error="no images for this sample") if hit is None else hit[0].thumbnail(hit[1])

    def large(self, pos: int) -> Encoded:
        hit = self._pick(pos)
        return Encoded(None, error="no images for this sample") if hit is None else hit[0].large(hit[1])


class CompareSource(CellSource, TiledComparison, HasSampleHistory):
    """Tiles of runs sharing one slider, with optional difference tiles.

    Use :meth:`ConfusionWidget.compare` or :meth:`ConfusionWidget.difference` rather
    than building this directly.

    Parameters
    ----------
    views
        ``(run, title, epoch_of)`` per real tile; ``epoch_of(e)`` is the run epoch
        shown at slider epoch ``e`` (clamped to the run's last epoch).
    diffs
        ``(a, b)`` tile index pairs; each adds a tile showing ``b − a``.
    n_epochs
        Number of slider epochs.
    """

    def __init__(
        self,
        views: Sequence[tuple[Run, str, Callable[[int], int]]],
        diffs: Sequence[tuple[int, int]] = (),
        n_epochs: int | None = None,
        epoch_labels: Sequence[str] | None = None,
    ) -> None:
        if not views:
            raise ValueError("compare needs at least one run.")
        if len(views) + len(diffs) > MAX_TILES + 1:
            raise ValueError(f"at most {MAX_TILES} runs can be tiled at once, got {len(views)}.")
        ref = views[0][0]
        self.labels = list(ref.labels)
        self._ids, gpos = _global_positions([run.sample_ids() for run, _, _ in views])
        self._views = [_View(run, title, g, epoch_of) for (run, title, epoch_of), g in zip(views, gpos)]
        for a, b in diffs:
            if not (0 <= a < len(views) and 0 <= b < len(views)) or a == b:
                raise ValueError(f"a difference needs two different tiles, got ({a}, {b}).")
        self._diffs = [tuple(d) for d in diffs]
        self._n_epochs = n_epochs
        self._epoch_labels = epoch_labels
        self.tile_titles = [v.title for v in self._views] + [
            f"{self._views[b].title} − {self._views[a].title}" for a, b in self._diffs
        ]
        has_images = any(v.run.images is not None for v in self._views)
        self.images = _CompositeImages(self._views, len(self._ids)) if has_images else None

    # -- cell-source protocol ---------------------------------------------------------
    @property
    def n_epochs(self) -> int:
        """A fixed number, or the longest run's epochs (runs may still be growing)."""
        return self._n_epochs if self._n_epochs is not None else max(v.run.n_epochs for v in self._views)

    @property
    def epoch_labels(self) -> list[str]:
        return epoch_names(self._epoch_labels, self.n_epochs)

    @property
    def diff_of(self) -> list[list[int] | None]:
        """Per tile: ``[a, b]`` for a difference tile (``b − a``), else ``None``."""
        return [None] * len(self._views) + [[a, b] for a, b in self._diffs]

    def tile_epochs(self) -> list[list[int]]:
        """``[E][T]``: the run epoch each tile shows at each slider epoch."""
        out = []
        for e in range(self.n_epochs):
            real = [self._epoch(v, e) for v in self._views]
            out.append(real + [real[b] for _, b in self._diffs])
        return out

    def _epoch(self, view: _View, e: int) -> int:
        return int(min(max(view.epoch_of(e), 0), view.run.n_epochs - 1))

    def matrices(self) -> np.ndarray:
        return self.all_counts().dense()

    def all_counts(self) -> Counts:
        """Each run's counts at the epoch its tile shows, then the differences (b − a),
        dense or sparse as the runs hold them."""
        held = [v.run.all_counts() for v in self._views]
        tiles = []
        for e in range(self.n_epochs):
            real = [c.tile(self._epoch(v, e), 0) for c, v in zip(held, self._views)]
            tiles.append(real + [difference(real[b], real[a]) for a, b in self._diffs])
        return Counts(tiles, len(self.labels))

    def sample_ids(self) -> np.ndarray:
        return self._ids

    def map_runs(self, fn: Callable[[Run], Run]) -> CompareSource:
        """The same tiles, differences and epochs over ``fn(run)`` of each run (e.g.
        :func:`~confusion_widget.abstain.abstained` runs)."""
        views = [(fn(v.run), v.title, v.epoch_of) for v in self._views]
        return CompareSource(views, [(a, b) for a, b in self._diffs], self._n_epochs, self._epoch_labels)

    def subscribe(self, callback: Callable[[], None]) -> None:
        for v in self._views:
            v.run.subscribe(callback)

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """Entries of a real tile's cell, or for a difference tile the samples that
        entered the cell (in ``b`` not ``a``) then those that left it."""
        if tile < len(self._views):
            v = self._views[tile]
            hits = v.run.cell(self._epoch(v, epoch), 0, row, col)
            return CellHits(v.gpos[hits.positions], hits.confidence)
        a, b = self._diffs[tile - len(self._views)]
        return self._flip_cell(epoch, a, b, row, col)

    def _flip_cell(self, epoch: int, a: int, b: int, row: int, col: int) -> CellHits:
        va, vb = self._views[a], self._views[b]
        ha = va.run.cell(self._epoch(va, epoch), 0, row, col)
        hb = vb.run.cell(self._epoch(vb, epoch), 0, row, col)
        ga, gb = va.gpos[ha.positions], vb.gpos[hb.positions]
        entered = ~np.isin(gb, ga)
        left = ~np.isin(ga, gb)
        pred_a = self._global_pred(va, epoch)
        pred_b = self._global_pred(vb, epoch)
        extra = []
        for g in gb[entered]:
            extra.append(
                {
                    "change": "entered",
                    "caption": f"entered · {self._said(va, pred_a, g)} → {self._said(vb, pred_b, g)}",
                }
            )
        for g in ga[left]:
            extra.append(
                {
                    "change": "left",
                    "caption": f"left · {self._said(va, pred_a, g)} → {self._said(vb, pred_b, g)}",
                }
            )
        return CellHits(
            np.concatenate([gb[entered], ga[left]]),
            np.concatenate([hb.confidence[entered], ha.confidence[left]]),
            extra,
        )

    def _global_pred(self, v: _View, epoch: int) -> np.ndarray:
        out = np.full(len(self._ids), -1, dtype=np.int64)
        out[v.gpos] = v.run.y_pred(self._epoch(v, epoch))
        return out

    def _said(self, v: _View, pred: np.ndarray, g: int) -> str:
        p = pred[g]
        return f"{v.title}: {'(absent)' if p < 0 else self.labels[p]}"

    def runs(self) -> list[tuple[str, Run]]:
        """``(title, run)`` of each real tile (a difference view shows one run twice)."""
        return [(v.title, v.run) for v in self._views]

    def sample_history(self, pos: int) -> list[HistoryEntry]:
        """Predicted class and confidence of one sample at every epoch of every run."""
        out = []
        for v in self._views:
            local = np.flatnonzero(v.gpos == pos)
            if len(local):
                out.append(v.run.sample_history(int(local[0]), title=v.title)[0])
        return out

    def flips(self, a: int, b: int, epoch: int) -> dict[str, np.ndarray]:
        """Samples predicted differently by tiles ``a`` and ``b`` at slider ``epoch``."""
        va, vb = self._views[a], self._views[b]
        return flips(va.run, vb.run, self._epoch(va, epoch), self._epoch(vb, epoch))


def _global_positions(id_lists: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The union of several runs' sample ids (first-seen order) and, per run, the
    global position of each of its samples."""
    first = id_lists[0]
    if all(len(x) == len(first) and np.array_equal(x, first) for x in id_lists[1:]):
        same = np.arange(len(first), dtype=np.int64)
        return first, [same] * len(id_lists)
    try:
        allids = np.concatenate(id_lists)
        uniq, first_at, inverse = np.unique(allids, return_index=True, return_inverse=True)
    except TypeError:  # mixed id types cannot be sorted: map them one by one
        index: dict[Any, int] = {}
        out = [
            np.array([index.setdefault(v, len(index)) for v in x.tolist()], dtype=np.int64) for x in id_lists
        ]
        return np.array(list(index), dtype=object), out
    order = np.argsort(first_at, kind="stable")  # unique ids in first-seen order
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    glob = rank[inverse.reshape(-1)]
    bounds = np.cumsum([0] + [len(x) for x in id_lists])
    return uniq[order], [glob[bounds[i] : bounds[i + 1]] for i in range(len(id_lists))]


# -- the widget's constructors ---------------------------------------------------------
def _as_run(obj: Any) -> Run:
    """A Run from a Run, a recorder (``as_source``) or a widget built from predictions."""
    source = getattr(obj, "source", obj)  # a ConfusionWidget
    if hasattr(source, "as_source"):  # a ConfusionRecorder
        source = source.as_source()
    if not isinstance(source, Run):
        raise TypeError(
            f"expected a Run, a ConfusionRecorder or a widget built from predictions, got "
            f"{type(obj).__name__}; a bare matrix has no samples to compare."
        )
    return source


def _named_runs(runs: Any, store: str | os.PathLike[str] | None) -> dict[str, Run]:
    if isinstance(runs, (str, bytes)) or not isinstance(runs, (Mapping, Sequence)):
        raise TypeError(f"runs must be a dict {{name: run}} or a list of runs, got {type(runs).__name__}.")
    items = runs.items() if isinstance(runs, Mapping) else ((None, r) for r in runs)
    out: dict[str, Run] = {}
    for name, r in items:
        if isinstance(r, str):
            if store is None:
                raise ValueError(f"run {r!r} is given by name; pass store= the run log to load it from.")
            r = Run.from_store(store, r)
        run = _as_run(r)
        key = str(name) if name is not None else (run.name or f"run {len(out)}")
        if key in out:
            raise ValueError(f"two runs are named {key!r}; give them distinct names.")
        out[key] = run
    return out


def _identity(e: int) -> int:
    return e


def compare_source(
    runs: Mapping[str, Any] | Sequence[Any],
    *,
    diff: bool | tuple[str, str] = False,
    mapping: Mapping[str, str] | None = None,
    store: str | os.PathLike[str] | None = None,
) -> CompareSource | DetectionCompareSource:
    """Tiles of 1–8 runs sharing one slider, with an optional difference tile.

    Parameters
    ----------
    runs
        ``{name: run}`` (or a list, named by each run's ``name``); a run is a
        :class:`~confusion_widget.Run`, a ``ConfusionRecorder``, a
        ``ConfusionWidget`` built from predictions, or the name of a run in
        ``store``.
    diff
        ``True`` adds a difference tile (second − first) for two runs; ``(a, b)``
        adds ``b − a`` for two named runs. Clicking a cell of the difference tile
        lists the samples that entered and left that cell.
    mapping
        ``{class name in a run: class name in the first run}`` for runs whose class
        names differ; the class sets must otherwise be equal (order may differ: runs
        are aligned by class name).
    store
        A run log to load runs given by name from.

    Notes
    -----
    Runs with fewer epochs show their last epoch at or before the slider's, and the
    tile says which epoch it shows.
    """
    from .detection_compare import detection_runs  # detection runs: boxes, not samples

    det = detection_runs(runs, diff)
    if det is not None:
        return det
    named = _named_runs(runs, store)
    if not 1 <= len(named) <= MAX_TILES:
        raise ValueError(f"compare tiles 1 to {MAX_TILES} runs, got {len(named)}.")
    names = list(named)
    ref = named[names[0]]
    views = []
    for n, r in named.items():
        try:
            views.append((align_run(r, ref.labels, mapping), n, _identity))
        except ValueError as exc:
            raise ValueError(f"run {n!r}: {exc}") from None
    diffs: list[tuple[int, int]] = []
    if diff is True:
        if len(names) != 2:
            raise ValueError("diff=True needs exactly two runs; pass diff=(a, b) to pick two.")
        diffs = [(0, 1)]
    elif diff is not False:
        if not (isinstance(diff, (tuple, list)) and len(diff) == 2):
            raise TypeError(f"diff must be True, False or a pair of run names (a, b), got {diff!r}.")
        for n in diff:
            if n not in named:
                raise ValueError(f"diff names {n!r}, which is not one of the runs {names}.")
        diffs = [(names.index(diff[0]), names.index(diff[1]))]
    return CompareSource(views, diffs)


def difference_source(
    run: Any, epochs: tuple[int, int] | None = None
) -> CompareSource | DetectionCompareSource:
    """One run's change between epochs, with the samples that flipped.

    Parameters
    ----------
    run
        A :class:`~confusion_widget.Run`, recorder or widget built from predictions.
    epochs
        ``(a, b)`` compares epoch ``b`` with epoch ``a`` (negative values count from
        the end); by default the slider compares each epoch with the one before it.

    Raises
    ------
    ValueError
        For epochs outside the run.
    """
    from .detection_compare import as_detection, detection_difference

    det = as_detection(run)
    if det is not None:
        return detection_difference(det, epochs)
    source = _as_run(run)
    if epochs is None:
        views = [(source, "previous epoch", lambda e: e - 1), (source, "this epoch", _identity)]
        return CompareSource(views, [(0, 1)], epoch_labels=None)
    if not (isinstance(epochs, (tuple, list)) and len(epochs) == 2):
        raise TypeError(f"epochs must be a pair (a, b) of epochs, got {epochs!r}.")
    a, b = (check_index(e, source.n_epochs, f"epochs[{i}]", negative=True) for i, e in enumerate(epochs))
    names = source.epoch_labels
    views = [(source, names[a], lambda e: a), (source, names[b], lambda e: b)]
    return CompareSource(views, [(0, 1)], n_epochs=1, epoch_labels=[f"{names[b]} vs {names[a]}"])


def flips_of(
    source: CellSource, epoch: int, a: int | str | None = None, b: int | str | None = None
) -> dict[str, np.ndarray]:
    """:func:`flips` for a widget's source: two tiles (titles or indices, by default
    the first two) of a comparison at ``epoch``, or two epochs of a run (by default
    the one before ``epoch`` and ``epoch``)."""
    if isinstance(source, CompareSource):
        titles = source.tile_titles
        n_real = len(source._views)

        def tile(x: int | str, name: str) -> int:
            if isinstance(x, str):
                if x not in titles[:n_real]:
                    raise ValueError(f"{name}={x!r} is not one of the runs {titles[:n_real]}.")
                return titles.index(x)
            return check_index(x, n_real, name)

        return source.flips(tile(0 if a is None else a, "a"), tile(1 if b is None else b, "b"), epoch)
    if isinstance(source, Run):
        for name, x in (("a", a), ("b", b)):
            if isinstance(x, str):
                raise TypeError(f"{name} must be an epoch of the run (an integer), got {x!r}.")
        ea = max(epoch - 1, 0) if a is None else a
        eb = epoch if b is None else b
        return flips(source, source, ea, eb)  # type: ignore[arg-type]
    raise TypeError("flips needs per-sample predictions (a run or a comparison), not a bare matrix.")
