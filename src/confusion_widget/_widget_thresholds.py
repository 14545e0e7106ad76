"""The widget's thresholds that change its source (declared in
:mod:`confusion_widget.widget`, validated and applied here).

- ``score_threshold`` and ``iou_threshold``: on a widget whose source is a
  :class:`~confusion_widget.detection.DetectionSource` both are numbers, starting at
  the source's thresholds; setting either (from Python or a slider) re-matches
  every epoch, and the source's notification re-sends the counts, the metrics and
  the selected cell's samples. On other widgets both are ``None``.
- ``confidence_threshold``: ``None`` (off) or a number in [0, 1] on a single-label
  widget with confidences (a run, a comparison or difference of runs): the widget
  then shows :func:`~confusion_widget.abstain.abstained` runs, predictions below the
  threshold in an ``(abstain)`` column, the accuracy on the predictions kept
  (``_accuracy``) and the coverage (``_coverage``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from .abstain import AbstainedRun, abstained, can_abstain, selective_accuracy
from .compare import CompareSource
from .detection import DetectionSource
from .detection_compare import DetectionCompareSource
from .sources import CellSource, TiledComparison
from .traits import OptionError

__all__ = ["SourceThresholds"]

_NAMES = ("score_threshold", "iou_threshold")
_DETECTION = (DetectionSource, DetectionCompareSource)


def _abstain_threshold(src: CellSource) -> float | None:
    """The confidence threshold ``src`` was made with (``None``: not abstained)."""
    if isinstance(src, AbstainedRun):
        return src.threshold
    if isinstance(src, CompareSource):
        runs = [r for _, r in src.runs()]
        if runs and isinstance(runs[0], AbstainedRun):
            return runs[0].threshold
    return None


class SourceThresholds(t.HasTraits):
    """Validators and observers of the thresholds that change the source (a mixin)."""

    _source: CellSource
    _mats: Any
    _base_source: CellSource
    selected: Any  # the widget's trait

    def _apply_thresholds(
        self, source: CellSource, options: dict[str, Any]
    ) -> tuple[CellSource, dict[str, Any]]:
        """Apply the thresholds given to the constructor before the source's matrices
        are read; returns the source to show and the other options."""
        self._base_source = source
        source.subscribe(self._on_base_changed)
        cls = type(self)
        given = {k: options.pop(k) for k in _NAMES if options.get(k) is not None}
        if given:
            values = {k: getattr(cls, k).validate(self, v) for k, v in given.items()}
            for k in values:
                self._check_detection(k, source)
            assert isinstance(source, _DETECTION)
            source.set_thresholds(score=values.get("score_threshold"), iou=values.get("iou_threshold"))
        conf = options.pop("confidence_threshold", None)
        if conf is not None:
            conf = cls.confidence_threshold.validate(self, conf)  # type: ignore[attr-defined]
            self._check_abstain(conf)
            source = abstained(source, conf)
            self._source = source
        return source, options

    def _threshold_state(self) -> dict[str, Any]:
        """The threshold traits as the source has them (``None`` where they do not
        apply) and, for abstained runs, accuracy on the predictions kept and coverage."""
        src = self._source
        state: dict[str, Any] = {"score_threshold": None, "iou_threshold": None, "_coverage": []}
        sparse = getattr(self._mats, "sparse", False)  # abstention's accuracy table is dense
        state["_can_abstain"] = not sparse and can_abstain(self._base_source) is None
        if isinstance(src, _DETECTION):
            state.update(score_threshold=src.score, iou_threshold=src.iou)
        conf = _abstain_threshold(src)
        state["confidence_threshold"] = conf
        if conf is not None:
            mats = self._mats.dense() if hasattr(self._mats, "dense") else np.asarray(self._mats)
            diff_of = list(src.diff_of) if isinstance(src, TiledComparison) else [None] * mats.shape[1]
            state["_accuracy"], state["_coverage"] = selective_accuracy(mats, diff_of)
        return state

    # -- detection --------------------------------------------------------------------
    @staticmethod
    def _check_detection(name: str, src: CellSource) -> None:
        if not isinstance(src, _DETECTION):
            raise OptionError(
                f"{name} applies to detection widgets (from_detections, a detection recorder); "
                f"this {type(src).__name__} has no boxes to re-match."
            )

    @t.validate(*_NAMES)
    def _check_detection_threshold(self, proposal: Any) -> float | None:
        # (traitlets skips this for None when set: the observer refuses None then)
        v, name = proposal["value"], proposal["trait"].name
        if v is None:
            if isinstance(self._source, _DETECTION):
                raise OptionError(f"{name} must be a number on a detection widget, got None.")
            return None
        self._check_detection(name, self._source)
        return float(v)

    @t.observe(*_NAMES)
    def _on_detection_threshold(self, change: Any) -> None:
        src = self._source
        if not isinstance(src, _DETECTION):
            return
        if change["new"] is None:
            name = change["name"]
            setattr(self, name, change["old"] if change["old"] is not None else self._threshold_state()[name])
            raise OptionError(f"{name} must be a number on a detection widget, got None.")
        if change["name"] == "score_threshold":
            src.set_thresholds(score=change["new"])  # the source notifies: re-sent then
        else:
            src.set_thresholds(iou=change["new"])

    # -- abstention -------------------------------------------------------------------
    def _check_abstain(self, value: float | None) -> None:
        if value is None:
            return
        why = can_abstain(self._base_source)
        if why is not None:
            raise OptionError(f"confidence_threshold cannot apply: {why}.")

    @t.validate("confidence_threshold")
    def _check_confidence_threshold(self, proposal: Any) -> float | None:
        v = proposal["value"]
        self._check_abstain(v)
        return None if v is None else float(v)

    @t.observe("confidence_threshold")
    def _on_confidence_threshold(self, change: Any) -> None:
        if change["new"] == _abstain_threshold(self._source):
            return  # the source already shows it (the constructor, a re-send)
        self._show_abstained(change["new"])

    def _show_abstained(self, threshold: float | None) -> None:
        base = self._base_source
        src = base if threshold is None else abstained(base, threshold)
        k = len(src.labels)
        if self.selected is not None and max(self.selected) >= k:
            self.selected = None
        self._source = src
        if hasattr(self, "_init_view"):  # the class view (order, groups) over the new labels
            self._init_view(src, {"order": getattr(self, "order", "index")})
        self._on_source_changed()  # type: ignore[attr-defined]

    def _on_base_changed(self) -> None:
        """A live base (a recorder's run) grew: abstain its new epochs too."""
        conf = _abstain_threshold(self._source)
        if conf is not None:
            self._show_abstained(conf)
