"""The wire: the committed schema is what the code says, every reply of every source
has the shape its TypedDict declares, and every request gets an answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pack_decode import blocks, decode, header

from confusion_widget import ConfusionWidget, Run
from confusion_widget.wire import (
    CHUNK_BYTES,
    MAX_PAGE,
    REPLIES,
    Box,
    CellReply,
    HistoryEntry,
    ImageReply,
    Sample,
    answer,
    counts_state,
    respond,
    schema_json,
)

SCHEMA = Path(__file__).parents[1] / "js" / "wire_schema.json"


def test_committed_schema_is_current():
    # if this fails: .venv/bin/python scripts/wire_schema.py > js/wire_schema.json
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
    w._metrics_open = True
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


ADVERSARIAL = {
    "all zeros": np.zeros((2, 1, 5, 5), np.int64),
    "K = 1": np.array([[[[3]]], [[[0]]]]),
    "one huge count": np.pad(np.array([[[[2**40]]]]), ((0, 0), (0, 0), (0, 3), (0, 3))),
    "fully dense": np.random.default_rng(1).integers(1, 70_000, (2, 2, 30, 30)),
    "signed differences": np.random.default_rng(2).integers(-300, 300, (1, 3, 20, 20)),
    "beyond int32": np.array([[[[2**33, -(2**31) - 5], [0, 1]]]]),
    "random sparse": np.random.default_rng(3).binomial(1, 0.02, (3, 1, 400, 400)) * 17,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_packs_hold_every_count_exactly(name):
    mats = ADVERSARIAL[name]
    pack = counts_state(mats, 0, revision=7, budget=10**9)
    head, epochs = decode(pack)
    assert (head["v"], head["K"], head["T"], head["revision"]) == (1, mats.shape[-1], mats.shape[1], 7)
    assert sorted(epochs) == list(range(len(mats)))
    for e, m in epochs.items():
        np.testing.assert_array_equal(m, mats[e])
    assert header(pack)["blocks"][0]["rows"] == [0, mats.shape[-1]]


def test_packs_choose_the_smaller_encoding_and_narrowest_width():
    sparse = np.zeros((1, 1, 1000, 1000), np.int64)
    sparse[0, 0, np.arange(1000), np.arange(1000)] = 40
    (block,) = header(counts_state(sparse, 0, 0))["blocks"]
    assert (block["enc"], block["nnz"], block["pos"]["dtype"], block["val"]["dtype"]) == (
        "sparse",
        1000,
        "uint16",
        "uint8",
    )
    dense = np.full((1, 1, 10, 10), 300)
    (block,) = header(counts_state(dense, 0, 0))["blocks"]
    assert (block["enc"], block["dtype"]) == ("dense", "uint16")
    assert len(counts_state(sparse, 0, 0)) < 4_000  # dense int32 would be 4 MB
    with pytest.raises(ValueError, match="2\\*\\*53"):
        counts_state(np.array([[[[2**60]]]]), 0, 0)


def test_counts_parts_split_even_a_dense_epoch_under_the_chunk_size():
    mats = np.random.default_rng(0).integers(0, 2**20, (2, 1, 1000, 1000))  # 4 MB a tile
    src = ConfusionWidget(np.eye(2, dtype=int)).source
    parts = list(respond(src, {"type": "counts", "id": 9, "epochs": [1, 0]}, matrices=mats, revision=2))
    assert len(parts) >= 8 and all(len(b[0]) < CHUNK_BYTES + 4096 for _, b in parts)
    assert [m["done"] for m, _ in parts][-1] and not any(m["done"] for m, _ in parts[:-1])
    assert next(blk[0] for _, b in parts for blk in blocks(b[0])) == 1  # in the order asked
    whole = decode(*(b[0] for _, b in parts))[1]
    np.testing.assert_array_equal(whole[0], mats[0])
    np.testing.assert_array_equal(whole[1], mats[1])


@pytest.mark.parametrize(
    ("epochs", "match"),
    [
        ([5], "epoch 5 is out of range"),
        ([-1], "epoch -1 is out of range"),
        ("0", "'epochs' must be a list"),
        ([True], "'epochs' must be a list of integers"),
        (None, "'epochs' must be a list"),
    ],
)
def test_bad_counts_requests_get_an_error(epochs, match):
    mats = np.zeros((2, 1, 2, 2), np.int64)
    src = ConfusionWidget(np.eye(2, dtype=int)).source
    ((reply, buffers),) = respond(
        src, {"type": "counts", "id": 1, "epochs": epochs}, matrices=mats, revision=0
    )
    assert reply["type"] == "error" and match in reply["error"] and buffers == []
    ((empty, _),) = respond(src, {"type": "counts", "id": 1, "epochs": []}, matrices=mats, revision=0)
    assert empty["done"] and header(_[0])["blocks"] == []


def test_a_page_of_big_thumbnails_stays_one_small_message(monkeypatch):
    from confusion_widget import wire

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (300, 96, 96, 3), dtype=np.uint8)  # incompressible thumbnails
    w = ConfusionWidget.from_predictions(np.zeros(300, int), np.zeros(300, int), images=noise)
    monkeypatch.setattr(wire, "CHUNK_BYTES", 100_000)
    reply, buffers = answer(
        w.source, {"type": "cell", "id": 1, "epoch": 0, "tile": 0, "row": 0, "col": 0, "limit": 500}
    )
    assert 1 < len(reply["samples"]) < 300 and reply["total"] == 300
    assert sum(map(len, buffers)) < 100_000 + max(map(len, buffers))
    more, _ = answer(
        w.source,
        {
            "type": "cell",
            "id": 2,
            "epoch": 0,
            "tile": 0,
            "row": 0,
            "col": 0,
            "offset": len(reply["samples"]),
            "limit": 500,
        },
    )
    assert more["samples"][0]["id"] == len(reply["samples"])
