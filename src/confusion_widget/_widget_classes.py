"""The widget's class view: ``classes=``/``top_k=`` (a subset plus ``"(other)"``),
``hierarchy=``/``label_separator=`` with the ``collapsed`` groups, the ``order`` the
classes are drawn in (``display_order``), and ``focus(name)`` (the traits are declared
in :mod:`confusion_widget.widget`; built, validated and applied here).

The widget shows ``self._shown``: its source seen through a
:class:`~confusion_widget.classview.ClassView`
(:func:`~confusion_widget.grouping.grouped_source`; the source itself when the view
changes nothing). ``w.source`` stays the full source. A data-driven order is
computed from the epoch shown when it is chosen (or when the displayed classes
change) and then stays put while the slider moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets
import numpy as np
import traitlets as t

from .classview import ClassView, Hierarchy, display_order, select_classes
from .grouping import grouped_source
from .ordering import epoch_coo, error_totals, unknown_name
from .sources import CellSource, TiledComparison
from .traits import OptionError

__all__ = ["ClassViews"]


class ClassViews(t.HasTraits):
    """Validators and observers of ``order`` and ``collapsed``, and ``focus`` (a mixin)."""

    _source: CellSource
    _shown: CellSource
    epoch: int
    selected: Any
    display_order: Any
    _focus: Any

    def _init_view(
        self,
        source: CellSource,
        options: dict[str, Any],
        classes: Any = None,
        top_k: Any = None,
        hierarchy: Any = None,
        label_separator: Any = None,
    ) -> dict[str, Any]:
        """Build the view from the constructor's arguments (before the counts are
        read) and set ``self._shown``; returns the options left for the traits.
        Called again on a widget already built (its source replaced), it keeps the
        view: see :meth:`_reset_view`."""
        if getattr(self, "_view_args", None) is not None:
            self._reset_view(source)
            return {k: v for k, v in options.items() if k not in ("order", "collapsed")}
        labels = list(source.labels)
        self._hierarchy = Hierarchy.make(labels, hierarchy, label_separator)
        errors = None
        if top_k is not None and classes is None:
            e = options.get("epoch")
            n = source.n_epochs
            e = e if isinstance(e, (int, np.integer)) and 0 <= e < n else n - 1
            rows, cols, vals = epoch_coo(source, int(e), _count_tiles(source))
            errors = error_totals(rows, cols, vals, len(labels))
        self._subset = select_classes(labels, self._hierarchy, classes, top_k, errors)
        self._view_args = (hierarchy, label_separator, labels)
        self._order_cache: tuple[Any, list[int]] | None = None
        self._focus_nonce = 0
        collapsed = options.pop("collapsed", None)
        collapsed = [] if collapsed is None else self._check_collapsed({"value": collapsed})
        self._set_view(collapsed, source)
        order = options.pop("order", "index")
        order = self._check_order({"value": type(self).order.validate(self, order)})  # type: ignore[attr-defined]
        # the first state (for the comm's opening) carries them; see _view_state
        self._init_state: dict[str, Any] | None = {"order": order, "collapsed": collapsed}
        return options

    def _reset_view(self, source: CellSource) -> None:
        """The same view over a new ``self._source`` whose labels may differ (an
        abstain class added): the same hierarchy arguments, the same classes of the
        subset (new classes shown), the collapsed groups that still exist, the same
        order (computed again)."""
        hierarchy, separator, given = self._view_args
        labels = list(source.labels)
        self._hierarchy = Hierarchy.make(labels, hierarchy, separator)
        if self._subset is not None:
            shown = {given[i] for i in np.flatnonzero(self._subset)}
            mask = np.array([n in shown or n not in given for n in labels], bool)
            self._subset = None if mask.all() else mask
            self._view_args = (hierarchy, separator, labels)
        groups = self._hierarchy.members if self._hierarchy else {}
        self._set_view([g for g in self.collapsed if g in groups], source)  # type: ignore[attr-defined]

    def _set_view(self, collapsed: Sequence[str], source: CellSource | None = None) -> None:
        source = self._source if source is None else source
        self._view = ClassView(source.labels, self._subset, self._hierarchy, collapsed)
        self._shown = grouped_source(source, self._view)
        self._order_cache = None

    def _view_state(self, epoch: int, order: Any = None) -> dict[str, Any]:
        """``display_order`` and ``_label_groups`` (the order computed once per order
        and displayed classes, at ``epoch``)."""
        init, self._init_state = self._init_state, None
        if order is None:
            order = init["order"] if init else self.order  # type: ignore[attr-defined]
        key = (id(self._view), order if isinstance(order, str) else tuple(order))
        if self._order_cache is None or self._order_cache[0] != key:
            coo = None
            if order in ("errors", "cluster"):
                counts = self._mats  # type: ignore[attr-defined]
                coo = epoch_coo(counts, epoch, _count_tiles(self._shown))
            self._order_cache = (key, display_order(order, self._view, coo))
        state = {"display_order": list(self._order_cache[1]), "_label_groups": list(self._view.label_groups)}
        return {**(init or {}), **state}

    # -- order ---------------------------------------------------------------------------
    @t.validate("order")
    def _check_order(self, proposal: Any) -> Any:
        value = proposal["value"]
        if not isinstance(value, str):
            try:
                for name in value:
                    self._view.locate(name, "order: class")
            except ValueError as exc:
                raise OptionError(str(exc)) from None
        return value

    @t.observe("order")
    def _on_order(self, change: Any) -> None:
        if not getattr(self, "_syncing", False):
            self._order_cache = None
            self.display_order = self._view_state(self.epoch, change["new"])["display_order"]

    # -- collapsed -----------------------------------------------------------------------
    @t.validate("collapsed")
    def _check_collapsed(self, proposal: Any) -> list[str]:
        value = type(self).collapsed.validate(self, proposal["value"])  # type: ignore[attr-defined]
        if value and self._hierarchy is None:
            raise OptionError(
                "collapsed names groups of a hierarchy; this widget has none (pass hierarchy= "
                "or label_separator= to the constructor)."
            )
        for name in value:
            if name not in self._hierarchy.members:  # type: ignore[union-attr]
                raise OptionError(str(unknown_name(name, self._hierarchy.groups, "collapsed: group")))  # type: ignore[union-attr]
        return value

    @t.observe("collapsed")
    def _on_collapsed(self, change: Any) -> None:
        if getattr(self, "_syncing", False):
            return
        with self._lock:  # type: ignore[attr-defined]
            self._set_view(change["new"])
            self.selected = None
            self._focus = None
        self._on_source_changed()  # type: ignore[attr-defined]  # re-read and re-send, selected cleared

    # -- focus ---------------------------------------------------------------------------
    def focus(self, name: str | None = None) -> None:
        """Scroll the matrix to a class and highlight it; without a name, focus the
        widget (as ipywidgets' ``DOMWidget.focus``).

        Parameters
        ----------
        name
            A class name. A class hidden in a collapsed group focuses the group; one
            outside ``classes=``/``top_k=`` focuses ``"(other)"``; a group name
            focuses its first displayed class.

        Raises
        ------
        ValueError
            For an unknown name (with close matches).
        """
        if name is None:
            ipywidgets.DOMWidget.focus(self)
            return
        d = self._view.locate(name, "focus: class")[0]
        self._focus_nonce += 1
        self._focus = [d, self._focus_nonce]


def _count_tiles(source: CellSource) -> list[int]:
    """The tiles whose counts orders and ``top_k`` use: all but difference tiles."""
    n = len(source.tile_titles)
    if isinstance(source, TiledComparison):
        return [t for t in range(n) if source.diff_of[t] is None] or [0]
    return list(range(n))
