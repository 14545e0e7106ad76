"""10,000 classes in the kernel: predictions → sparse counts → the packs on the wire.

Scene: N = 1,000,000 samples of K = 10,000 classes over E = 10 epochs; each epoch
gets 50 % → 14 % of the samples wrong, always into one of the six neighbouring
classes (as ImageNet's fine-grained confusions), so about 0.07 % of the K² cells are
non-zero. Measured (best of 3, peak memory by tracemalloc over one run):

- ``ConfusionWidget.from_predictions(y_true, [y_pred per epoch])``: the run (checks,
  int32 copies, counting) and the widget (its traits, the first counts pack);
- the bytes of every epoch's counts as the kernel sends them (``counts`` replies of
  ``wire.counts_replies``) and the largest message;
- the peer: scikit-learn's ``confusion_matrix`` for one epoch (dense K × K).

Run: ``.venv/bin/python benchmarks/bench_large_k.py`` (~30 s).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
from _timing import best_of, table

from confusion_widget import ConfusionWidget, wire
from confusion_widget.runs import Run

K, N, E = 10_000, 1_000_000, 10


def scene(seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, N)
    preds = []
    for e in range(E):
        p = y.copy()
        wrong = rng.random(N) < 0.5 - 0.04 * e
        p[wrong] = (y[wrong] + rng.choice([-3, -2, -1, 1, 2, 3], wrong.sum())) % K
        preds.append(p)
    return y, preds


def peak_mb(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    y, preds = scene()
    input_mb = (y.nbytes + sum(p.nbytes for p in preds)) / 1e6
    run_s = best_of(lambda: Run.from_predictions(y, preds), repeat=3)
    total_s = best_of(lambda: ConfusionWidget.from_predictions(y, preds), repeat=3)
    run_peak = peak_mb(lambda: Run.from_predictions(y, preds))
    w = ConfusionWidget.from_predictions(y, preds)
    nnz = [w.counts.coo(e, 0).nnz for e in range(E)]
    parts = [b[0] for _, b in wire.counts_replies(w.counts, list(range(E)), 0, 1)]
    wire_mb = (len(w._counts) + sum(len(p) for p in parts)) / 1e6

    from sklearn.metrics import confusion_matrix

    t0 = time.perf_counter()
    confusion_matrix(y, preds[0], labels=np.arange(K))
    sk_s = time.perf_counter() - t0

    print(f"K = {K:,}, N = {N:,}, E = {E}; non-zero cells per epoch {min(nnz):,}–{max(nnz):,}")
    print(f"({100 * max(nnz) / K**2:.3f} % of K²); input arrays {input_mb:.0f} MB\n")
    rows = [
        ("Run.from_predictions (all epochs)", f"{run_s * 1e3:.0f} ms", f"{run_peak:.0f} MB"),
        ("ConfusionWidget.from_predictions", f"{total_s * 1e3:.0f} ms", "—"),
        ("counts held by the widget", "—", f"{w.counts.nbytes() / 1e6:.1f} MB"),
        ("a dense (E, K, K) int64 stack, for scale", "—", f"{E * K * K * 8 / 1e9:.0f} GB"),
        ("sklearn confusion_matrix, ONE epoch", f"{sk_s * 1e3:.0f} ms", f"{K * K * 8 / 1e6:.0f} MB"),
    ]
    print(table(rows, ("step", "time", "peak / held memory")))
    print(
        f"\nwire: all {E} epochs in {wire_mb:.2f} MB (the first pack {len(w._counts) / 1e6:.2f} MB, "
        f"then {len(parts)} counts replies, the largest {max(map(len, parts)) / 2**20:.2f} MiB); "
        f"goal ≤ 20 MB, no message over 2 MiB"
    )
    print(
        f"from_predictions total {total_s:.2f} s (goal ≤ 1 s); sklearn would take about "
        f"{sk_s * E:.1f} s and {E * K * K * 8 / 1e9:.0f} GB for the {E} epochs"
    )


if __name__ == "__main__":
    main()
