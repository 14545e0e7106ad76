"""The wire: the committed schema is what the code says, every reply of every source
has the shape its TypedDict declares, and every request gets an answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from confusion_widget import ConfusionWidget, Run
from confusion_widget.wire import (
    MAX_PAGE,
    REPLIES,
    Box,
    CellReply,
    HistoryEntry,
    ImageReply,
    Sample,
    answer,
    counts_window,
    encode_counts,
    schema_json,
)

SCHEMA = Path(__file__).parents[1] / "js" / "wire_schema.json"


def test_committed_schema_is_current():
    # if this fails: .venv/bin/python -m confusion_widget.wire > js/wire_schema.json
    assert SCHEMA.read_text() == schema_json()


def check_shape(value: dict, td: type) -> None:
    keys = set(value)
    assert td.__required_keys__ <= keys, f"{td.__name__} misses {td.__required_keys__ - keys}"
    assert keys <= td.__required_keys__ | td.__optional_keys__, (
        f"{td.__name__} has extra {keys - td.__required_keys__ - td.__optional_keys__}"
    )


def widgets():
    rng = np.random.default_rng(0)
    yt = rng.integers(0, 3, 60)
    logits = [rng.normal(size=(60, 3)) + 2 * np.eye(3)[yt] for _ in range(2)]
    images = rng.integers(0, 255, (60, 8, 8), dtype=np.uint8)
    run = Run.from_predictions(yt, logits, images=images, name="a")
    run_b = Run.from_predictions(yt, logits[::-1], images=images, name="b")
    ml = rng.integers(0, 2, (30, 3))
    gt = [{"boxes": [[0, 0, 4, 4]], "labels": [1]}, {"boxes": [[1, 1, 5, 5]], "labels": [0]}]
    pred = [
        {"boxes": [[0, 0, 4, 4]], "labels": [0], "scores": [0.9]},
        {"boxes": [], "labels": [], "scores": []},
    ]
    return {
        "matrix": ConfusionWidget(np.eye(3, dtype=int)),
        "run": ConfusionWidget(run),
        "compare": ConfusionWidget.compare({"a": run, "b": run_b}, diff=True),
        "multilabel": ConfusionWidget.from_multilabel(ml, rng.random((30, 3)), images=rng.random((30, 8, 8))),
        "per_label": ConfusionWidget.from_multilabel(ml, ml, mode="per_label"),
        "detection": ConfusionWidget.from_detections(gt, pred, images=np.zeros((2, 8, 8), np.uint8)),
    }


@pytest.mark.parametrize("kind", ["matrix", "run", "compare", "multilabel", "per_label", "detection"])
def test_every_reply_of_every_source_has_its_declared_shape(kind):
    w = widgets()[kind]
    src = w.source
    seen_sample = False
    for tile in range(len(src.tile_titles)):
        for row in range(len(src.labels)):
            for col in range(len(src.labels)):
                reply, buffers = answer(
                    src, {"type": "cell", "id": 1, "epoch": 0, "tile": tile, "row": row, "col": col}
                )
                check_shape(reply, CellReply)
                assert reply["total"] >= len(reply["samples"])
                for s in reply["samples"]:
                    seen_sample = True
                    check_shape(s, Sample)
                    assert -1 <= s["buffer"] < len(buffers)
                    for box in s.get("boxes", []):
                        check_shape(box, Box)
                    image, out = answer(src, {"type": "image", "id": 2, "sample": s["id"], "epoch": 0})
                    check_shape(image, ImageReply)
                    assert (image["buffer"] == 0) == (len(out) == 1)
                    for entry in image.get("history", []):
                        check_shape(entry, HistoryEntry)
    assert seen_sample == (kind != "matrix")
    for row in w._metrics:
        assert {"label", "precision", "recall", "f1", "support"} <= set(row)


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        ({"type": "cell", "id": 3, "epoch": 0, "tile": 0, "row": 5, "col": 0}, "row 5 is out of range"),
        ({"type": "cell", "id": 3, "epoch": 9, "tile": 0, "row": 0, "col": 0}, "epoch 9 is out of range"),
        ({"type": "cell", "id": 3, "epoch": 0, "tile": 0, "row": "0", "col": 0}, "'row' must be an integer"),
        ({"type": "cell", "id": 3, "epoch": 0, "tile": 0, "col": 0}, "'row' must be an integer"),
        ({"type": "image", "id": 3, "sample": 12345}, "unknown sample id 12345"),
        ({"type": "image", "id": 3}, "unknown sample id None"),
        ({"type": "thumbnail", "id": 3}, "unknown request type 'thumbnail'"),
    ],
)
def test_bad_requests_are_answered_with_an_error(msg, match):
    reply, buffers = answer(widgets()["run"].source, msg)
    check_shape(reply, REPLIES["error"])
    assert reply["id"] == 3 and buffers == []
    assert match in reply["error"]


def test_a_cell_outside_a_bare_matrix_is_an_error_not_an_empty_answer():
    src = ConfusionWidget(np.eye(3, dtype=int)).source
    reply, _ = answer(src, {"type": "cell", "id": 1, "epoch": 0, "tile": 0, "row": 7, "col": 0})
    assert reply["type"] == "error" and "row 7 is out of range" in reply["error"]
    ok, _ = answer(src, {"type": "cell", "id": 1, "epoch": 0, "tile": 0, "row": 2, "col": 0})
    assert ok["type"] == "cell" and ok["total"] == 0


def test_pages_are_bounded():
    src = widgets()["run"].source
    reply, _ = answer(
        src, {"type": "cell", "id": 1, "epoch": 0, "tile": 0, "row": 0, "col": 0, "limit": 10**9}
    )
    assert len(reply["samples"]) <= MAX_PAGE
    reply, _ = answer(
        src, {"type": "cell", "id": 1, "epoch": 0, "tile": 0, "row": 0, "col": 0, "offset": -5, "limit": 0}
    )
    assert reply["offset"] == 0 and len(reply["samples"]) == 1


def test_encode_counts_chooses_the_width():
    data, dtype = encode_counts(np.array([[[[1, -2]]]]))
    assert dtype == "int32" and np.frombuffer(data, "<i4").tolist() == [1, -2]
    data, dtype = encode_counts(np.array([[[[2**31, -(2**31)]]]]))
    assert dtype == "float64" and np.frombuffer(data, "<f8").tolist() == [2**31, -(2**31)]
    with pytest.raises(ValueError, match="2\\*\\*53"):
        encode_counts(np.array([2**60]))


def test_counts_window_moves_only_when_needed():
    mats = np.zeros((10, 1, 2, 2), np.int64)
    first = counts_window(mats, 9, None, budget=3 * 16)
    assert first["_window"] == [7, 3] and len(first["_counts"]) == 3 * 16
    assert counts_window(mats, 8, [7, 3], budget=3 * 16) == {}
    assert counts_window(mats, 7, [7, 3], budget=3 * 16)["_window"] == [6, 3]  # at the edge: re-centre
