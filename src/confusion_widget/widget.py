"""``ConfusionWidget``: the anywidget model — traits, messages, epoch windowing.

The widget holds a *cell source* (see :mod:`confusion_widget.runs`) and mirrors
it into synced traits: counts as int32 bytes (never JSON lists), labels as text.
Thumbnails are not traits: the frontend asks for a cell's samples with a custom
message and gets encoded images back as binary buffers.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from .images import Encoded
from .matrix import canonical_aggregation, validate_labels, validate_matrix
from .runs import CellHits, CellSource, Run

__all__ = ["ConfusionWidget", "MatrixSource"]

log = logging.getLogger("confusion_widget")


class OptionError(t.TraitError, ValueError):
    """A bad widget option. A ``ValueError`` for users; a ``TraitError`` so that
    traitlets rolls a rejected update back (it only does so for ``TraitError``)."""


_STATIC = Path(__file__).parent / "static"
COLOR_SCALES = ("equal", "smart", "log")
COLORMAPS = ("blues", "viridis", "magma", "greys", "greens", "oranges")
_OPTIONS = (
    "epoch",
    "aggregation",
    "color_scale",
    "colormap",
    "hide_diagonal",
    "selected",
    "selected_tile",
    "page_size",
    "threshold",
    "title",
)


def _asset(name: str) -> str | Path:
    """The built frontend file. Read as text: a widget whose ``_esm`` is a ``Path``
    is never garbage collected (anywidget #929); keep the ``Path`` (hot reload) only
    when ``ANYWIDGET_HMR`` is set."""
    path = _STATIC / name
    if os.environ.get("ANYWIDGET_HMR"):
        return path
    if not path.exists():
        raise RuntimeError(
            f"the frontend bundle {path} is missing; build it with `npm run build` "
            "(or reinstall the package)."
        )
    return path.read_text(encoding="utf-8")


class MatrixSource:
    """A cell source for bare matrices: counts only, no samples behind the cells."""

    images = None

    def __init__(self, matrices: np.ndarray, labels: list[str], epoch_labels: Sequence[str] | None = None):
        self._m = matrices[:, None] if matrices.ndim == 3 else matrices
        self.labels = labels
        self.tile_titles = [""]
        self._epoch_labels = list(epoch_labels) if epoch_labels is not None else None

    @property
    def n_epochs(self) -> int:
        return self._m.shape[0]

    @property
    def epoch_labels(self) -> list[str]:
        if self._epoch_labels is not None:
            return self._epoch_labels
        return [f"epoch {e}" for e in range(self.n_epochs)]

    def matrices(self) -> np.ndarray:
        return self._m

    def cell(self, epoch: int, tile: int, row: int, col: int) -> CellHits:
        return CellHits(np.zeros(0, np.int64), np.zeros(0, np.float32))

    def sample_ids(self) -> np.ndarray:
        return np.zeros(0, np.int64)

    def subscribe(self, callback: Any) -> None:  # a bare matrix never grows
        pass


def _source_from(cm: Any, labels: Any, epoch_labels: Any) -> CellSource:
    """Whatever the user passed as ``cm`` → a cell source."""
    if isinstance(cm, CellSource):
        if labels is not None:
            raise TypeError("labels= cannot be combined with a run; the run has its labels.")
        return cm
    as_source = getattr(cm, "as_source", None)  # e.g. ConfusionRecorder
    if callable(as_source):
        return as_source()
    mats = validate_matrix(cm)
    names = validate_labels(labels, mats.shape[-1])
    if epoch_labels is not None and len(epoch_labels) != mats.shape[0]:
        raise ValueError(
            f"epoch_labels has {len(epoch_labels)} names for {mats.shape[0]} epochs."
        )
    return MatrixSource(mats, names, epoch_labels)


class ConfusionWidget(anywidget.AnyWidget):
    """An interactive confusion matrix: scrub epochs, re-aggregate, click a cell to
    see the images behind it.

    Parameters
    ----------
    cm
        A ``(K, K)`` matrix or an ``(E, K, K)`` stack of per-epoch matrices (numpy,
        torch tensor on any device, nested lists), rows true and columns predicted as
        in sklearn; or a :class:`~confusion_widget.Run` / recorder, whose cells then
        show their samples.
    labels
        ``K`` class names (``"0" … "K-1"`` by default). Shown as text, never HTML.
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
    selected
        ``(row, col)`` of the selected cell, or ``None``.
    title
        A title shown above the matrix.
    epoch_labels
        Names for the epochs (``"epoch 0"``, … by default).

    Raises
    ------
    ValueError
        For a non-square, >3-D, empty, negative, non-finite or fractional matrix,
        labels of the wrong length or with duplicates, an epoch out of range.
    TypeError
        For unknown keyword arguments or inputs that are not arrays.

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

    _esm = _asset("widget.js")
    _css = _asset("widget.css")

    #: Bytes of counts sent at once; longer histories travel as a window of epochs.
    wire_budget: int = 32 * 2**20

    labels = t.List(t.Unicode()).tag(sync=True)
    tile_titles = t.List(t.Unicode(), default_value=[""]).tag(sync=True)
    epoch_labels = t.List(t.Unicode()).tag(sync=True)
    n_epochs = t.Int(1).tag(sync=True)
    epoch = t.Int(0).tag(sync=True, echo_update=False)
    aggregation = t.Unicode("count").tag(sync=True, echo_update=False)
    color_scale = t.Unicode("equal").tag(sync=True, echo_update=False)
    colormap = t.Unicode("blues").tag(sync=True, echo_update=False)
    hide_diagonal = t.Bool(False).tag(sync=True, echo_update=False)
    selected = t.Tuple(t.Int(), t.Int(), default_value=None, allow_none=True).tag(
        sync=True, echo_update=False
    )
    selected_tile = t.Int(0).tag(sync=True, echo_update=False)
    threshold = t.Float(None, allow_none=True).tag(sync=True, echo_update=False)
    page_size = t.Int(25).tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    _counts = t.Bytes(b"").tag(sync=True)
    _window = t.List(t.Int(), default_value=[0, 0]).tag(sync=True)
    _accuracy = t.List(t.List(t.Float(allow_none=True))).tag(sync=True)
    _diff_of = t.List(t.List(t.Int(), allow_none=True)).tag(sync=True)
    _tile_epochs = t.List(t.List(t.Int())).tag(sync=True)
    _has_samples = t.Bool(False).tag(sync=True)
    _metrics = t.List(t.Dict()).tag(sync=True)
    _revision = t.Int(0).tag(sync=True)  # bumped when the source's data changes

    def __init__(
        self,
        cm: Any,
        labels: Sequence[Any] | None = None,
        *,
        epoch_labels: Sequence[str] | None = None,
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise TypeError(
                f"ConfusionWidget got unexpected keyword argument(s) {unknown}; "
                f"valid options are {sorted(_OPTIONS)}."
            )
        self._source: CellSource = _source_from(cm, labels, epoch_labels)
        self._id_to_pos: dict[Any, int] | None = None
        self._sync_lock = threading.RLock()
        self._pulling = False
        if options.get("threshold") is not None and getattr(self._source, "scores_given", False):
            self._source.set_threshold(options.pop("threshold"))
        self._mats = _source_matrices(self._source)
        # The whole state goes to super().__init__, so the comm opens with it: a
        # frontend never sees an empty first state.
        state = self._source_state()
        epoch = self._check_epoch({"value": options.pop("epoch", len(self._mats) - 1)})
        state.update(epoch=epoch, _metrics=self._metrics_at(epoch), **self._window_state(epoch, None))
        super().__init__(**{**state, **options})
        self.on_msg(self._on_custom_msg)
        self._source.subscribe(self._on_source_grew)

    # -- public data ----------------------------------------------------------------
    @property
    def source(self) -> CellSource:
        """The run (or other cell source) behind the widget."""
        return self._source

    @property
    def matrices(self) -> np.ndarray:
        """All epochs' counts: ``(E, K, K)`` (``(E, T, K, K)`` for several tiles)."""
        m = self._mats.astype(np.int64)
        return m[:, 0] if m.shape[1] == 1 else m

    @property
    def matrix(self) -> np.ndarray:
        """The current epoch's counts: ``(K, K)`` (``(T, K, K)`` for several tiles)."""
        m = self._mats[self.epoch].astype(np.int64)
        return m[0] if m.shape[0] == 1 else m

    @property
    def selected_samples(self) -> list[Any]:
        """Ids of the samples in the selected cell at the current epoch, in the
        panel's order (most confident first). Empty when nothing is selected or the
        widget was built from a bare matrix."""
        hits = self._selected_hits()
        if hits is None:
            return []
        return [_json_id(i) for i in self._source.sample_ids()[hits.positions]]

    def _selected_hits(self) -> CellHits | None:
        if self.selected is None:
            return None
        r, c = self.selected
        return self._source.cell(self.epoch, self.selected_tile, r, c)

    # -- constructors ---------------------------------------------------------------
    @classmethod
    def from_predictions(
        cls,
        y_true: Any,
        y_pred: Any,
        labels: Sequence[Any] | None = None,
        images: Any = None,
        sample_ids: Any = None,
        *,
        confidence: Any = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        epoch_labels: Sequence[str] | None = None,
        name: str = "",
        **options: Any,
    ) -> ConfusionWidget:
        """A widget from predictions, with the samples (and images) behind each cell.

        Parameters
        ----------
        y_true
            ``(N,)`` true class indices, shared by all epochs, or a list with one
            ``(N,)`` array per epoch.
        y_pred
            ``(N,)`` predicted classes or ``(N, K)`` scores/logits/probabilities (the
            argmax is taken and its probability kept as confidence); a list of
            those, one per epoch, for several epochs.
        labels
            ``K`` class names.
        images
            One image per sample: an ``(N, H, W[, C])`` uint8 array, an
            ``(N, C, H, W)`` float tensor (with ``mean``/``std`` to undo
            normalisation), a list of PIL images or file paths, an indexable dataset,
            or a callable ``sample_id -> image``. Thumbnails are made on demand.
        sample_ids
            ``(N,)`` unique ids (default ``0 … N-1``), shown under thumbnails and
            returned by :attr:`selected_samples`.
        confidence
            Per-sample confidence when ``y_pred`` holds class ids (one array per
            epoch).
        **options
            Widget options (``aggregation``, ``colormap``, ``epoch``, …).

        Examples
        --------
        >>> import numpy as np
        >>> w = ConfusionWidget.from_predictions([0, 1, 1, 2], [0, 2, 1, 2], labels=["a", "b", "c"])
        >>> w.selected = (1, 2)
        >>> w.selected_samples
        [1]
        """
        run = Run.from_predictions(
            y_true,
            y_pred,
            labels=labels,
            sample_ids=sample_ids,
            images=images,
            name=name,
            epoch_labels=epoch_labels,
            confidence=confidence,
            image_options={"mean": mean, "std": std},
        )
        return cls(run, **options)

    # Thin wrappers over the other modules' builders (each module owns its docstring
    # details; keep these wrappers free of logic).
    @classmethod
    def from_store(cls, path: str | os.PathLike[str], run: str, **options: Any) -> ConfusionWidget:
        """A widget for a run recorded in a run log (see :class:`~confusion_widget.RunStore`)."""
        from .store import RunStore

        with RunStore(path, mode="r") as store:
            source = store.load(run)
        return cls(source, **options)

    @classmethod
    def from_multilabel(cls, y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None, *,
                        threshold: float = 0.5, images: Any = None, mode: str = "mlcm",
                        sample_ids: Any = None, **options: Any) -> ConfusionWidget:
        """A multi-label confusion widget: the MLCM or per-label 2×2 tiles, with the
        samples behind every cell (see :mod:`confusion_widget.multilabel`).

        Parameters
        ----------
        y_true
            ``(N, L)`` 0/1 true label indicators (numpy, torch, lists).
        y_pred
            ``(N, L)`` 0/1 predictions or probabilities (a label is predicted when
            its score is ``>= threshold``); ``(E, N, L)`` or a list of ``(N, L)``
            for several epochs.
        labels
            ``L`` label names.
        threshold
            Score threshold in [0, 1]; ``w.source.set_threshold(t)`` re-thresholds.
        images
            One image per sample (as in :meth:`from_predictions`).
        mode
            ``"mlcm"``: one ``(L+1)×(L+1)`` matrix, the last row "no true label" and
            the last column "no predicted label" (Heydarian et al., 2022);
            ``"per_label"``: ``L`` tiles ``[[TN, FP], [FN, TP]]``.
        sample_ids
            ``(N,)`` unique ids (default ``0 … N-1``).
        **options
            Widget options (``aggregation``, ``colormap``, ``epoch``, …).

        Examples
        --------
        >>> w = ConfusionWidget.from_multilabel([[1, 0], [1, 1]], [[0.9, 0.6], [0.8, 0.2]], labels=["a", "b"])
        >>> w.matrix.tolist()
        [[2, 1, 0], [0, 0, 1], [0, 0, 0]]
        """
        from .multilabel import multilabel_source

        source = multilabel_source(y_true, y_pred, labels=labels, threshold=threshold,
                                   images=images, mode=mode, sample_ids=sample_ids)
        return cls(source, **options)

    @classmethod
    def from_detections(cls, gt: Any, pred: Any, labels: Sequence[Any] | None = None, *,
                        iou: float = 0.5, score: float = 0.0, images: Any = None,
                        box_format: str = "xyxy", class_wise: bool = False,
                        sample_ids: Any = None, **options: Any) -> ConfusionWidget:
        """A detection confusion widget: boxes matched by IoU, a background row
        (unmatched predictions) and column (missed ground truth), and the boxes drawn
        over each cell's images (see :mod:`confusion_widget.detection`).

        Parameters
        ----------
        gt
            One dict per image, torchvision style: ``"boxes"`` ``(n, 4)`` and
            ``"labels"`` ``(n,)`` (numpy, lists, torch tensors on any device).
        pred
            One dict per image with ``"boxes"``, ``"labels"`` and ``"scores"``; a
            torchvision detection model's output as it comes.
        labels
            ``K`` class names; ``"background"`` is appended.
        iou
            Minimum IoU of a match, in (0, 1].
        score
            Predictions scoring below it are ignored.
        images
            One image per entry of ``gt`` (as in :meth:`from_predictions`).
        box_format
            ``"xyxy"`` or ``"xywh"``.
        class_wise
            Only match a prediction to ground truth of its own class.
        sample_ids
            ``(n_images,)`` unique image ids (default ``0 … n-1``).
        **options
            Widget options (``aggregation``, ``colormap``, …).

        Examples
        --------
        >>> gt = [{"boxes": [[0, 0, 10, 10]], "labels": [1]}]
        >>> pred = [{"boxes": [[0, 0, 10, 9]], "labels": [0], "scores": [0.8]}]
        >>> ConfusionWidget.from_detections(gt, pred, labels=["cat", "dog"]).matrix.tolist()
        [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
        """
        from .detection import detection_source

        source = detection_source(gt, pred, labels=labels, iou=iou, score=score, images=images,
                                  box_format=box_format, class_wise=class_wise,
                                  sample_ids=sample_ids)
        return cls(source, **options)

    @classmethod
    def compare(
        cls,
        runs: Mapping[str, Any] | Sequence[Any],
        *,
        diff: bool | tuple[str, str] = False,
        mapping: Mapping[str, str] | None = None,
        store: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> ConfusionWidget:
        """Tile 2–8 runs sharing one slider and one set of controls.

        Parameters
        ----------
        runs
            ``{name: run}`` (or a list, named by each run's ``name``); a run is a
            :class:`~confusion_widget.Run`, a ``ConfusionRecorder``, a
            ``ConfusionWidget`` built from predictions, or the name of a run in
            ``store``.
        diff
            ``True`` adds a difference tile (second − first) for two runs;
            ``(a, b)`` adds ``b − a`` for two named runs. Clicking a cell of the
            difference tile lists the samples that entered and left that cell.
        mapping
            ``{class name in a run: class name in the first run}`` for runs whose
            class names differ; the class sets must otherwise be equal (order may
            differ: runs are aligned by class name).
        store
            A run log to load runs given by name from.
        **options
            Widget options (``aggregation``, ``colormap``, …).

        Runs with fewer epochs show their last epoch at or before the slider's, and
        the tile says which epoch it shows.

        Examples
        --------
        >>> from confusion_widget import Run
        >>> a = Run(["x", "y"], [0, 1, 1], [[0, 0, 1]], name="a")
        >>> b = Run(["x", "y"], [0, 1, 1], [[0, 1, 1], [1, 1, 1]], name="b")
        >>> w = ConfusionWidget.compare({"a": a, "b": b}, diff=True)
        >>> w.tile_titles
        ['a', 'b', 'b − a']
        >>> w.matrix.shape
        (3, 2, 2)
        """
        from .compare import MAX_TILES, CompareSource, align_run

        named = _named_runs(runs, store)
        if not 1 <= len(named) <= MAX_TILES:
            raise ValueError(f"compare tiles 1 to {MAX_TILES} runs, got {len(named)}.")
        names = list(named)
        ref = named[names[0]]
        views = [(align_run(r, ref.labels, mapping), n, _identity) for n, r in named.items()]
        diffs: list[tuple[int, int]] = []
        if diff is True:
            if len(names) != 2:
                raise ValueError("diff=True needs exactly two runs; pass diff=(a, b) to pick two.")
            diffs = [(0, 1)]
        elif diff:
            a, b = diff
            for n in (a, b):
                if n not in named:
                    raise ValueError(f"diff names {n!r}, which is not one of the runs {names}.")
            diffs = [(names.index(a), names.index(b))]
        return cls(CompareSource(views, diffs), **options)

    @classmethod
    def difference(cls, run: Any, epochs: tuple[int, int] | None = None, **options: Any) -> ConfusionWidget:
        """One run's change between epochs, with the samples that flipped.

        Parameters
        ----------
        run
            A :class:`~confusion_widget.Run`, recorder or widget built from predictions.
        epochs
            ``(a, b)`` compares epoch ``b`` with epoch ``a``; by default the slider
            compares each epoch with the one before it.

        Examples
        --------
        >>> from confusion_widget import Run
        >>> r = Run(["x", "y"], [0, 1, 1], [[0, 0, 1], [0, 1, 1]])
        >>> w = ConfusionWidget.difference(r)
        >>> w.matrix[2].tolist()    # epoch 1 − epoch 0
        [[0, 0], [-1, 1]]
        """
        from .compare import CompareSource

        source = _as_run(run)
        if epochs is None:
            views = [(source, "previous epoch", lambda e: e - 1), (source, "this epoch", _identity)]
            return cls(CompareSource(views, [(0, 1)], epoch_labels=source.epoch_labels), **options)
        a, b = (int(e) % source.n_epochs for e in epochs)
        names = source.epoch_labels
        views = [(source, names[a], lambda e: a), (source, names[b], lambda e: b)]
        return cls(CompareSource(views, [(0, 1)], n_epochs=1, epoch_labels=[f"{names[b]} vs {names[a]}"]), **options)

    def flips(self, a: int | str | None = None, b: int | str | None = None) -> dict[str, np.ndarray]:
        """The samples predicted differently by two tiles (or two epochs).

        Parameters
        ----------
        a, b
            For a compared widget: tile titles or indices, at the current epoch (by
            default the first two tiles). For a single run: two epochs (by default
            the previous and the current one).

        Returns
        -------
        dict of numpy arrays
            See :func:`confusion_widget.compare.flips`; ``pandas.DataFrame(w.flips())``
            gives a table.
        """
        from .compare import CompareSource, flips

        src = self._source
        if isinstance(src, CompareSource):
            titles = src.tile_titles
            ia, ib = (titles.index(x) if isinstance(x, str) else x for x in (a if a is not None else 0, b if b is not None else 1))
            return src.flips(ia, ib, self.epoch)
        if isinstance(src, Run):
            ea = self.epoch - 1 if a is None else int(a)
            eb = self.epoch if b is None else int(b)
            return flips(src, src, max(ea, 0), eb)
        raise TypeError("flips needs per-sample predictions (a run or a comparison), not a bare matrix.")

    # -- validation of traits -------------------------------------------------------
    @t.validate("aggregation")
    def _check_aggregation(self, proposal: Any) -> str:
        try:
            return canonical_aggregation(proposal["value"])
        except ValueError as exc:
            raise OptionError(str(exc)) from None

    @t.validate("color_scale")
    def _check_color_scale(self, proposal: Any) -> str:
        v = proposal["value"]
        if v not in COLOR_SCALES:
            raise OptionError(f"color_scale must be one of {COLOR_SCALES}, got {v!r}.")
        return v

    @t.validate("colormap")
    def _check_colormap(self, proposal: Any) -> str:
        v = proposal["value"]
        if v not in COLORMAPS:
            raise OptionError(f"colormap must be one of {COLORMAPS}, got {v!r}.")
        return v

    @t.validate("epoch")
    def _check_epoch(self, proposal: Any) -> int:
        v = proposal["value"]
        n = self._source.n_epochs
        if not 0 <= v < n:
            raise OptionError(f"epoch {v} is out of range: the widget has epochs 0 … {n - 1}.")
        return v

    @t.validate("selected")
    def _check_selected(self, proposal: Any) -> tuple[int, int] | None:
        v = proposal["value"]
        if v is None:
            return None
        k = len(self.labels)
        r, c = v
        if not (0 <= r < k and 0 <= c < k):
            raise OptionError(f"selected cell ({r}, {c}) is outside the {k}×{k} matrix.")
        return (r, c)

    @t.validate("selected_tile")
    def _check_selected_tile(self, proposal: Any) -> int:
        v = proposal["value"]
        if not 0 <= v < len(self.tile_titles):
            raise OptionError(f"selected_tile {v} is out of range [0, {len(self.tile_titles)}).")
        return v

    @t.validate("threshold")
    def _check_threshold(self, proposal: Any) -> float | None:
        v = proposal["value"]
        if v is None:
            return None
        if not getattr(self._source, "scores_given", False):
            raise OptionError("threshold applies to multi-label scores; these predictions have none.")
        if not 0.0 <= v <= 1.0:
            raise OptionError(f"threshold must be in [0, 1], got {v}.")
        return float(v)

    @t.validate("page_size")
    def _check_page_size(self, proposal: Any) -> int:
        v = proposal["value"]
        if v < 1:
            raise OptionError(f"page_size must be >= 1, got {v}.")
        return v

    @t.observe("epoch")
    def _on_epoch(self, change: Any) -> None:
        if self._pulling:
            return
        self._send_window()
        self._metrics = self._metrics_at(self.epoch)

    @t.observe("threshold")
    def _on_threshold(self, change: Any) -> None:
        if change["new"] is not None and change["new"] != getattr(self._source, "threshold", None):
            self._source.set_threshold(change["new"])  # the source notifies: re-sent then

    def _metrics_at(self, epoch: int) -> list[dict[str, Any]]:
        metrics = getattr(self._source, "metrics", None)
        return metrics(epoch) if callable(metrics) else []

    # -- source → traits ------------------------------------------------------------
    def _source_state(self) -> dict[str, Any]:
        """Trait values mirroring the source (all but the epoch and the counts window)."""
        src, mats = self._source, self._mats
        n_epochs, n_tiles = mats.shape[:2]
        diff_of = list(getattr(src, "diff_of", [None] * n_tiles))
        tile_epochs = getattr(src, "tile_epochs", None)
        return {
            "labels": list(src.labels),
            "tile_titles": list(src.tile_titles),
            "epoch_labels": list(getattr(src, "epoch_labels", [f"epoch {e}" for e in range(n_epochs)])),
            "n_epochs": n_epochs,
            "_diff_of": diff_of,
            "_tile_epochs": tile_epochs() if tile_epochs else [[e] * n_tiles for e in range(n_epochs)],
            "_has_samples": len(src.sample_ids()) > 0,
            "_accuracy": _accuracy(mats, diff_of),
            "threshold": getattr(src, "threshold", None) if getattr(src, "scores_given", False) else None,
        }

    def _window_state(self, epoch: int, current: list[int] | None) -> dict[str, Any]:
        """``_counts``/``_window`` for the epochs around ``epoch`` that fit in the
        wire budget; empty when ``current`` already serves ``epoch`` well."""
        mats = self._mats
        e_total = len(mats)
        width = int(max(1, min(e_total, self.wire_budget // max(mats[0].nbytes, 1))))
        e = min(max(epoch, 0), e_total - 1)
        if current is not None:
            first, w = current
            inside = first <= e < first + w and w == width
            near_edge = (e == first and first > 0) or (e == first + w - 1 and first + w < e_total)
            if inside and not near_edge:
                return {}
        first = min(max(0, e - width // 2), e_total - width)
        block = np.ascontiguousarray(mats[first : first + width], dtype="<i4")
        return {"_counts": block.tobytes(), "_window": [first, width]}

    def _on_source_grew(self) -> None:
        """A live source gained epochs: re-send; follow the newest epoch if the
        slider was on the last one (the user did not move it back)."""
        with self._sync_lock:
            follow = self.epoch >= self.n_epochs - 1
            self._mats = _source_matrices(self._source)
            epoch = len(self._mats) - 1 if follow else self.epoch
            state = self._source_state()
            state.update(epoch=epoch, _metrics=self._metrics_at(epoch), **self._window_state(epoch, None))
            self._pulling = True  # the epoch observer would build the window a second time
            try:
                with self.hold_sync():
                    for name, value in state.items():
                        setattr(self, name, value)
                    self._revision += 1
            finally:
                self._pulling = False

    def _send_window(self) -> None:
        """Re-centre the epoch window if the current epoch needs it."""
        with self.hold_sync():
            for name, value in self._window_state(self.epoch, self._window).items():
                setattr(self, name, value)

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

    def _on_custom_msg(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        if not isinstance(content, dict) or content.get("type") not in ("cell", "image"):
            log.debug("confusion-widget ignored message %r", content)
            return
        try:
            reply, out = (self._answer_cell if content["type"] == "cell" else self._answer_image)(content)
        except Exception as exc:  # never raise in the kernel; tell the frontend
            reply, out = {"type": "error", "error": f"{type(exc).__name__}: {exc}"}, []
        reply["id"] = content.get("id")
        self.send(reply, out or None)

    def _answer_cell(self, msg: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        epoch, tile = int(msg["epoch"]), int(msg.get("tile", 0))
        row, col = int(msg["row"]), int(msg["col"])
        offset = max(0, int(msg.get("offset", 0)))
        limit = max(1, min(int(msg.get("limit", self.page_size)), 500))
        if not 0 <= epoch < self._source.n_epochs:
            raise ValueError(f"epoch {epoch} is out of range.")
        hits = self._source.cell(epoch, tile, row, col)
        sl = slice(offset, offset + limit)
        samples, buffers = self._describe(hits.positions[sl], hits.confidence[sl],
                                          hits.extra[sl] if hits.extra is not None else None)
        return {"type": "cell", "total": len(hits), "offset": offset, "samples": samples}, buffers

    def _describe(self, positions: np.ndarray, conf: np.ndarray,
                  extra: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], list[bytes]]:
        ids = self._source.sample_ids()
        captions = getattr(self._source, "captions", None)
        images = self._source.images
        samples, buffers = [], []
        for i, pos in enumerate(positions):
            c = float(conf[i])
            s: dict[str, Any] = {
                "id": _json_id(ids[pos]),
                "confidence": None if np.isnan(c) else c,
                "caption": str(captions[pos]) if captions is not None else "",
                "buffer": -1,
                "mime": "",
                "error": None if images is not None else "no images were given",
            }
            if images is not None:
                enc = images.thumbnail(pos)
                s.update(mime=enc.mime, width=enc.width, height=enc.height, error=enc.error)
                if enc.data is not None:
                    s["buffer"] = len(buffers)
                    buffers.append(enc.data)
            if extra is not None:
                s.update(extra[i])
            samples.append(s)
        return samples, buffers

    def _answer_image(self, msg: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        pos = self._position_of(msg["sample"])
        images = self._source.images
        enc = images.large(pos) if images is not None else Encoded(None, error="no images were given")
        reply = {"type": "image", "buffer": -1, "mime": enc.mime, "width": enc.width,
                 "height": enc.height, "error": enc.error}
        boxes = getattr(self._source, "image_boxes", None)
        if callable(boxes):
            reply["boxes"] = boxes(pos, self.epoch)
        history = getattr(self._source, "sample_history", None)
        if callable(history):
            reply["history"] = history(pos)
        if enc.data is None:
            return reply, []
        reply["buffer"] = 0
        return reply, [enc.data]

    def _position_of(self, sample_id: Any) -> int:
        if self._id_to_pos is None:
            self._id_to_pos = {_json_id(v): i for i, v in enumerate(self._source.sample_ids())}
        try:
            return self._id_to_pos[sample_id]
        except (KeyError, TypeError):
            raise ValueError(f"unknown sample id {sample_id!r}") from None

    def __repr__(self) -> str:
        e, t_, k = self._mats.shape[:3]
        return f"ConfusionWidget(classes={k}, epochs={e}, tiles={t_}, epoch={self.epoch})"


def _source_matrices(source: CellSource) -> np.ndarray:
    mats = np.asarray(source.matrices())
    if mats.ndim != 4 or mats.shape[0] == 0:
        raise ValueError(f"a cell source must give (E, T, K, K) matrices with E >= 1, got {mats.shape}.")
    return mats.astype(np.int32)


def _identity(e: int) -> int:
    return e


def _as_run(obj: Any) -> Run:
    """A Run from a Run, a recorder (``as_source``) or a widget built from predictions."""
    if isinstance(obj, ConfusionWidget):
        obj = obj.source
    elif callable(getattr(obj, "as_source", None)):
        obj = obj.as_source()
    if not isinstance(obj, Run):
        raise TypeError(
            f"expected a Run, a ConfusionRecorder or a widget built from predictions, got "
            f"{type(obj).__name__}; a bare matrix has no samples to compare."
        )
    return obj


def _named_runs(runs: Any, store: Any) -> dict[str, Run]:
    items = runs.items() if isinstance(runs, Mapping) else ((None, r) for r in runs)
    out: dict[str, Run] = {}
    for name, r in items:
        if isinstance(r, str):
            if store is None:
                raise ValueError(f"run {r!r} is given by name; pass store= the run log to load it from.")
            from .store import RunStore

            with RunStore(store, mode="r") as st:
                r = st.load(r)
        run = _as_run(r)
        key = str(name) if name is not None else (run.name or f"run {len(out)}")
        if key in out:
            raise ValueError(f"two runs are named {key!r}; give them distinct names.")
        out[key] = run
    return out


def _json_id(v: Any) -> Any:
    """A sample id as a JSON value (numpy ints → int)."""
    return v.item() if hasattr(v, "item") else v


def _accuracy(mats: np.ndarray, diff_of: list[Any]) -> list[list[float | None]]:
    """``[E][T]`` overall accuracy (trace / total), ``None`` for empty or difference tiles."""
    total = mats.sum(axis=(-2, -1)).astype(np.float64)
    trace = np.trace(mats, axis1=-2, axis2=-1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = trace / total
    acc[:, [d is not None for d in diff_of]] = np.nan
    return [[None if np.isnan(a) else float(a) for a in row] for row in acc]

