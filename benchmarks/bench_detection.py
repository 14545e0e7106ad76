"""Detection matching: 5,000 images × 50 ground-truth and 50 predicted boxes.

Times, per image:

- ``match_image`` (validation of the arrays, IoU matrix, greedy matching);
- ``detection_matrix`` end to end (validation of the dicts, matching, counting);
- ``detection_source`` (the widget's source, with its cell index), from numpy
  dicts and from torch tensors (a torchvision model's output format);
- re-matching one epoch at a new threshold (target: <= 100 ms per change):
  ``set_thresholds`` at an IoU threshold not seen before (the greedy matching of
  every image at once) and at a new score threshold (predictions dropped), the
  per-class figures (precision, recall, AP: a class-wise matching) at a new IoU
  threshold, and a widget's ``iou_threshold``/``score_threshold`` set end to end
  (matching, counts pack, metrics).

Scene: 20 classes; predictions are jittered copies of 90% of the ground truth
(80% with the right class) plus random false positives; scores uniform.

Run: ``.venv/bin/python benchmarks/bench_detection.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from confusion_widget import ConfusionWidget
from confusion_widget.detection import detection_source
from confusion_widget.matching import detection_matrix, match_image

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, table

N_IMAGES = 5_000
N_BOXES = 50
N_CLASSES = 20


def make_scene(n_images: int, n_boxes: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(seed)
    gt, pred = [], []
    for _ in range(n_images):
        xy = rng.uniform(0, 600, (n_boxes, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(10, 80, (n_boxes, 2))], axis=1)
        labels = rng.integers(0, N_CLASSES, n_boxes)
        found = rng.random(n_boxes) < 0.9
        p_boxes = boxes[found] + rng.normal(0, 3, (int(found.sum()), 4))
        p_boxes[:, 2:] = np.maximum(p_boxes[:, 2:], p_boxes[:, :2] + 1)
        n_fp = n_boxes - len(p_boxes)
        fp_xy = rng.uniform(0, 600, (n_fp, 2))
        p_boxes = np.concatenate([p_boxes, np.concatenate([fp_xy, fp_xy + 40], axis=1)])
        p_labels = np.concatenate([labels[found], rng.integers(0, N_CLASSES, n_fp)])
        p_labels = np.where(rng.random(n_boxes) < 0.8, p_labels, rng.integers(0, N_CLASSES, n_boxes))
        gt.append({"boxes": boxes, "labels": labels})
        pred.append({"boxes": p_boxes, "labels": p_labels, "scores": rng.random(n_boxes)})
    return gt, pred


def main() -> None:
    gt, pred = make_scene(N_IMAGES, N_BOXES)
    gt_t = [{k: torch.as_tensor(v) for k, v in d.items()} for d in gt]
    pred_t = [{k: torch.as_tensor(v) for k, v in d.items()} for d in pred]

    def match_all() -> None:
        for g, p in zip(gt, pred):
            match_image(g["boxes"], g["labels"], p["boxes"], p["labels"], p["scores"])

    steps = [
        ("match_image, each image", match_all),
        ("detection_matrix", lambda: detection_matrix(gt, pred)),
        ("detection_source (numpy)", lambda: detection_source(gt, pred)),
        ("detection_source (torch)", lambda: detection_source(gt_t, pred_t)),
    ]
    rows = []
    for name, fn in steps:
        secs = best_of(fn, repeat=2)
        rows.append((name, f"{secs:.2f}", f"{1e6 * secs / N_IMAGES:.0f}"))
    print(
        f"detection matching, {N_IMAGES:,} images × {N_BOXES} gt and {N_BOXES} predicted boxes, "
        f"{N_CLASSES} classes, best of 2\n"
    )
    print(table(rows, ("step", "total s", "µs / image")))
    rematch()
    m, k = detection_matrix(gt, pred), N_CLASSES
    print(
        f"\nmatched {int(m[:k, :k].sum()):,} pairs ({int(np.trace(m[:k, :k])):,} same class), "
        f"{int(m[k, :k].sum()):,} unmatched predictions, {int(m[:k, k].sum()):,} missed gt boxes"
    )


def rematch() -> None:
    gt, pred = make_scene(N_IMAGES, N_BOXES)
    src = detection_source(gt, pred)
    w = ConfusionWidget.from_detections(gt, pred)
    fresh = iter(np.linspace(0.2, 0.8, 1000))  # IoU thresholds never seen (no cache hit)
    scores = iter(np.linspace(0.05, 0.95, 1000))

    def new_iou() -> None:
        src.set_thresholds(iou=float(next(fresh)))

    def new_score() -> None:
        src.set_thresholds(score=float(next(scores)))

    def figures() -> None:
        src.set_thresholds(iou=float(next(fresh)))
        src.metrics(0)

    def widget_iou() -> None:
        w.iou_threshold = float(next(fresh))

    def widget_score() -> None:
        w.score_threshold = float(next(scores))

    steps = [
        ("set_thresholds(iou=new)", new_iou),
        ("set_thresholds(score=new)", new_score),
        ("new IoU + per-class P/R/AP", figures),
        ("widget.iou_threshold = new", widget_iou),
        ("widget.score_threshold = new", widget_score),
    ]
    rows = [(name, f"{1e3 * best_of(fn, repeat=5):.0f}") for name, fn in steps]
    print(
        f"\nre-matching one epoch at a new threshold, {N_IMAGES:,} images × ({N_BOXES} + {N_BOXES}) boxes, best of 5\n"
    )
    print(table(rows, ("change", "ms")))


if __name__ == "__main__":
    main()
