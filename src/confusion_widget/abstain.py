"""Abstention for single-label classifiers: predictions whose confidence is below a
threshold move to an ``"(abstain)"`` column.

:func:`abstained` turns a :class:`~confusion_widget.Run` (or a comparison of runs)
into one with ``K + 1`` classes: the rows stay the true classes (the ``(abstain)``
row is always empty), a prediction below the threshold is counted in the last
column. Accuracy then means accuracy on the predictions kept (``trace / kept``),
next to the *coverage* (``kept / all``), per epoch and per tile
(:func:`selective_accuracy`). The widget's ``confidence_threshold`` does this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .compare import CompareSource
from .runs import Run
from .sources import CellSource

if TYPE_CHECKING:
    from .wire import MetricRow

__all__ = ["ABSTAIN", "AbstainedRun", "abstained", "can_abstain", "selective_accuracy"]

#: Name of the column of the predictions that abstain.
ABSTAIN = "(abstain)"


class AbstainedRun(Run):
    """A run's predictions with those below ``threshold`` moved to :data:`ABSTAIN`
    (a snapshot of ``base``'s epochs; make a new one when ``base`` grows)."""

    def __init__(self, base: Run, threshold: float) -> None:
        k, e = base.n_classes, base.n_epochs
        confs = [base.confidence(i) for i in range(e)]
        preds = [np.where(c < threshold, k, base.y_pred(i)) for i, c in enumerate(confs)]
        super().__init__(
            [*base.labels, ABSTAIN],
            [base.y_true(i) for i in range(e)],
            preds,
            confs,
            base.sample_ids(),
            name=base.name,
            epoch_labels=base.epoch_labels,
        )
        self.images = base.images  # by the same positions
        self.base, self.threshold = base, float(threshold)

    def metrics(self, epoch: int = -1) -> list[MetricRow]:
        """Per true class: precision on the predictions kept, recall over all of the
        class' samples (an abstention is not a hit), F1, support; no ``(abstain)`` row."""
        return super().metrics(epoch)[:-1]


def _runs_with_confidence(src: CellSource) -> list[Run] | None:
    if isinstance(src, Run):
        return [src]
    if isinstance(src, CompareSource) and all(isinstance(r, Run) for _, r in src.runs()):
        return [r for _, r in src.runs()]
    return None


def can_abstain(src: CellSource) -> str | None:
    """``None`` when ``src`` can abstain, else the reason it cannot."""
    runs = _runs_with_confidence(src)
    if runs is None:
        return (
            f"a {type(src).__name__} has no single-label predictions; abstention applies to "
            "from_predictions, recorder and compare/difference widgets"
        )
    if any(isinstance(r, AbstainedRun) or ABSTAIN in r.labels for r in runs):
        return f"its classes already include {ABSTAIN!r}"
    for r in runs:
        if all(np.isnan(r.confidence(i)).all() for i in range(r.n_epochs)):
            return f"run {r.name or '(unnamed)'} has no confidences (pass scores or confidence=)"
    return None


def abstained(src: CellSource, threshold: float) -> CellSource:
    """``src`` (a Run, or a comparison of runs) with predictions below ``threshold``
    in an :data:`ABSTAIN` column.

    Parameters
    ----------
    src
        A :class:`~confusion_widget.Run` or a :class:`~confusion_widget.compare.CompareSource`
        of runs, with confidences.
    threshold
        In [0, 1]; predictions with confidence ``< threshold`` abstain (unknown, NaN,
        confidences never do).

    Returns
    -------
    CellSource
        An :class:`AbstainedRun`, or a comparison of them (same tiles, differences
        and epochs).

    Raises
    ------
    ValueError
        When ``src`` cannot abstain (see :func:`can_abstain`).

    Examples
    --------
    >>> run = Run(["a", "b"], [0, 0, 1], [[0, 1, 1]], confidence=[[0.9, 0.4, 0.8]])
    >>> abstained(run, 0.5).matrices()[0, 0].tolist()
    [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    """
    why = can_abstain(src)
    if why is not None:
        raise ValueError(f"confidence_threshold cannot apply: {why}.")
    if isinstance(src, Run):
        return AbstainedRun(src, threshold)
    assert isinstance(src, CompareSource)
    return src.map_runs(lambda r: AbstainedRun(r, threshold))


def selective_accuracy(mats: np.ndarray, diff_of: list[Any]) -> tuple[list[list[Any]], list[list[Any]]]:
    """``[E][T]`` accuracy on the predictions kept (trace / kept) and coverage
    (kept / all) of ``(E, T, K+1, K+1)`` counts whose last column is
    :data:`ABSTAIN`; ``None`` for empty and difference tiles."""
    mats = np.asarray(mats)
    total = mats.sum(axis=(2, 3)).astype(np.float64)
    kept = total - mats[..., -1].sum(axis=2)
    trace = np.trace(mats, axis1=2, axis2=3).astype(np.float64)
    diff = np.array([d is not None for d in diff_of], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where((kept > 0) & ~diff, trace / kept, np.nan)
        cov = np.where((total > 0) & ~diff, kept / total, np.nan)

    def table(a: np.ndarray) -> list[list[Any]]:
        return [[None if np.isnan(v) else float(v) for v in row] for row in a]

    return table(acc), table(cov)
