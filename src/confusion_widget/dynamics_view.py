"""``DynamicsView``: the training-dynamics companion of a
:class:`~confusion_widget.ConfusionWidget` (``w.dynamics_view(run=None)``).

The frontend (``js/dynamics_view.js``) draws the cartography map of the run —
variability of the probability of the true class on x, its mean (confidence) on y,
one dot per sample coloured by the share of epochs it was right, the region
thresholds as lines — on one canvas; a box drag or a click selects samples, whose
thumbnails fill the view's panel; "filter matrix" makes the linked widget count only
the selected samples (:meth:`ConfusionWidget.filter_samples`). Beside the map: the
most forgotten, the not learned and the suspected samples, each with a thumbnail;
clicking one shows its larger image and its history.

Messages (frontend → kernel → frontend), keyed by ``id``::

    → {"type": "dyn-samples", "id", "positions": [p, …]}   (at most MAX_SAMPLES)
    ← {"type": "dyn-samples", "id", "positions": [p, …], "samples": [Sample, …]}
      + thumbnails as buffers (a reply stays under CHUNK_BYTES of images: fewer
      samples than asked for then; the frontend asks for the rest)
    → {"type": "dyn-image", "id", "position"}
    ← an ImageReply of :mod:`confusion_widget.wire` (the larger image, the history)
    ← {"type": "error", "id", "error"}                     (any request that failed)

The points travel once, in the ``_points`` trait: ``N`` float32 variabilities, ``N``
float32 confidences, then ``N`` uint8 shares of correct epochs (× 255).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from . import wire
from ._util import ConfusionWidgetWarning, json_id, static_asset
from .dynamics import CONFIDENCE_THRESHOLD, VARIABILITY_THRESHOLD, Table
from .runs import Run

__all__ = ["MAX_SAMPLES", "DynamicsView"]

log = logging.getLogger("confusion_widget")

#: The most samples one ``dyn-samples`` request may ask for.
MAX_SAMPLES = 200


class DynamicsView(anywidget.AnyWidget):
    """The cartography map, selection panel and sample lists of a widget's run.

    Build it with :meth:`ConfusionWidget.dynamics_view`.

    Parameters
    ----------
    widget
        The :class:`~confusion_widget.ConfusionWidget` it belongs to (its matrix is
        the one ``filter_matrix`` filters).
    run
        In a comparison, the run (title or index); ``None`` for a single run.
    k
        How many samples each list holds.
    confidence_threshold, variability_threshold
        The map's region lines (see :mod:`confusion_widget.dynamics`).

    Attributes
    ----------
    selection
        The selected samples as *positions* in the run (rows of ``table``, indices
        into ``run.sample_ids()``), sorted; set by a box drag or a click on the map,
        or from Python. :attr:`selected_ids` gives their sample ids.
    filter_matrix
        When true, the linked widget's matrix counts only the selected samples.
    table
        The run's :meth:`~confusion_widget.Run.dynamics` (one row per position).

    Raises
    ------
    ValueError
        For a widget without per-sample predictions over epochs, or a run without
        ``p_true`` (scores or probabilities were not recorded).
    """

    _esm = static_asset("dynamics_view.js")
    _css = static_asset("dynamics_view.css")

    selection: t.List[Any] = t.List().tag(sync=True)
    filter_matrix = t.Bool(False).tag(sync=True)
    confidence_threshold = t.Float(CONFIDENCE_THRESHOLD).tag(sync=True)
    variability_threshold = t.Float(VARIABILITY_THRESHOLD).tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    n_points = t.Int(0).tag(sync=True)
    _points = t.Bytes(b"").tag(sync=True)
    _lists: t.List[Any] = t.List().tag(sync=True)  # [{key, title, items: [{position, id, note}]}]
    _has_images = t.Bool(False).tag(sync=True)

    def __init__(
        self,
        widget: Any,
        run: int | str | None = None,
        *,
        k: int = 20,
        confidence_threshold: float = CONFIDENCE_THRESHOLD,
        variability_threshold: float = VARIABILITY_THRESHOLD,
    ) -> None:
        if not hasattr(widget, "_run") or not hasattr(widget, "filter_samples"):
            raise TypeError(f"widget must be a ConfusionWidget, got {type(widget).__name__}.")
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer (the length of each list), got {k!r}.")
        for name, value in (
            ("confidence_threshold", confidence_threshold),
            ("variability_threshold", variability_threshold),
        ):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.")
        if not widget.source.has_samples:
            raise ValueError(
                "the dynamics view needs the samples behind the matrix; this widget was built "
                "from counts. Build it with ConfusionWidget.from_predictions, a ConfusionRecorder "
                "or ConfusionWidget.from_store."
            )
        src: Run = widget._run(run)  # ValueError/TypeError for a bad run= or no run at all
        self._widget, self._run, self._k = widget, src, int(k)
        self._thresholds = {
            "confidence_threshold": float(confidence_threshold),
            "variability_threshold": float(variability_threshold),
        }
        state = self._state()  # raises without p_true
        super().__init__(
            title=src.name or "", _has_images=src.images is not None, **self._thresholds, **state
        )
        self.on_msg(self._on_msg)
        src.subscribe(self._on_run_changed)  # a live run (a recorder's) gains epochs

    def _state(self) -> dict[str, Any]:
        """The table of the run's epochs so far, and the traits drawn from it."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfusionWidgetWarning)  # aum: not drawn here
            table = self._run.dynamics(**self._thresholds)
        if np.isnan(table["confidence"]).any():
            raise ValueError(
                "the dynamics view draws the probability of the true class at every epoch "
                "(p_true), which this run did not record: give scores or probabilities "
                "(y_pred of shape (N, K)) rather than class ids."
            )
        self._table = table
        points = b"".join(
            (
                table["variability"].astype("<f4").tobytes(),
                table["confidence"].astype("<f4").tobytes(),
                np.round(table["correct_fraction"] * 255).astype(np.uint8).tobytes(),
            )
        )
        return {"n_points": len(table), "_points": points, "_lists": self._make_lists()}

    def refresh(self) -> None:
        """Recompute the map and the lists from the run's epochs so far (done by
        itself when the run gains an epoch; the selection stays)."""
        state = self._state()
        with self.hold_sync():
            for name, value in state.items():
                setattr(self, name, value)

    def _on_run_changed(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # an epoch without p_true: keep the map of the epochs before
            log.warning("confusion-widget dynamics view not refreshed: %s", exc)

    # -- public data ------------------------------------------------------------------
    @property
    def run(self) -> Run:
        """The run the map shows."""
        return self._run

    @property
    def table(self) -> Table:
        """The run's dynamics table (row = sample position)."""
        return self._table

    @property
    def selected_ids(self) -> list[Any]:
        """The sample ids of :attr:`selection`."""
        ids = self._run.sample_ids()
        return [json_id(ids[p]) for p in self.selection]

    def select_box(self, variability: tuple[float, float], confidence: tuple[float, float]) -> list[int]:
        """Select the samples inside a box of the map (bounds included), as a drag
        does; returns the new :attr:`selection`.

        Parameters
        ----------
        variability, confidence
            ``(low, high)`` on each axis.
        """
        (x0, x1), (y0, y1) = sorted(variability), sorted(confidence)
        x, y = self._table["variability"], self._table["confidence"]
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        self.selection = np.flatnonzero(inside).tolist()
        return list(self.selection)

    # -- selection and filter ----------------------------------------------------------
    @t.validate("selection")
    def _check_selection(self, proposal: Any) -> list[int]:
        value = proposal["value"]
        try:
            arr = np.asarray(value, dtype=np.int64) if len(value) else np.zeros(0, np.int64)
        except (TypeError, ValueError):
            raise t.TraitError(
                f"selection must be a list of sample positions (integers), got {value!r:.80}."
            ) from None
        if arr.ndim != 1 or (len(arr) and (arr.min() < 0 or arr.max() >= len(self._table))):
            raise t.TraitError(
                f"selection holds positions in [0, {len(self._table)}) (rows of the dynamics table); "
                "use view.run.position_of(sample_id) for an id."
            )
        return np.unique(arr).tolist()

    @t.observe("selection", "filter_matrix")
    def _on_filter(self, change: Any) -> None:
        if change["name"] == "selection" and not self.filter_matrix:
            return
        self._widget.filter_samples(self.selected_ids if self.filter_matrix else None)

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the frontend; a bad one is logged and the
        kernel's state re-sent, never raised in the kernel."""
        try:
            super().set_state(sync_data)
        except Exception as exc:  # malformed update from a frontend
            log.warning("confusion-widget dynamics view ignored a bad update: %s", exc)
            keys = [k for k in sync_data if k in self.keys]
            if keys:
                self.send_state(keys)

    # -- the lists ----------------------------------------------------------------------
    def _make_lists(self) -> list[dict[str, Any]]:
        """Most forgotten (most forgetting events first), not learned (wrong at the
        last epoch: the least often right first) and suspects (most suspect first)."""
        tb, k, ids, labels = self._table, self._k, self._run.sample_ids(), self._run.labels
        forgot = tb["forgetting_events"]
        order = np.lexsort((np.arange(len(tb)), -forgot))
        forgotten = [int(p) for p in order[:k] if forgot[p] > 0]
        never = np.flatnonzero(tb["first_learned"] < 0)
        never = never[np.lexsort((tb["confidence"][never], tb["correct_fraction"][never]))][:k]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfusionWidgetWarning)
            sus = self._run.suspects(k)
        positions = {json_id(v): i for i, v in enumerate(ids[: len(tb)])} if len(sus) else {}

        def item(p: int, note: str) -> dict[str, Any]:
            return {"position": int(p), "id": json_id(ids[p]), "note": note}

        return [
            {
                "key": "forgotten",
                "title": "most forgotten",
                "items": [item(p, f"forgotten {int(forgot[p])}×") for p in forgotten],
            },
            {
                "key": "never",
                "title": "not learned",
                "items": [item(int(p), f"right {tb['correct_fraction'][p]:.0%} of epochs") for p in never],
            },
            {
                "key": "suspects",
                "title": "suspects",
                "items": [
                    item(int(positions[json_id(s)]), f"→ {labels[int(c)]} ({float(sc):.2f})")
                    for s, c, sc in zip(sus["sample_id"], sus["likely_class"], sus["score"])
                ],
            },
        ]

    # -- messages ------------------------------------------------------------------------
    def _on_msg(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        reply, out = self.answer(content)
        self.send(reply, out or None)

    def answer(self, message: Any) -> tuple[dict[str, Any], list[bytes]]:
        """The reply to one request of the frontend and its buffers (never raises:
        errors are answered as ``{"type": "error"}``)."""
        msg_id = message.get("id") if isinstance(message, dict) else None
        try:
            if not isinstance(message, dict):
                raise ValueError(f"a request must be a JSON object, got {type(message).__name__}.")
            kind = message.get("type")
            if kind == "dyn-samples":
                return self._samples_reply(message)
            if kind == "dyn-image":
                pos = self._position(message.get("position"))
                sample = json_id(self._run.sample_ids()[pos])
                return wire.answer(self._run, {"type": "image", "id": msg_id, "sample": sample})
            raise ValueError(f"unknown request type {kind!r}; expected 'dyn-samples' or 'dyn-image'.")
        except Exception as exc:  # never raise in the kernel; tell the frontend
            log.debug("dynamics view answered %r with an error", message, exc_info=True)
            return dict(wire.error_reply(msg_id, f"{type(exc).__name__}: {exc}")), []

    def _position(self, value: Any) -> int:
        n = len(self._table)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise ValueError(f"position must be an integer in [0, {n}), got {value!r}.")
        return value

    def _samples_reply(self, msg: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        given = msg.get("positions")
        if not isinstance(given, list) or len(given) > MAX_SAMPLES:
            raise ValueError(
                f"positions must be a list of at most {MAX_SAMPLES} positions, got {given!r:.80}."
            )
        pos = np.asarray([self._position(p) for p in given], dtype=np.int64)
        conf = self._run.confidence(self._run.n_epochs - 1)[pos] if len(pos) else np.zeros(0, np.float32)
        samples, buffers = wire._samples(self._run, pos, conf, None)
        reply = {
            "type": "dyn-samples",
            "id": msg.get("id"),
            "positions": pos[: len(samples)].tolist(),
            "samples": samples,
        }
        return reply, buffers

    def __repr__(self) -> str:
        return f"DynamicsView({self.n_points} samples, {len(self.selection)} selected)"
