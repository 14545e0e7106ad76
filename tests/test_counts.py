"""Counts held sparse from SPARSE_FROM classes on: no dense K × K array from
predictions through the widget to the wire, and the same numbers as dense."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest
from pack_decode import blocks

from confusion_widget import ConfusionWidget, wire
from confusion_widget.compare import compare_source
from confusion_widget.counts import SPARSE_FROM, Coo, Counts, count_pairs
from confusion_widget.runs import Run

K = SPARSE_FROM  # the smallest sparse K


def _reference(y_true, y_pred, k):
    """Cell code → count, by a dictionary (independent of numpy's sorting)."""
    out: dict[int, int] = {}
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        out[t * k + p] = out.get(t * k + p, 0) + 1
    return out


def _as_dict(m: Coo) -> dict[int, int]:
    return dict(zip(m.pos.tolist(), m.val.tolist()))


def _predictions(n=4000, epochs=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    preds = []
    for e in range(epochs):
        p = y.copy()
        wrong = rng.random(n) < 0.6 - 0.2 * e
        p[wrong] = (y[wrong] + rng.integers(-2, 3, wrong.sum())) % K
        preds.append(p)
    return y, preds


@pytest.mark.parametrize("k", [1, 3, 7, 70_000])
def test_count_pairs_matches_a_dictionary(k):
    rng = np.random.default_rng(k)
    yt, yp = rng.integers(0, k, 500), rng.integers(0, k, 500)
    m = count_pairs(yt.astype(np.int32), yp.astype(np.int32), k)
    assert _as_dict(m) == _reference(yt, yp, k)
    assert np.all(np.diff(m.pos) > 0) and m.sum() == 500
    assert count_pairs(np.zeros(0, np.int32), np.zeros(0, np.int32), k).nnz == 0


def test_coo_sums_agree_with_dense():
    rng = np.random.default_rng(1)
    d = rng.integers(0, 3, (6, 6)) * (rng.random((6, 6)) < 0.4)
    m = Coo.from_dense(d)
    np.testing.assert_array_equal(m.dense(), d)
    np.testing.assert_array_equal(m.diagonal(), np.diag(d))
    np.testing.assert_array_equal(m.row_sums(), d.sum(1))
    np.testing.assert_array_equal(m.col_sums(), d.sum(0))
    assert (m.trace(), m.sum()) == (np.trace(d), d.sum())
    other = rng.integers(0, 3, (6, 6))
    np.testing.assert_array_equal(m.minus(Coo.from_dense(other)).dense(), d - other)
    rel, vals = m.row_range(2, 4)
    np.testing.assert_array_equal(rel, np.flatnonzero(d[2:4]))
    np.testing.assert_array_equal(vals, d[2:4][d[2:4] != 0])


def test_a_run_of_many_classes_holds_no_dense_matrix():
    y, preds = _predictions()
    run = Run.from_predictions(y, preds)
    counts = run.all_counts()
    assert counts.sparse and counts.shape == (3, 1, K, K)
    for e, p in enumerate(preds):
        assert isinstance(counts.tile(e, 0), Coo)
        assert _as_dict(counts.coo(e, 0)) == _reference(y, p, K)
    assert counts.nbytes() < 200_000  # a dense epoch would be 200 MB
    with pytest.raises(ValueError, match=r"held sparse.*coo"):
        run.matrices()


def test_widget_of_many_classes_sends_the_counts_sparse():
    y, preds = _predictions()
    w = ConfusionWidget.from_predictions(y, preds, epoch=1)
    assert w.counts.sparse
    with pytest.raises(ValueError, match=r"5000 classes are held sparse"):
        w.matrix
    # the initial pack and every counts reply decode to the exact cells
    got: dict[int, dict[int, int]] = {}
    packs = [w._counts] + [b[0] for _, b in wire.counts_replies(w.counts, [0, 1, 2], 0, 1)]
    for pack in packs:
        for e, _t, r0, rows in blocks(pack):
            flat = rows.reshape(-1)
            nz = np.flatnonzero(flat)
            got.setdefault(e, {}).update(zip((nz + r0 * K).tolist(), flat[nz].tolist()))
    for e, p in enumerate(preds):
        assert got[e] == _reference(y, p, K)
    assert sum(len(p) for p in packs) < 20 * 4000  # bytes grow with the non-zero cells, not K²
    # accuracy, metrics and a cell's samples as with dense counts
    assert w._accuracy[1][0] == pytest.approx(np.mean(y == preds[1]))
    w._metrics_open = True
    rows = {r["label"]: r for r in w._metrics}
    c = int(y[0])
    assert rows[str(c)]["support"] == int((y == c).sum())
    assert rows[str(c)]["recall"] == pytest.approx(np.mean(preds[1][y == c] == c), abs=1e-6)
    i = int(np.flatnonzero(y != preds[1])[0])
    w.selected = (int(y[i]), int(preds[1][i]))
    expected = np.flatnonzero((y == y[i]) & (preds[1] == preds[1][i]))
    assert sorted(w.selected_samples) == expected.tolist()


def test_a_comparison_of_many_classes_differs_sparse():
    y, preds = _predictions(epochs=2)
    a = Run.from_predictions(y, preds[:1], name="a")
    b = Run.from_predictions(y, preds[1:], name="b")
    counts = compare_source([a, b], diff=True).all_counts()
    assert counts.sparse and counts.shape[:2] == (1, 3)
    diff = _as_dict(counts.coo(0, 2))
    ref_a, ref_b = _reference(y, preds[0], K), _reference(y, preds[1], K)
    expected = {c: ref_b.get(c, 0) - ref_a.get(c, 0) for c in set(ref_a) | set(ref_b)}
    assert diff == {c: v for c, v in expected.items() if v != 0}


def test_dense_counts_stay_dense_below_the_threshold():
    c = Counts.from_array(np.ones((2, 1, 3, 3), np.int64))
    assert not c.sparse and c.dense().shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(c.accuracy(), [[1 / 3], [1 / 3]])


def test_offline_page_of_many_classes_saves_sparse_counts():
    y, preds = _predictions(n=2000, epochs=2)
    w = ConfusionWidget.from_predictions(y, preds)
    page = w.to_html(samples_per_cell=2, max_bytes=5_000_000)
    assert page.startswith("<!DOCTYPE html>") and len(page) < 2_000_000


def test_recorder_to_run_log_and_back_stays_sparse(tmp_path):
    from confusion_widget import ConfusionRecorder

    y, preds = _predictions(n=3000, epochs=2)
    log = tmp_path / "runs.db"
    rec = ConfusionRecorder(labels=K, store=log, run="big")
    for p in preds:
        for start in range(0, len(y), 1000):
            part = slice(start, start + 1000)
            rec.update(p[part], y[part], sample_ids=np.arange(len(y))[part])
        m = rec.end_epoch()
        assert isinstance(m, Coo)
    rec.close()
    w = ConfusionWidget.from_store(log, "big")
    assert w.counts.sparse
    for e, p in enumerate(preds):
        assert _as_dict(w.counts.coo(e, 0)) == _reference(y, p, K)


class _Recorded:
    """A stand-in comm that keeps the size of every message (JSON + buffers)."""

    sizes: ClassVar[list[int]] = []

    def __init__(self, data=None, buffers=None, **_):
        self.comm_id = "recorded"
        self.kernel = object()  # "connected": ipywidgets sends state updates
        self._size(data, buffers)

    def _size(self, data, buffers):
        _Recorded.sizes.append(
            len(json.dumps(data)) + sum(len(memoryview(b).cast("B")) for b in buffers or [])
        )

    def send(self, data=None, buffers=None, **_):
        self._size(data, buffers)

    def on_msg(self, _callback):
        pass

    def close(self, *_, **__):
        pass


def test_no_message_over_2_mib_at_10000_classes_with_long_names(monkeypatch):
    import ipywidgets.widgets.widget as ipw

    monkeypatch.setattr(ipw.comm, "create_comm", _Recorded)
    _Recorded.sizes = []
    k, n = 10_000, 200_000
    rng = np.random.default_rng(5)
    y = rng.integers(0, k, n)
    preds = [(y + rng.integers(0, 2, n)) % k, (y + rng.integers(-1, 2, n)) % k]
    names = [f"n{i:08d} a rather long class name, as in ImageNet-21k" for i in range(k)]  # 50 chars
    w = ConfusionWidget.from_predictions(y, preds, labels=names, epoch=0)
    opening = len(_Recorded.sizes)
    w.epoch = 1  # no table open: no metrics follow
    assert sum(_Recorded.sizes[opening:]) < 1000
    w._metrics_open = True  # a table opens: the rows come in a message of their own
    w.epoch = 0  # and follow the epoch
    assert len(_Recorded.sizes) >= opening + 2
    assert max(_Recorded.sizes) < 2 * 2**20, [s / 2**20 for s in _Recorded.sizes]
    # the widget's opening and the rows together would not have fitted in one message
    assert max(_Recorded.sizes[:opening]) + _Recorded.sizes[-1] > 2 * 2**20
