"""Subsets with "(other)", hierarchies collapsed into sums, the order drawn and
focus() (issue 11) — every figure checked against numpy on the full matrix."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from confusion_widget import ConfusionWidget, Run
from confusion_widget.classview import ClassView, Hierarchy, display_order
from confusion_widget.grouping import grouped_source
from confusion_widget.wire import answer

LABELS = ["animal/dog/terrier", "animal/dog/poodle", "animal/cat", "car", "plant/tree", "plant/rose"]


def block_sum(m: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """``m`` summed over ``groups`` of indices (rows and columns), computed cell by cell."""
    d = len(groups)
    out = np.zeros((d, d), np.int64)
    for i, gi in enumerate(groups):
        for j, gj in enumerate(groups):
            out[i, j] = m[np.ix_(gi, gj)].sum()
    return out


@pytest.fixture
def mats():
    rng = np.random.default_rng(3)
    return rng.integers(0, 9, (3, 6, 6))


@pytest.fixture
def predictions():
    """A run of 400 samples over 2 epochs with confidences."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 6, 400)
    pred = np.where(rng.random((2, 400)) < 0.6, y, rng.integers(0, 6, (2, 400)))
    conf = rng.random((2, 400)).astype(np.float32)
    return y, pred, conf


# -- hierarchies --------------------------------------------------------------------------
def test_separator_groups_are_full_paths_outer_first():
    h = Hierarchy.from_separator(LABELS, "/")
    assert h.groups == ["animal", "animal/dog", "plant"]
    assert h.members["animal"].tolist() == [0, 1, 2]
    assert h.members["animal/dog"].tolist() == [0, 1]
    assert h.chain[0] == ["animal/dog", "animal"] and h.chain[3] == []


@pytest.mark.parametrize(
    ("labels", "hierarchy", "match"),
    [
        (["a", "b"], {"a": "g", "g": "h", "h": "g"}, "cycle: g → h → g"),
        (["a", "b"], {"a": "a"}, "both a class and a group"),
        (["a", "b"], {"a": "b"}, "both a class and a group"),
        (["dog", "cat"], {"dgo": "animal"}, "Did you mean 'dog'"),
    ],
)
def test_bad_hierarchies_are_clear_value_errors(labels, hierarchy, match):
    with pytest.raises(ValueError, match=match):
        ConfusionWidget(np.eye(2, dtype=int), labels=labels, hierarchy=hierarchy)


def test_a_class_that_is_also_a_path_prefix_is_refused():
    with pytest.raises(ValueError, match="both a class and a group"):
        ConfusionWidget(np.eye(2, dtype=int), labels=["a", "a/b"], label_separator="/")


def test_hierarchy_arguments_of_the_wrong_kind():
    with pytest.raises(TypeError, match="hierarchy must be a mapping"):
        ConfusionWidget(np.eye(2, dtype=int), hierarchy=[("0", "g")])
    with pytest.raises(ValueError, match="not both"):
        ConfusionWidget(np.eye(2, dtype=int), hierarchy={"0": "g"}, label_separator="/")
    with pytest.raises(TypeError, match="label_separator must be a non-empty string"):
        ConfusionWidget(np.eye(2, dtype=int), label_separator="")


# -- collapsed groups are sums --------------------------------------------------------------
def test_collapsed_groups_are_sums_at_every_epoch(mats):
    w = ConfusionWidget(mats, labels=LABELS, label_separator="/", collapsed=["animal/dog", "plant"])
    assert w.labels == ["animal/dog", "animal/cat", "car", "plant"]
    groups = [[0, 1], [2], [3], [4, 5]]
    for e in range(3):
        np.testing.assert_array_equal(w.matrices[e], block_sum(mats[e], groups))
    assert w.matrices.sum() == mats.sum()
    np.testing.assert_array_equal(w.source.matrices()[:, 0], mats)  # the full source stays
    assert w._label_groups == ["animal", "animal", None, None]
    # the outer group wins; the inner stays remembered in `collapsed`
    w.collapsed = ["animal/dog", "plant", "animal"]
    assert w.labels == ["animal", "car", "plant"]
    np.testing.assert_array_equal(w.matrix, block_sum(mats[-1], [[0, 1, 2], [3], [4, 5]]))
    w.collapsed = []
    np.testing.assert_array_equal(w.matrix, mats[-1])
    assert w._label_groups == ["animal/dog", "animal/dog", "animal", None, "plant", "plant"]


def test_collapsing_clears_the_selection_and_resends(mats):
    w = ConfusionWidget(mats, labels=LABELS, label_separator="/", selected=(4, 5))
    revision = w._revision
    w.collapsed = ["plant"]
    assert w.selected is None and w._revision == revision + 1
    assert w.display_order == [0, 1, 2, 3, 4]
    # accuracy follows the displayed counts (a collapsed group's inner errors become hits)
    m = block_sum(mats[-1], [[0], [1], [2], [3], [4, 5]])
    assert w._accuracy[-1][0] == pytest.approx(np.trace(m) / m.sum())


def test_bad_collapsed_names_suggest_groups(mats):
    w = ConfusionWidget(mats, labels=LABELS, label_separator="/")
    with pytest.raises(ValueError, match="Did you mean 'plant'"):
        w.collapsed = ["plnat"]
    with pytest.raises(ValueError, match="Did you mean 'animal/dog'"):
        ConfusionWidget(mats, labels=LABELS, label_separator="/", collapsed=["animal/dgo"])
    with pytest.raises(ValueError, match="has none"):
        ConfusionWidget(mats).collapsed = ["x"]
    with pytest.raises(TypeError, match="collapsed must be a list of names"):
        w.collapsed = "plant"


def test_the_frontend_collapses_by_clicking_and_bad_clicks_are_rolled_back(mats, caplog):
    w = ConfusionWidget(mats, labels=LABELS, label_separator="/")
    w.set_state({"collapsed": ["animal"]})
    assert w.labels == ["animal", "car", "plant/tree", "plant/rose"]
    with caplog.at_level(logging.WARNING, logger="confusion_widget"):
        w.set_state({"collapsed": ["nope"]})
    assert w.collapsed == ["animal"] and "ignored a bad update" in caplog.text


# -- subsets and "(other)" -------------------------------------------------------------------
def test_classes_subset_conserves_counts_in_other(mats):
    w = ConfusionWidget(mats, labels=LABELS, classes=["car", "animal/cat"])
    assert w.labels == ["animal/cat", "car", "(other)"]  # index order, "(other)" last
    groups = [[2], [3], [0, 1, 4, 5]]
    for e in range(3):
        np.testing.assert_array_equal(w.matrices[e], block_sum(mats[e], groups))
        assert w.matrices[e].sum() == mats[e].sum()
    assert w._label_groups == [None, None, None]


def test_classes_may_name_groups_and_indices(mats):
    w = ConfusionWidget(mats, labels=LABELS, label_separator="/", classes=["plant", 3])
    assert w.labels == ["car", "plant/tree", "plant/rose", "(other)"]
    np.testing.assert_array_equal(w.matrix, block_sum(mats[-1], [[3], [4], [5], [0, 1, 2]]))


def test_top_k_keeps_the_classes_with_most_errors(mats):
    w = ConfusionWidget(mats, labels=LABELS, top_k=3, epoch=1)
    m = mats[1] - np.diag(np.diag(mats[1]))
    errors = m.sum(axis=0) + m.sum(axis=1)
    top = sorted(sorted(range(6), key=lambda i: (-errors[i], i))[:3])
    rest = [i for i in range(6) if i not in top]
    assert w.labels == [LABELS[i] for i in top] + ["(other)"]
    np.testing.assert_array_equal(w.matrices[1], block_sum(mats[1], [[i] for i in top] + [rest]))
    assert ConfusionWidget(mats, top_k=6).labels == ["0", "1", "2", "3", "4", "5"]  # all: no "(other)"


def test_bad_subsets(mats):
    with pytest.raises(ValueError, match="Did you mean 'animal/cat'"):
        ConfusionWidget(mats, labels=LABELS, classes=["animal/kat"])
    with pytest.raises(ValueError, match="not both"):
        ConfusionWidget(mats, classes=["0"], top_k=2)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        ConfusionWidget(mats, top_k=0)
    with pytest.raises(TypeError, match="top_k must be an integer"):
        ConfusionWidget(mats, top_k=2.5)
    with pytest.raises(ValueError, match="classes is empty"):
        ConfusionWidget(mats, classes=[])


def test_subset_and_collapse_together():
    # a collapsed group takes all its classes, even those outside the subset
    v = ClassView(
        LABELS, np.array([1, 0, 0, 1, 1, 0], bool), Hierarchy.from_separator(LABELS, "/"), ["animal/dog"]
    )
    assert v.labels == ["animal/dog", "car", "plant/tree", "(other)"]
    assert v.mapping.tolist() == [0, 0, 3, 1, 2, 3]


# -- cells, samples, metrics through the grouping -----------------------------------------
def test_a_grouped_cell_is_the_union_of_its_samples_most_confident_first(predictions):
    y, pred, conf = predictions
    w = ConfusionWidget.from_predictions(
        y, list(pred), labels=LABELS, confidence=list(conf), label_separator="/", collapsed=["animal"]
    )
    assert w.labels == ["animal", "car", "plant/tree", "plant/rose"]
    w.selected = (0, 0)  # animal → animal, at the last epoch
    inside = np.flatnonzero(np.isin(y, [0, 1, 2]) & np.isin(pred[1], [0, 1, 2]))
    expected = inside[np.argsort(-conf[1][inside], kind="stable")]
    assert w.selected_samples == expected.tolist()
    assert len(expected) == w.matrix[0, 0]
    # the panel's request goes through the grouping too
    reply, _ = answer(
        w._shown, {"type": "cell", "id": 1, "epoch": 1, "tile": 0, "row": 3, "col": 0, "limit": 5}
    )
    rose_as_animal = np.flatnonzero((y == 5) & np.isin(pred[1], [0, 1, 2]))
    assert reply["total"] == len(rose_as_animal) == w.matrix[3, 0]


def test_grouped_metrics_follow_the_displayed_counts(predictions):
    y, pred, _ = predictions
    w = ConfusionWidget.from_predictions(y, list(pred), labels=LABELS, classes=["car"])
    m = w.matrix
    w._metrics_open = True
    rows = {r["label"]: r for r in w._metrics}
    assert list(rows) == ["car", "(other)"]
    assert rows["(other)"]["support"] == m[1].sum() == np.sum(y != 3)
    assert rows["car"]["recall"] == pytest.approx(m[0, 0] / m[0].sum())
    assert rows["car"]["precision"] == pytest.approx(m[0, 0] / m[:, 0].sum())


def test_every_constructor_takes_the_view_arguments(predictions):
    y, pred, conf = predictions
    a = Run(LABELS, y, pred, conf, name="a")
    b = Run(LABELS, y, pred[::-1], conf[::-1], name="b")
    w = ConfusionWidget.compare({"a": a, "b": b}, diff=True, label_separator="/", collapsed=["plant"])
    assert w.labels[-1] == "plant" and w.matrices.shape == (2, 3, 5, 5)
    np.testing.assert_array_equal(
        w.matrices[:, 0], [block_sum(a.matrices()[e, 0], [[0], [1], [2], [3], [4, 5]]) for e in range(2)]
    )
    d = ConfusionWidget.difference(a, top_k=2)
    assert len(d.labels) == 3 and d.labels[-1] == "(other)"


def test_a_difference_cell_ignores_samples_that_moved_inside_a_group():
    # sample 0 moves terrier → poodle (inside animal/dog); sample 1 moves poodle → car
    labels = LABELS[:4]
    run = Run(labels, [0, 1, 3], [[0, 1, 3], [1, 3, 3]], [[0.9, 0.8, 0.7], [0.6, 0.5, 0.4]])
    w = ConfusionWidget.difference(run, label_separator="/", collapsed=["animal/dog"])
    assert w.labels == ["animal/dog", "animal/cat", "car"]
    diff = w.matrix[2]
    assert diff[0].tolist() == [-1, 0, 1] and diff.sum() == 0
    same = w._shown.cell(1, 2, 0, 0)
    assert [x["change"] for x in same.extra] == ["left"] and same.positions.tolist() == [1]
    moved = w._shown.cell(1, 2, 0, 2)
    assert [x["change"] for x in moved.extra] == ["entered"] and moved.positions.tolist() == [1]


def test_a_live_run_keeps_its_grouping_and_order(predictions):
    y, pred, conf = predictions
    run = Run(LABELS, y, pred[:1], conf[:1])
    w = ConfusionWidget(run, classes=["car", "plant/rose"], order="errors")
    order = list(w.display_order)
    run.append_epoch(y, pred[1], conf[1])
    assert w.n_epochs == 2
    np.testing.assert_array_equal(w.matrix, block_sum(run.matrices()[1, 0], [[3], [5], [0, 1, 2, 4]]))
    assert w.display_order == order  # stays put


# -- order -----------------------------------------------------------------------------------
def test_orders_are_permutations_of_the_displayed_classes(mats):
    w = ConfusionWidget(mats, labels=LABELS, epoch=0)
    assert w.display_order == [0, 1, 2, 3, 4, 5]
    w.order = "name"
    assert [w.labels[i] for i in w.display_order] == sorted(LABELS)
    w.order = "ERRORS"
    m = mats[0] - np.diag(np.diag(mats[0]))
    errors = m.sum(axis=0) + m.sum(axis=1)
    assert w.order == "errors"
    assert w.display_order == sorted(range(6), key=lambda i: (-errors[i], i))
    before = list(w.display_order)
    w.epoch = 2  # data-driven orders stay put while the slider moves
    assert w.display_order == before
    w.order = "cluster"
    assert sorted(w.display_order) == list(range(6))
    w.order = ["car", "animal/cat"]  # these first, then the rest in index order
    assert w.display_order == [3, 2, 0, 1, 4, 5]


def test_other_stays_last_and_names_inside_groups_place_the_group(mats):
    w = ConfusionWidget(
        mats, labels=LABELS, label_separator="/", classes=["car", "plant"], collapsed=["plant"]
    )
    assert w.labels == ["car", "plant", "(other)"]
    w.order = "name"
    assert w.display_order == [0, 1, 2]
    w.order = "errors"
    assert w.display_order[-1] == 2
    w.order = ["plant/rose", "animal/cat"]  # a collapsed group's class, a class in "(other)"
    assert w.display_order == [1, 2, 0]


def test_bad_orders_name_the_option_and_suggest(mats):
    w = ConfusionWidget(mats, labels=LABELS)
    with pytest.raises(ValueError, match="Did you mean 'cluster'"):
        w.order = "clustre"
    with pytest.raises(ValueError, match="Did you mean 'animal/cat'"):
        w.order = ["animal/kat"]
    with pytest.raises(ValueError, match="more than once"):
        w.order = ["car", "car"]
    with pytest.raises(TypeError, match="order must be"):
        ConfusionWidget(mats, order=3)
    assert w.order == "index"


def test_display_order_helper_without_counts():
    v = ClassView(["b", "a", "c"], np.array([1, 1, 0], bool))
    assert display_order("errors", v) == [0, 1, 2]
    assert display_order("cluster", v) == [0, 1, 2]
    assert display_order("name", v) == [1, 0, 2]


# -- focus -----------------------------------------------------------------------------------
def test_focus_finds_the_displayed_row_of_a_class(mats, monkeypatch):
    w = ConfusionWidget(
        mats, labels=LABELS, label_separator="/", classes=["animal", "car"], collapsed=["animal/dog"]
    )
    assert w.labels == ["animal/dog", "animal/cat", "car", "(other)"]
    w.focus("car")
    first = w._focus
    assert first[0] == 2
    w.focus("car")  # again: a new nonce, so the frontend scrolls again
    assert w._focus[0] == 2 and w._focus[1] != first[1]
    w.focus("animal/dog/poodle")  # hidden in a collapsed group
    assert w._focus[0] == 0
    w.focus("plant/rose")  # outside the subset
    assert w._focus[0] == 3
    with pytest.raises(ValueError, match="Did you mean 'car'"):
        w.focus("cat")
    sent = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append(content))
    w.focus()  # ipywidgets' DOMWidget.focus
    assert sent == [{"do": "focus"}]


def test_no_view_means_the_source_itself(mats):
    w = ConfusionWidget(mats, labels=LABELS, label_separator="/")
    assert w._shown is w.source
    run = Run(["a", "b"], [0, 1], [[0, 1]])
    assert grouped_source(run, ClassView(run.labels)) is run


def test_a_grouped_cell_of_a_compared_run_merges_its_cells_most_confident_first(predictions):
    y, pred, conf = predictions
    a = Run(LABELS, y, pred[:1], conf[:1], name="a")
    b = Run(LABELS, y, pred[1:], conf[1:], name="b")
    w = ConfusionWidget.compare({"a": a, "b": b}, classes=["car"], selected_tile=1)
    assert w.labels == ["car", "(other)"]
    w.selected = (1, 1)  # (other) → (other) in run b: many source cells merged
    inside = np.flatnonzero((y != 3) & (pred[1] != 3))
    expected = inside[np.argsort(-conf[1][inside], kind="stable")]
    assert w.selected_samples == expected.tolist()
    assert w.selected_samples == w.selected_samples  # the cached merge gives the same
    reply, _ = answer(
        w._shown, {"type": "cell", "id": 1, "epoch": 0, "tile": 1, "row": 1, "col": 1, "offset": 25}
    )
    assert [s["id"] for s in reply["samples"]] == expected[25:50].tolist()


def test_a_replaced_source_keeps_the_view(mats):
    """The abstention option swaps the source for one with an extra class: the
    subset, hierarchy and collapsed groups carry over, the new class is shown."""
    from confusion_widget.sources import MatrixSource

    w = ConfusionWidget(
        mats, labels=LABELS, label_separator="/", classes=["animal", "car"], collapsed=["animal/dog"]
    )
    bigger = np.zeros((3, 7, 7), np.int64)
    bigger[:, :6, :6] = mats
    bigger[:, 0, 6] = 5  # terrier → abstain
    src = MatrixSource(bigger, [*LABELS, "abstain"])
    w._source = src
    w._init_view(src, {"order": w.order})
    w._on_source_changed()
    assert w.labels == ["animal/dog", "animal/cat", "car", "abstain", "(other)"]
    assert w.collapsed == ["animal/dog"]
    np.testing.assert_array_equal(w.matrix, block_sum(bigger[-1], [[0, 1], [2], [3], [6], [4, 5]]))
    assert sorted(w.display_order) == list(range(5))
