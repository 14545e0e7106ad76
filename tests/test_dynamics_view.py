"""The dynamics view's Python side: the sample-subset source (counts against a brute
force recount), the widget's sample filter, and the view's selection, lists and
message handling."""

from __future__ import annotations

import numpy as np
import pytest

from confusion_widget import ConfusionWidget, RunStore
from confusion_widget.dynamics_view import MAX_SAMPLES, DynamicsView
from confusion_widget.runs import Run
from confusion_widget.subset import SubsetRun, subset_source

N, E, K = 240, 5, 4


def _data(seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Logits that get better over the epochs, with some label noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, N)
    out = []
    for e in range(E):
        logits = rng.normal(0, 1, (N, K))
        logits[np.arange(N), y] += 0.6 * e + rng.normal(0, 1.5, N)
        out.append(logits)
    return y, out


def _brute(y: np.ndarray, logits: np.ndarray, positions: list[int]) -> np.ndarray:
    m = np.zeros((K, K), np.int64)
    for p in positions:
        m[y[p], int(np.argmax(logits[p]))] += 1
    return m


@pytest.fixture
def widget() -> ConfusionWidget:
    y, logits = _data()
    images = np.random.default_rng(1).integers(0, 255, (N, 8, 8), dtype=np.uint8)
    return ConfusionWidget.from_predictions(y, logits, images=images, sample_ids=np.arange(N) * 3 + 7)


# -- the subset source -------------------------------------------------------------------
def test_subset_counts_equal_a_brute_force_recount():
    y, logits = _data()
    run = Run.from_predictions(y, logits)
    picked = [int(p) for p in np.random.default_rng(2).choice(N, 37, replace=False)]
    sub = SubsetRun(run, picked)
    assert sub.n_epochs == E and sub.n_samples == 37
    dense = sub.matrices()[:, 0]
    for e in range(E):
        np.testing.assert_array_equal(dense[e], _brute(y, logits[e], picked))
    np.testing.assert_array_equal(sub.sample_ids(), np.sort(picked))


def test_subset_cells_hold_only_selected_samples_in_the_parents_order():
    y, logits = _data()
    run = Run.from_predictions(y, logits, sample_ids=[f"s{i}" for i in range(N)])
    picked = list(range(0, N, 3))
    sub = subset_source(run, [f"s{i}" for i in picked])
    assert isinstance(sub, SubsetRun)
    chosen = set(picked)
    for r in range(K):
        for c in range(K):
            mine = sub.sample_ids()[sub.cell(E - 1, 0, r, c).positions].tolist()
            theirs = run.sample_ids()[run.cell(E - 1, 0, r, c).positions].tolist()
            assert mine == [s for s in theirs if int(s[1:]) in chosen]  # same order, filtered


def test_subset_follows_a_growing_run_and_delegates_images_and_history():
    y, logits = _data()
    images = np.arange(N * 4, dtype=np.uint8).reshape(N, 2, 2)
    run = Run.from_predictions(y, logits, images=images)
    sub = SubsetRun(run, [5, 1, 9])
    assert sub.images is not None and sub.images.thumbnail(0).data == run.images.thumbnail(1).data
    assert sub.sample_history(2) == run.sample_history(9)
    pred = np.zeros(N, np.int64)
    run.append_epoch(y, pred)
    assert sub.n_epochs == E + 1
    np.testing.assert_array_equal(sub.counts(-1), _brute(y, np.eye(K)[pred], [1, 5, 9]))


def test_subset_bad_input():
    y, logits = _data()
    run = Run.from_predictions(y, logits)
    with pytest.raises(ValueError, match="not in the run"):
        subset_source(run, [0, N + 5])
    with pytest.raises(ValueError, match="duplicates"):
        SubsetRun(run, [1, 1])
    with pytest.raises(ValueError, match=r"in \[0, 240\)"):
        SubsetRun(run, [N])
    with pytest.raises(TypeError, match="string"):
        subset_source(run, "12")
    assert subset_source(run, []).matrices().sum() == 0


# -- the widget's filter -------------------------------------------------------------------
def test_filter_samples_counts_exactly_those_samples_and_back(widget):
    y, logits = _data()
    full = widget.matrix.copy()
    picked = [3, 10, 11, 50, 200]
    widget.filter_samples([p * 3 + 7 for p in picked])
    np.testing.assert_array_equal(widget.matrix, _brute(y, logits[-1], picked))
    widget.epoch = 1
    np.testing.assert_array_equal(widget.matrix, _brute(y, logits[1], picked))
    widget._metrics_open = True
    assert sum(r["support"] for r in widget._metrics) == len(picked)
    assert widget.sample_filter == [p * 3 + 7 for p in picked]
    assert widget.source.n_samples == N  # the full run stays the source
    widget.filter_samples(None)
    widget.epoch = E - 1
    np.testing.assert_array_equal(widget.matrix, full)
    with pytest.raises(ValueError, match="not in the run"):
        widget.filter_samples([8])  # ids are 7, 10, 13, …


def test_filter_in_a_comparison_and_a_matrix_widget():
    y, logits = _data()
    _, logits2 = _data(5)
    a = Run.from_predictions(y, logits, name="a")
    b = Run.from_predictions(y, logits2, name="b")
    w = ConfusionWidget.compare({"a": a, "b": b})
    w.filter_samples([0, 1, 2])
    np.testing.assert_array_equal(w.matrix[0], _brute(y, logits[-1], [0, 1, 2]))
    np.testing.assert_array_equal(w.matrix[1], _brute(y, logits2[-1], [0, 1, 2]))
    v = w.dynamics_view(run="b")
    assert v.run is b
    with pytest.raises(ValueError, match="pass run="):
        w.dynamics_view()
    m = ConfusionWidget(np.array([[3, 1], [0, 2]]))
    with pytest.raises(ValueError, match="samples"):
        m.dynamics_view()
    with pytest.raises(ValueError, match="per-sample"):
        m.filter_samples([0])


# -- the view ------------------------------------------------------------------------------
def test_view_points_lists_and_box_selection(widget):
    v = widget.dynamics_view(k=5)
    t = widget.dynamics()
    assert v.n_points == N and len(v._points) == 9 * N
    x = np.frombuffer(v._points[: 4 * N], "<f4")
    np.testing.assert_allclose(x, t["variability"], rtol=1e-6)
    sel = v.select_box((0.05, 0.3), (0.2, 0.8))
    expected = [
        i for i in range(N) if 0.05 <= t["variability"][i] <= 0.3 and 0.2 <= t["confidence"][i] <= 0.8
    ]
    assert sel == expected and len(expected) > 5
    assert v.selected_ids == [int(t["sample_id"][i]) for i in expected]
    lists = {lst["key"]: lst["items"] for lst in v._lists}
    assert [it["id"] for it in lists["suspects"]] == widget.suspects(5)["sample_id"].tolist()
    forgot = t["forgetting_events"]
    assert [forgot[it["position"]] for it in lists["forgotten"]] == sorted(forgot, reverse=True)[:5]
    assert all(t["first_learned"][it["position"]] == -1 for it in lists["never"])


def test_view_filter_follows_selection(widget):
    y, logits = _data()
    v = widget.dynamics_view()
    v.selection = [4, 2, 9]
    assert v.selection == [2, 4, 9]
    assert widget.sample_filter is None  # not filtering yet
    v.filter_matrix = True
    np.testing.assert_array_equal(widget.matrix, _brute(y, logits[-1], [2, 4, 9]))
    v.selection = [0]
    np.testing.assert_array_equal(widget.matrix, _brute(y, logits[-1], [0]))
    v.filter_matrix = False
    assert widget.sample_filter is None and widget.matrix.sum() == N
    with pytest.raises(Exception, match="positions"):
        v.selection = [N]
    v.set_state({"selection": ["x"]})  # a bad frontend update is ignored, not raised
    assert v.selection == [0]


def test_view_messages(widget):
    v = widget.dynamics_view()
    reply, buffers = v.answer({"type": "dyn-samples", "id": 5, "positions": [3, 1]})
    assert reply["id"] == 5 and reply["positions"] == [3, 1]
    assert [s["id"] for s in reply["samples"]] == [3 * 3 + 7, 1 * 3 + 7]
    assert len(buffers) == 2 and all(b[:4] == b"\x89PNG" for b in buffers)
    reply, buffers = v.answer({"type": "dyn-image", "id": 6, "position": 2})
    assert reply["type"] == "image" and reply["history"][0]["true"][0] == widget.labels[_data()[0][2]]
    assert len(buffers) == 1
    for bad, match in (
        ({"type": "dyn-samples", "id": 7, "positions": [N]}, "position"),
        ({"type": "dyn-samples", "id": 7, "positions": list(range(MAX_SAMPLES + 1))}, "at most"),
        ({"type": "dyn-image", "id": 7, "position": True}, "position"),
        ({"type": "nope", "id": 7}, "unknown request"),
    ):
        reply, buffers = v.answer(bad)
        assert reply["type"] == "error" and match in reply["error"] and buffers == []


def test_view_bad_input(widget):
    with pytest.raises(ValueError, match="k must"):
        widget.dynamics_view(k=0)
    with pytest.raises(ValueError, match="confidence_threshold"):
        widget.dynamics_view(confidence_threshold=2)
    with pytest.raises(TypeError, match="ConfusionWidget"):
        DynamicsView(object())
    y, _ = _data()
    ids_only = ConfusionWidget.from_predictions([y, y], [y, (y + 1) % K])
    with pytest.raises(ValueError, match="p_true"):
        ids_only.dynamics_view()


def test_view_from_a_run_log(tmp_path, widget):
    path = tmp_path / "runs.db"
    run = widget.source
    with RunStore(path, mode="a") as store:
        store.create_run("r1", run.labels, run.sample_ids())
        for e in range(run.n_epochs):
            store.append_epoch(
                "r1",
                run.y_true(e),
                run.y_pred(e),
                run.confidence(e),
                p_true=run.p_true(e),
                margin=run.margin(e),
            )
    w = ConfusionWidget.from_store(path, "r1")
    v = w.dynamics_view()
    assert v.n_points == N
    v.selection = [0, 1]
    v.filter_matrix = True
    assert w.matrix.sum() == 2


def test_dynamics_notebook_runs(tmp_path):
    import shutil
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    src = Path(__file__).parents[1] / "notebooks" / "dynamics.ipynb"
    shutil.copy(src, tmp_path / src.name)
    nb = nbformat.read(tmp_path / src.name, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "hard-to-learn samples" in text and "error" not in text.lower()


def test_js_reads_exactly_the_views_synced_traits():
    """js/dynamics_view.js names the model's traits in one object (``T``); it must be
    the view's synced traits (js/wire_schema.json covers the widget's model only)."""
    import re
    from pathlib import Path

    source = (Path(__file__).parents[1] / "js" / "dynamics_view.js").read_text()
    block = re.search(r"const T = Object\.freeze\(\{(.*?)\}\);", source, re.S)
    assert block is not None
    in_js = set(re.findall(r':\s*"([^"]+)"', block.group(1)))
    synced = {n for n in DynamicsView.class_own_traits(sync=True) if n not in ("_esm", "_css")}
    assert in_js == synced


def test_view_follows_a_growing_run():
    y, logits = _data()
    run = Run.from_predictions(y, logits)
    w = ConfusionWidget(run)
    v = w.dynamics_view()
    v.selection = [1, 2]
    before = bytes(v._points)
    run.append_epoch(y, y, confidence=np.ones(N), p_true=np.ones(N), margin=np.ones(N))  # all right
    assert bytes(v._points) != before and v.selection == [1, 2]
    np.testing.assert_allclose(v.table["correct_fraction"], w.dynamics()["correct_fraction"])
    assert v.table["correct_fraction"].min() >= 1 / (E + 1)  # right at least at the new epoch
