"""The cell-source protocol: what the widget needs from a source of confusion matrices.

Every kind of matrix the widget shows — a bare matrix, a classifier's run, a
multi-label or detection source, a comparison of runs — is a :class:`CellSource`:
``T`` tiles of ``K × K`` matrices per epoch, and the entries behind any one cell.
The widget asks a source for optional capabilities *by type*: a source that has
per-class metrics is a :class:`HasMetrics`, one whose matrices follow a threshold
is a :class:`Thresholded`, and so on. ``docs/architecture.md`` lists who implements
what.

Shared pieces live here once: bounds checks (:func:`check_index`), default epoch
names (:func:`epoch_names`), the lazy per-cell index (:class:`CellIndex`), and the
subscriber list of live sources (:class:`Subscribers`).
"""

from __future__ import annotations

import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from ._util import json_id, to_numpy
from .counts import Counts

if TYPE_CHECKING:
    from .images import ImageProvider
    from .wire import Box, HistoryEntry, MetricRow

__all__ = [
    "CellHits",
    "CellIndex",
    "CellSource",
    "EpochCache",
    "HasImageBoxes",
    "HasMetrics",
    "HasSampleHistory",
    "LazyExtras",
    "MatrixSource",
    "PagedCells",
    "Subscribers",
    "Thresholded",
    "TiledComparison",
    "check_index",
    "checked_counts",
    "confidence_key",
    "epoch_names",
    "validate_sample_ids",
]


# -- shared helpers --------------------------------------------------------------------
def check_index(value: Any, n: int, name: str, *, negative: bool = False) -> int:
    """``value`` as an index into ``n`` things, or a ``ValueError``/``TypeError`` that
    names it.

    Parameters
    ----------
    value
        An integer (numpy integers too; not a bool or a float).
    n
        How many there are.
    name
        What it indexes, for the message (``"epoch"``, ``"tile"``, ``"row"``…).
    negative
        Accept ``-n … -1`` as counting from the end (as Python sequences do).

    Examples
    --------
    >>> check_index(-1, 3, "epoch", negative=True)
    2
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    i = int(value)
    lo = -n if negative else 0
    if not lo <= i < n:
        span = f"-{n} … {n - 1}" if negative else f"0 … {n - 1}"
        if n == 0:
            raise ValueError(f"{name} {i} is out of range: there is none.")
        raise ValueError(f"{name} {i} is out of range: valid values are {span}.")
    return i + n if i < 0 else i


def epoch_names(given: Sequence[Any] | None, n: int, name: str = "epoch_labels") -> list[str]:
    """Names for ``n`` epochs: ``given`` (checked to have ``n`` entries, shown as
    text), else ``"epoch 0"``, ``"epoch 1"``, …"""
    if given is None:
        return [f"epoch {e}" for e in range(n)]
    if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise TypeError(f"{name} must be a list of names, one per epoch, got {type(given).__name__}.")
    names = [str(v) for v in given]
    if len(names) != n:
        raise ValueError(f"{name} has {len(names)} names for {n} epochs; give one name per epoch.")
    return names


def confidence_key(conf: np.ndarray) -> np.ndarray:
    """A sort key that puts the most confident first and unknown (NaN) last."""
    return np.where(np.isnan(conf), np.inf, -conf)


def validate_sample_ids(sample_ids: Any, n: int) -> np.ndarray:
    """``(n,)`` unique int or string sample ids (``0 … n-1`` when ``None``) as int64
    or an object array of ``str``."""
    if sample_ids is None:
        return np.arange(n, dtype=np.int64)
    ids = to_numpy(sample_ids, "sample_ids", allow_text=True)
    if ids.ndim != 1 or len(ids) != n:
        raise ValueError(f"sample_ids must be 1-D with one id per sample ({n}); got shape {ids.shape}.")
    if ids.dtype.kind in "iu":
        if ids.dtype.kind == "u" and len(ids) and ids.max() > np.iinfo(np.int64).max:
            raise ValueError("sample_ids holds values above 2**63 - 1; use smaller ids or strings.")
        ids = ids.astype(np.int64)
    elif ids.dtype.kind in "US":
        ids = ids.astype(str).astype(object)
    elif ids.dtype.kind == "O":
        if not all(isinstance(v, (str, int, np.integer)) and not isinstance(v, bool) for v in ids):
            raise TypeError("sample_ids must be integers or strings.")
        if not all(isinstance(v, str) for v in ids):
            if any(isinstance(v, str) for v in ids):
                raise TypeError("sample_ids mixes integers and strings; use one kind.")
            ids = ids.astype(np.int64)
    else:
        raise TypeError(f"sample_ids must be integers or strings, got dtype {ids.dtype}.")
    if ids.dtype == object:
        dup = len(set(ids.tolist())) != n
    else:  # sort + neighbours: far faster than np.unique's hashing here
        s = np.sort(ids)
        dup = bool((s[1:] == s[:-1]).any())
    if dup:
        raise ValueError("sample_ids contains duplicates; every sample needs a unique id.")
    return ids


@dataclass
class CellHits:
    """The entries behind one cell, in panel order (most confident first).

    Attributes
    ----------
    positions
        Sample positions (indices into ``sample_ids()``), ``(n,)`` int64.
    confidence
        ``(n,)`` float32, NaN where unknown.
    extra
        Optional per-entry JSON-able dicts (detection boxes, captions, the side of a
        difference…), aligned with ``positions``; ``None`` when there is nothing extra.
    """

    positions: np.ndarray
    confidence: np.ndarray
    extra: Sequence[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.positions)


class LazyExtras(Sequence):
    """Per-entry ``extra`` dicts of a :class:`CellHits`, made only for the entries that
    are looked at (the widget slices one page), so a cell of 100,000 entries costs
    nothing until shown.

    Parameters
    ----------
    n
        Number of entries.
    make
        ``make(i) -> dict`` for entry ``i`` of the cell.
    """

    def __init__(self, n: int, make: Callable[[int], dict[str, Any]]) -> None:
        self._n, self._make = int(n), make

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._make(j) for j in range(*i.indices(self._n))]
        j = int(i) + self._n if int(i) < 0 else int(i)
        if not 0 <= j < self._n:  # IndexError: a Sequence's iteration ends on it
            raise IndexError(f"entry {i} is out of range: there are {self._n}.")
        return self._make(j)


class CellIndex:
    """Entries grouped by cell, in panel order inside each cell.

    Sorting is the costly part of answering a click, so sources build an index only
    when a cell of that epoch is first asked for (see :class:`EpochCache`). No
    ``K × K`` table is made: a cell is found by binary search on the sorted codes.

    Parameters
    ----------
    codes
        ``(n,)`` cell code of each entry (``row * K + col``, or any int64 key).
    *keys
        Further sort keys inside a cell, most significant first (e.g.
        :func:`confidence_key` then the position).
    """

    def __init__(self, codes: np.ndarray, *keys: np.ndarray) -> None:
        codes = np.asarray(codes, dtype=np.int64)
        self.order = np.lexsort((*reversed(keys), codes)) if len(codes) else np.zeros(0, np.int64)
        self._sorted = codes[self.order]

    def __getitem__(self, code: int) -> np.ndarray:
        """Entry indices of cell ``code``, in panel order."""
        lo, hi = np.searchsorted(self._sorted, [code, code + 1])
        return self.order[lo:hi]


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class EpochCache(Generic[K, V]):
    """Thread-safe build-once values (cell indexes per epoch), cleared on change."""

    def __init__(self) -> None:
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        with self._lock:
            if key not in self._values:
                self._values[key] = build()
            return self._values[key]

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class Subscribers:
    """Callbacks to run when a source changes; bound methods are held weakly, so a
    widget that is gone does not keep a run's listeners alive. Safe to add to from
    one thread while another notifies."""

    def __init__(self) -> None:
        self._refs: list[Any] = []
        self._lock = threading.Lock()

    def add(self, callback: Callable[[], None]) -> None:
        ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else callback
        with self._lock:
            self._refs.append(ref)

    def notify(self) -> None:
        with self._lock:
            refs = list(self._refs)
        for ref in refs:
            fn = ref() if isinstance(ref, weakref.WeakMethod) else ref
            if fn is None:
                with self._lock:
                    if ref in self._refs:
                        self._refs.remove(ref)
            else:
                fn()


# -- the protocol ----------------------------------------------------------------------
class CellSource(ABC):
    """What the widget needs from a source of confusion matrices.

    Required: :attr:`labels`, :attr:`n_epochs`, :meth:`matrices`, :meth:`_cell`
    and :meth:`sample_ids`. Everything else has a documented default: one untitled
    tile, ``"epoch e"`` names, no images, and a source that never changes.

    Attributes
    ----------
    labels
        ``K`` class names: every tile is ``K × K``, rows true, columns predicted.
    tile_titles
        ``T`` tile titles (``[""]``: one tile).
    images
        An :class:`~confusion_widget.images.ImageProvider` by sample position, or
        ``None`` when there are no images.
    """

    labels: list[str]
    tile_titles: list[str] = [""]  # noqa: RUF012 - a read-only class default
    images: ImageProvider | None = None
    _position_of: dict[Any, int] | None = None

    @property
    @abstractmethod
    def n_epochs(self) -> int:
        """``E``, the number of epochs (at least 1)."""

    @property
    def epoch_labels(self) -> list[str]:
        """``E`` names for the slider; ``"epoch 0"``, … by default."""
        return epoch_names(None, self.n_epochs)

    @abstractmethod
    def matrices(self) -> np.ndarray:
        """``(E, T, K, K)`` int64 counts (signed for difference tiles)."""

    def all_counts(self) -> Counts:
        """Every (epoch, tile)'s counts as :class:`~confusion_widget.counts.Counts`;
        by default from :meth:`matrices`. Sources of many classes override it to hold
        their counts sparse (no dense ``K × K`` array per epoch)."""
        return Counts.from_array(_checked_array(self))

    @abstractmethod
    def sample_ids(self) -> np.ndarray:
        """``(N,)`` sample ids, position → id (empty when cells have no samples)."""

    @abstractmethod
    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """The entries of one cell; arguments are already checked."""

    def cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        """The entries behind one cell, in panel order (most confident first).

        Raises
        ------
        ValueError
            For an epoch, tile or cell outside the source.
        """
        k = len(self.labels)
        return self._cell(
            check_index(epoch, self.n_epochs, "epoch"),
            check_index(tile, len(self.tile_titles), "tile"),
            check_index(row, k, "row"),
            check_index(col, k, "col"),
        )

    @property
    def has_samples(self) -> bool:
        """True when cells have samples behind them."""
        return len(self.sample_ids()) > 0

    def position_of(self, sample_id: Any) -> int:
        """The position of a sample id (as JSON gives it back: ints and strings)."""
        if self._position_of is None:
            self._position_of = {json_id(v): i for i, v in enumerate(self.sample_ids())}
        try:
            return self._position_of[sample_id]
        except (KeyError, TypeError):
            raise ValueError(f"unknown sample id {sample_id!r}.") from None

    def subscribe(self, callback: Callable[[], None]) -> None:  # noqa: B027 - a documented default
        """Call ``callback()`` whenever the data changes (new epochs, a new
        threshold). The default is a source that never changes."""


class HasMetrics(ABC):
    """A source with per-class figures beside its matrix."""

    @abstractmethod
    def metrics(self, epoch: int = -1) -> list[MetricRow]:
        """One row per class at ``epoch`` (the last by default)."""


class Thresholded(ABC):
    """A source whose matrices follow a score threshold the user can drag.

    ``threshold`` is ``None`` when the predictions carry no scores to re-threshold.
    """

    threshold: float | None

    @abstractmethod
    def set_threshold(self, threshold: float) -> None:
        """Recompute the matrices at ``threshold`` and notify subscribers."""


class TiledComparison(ABC):
    """A source whose tiles show other sources, maybe at other epochs, and their
    differences."""

    @property
    @abstractmethod
    def diff_of(self) -> list[list[int] | None]:
        """Per tile: ``[a, b]`` when it shows ``b − a``, else ``None``."""

    @abstractmethod
    def tile_epochs(self) -> list[list[int]]:
        """``[E][T]``: the epoch each tile shows at each slider epoch."""


class HasSampleHistory(ABC):
    """A source that knows one sample's prediction at every epoch."""

    @abstractmethod
    def sample_history(self, pos: int) -> list[HistoryEntry]:
        """One entry per run that holds the sample at position ``pos``."""


class HasImageBoxes(ABC):
    """A source that draws boxes over its images (detection)."""

    @abstractmethod
    def image_boxes(self, pos: int, epoch: int) -> list[Box]:
        """The boxes to draw over image ``pos`` at ``epoch``."""


class PagedCells(ABC):
    """A source whose cells are answered one page at a time by the engine that holds
    the samples (a table too big to sort in Python: a filter, a sort by confidence
    and a limit run there).

    The wire asks it for the panel's pages instead of slicing :meth:`CellSource.cell`;
    ``cell()`` still returns the whole cell (``selected_samples``). Positions in the
    hits it returns index ``sample_ids()``, which holds the samples looked at so far.
    """

    @abstractmethod
    def cell_page(
        self, epoch: int, tile: int, row: int, col: int, offset: int, limit: int
    ) -> tuple[int, CellHits]:
        """``(total, hits)``: the cell's size and entries ``offset … offset + limit - 1``
        in panel order. Raises ``ValueError`` for a cell outside the source."""


# -- the simplest source ---------------------------------------------------------------
class MatrixSource(CellSource):
    """A bare matrix (or one per epoch): counts only, no samples behind the cells.

    Parameters
    ----------
    matrices
        ``(E, K, K)`` or ``(E, T, K, K)`` validated counts.
    labels
        ``K`` class names.
    epoch_labels
        ``E`` epoch names, or ``None``.
    """

    def __init__(
        self, matrices: np.ndarray, labels: list[str], epoch_labels: Sequence[Any] | None = None
    ) -> None:
        self._m = matrices[:, None] if matrices.ndim == 3 else matrices
        self.labels = labels
        self._epoch_labels = epoch_names(epoch_labels, self._m.shape[0])

    @property
    def n_epochs(self) -> int:
        return int(self._m.shape[0])

    @property
    def epoch_labels(self) -> list[str]:
        return self._epoch_labels

    def matrices(self) -> np.ndarray:
        return self._m

    def sample_ids(self) -> np.ndarray:
        return np.zeros(0, np.int64)

    def _cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        return CellHits(np.zeros(0, np.int64), np.zeros(0, np.float32))


def checked_counts(source: CellSource) -> Counts:
    """The source's counts (:meth:`CellSource.all_counts`), checked against its labels
    and tiles."""
    counts = source.all_counts()
    k, n_tiles = len(source.labels), len(source.tile_titles)
    if counts.shape[0] < 1 or counts.shape[1:] != (n_tiles, k, k):
        raise ValueError(
            f"{type(source).__name__}'s counts must be (E, T, K, K) = (>=1, {n_tiles}, {k}, {k}), "
            f"got {counts.shape}."
        )
    return counts


def _checked_array(source: CellSource) -> np.ndarray:
    """The source's ``(E, T, K, K)`` :meth:`~CellSource.matrices` as int64, checked
    against its labels."""
    mats = np.asarray(source.matrices())
    k = len(source.labels)
    if (
        mats.ndim != 4
        or mats.shape[0] < 1
        or mats.shape[2:] != (k, k)
        or mats.shape[1] != len(source.tile_titles)
    ):
        raise ValueError(
            f"{type(source).__name__}.matrices() must be (E, T, K, K) = (>=1, {len(source.tile_titles)}, "
            f"{k}, {k}), got {mats.shape}."
        )
    if not np.issubdtype(mats.dtype, np.integer):
        raise TypeError(f"{type(source).__name__}.matrices() must hold integer counts, got {mats.dtype}.")
    return mats.astype(np.int64, copy=False)
