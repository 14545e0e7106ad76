"""Multi-label confusion at N = 100,000 samples, L = 20 and 200 labels.

Compares, in the same run:

- our per-label 2×2 matrices (``per_label_confusion``) with sklearn's
  ``multilabel_confusion_matrix``, which compute the same thing;
- our MLCM matrix (``mlcm``) with sklearn's per-label matrices — different
  things (the MLCM also says *which* label a miss was taken for), shown for scale;
- the per-entry form behind the cell → samples index (``mlcm_entries``), a whole
  widget source from scores (``multilabel_source``, matrix only) and its first
  click (the cell index, built lazily).

Data: about 3 true labels per sample; scores from a mostly-right model (true labels
score Beta(5, 2), absent ones Beta(1, 8)), thresholded at 0.5.

Run: ``.venv/bin/python benchmarks/bench_multilabel.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import multilabel_confusion_matrix

from confusion_widget.mlcm import mlcm, mlcm_entries, per_label_confusion
from confusion_widget.multilabel import multilabel_source

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, table

N = 100_000
LABEL_COUNTS = (20, 200)
REPEAT = 3


def make_data(n: int, n_labels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.random((n, n_labels)) < 3.0 / n_labels
    scores = np.where(y_true, rng.beta(5, 2, (n, n_labels)), rng.beta(1, 8, (n, n_labels)))
    return y_true, scores.astype(np.float32)


def first_click(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Seconds for the first ``cell()`` of a fresh source (builds the cell index)."""
    src = multilabel_source(y_true, scores)
    t0 = time.perf_counter()
    src.cell(0, 0, 0, 0)
    return time.perf_counter() - t0


def main() -> None:
    rows = []
    for n_labels in LABEL_COUNTS:
        y_true, scores = make_data(N, n_labels)
        y_pred = scores >= 0.5
        np.testing.assert_array_equal(
            per_label_confusion(y_true, y_pred), multilabel_confusion_matrix(y_true, y_pred)
        )
        sk = best_of(lambda: multilabel_confusion_matrix(y_true, y_pred), repeat=REPEAT)
        two = best_of(lambda: per_label_confusion(y_true, y_pred), repeat=REPEAT)
        ml = best_of(lambda: mlcm(y_true, y_pred), repeat=REPEAT)
        entries = best_of(lambda: mlcm_entries(y_true, y_pred), repeat=REPEAT)
        source = best_of(lambda: multilabel_source(y_true, scores), repeat=REPEAT)
        click = min(first_click(y_true, scores) for _ in range(REPEAT))
        rows.append(
            (
                n_labels,
                f"{1e3 * sk:.1f}",
                f"{1e3 * two:.1f}",
                f"{sk / two:.1f}x",
                f"{1e3 * ml:.1f}",
                f"{sk / ml:.1f}x",
                f"{1e3 * entries:.1f}",
                f"{1e3 * source:.1f}",
                f"{1e3 * click:.1f}",
            )
        )
    print(f"multi-label confusion, N = {N:,} samples, best of {REPEAT}, milliseconds\n")
    print(
        table(
            rows,
            (
                "L",
                "sklearn 2x2",
                "ours 2x2",
                "sk/ours",
                "ours MLCM",
                "sk/MLCM",
                "MLCM entries",
                "source",
                "1st click",
            ),
        )
    )
    print(
        "\nsklearn 2x2 = multilabel_confusion_matrix; ours 2x2 = per_label_confusion (the same "
        "numbers).\nours MLCM = mlcm, the (L+1)x(L+1) MLCM: a different, richer matrix, its ratio "
        "is for scale only.\nMLCM entries = mlcm_entries (row, col, sample); source = "
        "multilabel_source from scores;\n1st click = the first cell() of a source, which builds "
        "the cell index."
    )


if __name__ == "__main__":
    main()
