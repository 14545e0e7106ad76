"""The samples whose prediction differs between two runs, or two epochs of one run."""

from __future__ import annotations

from typing import Any

import numpy as np

from .runs import Run
from .sources import check_index

__all__ = ["flips"]


def flips(run_a: Run, run_b: Run, epoch_a: int = -1, epoch_b: int = -1) -> dict[str, np.ndarray]:
    """Samples whose prediction differs between two runs (or two epochs of one run).

    Samples are matched by id; samples only one run evaluated are left out. Both runs
    must use the same class order (see :func:`align_run`).

    Parameters
    ----------
    run_a, run_b
        The runs (pass the same run twice to compare two of its epochs).
    epoch_a, epoch_b
        Epochs to compare; negative values count from the end (``-1``: last).
        Epochs outside the runs are a ``ValueError``.

    Returns
    -------
    dict of numpy arrays
        Columns ``sample_id``, ``true``, ``pred_a``, ``pred_b``, ``confidence_a``,
        ``confidence_b``, ``change`` (``"fixed"``: wrong in a, right in b;
        ``"broken"``: right in a, wrong in b; ``"changed"``: wrong in both), one row
        per flipped sample. ``pandas.DataFrame(result)`` makes a table of it.

    Examples
    --------
    >>> from confusion_widget import Run
    >>> run = Run(["a", "b"], [0, 1, 1], [[0, 0, 1], [0, 1, 1]])
    >>> flips(run, run, 0, 1)["sample_id"].tolist()
    [1]
    """
    if list(run_a.labels) != list(run_b.labels):
        raise ValueError("flips needs both runs in the same class order; use align_run first.")
    ea = check_index(epoch_a, run_a.n_epochs, "epoch_a", negative=True)
    eb = check_index(epoch_b, run_b.n_epochs, "epoch_b", negative=True)
    ids_a, ids_b = run_a.sample_ids(), run_b.sample_ids()
    if len(ids_a) == len(ids_b) and np.array_equal(ids_a, ids_b):
        ia: Any = slice(None)  # same samples, same order: views, no copies
        ib: Any = ia
        ids = ids_a
    else:  # match by id: sort b once, look a's ids up in it
        order = np.argsort(ids_b, kind="stable")
        where = np.searchsorted(ids_b[order], ids_a)
        where = np.minimum(where, len(ids_b) - 1)
        found = ids_b[order][where] == ids_a
        ia = np.flatnonzero(found)
        ib = order[where[found]]
        ids = ids_a[ia]
    t = run_a.y_true(ea)[ia]
    pa, pb = run_a.y_pred(ea)[ia], run_b.y_pred(eb)[ib]
    ca, cb = run_a.confidence(ea)[ia], run_b.confidence(eb)[ib]
    sel = np.flatnonzero(pa != pb)
    right_a, right_b = pa[sel] == t[sel], pb[sel] == t[sel]
    change = np.where(right_b, "fixed", np.where(right_a, "broken", "changed"))
    return {
        "sample_id": ids[sel],
        "true": t[sel],
        "pred_a": pa[sel],
        "pred_b": pb[sel],
        "confidence_a": ca[sel],
        "confidence_b": cb[sel],
        "change": change,
    }
