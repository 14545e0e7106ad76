"""Finding wrong labels from training dynamics, against cleanlab (same run).

sklearn's digits; 10 % of the training labels flipped to another class at random
(fixed seed); the demo CNN trained 15 epochs on the noisy labels, its predictions on
the *training* set recorded every epoch with a ConfusionRecorder. For k = the number of
flipped labels, precision and recall at k of: ``suspects``; AUM alone (lowest first);
cartography's hard-to-learn region (lowest confidence first among low variability);
forgetting events (most first). The peer: cleanlab's ``find_label_issues`` on
out-of-sample probabilities from 5-fold cross-validation of the same model (5 more
trainings), ranked by self-confidence. Also the time of all signals for
N = 100,000 × 50 epochs.

Run: ``.venv/bin/python benchmarks/bench_dynamics.py`` (needs cleanlab: it is in the
``dev`` extra).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, table

EPOCHS = 15
NOISE = 0.10


def noisy_digits(seed: int = 0):
    from confusion_widget.demo import load_digits_split

    split = load_digits_split(seed=seed)
    rng = np.random.default_rng(seed)
    y = split.y_train.copy()
    flipped = rng.random(len(y)) < NOISE
    y[flipped] = (y[flipped] + rng.integers(1, 10, int(flipped.sum()))) % 10  # another class
    return split.x_train, y, flipped


def train(x, y, epochs=EPOCHS, seed=0, record=None):
    import torch

    from confusion_widget.demo import DigitsCNN, predict, train_epoch

    model = DigitsCNN(seed=seed)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(epochs):
        train_epoch(model, opt, x, y)
        if record is not None:
            record(predict(model, x))
    return model


def at_k(ranked: np.ndarray, flipped: np.ndarray, k: int) -> tuple[float, float]:
    hits = int(flipped[ranked[:k]].sum())
    return hits / k, hits / int(flipped.sum())


def main() -> dict[str, float]:
    from confusion_widget import ConfusionRecorder

    x, y, flipped = noisy_digits()
    k = int(flipped.sum())
    rec = ConfusionRecorder(10)
    t0 = time.perf_counter()

    def record(logits):
        rec.update(logits, y, sample_ids=np.arange(len(y)))
        rec.end_epoch()

    train(x, y, record=record)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    t = rec.run.dynamics()
    sus = rec.run.suspects(k)
    t_signals = time.perf_counter() - t0
    ranked = {
        "suspects": np.asarray(sus["sample_id"]),
        "AUM alone (lowest first)": np.argsort(t["aum"], kind="stable"),
        "hard-to-learn (low confidence, low variability)": np.lexsort(
            (t["confidence"], t["region"] != "hard")
        ),
        "forgetting events (most first)": np.argsort(-t["forgetting_events"], kind="stable"),
    }
    rows = []
    for name, order in ranked.items():
        p, r = at_k(order, flipped, k)
        rows.append((name, f"{p:.2f}", f"{r:.2f}", f"{t_train + t_signals:.1f} (one training)"))
    try:
        from cleanlab.filter import find_label_issues
        from sklearn.model_selection import StratifiedKFold

        from confusion_widget.demo import predict

        t0 = time.perf_counter()
        probs = np.zeros((len(y), 10))
        for fold, (tr, te) in enumerate(StratifiedKFold(5, shuffle=True, random_state=0).split(x, y)):
            model = train(x[tr], y[tr], seed=fold)
            logits = predict(model, x[te])
            e = np.exp(logits - logits.max(1, keepdims=True))
            probs[te] = e / e.sum(1, keepdims=True)
        issues = find_label_issues(y, probs, return_indices_ranked_by="self_confidence")
        t_cl = time.perf_counter() - t0
        order = np.concatenate([issues, np.setdiff1d(np.arange(len(y)), issues)])
        p, r = at_k(order, flipped, k)
        rows.append(
            ("cleanlab find_label_issues (5-fold CV)", f"{p:.2f}", f"{r:.2f}", f"{t_cl:.1f} (5 trainings)")
        )
    except ImportError:
        rows.append(("cleanlab (not installed: pip install cleanlab)", "—", "—", "—"))
    print(
        f"Wrong labels: digits, {len(y)} training samples, {k} flipped ({NOISE:.0%}), {EPOCHS} epochs, k = {k}"
    )
    print(table(rows, ("ranking", "precision@k", "recall@k", "seconds")))

    # all signals at scale
    rng = np.random.default_rng(0)
    e, n = 50, 100_000
    y_true = rng.integers(0, 10, n)
    logits = [
        rng.normal(size=(n, 10)).astype(np.float32) + 3 * np.eye(10, dtype=np.float32)[y_true]
        for _ in range(e)
    ]
    from confusion_widget import Run

    big = Run.from_predictions(y_true, logits)
    t_all = best_of(lambda: (big.dynamics(), big.suspects(50)), repeat=3)
    print(
        f"\nAll signals (dynamics + suspects), N = {n:,} × {e} epochs: {t_all * 1e3:.0f} ms (goal ≤ 200 ms)"
    )
    return {"suspects_recall": float(rows[0][2]), "signals_ms": t_all * 1e3}


if __name__ == "__main__":
    main()
