"""Detection confusion: IoU, greedy matching case by case and against a plain
reference, the (K+1)×(K+1) matrix, cells with boxes, inputs, the widget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from confusion_widget import ConfusionWidget
from confusion_widget.detection import BACKGROUND, detection_source
from confusion_widget.matching import box_iou, detection_matrix, match_image
from confusion_widget.wire import answer

SQ = [0.0, 0.0, 10.0, 10.0]  # a 10×10 box at the origin


def _iou_direct(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _random_boxes(rng: np.random.Generator, n: int, size: float = 100.0) -> np.ndarray:
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(0, size / 3, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def _corners(b: np.ndarray) -> np.ndarray:
    """Order each box's corners so that x0 <= x1 and y0 <= y1."""
    return np.concatenate([np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])], axis=1)


def _reference_match(gb, gl, pb, pl, ps, iou, score, class_wise):
    """Greedy matching written out with Python loops, for comparison."""
    preds = sorted((i for i in range(len(pb)) if ps[i] >= score), key=lambda i: (-ps[i], i))
    taken, out = set(), []
    for p in preds:
        best, best_iou = -1, -1.0
        for g in range(len(gb)):
            if g in taken or (class_wise and gl[g] != pl[p]):
                continue
            v = _iou_direct(gb[g], pb[p])
            if v >= iou and v > best_iou:
                best, best_iou = g, v
        if best >= 0:
            taken.add(best)
        out.append((best, p))
    return out + [(g, -1) for g in range(len(gb)) if g not in taken]


# -- IoU ------------------------------------------------------------------------------------
def test_box_iou_equals_direct_computation() -> None:
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 30), _random_boxes(rng, 20)
    got = box_iou(a, b)
    assert got.shape == (30, 20)
    expected = [[_iou_direct(x, y) for y in b] for x in a]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_box_iou_edge_cases() -> None:
    assert box_iou([SQ], [SQ]).tolist() == [[1.0]]
    assert box_iou([SQ], [[10, 10, 20, 20]]).tolist() == [[0.0]]  # touching corners
    assert box_iou([[5, 5, 5, 5]], [[5, 5, 5, 5]]).tolist() == [[0.0]]  # zero area
    assert box_iou(np.zeros((0, 4)), [SQ]).shape == (0, 1)
    assert box_iou([SQ], [[0, 0, 5, 10]]).tolist() == [[0.5]]


# -- matching case by case -----------------------------------------------------------------
def test_perfect_match() -> None:
    assert match_image([SQ], [2], [SQ], [2], [0.9]) == [(0, 0)]


def test_duplicate_prediction_becomes_background_fp() -> None:
    pairs = match_image([SQ], [1], [SQ, [0, 0, 10, 9]], [1, 1], [0.7, 0.8])
    assert pairs == [(0, 1), (-1, 0)]  # the higher score wins, the other is unmatched
    m = detection_matrix(
        [{"boxes": [SQ], "labels": [1]}],
        [{"boxes": [SQ, [0, 0, 10, 9]], "labels": [1, 1], "scores": [0.7, 0.8]}],
    )
    assert m.tolist() == [[0, 0, 0], [0, 1, 0], [0, 1, 0]]


def test_below_score_threshold_is_ignored() -> None:
    pairs = match_image([SQ], [0], [SQ, [50, 50, 60, 60]], [0, 0], [0.2, 0.1], score=0.3)
    assert pairs == [(0, -1)]
    assert match_image([SQ], [0], [SQ], [0], [0.3], score=0.3) == [(0, 0)]  # inclusive


def test_below_iou_threshold_gives_a_miss_and_a_false_positive() -> None:
    pred = [[0, 0, 10, 4.9]]  # IoU 0.49
    assert match_image([SQ], [0], pred, [0], [0.9], iou=0.5) == [(-1, 0), (0, -1)]
    assert match_image([SQ], [0], [[0, 0, 10, 5]], [0], [0.9], iou=0.5) == [(0, 0)]  # inclusive
    m = detection_matrix([{"boxes": [SQ], "labels": [0]}], [{"boxes": pred, "labels": [0], "scores": [0.9]}])
    assert m.tolist() == [[0, 1], [1, 0]]


def test_empty_images() -> None:
    assert match_image([], [], [], [], []) == []
    assert match_image([SQ, [20, 20, 30, 30]], [0, 1], [], [], []) == [(0, -1), (1, -1)]
    assert match_image([], [], [SQ], [1], [0.5]) == [(-1, 0)]
    gt = [{"boxes": [SQ], "labels": [1]}, {"boxes": [], "labels": []}, {"boxes": [], "labels": []}]
    pred = [
        {"boxes": [], "labels": [], "scores": []},
        {"boxes": [SQ], "labels": [0], "scores": [0.4]},
        {"boxes": [], "labels": [], "scores": []},
    ]
    assert detection_matrix(gt, pred).tolist() == [[0, 0, 0], [0, 0, 1], [1, 0, 0]]


def test_class_confusion_is_off_diagonal() -> None:
    assert match_image([SQ], [1], [SQ], [2], [0.9]) == [(0, 0)]
    m = detection_matrix([{"boxes": [SQ], "labels": [1]}], [{"boxes": [SQ], "labels": [2], "scores": [0.9]}])
    assert m[1, 2] == 1 and m.sum() == 1


def test_score_ties_keep_the_original_order() -> None:
    pairs = match_image([SQ], [0], [[0, 0, 10, 9], SQ], [0, 0], [0.5, 0.5])
    assert pairs == [(0, 0), (-1, 1)]  # pred 0 goes first although pred 1 overlaps better


def test_iou_ties_go_to_the_lower_gt_index() -> None:
    gt = [[0, 0, 10, 10], [5, 0, 15, 10]]
    pred = [[2.5, 0, 12.5, 10]]  # IoU 0.6 with both
    assert box_iou(pred, gt)[0, 0] == pytest.approx(box_iou(pred, gt)[0, 1])
    assert match_image(gt, [0, 1], pred, [1], [0.9], iou=0.3) == [(0, 0), (1, -1)]
    assert match_image(gt[::-1], [1, 0], pred, [1], [0.9], iou=0.3) == [(0, 0), (1, -1)]


def test_highest_iou_wins_among_unmatched_gt() -> None:
    gt = [[0, 0, 10, 10], [1, 0, 11, 10]]
    pred = [[1, 0, 11, 10]]
    assert match_image(gt, [0, 0], pred, [0], [0.9], iou=0.5) == [(1, 0), (0, -1)]


def test_greedy_by_score_not_globally_optimal() -> None:
    # The high-score prediction takes the gt it overlaps best, even though that
    # leaves the low-score prediction without a match.
    gt = [[0, 0, 10, 10], [6, 0, 16, 10]]
    preds = [[3, 0, 13, 10], [0, 0, 10, 10]]  # pred 0: IoU 0.54 with gt 0, 0.54 with gt 1
    iou = box_iou(preds, gt)
    assert iou[0, 0] == pytest.approx(iou[0, 1])
    pairs = match_image(gt, [0, 0], preds, [0, 0], [0.9, 0.8], iou=0.5)
    assert pairs == [(0, 0), (-1, 1), (1, -1)]


def test_class_wise_matching() -> None:
    gt = [SQ, [0, 0, 10, 6]]  # gt 0 class 1 (IoU 1), gt 1 class 2 (IoU 0.6)
    assert match_image(gt, [1, 2], [SQ], [2], [0.9]) == [(0, 0), (1, -1)]
    assert match_image(gt, [1, 2], [SQ], [2], [0.9], class_wise=True) == [(1, 0), (0, -1)]
    m = detection_matrix(
        [{"boxes": [SQ], "labels": [1]}], [{"boxes": [SQ], "labels": [2], "scores": [0.9]}], class_wise=True
    )
    assert m.tolist() == [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 1, 0]]


@pytest.mark.parametrize("seed", range(6))
def test_matching_equals_reference_on_random_scenes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(20):
        n, m = int(rng.integers(0, 12)), int(rng.integers(0, 12))
        gb = _random_boxes(rng, n, 40)
        # predictions: jittered copies of some gt boxes, then random boxes
        pb = _corners(np.concatenate([gb + rng.normal(0, 1.5, gb.shape), _random_boxes(rng, m, 40)])[:m])
        gl, pl = rng.integers(0, 3, n), rng.integers(0, 3, m)
        ps = rng.choice([0.2, 0.5, 0.5, 0.7, 0.9], m)
        for iou, score, cw in ((0.5, 0.0, False), (0.3, 0.5, False), (0.5, 0.0, True)):
            got = match_image(gb, gl, pb, pl, ps, iou=iou, score=score, class_wise=cw)
            assert got == _reference_match(gb, gl, pb, pl, ps, iou, score, cw)


# -- the matrix and the source ---------------------------------------------------------------
def _scene(seed: int = 0, n_images: int = 30, k: int = 3):
    rng = np.random.default_rng(seed)
    gt, pred = [], []
    for _ in range(n_images):
        n = int(rng.integers(0, 6))
        gb = _random_boxes(rng, n, 60)
        jitter = rng.normal(0, 1.0, gb.shape)
        pb = _corners(np.concatenate([gb + jitter, _random_boxes(rng, int(rng.integers(0, 3)), 60)]))
        keep = rng.random(len(pb)) < 0.85
        gl = rng.integers(0, k, n)
        pl = np.concatenate(
            [np.where(rng.random(n) < 0.8, gl, rng.integers(0, k, n)), rng.integers(0, k, len(pb) - n)]
        )
        gt.append({"boxes": gb, "labels": gl})
        pred.append({"boxes": pb[keep], "labels": pl[keep], "scores": rng.random(int(keep.sum()))})
    return gt, pred


def test_matrix_margins_count_boxes() -> None:
    gt, pred = _scene()
    m = detection_matrix(gt, pred, num_classes=3, score=0.3)
    n_gt = np.bincount(np.concatenate([g["labels"] for g in gt]), minlength=3)
    kept = np.concatenate([p["labels"][p["scores"] >= 0.3] for p in pred])
    np.testing.assert_array_equal(m[:3].sum(axis=1), n_gt)
    np.testing.assert_array_equal(m[:, :3].sum(axis=0), np.bincount(kept, minlength=3))
    assert m[3, 3] == 0
    src = detection_source(gt, pred, labels=["a", "b", "c"], score=0.3)
    np.testing.assert_array_equal(src.matrices()[0, 0], m)


def test_cells_carry_their_boxes_highest_score_first() -> None:
    gt, pred = _scene(seed=1)
    src = detection_source(gt, pred, labels=["a", "b", "c"])
    assert src.labels == ["a", "b", "c", BACKGROUND]
    m = src.matrices()[0, 0]
    for r in range(4):
        for c in range(4):
            hits = src.cell(0, 0, r, c)
            assert len(hits) == m[r, c] == len(hits.extra)
            for pos, conf, extra in zip(hits.positions, hits.confidence, hits.extra[:]):
                kinds = [b["kind"] for b in extra["boxes"]]
                assert kinds == (["gt"] if r < 3 else []) + (["pred"] if c < 3 else [])
                for b in extra["boxes"]:
                    assert b["label"] == src.labels[r if b["kind"] == "gt" else c]
                    boxes = (gt if b["kind"] == "gt" else pred)[pos]["boxes"]
                    assert any(np.allclose(b["xyxy"], x) for x in boxes)
                    if b["kind"] == "pred":
                        assert b["score"] == pytest.approx(float(conf))
            if c < 3:
                assert (np.diff(hits.confidence) <= 0).all()
            else:
                assert np.isnan(hits.confidence).all()
                assert (np.diff(hits.positions) >= 0).all()


def test_pair_caption_reports_iou() -> None:
    src = detection_source(
        [{"boxes": [SQ], "labels": [0]}], [{"boxes": [[0, 0, 10, 8]], "labels": [0], "scores": [0.9]}]
    )
    assert src.cell(0, 0, 0, 0).extra[0]["caption"] == "IoU 0.80"


def test_image_boxes_lists_gt_and_kept_predictions() -> None:
    gt = [{"boxes": [SQ, [20, 20, 30, 30]], "labels": [0, 1]}]
    pred = [
        {"boxes": [SQ, [40, 40, 50, 50], [20, 20, 30, 31]], "labels": [0, 1, 1], "scores": [0.5, 0.1, 0.8]}
    ]
    src = detection_source(gt, pred, labels=["cat", "dog"], score=0.2)
    boxes = src.image_boxes(0, 0)
    assert [(b["kind"], b["label"]) for b in boxes] == [
        ("gt", "cat"),
        ("gt", "dog"),
        ("pred", "dog"),
        ("pred", "cat"),
    ]
    assert boxes[2] == {"kind": "pred", "xyxy": [20.0, 20.0, 30.0, 31.0], "label": "dog", "score": 0.8}


def test_metrics_per_class() -> None:
    gt, pred = _scene(seed=2)
    src = detection_source(gt, pred)
    m = src.matrices()[0, 0]
    rows = src.metrics()
    assert [d["label"] for d in rows] == ["0", "1", "2"]
    assert rows[0]["support"] == m[0].sum()
    assert rows[0]["recall"] == pytest.approx(m[0, 0] / m[0].sum())
    assert rows[0]["precision"] == pytest.approx(m[0, 0] / m[:, 0].sum())


# -- input formats -------------------------------------------------------------------------------
def test_xywh_equals_xyxy() -> None:
    gt, pred = _scene(seed=3)

    def to_xywh(ds):
        return [
            {
                **d,
                "boxes": np.concatenate([d["boxes"][:, :2], d["boxes"][:, 2:] - d["boxes"][:, :2]], axis=1)
                if len(d["boxes"])
                else d["boxes"],
            }
            for d in ds
        ]

    a = detection_source(gt, pred)
    b = detection_source(to_xywh(gt), to_xywh(pred), box_format="xywh")
    np.testing.assert_array_equal(a.matrices(), b.matrices())
    first = next(i for i, d in enumerate(gt) if len(d["boxes"]))
    assert np.allclose(b.image_boxes(first)[0]["xyxy"], gt[first]["boxes"][0])


def test_torch_tensors_as_a_torchvision_model_returns_them() -> None:
    gt = [
        {"boxes": torch.tensor([SQ]), "labels": torch.tensor([1])},
        {"boxes": torch.zeros((0, 4)), "labels": torch.zeros((0,), dtype=torch.int64)},
    ]
    pred = [
        {
            "boxes": torch.tensor([SQ], requires_grad=True),
            "labels": torch.tensor([1]),
            "scores": torch.tensor([0.9]),
        },
        {"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.int64), "scores": torch.zeros(0)},
    ]
    assert detection_matrix(gt, pred).tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    # an empty tensor of shape (0,) for boxes is accepted too
    gt[1]["boxes"] = torch.tensor([])
    assert detection_source(gt, pred).matrices().shape == (1, 1, 3, 3)


def test_lists_of_lists() -> None:
    m = detection_matrix(
        [{"boxes": [[0, 0, 4, 4]], "labels": [0]}],
        [{"boxes": [[0, 0, 4, 4]], "labels": [0], "scores": [1.0]}],
    )
    assert m.tolist() == [[1, 0], [0, 0]]


GOOD_GT = {"boxes": [SQ], "labels": [0]}
GOOD_PRED = {"boxes": [SQ], "labels": [0], "scores": [0.5]}


@pytest.mark.parametrize(
    ("gt", "pred", "kwargs", "error", "match"),
    [
        ([{"boxes": [[0, 0, 1]], "labels": [0]}], [GOOD_PRED], {}, ValueError, r"\(n, 4\)"),
        ([{"boxes": [[5, 0, 1, 1]], "labels": [0]}], [GOOD_PRED], {}, ValueError, "x1 < x0"),
        ([{"boxes": [[0, 5, 1, 1]], "labels": [0]}], [GOOD_PRED], {}, ValueError, "y1 < y0"),
        ([{"boxes": [[0, 0, np.nan, 1]], "labels": [0]}], [GOOD_PRED], {}, ValueError, "NaN"),
        ([GOOD_GT], [{"boxes": [SQ], "labels": [0], "scores": [np.nan]}], {}, ValueError, "NaN"),
        ([GOOD_GT], [{"boxes": [SQ], "labels": [0]}], {}, ValueError, "scores"),
        ([{"boxes": [SQ]}], [GOOD_PRED], {}, ValueError, "labels"),
        ([GOOD_GT], [GOOD_PRED, GOOD_PRED], {}, ValueError, "1 images but pred has 2"),
        (
            [GOOD_GT],
            [{"boxes": [SQ], "labels": [3], "scores": [0.5]}],
            {"labels": ["a", "b"]},
            ValueError,
            r"pred\[0\]\['labels'\] contains class 3",
        ),
        ([{"boxes": [SQ], "labels": [-1]}], [GOOD_PRED], {}, ValueError, "negative"),
        ([{"boxes": [SQ], "labels": [0.5]}], [GOOD_PRED], {}, ValueError, "integer"),
        ([{"boxes": [SQ], "labels": [0, 1]}], [GOOD_PRED], {}, ValueError, "one class per box"),
        (
            [GOOD_GT],
            [{"boxes": [SQ], "labels": [0], "scores": [0.5, 0.4]}],
            {},
            ValueError,
            "one score per box",
        ),
        ([GOOD_GT], [GOOD_PRED], {"box_format": "cxcywh"}, ValueError, "box_format"),
        (
            [{"boxes": [[0, 0, -1, 1]], "labels": [0]}],
            [GOOD_PRED],
            {"box_format": "xywh"},
            ValueError,
            "negative",
        ),
        ([GOOD_GT], [GOOD_PRED], {"iou": 0.0}, ValueError, "iou"),
        ([GOOD_GT], [GOOD_PRED], {"labels": ["a", BACKGROUND]}, ValueError, "duplicate"),
        (GOOD_GT, [GOOD_PRED], {}, TypeError, "list"),
        ([[SQ]], [GOOD_PRED], {}, TypeError, "dict"),
        ([], [], {}, ValueError, "empty"),
        ([GOOD_GT], [GOOD_PRED], {"images": np.zeros((2, 8, 8), np.uint8)}, ValueError, "images"),
    ],
)
def test_bad_inputs(gt, pred, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        detection_source(gt, pred, **kwargs)


def test_cell_bounds_are_checked() -> None:
    src = detection_source([GOOD_GT], [GOOD_PRED])
    with pytest.raises(ValueError, match="row 2 is out of range"):
        src.cell(0, 0, 2, 0)
    with pytest.raises(ValueError, match="epoch"):
        src.cell(1, 0, 0, 0)


# -- the widget ------------------------------------------------------------------------------------
def test_widget_from_detections_sends_boxes() -> None:
    gt, pred = _scene(seed=4, n_images=12)
    images = np.random.default_rng(0).integers(0, 255, (12, 64, 64), dtype=np.uint8)
    w = ConfusionWidget.from_detections(gt, pred, labels=["a", "b", "c"], images=images, score=0.1)
    assert w.matrix.shape == (4, 4)
    assert w.labels[-1] == BACKGROUND
    r, c = map(int, np.argwhere(w.matrix[:3, :3] > 0)[0])
    reply, buffers = answer(w.source, {"type": "cell", "epoch": 0, "tile": 0, "row": r, "col": c, "limit": 5})
    assert reply["total"] == w.matrix[r, c]
    s = reply["samples"][0]
    assert [b["kind"] for b in s["boxes"]] == ["gt", "pred"]
    assert s["width"] == 64 and s["buffer"] == 0 and len(buffers) == len(reply["samples"])
    img, out = answer(w.source, {"type": "image", "sample": s["id"]})
    assert img["boxes"] and all(b["kind"] in ("gt", "pred") for b in img["boxes"]) and len(out) == 1
    reply, _ = answer(w.source, {"type": "cell", "epoch": 0, "row": 3, "col": 0})
    assert all([b["kind"] for b in x["boxes"]] == ["pred"] for x in reply["samples"])


def test_detection_digits_is_deterministic_and_valid() -> None:
    from confusion_widget.demo_scenes import detection_digits

    images, gt, pred = detection_digits(40, seed=2)
    images2, _gt2, pred2 = detection_digits(40, seed=2)
    assert np.array_equal(images, images2)
    assert all(
        np.array_equal(a["boxes"], b["boxes"]) and np.array_equal(a["scores"], b["scores"])
        for a, b in zip(pred, pred2)
    )
    assert images.shape == (40, 96, 96) and images.dtype == np.uint8
    for g in gt:
        assert len(g["boxes"]) >= 1 and (g["boxes"] >= 0).all() and (g["boxes"] <= 96).all()
        assert np.triu(box_iou(g["boxes"], g["boxes"]), 1).max(initial=0) == 0  # digits do not overlap
    src = detection_source(gt, pred, images=images)
    m = src.matrices()[0, 0]
    assert np.trace(m[:-1, :-1]) > 0.6 * sum(len(g["labels"]) for g in gt)


def test_thresholds_must_be_numbers() -> None:
    with pytest.raises(TypeError, match="iou must be a number, got str"):
        detection_source([GOOD_GT], [GOOD_PRED], iou="x")
    with pytest.raises(TypeError, match="score must be a number"):
        detection_source([GOOD_GT], [GOOD_PRED], score=None)
