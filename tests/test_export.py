"""The self-contained HTML export (``export.py``): what the payload holds, thumbnail
dedupe, the byte cap and its order, bad input, the atomic write, escaping, and every
kind of widget. The page itself is driven in a browser in tests/e2e/test_export_offline.py."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from pack_decode import blocks

from confusion_widget import ConfusionRecorder, ConfusionWidget, Run, export
from confusion_widget.demo_scenes import detection_digits, multilabel_digits

STATIC_JS = Path(export.__file__).parent / "static" / "static.js"
pytestmark = pytest.mark.skipif(not STATIC_JS.exists(), reason="static.js not built (npm run build)")
LABELS = [str(d) for d in range(10)]


# -- helpers ----------------------------------------------------------------------------
def payload(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="cw-payload">(.*?)</script>', page, re.S)
    assert m, "no payload in the page"

    def no_nan(name):
        raise AssertionError(f"{name} in the payload: not JSON")

    return json.loads(m.group(1), parse_constant=no_nan)


def blob(p: dict, i: int) -> bytes:
    return base64.b64decode(p["blobs"][i])


def counts_of(p: dict) -> np.ndarray:
    """The ``(E, T, K, K)`` counts that the payload's pack holds."""
    st = p["state"]
    out = np.zeros(
        (st["n_epochs"], max(1, len(st["tile_titles"])), len(st["labels"]), len(st["labels"])), np.int64
    )
    for e, t, r0, values in blocks(blob(p, p["counts"])):
        out[e, t, r0 : r0 + len(values)] = values
    return out


def unsaved_cells(p: dict) -> set[tuple[int, int, int, int]]:
    k = len(p["state"]["labels"])
    out = set()
    for key, gaps in p["unsaved"].items():
        e, t = map(int, key.split(","))
        for pos in np.cumsum(gaps).tolist():
            out.add((e, t, pos // k, pos % k))
    return out


def saved_cells(p: dict) -> list[tuple[int, int, int, int]]:
    return [tuple(map(int, key.split(","))) for key in p["cells"]]


def make_run(n=300, epochs=4, seed=0, with_images=True):
    """Digits with deterministic fake predictions that improve over epochs."""
    from confusion_widget.demo_scenes import _digits

    images, targets = _digits()
    rng = np.random.default_rng(seed)
    y = targets[:n]
    preds = [np.where(rng.random(n) < 0.55 + 0.1 * e, y, rng.integers(0, 10, n)) for e in range(epochs)]
    conf = [rng.random(n).astype(np.float32) for _ in range(epochs)]
    return Run(LABELS, y, preds, confidence=conf, images=images[:n] if with_images else None, name="run")


@pytest.fixture(scope="module")
def run_widget():
    return ConfusionWidget(make_run(), epoch=2)


@pytest.fixture(scope="module")
def small_widget():
    return ConfusionWidget(make_run(n=40, epochs=2))


@pytest.fixture(scope="module")
def run_page(run_widget):
    return run_widget.to_html()


# -- what the page holds ----------------------------------------------------------------
def test_page_is_self_contained(run_page):
    assert run_page.startswith("<!DOCTYPE html>")
    # No reference to anything outside the file: no src/href attributes, no URLs.
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", run_page)
    assert "Content-Security-Policy" in run_page and "default-src 'none'" in run_page
    assert STATIC_JS.read_text(encoding="utf-8")[:200].replace("</script", "<\\/script") in run_page
    assert len(re.findall(r"<script", run_page)) == 2


def test_every_epoch_and_every_cell_with_its_first_page(run_widget, run_page):
    p = payload(run_page)
    w, src = run_widget, run_widget.source
    assert p["state"]["epoch"] == 2 and p["state"]["labels"] == LABELS
    np.testing.assert_array_equal(counts_of(p)[:, 0], w.matrices)
    assert p["unsaved"] == {}  # everything fitted in 50 MB
    nonzero = {(e, 0, r, c) for e, r, c in zip(*np.nonzero(w.matrices))}
    assert set(saved_cells(p)) == nonzero
    for e, t, r, c in nonzero:
        cell = p["cells"][f"{e},{t},{r},{c}"]
        expected = src.sample_ids()[src.cell(e, t, r, c).positions].tolist()
        assert cell["total"] == len(expected)
        assert [s["id"] for s in cell["samples"]] == expected[:25]
        for s in cell["samples"]:
            assert blob(p, s["buffer"]) == src.images.thumbnail(src.position_of(s["id"])).data
    # The metrics follow the epoch offline too.
    assert p["metrics"] == json.loads(json.dumps([src.metrics(e) for e in range(4)]))


def test_large_view_and_history_of_every_shown_sample(run_widget, run_page):
    p = payload(run_page)
    src = run_widget.source
    shown = {s["id"] for cell in p["cells"].values() for s in cell["samples"]}
    assert {json.loads(k) for k in p["images"]} == shown
    for key, entry in p["images"].items():
        pos = src.position_of(json.loads(key))
        assert blob(p, entry["buffer"]) == src.images.large(pos).data  # room for every large view
        assert entry["history"] == json.loads(json.dumps(src.sample_history(pos)))
        assert "boxes" not in entry


def test_thumbnails_are_embedded_once(run_widget, run_page):
    p = payload(run_page)
    refs = [s["buffer"] for cell in p["cells"].values() for s in cell["samples"]]
    assert len(refs) > 2 * len(set(refs))  # samples recur across epochs …
    assert len(set(refs)) == len(p["images"])  # … but each thumbnail is there once
    digests = [hashlib.sha256(blob(p, i)).digest() for i in range(len(p["blobs"]))]
    assert len(digests) == len(set(digests))  # no blob twice


def test_samples_per_cell(run_widget):
    p = payload(run_widget.to_html(samples_per_cell=3))
    assert p["samples_per_cell"] == 3
    assert max(len(c["samples"]) for c in p["cells"].values()) == 3
    assert any(c["total"] > 3 for c in p["cells"].values())
    p0 = payload(run_widget.to_html(samples_per_cell=0))
    assert p0["cells"] == {} and p0["images"] == {}
    assert len(unsaved_cells(p0)) == int(np.count_nonzero(run_widget.matrices))


def test_deterministic(run_widget, run_page):
    assert run_widget.to_html() == run_page


# -- the byte cap ------------------------------------------------------------------------
def _order_key(w, cell):
    e, _, r, c = cell
    return (r == c, -w.matrices[e, r, c])


def test_max_bytes_caps_the_whole_file_and_keeps_the_order(run_widget, run_page):
    w = run_widget
    full = len(run_page.encode())
    n_cells = int(np.count_nonzero(w.matrices))
    minimum = _minimum(w)
    seen = set()
    for cap in [minimum, minimum + 5_000, minimum + 40_000, (minimum + full) // 2, full - 1, full]:
        page = w.to_html(max_bytes=cap)
        assert len(page.encode()) <= cap
        p = payload(page)
        saved, unsaved = saved_cells(p), unsaved_cells(p)
        assert len(saved) + len(unsaved) == n_cells and not set(saved) & unsaved
        # Saved: off-diagonal before diagonal, larger first; every unsaved cell comes after.
        keys = [_order_key(w, c) for c in saved]
        assert keys == sorted(keys)
        if saved and unsaved:
            assert max(keys) <= min(_order_key(w, c) for c in unsaved)
        seen.add(len(saved))
    assert min(seen) < 10 and max(seen) == n_cells and len(seen) >= 4


def test_tight_budget_keeps_cells_before_large_views(run_widget):
    p = payload(run_widget.to_html(max_bytes=_minimum(run_widget) + 60_000))
    assert p["unsaved"]  # not everything fitted …
    thumbs = {s["id"]: s["buffer"] for c in p["cells"].values() for s in c["samples"]}
    fallback = [k for k, e in p["images"].items() if e["buffer"] == thumbs[json.loads(k)]]
    assert fallback  # … and some large views fell back to the thumbnail
    assert "not saved" in p["unsaved_error"] and "max_bytes" in p["unsaved_error"]
    assert "did not fit in max_bytes" in p["note"]


def _minimum(w) -> int:
    with pytest.raises(ValueError, match=r"max_bytes=1 is too small .* needs (\d+) bytes") as info:
        w.to_html(max_bytes=1)
    return int(re.search(r"needs (\d+) bytes", str(info.value)).group(1))


def test_max_bytes_too_small_names_the_minimum(run_widget):
    minimum = _minimum(run_widget)
    assert 20_000 < minimum < 300_000
    with pytest.raises(ValueError, match=f"pass max_bytes={minimum} or more"):
        run_widget.to_html(max_bytes=minimum - 1)
    page = run_widget.to_html(max_bytes=minimum)  # exactly enough works
    assert len(page.encode()) <= minimum and payload(page)["cells"] == {}


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"samples_per_cell": 2.5}, TypeError, "samples_per_cell must be an integer"),
        ({"samples_per_cell": True}, TypeError, "samples_per_cell must be an integer"),
        ({"samples_per_cell": "25"}, TypeError, "samples_per_cell"),
        ({"samples_per_cell": -1}, ValueError, "samples_per_cell must be between 0 and 500"),
        ({"samples_per_cell": 501}, ValueError, "samples_per_cell"),
        ({"max_bytes": 1e6}, TypeError, "max_bytes must be an integer"),
        ({"max_bytes": None}, TypeError, "max_bytes"),
        ({"max_bytes": 0}, ValueError, "max_bytes must be at least 1"),
        ({"max_bytes": -5}, ValueError, "max_bytes"),
    ],
)
def test_bad_arguments(run_widget, tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        run_widget.to_html(**kwargs)
    with pytest.raises(error, match=match):
        run_widget.save_html(tmp_path / "x.html", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_numpy_integers_are_accepted(run_widget):
    run_widget.to_html(samples_per_cell=np.int64(2), max_bytes=np.int32(10**7))


def test_not_a_widget():
    with pytest.raises(TypeError, match="ConfusionWidget"):
        export.to_html(np.eye(2))


def test_save_html_writes_the_page(run_widget, run_page, tmp_path):
    out = run_widget.save_html(tmp_path / "cm.html")
    assert out == tmp_path / "cm.html"
    assert out.read_text(encoding="utf-8") == run_page
    assert os.stat(out).st_mode & 0o644 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.html"]
    run_widget.save_html(str(out), samples_per_cell=1)  # a str path, replacing the file
    assert payload(out.read_text(encoding="utf-8"))["samples_per_cell"] == 1


def test_missing_folder_is_an_oserror_naming_the_path(small_widget, tmp_path):
    target = tmp_path / "nope" / "cm.html"
    with pytest.raises(OSError, match=re.escape(str(target))):
        small_widget.save_html(target)
    assert not (tmp_path / "nope").exists()


def test_a_folder_as_path(run_widget, tmp_path):
    with pytest.raises(OSError, match=re.escape(str(tmp_path))):
        run_widget.save_html(tmp_path)


def test_bad_path_type(run_widget):
    with pytest.raises(TypeError, match="path"):
        run_widget.save_html(42)


def test_unwritable_folder():
    """As a user file modes apply to (root drops to uid 65534 in the child, after its
    imports: the venv lives where only root may enter)."""
    import shutil
    import subprocess
    import sys
    import tempfile
    import textwrap

    folder = Path(tempfile.mkdtemp(prefix="cw-export-"))
    try:
        folder.chmod(0o555)
        code = textwrap.dedent(f"""
            import os, sys
            import confusion_widget.export  # everything imported before dropping root
            from confusion_widget import ConfusionWidget
            w = ConfusionWidget([[3, 1], [0, 2]])
            w.to_html()
            if os.geteuid() == 0:
                os.setgroups([]); os.setgid(65534); os.setuid(65534)
            try:
                w.save_html({str(folder / "cm.html")!r})
            except PermissionError as exc:
                print("PermissionError", exc)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("PermissionError") and str(folder / "cm.html") in out.stdout
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    ("failing", "error"),
    [
        ("tempfile.mkstemp", PermissionError(13, "Permission denied")),  # an unwritable folder, even as root
        ("os.fsync", OSError(28, "No space left on device")),
        ("os.replace", OSError(28, "No space left on device")),
    ],
)
def test_a_failed_write_leaves_nothing_half_written(small_widget, tmp_path, monkeypatch, failing, error):
    target = tmp_path / "cm.html"
    target.write_text("the previous page", encoding="utf-8")

    def boom(*args, **kwargs):
        raise error

    module, name = failing.split(".")
    monkeypatch.setattr(getattr(export, module), name, boom)
    with pytest.raises(type(error), match=re.escape(str(target)) + ".*" + error.strerror):
        small_widget.save_html(target)
    assert target.read_text(encoding="utf-8") == "the previous page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.html"]  # no temporary file left


# -- text stays text ---------------------------------------------------------------------
EVIL = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>", "<!--", "a&amp;b"]


def test_names_captions_and_title_stay_text():
    n = 40
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, n)
    ids = [f"</script><b>{i}</b>" for i in range(n)]
    run = Run(EVIL, y, [rng.integers(0, 4, n), y], sample_ids=ids, images=np.zeros((n, 8, 8), np.uint8))
    w = ConfusionWidget(run, title="</title><script>alert(3)</script>")
    page = w.to_html()
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;</title>" in page
    body = re.search(r'id="cw-payload">(.*?)</script>', page, re.S).group(1)
    assert "<" not in body and ">" not in body and "&" not in body
    assert len(re.findall(r"<script", page)) == 2 and page.count("</script>") == 2
    assert "<!--" not in page and "onerror=alert" not in page.replace("onerror=alert(1)\\u003e", "")
    p = payload(page)
    assert p["state"]["labels"] == EVIL and p["state"]["title"] == w.title
    assert {s["id"] for c in p["cells"].values() for s in c["samples"]} <= set(ids)
    assert {json.loads(k) for k in p["images"]} <= set(ids)


# -- every kind of widget -----------------------------------------------------------------
def _check(w, **kwargs):
    """The page of ``w``: counts, cells and images consistent with the widget."""
    page = w.to_html(**kwargs)
    p = payload(page)
    mats = w.matrices if w.matrices.ndim == 4 else w.matrices[:, None]
    np.testing.assert_array_equal(counts_of(p), mats)
    assert list(blocks(blob(p, p["empty_counts"]))) == []
    for key, cell in p["cells"].items():
        e, t, r, c = map(int, key.split(","))
        hits = w.source.cell(e, t, r, c)
        assert cell["total"] == len(hits)
        assert [s["id"] for s in cell["samples"]] == w.source.sample_ids()[hits.positions[:25]].tolist()
    return p


def test_bare_matrix():
    w = ConfusionWidget(np.array([[[5, 1], [2, 7]], [[6, 0], [1, 8]]]), labels=["cat", "dog"])
    p = _check(w)
    assert p["cells"] == {} and p["images"] == {} and p["unsaved"] == {}
    assert p["state"]["_has_samples"] is False
    assert "no cell has samples" in p["note"]


def test_run_without_images():
    p = _check(ConfusionWidget(make_run(n=60, with_images=False)))
    samples = [s for c in p["cells"].values() for s in c["samples"]]
    assert samples and all(s["buffer"] == -1 and s["error"] for s in samples)
    assert p["images"] == {} and len(p["blobs"]) == 2


def test_comparison_with_a_difference_tile():
    a, b = make_run(seed=1, epochs=3), make_run(seed=2, epochs=3)
    w = ConfusionWidget.compare({"a": a, "b": b}, diff=True)
    p = _check(w)
    assert p["state"]["tile_titles"] == ["a", "b", "b − a"]
    diff = [c for key, c in p["cells"].items() if key.split(",")[1] == "2"]
    changes = {s["change"] for c in diff for s in c["samples"]}
    assert changes == {"entered", "left"}
    # Histories hold both runs.
    assert all(len(e["history"]) == 2 for e in p["images"].values())


def test_difference_of_one_run():
    p = _check(ConfusionWidget.difference(make_run(epochs=3)))
    assert len(p["state"]["tile_titles"]) == 3


@pytest.mark.parametrize("mode", ["mlcm", "per_label"])
def test_multilabel(mode):
    images, y_true, scores = multilabel_digits(120, seed=3)
    epochs = np.stack([np.clip(scores + d, 0, 1) for d in (-0.2, 0.0)])
    w = ConfusionWidget.from_multilabel(y_true, epochs, labels=LABELS, images=images, mode=mode)
    p = _check(w)
    assert p["state"]["threshold"] is None  # no re-thresholding without a kernel
    assert p["cells"] and p["images"]
    assert len(p["metrics"]) == 2 and p["metrics"][0] != p["metrics"][1]


def test_detection_boxes_at_every_epoch():
    images, gt, pred = detection_digits(30, seed=0)
    w = ConfusionWidget.from_detections(gt, pred, labels=LABELS, images=images)
    p = _check(w)
    assert w.score_threshold is not None and w.iou_threshold is not None
    assert p["state"]["score_threshold"] is None and p["state"]["iou_threshold"] is None  # no sliders offline
    src = w.source
    cell_boxes = [s["boxes"] for c in p["cells"].values() for s in c["samples"]]
    assert cell_boxes and all(isinstance(b, list) for b in cell_boxes)
    for key, entry in p["images"].items():
        pos = src.position_of(json.loads(key))
        assert entry["boxes"] == [
            json.loads(json.dumps(src.image_boxes(pos, e))) for e in range(src.n_epochs)
        ]
        assert entry["width"] == entry["height"] == 96


def test_recorder_and_run_log(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (50, 8, 8), dtype=np.uint8)
    y = rng.integers(0, 3, 50)
    store = tmp_path / "runs.db"
    with ConfusionRecorder(["a", "b", "c"], images=images, store=store, run="r") as rec:
        for _ in range(2):
            rec.update(rng.normal(size=(50, 3)), y, sample_ids=np.arange(50))
            rec.end_epoch()
        live = _check(rec.widget())
    logged = _check(ConfusionWidget.from_store(store, "r"))
    assert live["cells"].keys() == logged["cells"].keys() and live["images"]


def test_payload_json_has_no_nan_and_no_numpy():
    text = export._json({"a": float("nan"), "b": np.float32(1.5), "c": (np.int64(1), 2), "d": "<&>"})
    assert text == '{"a":null,"b":1.5,"c":[1,2],"d":"\\u003c\\u0026\\u003e"}'


def test_a_subset_with_other_saves_the_displayed_cells():
    w = ConfusionWidget(make_run(), classes=["1", "3", "5"], epoch=2)
    assert w.labels == ["1", "3", "5", "(other)"]
    p = payload(w.to_html())
    np.testing.assert_array_equal(counts_of(p)[:, 0], w.matrices)
    full = w.source
    other = [c for c in range(10) if c not in (1, 3, 5)]
    for key, cell in p["cells"].items():
        e, _t, r, c = map(int, key.split(","))
        rows = [[1], [3], [5], other][r]
        cols = [[1], [3], [5], other][c]
        expected = {
            i for a in rows for b in cols for i in full.sample_ids()[full.cell(e, 0, a, b).positions].tolist()
        }
        assert cell["total"] == len(expected)
        assert {s["id"] for s in cell["samples"]} <= expected
