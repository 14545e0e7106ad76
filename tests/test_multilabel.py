"""Multi-label confusion: the MLCM rule case by case, against a per-sample reference,
per-label 2×2 against sklearn, cells → samples, thresholds, bad inputs, the widget."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import multilabel_confusion_matrix, precision_recall_fscore_support

from confusion_widget import ConfusionWidget
from confusion_widget import mlcm as mlcm_module
from confusion_widget.mlcm import NO_LABEL, mlcm, mlcm_entries, multilabel_metrics, per_label_confusion
from confusion_widget.multilabel import multilabel_source
from confusion_widget.wire import answer


def _onehot(sets: list[set[int]], n_labels: int) -> np.ndarray:
    out = np.zeros((len(sets), n_labels), dtype=np.int64)
    for i, s in enumerate(sets):
        out[i, list(s)] = 1
    return out


def _reference_entries(y_true: np.ndarray, y_pred: np.ndarray) -> list[tuple[int, int, int]]:
    """The rule of DESIGN.md, written out per sample with Python sets."""
    n_labels = y_true.shape[1]
    out = []
    for s, (tr, pr) in enumerate(zip(y_true, y_pred)):
        t = {int(i) for i in np.flatnonzero(tr)}
        p = {int(i) for i in np.flatnonzero(pr)}
        if not t and not p:
            out.append((n_labels, n_labels, s))
        elif not t:
            out += [(n_labels, j, s) for j in p]
        elif not p:
            out += [(i, n_labels, s) for i in t]
        else:
            out += [(i, i, s) for i in t & p]
            t2, p2 = t - p, p - t
            if t2 and not p2:
                out += [(i, n_labels, s) for i in t2]
            elif p2 and not t2:
                out += [(i, j, s) for i in t for j in p2]
            elif t2 and p2:
                out += [(i, j, s) for i in t2 for j in p2]
    return sorted(out)


def _entries(y_true: np.ndarray, y_pred: np.ndarray) -> list[tuple[int, int, int]]:
    r, c, s = mlcm_entries(y_true, y_pred)
    return sorted(zip(r.tolist(), c.tolist(), s.tolist()))


def _matrix_of(cells: list[tuple[int, int]], n_labels: int) -> np.ndarray:
    m = np.zeros((n_labels + 1, n_labels + 1), dtype=np.int64)
    for r, c in cells:
        m[r, c] += 1
    return m


# -- every case of the rule, by hand (L = 5, index 5 = no label) ------------------------
CASES = {
    "T empty, P empty": (set(), set(), [(5, 5)]),
    "T empty, P not": (set(), {0, 2}, [(5, 0), (5, 2)]),
    "P empty, T not": ({1, 3}, set(), [(1, 5), (3, 5)]),
    "T = P": ({0, 4}, {0, 4}, [(0, 0), (4, 4)]),
    "T2 not empty, P2 empty": ({0, 1, 2}, {0}, [(0, 0), (1, 5), (2, 5)]),
    "T2 empty, P2 not (one true)": ({0}, {0, 1, 2}, [(0, 0), (0, 1), (0, 2)]),
    "T2 empty, P2 not (two true)": ({0, 1}, {0, 1, 3}, [(0, 0), (1, 1), (0, 3), (1, 3)]),
    "both not empty, no overlap": ({0, 1}, {2, 3}, [(0, 2), (0, 3), (1, 2), (1, 3)]),
    "both not empty, one each": ({4}, {2}, [(4, 2)]),
    # |T ∩ P| >= 1, |T2| >= 1, |P2| >= 2: the paper pairs only T2 × P2. The authors'
    # package would also add (0, 3) here (a correctly predicted true label paired
    # with the leftover prediction).
    "both not empty, package departs": ({0, 1}, {0, 2, 3}, [(0, 0), (1, 2), (1, 3)]),
    "both not empty, larger": ({0, 1, 2}, {0, 3, 4}, [(0, 0), (1, 3), (1, 4), (2, 3), (2, 4)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_mlcm_hand_worked_case(case: str) -> None:
    t, p, cells = CASES[case]
    y_true, y_pred = _onehot([t], 5), _onehot([p], 5)
    np.testing.assert_array_equal(mlcm(y_true, y_pred), _matrix_of(cells, 5))
    assert _entries(y_true, y_pred) == sorted((r, c, 0) for r, c in cells)


def test_mlcm_departure_case_differs_from_authors_package() -> None:
    y = mlcm(_onehot([{0, 1}], 4), _onehot([{0, 2, 3}], 4))
    assert y[0, 3] == 0  # the package's greedy loop would put 1 here
    assert y.sum() == 3


def test_mlcm_all_cases_in_one_batch_keep_sample_indices() -> None:
    ts = [c[0] for c in CASES.values()]
    ps = [c[1] for c in CASES.values()]
    y_true, y_pred = _onehot(ts, 5), _onehot(ps, 5)
    expected = sorted((r, c, s) for s, case in enumerate(CASES.values()) for r, c in case[2])
    assert _entries(y_true, y_pred) == expected
    np.testing.assert_array_equal(mlcm(y_true, y_pred), _matrix_of([(r, c) for r, c, _ in expected], 5))


@pytest.mark.parametrize("pairs", ["listed", "matrix product"])
@pytest.mark.parametrize("seed", range(8))
def test_mlcm_equals_per_sample_reference_on_random_data(seed: int, pairs: str, monkeypatch) -> None:
    # both ways of counting the (t, p) pairs: listing them, or a matrix product
    monkeypatch.setattr(mlcm_module, "_LIST_PAIRS_BELOW", np.inf if pairs == "listed" else 0.0)
    rng = np.random.default_rng(seed)
    n, n_labels = int(rng.integers(1, 300)), int(rng.integers(1, 9))
    y_true = rng.random((n, n_labels)) < rng.uniform(0.05, 0.7)
    y_pred = rng.random((n, n_labels)) < rng.uniform(0.05, 0.7)
    ref = _reference_entries(y_true, y_pred)
    assert _entries(y_true, y_pred) == ref
    np.testing.assert_array_equal(mlcm(y_true, y_pred), _matrix_of([(r, c) for r, c, _ in ref], n_labels))


@pytest.mark.parametrize(("n_labels", "density"), [(3, 0.4), (60, 0.03)])
def test_mlcm_over_several_blocks_equals_bincount_of_entries(n_labels: int, density: float) -> None:
    rng = np.random.default_rng(1)
    y_true = rng.random((40_000, n_labels)) < density
    y_pred = rng.random((40_000, n_labels)) < density
    r, c, _ = mlcm_entries(y_true, y_pred)
    k = n_labels + 1
    np.testing.assert_array_equal(mlcm(y_true, y_pred), np.bincount(r * k + c, minlength=k * k).reshape(k, k))


def test_mlcm_accepts_torch_bool_and_lists() -> None:
    y_true = [[1, 0, 1], [0, 0, 0]]
    y_pred = [[1, 1, 0], [0, 1, 0]]
    expected = mlcm(np.array(y_true), np.array(y_pred))
    np.testing.assert_array_equal(
        mlcm(torch.tensor(y_true, dtype=torch.bool), torch.tensor(y_pred)), expected
    )
    np.testing.assert_array_equal(mlcm(y_true, np.array(y_pred, dtype=float)), expected)


@pytest.mark.parametrize("seed", range(4))
def test_per_label_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = (rng.random((200, 7)) < 0.3).astype(int)
    y_pred = (rng.random((200, 7)) < 0.3).astype(int)
    np.testing.assert_array_equal(
        per_label_confusion(y_true, y_pred), multilabel_confusion_matrix(y_true, y_pred)
    )
    src = multilabel_source(y_true, y_pred, mode="per_label")
    np.testing.assert_array_equal(src.matrices()[0], multilabel_confusion_matrix(y_true, y_pred))


def test_per_label_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(3)
    y_true = (rng.random((300, 5)) < 0.3).astype(int)
    y_pred = (rng.random((300, 5)) < 0.3).astype(int)
    rows = multilabel_metrics(y_true, y_pred, labels=list("abcde"), mode="per_label")
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    np.testing.assert_allclose([d["precision"] for d in rows], p, atol=1e-6)  # rows: 6 decimals
    np.testing.assert_allclose([d["recall"] for d in rows], r, atol=1e-6)  # rows: 6 decimals
    np.testing.assert_allclose([d["f1"] for d in rows], f, atol=1e-6)  # rows: 6 decimals
    assert [d["support"] for d in rows] == s.tolist()
    assert [d["label"] for d in rows] == list("abcde")


def test_mlcm_metrics_follow_the_paper() -> None:
    # samples: T={0},P={0}; T={0},P={1}; T={1},P={}; T={},P={1}
    y_true = _onehot([{0}, {0}, {1}, set()], 2)
    y_pred = _onehot([{0}, {1}, set(), {1}], 2)
    cm = mlcm(y_true, y_pred)
    assert cm.tolist() == [[1, 1, 0], [0, 0, 1], [0, 1, 0]]
    rows = multilabel_metrics(y_true, y_pred, labels=["a", "b"])
    assert [d["label"] for d in rows] == ["a", "b", NO_LABEL]
    a, b, none = rows
    assert (a["tp"], a["fp"], a["fn"], a["support"]) == (1, 0, 1, 2)
    assert (b["tp"], b["fp"], b["fn"], b["support"]) == (0, 2, 1, 1)
    assert (none["tp"], none["fp"], none["fn"], none["support"]) == (0, 1, 1, 1)
    assert a["precision"] == 1.0 and a["recall"] == 0.5 and a["f1"] == pytest.approx(2 / 3)
    assert b["precision"] == 0.0 and b["f1"] == 0.0


def test_source_metrics_match_function() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.random((100, 4)) < 0.3
    scores = rng.random((100, 4))
    src = multilabel_source(y_true, scores, labels=list("wxyz"))
    assert src.metrics() == multilabel_metrics(y_true, scores >= 0.5, labels=list("wxyz"))


# -- cells → samples ---------------------------------------------------------------------
def _random_source(seed: int = 0, n: int = 400, n_labels: int = 5, mode: str = "mlcm"):
    rng = np.random.default_rng(seed)
    y_true = rng.random((n, n_labels)) < 0.3
    scores = rng.random((n, n_labels)).astype(np.float32)
    return y_true, scores, multilabel_source(y_true, scores, mode=mode)


def test_mlcm_cells_hold_exactly_their_samples_most_confident_first() -> None:
    y_true, scores, src = _random_source()
    n_labels = y_true.shape[1]
    ref = _reference_entries(y_true, scores >= 0.5)
    m = src.matrices()[0, 0]
    for r in range(n_labels + 1):
        for c in range(n_labels + 1):
            hits = src.cell(0, 0, r, c)
            assert len(hits) == m[r, c]
            assert sorted(hits.positions.tolist()) == [s for rr, cc, s in ref if (rr, cc) == (r, c)]
            pos = hits.positions
            if c < n_labels:
                expected = scores[pos, c]
            elif r < n_labels:
                expected = 1 - scores[pos, r]
            else:
                expected = 1 - scores[pos].max(axis=1)
            np.testing.assert_allclose(hits.confidence, expected, rtol=1e-6)
            assert (np.diff(hits.confidence) <= 0).all()


def test_a_sample_can_sit_in_several_cells() -> None:
    src = multilabel_source([[1, 1, 0, 0]], [[0, 0, 0.9, 0.8]])  # T={0,1}, P={2,3}
    cells = [(r, c) for r in range(5) for c in range(5) if len(src.cell(0, 0, r, c))]
    assert cells == [(0, 2), (0, 3), (1, 2), (1, 3)]
    assert src.cell(0, 0, 0, 2).positions.tolist() == [0]


def test_cell_extra_captions_the_label_sets() -> None:
    src = multilabel_source([[1, 0, 1], [0, 0, 0]], [[1, 1, 0], [0, 0, 0]], labels=["cat", "dog", "car"])
    hits = src.cell(0, 0, 2, 1)  # true car, predicted dog
    assert hits.extra[0] == {"caption": "true: cat, car | pred: cat, dog"}
    assert src.cell(0, 0, 3, 3).extra[:] == [{"caption": "true: — | pred: —"}]
    with pytest.raises(IndexError):
        hits.extra[1]


def test_per_label_cells_and_confidence() -> None:
    y_true, scores, src = _random_source(mode="per_label")
    pred = scores >= 0.5
    assert src.labels == ["absent", "present"]
    assert src.tile_titles == ["0", "1", "2", "3", "4"]
    assert src.matrices().shape == (1, 5, 2, 2)
    for tile in range(5):
        for r in (0, 1):
            for c in (0, 1):
                hits = src.cell(0, tile, r, c)
                mask = (y_true[:, tile] == r) & (pred[:, tile] == c)
                assert sorted(hits.positions.tolist()) == np.flatnonzero(mask).tolist()
                s = scores[hits.positions, tile]
                np.testing.assert_allclose(hits.confidence, s if c else 1 - s, rtol=1e-6)
                assert (np.diff(hits.confidence) <= 0).all()


def test_binary_predictions_have_no_confidence_and_keep_position_order() -> None:
    src = multilabel_source([[1, 0], [1, 0], [1, 0]], [[1, 0], [1, 0], [1, 0]])
    hits = src.cell(0, 0, 0, 0)
    assert hits.positions.tolist() == [0, 1, 2]
    assert np.isnan(hits.confidence).all()
    assert src.threshold is None


def test_cell_bounds_are_checked() -> None:
    _, _, src = _random_source()
    with pytest.raises(ValueError, match="row 6 is out of range"):
        src.cell(0, 0, 6, 0)
    with pytest.raises(ValueError, match="tile"):
        src.cell(0, 1, 0, 0)
    with pytest.raises(ValueError, match="epoch"):
        src.cell(1, 0, 0, 0)


# -- thresholds and epochs -------------------------------------------------------------------
def test_threshold_is_inclusive() -> None:
    src = multilabel_source([[1, 0]], [[0.5, 0.49]], threshold=0.5)
    assert src.y_pred(0).tolist() == [[True, False]]
    assert src.threshold == 0.5


def test_set_threshold_recomputes_and_notifies() -> None:
    y_true, scores, src = _random_source(seed=2)
    calls = []
    src.subscribe(lambda: calls.append(1))
    before = src.cell(0, 0, 0, 0)
    src.set_threshold(0.8)
    assert calls == [1] and src.threshold == 0.8
    np.testing.assert_array_equal(src.matrices()[0, 0], mlcm(y_true, scores >= 0.8))
    after = src.cell(0, 0, 0, 0)
    assert len(after) == src.matrices()[0, 0, 0, 0] and len(after) <= len(before)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        src.set_threshold(1.5)


def test_set_threshold_without_scores_raises() -> None:
    src = multilabel_source([[1, 0]], [[1, 0]])
    with pytest.raises(ValueError, match="no scores"):
        src.set_threshold(0.3)


def test_per_label_set_threshold() -> None:
    y_true, scores, src = _random_source(mode="per_label")
    src.set_threshold(0.2)
    np.testing.assert_array_equal(src.matrices()[0], multilabel_confusion_matrix(y_true, scores >= 0.2))


def test_several_epochs() -> None:
    rng = np.random.default_rng(5)
    y_true = rng.random((50, 3)) < 0.4
    epochs = [rng.random((50, 3)) for _ in range(4)]
    src = multilabel_source(y_true, epochs)
    assert src.n_epochs == 4 and src.epoch_labels[-1] == "epoch 3"
    assert src.matrices().shape == (4, 1, 4, 4)
    for e, s in enumerate(epochs):
        np.testing.assert_array_equal(src.matrices()[e, 0], mlcm(y_true, s >= 0.5))
    assert multilabel_source(y_true, np.stack(epochs), mode="per_label").matrices().shape == (4, 3, 2, 2)
    assert multilabel_source(y_true, [torch.tensor(s) for s in epochs]).n_epochs == 4


def test_torch_scores_and_float_binary_predictions() -> None:
    y_true = torch.tensor([[1, 0], [0, 1]])
    src = multilabel_source(y_true, torch.tensor([[0.9, 0.3], [0.1, 0.7]]))
    assert src.threshold is not None
    assert src.matrices()[0, 0].tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert multilabel_source(y_true, torch.tensor([[1.0, 0.0], [0.0, 1.0]])).threshold is None


# -- bad inputs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("y_true", "y_pred", "kwargs", "error", "match"),
    [
        ([[1, 0]], [[1, 0, 0]], {}, ValueError, "shape"),
        ([[1, 0], [0, 1]], [[1, 0]], {}, ValueError, "shape"),
        ([[2, 0]], [[1, 0]], {}, ValueError, "only 0 and 1"),
        ([[0.5, 0]], [[1, 0]], {}, ValueError, "only 0 and 1"),
        ([[np.nan, 0]], [[1, 0]], {}, ValueError, "only 0 and 1"),
        ([1, 0], [1, 0], {}, ValueError, r"\(N, L\)"),
        ([[1, 0]], [[np.nan, 0.2]], {}, ValueError, "NaN"),
        ([[1, 0]], [[3.2, -1.0]], {}, ValueError, "sigmoid"),
        ([[1, 0]], [[2, 0]], {}, ValueError, "only 0 and 1"),
        ([[1, 0]], [[1, 0]], {"labels": ["a"]}, ValueError, "2 classes"),
        ([[1, 0]], [[1, 0]], {"labels": ["a", NO_LABEL]}, ValueError, "duplicate"),
        ([[1, 0]], [[1, 0]], {"mode": "matrix"}, ValueError, "mode"),
        ([[1, 0]], [[1, 0]], {"threshold": -0.1}, ValueError, "threshold"),
        ([[1, 0]], [[1, 0]], {"threshold": "high"}, TypeError, "threshold"),
        ([[1, 0]], [[1, 0]], {"sample_ids": [1, 2]}, ValueError, "sample_ids"),
        ([[1, 0]], [[1, 0]], {"images": np.zeros((2, 4, 4), np.uint8)}, ValueError, "images"),
        ([[1, 0]], "abc", {}, TypeError, "y_pred"),
        (np.zeros((0, 3)), np.zeros((0, 3)), {}, ValueError, "empty"),
    ],
)
def test_bad_inputs(y_true, y_pred, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        multilabel_source(y_true, y_pred, **kwargs)


def test_pure_functions_reject_scores() -> None:
    with pytest.raises(ValueError, match="only 0 and 1"):
        mlcm([[1, 0]], [[0.7, 0.2]])
    with pytest.raises(ValueError, match="same"):
        per_label_confusion([[1, 0]], [[1, 0], [0, 1]])


# -- the widget ---------------------------------------------------------------------------------
def test_widget_from_multilabel_mlcm() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.random((30, 4)) < 0.4
    scores = rng.random((30, 4))
    images = rng.integers(0, 255, (30, 8, 16), dtype=np.uint8)
    w = ConfusionWidget.from_multilabel(
        y_true, scores, labels=list("abcd"), images=images, sample_ids=np.arange(100, 130)
    )
    assert w.matrix.shape == (5, 5)
    assert w.labels == ["a", "b", "c", "d", NO_LABEL]
    np.testing.assert_array_equal(w.matrix, mlcm(y_true, scores >= 0.5))
    r, c = map(int, np.argwhere(w.matrix > 0)[0])
    reply, buffers = answer(w.source, {"type": "cell", "epoch": 0, "tile": 0, "row": r, "col": c, "limit": 3})
    assert reply["total"] == w.matrix[r, c]
    assert len(reply["samples"]) == min(3, reply["total"]) == len(buffers)
    s = reply["samples"][0]
    assert s["id"] >= 100 and s["caption"].startswith("true: ") and s["buffer"] == 0
    w.selected = (r, c)
    assert len(w.selected_samples) == w.matrix[r, c]


def test_widget_from_multilabel_per_label_and_rethreshold() -> None:
    rng = np.random.default_rng(1)
    y_true = rng.random((40, 3)) < 0.4
    scores = rng.random((40, 3))
    w = ConfusionWidget.from_multilabel(y_true, scores, labels=["x", "y", "z"], mode="per_label")
    assert w.matrix.shape == (3, 2, 2)
    assert w.tile_titles == ["x", "y", "z"]
    reply, _ = answer(w.source, {"type": "cell", "epoch": 0, "tile": 2, "row": 1, "col": 1})
    assert reply["total"] == w.matrix[2, 1, 1]
    w.source.set_threshold(0.9)  # the widget redraws from the source
    np.testing.assert_array_equal(w.matrix, multilabel_confusion_matrix(y_true, scores >= 0.9))


# -- the demo scene --------------------------------------------------------------------------
def test_multilabel_digits_is_deterministic_and_valid() -> None:
    from confusion_widget.demo_scenes import multilabel_digits

    images, y_true, scores = multilabel_digits(200, seed=3)
    again = multilabel_digits(200, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((images, y_true, scores), again))
    assert not np.array_equal(scores, multilabel_digits(200, seed=4)[2])
    assert images.shape == (200, 8, 16) and images.dtype == np.uint8
    assert set(np.unique(y_true.sum(axis=1))) <= {0, 1, 2}
    src = multilabel_source(y_true, scores, images=images)
    m = src.matrices()[0, 0]
    assert np.trace(m[:10, :10]) > 0.6 * y_true.sum()  # mostly right
    assert m[:10, :10].sum() > np.trace(m[:10, :10])  # but with confusions
