"""Detection over several epochs and at thresholds that change: hand-worked epochs,
re-matching equal to a fresh computation at every threshold, the widget's
``score_threshold``/``iou_threshold``, per-class figures against pycocotools, bad
input naming the image and the field."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from confusion_widget import ConfusionWidget
from confusion_widget.detection import BACKGROUND, DEFAULT_IOU, DEFAULT_SCORE, detection_source
from confusion_widget.matching import _Entries, _images, detection_matrix
from confusion_widget.traits import OptionError

SQ = [0.0, 0.0, 10.0, 10.0]
B2 = [20.0, 20.0, 30.0, 30.0]
EMPTY_PRED = {"boxes": [], "labels": [], "scores": []}

# Two images; classes a (0) and b (1).
GT = [
    {"boxes": [SQ, B2], "labels": [0, 1]},
    {"boxes": [SQ], "labels": [1]},
]
EPOCH0 = [
    {"boxes": [SQ, B2], "labels": [0, 1], "scores": [0.9, 0.8]},
    {"boxes": [SQ], "labels": [1], "scores": [0.7]},
]
EPOCH1 = [  # image 0: both classes swapped; image 1: no predictions at all
    {"boxes": [SQ, [20.0, 20.0, 30.0, 27.0]], "labels": [1, 0], "scores": [0.6, 0.3]},
    EMPTY_PRED,
]


def _scene(rng: np.random.Generator, n_images: int, k: int = 4) -> tuple[list[dict], list[dict]]:
    gt, pred = [], []
    for _ in range(n_images):
        n = int(rng.integers(0, 7))
        xy = rng.uniform(0, 60, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (n, 2))], axis=1)
        gt.append({"boxes": boxes, "labels": rng.integers(0, k, n)})
        m = int(rng.integers(0, 9))
        src = boxes[rng.integers(0, n, m)] if n else rng.uniform(0, 60, (m, 4))
        p = src + rng.normal(0, 4, (m, 4))
        p = np.concatenate([np.minimum(p[:, :2], p[:, 2:]), np.maximum(p[:, :2], p[:, 2:])], axis=1)
        pred.append({"boxes": p, "labels": rng.integers(0, k, m), "scores": rng.random(m).round(2)})
    return gt, pred


# -- hand-worked epochs ----------------------------------------------------------------------------
def test_two_epochs_by_hand() -> None:
    src = detection_source(GT, [EPOCH0, EPOCH1], labels=["a", "b"], epoch_labels=["e0", "e1"])
    assert src.n_epochs == 2 and src.epoch_labels == ["e0", "e1"]
    m = src.matrices()[:, 0]
    assert m[0].tolist() == [[1, 0, 0], [0, 2, 0], [0, 0, 0]]
    # epoch 1: a→b and b→a swaps on image 0, image 1's b box missed
    assert m[1].tolist() == [[0, 1, 0], [1, 0, 1], [0, 0, 0]]
    hits = src.cell(1, 0, 1, 2)  # the missed b box
    assert hits.positions.tolist() == [1] and np.isnan(hits.confidence[0])
    assert src.image_boxes(1, 1) == [{"kind": "gt", "xyxy": SQ, "label": "b"}]
    assert [b["kind"] for b in src.image_boxes(1, 0)] == ["gt", "pred"]
    src.set_thresholds(score=0.5)  # drops the 0.3 prediction: b's box on image 0 is missed
    assert src.matrices()[1, 0].tolist() == [[0, 1, 0], [0, 0, 2], [0, 0, 0]]
    assert src.matrices()[0, 0].tolist() == m[0].tolist()
    src.set_thresholds(iou=0.8)  # the 0.7-IoU box no longer matches (and is below the score anyway)
    assert src.matrices()[1, 0].tolist() == [[0, 1, 0], [0, 0, 2], [0, 0, 0]]
    src.set_thresholds(score=0.0)
    assert src.matrices()[1, 0].tolist() == [[0, 1, 0], [0, 0, 2], [1, 0, 0]]  # now a false positive


def test_ground_truth_per_epoch_and_image_ids_per_epoch() -> None:
    gt1 = [GT[1]]
    pred1 = [{"boxes": [SQ], "labels": [1], "scores": [0.5]}]
    src = detection_source([GT, gt1], [EPOCH0, pred1], labels=["a", "b"], sample_ids=[["x", "y"], ["y"]])
    assert src.sample_ids().tolist() == ["x", "y"]
    assert src.matrices()[1, 0].tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert src.cell(1, 0, 1, 1).positions.tolist() == [1]  # image "y"
    assert src.image_boxes(0, 1) == []  # "x" is not in epoch 1
    with pytest.raises(ValueError, match=r"pred\[1\] has 1 images but pred\[0\] has 2.*sample_ids"):
        detection_source([GT, gt1], [EPOCH0, pred1])
    with pytest.raises(ValueError, match="gt must be one list per epoch"):
        detection_source(GT, [EPOCH0, EPOCH1], sample_ids=[[0, 1], [0, 1]])


# -- re-matching equals a fresh computation -----------------------------------------------------------
@pytest.mark.parametrize("class_wise", [False, True])
def test_any_threshold_change_equals_a_fresh_computation(class_wise: bool) -> None:
    rng = np.random.default_rng(7)
    gt, pred0 = _scene(rng, 80)
    _, pred1 = _scene(rng, 80)
    labels = list("abcd")
    src = detection_source(gt, [pred0, pred1], labels=labels, class_wise=class_wise)
    for score, iou in [(0.3, 0.5), (0.3, 0.1), (0.0, 0.9), (0.55, 0.35), (0.0, 0.5), (1.0, 1.0), (0.2, 0.05)]:
        src.set_thresholds(score=score, iou=iou)
        for e, pred in enumerate([pred0, pred1]):
            fresh = detection_source(gt, pred, labels=labels, iou=iou, score=score, class_wise=class_wise)
            ref = detection_matrix(gt, pred, num_classes=4, iou=iou, score=score, class_wise=class_wise)
            np.testing.assert_array_equal(src.matrices()[e, 0], ref)
            # the reference matcher, image by image, gives the same outcomes
            gts, preds = _images(gt, pred, "xyxy")
            entries = _Entries(gts, preds, 4, iou, score, class_wise)
            got = src.entries(e)
            assert sorted(zip(got.image, got.gt, got.pred)) == sorted(
                zip(entries.image, entries.gt, entries.pred)
            )
            for row, col in [(0, 0), (1, 2), (4, 0), (3, 4)]:
                a, b = src.cell(e, 0, row, col), fresh.cell(0, 0, row, col)
                assert a.positions.tolist() == b.positions.tolist()
                np.testing.assert_array_equal(a.confidence, b.confidence)


def test_unchanged_thresholds_do_not_notify() -> None:
    src = detection_source(GT, [EPOCH0, EPOCH1])
    calls = []
    src.subscribe(lambda: calls.append(1))
    src.set_thresholds(score=DEFAULT_SCORE, iou=DEFAULT_IOU)
    assert calls == []
    src.set_thresholds(score=0.5)
    assert calls == [1]


# -- the widget ---------------------------------------------------------------------------------------
def test_widget_thresholds_follow_and_drive_the_matrix() -> None:
    w = ConfusionWidget.from_detections(GT, [EPOCH0, EPOCH1], labels=["a", "b"])
    assert (w.score_threshold, w.iou_threshold) == (DEFAULT_SCORE, DEFAULT_IOU)
    assert w.n_epochs == 2 and w.epoch == 1 and w.labels[-1] == BACKGROUND
    w.selected = (1, 2)
    assert w.selected_samples == [1]
    revision = w._revision
    w.score_threshold = 0.5
    assert w._revision == revision + 1
    assert w.matrix.tolist() == [[0, 1, 0], [0, 0, 2], [0, 0, 0]]
    assert w.selected_samples == [0, 1]  # image 0's b box is now missed too
    assert w.source.score == 0.5
    w.iou_threshold = 0.2
    assert w.source.iou == 0.2
    w2 = ConfusionWidget.from_detections(GT, [EPOCH0, EPOCH1], labels=["a", "b"], score=0.5, iou=0.3)
    assert (w2.score_threshold, w2.iou_threshold) == (0.5, 0.3)
    w3 = ConfusionWidget.from_detections(GT, [EPOCH0, EPOCH1], labels=["a", "b"], score_threshold=0.5)
    assert w3.matrix.tolist() == w.matrix.tolist() and w3.score_threshold == 0.5


def test_widget_threshold_ranges_and_other_widgets() -> None:
    w = ConfusionWidget.from_detections(GT, [EPOCH0, EPOCH1])
    for name, bad in [("score_threshold", 1.5), ("score_threshold", -0.1), ("iou_threshold", 0.0)]:
        with pytest.raises(OptionError, match=name):
            setattr(w, name, bad)
    with pytest.raises(OptionError, match="must be a number on a detection widget"):
        w.score_threshold = None
    w.set_state({"score_threshold": 2.0})  # from the frontend: rolled back, not raised
    assert w.score_threshold == DEFAULT_SCORE
    plain = ConfusionWidget(np.eye(2, dtype=int))
    assert plain.score_threshold is None and plain.iou_threshold is None
    with pytest.raises(OptionError, match="applies to detection widgets"):
        plain.iou_threshold = 0.5
    with pytest.raises(OptionError, match="applies to detection widgets"):
        ConfusionWidget(np.eye(2, dtype=int), score_threshold=0.3)
    with pytest.raises(ValueError, match=r"score must be in \[0, 1\]"):
        detection_source(GT, EPOCH0, score=1.5)
    with pytest.raises(ValueError, match=r"iou must be in \(0, 1\]"):
        w.source.set_thresholds(iou=0.0)


# -- per-class figures against pycocotools ---------------------------------------------------------
def _coco_figures(gt: list[dict], pred: list[dict], k: int, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-class AP and recall at one IoU threshold, by pycocotools."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b: np.ndarray) -> list[float]:
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    images, anns, dets = [], [], []
    for i, (g, p) in enumerate(zip(gt, pred)):
        images.append({"id": i})
        for b, lab in zip(np.asarray(g["boxes"], float).reshape(-1, 4), g["labels"]):
            w = xywh(b)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": int(lab),
                    "bbox": w,
                    "area": w[2] * w[3],
                    "iscrowd": 0,
                }
            )
        for b, lab, s in zip(np.asarray(p["boxes"], float).reshape(-1, 4), p["labels"], p["scores"]):
            dets.append({"image_id": i, "category_id": int(lab), "bbox": xywh(b), "score": float(s)})
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": anns, "categories": [{"id": j} for j in range(k)]}
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        ev.params.iouThrs = np.array([iou])
        ev.params.catIds = list(range(k))
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"][0, :, :, 0, -1]  # recall thresholds × classes, all areas, 100 dets
    ap = np.where((prec > -1).any(axis=0), np.where(prec > -1, prec, 0.0).mean(axis=0), np.nan)
    rec = ev.eval["recall"][0, :, 0, -1]
    return ap, np.where(rec > -1, rec, np.nan)


def test_per_class_ap_precision_recall_against_pycocotools() -> None:
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(3)
    gt, pred = _scene(rng, 120, k=5)
    gt[0] = {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}
    labels = list("abcde")
    src = detection_source(gt, [pred, pred], labels=labels)
    for iou, score in [(0.5, 0.0), (0.3, 0.0), (0.75, 0.0), (0.5, 0.4)]:
        src.set_thresholds(iou=iou, score=score)
        kept = [{k: np.asarray(v)[np.asarray(p["scores"]) >= score] for k, v in p.items()} for p in pred]
        ap_ref, rec_ref = _coco_figures(gt, kept, 5, iou)
        rows = src.metrics(1)
        assert [r["label"] for r in rows] == labels
        ap = np.array([np.nan if r["ap"] is None else r["ap"] for r in rows])
        np.testing.assert_allclose(ap, ap_ref, atol=1e-12)
        np.testing.assert_allclose(
            [r["recall"] for r in rows], np.nan_to_num(rec_ref), atol=1e-6
        )  # rounded to 6 decimals
        # precision: class-wise matches / predictions of the class, counted directly
        cw = detection_matrix(gt, kept, num_classes=5, iou=iou, class_wise=True)
        with np.errstate(invalid="ignore"):
            expected = np.nan_to_num(np.diag(cw)[:5] / cw[:, :5].sum(axis=0))
        np.testing.assert_allclose([r["precision"] for r in rows], expected, atol=1e-6)
        assert [r["support"] for r in rows] == np.bincount(
            np.concatenate([g["labels"] for g in gt]), minlength=5
        ).tolist()


def test_ap_of_a_class_without_ground_truth_is_none() -> None:
    pred = [{"boxes": [SQ, B2], "labels": [0, 2], "scores": [0.9, 0.5]}, EMPTY_PRED]
    rows = detection_source(GT, pred, labels=["a", "b", "c"]).metrics(0)
    assert rows[2]["ap"] is None and rows[2]["support"] == 0
    assert rows[0]["ap"] == pytest.approx(1.0) and rows[1]["ap"] == 0.0


# -- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pred", "kwargs", "match"),
    [
        (
            [EPOCH0, [EPOCH1[0], {"boxes": [SQ], "labels": [0], "scores": [float("nan")]}]],
            {},
            r"pred\[1\]\[1\]\['scores'\] contains NaN",
        ),
        (
            [EPOCH0, [{"boxes": [[5, 0, 1, 10]], "labels": [0], "scores": [0.5]}, EMPTY_PRED]],
            {},
            r"pred\[1\]\[0\]\['boxes'\]\[0\].*x1 < x0",
        ),
        (
            [EPOCH0, [{"boxes": [SQ], "labels": [4], "scores": [0.5]}, EMPTY_PRED]],
            {"labels": ["a", "b"]},
            r"epoch 1: pred\[0\]\['labels'\] contains class 4",
        ),
        ([EPOCH0, [EMPTY_PRED]], {}, r"gt has 2 images but pred\[1\] has 1"),
    ],
)
def test_bad_epochs_name_the_image_and_the_field(pred, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        detection_source(GT, pred, **kwargs)


# -- comparisons and differences of detection runs ---------------------------------------------------
def test_difference_lists_the_boxes_that_moved() -> None:
    src = detection_source(GT, [EPOCH0, EPOCH1], labels=["a", "b"])
    w = ConfusionWidget.difference(src)
    assert w.tile_titles == ["previous epoch", "this epoch", "this epoch − previous epoch"]
    m = w.matrices  # (E, T, K+1, K+1)
    np.testing.assert_array_equal(m[1, 2], src.matrices()[1, 0] - src.matrices()[0, 0])
    # image 0's "a" box: matched as a at epoch 0, as b at epoch 1
    hits = w.source.cell(1, 2, 0, 1)
    assert hits.positions.tolist() == [0]
    assert hits.extra[0]["change"] == "entered"
    assert hits.extra[0]["caption"] == "entered · previous epoch: a → this epoch: b"
    assert [b["kind"] for b in hits.extra[0]["boxes"]] == ["gt", "pred"]
    left = w.source.cell(1, 2, 0, 0)
    assert left.positions.tolist() == [0] and left.extra[0]["change"] == "left"
    # image 1's "b" box: matched at epoch 0, missed at epoch 1 (no predictions at all)
    missed = w.source.cell(1, 2, 1, 2)
    assert missed.positions.tolist() == [1] and missed.extra[0]["caption"].endswith("this epoch: background")
    w.epoch, w.selected_tile, w.selected = 1, 2, (1, 1)
    assert sorted(w.selected_samples) == [0, 1]  # both b boxes left (b, b)
    d = ConfusionWidget.difference(src, epochs=(0, 1))
    assert d.n_epochs == 1 and d.matrix[2].tolist() == m[1, 2].tolist()


def test_entered_minus_left_is_the_difference_in_every_cell() -> None:
    rng = np.random.default_rng(11)
    gt, pred0 = _scene(rng, 60)
    _, pred1 = _scene(rng, 60)
    src = detection_source(gt, [pred0, pred1], labels=list("abcd"), score=0.2)
    diff = ConfusionWidget.difference(src).source
    for score, iou in [(0.2, 0.5), (0.0, 0.3)]:
        diff.set_thresholds(score=score, iou=iou)
        d = diff.matrices()[1, 2]
        np.testing.assert_array_equal(d, src.matrices()[1, 0] - src.matrices()[0, 0])
        for r in range(5):
            for c in range(5):
                hits = diff.cell(1, 2, r, c)
                changes = [x["change"] for x in hits.extra]
                assert changes.count("entered") - changes.count("left") == d[r, c]


def test_compare_detection_widgets_shares_the_thresholds() -> None:
    a = ConfusionWidget.from_detections(GT, EPOCH0, labels=["a", "b"])
    b = ConfusionWidget.from_detections(GT, [EPOCH0, EPOCH1], labels=["a", "b"])
    w = ConfusionWidget.compare({"A": a, "B": b}, diff=True)
    assert w.tile_titles == ["A", "B", "B − A"] and w.n_epochs == 2
    assert (w.score_threshold, w.iou_threshold) == (DEFAULT_SCORE, DEFAULT_IOU)
    w.score_threshold = 0.5
    assert a.source.score == b.source.score == 0.5
    fresh = [detection_source(GT, p, labels=["a", "b"], score=0.5).matrices()[0, 0] for p in (EPOCH0, EPOCH1)]
    np.testing.assert_array_equal(w.matrix[0], fresh[0])  # A has one epoch: shown at every slider epoch
    np.testing.assert_array_equal(w.matrix[1], fresh[1])
    np.testing.assert_array_equal(w.matrix[2], fresh[1] - fresh[0])
    with pytest.raises(ValueError, match="other images"):
        ConfusionWidget.compare(
            {"A": a, "C": ConfusionWidget.from_detections(GT[:1], EPOCH0[:1], labels=["a", "b"])}
        )
