"""Demo data and a tiny model for the notebooks and the end-to-end tests.

sklearn's ``load_digits`` (1,797 8×8 greyscale digits) ships inside scikit-learn, so
the demo needs no download; a two-conv-layer CNN reaches >90 % validation accuracy
in a few epochs on two CPU cores. torch and sklearn are imported inside the
functions: this module is optional and not imported by ``confusion_widget``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DigitsCNN", "DigitsSplit", "load_digits_split", "predict", "train_epoch"]


@dataclass
class DigitsSplit:
    """A train/validation split of the sklearn digits.

    Attributes
    ----------
    x_train, x_val
        ``(N, 1, 8, 8)`` float32 images scaled to [0, 1] (model input).
    y_train, y_val
        ``(N,)`` int64 class ids 0–9.
    images_train, images_val
        ``(N, 8, 8)`` uint8 images (0–255) for display.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    images_train: np.ndarray
    images_val: np.ndarray


def load_digits_split(test_size: float = 0.3, seed: int = 0) -> DigitsSplit:
    """Load sklearn's digits and split them, stratified by class.

    Parameters
    ----------
    test_size
        Fraction of the 1,797 images held out for validation.
    seed
        Seed of the split.

    Returns
    -------
    DigitsSplit
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = digits.images.astype(np.float32) / 16.0  # raw values are 0–16
    y = digits.target.astype(np.int64)
    tr, va = train_test_split(np.arange(len(y)), test_size=test_size, random_state=seed, stratify=y)
    uint8 = np.round(pixels * 255).astype(np.uint8)
    return DigitsSplit(
        x_train=pixels[tr, None],
        y_train=y[tr],
        x_val=pixels[va, None],
        y_val=y[va],
        images_train=uint8[tr],
        images_val=uint8[va],
    )


def _torch():
    import torch

    # Small per-batch work: torch's default threads stall when the other core is
    # busy (see DESIGN.md); one thread is faster and deterministic here.
    torch.set_num_threads(1)
    return torch


def DigitsCNN(seed: int = 0) -> Any:
    """A small CNN for 8×8 digits: two 3×3 conv layers, global pooling, a linear head.

    Parameters
    ----------
    seed
        Seed of the weight initialisation (and of the torch RNG used later by
        :func:`train_epoch` for shuffling).

    Returns
    -------
    torch.nn.Module
        Maps ``(B, 1, 8, 8)`` float images to ``(B, 10)`` logits.
    """
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 8×8 → 4×4
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


def train_epoch(model: Any, opt: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 64) -> float:
    """One pass over ``(x, y)`` in shuffled mini-batches.

    Parameters
    ----------
    model
        The torch module.
    opt
        Its optimiser, e.g. ``torch.optim.Adam(model.parameters(), 1e-2)``.
    x, y
        ``(N, 1, 8, 8)`` float32 images and ``(N,)`` int64 labels (numpy or torch).
    batch_size
        Mini-batch size.

    Returns
    -------
    float
        Mean training loss of the epoch.
    """
    torch = _torch()
    x = torch.as_tensor(x)
    y = torch.as_tensor(y)
    model.train()
    order = torch.randperm(len(y))
    total = 0.0
    for start in range(0, len(y), batch_size):
        idx = order[start : start + batch_size]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    return total / len(y)


def predict(model: Any, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Logits of ``model`` on ``x``.

    Parameters
    ----------
    model
        The torch module.
    x
        ``(N, 1, 8, 8)`` float32 images (numpy or torch).
    batch_size
        Inference batch size.

    Returns
    -------
    numpy.ndarray
        ``(N, 10)`` float32 logits.
    """
    torch = _torch()
    x = torch.as_tensor(x)
    model.eval()
    with torch.no_grad():
        out = [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()
