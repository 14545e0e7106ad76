"""The recorder's blocked reduction of (B, K) scores (``_score_block``): whatever the
block size, the library (torch, or numpy when torch is not imported), the batches'
precisions and the ties, an epoch's predictions, confidences, p_true and margins are
those of ``score_signals`` over the whole epoch at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from confusion_widget import ConfusionRecorder, _score_block
from confusion_widget.matrix import score_signals

K = 7


def scenes(seed=0, n=300):
    """Logits with many ties (rounded to halves) and the same scores as probabilities."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    logits = (np.round(rng.normal(size=(n, K)) * 2) / 2 + 2 * np.eye(K)[y]).astype(np.float32)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return y, {"logits": logits, "probs": (e / e.sum(axis=1, keepdims=True)).astype(np.float32)}


def recorded(batches, y, n_labels=K):
    """One epoch of ``batches`` (index arrays into ``y``) through a recorder."""
    rec = ConfusionRecorder(n_labels)
    for idx, out in batches:
        rec.update(out, y[idx], sample_ids=idx)
    rec.end_epoch()
    run = rec.run
    order = np.argsort(run.sample_ids())
    return [getattr(run, f)(0)[order] for f in ("y_pred", "confidence", "p_true", "margin")]


def check(got, scores, y):
    want = score_signals(scores, y)
    np.testing.assert_array_equal(got[0], want[0])
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("lib", ["torch", "numpy", "numpy without torch"])
@pytest.mark.parametrize("kind", ["logits", "probs"])
@pytest.mark.parametrize("block", [None, 150 * K, 1])  # default, ~2 batches, 1 batch a block
def test_any_block_size_gives_the_signals_of_the_whole_epoch(lib, kind, block, monkeypatch):
    if block is not None:
        monkeypatch.setattr(_score_block, "BLOCK_SCORES", block)
    if lib == "numpy without torch":
        monkeypatch.setattr(_score_block, "torch_module", lambda: None)
    y, scores = scenes()
    x = scores[kind]
    order = np.random.default_rng(1).permutation(len(y))
    batches = [order[i : i + 64] for i in range(0, len(y), 64)]  # the last one is short
    got = recorded([(i, torch.from_numpy(x[i]) if lib == "torch" else x[i]) for i in batches], y)
    check(got, x, y)


def test_batches_of_mixed_precision_and_library_in_one_epoch(monkeypatch):
    monkeypatch.setattr(_score_block, "BLOCK_SCORES", 100 * K)
    y, scores = scenes(seed=2, n=200)
    x = scores["logits"]
    cast = [
        lambda a: torch.from_numpy(a).double(),
        lambda a: torch.from_numpy(a).half(),
        lambda a: a.astype(np.float64),
        lambda a: torch.from_numpy(a),
        lambda a: a,
    ]
    batches = [np.arange(i, i + 40) for i in range(0, 200, 40)]
    got = recorded([(i, f(x[i])) for i, f in zip(batches, cast)], y)
    ref = np.concatenate([torch.as_tensor(f(x[i])).float().numpy() for i, f in zip(batches, cast)])
    check(got, ref, y)


def test_ties_go_to_the_first_maximum_and_one_class_has_no_margin():
    y = np.array([0, 1, 2, 2])
    x = np.array([[1, 1, 1], [0, 3, 3], [5, 2, 5], [2, 2, 2]], np.float32)
    got = recorded([(np.arange(4), torch.from_numpy(x))], y, n_labels=3)
    assert got[0].tolist() == [0, 1, 0, 0]
    check(got, x, y)
    one = recorded([(np.arange(3), torch.zeros(3, 1) + 2.0)], np.zeros(3, np.int64), n_labels=1)
    assert one[0].tolist() == [0, 0, 0]
    np.testing.assert_allclose(one[1], 1.0)
    assert np.isnan(one[3]).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("torch_loaded", [True, False])
def test_non_finite_scores_are_refused_at_end_epoch(bad, torch_loaded, monkeypatch):
    if not torch_loaded:
        monkeypatch.setattr(_score_block, "torch_module", lambda: None)
    monkeypatch.setattr(_score_block, "BLOCK_SCORES", 10 * K)
    y, scores = scenes(n=40)
    x = scores["logits"].copy()
    x[25, 3] = bad
    rec = ConfusionRecorder(K)
    for i in range(0, 40, 8):
        rec.update(x[i : i + 8], y[i : i + 8])
    with pytest.raises(ValueError, match=r"NaN or inf scores \(first in row 25"):
        rec.end_epoch()
    assert rec.n_epochs == 0


@pytest.mark.parametrize("lib", ["torch", "numpy"])
def test_an_output_buffer_reused_after_update_does_not_change_the_epoch(lib):
    """Outputs can be buffers a model writes again (CUDA graphs do): update() must
    take the scores as they are when it is called."""
    y, scores = scenes(n=128)
    x = scores["logits"]
    buf = torch.empty(32, K) if lib == "torch" else np.empty((32, K), np.float32)
    rec = ConfusionRecorder(K)
    for i in range(0, 128, 32):
        buf[:] = torch.from_numpy(x[i : i + 32]) if lib == "torch" else x[i : i + 32]
        rec.update(buf, y[i : i + 32])
    buf[:] = 0  # the next forward pass
    rec.end_epoch()
    check([rec.run.y_pred(0), rec.run.confidence(0), rec.run.p_true(0), rec.run.margin(0)], x, y)


@pytest.mark.parametrize("lib", ["torch", "numpy"])
def test_empty_batches_add_nothing_and_an_empty_epoch_is_refused(lib):
    empty = torch.zeros(0, K) if lib == "torch" else np.zeros((0, K), np.float32)
    y, scores = scenes(n=20)
    rec = ConfusionRecorder(K)
    rec.update(empty, np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="hold no samples"):
        rec.end_epoch()
    rec.update(empty, np.zeros(0, np.int64))
    rec.update(scores["logits"], y)
    rec.end_epoch()
    check(
        [rec.run.y_pred(0), rec.run.confidence(0), rec.run.p_true(0), rec.run.margin(0)], scores["logits"], y
    )
