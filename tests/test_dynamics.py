"""Training dynamics: every column against a brute-force loop, p_true and the margin
against an explicit softmax, suspects, and the errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from confusion_widget import ConfusionWidget, ConfusionWidgetWarning, Run
from confusion_widget.matrix import score_signals


def brute(y_true, y_pred, p_true, margin):
    e, n = y_pred.shape
    rows = []
    for i in range(n):
        right = [y_pred[k, i] == y_true[k, i] for k in range(e)]
        forget = sum(1 for k in range(1, e) if right[k - 1] and not right[k])
        flips = sum(1 for k in range(1, e) if y_pred[k, i] != y_pred[k - 1, i])
        learned = -1
        if right[-1]:
            learned = e - 1
            while learned > 0 and right[learned - 1]:
                learned -= 1
        p = [float(p_true[k, i]) for k in range(e)]
        mean = sum(p) / e
        rows.append(
            (
                sum(right) / e,
                forget,
                learned,
                flips,
                mean,
                (sum((x - mean) ** 2 for x in p) / e) ** 0.5,
                sum(float(margin[k, i]) for k in range(e)) / e,
            )
        )
    return rows


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_every_column_matches_a_loop(seed, epochs):
    rng = np.random.default_rng(seed)
    n, k = 60, 4
    y = rng.integers(0, k, n)
    scores = [np.round(rng.normal(size=(n, k)), 1) for _ in range(epochs)]  # rounded: ties happen
    scores[0][:5] = 0.0  # constant rows: argmax takes the first class
    run = Run.from_predictions(y, scores)
    t = run.dynamics()
    y_true = np.stack([y] * epochs)
    y_pred = np.stack([s.argmax(1) for s in scores])
    soft = [
        np.exp(s - s.max(1, keepdims=True)) / np.exp(s - s.max(1, keepdims=True)).sum(1, keepdims=True)
        for s in scores
    ]
    p_true = np.stack([p[np.arange(n), y] for p in soft])
    margin = np.stack([s[np.arange(n), y] - np.where(np.eye(k)[y] == 1, -np.inf, s).max(1) for s in scores])
    expected = brute(y_true, y_pred, p_true, margin)
    got = list(
        zip(
            *(
                t[c]
                for c in (
                    "correct_fraction",
                    "forgetting_events",
                    "first_learned",
                    "flips",
                    "confidence",
                    "variability",
                    "aum",
                )
            )
        )
    )
    for g, x in zip(got, expected):
        assert g[:4] == pytest.approx(x[:4])
        assert g[4:] == pytest.approx(x[4:], abs=1e-5)
    assert t["sample_id"].tolist() == list(range(n))
    region = np.where(t["variability"] >= 0.2, "ambiguous", np.where(t["confidence"] >= 0.5, "easy", "hard"))
    assert t["region"].tolist() == region.tolist()


def test_thresholds_are_settable():
    y = np.array([0, 1, 1])
    run = Run.from_predictions(y, [np.array([[2.0, 0.0], [0.0, 0.3], [1.0, 0.0]])] * 2)
    assert run.dynamics()["region"].tolist() == ["easy", "easy", "hard"]
    assert run.dynamics(confidence_threshold=0.9)["region"].tolist() == ["hard", "hard", "hard"]


@pytest.mark.parametrize(
    ("scores", "y"),
    [
        (np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]), np.array([1, 2])),  # probabilities
        (np.array([[-1.0], [2.0], [0.0]]), np.array([1, 1, 0])),  # one logit column
        (np.array([[0.2], [0.9]]), np.array([1, 0])),  # one probability column
    ],
)
def test_p_true_and_margin_on_the_scale_of_the_scores(scores, y):
    _, _, p_true, margin = score_signals(scores, y)
    if scores.shape[1] == 1:
        x = scores[:, 0]
        prob = (x.min() >= 0) & (x.max() <= 1)
        two = np.stack([1 - x, x] if prob else [np.zeros_like(x), x], axis=1)
    else:
        two, prob = scores, True
    probs = two if prob else np.exp(two) / np.exp(two).sum(1, keepdims=True)
    np.testing.assert_allclose(p_true, probs[np.arange(len(y)), y], rtol=1e-6)
    other = np.where(np.eye(two.shape[1])[y] == 1, -np.inf, two).max(1)
    np.testing.assert_allclose(margin, two[np.arange(len(y)), y] - other, rtol=1e-6)


def test_runs_without_scores_say_what_is_missing():
    run = Run.from_predictions([0, 1, 1], [[0, 1, 0], [0, 1, 1]])
    with pytest.warns(ConfusionWidgetWarning, match="confidence, variability and region need p_true"):
        t = run.dynamics()
    assert np.isnan(t["aum"]).all() and t["region"].tolist() == ["", "", ""]
    assert t["forgetting_events"].tolist() == [0, 0, 0] and t["first_learned"].tolist() == [0, 0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfusionWidgetWarning)
        assert run.suspects(1)["sample_id"].tolist() == [2]


def test_suspects_rank_flipped_labels_first():
    rng = np.random.default_rng(0)
    n, k = 400, 5
    y = rng.integers(0, k, n)
    flipped = rng.random(n) < 0.1
    noisy = np.where(flipped, (y + 1) % k, y)
    logits = [
        rng.normal(size=(n, k)) + (e + 1) * np.eye(k)[y] for e in range(6)
    ]  # the model learns the truth
    s = ConfusionWidget.from_predictions(noisy, logits).suspects(int(flipped.sum()))
    assert np.isin(s["sample_id"], np.flatnonzero(flipped)).mean() >= 0.9
    assert (s["likely_class"] == y[s["sample_id"]]).mean() >= 0.9
    assert np.all(np.diff(s["score"]) <= 0)


def test_dynamics_of_widgets():
    a = Run.from_predictions([0, 1], [np.eye(2), np.eye(2)], name="a")
    b = Run.from_predictions([0, 1], [np.eye(2)[::-1], np.eye(2)], name="b")
    both = ConfusionWidget.compare({"a": a, "b": b})
    assert both.dynamics(run="b")["forgetting_events"].tolist() == [0, 0]
    assert both.dynamics(run=0)["flips"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="pass run= one of them"):
        both.dynamics()
    with pytest.raises(ValueError, match="run='c' is not one of the runs"):
        both.suspects(run="c")
    assert len(ConfusionWidget.difference(b).dynamics()) == 2
    with pytest.raises(ValueError, match="dynamics need per-sample predictions"):
        ConfusionWidget(np.eye(2, dtype=int)).dynamics()
    with pytest.raises(ValueError, match="k must be at least 1"):
        ConfusionWidget(a).suspects(0)
    with pytest.raises(TypeError, match="k must be an integer"):
        ConfusionWidget(a).suspects(2.5)


@pytest.mark.parametrize("k", [4, 5000])  # a count table, or a sort (n * k > 2**24)
def test_likely_class_is_the_most_frequent_wrong_prediction(k):
    from confusion_widget.dynamics import _mode_of_wrong

    rng = np.random.default_rng(k)
    n = 4000
    y = rng.integers(0, k, (6, n))
    p = np.where(rng.random((6, n)) < 0.5, y, rng.integers(0, 4, (6, n)))
    likely, share = _mode_of_wrong(y, p, k)
    for i in range(n):
        wrong = [p[e, i] for e in range(6) if p[e, i] != y[e, i]]
        top = max((wrong.count(c) for c in wrong), default=0)
        expected = min(c for c in wrong if wrong.count(c) == top) if wrong else y[-1, i]
        assert likely[i] == expected
        assert share[i] == pytest.approx(np.mean(p[:, i] == expected))
