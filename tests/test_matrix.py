"""The numpy core against sklearn, and every bad matrix/label input."""

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix

from confusion_widget.matrix import (
    canonical_aggregation,
    check_class_ids,
    confusion_counts,
    most_confused,
    normalize,
    per_class_metrics,
    scores_to_predictions,
    validate_labels,
    validate_matrix,
)


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
@pytest.mark.parametrize("k", [1, 2, 7, 50])
def test_counts_equal_sklearn(k):
    rng = np.random.default_rng(k)
    yt, yp = rng.integers(0, k, 5000), rng.integers(0, k, 5000)
    ours = confusion_counts(yt, yp, k)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours, confusion_matrix(yt, yp, labels=np.arange(k)))


@pytest.mark.parametrize(("ours", "sk"), [("row", "true"), ("column", "pred"), ("total", "all")])
def test_normalize_equals_sklearn_including_empty_rows(ours, sk):
    rng = np.random.default_rng(0)
    # class 3 never occurs as truth (empty row) nor as prediction (empty column)
    yt = rng.choice([0, 1, 2, 4], 400)
    yp = rng.choice([0, 1, 2, 4], 400)
    cm = confusion_counts(yt, yp, 5)
    expected = confusion_matrix(yt, yp, labels=np.arange(5), normalize=sk)
    np.testing.assert_allclose(normalize(cm, ours), expected)
    np.testing.assert_allclose(normalize(cm, sk), expected)
    assert not np.isnan(normalize(cm, ours)).any()


def test_normalize_count_is_identity_and_stacks_work():
    cm = np.arange(18).reshape(2, 3, 3)
    assert normalize(cm, "count") is not None
    np.testing.assert_array_equal(normalize(cm, None), cm)
    np.testing.assert_allclose(normalize(cm, "row").sum(axis=-1), 1.0)


def test_aggregation_aliases():
    assert [canonical_aggregation(a) for a in ["true", "pred", "all", "COUNT", None]] == [
        "row",
        "column",
        "total",
        "count",
        "count",
    ]
    with pytest.raises(ValueError, match="aggregation must be one of"):
        canonical_aggregation("percent")


def test_validate_matrix_shapes_and_sources():
    assert validate_matrix([[1, 2], [3, 4]]).shape == (1, 2, 2)
    assert validate_matrix(np.zeros((5, 3, 3))).shape == (5, 3, 3)
    t = torch.tensor([[1.0, 0.0], [2.0, 3.0]])
    np.testing.assert_array_equal(validate_matrix(t)[0], [[1, 0], [2, 3]])
    assert validate_matrix(np.array([[True, False], [False, True]])).dtype == np.int64


@pytest.mark.parametrize(
    ("cm", "exc", "match"),
    [
        (np.zeros((2, 3)), ValueError, "must be square"),
        (np.zeros((2, 2, 2, 2)), ValueError, "4-D"),
        (np.zeros(3), ValueError, "1-D"),
        (np.zeros((0, 0)), ValueError, "empty"),
        (np.zeros((0, 2, 2)), ValueError, "empty"),
        ([[1, -1], [0, 0]], ValueError, "negative counts .* index \\(0, 1\\)"),
        ([[1, np.nan], [0, 0]], ValueError, "non-finite"),
        ([[1, np.inf], [0, 0]], ValueError, "non-finite"),
        ([[1, 0.5], [0, 0]], ValueError, "non-integer counts"),
        ([[1, 2], [3]], TypeError, "rectangular|numeric"),
        ("abc", TypeError, "not str"),
        (None, TypeError, "is None"),
        ([["a", "b"], ["c", "d"]], TypeError, "numeric"),
        (np.array([[2**60, 0], [0, 0]]), ValueError, "2\\*\\*53"),
    ],
)
def test_validate_matrix_rejects(cm, exc, match):
    with pytest.raises(exc, match=match):
        validate_matrix(cm)


def test_validate_labels():
    assert validate_labels(None, 3) == ["0", "1", "2"]
    assert validate_labels(np.array([3, 4]), 2) == ["3", "4"]
    with pytest.raises(ValueError, match="has 2 names but the matrix has 3 classes"):
        validate_labels(["a", "b"], 3)
    with pytest.raises(ValueError, match="duplicate name 'a'"):
        validate_labels(["a", "b", "a"], 3)
    with pytest.raises(TypeError, match="not a single string"):
        validate_labels("abc", 3)


def test_check_class_ids():
    np.testing.assert_array_equal(check_class_ids([0, 2.0, 1], 3, "y"), [0, 2, 1])
    with pytest.raises(ValueError, match="class 3, outside \\[0, 3\\)"):
        check_class_ids([0, 3], 3, "y_pred")
    with pytest.raises(ValueError, match="class -1"):
        check_class_ids([0, -1], 3, "y_true")
    with pytest.raises(ValueError, match="empty"):
        check_class_ids([], 3, "y_true")
    with pytest.raises(ValueError, match="fractional"):
        check_class_ids([0.5], 3, "y_true")
    with pytest.raises(ValueError, match="1-D"):
        check_class_ids([[0]], 3, "y_true")


def test_scores_to_predictions_logits_and_probabilities():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 5.0]])
    pred, conf = scores_to_predictions(logits)
    np.testing.assert_array_equal(pred, [0, 2])
    expected = torch.softmax(torch.tensor(logits), 1).max(1).values.numpy()
    np.testing.assert_allclose(conf, expected, rtol=1e-6)
    probs = np.array([[0.1, 0.7, 0.2]])
    pred, conf = scores_to_predictions(probs)
    assert pred[0] == 1 and conf[0] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="NaN or inf"):
        scores_to_predictions(np.array([[np.nan, 1.0]]))


def test_per_class_metrics_and_most_confused():
    cm = np.array([[5, 2, 0], [1, 3, 0], [0, 0, 0]])
    m = per_class_metrics(cm)
    np.testing.assert_allclose(m["precision"], [5 / 6, 3 / 5, 0])
    np.testing.assert_allclose(m["recall"], [5 / 7, 3 / 4, 0])
    np.testing.assert_array_equal(m["support"], [7, 4, 0])
    assert most_confused(cm, ["a", "b", "c"]) == [("a", "b", 2), ("b", "a", 1)]
    assert most_confused(cm, ["a", "b", "c"], min_count=2) == [("a", "b", 2)]
