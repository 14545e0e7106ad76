"""Flipped samples between two runs of N = 1,000,000 samples (Python side).

The browser figures for a 4-run comparison (K = 100, 30 epochs) are in
``bench_browser.py``. Run: ``.venv/bin/python benchmarks/bench_compare.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, table


def main() -> dict[str, float]:
    from confusion_widget import ConfusionWidget, Run
    from confusion_widget.compare import flips

    n, k = 1_000_000, 100
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, k, n)
    labels = [f"c{i}" for i in range(k)]

    def run(name, p_right, seed):
        r = np.random.default_rng(seed)
        pred = np.where(r.random(n) < p_right, y_true, r.integers(0, k, n))
        return Run(labels, y_true, pred[None], r.random((1, n), dtype=np.float32), name=name)

    a, b = run("a", 0.80, 1), run("b", 0.85, 2)
    perm = rng.permutation(n)  # the same samples evaluated in another order
    b_shuffled = Run(
        labels,
        y_true[perm],
        b.y_pred(0)[perm][None],
        b.confidence(0)[perm][None],
        b.sample_ids()[perm],
        name="b",
    )

    t_same = best_of(lambda: flips(a, b), repeat=5)
    t_shuf = best_of(lambda: flips(a, b_shuffled), repeat=3)
    n_flips = len(flips(a, b)["sample_id"])
    assert n_flips == len(flips(a, b_shuffled)["sample_id"])

    w = ConfusionWidget.compare({"a": a, "b": b}, diff=True)
    w.selected_tile, w.selected = 2, (3, 7)
    t_cell = best_of(lambda: w.selected_samples, repeat=5)
    rows = [
        ("flips(a, b), same sample order", f"{t_same * 1e3:.1f}"),
        ("flips(a, b), other order (matched by id)", f"{t_shuf * 1e3:.1f}"),
        ("difference-cell samples (entered + left), warm", f"{t_cell * 1e3:.2f}"),
    ]
    print(f"Flips between two runs, N = {n:,}, K = {k}: {n_flips:,} samples flipped")
    print(table(rows, ("what", "ms")))
    return {"flips_ms": t_same * 1e3, "flips_shuffled_ms": t_shuf * 1e3}


if __name__ == "__main__":
    main()
