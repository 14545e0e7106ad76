"""Training dynamics: per-sample signals over the epochs of a run — which samples a
model forgets, never learns, or that may carry a wrong label.

Definitions, per sample over epochs ``e = 0 … E-1`` (correct = the recorded
predicted class equals the true class):

- ``correct_fraction``: the share of epochs predicted correctly;
- ``forgetting_events``: epochs ``e >= 1`` right at ``e - 1`` and wrong at ``e``
  (Toneva et al., ICLR 2019);
- ``first_learned``: the first epoch from which the sample stays right through the
  last epoch, ``-1`` if it is wrong at the last epoch;
- ``flips``: epochs ``e >= 1`` whose predicted class differs from ``e - 1``'s;
- ``confidence`` / ``variability``: mean and population standard deviation of
  ``p_true``, the probability of the true class (dataset cartography, Swayamdipta et
  al., EMNLP 2020);
- ``aum``: the mean margin — score of the true class minus the largest other score,
  on the scale the scores came in (logits give the area under the margin of Pleiss et
  al., NeurIPS 2020); NaN without scores;
- ``region``: ``"ambiguous"`` when ``variability >= variability_threshold``, else
  ``"easy"`` when ``confidence >= confidence_threshold``, else ``"hard"`` (hard to
  learn: low confidence, low variability — often a wrong label); ``""`` when
  ``p_true`` was not recorded.

Signals that need values a run does not have (``p_true`` and the margin need scores
or probabilities; logs written by older versions have neither) are NaN, and a
:class:`~confusion_widget.ConfusionWidgetWarning` says which and why.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ._util import ConfusionWidgetWarning

__all__ = ["CONFIDENCE_THRESHOLD", "VARIABILITY_THRESHOLD", "Table", "dynamics", "suspects"]

#: Cartography: samples whose mean ``p_true`` is below this are hard to learn.
CONFIDENCE_THRESHOLD = 0.5
#: Cartography: samples whose ``p_true`` varies at least this much are ambiguous.
VARIABILITY_THRESHOLD = 0.2


class Table(Mapping[str, np.ndarray]):
    """Columns of equal length by name: ``t["aum"]`` is a numpy array, ``len(t)`` the
    number of rows, ``t.to_pandas()`` a DataFrame (when pandas is installed).

    Examples
    --------
    >>> t = Table({"sample_id": np.array([3, 5]), "score": np.array([0.9, 0.1])})
    >>> len(t), list(t), t["score"].tolist()
    (2, ['sample_id', 'score'], [0.9, 0.1])
    """

    def __init__(self, columns: Mapping[str, Any]) -> None:
        self._columns = {k: np.asarray(v) for k, v in columns.items()}
        lengths = {len(v) for v in self._columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lengths)}.")
        self._n = lengths.pop() if lengths else 0

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r}; the columns are {list(self._columns)}.") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return self._n

    def take(self, rows: Any) -> Table:
        """The table of the given rows (indices or a boolean mask)."""
        return Table({k: v[rows] for k, v in self._columns.items()})

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of the columns."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(self._columns)

    def __repr__(self) -> str:
        return f"Table({self._n} rows: {', '.join(self._columns)})"


def _mode_of_wrong(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: the class it is most often wrongly predicted as (the lowest such
    class on ties; the true class if never wrong) and the share of epochs predicted
    as that class."""
    n = y_pred.shape[1]
    wrong = y_pred != y_true
    sample = np.broadcast_to(np.arange(n), y_pred.shape)[wrong]
    codes = sample.astype(np.int64) * n_classes + y_pred[wrong]
    likely = np.asarray(y_true[-1], dtype=np.int64).copy()
    if n * n_classes <= 2**24:  # a count per (sample, class) fits: no sort
        counts = np.bincount(codes, minlength=n * n_classes).reshape(n, n_classes)
        seen = counts.max(axis=1) > 0
        likely[seen] = counts[seen].argmax(axis=1)  # the lowest class on ties
    else:
        code, count = np.unique(codes, return_counts=True)
        owner, cls = np.divmod(code, n_classes)
        best = np.lexsort((cls, -count, owner))  # per sample: most frequent first, then lowest class
        first = np.ones(len(best), bool)
        first[1:] = owner[best][1:] != owner[best][:-1]
        likely[owner[best][first]] = cls[best][first]
    share = (y_pred == likely).mean(axis=0)
    return likely, share


def dynamics(
    sample_ids: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    p_true: np.ndarray | None = None,
    margin: np.ndarray | None = None,
    *,
    confidence_threshold: float = CONFIDENCE_THRESHOLD,
    variability_threshold: float = VARIABILITY_THRESHOLD,
) -> Table:
    """The training-dynamics table of ``(E, N)`` per-epoch records (module docstring).

    Parameters
    ----------
    sample_ids
        ``(N,)`` ids.
    y_true, y_pred
        ``(E, N)`` true and predicted classes.
    p_true, margin
        ``(E, N)`` float arrays, NaN where unknown, or ``None``.
    confidence_threshold, variability_threshold
        The cartography map's cuts (see :data:`CONFIDENCE_THRESHOLD`).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    e = y_pred.shape[0]
    correct = y_pred == y_true
    after = correct[1:]
    forgetting = (correct[:-1] & ~after).sum(axis=0)
    flips = (y_pred[1:] != y_pred[:-1]).sum(axis=0)
    # the last wrong epoch, from the end: learned from the epoch after it
    wrong = ~correct
    last_wrong = np.where(wrong.any(axis=0), e - 1 - np.argmax(wrong[::-1], axis=0), -1)
    first_learned = np.where(correct[-1], last_wrong + 1, -1)
    missing = []
    conf = var = np.full(y_pred.shape[1], np.nan)
    if p_true is not None and not np.isnan(p_true).any():
        conf, var = p_true.mean(axis=0), p_true.std(axis=0)
    else:
        missing.append("confidence, variability and region need p_true (scores or probabilities)")
    aum = np.full(y_pred.shape[1], np.nan)
    if margin is not None and not np.isnan(margin).any():
        aum = margin.mean(axis=0)
    else:
        missing.append("aum needs the margins of scores")
    region = np.where(
        np.isnan(conf),
        "",
        np.where(
            var >= variability_threshold, "ambiguous", np.where(conf >= confidence_threshold, "easy", "hard")
        ),
    )
    if missing:
        warnings.warn(
            f"{'; '.join(missing)}, which this run did not record: those columns are NaN.",
            ConfusionWidgetWarning,
            stacklevel=3,
        )
    return Table(
        {
            "sample_id": sample_ids,
            "correct_fraction": correct.mean(axis=0),
            "forgetting_events": forgetting,
            "first_learned": first_learned,
            "flips": flips,
            "confidence": conf,
            "variability": var,
            "aum": aum,
            "region": region,
        }
    )


def suspects(table: Table, y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, k: int = 50) -> Table:
    """The ``k`` samples whose label is most likely wrong, most suspect first.

    Each sample's ``likely_class`` is the class it is most often (wrongly) predicted
    as, and its *consistency* the share of epochs predicted as that class. The
    ``score`` ranks: with margins, ``sigmoid(-aum) * (1 + consistency) / 2`` (a low
    area under the margin, Pleiss et al. 2020, weighed up when the model keeps
    choosing one other class); without margins but with ``p_true``,
    ``(1 - confidence) * consistency`` (hard to learn and consistently another
    class); with neither, ``(1 - correct_fraction) * consistency``.

    Parameters
    ----------
    table
        The run's :func:`dynamics`.
    y_true, y_pred
        ``(E, N)`` classes.
    n_classes
        ``K``.
    k
        How many (at least 1; all samples if there are fewer).

    Returns
    -------
    Table
        Columns ``sample_id``, ``likely_class``, ``score``.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {type(k).__name__} {k!r}.")
    if k <= 0:
        raise ValueError(f"k must be at least 1, got {k}.")
    likely, consistency = _mode_of_wrong(np.asarray(y_true), np.asarray(y_pred), n_classes)
    aum, conf = table["aum"], table["confidence"]
    if not np.isnan(aum).any():
        score = (1.0 + consistency) / 2.0 / (1.0 + np.exp(np.clip(aum, -50, 50)))
    elif not np.isnan(conf).any():
        score = (1.0 - conf) * consistency
    else:
        score = (1.0 - table["correct_fraction"]) * consistency
    order = np.argsort(-score, kind="stable")[:k]
    return Table(
        {"sample_id": table["sample_id"][order], "likely_class": likely[order], "score": score[order]}
    )
