"""Abstention for single-label classifiers: ``confidence_threshold`` moves predictions
below it to an "(abstain)" column; accuracy on the predictions kept and coverage,
per epoch, in comparisons and differences, and while a recorder adds epochs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from confusion_widget import ConfusionRecorder, ConfusionWidget, Run
from confusion_widget.abstain import ABSTAIN, abstained, selective_accuracy
from confusion_widget.traits import OptionError

LABELS = ["a", "b", "c"]
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
# epoch 0: two low-confidence predictions (one right, one wrong); epoch 1: none below 0.5
Y_PRED = np.array([[0, 1, 1, 0, 2, 2], [0, 0, 1, 1, 2, 1]])
CONF = np.array([[0.9, 0.3, 0.4, 0.8, 0.7, 0.6], [0.9, 0.8, 0.7, 0.6, 0.5, 0.95]])


def _widget(**options) -> ConfusionWidget:
    return ConfusionWidget.from_predictions(
        Y_TRUE, list(Y_PRED), confidence=list(CONF), labels=LABELS, **options
    )


def test_by_hand() -> None:
    w = _widget(confidence_threshold=0.5)
    assert w.labels == [*LABELS, ABSTAIN] and w.confidence_threshold == 0.5
    # epoch 0: sample 1 (0→1, conf 0.3) and sample 2 (1→1, conf 0.4) abstain
    assert w.matrices[0].tolist() == [[1, 0, 0, 1], [1, 0, 0, 1], [0, 0, 2, 0], [0, 0, 0, 0]]
    # kept: 4 predictions, 3 right → 75 %, coverage 4/6; epoch 1: 0.5 is kept (not below)
    assert w._accuracy == [[0.75], [5 / 6]]
    assert w._coverage == [[4 / 6], [1.0]]
    w.epoch, w.selected = 0, (0, 3)
    assert w.selected_samples == [1]
    w._metrics_open = True  # as when the frontend's table opens
    rows = w._metrics
    assert [r["label"] for r in rows] == LABELS  # no (abstain) row
    assert rows[1]["recall"] == 0.0 and rows[0]["precision"] == 0.5 and rows[2]["precision"] == 1.0
    w.confidence_threshold = None
    assert w.labels == LABELS and w.selected is None and w._coverage == []
    assert w._accuracy == [[4 / 6], [5 / 6]]
    assert w.matrices[0].tolist() == confusion_matrix(Y_TRUE, Y_PRED[0], labels=[0, 1, 2]).tolist()


@pytest.mark.parametrize("t", [0.0, 0.35, 0.62, 0.9, 1.0])
def test_equals_a_fresh_computation(t: float) -> None:
    rng = np.random.default_rng(int(t * 100))
    n, k, e = 300, 5, 3
    y_true = rng.integers(0, k, n)
    y_pred = [np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n)) for _ in range(e)]
    conf = [rng.random(n).astype(np.float32) for _ in range(e)]
    conf[1][:10] = np.nan  # unknown confidences never abstain
    run = Run([str(i) for i in range(k)], y_true, y_pred, conf)
    w = ConfusionWidget(run, confidence_threshold=t)
    for i in range(e):
        kept = ~(conf[i] < t)
        expected = confusion_matrix(y_true, np.where(kept, y_pred[i], k), labels=list(range(k + 1)))
        np.testing.assert_array_equal(w.matrices[i], expected)
        assert w._coverage[i][0] == pytest.approx(kept.mean())
        if kept.any():
            assert w._accuracy[i][0] == pytest.approx((y_pred[i][kept] == y_true[kept]).mean())
        else:
            assert w._accuracy[i][0] is None


def test_comparison_and_difference() -> None:
    a = Run(LABELS, Y_TRUE, Y_PRED[:1], CONF[:1], name="A")
    b = Run(LABELS, Y_TRUE, Y_PRED[1:], CONF[1:], name="B")
    w = ConfusionWidget.compare({"A": a, "B": b}, diff=True, confidence_threshold=0.5)
    assert w.labels == [*LABELS, ABSTAIN] and w.tile_titles == ["A", "B", "B − A"]
    m = w.matrix
    np.testing.assert_array_equal(m[2], m[1] - m[0])
    assert m[0, :, 3].sum() == 2 and m[1, :, 3].sum() == 0
    assert w._coverage == [[4 / 6, 1.0, None]]
    assert w._accuracy == [[0.75, 5 / 6, None]]
    w.selected_tile, w.selected = 2, (1, 3)  # B − A: sample 2 left the abstain column
    assert w.selected_samples == [2]
    d = ConfusionWidget.difference(Run(LABELS, Y_TRUE, Y_PRED, CONF), confidence_threshold=0.5)
    assert d.matrix[2].tolist() == (d.matrix[1] - d.matrix[0]).tolist()
    assert d.matrix[2][0, 3] == -1  # sample 1 no longer abstains at epoch 1


def test_live_recorder_run_abstains_new_epochs() -> None:
    rec = ConfusionRecorder(LABELS)
    logits = np.log(np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.2, 0.7, 0.1]]))
    rec.update(logits, [0, 1, 1])
    rec.end_epoch()
    w = rec.widget(confidence_threshold=0.5)
    assert w.matrix[:, 3].sum() == 1  # the 0.4 prediction abstains
    rec.update(logits[[1, 1, 1]], [0, 1, 1])
    rec.end_epoch()
    assert w.n_epochs == 2 and w.labels[-1] == ABSTAIN and w.epoch == 1
    assert w.matrices[1][:, 3].sum() == 3
    assert w._coverage[1] == [0.0] and w._accuracy[1] == [None]


def test_bad_thresholds_and_sources() -> None:
    w = _widget()
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(OptionError, match="confidence_threshold"):
            w.confidence_threshold = bad
    with pytest.raises(OptionError, match="has no single-label predictions"):
        ConfusionWidget(np.eye(3, dtype=int), confidence_threshold=0.5)
    no_conf = ConfusionWidget.from_predictions(Y_TRUE, Y_PRED[0], labels=LABELS)
    with pytest.raises(OptionError, match="has no confidences"):
        no_conf.confidence_threshold = 0.5
    with pytest.raises(ValueError, match="already include"):
        abstained(abstained(Run(LABELS, Y_TRUE, Y_PRED, CONF), 0.5), 0.4)
    w.set_state({"confidence_threshold": 3})  # from the frontend: rolled back
    assert w.confidence_threshold is None and w.labels == LABELS


def test_selective_accuracy_helper() -> None:
    mats = np.array([[[[2, 1, 1], [0, 3, 1], [0, 0, 0]]]])
    acc, cov = selective_accuracy(mats, [None])
    assert acc == [[5 / 6]] and cov == [[6 / 8]]


def test_the_ui_toggle_is_offered_where_abstention_applies() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 50)
    scores = rng.normal(size=(50, 3))
    w = ConfusionWidget.from_predictions(y, [scores, scores])
    assert w._can_abstain and w.confidence_threshold is None
    w.confidence_threshold = 0.5  # what the toggle sets
    assert w._can_abstain and w.labels[-1] == ABSTAIN
    w.confidence_threshold = None  # unchecked: back to the plain matrix
    assert ABSTAIN not in w.labels
    assert not ConfusionWidget([[1, 2], [3, 4]])._can_abstain  # a bare matrix has no confidences
    assert not ConfusionWidget.from_predictions(y, [y, y])._can_abstain  # class ids: none either
