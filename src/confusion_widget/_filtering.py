"""The widget's sample filter (a mixin of :class:`~confusion_widget.ConfusionWidget`):
``w.filter_samples(ids)`` shows a matrix whose cells count only those samples,
``w.filter_samples(None)`` the whole run again; and ``w.dynamics_view(run=None)``,
the companion view that drives it.

The filter sits under the class view: the widget's displayed source is the class
view (:mod:`confusion_widget._widget_classes`) of
:func:`~confusion_widget.subset.subset_source` of its source. ``w.source`` stays the
full run, and so do ``w.dynamics()`` and ``w.suspects()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .grouping import grouped_source
from .sources import CellSource
from .subset import subset_source

if TYPE_CHECKING:
    from .dynamics_view import DynamicsView

__all__ = ["SampleFilter"]


class SampleFilter:
    """``filter_samples``, ``sample_filter`` and ``dynamics_view`` (a mixin)."""

    _source: CellSource
    _shown: CellSource
    _filter_ids: list[Any] | None = None
    _filtered: tuple[int, CellSource] | None = None  # (id of the source it subsets, the subset)

    def filter_samples(self, ids: Iterable[Any] | None = None) -> None:
        """Show only these samples' cells: every count, cell, metric and accuracy of
        the matrix is recomputed from them (``None``: every sample again).

        Parameters
        ----------
        ids
            Sample ids as the source holds them (``w.dynamics()["sample_id"]``); in a
            comparison, each run keeps the ids it has. An empty list shows an empty
            matrix.

        Raises
        ------
        ValueError
            For an unknown id, or a widget without per-sample predictions over
            epochs (a bare matrix, multi-label, detection, a table queried in place).
        TypeError
            For ids that are neither integers nor strings.
        """
        if ids is None:
            new, subset = None, None
        else:
            new = list(ids.tolist() if hasattr(ids, "tolist") else ids)
            subset = (id(self._source), subset_source(self._source, new))  # raises for bad ids
        with self._lock:  # type: ignore[attr-defined]
            self._filter_ids, self._filtered = new, subset
            self._set_view(list(self.collapsed))  # type: ignore[attr-defined]
        self._on_source_changed()  # type: ignore[attr-defined]

    @property
    def sample_filter(self) -> list[Any] | None:
        """The ids the matrix is filtered to (``None``: not filtered)."""
        return None if self._filter_ids is None else list(self._filter_ids)

    def _set_view(self, collapsed: Sequence[str], source: CellSource | None = None) -> None:
        super()._set_view(collapsed, source)  # type: ignore[misc]
        if self._filter_ids is None:
            return
        base = self._source if source is None else source
        if self._filtered is None or self._filtered[0] != id(base):  # the source was replaced
            self._filtered = (id(base), subset_source(base, self._filter_ids))
        self._shown = grouped_source(self._filtered[1], self._view)  # type: ignore[attr-defined]

    def dynamics_view(self, run: int | str | None = None, **options: Any) -> DynamicsView:
        """The training-dynamics view of this widget's run (or of ``run`` of a
        comparison): the cartography map, a box or click selects samples (shown in
        its panel, and the matrix can be filtered to them), the most forgotten,
        never learned and suspected samples.

        Parameters
        ----------
        run
            In a comparison, the run (title or index).
        **options
            :class:`~confusion_widget.dynamics_view.DynamicsView` options
            (``confidence_threshold``, ``variability_threshold``, ``k``).

        Raises
        ------
        ValueError
            For a widget without per-sample predictions over epochs, or a run that
            recorded no scores (the map needs the probability of the true class).
        """
        from .dynamics_view import DynamicsView

        return DynamicsView(self, run=run, **options)
