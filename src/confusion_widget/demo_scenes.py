"""Small, deterministic demo data built from sklearn's digits (shipped with
scikit-learn, no download): a multi-label task and an object-detection task, each
with a simulated, noisy but mostly right model.

The simulated model reads a digit right with probability 0.85 and otherwise takes
it for a look-alike (1→7, 3→8, 4→9, …), so the off-diagonal cells show plausible
confusions. scikit-learn is needed only here (``pip install scikit-learn``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["LOOK_ALIKE", "detection_digits", "multilabel_digits"]

#: The digit a misreading of each digit produces.
LOOK_ALIKE = np.array([6, 7, 7, 8, 9, 6, 5, 1, 3, 4])
_P_RIGHT = 0.85


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 1,797 digits as uint8 ``(n, 8, 8)`` images (0–255) and labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)
    return images, d.target.astype(np.int64)


def _read(rng: np.random.Generator, digits: np.ndarray) -> np.ndarray:
    """What the simulated model reads for each true digit."""
    right = rng.random(digits.shape) < _P_RIGHT
    return np.where(right, digits, LOOK_ALIKE[digits])


def multilabel_digits(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two digit slots side by side; the labels are the digits present.

    Each slot holds a digit with probability 0.85 and is blank otherwise, so a
    sample has two, one (a blank slot or the same digit twice) or no labels.

    Parameters
    ----------
    n
        Number of samples.
    seed
        Seed of the generator; the same seed gives the same data.

    Returns
    -------
    images
        ``(n, 8, 16)`` uint8.
    y_true
        ``(n, 10)`` int64 0/1 label indicators.
    scores
        ``(n, 10)`` float32 probabilities of a simulated model: a digit it reads
        scores Beta(6, 2) (mostly above 0.5), every other label Beta(1, 12).

    Examples
    --------
    >>> images, y_true, scores = multilabel_digits(20, seed=1)
    >>> images.shape, y_true.shape, scores.shape
    ((20, 8, 16), (20, 10), (20, 10))
    """
    rng = np.random.default_rng(seed)
    pool, targets = _digits()
    pick = rng.integers(0, len(pool), (n, 2))
    present = rng.random((n, 2)) < 0.85
    slots = np.where(present[..., None, None], pool[pick], 0).astype(np.uint8)
    images = np.concatenate([slots[:, 0], slots[:, 1]], axis=2)
    rows = np.repeat(np.arange(n), 2)[present.ravel()]
    digits = targets[pick][present]
    y_true = np.zeros((n, 10), dtype=np.int64)
    y_true[rows, digits] = 1
    scores = rng.beta(1, 12, (n, 10))
    np.maximum.at(scores, (rows, _read(rng, digits)), rng.beta(6, 2, len(rows)))
    return images, y_true, scores.astype(np.float32)


def detection_digits(
    n_images: int = 200, seed: int = 0, size: int = 96
) -> tuple[np.ndarray, list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """Digits pasted on a canvas as a detection scene, with simulated detections.

    Each image holds 1–4 non-overlapping digits, enlarged 2× or 3× (16 or 24 px).
    The simulated detector finds a digit with probability 0.9 (box corners
    jittered by about 1.5 px, class read as in :data:`LOOK_ALIKE`, score
    Beta(8, 2)), adds a looser duplicate box for 8% of them (score Beta(3, 4)),
    and about 0.3 false positives per image on empty canvas (score Beta(2, 5)).

    Parameters
    ----------
    n_images
        Number of images.
    seed
        Seed of the generator; the same seed gives the same data.
    size
        Canvas side in pixels (at least 48).

    Returns
    -------
    images
        ``(n_images, size, size)`` uint8.
    gt
        One dict per image: ``"boxes"`` ``(n, 4)`` float32 xyxy, ``"labels"``
        ``(n,)`` int64 — torchvision's detection format.
    pred
        The same plus ``"scores"`` ``(m,)`` float32.

    Examples
    --------
    >>> images, gt, pred = detection_digits(3, seed=0)
    >>> images.shape, sorted(pred[0])
    ((3, 96, 96), ['boxes', 'labels', 'scores'])
    """
    if size < 48:
        raise ValueError(f"size must be at least 48 pixels, got {size}.")
    rng = np.random.default_rng(seed)
    pool, targets = _digits()
    images = np.zeros((n_images, size, size), dtype=np.uint8)
    gt, pred = [], []
    for i in range(n_images):
        boxes, labels = [], []
        for _ in range(int(rng.integers(1, 5))):
            side = 8 * int(rng.integers(2, 4))
            for _attempt in range(20):  # rejection sampling of a free spot
                x, y = (int(v) for v in rng.integers(0, size - side + 1, 2))
                box = np.array([x, y, x + side, y + side], dtype=np.float32)
                if all(_overlap(box, b) == 0 for b in boxes):
                    j = int(rng.integers(0, len(pool)))
                    f = side // 8
                    images[i, y : y + side, x : x + side] = np.kron(pool[j], np.ones((f, f), np.uint8))
                    boxes.append(box)
                    labels.append(int(targets[j]))
                    break
        g_boxes = np.array(boxes, dtype=np.float32).reshape(-1, 4)
        g_labels = np.array(labels, dtype=np.int64)
        gt.append({"boxes": g_boxes, "labels": g_labels})
        pred.append(_detect(rng, g_boxes, g_labels, size))
    return images, gt, pred


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection area of two xyxy boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def _jitter(rng: np.random.Generator, boxes: np.ndarray, sigma: float, size: int) -> np.ndarray:
    out = np.clip(boxes + rng.normal(0, sigma, boxes.shape), 0, size)
    out[:, 2:] = np.maximum(out[:, 2:], out[:, :2] + 1)  # keep x1 > x0, y1 > y0
    return out


def _detect(
    rng: np.random.Generator, boxes: np.ndarray, labels: np.ndarray, size: int
) -> dict[str, np.ndarray]:
    """A simulated detector's output for one image."""
    found = rng.random(len(boxes)) < 0.9
    dup = found & (rng.random(len(boxes)) < 0.08)
    n_fp = int(rng.poisson(0.3))
    fp_xy = rng.uniform(0, size - 16, (n_fp, 2))
    out_boxes = np.concatenate(
        [
            _jitter(rng, boxes[found], 1.5, size),
            _jitter(rng, boxes[dup], 3.0, size),
            np.concatenate([fp_xy, fp_xy + 16], axis=1),
        ]
    )
    out_labels = np.concatenate(
        [
            _read(rng, labels[found]),
            labels[dup],
            rng.integers(0, 10, n_fp),
        ]
    )
    scores = np.concatenate(
        [
            rng.beta(8, 2, int(found.sum())),
            rng.beta(3, 4, int(dup.sum())),
            rng.beta(2, 5, n_fp),
        ]
    )
    return {
        "boxes": out_boxes.astype(np.float32),
        "labels": out_labels.astype(np.int64),
        "scores": scores.astype(np.float32),
    }
