"""The detection recorder: torchvision-style batches on any device over epochs, a live
widget, the run log (schema version 4, no pickle) reopened to identical matrices at
any threshold, bad input naming the image and the field, migration of a version-3 log."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import torch

from confusion_widget import ConfusionRecorder, ConfusionWidget, DetectionRecorder, RunStore
from confusion_widget._store_detection import is_detection_run, load_detection, open_run
from confusion_widget.detection import DEFAULT_IOU, DEFAULT_SCORE, detection_source
from confusion_widget.store import RunExistsError

LABELS = ["a", "b", "c"]


def _scene(seed: int, n_images: int = 30, k: int = 3) -> tuple[list[dict], list[list[dict]]]:
    """Ground truth and three epochs of predictions (numpy), as torchvision returns them."""
    rng = np.random.default_rng(seed)
    gt, epochs = [], [[], [], []]
    for _ in range(n_images):
        n = int(rng.integers(0, 5))
        xy = rng.uniform(0, 80, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (n, 2))], axis=1)
        gt.append({"boxes": boxes, "labels": rng.integers(0, k, n)})
        for e in range(3):
            m = int(rng.integers(0, 6))
            src = boxes[rng.integers(0, n, m)] if n else rng.uniform(0, 60, (m, 4))
            p = src + rng.normal(0, 3, (m, 4))
            p = np.concatenate([np.minimum(p[:, :2], p[:, 2:]), np.maximum(p[:, :2], p[:, 2:])], axis=1)
            epochs[e].append({"boxes": p, "labels": rng.integers(0, k, m), "scores": rng.random(m)})
    return gt, epochs


def _tensors(d: dict) -> dict:
    return {k: torch.as_tensor(v) for k, v in d.items()}


def _record(rec, gt, epochs, ids, batch: int = 7, shuffle: int | None = None) -> list[np.ndarray]:
    out = []
    for e, pred in enumerate(epochs):
        order = np.arange(len(gt))
        if shuffle is not None and (e > 0 or rec.n_epochs > 0):  # the first epoch fixes the order
            order = np.random.default_rng(shuffle + e).permutation(len(gt))
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            rec.update([_tensors(pred[i]) for i in idx], [_tensors(gt[i]) for i in idx], image_ids=ids[idx])
        out.append(rec.end_epoch())
    return out


def test_recorder_matches_from_detections_and_reopens_identically(tmp_path) -> None:
    gt, epochs = _scene(0)
    ids = np.arange(100, 100 + len(gt))
    path = tmp_path / "runs.db"
    rec = ConfusionRecorder(LABELS, task="detection", store=path, run="det", iou=0.4)
    assert isinstance(rec, DetectionRecorder)
    w = None
    seen = []
    for e in range(3):
        seen += _record(rec, gt, epochs[e : e + 1], ids, shuffle=5 + e)
        if w is None:
            w = rec.widget()
    assert w is not None and w.n_epochs == 3 and w.epoch == 2  # followed the live run
    assert (w.iou_threshold, w.score_threshold) == (0.4, DEFAULT_SCORE)
    fresh = detection_source(gt, epochs, labels=LABELS, iou=0.4, sample_ids=ids)
    np.testing.assert_array_equal(rec.as_source().matrices(), fresh.matrices())
    np.testing.assert_array_equal(np.stack(seen), fresh.matrices()[:, 0])
    rec.close()

    with RunStore(path, mode="r") as store:
        assert is_detection_run(store, "det")
        assert [(r.name, r.n_epochs, r.n_samples) for r in store.runs()] == [("det", 3, len(gt))]
        loaded = load_detection(store, "det")
    assert loaded.sample_ids().tolist() == ids.tolist()
    np.testing.assert_array_equal(loaded.matrices(), fresh.matrices())
    for score, iou in [(0.5, 0.4), (0.2, 0.7)]:
        loaded.set_thresholds(score=score, iou=iou)
        fresh.set_thresholds(score=score, iou=iou)
        np.testing.assert_array_equal(loaded.matrices(), fresh.matrices())
        assert loaded.metrics(1) == fresh.metrics(1)
        assert loaded.cell(2, 0, 0, 3).positions.tolist() == fresh.cell(2, 0, 0, 3).positions.tolist()
    w2 = ConfusionWidget.from_store(path, "det")
    assert w2.n_epochs == 3 and w2.iou_threshold == 0.4
    np.testing.assert_array_equal(
        w2.matrices, detection_source(gt, epochs, labels=LABELS, iou=0.4).matrices()[:, 0]
    )
    # No pickle in the log: every detection column is a raw little-endian array.
    con = sqlite3.connect(path)
    blob = con.execute("SELECT pred_scores, gt_sizes FROM detections WHERE epoch = 1").fetchone()
    con.close()
    np.testing.assert_array_equal(np.frombuffer(blob[1], "<i4"), [len(g["labels"]) for g in gt])
    assert not blob[0].startswith(b"\x80")


def test_a_resumed_run_continues_where_the_log_stopped(tmp_path) -> None:
    gt, epochs = _scene(3)
    ids = np.arange(500, 500 + len(gt))
    path = tmp_path / "runs.db"
    with ConfusionRecorder(LABELS, task="detection", store=path, run="det", iou=0.3) as rec:
        _record(rec, gt, epochs[:2], ids, shuffle=1)
    # A new process: same labels, other thresholds asked (the run's are kept).
    rec = ConfusionRecorder(LABELS, task="detection", store=path, run="det", if_exists="resume", iou=0.9)
    assert rec.n_epochs == 2 and rec.iou == 0.3
    w = rec.widget()
    assert w.n_epochs == 2 and w.iou_threshold == 0.3
    last = _record(rec, gt, epochs[2:], ids, shuffle=7)
    assert w.n_epochs == 3 and w.epoch == 2  # the live widget followed
    fresh = detection_source(gt, epochs, labels=LABELS, iou=0.3, sample_ids=ids)
    np.testing.assert_array_equal(rec.as_source().matrices(), fresh.matrices())
    np.testing.assert_array_equal(last[0], fresh.matrices()[2, 0])
    rec.close()
    with RunStore(path, mode="r") as store:
        np.testing.assert_array_equal(load_detection(store, "det").matrices(), fresh.matrices())

    with pytest.raises(RunExistsError, match="if_exists='resume' to continue it"):
        ConfusionRecorder(LABELS, task="detection", store=path, run="det")
    with pytest.raises(ValueError, match=r"its labels are \['a', 'b', 'c'\], not \['a', 'b'\]"):
        ConfusionRecorder(["a", "b"], task="detection", store=path, run="det", if_exists="resume")
    with ConfusionRecorder(LABELS, store=path, run="clf") as clf:
        clf.update(np.eye(3), [0, 1, 2])
        clf.end_epoch()
    with pytest.raises(ValueError, match=r"'clf'.*a classifier's run"):
        ConfusionRecorder(LABELS, task="detection", store=path, run="clf", if_exists="resume")
    # Other images than the run's: the epoch is refused, the log keeps its 3 epochs.
    rec = ConfusionRecorder(LABELS, task="detection", store=path, run="det", if_exists="resume")
    with pytest.raises(ValueError, match="unknown image ids"):
        _record(rec, gt[:5], [epochs[0][:5]], np.arange(5))
    rec.close()
    assert ConfusionWidget.from_store(path, "det").n_epochs == 3


def test_a_classifier_run_still_opens_as_a_run(tmp_path) -> None:
    path = tmp_path / "runs.db"
    with ConfusionRecorder(["x", "y"], store=path, run="clf") as rec:
        rec.update([[2.0, 0.1], [0.3, 1.2]], [0, 0])
        rec.end_epoch()
    src = open_run(path, "clf")
    assert type(src).__name__ == "Run" and src.matrices()[0, 0].tolist() == [[1, 1], [0, 0]]
    with pytest.raises(KeyError, match="no run 'nope'"):
        open_run(path, "nope")


def test_live_widget_gets_each_epoch() -> None:
    gt, epochs = _scene(1, n_images=8)
    rec = ConfusionRecorder(3, task="detection")
    ids = np.arange(8)
    _record(rec, gt, epochs[:1], ids)
    w = rec.widget()
    revision = w._revision
    _record(rec, gt, epochs[1:2], ids)
    assert w.n_epochs == 2 and w._revision == revision + 1 and w.epoch == 1
    w.score_threshold = 0.6
    np.testing.assert_array_equal(
        w.matrices, detection_source(gt, epochs[:2], labels=["0", "1", "2"], score=0.6).matrices()[:, 0]
    )


def test_default_thresholds_are_the_same_everywhere() -> None:
    gt, epochs = _scene(2, n_images=4)
    rec = ConfusionRecorder(LABELS, task="detection")
    _record(rec, gt, epochs[:1], np.arange(4))
    w_rec = rec.widget()
    w_det = ConfusionWidget.from_detections(gt, epochs[0], labels=LABELS)
    assert (w_rec.score_threshold, w_rec.iou_threshold) == (w_det.score_threshold, w_det.iou_threshold)
    assert (w_det.score_threshold, w_det.iou_threshold) == (DEFAULT_SCORE, DEFAULT_IOU) == (0.0, 0.5)


def test_bad_batches_name_the_image_and_the_field(tmp_path) -> None:
    good_t = {"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([1])}

    def pred(**kw):
        d = {
            "boxes": torch.tensor([[0.0, 0, 10, 9]]),
            "labels": torch.tensor([1]),
            "scores": torch.tensor([0.9]),
        }
        return {**d, **kw}

    cases = [
        (pred(scores=torch.tensor([float("nan")])), r"image 'x': predictions\['scores'\] contains NaN"),
        (pred(boxes=torch.tensor([[10.0, 0, 1, 9]])), r"image 'x': predictions\['boxes'\]\[0\].*x1 < x0"),
        (
            pred(labels=torch.tensor([5])),
            r"image 'x': predictions\['labels'\] contains class 5, outside \[0, 3\)",
        ),
    ]
    for p, match in cases:
        rec = ConfusionRecorder(LABELS, task="detection")
        rec.update([pred()], [good_t], image_ids=["w"])
        rec.update([p], [good_t], image_ids=["x"])
        with pytest.raises(ValueError, match=match):
            rec.end_epoch()
    rec = ConfusionRecorder(LABELS, task="detection")
    rec.update([pred()], [good_t], image_ids=[1])
    rec.end_epoch()
    rec.update([pred()], [good_t], image_ids=[2])
    with pytest.raises(ValueError, match=r"unknown image ids \[2\], missing \[1\]"):
        rec.end_epoch()
    with pytest.raises(ValueError, match="image_ids has 2 ids for 1 images"):
        rec.update([pred()], [good_t], image_ids=[1, 2])
    with pytest.raises(ValueError, match="task must be one of"):
        ConfusionRecorder(LABELS, task="segmentation")
    with pytest.raises(ValueError, match=r"score must be in \[0, 1\]"):
        ConfusionRecorder(LABELS, task="detection", score=2)
    path = tmp_path / "r.db"
    rec = ConfusionRecorder(LABELS, task="detection", store=path, run="r")
    rec.update([pred()], [good_t])
    rec.end_epoch()
    rec.close()
    with pytest.raises(RunExistsError, match="already has a run named 'r'"):
        ConfusionRecorder(LABELS, task="detection", store=path, run="r")


def test_a_version_3_log_is_migrated_for_detection_runs(tmp_path) -> None:
    path = tmp_path / "old.db"
    with ConfusionRecorder(["x", "y"], store=path, run="clf") as rec:
        rec.update([[2.0, 0.1]], [0])
        rec.end_epoch()
    con = sqlite3.connect(path)
    con.execute("DROP TABLE detections")
    con.execute("DROP TABLE detection_runs")
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with RunStore(path, mode="r") as store:  # read as it is
        assert not is_detection_run(store, "clf") and store.runs()[0].n_epochs == 1
    gt, epochs = _scene(3, n_images=5)
    with ConfusionRecorder(LABELS, task="detection", store=path, run="det") as rec:
        _record(rec, gt, epochs[:2], np.arange(5))
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "4"
    con.close()
    assert open_run(path, "det").n_epochs == 2 and open_run(path, "clf").n_epochs == 1
