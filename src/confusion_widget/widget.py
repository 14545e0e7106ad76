"""``ConfusionWidget``: the anywidget model — options as validated traits, the source's
state mirrored into synced traits, and thin constructors.

The widget holds a *cell source* (:mod:`confusion_widget.sources`) and mirrors it
into traits; how those traits and the custom messages are encoded is the business
of :mod:`confusion_widget.wire`. Each constructor's logic lives with its source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from . import wire
from ._analysis import Analysis
from ._factory import factory as _factory
from ._filtering import SampleFilter
from ._store_detection import open_run
from ._util import static_asset
from ._widget_classes import ClassViews
from ._widget_thresholds import SourceThresholds
from .compare import compare_source, difference_source
from .counts import Counts
from .detection import detection_source
from .frames import frame_source, parquet_source
from .matrix import AGGREGATIONS, validate_labels, validate_matrix
from .multilabel import multilabel_source
from .ordering import ORDERS
from .runs import Run
from .snapshot import Snapshots
from .sources import (
    CellSource,
    HasMetrics,
    MatrixSource,
    Thresholded,
    TiledComparison,
    checked_counts,
    epoch_names,
)
from .traits import Cell, Choice, Flag, Index, Names, OptionError, Order, Text, Threshold

__all__ = ["COLORMAPS", "COLOR_SCALES", "ConfusionWidget"]

log = logging.getLogger("confusion_widget")

COLOR_SCALES = ("equal", "smart", "log")
COLORMAPS = ("blues", "viridis", "magma", "greys", "greens", "oranges")
_CANONICAL = ("count", "row", "column", "total")


def _as_source(cm: Any, labels: Any, epoch_labels: Any) -> CellSource:
    """Whatever the user passed as ``cm`` → a cell source."""
    if hasattr(cm, "as_source"):  # a ConfusionRecorder
        cm = cm.as_source()
    if isinstance(cm, CellSource):
        for name, value in (("labels", labels), ("epoch_labels", epoch_labels)):
            if value is not None:
                raise TypeError(
                    f"{name}= cannot be combined with a {type(cm).__name__}; it has its own {name}."
                )
        return cm
    mats = validate_matrix(cm)
    return MatrixSource(mats, validate_labels(labels, mats.shape[-1]), epoch_labels)


class ConfusionWidget(Snapshots, Analysis, SampleFilter, SourceThresholds, ClassViews, anywidget.AnyWidget):
    """An interactive confusion matrix: scrub epochs, re-aggregate, click a cell to
    see the images behind it.

    Parameters
    ----------
    cm
        A ``(K, K)`` matrix or an ``(E, K, K)`` stack of per-epoch matrices (numpy,
        torch tensor on any device, nested lists), rows true and columns predicted as
        in sklearn; or a cell source (a :class:`~confusion_widget.Run`, …) or a
        ``ConfusionRecorder``, whose cells then show their samples.
    labels
        ``K`` class names (``"0" … "K-1"`` by default). Shown as text, never HTML.
    epoch_labels
        Names for the epochs (``"epoch 0"``, … by default).
    classes, top_k
        Show a subset: these classes (names, indices or group names), or the
        ``top_k`` with most errors (row plus column) at the first epoch shown; every
        other class is summed into an ``"(other)"`` row and column (last), so counts
        are conserved. Every constructor takes them.
    hierarchy, label_separator
        Groups of classes that collapse into one row and column (their cells are
        sums): ``{child: parent group}`` (children are classes or groups), or a
        separator splitting names into paths (``"animal/dog/terrier"`` is in
        ``"animal/dog"``, in ``"animal"``). See the ``collapsed`` option.
    **options
        Any of the options below (the widget's synced traits).

    Options
    -------
    epoch
        The epoch shown first (default: the last).
    aggregation
        ``"count"``, ``"row"`` (% of row, recall), ``"column"`` (% of column,
        precision) or ``"total"``; sklearn's ``"true"``, ``"pred"``, ``"all"`` too.
    color_scale
        ``"equal"`` (linear), ``"smart"`` (quantile buckets of the non-zero cells,
        for sparse heavy-tailed matrices) or ``"log"``.
    colormap
        One of ``blues``, ``viridis``, ``magma``, ``greys``, ``greens``, ``oranges``.
    hide_diagonal
        Show errors only.
    selected, selected_tile
        ``(row, col)`` of the selected cell (or ``None``), and its tile.
    threshold
        The score threshold of a source that has one (multi-label scores).
    score_threshold, iou_threshold
        A detection widget's thresholds: predictions scoring below
        ``score_threshold`` (in [0, 1]) are ignored, a match needs IoU >=
        ``iou_threshold`` (in (0, 1]); both start at the source's values
        (0.0 and 0.5 by default) and are ``None`` on other widgets.
    confidence_threshold
        ``None`` (off) or a number in [0, 1] on single-label widgets with
        confidences: predictions below it move to an ``"(abstain)"`` column, the
        accuracy shown is on the predictions kept, next to the coverage.
    page_size
        Thumbnails per page of the panel (25).
    title
        A title shown above the matrix.
    order
        The order classes are drawn in: ``"index"``, ``"name"``, ``"errors"`` (most
        errors first), ``"cluster"`` (classes that confuse each other side by side;
        needs scipy), or class names (those first, the rest in index order).
        ``"errors"`` and ``"cluster"`` use the epoch shown when chosen and stay put
        while the slider moves; ``"(other)"`` stays last. ``display_order`` holds the
        permutation drawn (row ``i`` shows class ``display_order[i]``); ``selected``
        and every other view stay in terms of ``labels``.
    collapsed
        Groups of the hierarchy shown as one class (clicking a group's label in the
        matrix toggles it). With a subset or collapsed groups, ``labels``,
        ``matrix`` and ``matrices`` describe the matrix as displayed; ``source`` has
        the full one.
    pooling
        How the frontend pools cells smaller than a pixel: ``"max"`` or ``"sum"``.

    Raises
    ------
    ValueError
        For a non-square, >3-D, empty, negative, non-finite or fractional matrix,
        labels of the wrong length or with duplicates, an option out of range, an
        unknown class or group name (with close matches), a hierarchy with a cycle or
        a group named like a class.
    TypeError
        For unknown keyword arguments, options of the wrong type, or inputs that
        are not arrays.

    Examples
    --------
    >>> import numpy as np
    >>> w = ConfusionWidget(np.array([[5, 1], [2, 7]]), labels=["cat", "dog"])
    >>> w.matrix.tolist()
    [[5, 1], [2, 7]]
    >>> w.aggregation = "true"   # sklearn's name for % of row
    >>> w.aggregation
    'row'
    """

    _esm = static_asset("widget.js")
    _css = static_asset("widget.css")

    # -- options: set by the user or the frontend (tagged option=True) --------------
    epoch = Index().tag(sync=True, echo_update=False, option=True)
    aggregation = Choice(
        _CANONICAL, "count", {None: "count", **{k: v for k, v in AGGREGATIONS.items() if k != v}}
    ).tag(sync=True, echo_update=False, option=True)
    color_scale = Choice(COLOR_SCALES, "equal").tag(sync=True, echo_update=False, option=True)
    colormap = Choice(COLORMAPS, "blues").tag(sync=True, echo_update=False, option=True)
    hide_diagonal = Flag(False).tag(sync=True, echo_update=False, option=True)
    selected = Cell().tag(sync=True, echo_update=False, option=True)
    selected_tile = Index().tag(sync=True, echo_update=False, option=True)
    threshold = Threshold().tag(sync=True, echo_update=False, option=True)
    score_threshold = Threshold().tag(sync=True, echo_update=False, option=True)
    iou_threshold = Threshold(open_low=True).tag(sync=True, echo_update=False, option=True)
    confidence_threshold = Threshold().tag(sync=True, echo_update=False, option=True)
    page_size = Index(25, minimum=1).tag(sync=True, option=True)
    title = Text("").tag(sync=True, option=True)
    order = Order(ORDERS).tag(sync=True, echo_update=False, option=True)
    collapsed = Names().tag(sync=True, echo_update=False, option=True)
    pooling = Choice(("max", "sum"), "max").tag(sync=True, echo_update=False, option=True)

    # -- the source's state, mirrored for the frontend ------------------------------
    labels = t.List(t.Unicode()).tag(sync=True)
    tile_titles = t.List(t.Unicode(), default_value=[""]).tag(sync=True)
    epoch_labels = t.List(t.Unicode()).tag(sync=True)
    n_epochs = t.Int(1).tag(sync=True)
    _counts = t.Bytes(b"").tag(sync=True)  # a pack of the epochs around the current one
    # made by wire.py / the source, not by users: not validated element by element
    _accuracy: t.List[Any] = t.List().tag(sync=True)  # [E][T] float | None
    _diff_of: t.List[Any] = t.List().tag(sync=True)  # [T] [a, b] | None
    _tile_epochs: t.List[Any] = t.List().tag(sync=True)  # [E][T] int
    _has_samples = t.Bool(False).tag(sync=True)
    _metrics: t.List[Any] = t.List().tag(sync=True)  # [MetricRow], while a table is open
    _has_metrics = t.Bool(False).tag(sync=True)  # the shown source has per-class figures
    # A frontend's per-class table is open: only then do the rows follow the epoch (at
    # 10,000 classes they are 0.9 MB a step, most of the traffic of a scrub).
    _metrics_open = t.Bool(False).tag(sync=True)
    _coverage: t.List[Any] = t.List().tag(sync=True)  # [E][T] float | None while abstaining, else []
    _can_abstain = t.Bool(False).tag(sync=True)  # confidence_threshold applies (the UI's toggle)
    _revision = t.Int(0).tag(sync=True)  # bumped when the source's data changes
    display_order = t.List(t.Int()).tag(sync=True)  # row i shows displayed class display_order[i]
    _label_groups: t.List[Any] = t.List().tag(sync=True)  # [D] group a label click collapses | None
    _focus: t.Any = t.Any(None, allow_none=True).tag(sync=True)  # [displayed class, nonce] | None

    def __init__(
        self,
        cm: Any,
        labels: Sequence[Any] | None = None,
        *,
        epoch_labels: Sequence[Any] | None = None,
        classes: Sequence[Any] | None = None,
        top_k: int | None = None,
        hierarchy: Mapping[str, str] | None = None,
        label_separator: str | None = None,
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - set(self.class_trait_names(option=True)))
        if unknown:
            raise TypeError(
                f"ConfusionWidget got unexpected keyword argument(s) {unknown}; "
                f"options are {sorted(self.class_trait_names(option=True))}."
            )
        source = _as_source(cm, labels, epoch_labels)
        self._source = source
        self._lock = threading.RLock()
        self._ready = self._stale = False
        self._syncing = True  # the state below already holds the epoch's window and metrics
        if options.get("threshold") is not None and isinstance(source, Thresholded):
            self._check_threshold({"value": options["threshold"]})
            source.set_threshold(options.pop("threshold"))
        source, options = self._apply_thresholds(source, options)  # detection, abstention
        # Subscribe before reading: an epoch a training thread appends from now on is
        # either in what we read or announced to us (then re-read once we are ready).
        source.subscribe(self._on_source_changed)
        options = self._init_view(source, options, classes, top_k, hierarchy, label_separator)
        self._mats = checked_counts(self._shown)
        epoch = options.pop("epoch", None)
        if epoch is not None:  # checked now: the counts window is cut around it
            epoch = self._check_epoch({"value": type(self).epoch.validate(self, epoch)})
        # The whole state goes to super().__init__, so the comm opens with it; but the
        # per-class metrics follow in a message of their own (at 10,000 classes with
        # long names, labels + metrics would pass the 2 MiB a message may carry).
        state = self._source_state(len(self._mats) - 1 if epoch is None else epoch)
        metrics = state.pop("_metrics")
        super().__init__(**{**state, **options})
        self._metrics = metrics
        self._syncing = False
        self.on_msg(self._on_msg)
        with self._lock:
            self._ready = True
            stale = self._stale or source.n_epochs != len(self._mats)
        if stale:
            self._on_source_changed()

    @classmethod
    def wire_traits(cls) -> list[str]:
        """The names of the traits synced with the frontend (``js/wire_schema.json``)."""
        return sorted(cls.class_own_traits(sync=True))

    # -- public data ----------------------------------------------------------------
    @property
    def source(self) -> CellSource:
        """The run (or other cell source) behind the widget."""
        return self._source

    @property
    def matrices(self) -> np.ndarray:
        """All epochs' counts: ``(E, K, K)`` (``(E, T, K, K)`` for several tiles).
        From ``SPARSE_FROM`` (5,000) classes on the counts are held sparse: use
        :attr:`counts`."""
        m = self._mats.dense()
        return m[:, 0].copy() if m.shape[1] == 1 else m.copy()

    @property
    def matrix(self) -> np.ndarray:
        """The current epoch's counts: ``(K, K)`` (``(T, K, K)`` for several tiles).
        From ``SPARSE_FROM`` (5,000) classes on: use :attr:`counts`."""
        m = self._mats.epoch(self.epoch)
        return m[0].copy() if m.shape[0] == 1 else m.copy()

    @property
    def counts(self) -> Counts:
        """Every (epoch, tile)'s counts as held, dense or sparse:
        ``w.counts.coo(epoch, tile)`` gives one tile's non-zero cells at any K."""
        return self._mats

    @property
    def selected_samples(self) -> list[Any]:
        """Ids of the samples in the selected cell at the current epoch, in the
        panel's order (most confident first). Empty when nothing is selected or the
        widget was built from a bare matrix."""
        if self.selected is None:
            return []
        hits = self._shown.cell(self.epoch, self.selected_tile, *self.selected)
        return self._shown.sample_ids()[hits.positions].tolist()

    # -- constructors (each one's logic lives with its source) ----------------------
    from_predictions = _factory(
        Run.from_predictions, "A widget from predictions, with the samples (and images) behind each cell."
    )
    from_multilabel = _factory(
        multilabel_source,
        "A multi-label widget: the MLCM or per-label 2×2 tiles, with the samples behind every cell.",
    )
    from_detections = _factory(
        detection_source,
        "A detection widget: boxes matched by IoU, a background row and column, boxes drawn over the images.",
    )
    from_store = _factory(open_run, "A widget for a classifier's or a detector's run in a run log.")
    from_dataframe = _factory(
        frame_source,
        "A widget over a table of predictions (pandas, polars, pyarrow, DuckDB, Spark, Dask), queried in place.",
    )
    from_parquet = _factory(parquet_source, "A widget over Parquet files, queried in place by DuckDB.")
    compare = _factory(compare_source, "Tile 2–8 runs sharing one slider and one set of controls.")
    difference = _factory(
        difference_source, "One run's change between epochs, with the samples that flipped."
    )

    # -- validation of options that depend on the source ----------------------------
    @t.validate("epoch")
    def _check_epoch(self, proposal: Any) -> int:
        v, n = proposal["value"], self._source.n_epochs
        if not 0 <= v < n:
            raise OptionError(f"epoch {v} is out of range: the widget has epochs 0 … {n - 1}.")
        return int(v)

    @t.validate("selected")
    def _check_selected(self, proposal: Any) -> tuple[int, int] | None:
        v, k = proposal["value"], len(self._shown.labels)
        if v is not None and not (v[0] < k and v[1] < k):
            raise OptionError(f"selected cell {v} is outside the {k}×{k} matrix.")
        return v

    @t.validate("selected_tile")
    def _check_selected_tile(self, proposal: Any) -> int:
        v, n = proposal["value"], len(self._source.tile_titles)
        if v >= n:
            raise OptionError(f"selected_tile {v} is out of range: the widget has tiles 0 … {n - 1}.")
        return int(v)

    @t.validate("threshold")
    def _check_threshold(self, proposal: Any) -> float | None:
        v = proposal["value"]
        src = self._source
        if v is not None and not (isinstance(src, Thresholded) and src.threshold is not None):
            raise OptionError(
                "threshold applies to sources with scores to re-threshold (multi-label "
                f"scores); this {type(src).__name__} has none."
            )
        return v

    @t.observe("epoch", "_metrics_open")
    def _follow_metrics(self, change: Any) -> None:
        # The frontend fetches the counts it lacks; only the metrics follow the epoch
        # (and a table opening or closing).
        if not self._syncing:  # _on_source_changed sends them itself
            self._metrics = self._metrics_at(self.epoch)

    @t.observe("threshold")
    def _on_threshold(self, change: Any) -> None:
        src = self._source
        if change["new"] is not None and isinstance(src, Thresholded) and change["new"] != src.threshold:
            src.set_threshold(change["new"])  # the source notifies: re-sent then

    # -- source → traits ------------------------------------------------------------
    def _metrics_at(self, epoch: int) -> list[Any]:
        """The per-class rows at ``epoch`` while a frontend shows them, else none."""
        if not (self._metrics_open and isinstance(self._shown, HasMetrics)):
            return []
        return list(self._shown.metrics(epoch))

    def _source_state(self, epoch: int, revision: int = 0) -> dict[str, Any]:
        """Every trait that mirrors the source, with the counts around ``epoch``."""
        # A live source may have grown since self._mats was read: describe the epochs read.
        src, mats = self._shown, self._mats
        n_epochs, n_tiles = mats.shape[:2]
        if isinstance(src, TiledComparison):
            diff_of, tile_epochs = list(src.diff_of), src.tile_epochs()[:n_epochs]
        else:
            diff_of, tile_epochs = [None] * n_tiles, [[e] * n_tiles for e in range(n_epochs)]
        state = {
            "labels": list(src.labels),
            "tile_titles": list(src.tile_titles),
            "epoch_labels": epoch_names(src.epoch_labels[:n_epochs], n_epochs),
            "n_epochs": n_epochs,
            "epoch": epoch,
            "_diff_of": diff_of,
            "_tile_epochs": tile_epochs,
            "_has_samples": src.has_samples,
            "_has_metrics": isinstance(src, HasMetrics),
            "_accuracy": wire.accuracy_table(mats, diff_of),
            "threshold": src.threshold if isinstance(src, Thresholded) else None,
            "_revision": revision,
            "_counts": wire.counts_state(mats, epoch, revision),
        }
        state.update(self._threshold_state())
        state.update(self._view_state(epoch))  # display_order, _label_groups
        state["_metrics"] = self._metrics_at(epoch)
        return state

    def _on_source_changed(self) -> None:
        """The source gained epochs or changed: re-send; follow the newest epoch if
        the slider was on the last one (the user did not move it back)."""
        with self._lock:
            if not self._ready:
                self._stale = True
                return
            follow = self.epoch >= self.n_epochs - 1
            self._mats = checked_counts(self._shown)
            state = self._source_state(len(self._mats) - 1 if follow else self.epoch, self._revision + 1)
            metrics = state.pop("_metrics")
            self._syncing = True
            try:
                with self.hold_sync():
                    for name, value in state.items():
                        setattr(self, name, value)
                self._metrics = metrics  # a message of its own, as in __init__
            finally:
                self._syncing = False

    # -- frontend → kernel ----------------------------------------------------------
    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the frontend; a bad value is logged and the
        frontend is re-sent the kernel's state instead of raising in the kernel."""
        try:
            super().set_state(sync_data)
        except Exception as exc:  # malformed update from a frontend
            log.warning("confusion-widget ignored a bad update %r: %s", sync_data, exc)
            keys = [k for k in sync_data if k in self.keys]
            if keys:
                self.send_state(keys)

    def _on_msg(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if not wire.is_request(content):
            log.debug("confusion-widget ignored message %r", content)
            return
        with self._lock:  # the counts and revision of one moment
            mats, revision = self._mats, self._revision
        for reply, out in wire.respond(
            self._shown, content, matrices=mats, revision=revision, page_size=self.page_size
        ):
            self.send(reply, out or None)

    def __repr__(self) -> str:
        e, t_, k = self._mats.shape[:3]
        return f"ConfusionWidget(classes={k}, epochs={e}, tiles={t_}, epoch={self.epoch})"
