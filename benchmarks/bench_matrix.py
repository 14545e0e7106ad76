"""Predictions → confusion matrix, N = 1,000,000, K = 100, against sklearn (same run).

Run: ``.venv/bin/python benchmarks/bench_matrix.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, table


def main() -> dict[str, float]:
    from sklearn.metrics import confusion_matrix

    from confusion_widget import ConfusionWidget, Run
    from confusion_widget.matrix import compact_counts

    n, k = 1_000_000, 100
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < 0.8, y_true, rng.integers(0, k, n))
    labels = [f"class {i}" for i in range(k)]

    expected = confusion_matrix(y_true, y_pred, labels=np.arange(k))

    def ours():  # what from_predictions does per epoch: check, compact int32 copies, count
        return compact_counts(y_true, y_pred, k)[2]

    def widget():  # the whole constructor; closed, as a notebook keeps one widget, not dozens
        ConfusionWidget.from_predictions(y_true, y_pred, labels=labels).close()

    assert (ours() == expected).all()
    t_sk = best_of(lambda: confusion_matrix(y_true, y_pred, labels=np.arange(k)), repeat=3)
    t_ours = best_of(ours, repeat=7)
    t_run = best_of(lambda: Run.from_predictions(y_true, y_pred, labels=labels), repeat=3)
    t_widget = best_of(widget, repeat=5)
    rows = [
        ("sklearn.metrics.confusion_matrix", f"{t_sk * 1e3:.1f}", "1.0×"),
        ("compact_counts (check, int32 copies, count)", f"{t_ours * 1e3:.1f}", f"{t_sk / t_ours:.0f}×"),
        ("Run.from_predictions", f"{t_run * 1e3:.1f}", f"{t_sk / t_run:.0f}×"),
        ("ConfusionWidget.from_predictions (whole)", f"{t_widget * 1e3:.1f}", f"{t_sk / t_widget:.0f}×"),
    ]
    print(f"Predictions → matrix, N = {n:,}, K = {k} (best of several runs)")
    print(table(rows, ("what", "ms", "speed vs sklearn")))

    return {"sklearn_ms": t_sk * 1e3, "ours_ms": t_ours * 1e3, "ratio": t_sk / t_ours}


if __name__ == "__main__":
    main()
