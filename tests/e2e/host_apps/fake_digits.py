"""Deterministic predictions on scikit-learn's digits over two epochs (no training, no
downloads), shared by the marimo app, the Voilà notebook and the tests that check them.

Epoch 0: every 5th sample is taken for the next digit, so the cells (r, r+1 mod 10)
hold samples. Epoch 1: every 7th sample is taken for the digit after next, so the
cells (r, r+2 mod 10) do instead. A cell's samples are in sample-id order.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

LABELS = [str(d) for d in range(10)]


def fake_digits() -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """``(y_true, [y_pred_epoch0, y_pred_epoch1], images)``; images are (N, 8, 8) uint8."""
    digits = load_digits()
    y_true = digits.target
    n = np.arange(len(y_true))
    y_pred = [
        np.where(n % 5 == 0, (y_true + 1) % 10, y_true),
        np.where(n % 7 == 0, (y_true + 2) % 10, y_true),
    ]
    images = (digits.images * 15).astype(np.uint8)
    return y_true, y_pred, images


def cell_samples(epoch: int, row: int, col: int) -> list[int]:
    """Sample ids of true class ``row`` predicted as ``col`` at ``epoch``."""
    y_true, y_pred, _ = fake_digits()
    return np.flatnonzero((y_true == row) & (y_pred[epoch] == col)).tolist()
