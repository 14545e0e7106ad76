"""The widget's per-sample analyses — flips between tiles or epochs, training
dynamics, suspected label errors — as thin methods over its source (a mixin of
:class:`~confusion_widget.ConfusionWidget`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .compare import CompareSource, flips_of
from .dynamics import Table
from .runs import Run
from .sources import CellSource, check_index

__all__ = ["Analysis"]


class Analysis:
    """``flips``, ``dynamics`` and ``suspects`` of a widget's runs."""

    _source: CellSource
    epoch: int

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
        return flips_of(self._source, self.epoch, a, b)

    def _run(self, run: int | str | None) -> Run:
        """The run behind the widget, or ``run`` (a title or index) of a comparison."""
        src = self._source
        if isinstance(src, Run) and run is None:
            return src
        if isinstance(src, CompareSource):
            runs = src.runs()
            titles = [title for title, _ in runs]
            if run is None:
                if len({id(r) for _, r in runs}) > 1:
                    raise ValueError(f"this widget compares runs {titles}; pass run= one of them.")
                return runs[0][1]
            if isinstance(run, str):
                if run not in titles:
                    raise ValueError(f"run={run!r} is not one of the runs {titles}.")
                return runs[titles.index(run)][1]
            return runs[check_index(run, len(runs), "run")][1]
        if isinstance(src, Run):
            raise TypeError("run= picks a run of a comparison; this widget shows one run.")
        raise ValueError(
            f"dynamics need per-sample predictions over epochs (a run); this widget shows a "
            f"{type(src).__name__}. Build it with ConfusionWidget.from_predictions or a ConfusionRecorder."
        )

    def dynamics(self, run: int | str | None = None, **thresholds: Any) -> Table:
        """Per-sample training dynamics (forgetting events, dataset cartography, AUM):
        one row per sample; see :mod:`confusion_widget.dynamics`.

        Parameters
        ----------
        run
            In a comparison, the run (title or index).
        **thresholds
            ``confidence_threshold``, ``variability_threshold`` of the cartography map.
        """
        return self._run(run).dynamics(**thresholds)

    def suspects(self, k: int = 50, run: int | str | None = None) -> Table:
        """The ``k`` samples whose label is most likely wrong, most suspect first
        (columns ``sample_id``, ``likely_class``, ``score``); see
        :func:`confusion_widget.dynamics.suspects` for the rule."""
        return self._run(run).suspects(k)
