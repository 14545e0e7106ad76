"""ConfusionWidget: construction, trait round trips, bad input, messages, windowing."""

import numpy as np
import pytest
import torch
from pack_decode import blocks, decode

from confusion_widget import ConfusionWidget, ConfusionWidgetWarning, Run, wire
from confusion_widget.wire import answer


def make_run_widget(n=300, k=5, epochs=3, seed=0, **kw):
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, k, n)
    logits = [rng.normal(size=(n, k)) + 3 * np.eye(k)[yt] * (e + 1) / epochs for e in range(epochs)]
    imgs = rng.integers(0, 255, (n, 8, 8), dtype=np.uint8)
    return (
        ConfusionWidget.from_predictions(yt, logits, labels=[f"c{i}" for i in range(k)], images=imgs, **kw),
        yt,
        logits,
    )


def sent(w, monkeypatch):
    """Capture what the widget sends to the frontend."""
    out = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: out.append((content, buffers or [])))
    return out


def test_matrix_widget_basics():
    w = ConfusionWidget(np.array([[5, 1], [2, 7]]), labels=["cat", "dog"])
    assert w.labels == ["cat", "dog"]
    assert w.matrix.tolist() == [[5, 1], [2, 7]]
    assert w.matrices.shape == (1, 2, 2)
    assert w.n_epochs == 1 and w.epoch == 0
    assert decode(w._counts)[1][0].tolist() == [[[5, 1], [2, 7]]]
    assert w._accuracy == [[pytest.approx(12 / 15)]]
    assert w.selected_samples == [] and not w._has_samples


def test_stack_of_epochs_from_torch_starts_at_last_epoch():
    cms = torch.stack([torch.eye(3, dtype=torch.int64) * (e + 1) for e in range(4)])
    w = ConfusionWidget(cms)
    assert w.n_epochs == 4 and w.epoch == 3
    assert w.labels == ["0", "1", "2"]
    w.epoch = 1
    np.testing.assert_array_equal(w.matrix, np.eye(3) * 2)
    assert w.epoch_labels == ["epoch 0", "epoch 1", "epoch 2", "epoch 3"]


def test_options_and_aliases_round_trip():
    w = ConfusionWidget(
        np.eye(3, dtype=int),
        aggregation="true",
        color_scale="smart",
        colormap="viridis",
        hide_diagonal=True,
        selected=(0, 2),
        epoch=0,
    )
    assert (w.aggregation, w.color_scale, w.colormap, w.hide_diagonal) == ("row", "smart", "viridis", True)
    assert w.selected == (0, 2)
    for alias, canon in [("pred", "column"), ("all", "total"), ("count", "count")]:
        w.aggregation = alias
        assert w.aggregation == canon
    # state as the frontend would see it, and back
    state = w.get_state()
    assert state["aggregation"] == "count" and list(state["selected"]) == [0, 2]
    w.set_state({"selected": [1, 1], "aggregation": "column", "epoch": 0})
    assert w.selected == (1, 1) and w.aggregation == "column"


def test_observable_traits():
    w = ConfusionWidget(np.ones((2, 3, 3), dtype=int))
    seen = []
    w.observe(lambda ch: seen.append((ch["name"], ch["new"])), names=["epoch", "selected"])
    w.epoch = 0
    w.selected = (1, 2)
    assert seen == [("epoch", 0), ("selected", (1, 2))]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"aggregation": "percent"}, ValueError, "aggregation must be one of"),
        ({"color_scale": "rainbow"}, ValueError, "color_scale must be one of"),
        ({"colormap": "jet"}, ValueError, "colormap must be one of"),
        ({"epoch": 5}, ValueError, "epoch 5 is out of range"),
        ({"selected": (0, 9)}, ValueError, "outside the 3×3 matrix"),
        ({"colour": "blues"}, TypeError, "unexpected keyword argument"),
        ({"page_size": 0}, ValueError, "page_size"),
    ],
)
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ConfusionWidget(np.eye(3, dtype=int), **kwargs)


def test_bad_labels_and_epoch_labels():
    with pytest.raises(ValueError, match="has 2 names but the matrix has 3 classes"):
        ConfusionWidget(np.eye(3, dtype=int), labels=["a", "b"])
    with pytest.raises(ValueError, match="duplicate"):
        ConfusionWidget(np.eye(2, dtype=int), labels=["a", "a"])
    with pytest.raises(ValueError, match="epoch_labels has 1 names for 2 epochs"):
        ConfusionWidget(np.ones((2, 2, 2), dtype=int), epoch_labels=["x"])


def test_epoch_out_of_range_after_construction():
    w = ConfusionWidget(np.ones((2, 2, 2), dtype=int))
    with pytest.raises(ValueError, match="out of range"):
        w.epoch = 2
    with pytest.raises(ValueError, match="epoch must be >= 0, got -1"):
        w.epoch = -1


@pytest.mark.parametrize(
    ("yt", "yp", "kw", "exc", "match"),
    [
        ([0, 1, 2], [0, 1], {}, ValueError, "y_true of epoch 0 has 3 entries but y_pred of epoch 0 has 2"),
        ([0, 1, 5], [0, 1, 1], {"labels": ["a", "b", "c"]}, ValueError, "class 5, outside"),
        (
            [0, 1],
            [0, 1],
            {"labels": ["a", "b", "c"], "images": np.zeros((3, 4, 4), np.uint8)},
            ValueError,
            "images has 3 items but there are 2 samples",
        ),
        ([], [], {}, ValueError, "empty"),
        ([0, 1], np.zeros((2, 3)), {"labels": ["a", "b"]}, ValueError, "3 columns but labels has 2"),
        ([0, 1], [0, 1], {"sample_ids": [7, 7]}, ValueError, "duplicates"),
        ([0, 1], [[0, 1], [1, 1, 0]], {}, ValueError, "y_pred of epoch 1 has 3 entries"),
        ([[0, 1], [0, 1]], [[0, 1], [1, 1], [0, 0]], {}, ValueError, "y_true has 2 epochs but y_pred has 3"),
        ([0, 1], [0, 1], {"images": "folder/"}, TypeError, "not a single path"),
        ([0, 1], [0, 1], {"images": 42}, TypeError, "images must be"),
    ],
)
def test_from_predictions_bad_input(yt, yp, kw, exc, match):
    with pytest.raises(exc, match=match):
        ConfusionWidget.from_predictions(yt, yp, **kw)


def test_from_predictions_matches_counts_and_infers_classes():
    rng = np.random.default_rng(1)
    yt, yp = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    w = ConfusionWidget.from_predictions(torch.tensor(yt), torch.tensor(yp))
    from sklearn.metrics import confusion_matrix

    np.testing.assert_array_equal(w.matrix, confusion_matrix(yt, yp))
    assert w.labels == ["0", "1", "2", "3"]


def test_selected_samples_are_the_cell_most_confident_first():
    w, yt, logits = make_run_widget()
    probs = torch.softmax(torch.tensor(logits[-1]), 1).numpy()
    yp = probs.argmax(1)
    r, c = 1, 3
    expected = np.flatnonzero((yt == r) & (yp == c))
    expected = expected[np.argsort(-probs[expected, c], kind="stable")]
    w.selected = (r, c)
    assert w.selected_samples == expected.tolist()
    w.epoch = 0
    yp0 = logits[0].argmax(1)
    assert sorted(w.selected_samples) == np.flatnonzero((yt == r) & (yp0 == c)).tolist()
    w.selected = None
    assert w.selected_samples == []


def test_string_sample_ids():
    w = ConfusionWidget.from_predictions([0, 1, 1], [0, 0, 1], sample_ids=["a.png", "b.png", "c.png"])
    w.selected = (1, 0)
    assert w.selected_samples == ["b.png"]


def test_cell_message_pages_and_thumbnails(monkeypatch):
    w, _yt, _logits = make_run_widget(n=2000, k=3)
    out = sent(w, monkeypatch)
    w.selected = (0, 0)
    ids = w.selected_samples
    assert len(ids) > 30
    w._on_msg(
        w,
        {"type": "cell", "id": 1, "epoch": w.epoch, "tile": 0, "row": 0, "col": 0, "offset": 0, "limit": 25},
        [],
    )
    reply, bufs = out[-1]
    assert reply["id"] == 1 and reply["total"] == len(ids)
    assert [s["id"] for s in reply["samples"]] == ids[:25]
    assert len(bufs) == 25 and all(b[:4] == b"\x89PNG" for b in bufs)
    assert [s["buffer"] for s in reply["samples"]] == list(range(25))
    conf = [s["confidence"] for s in reply["samples"]]
    assert conf == sorted(conf, reverse=True)
    w._on_msg(
        w, {"type": "cell", "id": 2, "epoch": w.epoch, "row": 0, "col": 0, "offset": 25, "limit": 25}, []
    )
    assert [s["id"] for s in out[-1][0]["samples"]] == ids[25:50]


def test_thumbnails_are_made_once(monkeypatch):
    w, *_ = make_run_widget(n=50, k=2)
    calls = []
    real = w.source.images._make
    monkeypatch.setattr(w.source.images, "_make", lambda pos, size: calls.append(pos) or real(pos, size))
    for _ in range(3):
        answer(w.source, {"type": "cell", "epoch": 0, "row": 0, "col": 0, "offset": 0, "limit": 50})
    assert len(calls) == len(set(calls)) > 0


@pytest.mark.parametrize(
    "msg",
    [
        {"type": "cell", "id": 3},  # missing fields
        {"type": "cell", "id": 3, "epoch": 99, "row": 0, "col": 0},
        {"type": "cell", "id": 3, "epoch": 0, "row": 0, "col": 99},
        {"type": "cell", "id": 3, "epoch": "x", "row": 0, "col": 0},
        {"type": "image", "id": 3, "sample": 10**9},
        {"type": "image", "id": 3},
    ],
)
def test_malformed_messages_get_an_error_reply(monkeypatch, msg):
    w, *_ = make_run_widget(n=40, k=2)
    out = sent(w, monkeypatch)
    w._on_msg(w, msg, [])
    reply, _ = out[-1]
    assert reply["type"] == "error" and reply["id"] == 3 and reply["error"]


def test_unrelated_messages_are_ignored(monkeypatch):
    w, *_ = make_run_widget(n=40, k=2)
    out = sent(w, monkeypatch)
    for msg in [None, "hello", [1, 2], {"type": "nope"}, {}, {"type": "cell", "id": "x"}]:
        w._on_msg(w, msg, [])
    assert out == []  # not requests (no integer id): nothing to answer


def test_unknown_request_types_are_answered(monkeypatch):
    w, *_ = make_run_widget(n=40, k=2)
    out = sent(w, monkeypatch)
    w._on_msg(w, {"type": "nope", "id": 4}, [])
    assert out == [
        (
            {
                "type": "error",
                "id": 4,
                "error": "ValueError: unknown request type 'nope'; expected one of ['cell', 'counts', 'image'].",
            },
            [],
        )
    ]


def test_bad_state_from_frontend_does_not_raise(monkeypatch):
    w = ConfusionWidget(np.ones((2, 3, 3), dtype=int))
    resent = []
    monkeypatch.setattr(w, "send_state", lambda keys=None: resent.append(keys))
    w.set_state({"epoch": 7})
    w.set_state({"aggregation": "nonsense"})
    w.set_state({"selected": [5, 5]})
    assert (w.epoch, w.aggregation, w.selected) == (1, "count", None)
    assert resent == [["epoch"], ["aggregation"], ["selected"]]


def test_unreadable_image_gives_placeholder_and_warning(tmp_path, monkeypatch):
    good = tmp_path / "good.png"
    from PIL import Image

    Image.new("RGB", (10, 10), "red").save(good)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    w = ConfusionWidget.from_predictions([0, 0], [1, 1], labels=["a", "b"], images=[good, bad])
    out = sent(w, monkeypatch)
    with pytest.warns(ConfusionWidgetWarning, match="could not read the image of sample 1"):
        w._on_msg(w, {"type": "cell", "id": 1, "epoch": 0, "row": 0, "col": 1}, [])
    reply, bufs = out[-1]
    by_id = {s["id"]: s for s in reply["samples"]}
    assert by_id[0]["buffer"] == 0 and by_id[0]["error"] is None
    assert by_id[1]["buffer"] == -1 and "UnidentifiedImageError" in by_id[1]["error"]
    assert len(bufs) == 1


def test_image_message_returns_large_view(monkeypatch):
    w, *_ = make_run_widget(n=20, k=2)
    out = sent(w, monkeypatch)
    w._on_msg(w, {"type": "image", "id": 4, "sample": 3}, [])
    reply, bufs = out[-1]
    assert reply["type"] == "image" and reply["buffer"] == 0 and len(bufs) == 1
    assert (reply["width"], reply["height"]) == (8, 8)


def test_bare_matrix_cells_have_no_samples(monkeypatch):
    w = ConfusionWidget(np.eye(2, dtype=int) * 3)
    out = sent(w, monkeypatch)
    w._on_msg(w, {"type": "cell", "id": 1, "epoch": 0, "row": 0, "col": 0}, [])
    assert out[-1][0]["total"] == 0


def test_initial_counts_are_the_epochs_nearest_the_current_one(monkeypatch):
    monkeypatch.setattr(wire, "INITIAL_BYTES", 3 * (16 + 120))  # room for 3 dense 4×4 uint8 epochs
    mats = np.arange(1, 11)[:, None, None] * np.ones((10, 4, 4), dtype=int)
    w = ConfusionWidget(mats)
    assert sorted(decode(w._counts)[1]) == [7, 8, 9]
    assert ConfusionWidget(mats, epoch=4)._counts != w._counts
    assert sorted(decode(ConfusionWidget(mats, epoch=4)._counts)[1]) == [3, 4, 5]


def test_counts_requests_are_answered_in_parts_under_the_chunk_size(monkeypatch):
    rng = np.random.default_rng(0)
    mats = rng.integers(0, 1000, (3, 200, 200))  # dense: 80 kB a tile as uint16
    w = ConfusionWidget(mats)
    monkeypatch.setattr(wire, "CHUNK_BYTES", 50_000)
    out = sent(w, monkeypatch)
    w._on_msg(w, {"type": "counts", "id": 5, "epochs": [2, 0, 2]}, [])
    assert [m["done"] for m, _ in out] == [False] * (len(out) - 1) + [True]
    assert all(m == {"type": "counts", "id": 5, "revision": 0, "done": m["done"]} for m, _ in out)
    assert max(len(b[0]) for _, b in out) <= 50_000
    rows = [(blk[0], blk[2]) for _, b in out for blk in blocks(b[0])]
    assert sorted({e for e, _ in rows}) == [0, 2]  # each epoch once, though asked twice
    assert len(rows) == len(set(rows))
    whole = decode(*(b[0] for _, b in out))[1]
    np.testing.assert_array_equal(whole[0][0], mats[0])
    np.testing.assert_array_equal(whole[2][0], mats[2])


def test_live_run_follows_latest_epoch_unless_moved():
    from confusion_widget import Run

    run = Run(["a", "b"], [0, 1, 1], [[0, 1, 0]])
    w = ConfusionWidget(run)
    assert w.n_epochs == 1
    run.append_epoch([0, 1, 1], [0, 1, 1])
    assert (w.n_epochs, w.epoch) == (2, 1)
    assert w.matrix.tolist() == [[1, 0], [0, 2]]
    w.epoch = 0  # the user moved the slider: stay
    run.append_epoch([0, 1, 1], [1, 1, 1])
    assert (w.n_epochs, w.epoch) == (3, 0)
    assert len(w._accuracy) == 3


def test_esm_is_text_not_path():
    # A Path _esm keeps widgets alive forever (anywidget #929)
    assert isinstance(ConfusionWidget._esm, str)


def test_metrics_follow_the_epoch_while_a_table_is_open():
    from sklearn.metrics import recall_score

    w, yt, logits = make_run_widget()
    assert w._has_metrics and w._metrics == []  # no table open: no rows sent
    w._metrics_open = True  # as the frontend sets it when a table opens
    assert [m["label"] for m in w._metrics] == w.labels
    for e in (0, 2):
        w.epoch = e
        expected = recall_score(yt, logits[e].argmax(1), average=None)
        np.testing.assert_allclose([m["recall"] for m in w._metrics], expected, atol=1e-6)  # 6 decimals
    w._metrics_open = False
    assert w._metrics == []
    w.epoch = 1  # closed: no rows (test_counts checks no message carries them)
    assert w._metrics == []
    bare = ConfusionWidget(np.eye(2, dtype=int))
    bare._metrics_open = True
    assert bare._metrics == []


def test_threshold_trait_rethresholds_multilabel_scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 4))
    scores = np.clip(y * 0.6 + rng.random((200, 4)) * 0.5, 0, 1)
    w = ConfusionWidget.from_multilabel(y, scores)
    assert w.threshold == 0.5
    w.threshold = 0.8
    expected = ConfusionWidget.from_multilabel(y, scores, threshold=0.8)
    np.testing.assert_array_equal(w.matrix, expected.matrix)
    w._metrics_open = expected._metrics_open = True
    assert w._metrics == expected._metrics and w._metrics
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        w.threshold = 1.5
    binary = ConfusionWidget.from_multilabel(y, y)
    assert binary.threshold is None
    with pytest.raises(ValueError, match="MultiLabelSource has none"):
        binary.threshold = 0.3
    with pytest.raises(ValueError, match="MatrixSource has none"):
        ConfusionWidget(np.eye(2, dtype=int), threshold=0.5)


def test_threshold_option_at_construction():
    y = np.array([[1, 0], [0, 1], [1, 1]])
    scores = np.array([[0.9, 0.4], [0.2, 0.7], [0.6, 0.65]])
    w = ConfusionWidget(ConfusionWidget.from_multilabel(y, scores).source, threshold=0.66)
    np.testing.assert_array_equal(w.matrix, ConfusionWidget.from_multilabel(y, scores, threshold=0.66).matrix)
    assert w.threshold == pytest.approx(0.66)


# -- every bad option names itself -------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"epoch": "last"}, TypeError, "epoch must be an integer, got str 'last'"),
        ({"epoch": 1.5}, TypeError, "epoch must be an integer, got float 1.5"),
        ({"epoch": True}, TypeError, "epoch must be an integer"),
        ({"epoch": -1}, ValueError, "epoch must be >= 0"),
        ({"aggregation": 3}, ValueError, "aggregation must be one of"),
        ({"colormap": None}, ValueError, "colormap must be one of"),
        ({"hide_diagonal": "yes"}, TypeError, "hide_diagonal must be True or False"),
        ({"selected": (1,)}, TypeError, r"selected must be None or a \(row, col\) pair"),
        ({"selected": (0, -1)}, ValueError, "selected must be a cell inside the matrix"),
        ({"selected": "a1"}, TypeError, "selected must be None"),
        ({"selected_tile": 1}, ValueError, "selected_tile 1 is out of range"),
        ({"page_size": 2.5}, TypeError, "page_size must be an integer"),
        ({"title": 5}, TypeError, "title must be a string"),
        ({"threshold": "x"}, TypeError, "threshold must be a number"),
        ({"threshold": float("nan")}, ValueError, r"threshold must be in \[0, 1\]"),
    ],
)
def test_every_bad_option_names_the_option(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ConfusionWidget(np.eye(3, dtype=int), **kwargs)
    w = ConfusionWidget(np.eye(3, dtype=int))
    before = w.get_state()
    ((name, value),) = kwargs.items()
    with pytest.raises(exc, match=match):
        setattr(w, name, value)
    assert w.get_state() == before  # rejected, nothing changed


def test_options_are_the_traits_tagged_as_options():
    assert set(ConfusionWidget.class_trait_names(option=True)) == {
        "epoch",
        "aggregation",
        "color_scale",
        "colormap",
        "hide_diagonal",
        "selected",
        "selected_tile",
        "threshold",
        "page_size",
        "title",
        "order",
        "collapsed",
        "pooling",
        "score_threshold",
        "iou_threshold",
        "confidence_threshold",
    }
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['n_epochs'\]"):
        ConfusionWidget(np.eye(2, dtype=int), n_epochs=3)  # a trait, but the source's to set
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['colour'\]"):
        ConfusionWidget.from_predictions([0, 1], [0, 1], colour="red")
    w = ConfusionWidget.from_predictions([0, 1], [0, 1], name="r", aggregation="pred", title="t")
    assert (w.aggregation, w.title, w.tile_titles) == ("column", "t", ["r"])


def test_factories_show_their_sources_parameters():
    import inspect

    params = inspect.signature(ConfusionWidget.from_predictions).parameters
    assert list(params)[:5] == ["y_true", "y_pred", "labels", "images", "sample_ids"]
    assert "options" in params and "confidence" in params
    assert "y_pred" in ConfusionWidget.from_predictions.__doc__
    assert "threshold" in inspect.signature(ConfusionWidget.from_multilabel).parameters


def test_epoch_labels_of_the_wrong_length_are_refused_everywhere():
    with pytest.raises(ValueError, match="epoch_labels has 1 names for 2 epochs"):
        ConfusionWidget.from_predictions([0, 1], [[0, 1], [1, 1]], epoch_labels=["only one"])
    with pytest.raises(ValueError, match="epoch_labels has 3 names for 1 epochs"):
        ConfusionWidget.from_multilabel([[1, 0]], [[0.9, 0.1]], epoch_labels=["a", "b", "c"])
    run = ConfusionWidget.from_predictions([0, 1], [[0, 1], [1, 1]], epoch_labels=["warm-up", "final"])
    assert run.epoch_labels == ["warm-up", "final"]
    with pytest.raises(TypeError, match="epoch_labels= cannot be combined with a Run"):
        ConfusionWidget(run.source, epoch_labels=["a", "b"])


# -- scores that used to give silently wrong matrices --------------------------------------
def test_a_single_score_column_is_a_binary_classifier():
    logits = np.array([[-2.0], [0.5], [3.0], [-0.1]])
    w = ConfusionWidget.from_predictions([0, 1, 1, 1], logits)
    assert w.labels == ["0", "1"] and w.matrix.tolist() == [[1, 0], [1, 2]]
    w.selected = (1, 1)
    assert w.selected_samples == [2, 1]  # most confident first: sigmoid(3) > sigmoid(0.5)
    probs = ConfusionWidget.from_predictions(
        [0, 1, 1], np.array([[0.2], [0.5], [0.9]]), labels=["neg", "pos"]
    )
    assert probs.matrix.tolist() == [[1, 0], [0, 2]]
    with pytest.raises(ValueError, match="y_true contains class 2, outside \\[0, 2\\)"):
        ConfusionWidget.from_predictions([0, 2], np.array([[0.2], [0.9]]))


def test_a_true_class_beyond_the_score_columns_is_an_error():
    with pytest.raises(ValueError, match="y_true contains class 5, outside \\[0, 3\\)"):
        ConfusionWidget.from_predictions([0, 1, 5], np.eye(3))
    with pytest.raises(ValueError, match=r"\[3, 4\] columns in different epochs"):
        ConfusionWidget.from_predictions([0, 1], [np.zeros((2, 3)), np.zeros((2, 4))])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_torch_logits(dtype):
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(50, 4)) * 3, dtype=dtype)
    y = torch.tensor(rng.integers(0, 4, 50))
    w = ConfusionWidget.from_predictions(y, logits)
    ref = ConfusionWidget.from_predictions(y.numpy(), logits.float().numpy())
    np.testing.assert_array_equal(w.matrix, ref.matrix)
    np.testing.assert_allclose(w.source.confidence(0), ref.source.confidence(0), atol=1e-3)


# -- a live run: the widget never stops following ------------------------------------------
def test_a_widget_made_while_a_thread_records_follows_every_epoch():
    import sys
    import threading

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(30):
            run = Run(["a", "b"], [0, 1, 1], [[0, 1, 1]])
            go = threading.Event()

            def record(run=run, go=go):
                go.wait()
                for _ in range(20):
                    run.append_epoch([0, 1, 1], [1, 1, 0])

            thread = threading.Thread(target=record)
            thread.start()
            go.set()
            widgets = [ConfusionWidget(run) for _ in range(5)]
            thread.join()
            for w in widgets:
                assert (w.n_epochs, len(w.matrices), w.epoch) == (21, 21, 20)
    finally:
        sys.setswitchinterval(old)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: ConfusionWidget.from_predictions([0, 2**40], [0, 1]), ValueError, "more than the 10,000"),
        (lambda: ConfusionWidget(np.eye(2, dtype=int), labels={"a", "b"}), TypeError, "ordered list"),
        (lambda: ConfusionWidget(np.eye(2, dtype=int), labels={"a": 0, "b": 1}), TypeError, "ordered list"),
        (
            lambda: ConfusionWidget(np.ones((2, 2, 2), int), epoch_labels=3),
            TypeError,
            "epoch_labels must be a list",
        ),
        (
            lambda: ConfusionWidget.from_predictions([0, 1], [0, 1], images=np.zeros((2, 4, 4)), mean="x"),
            TypeError,
            "mean must be",
        ),
        (
            lambda: ConfusionWidget.from_predictions([0, 1], [0, 1], images=np.zeros((2, 4, 4)), std=[1, 2]),
            ValueError,
            "std must be",
        ),
        (
            lambda: ConfusionWidget(np.eye(2, dtype=int), aggregation=["row"]),
            ValueError,
            "aggregation must be one of",
        ),
        (
            lambda: ConfusionWidget.from_predictions([0, 1], torch.zeros(2, device="meta")),
            TypeError,
            "cannot read the values",
        ),
    ],
)
def test_hostile_inputs_get_clear_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_aggregation_none_is_counts_as_in_sklearn():
    assert ConfusionWidget(np.eye(2, dtype=int), aggregation=None).aggregation == "count"
