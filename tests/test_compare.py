"""Comparisons: tiles, differences and flipped samples against brute force."""

import numpy as np
import pytest

from confusion_widget import ConfusionWidget, Run
from confusion_widget.compare import align_run, flips


def random_run(name, n=400, k=4, epochs=3, seed=0, ids=None, labels=None):
    rng = np.random.default_rng(seed)
    yt = np.random.default_rng(99).integers(0, k, n)  # same truth for every run
    preds = np.where(rng.random((epochs, n)) < 0.6, yt, rng.integers(0, k, (epochs, n)))
    conf = rng.random((epochs, n)).astype(np.float32)
    labels = labels or [f"c{i}" for i in range(k)]
    return Run(labels, yt, preds, conf, ids if ids is not None else np.arange(n), name=name)


def brute_cell(run, epoch, r, c):
    return {
        int(run.sample_ids()[i])
        for i in range(run.n_samples)
        if run.y_true(epoch)[i] == r and run.y_pred(epoch)[i] == c
    }


def test_tiles_share_the_slider_and_clamp_short_runs():
    a, b = random_run("a", epochs=3), random_run("b", epochs=5, seed=1)
    w = ConfusionWidget.compare({"a": a, "b": b})
    assert w.tile_titles == ["a", "b"] and w.n_epochs == 5
    assert w._tile_epochs[4] == [2, 4] and w._tile_epochs[1] == [1, 1]
    w.epoch = 4
    np.testing.assert_array_equal(w.matrix[0], a.matrices()[2, 0])
    np.testing.assert_array_equal(w.matrix[1], b.matrices()[4, 0])
    w.selected_tile, w.selected = 0, (1, 2)
    assert set(w.selected_samples) == brute_cell(a, 2, 1, 2)


@pytest.mark.parametrize("seed", range(5))
def test_difference_tile_and_flipped_samples_match_brute_force(seed):
    a, b = random_run("a", seed=seed), random_run("b", seed=seed + 100)
    w = ConfusionWidget.compare({"a": a, "b": b}, diff=True)
    assert w._diff_of == [None, None, [0, 1]]
    for epoch in range(3):
        w.epoch = epoch
        np.testing.assert_array_equal(w.matrix[2], b.matrices()[epoch, 0] - a.matrices()[epoch, 0])
        for r in range(4):
            for c in range(4):
                w.selected_tile, w.selected = 2, (r, c)
                in_a, in_b = brute_cell(a, epoch, r, c), brute_cell(b, epoch, r, c)
                got = w.selected_samples
                assert len(got) == len(set(got))
                assert set(got) == (in_a ^ in_b)
                assert len(in_b - in_a) - len(in_a - in_b) == w.matrix[2][r, c]


def test_flips_table_matches_brute_force():
    a, b = random_run("a", seed=1), random_run("b", seed=2)
    w = ConfusionWidget.compare({"a": a, "b": b})
    w.epoch = 1
    table = w.flips("a", "b")
    expected = [i for i in range(a.n_samples) if a.y_pred(1)[i] != b.y_pred(1)[i]]
    assert table["sample_id"].tolist() == expected
    t = a.y_true(1)[expected]
    pa, pb = a.y_pred(1)[expected], b.y_pred(1)[expected]
    change = np.where(pb == t, "fixed", np.where(pa == t, "broken", "changed"))
    assert table["change"].tolist() == change.tolist()
    np.testing.assert_array_equal(table["pred_a"], pa)
    np.testing.assert_array_equal(table["confidence_b"], b.confidence(1)[expected])


def test_runs_matched_by_sample_id_not_position():
    a = random_run("a", n=50)
    perm = np.random.default_rng(5).permutation(50)
    b = Run(
        a.labels,
        a.y_true(0)[perm],
        np.stack([a.y_pred(e)[perm] for e in range(3)]),
        None,
        a.sample_ids()[perm],
        name="b",
    )
    assert len(flips(a, b, 0, 0)["sample_id"]) == 0  # same predictions, other order
    w = ConfusionWidget.compare([a, b], diff=True)
    assert not w.matrix[2].any()
    w.selected_tile, w.selected = 2, (0, 0)
    assert w.selected_samples == []


def test_class_order_is_aligned_by_name_and_mismatches_are_listed():
    a = random_run("a", labels=["cat", "dog", "eel", "fox"])
    order = [2, 0, 3, 1]  # b names its classes in another order
    names_b = [a.labels[i] for i in order]
    inv = np.argsort(order)
    b = Run(names_b, inv[a.y_true(0)], np.stack([inv[a.y_pred(e)] for e in range(3)]), name="b")
    aligned = align_run(b, a.labels)
    np.testing.assert_array_equal(aligned.matrices(), a.matrices())
    c = random_run("c", labels=["cat", "dog", "emu", "fox"])
    with pytest.raises(ValueError, match=r"not in the reference: \['emu'\]; missing from the run: \['eel'\]"):
        ConfusionWidget.compare({"a": a, "c": c})
    w = ConfusionWidget.compare({"a": a, "c": c}, mapping={"emu": "eel"})
    assert w.labels == a.labels


def test_difference_between_epochs_of_one_run():
    run = random_run("r", epochs=4)
    w = ConfusionWidget.difference(run)
    assert w.tile_titles == ["previous epoch", "this epoch", "this epoch − previous epoch"]
    w.epoch = 2
    np.testing.assert_array_equal(w.matrix[2], run.matrices()[2, 0] - run.matrices()[1, 0])
    w.epoch = 0
    assert not w.matrix[2].any()
    fixed = ConfusionWidget.difference(run, epochs=(0, 3))
    assert fixed.n_epochs == 1
    np.testing.assert_array_equal(fixed.matrix[2], run.matrices()[3, 0] - run.matrices()[0, 0])
    single = ConfusionWidget(run)
    single.epoch = 2
    expected = np.flatnonzero(run.y_pred(1) != run.y_pred(2))
    assert single.flips()["sample_id"].tolist() == expected.tolist()


def test_bad_compare_arguments():
    a = random_run("a")
    with pytest.raises(ValueError, match="diff=True needs exactly two runs"):
        ConfusionWidget.compare({"a": a, "b": a, "c": a}, diff=True)
    with pytest.raises(ValueError, match="not one of the runs"):
        ConfusionWidget.compare({"a": a, "b": a}, diff=("a", "z"))
    with pytest.raises(ValueError, match="1 to 8 runs"):
        ConfusionWidget.compare({str(i): a for i in range(9)})
    with pytest.raises(TypeError, match="bare matrix"):
        ConfusionWidget.compare({"a": a, "m": ConfusionWidget(np.eye(4, dtype=int))})
    with pytest.raises(ValueError, match="pass store="):
        ConfusionWidget.compare({"a": a, "b": "run-b"})
    with pytest.raises(ValueError, match="two runs are named 'a'"):
        ConfusionWidget.compare([a, a])


def test_sample_history_in_image_reply(monkeypatch):
    a, b = random_run("a"), random_run("b", seed=3)
    w = ConfusionWidget.compare({"a": a, "b": b})
    out = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: out.append(content))
    w._on_msg(w, {"type": "image", "id": 1, "sample": 7}, [])
    hist = out[-1]["history"]
    assert [h["title"] for h in hist] == ["a", "b"]
    assert hist[1]["pred"] == [b.labels[b.y_pred(e)[7]] for e in range(3)]
    assert out[-1]["error"] == "no images were given"


def test_runs_with_partly_different_samples():
    a = random_run("a", n=30)
    b = random_run("b", n=30, seed=4, ids=np.arange(10, 40))  # 20 shared samples
    w = ConfusionWidget.compare({"a": a, "b": b}, diff=True)
    assert w.source.sample_ids().tolist() == list(range(40))
    for r in range(4):
        for c in range(4):
            w.selected_tile, w.selected = 2, (r, c)
            assert set(w.selected_samples) == brute_cell(a, 2, r, c) ^ brute_cell(b, 2, r, c)
    table = flips(a, b, 0, 0)
    shared = set(range(10, 30))
    assert set(table["sample_id"].tolist()) <= shared
    assert len(table["sample_id"]) == sum(a.y_pred(0)[i] != b.y_pred(0)[i - 10] for i in range(10, 30))


def test_epochs_outside_the_run_are_errors_not_wrapped():
    run = Run(["x", "y"], [0, 1, 1], [[0, 0, 1], [0, 1, 1], [1, 1, 1]])
    with pytest.raises(ValueError, match=r"epochs\[1\] 99 is out of range"):
        ConfusionWidget.difference(run, epochs=(0, 99))
    with pytest.raises(ValueError, match=r"epochs\[0\] -4 is out of range"):
        ConfusionWidget.difference(run, epochs=(-4, 1))
    assert ConfusionWidget.difference(run, epochs=(0, -1)).epoch_labels == ["epoch 2 vs epoch 0"]
    w = ConfusionWidget(run)
    with pytest.raises(ValueError, match="epoch_b 99 is out of range"):
        w.flips(0, 99)
    with pytest.raises(ValueError, match="epoch_a 3 is out of range"):
        flips(run, run, 3, 0)
    assert w.flips(0, -1)["sample_id"].tolist() == [0, 1]
    with pytest.raises(TypeError, match="must be an epoch of the run"):
        w.flips("a", "b")
    both = ConfusionWidget.compare({"a": run, "b": run})
    with pytest.raises(ValueError, match="b='c' is not one of the runs"):
        both.flips("a", "c")
    with pytest.raises(ValueError, match="b 5 is out of range"):
        both.flips(0, 5)
    with pytest.raises(TypeError, match="pair"):
        ConfusionWidget.difference(run, epochs=3)
    with pytest.raises(TypeError, match="diff must be"):
        ConfusionWidget.compare({"a": run, "b": run}, diff="a")


def test_compare_errors_name_the_run_and_the_argument():
    a, b = Run(["x", "y"], [0, 1], [[0, 1]]), Run(["x", "z"], [0, 1], [[0, 1]])
    with pytest.raises(ValueError, match="run 'second': the run has different classes"):
        ConfusionWidget.compare({"first": a, "second": b})
    with pytest.raises(TypeError, match="mapping must be a dict"):
        ConfusionWidget.compare({"first": a, "second": b}, mapping=3)
