"""The saved page (``save_html``) in Chromium, offline: opened from ``file://`` in a
context that aborts and records every request that is not the file itself. Nothing
may be requested, the matrix draws, the slider scrubs every epoch, clicked cells
show the samples Python's ``selected_samples`` gives at that epoch, the larger view
and the history open, a cell left out by ``max_bytes`` says so at once, detection
boxes are drawn, and the console stays clean. No kernel anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from harness import PageEvents, canvas_ink, click_matrix_cell, matrix_canvas, require_frontend, thumbnail_ids

from confusion_widget import ConfusionWidget, Run
from confusion_widget.demo_scenes import _digits, detection_digits, multilabel_digits

LABELS = [str(d) for d in range(10)]
NOT_SAVED = "the samples of this cell were not saved in this file (max_bytes)"


def save(w: ConfusionWidget, path: Path, **kwargs) -> Path:
    out = w.save_html(path, **kwargs)
    assert out == path and path.is_file()
    return out


def expected_ids(w: ConfusionWidget, epoch: int, tile: int, row: int, col: int, n: int = 25) -> list[str]:
    """What Python's ``selected_samples`` holds for that cell at that epoch (first page)."""
    old = (w.epoch, w.selected_tile, w.selected)
    w.epoch, w.selected_tile, w.selected = epoch, tile, (row, col)
    ids = [str(i) for i in w.selected_samples[:n]]
    w.epoch, w.selected_tile, w.selected = old
    return ids


class Offline:
    """Opens saved pages in fresh contexts where every request but the file aborts."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts = []
        self.requested: list[str] = []  # everything but the file itself, aborted
        self.events = PageEvents()

    def open(self, path: Path):
        require_frontend()
        context = self.browser.new_context(viewport={"width": 1300, "height": 1000})
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        url = path.resolve().as_uri()

        def route(r):
            if r.request.url == url:
                r.continue_()
            else:
                self.requested.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("request", lambda r: r.url != url and self.requested.append(r.url))
        self.events.attach(page)
        page.goto(url)
        page.wait_for_function(
            "() => [...document.querySelectorAll('canvas.cw-matrix')].some(c => c.dataset.epoch !== undefined)"
        )
        return page

    def check_clean(self):
        assert self.requested == [], f"the page requested {self.requested}"
        assert self.events.console_errors == [] and self.events.page_errors == []


@pytest.fixture
def offline(browser):
    o = Offline(browser)
    yield o
    for c in o.contexts:
        c.close()


def set_epoch(page, epoch: int) -> None:
    page.eval_on_selector(
        "input.cw-epoch-slider",
        "(el, e) => { el.value = String(e); el.dispatchEvent(new Event('input', {bubbles: true})); }",
        epoch,
    )
    page.wait_for_function(
        "(e) => [...document.querySelectorAll('canvas.cw-matrix')].every(c => c.dataset.epoch === String(e))",
        arg=epoch,
    )


def wait_ids(page, ids: list[str]) -> None:
    """Wait until the panel shows exactly ``ids``, then check."""
    page.wait_for_function(
        "(ids) => JSON.stringify([...document.querySelectorAll('figure.cw-thumb [data-sample-id]')]"
        ".map(e => e.dataset.sampleId)) === JSON.stringify(ids)",
        arg=ids,
    )
    assert thumbnail_ids(page) == ids


def drawing(page, tile: int = 0) -> str:
    return matrix_canvas(page, tile).evaluate("(c) => c.toDataURL()")


def payload(path: Path) -> dict:
    page = path.read_text(encoding="utf-8")
    return json.loads(re.search(r'id="cw-payload">(.*?)</script>', page, re.S).group(1))


# -- a run over several epochs ------------------------------------------------------------
def digits_run(n: int = 400, epochs: int = 5) -> Run:
    images, targets = _digits()
    rng = np.random.default_rng(7)
    y = targets[:n]
    preds = [np.where(rng.random(n) < 0.5 + 0.1 * e, y, rng.integers(0, 10, n)) for e in range(epochs)]
    conf = [rng.random(n).astype(np.float32) for _ in range(epochs)]
    return Run(LABELS, y, preds, confidence=conf, images=images[:n], name="digits")


def test_run_offline(offline, tmp_path):
    w = ConfusionWidget(digits_run())
    m = w.matrices
    # An off-diagonal cell with samples at epochs 1 and 3, and not the same ones.
    e1, e2 = 1, 3
    cells = [(r, c) for r, c in zip(*np.nonzero(m[e1] * m[e2])) if r != c]
    r, c = max(cells, key=lambda rc: min(m[e1][rc], m[e2][rc]))
    want1, want2 = expected_ids(w, e1, 0, r, c), expected_ids(w, e2, 0, r, c)
    assert want1 != want2 and want1 and want2
    path = save(w, tmp_path / "run.html")

    page = offline.open(path)
    canvas = matrix_canvas(page)
    assert canvas.get_attribute("data-rows") == "10"
    assert canvas.get_attribute("data-epoch") == "4" and canvas_ink(canvas)["colours"] > 3
    measures = page.evaluate("() => performance.getEntriesByType('measure').map(m => m.name)")
    assert "cw:first-paint" in measures

    # The slider reaches every epoch, and each draws differently.
    drawn = {4: drawing(page)}
    for e in (0, 1, 2, 3):
        set_epoch(page, e)
        drawn[e] = drawing(page)
    assert len(set(drawn.values())) == 5
    assert "epoch 3" in page.locator(".cw-epoch-label").text_content()

    # Click the cell at epoch 3, then move to epoch 1: the panel follows.
    click_matrix_cell(page, r, c)
    wait_ids(page, want2)
    set_epoch(page, e1)
    wait_ids(page, want1)

    # The larger view (the 384 px rendering, not the 96 px thumbnail) and the history.
    page.locator("figure.cw-thumb").first.click()
    big = page.locator(".cw-large img")
    big.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('.cw-large img').naturalWidth > 0")
    assert big.evaluate("(i) => i.naturalWidth") == 384
    history = page.locator(".cw-large .cw-history")
    history.wait_for(state="visible")
    assert history.locator("tbody tr").count() == 5  # one row per epoch
    assert page.locator(".cw-panel .cw-error:visible").count() == 0

    # The per-class table's rows are in the file, for every epoch: at epoch 1, then 3.
    page.keyboard.press("Escape")
    page.locator("details.cw-metrics summary").click()
    w._metrics_open = True
    seen = []
    for e in (e1, e2):
        set_epoch(page, e)
        w.epoch = e
        want = [round(100 * row["recall"], 1) for row in w._metrics]
        page.wait_for_function(
            """(want) => { const got = [...document.querySelectorAll('details.cw-metrics tbody tr')]
                 .map((tr) => parseFloat(tr.cells[2].textContent.replace('<', '')));
               return got.length === want.length && got.every((g, i) => Math.abs(g - want[i]) <= 0.51); }""",
            arg=want,
        )
        seen.append(want)
    assert seen[0] != seen[1]
    assert page.locator(".cw-metrics-wait:visible").count() == 0
    offline.check_clean()


def test_cells_left_out_by_max_bytes_say_so_at_once(offline, tmp_path):
    w = ConfusionWidget(digits_run())
    minimum = int(re.search(r"needs (\d+) bytes", _too_small(w)).group(1))
    path = save(w, tmp_path / "small.html", max_bytes=minimum + 30_000)
    assert path.stat().st_size <= minimum + 30_000
    p = payload(path)
    saved = {tuple(map(int, k.split(","))) for k in p["cells"]}
    last = w.n_epochs - 1
    # Diagonal cells come last: the largest one at the last epoch was left out.
    left_out = (last, 0, 2, 2)
    assert left_out not in saved and w.matrices[last, 2, 2] > 0
    kept = next((e, t, r, c) for (e, t, r, c) in saved if e == last)

    page = offline.open(path)
    click_matrix_cell(page, kept[2], kept[3])
    wait_ids(page, expected_ids(w, last, 0, kept[2], kept[3]))
    click_matrix_cell(page, 2, 2)
    error = page.locator(".cw-panel .cw-error")
    error.wait_for(state="visible", timeout=1_000)  # at once, no spinner first for long
    assert NOT_SAVED in error.text_content()
    assert page.locator("figure.cw-thumb").count() == 0
    assert not page.locator(".cw-panel-status").is_visible()
    assert "did not fit in max_bytes" in page.locator(".cw-static-note").text_content()
    offline.check_clean()


def _too_small(w) -> str:
    with pytest.raises(ValueError) as info:
        w.to_html(max_bytes=1)
    return str(info.value)


# -- a comparison with a difference tile -----------------------------------------------------
def test_comparison_with_difference_tile_offline(offline, tmp_path):
    images, targets = _digits()
    n = 300
    rng = np.random.default_rng(3)
    y = targets[:n]

    def run(name, p_right):
        preds = [np.where(rng.random(n) < p + p_right, y, rng.integers(0, 10, n)) for p in (0.3, 0.4, 0.5)]
        return Run(LABELS, y, preds, images=images[:n], name=name)

    w = ConfusionWidget.compare({"small": run("small", 0.1), "large": run("large", 0.3)}, diff=True)
    diff = w.matrices[1, 2]
    r, c = max(
        ((r, c) for r, c in zip(*np.nonzero(w.matrices[1, 0] + w.matrices[1, 1])) if r != c),
        key=lambda rc: abs(diff[rc]) + w.matrices[1, 0][rc],
    )
    want = expected_ids(w, 1, 2, r, c)
    assert want
    w.epoch = 1
    path = save(w, tmp_path / "compare.html")

    page = offline.open(path)
    for t in range(3):
        assert canvas_ink(matrix_canvas(page, t))["colours"] > 3
    click_matrix_cell(page, r, c, tile=2)
    wait_ids(page, want)
    moved = page.locator("figure.cw-thumb.cw-entered, figure.cw-thumb.cw-left").count()
    assert moved == len(want)
    assert "large − small" in page.locator(".cw-panel").text_content()
    offline.check_clean()


# -- multi-label ---------------------------------------------------------------------------
def test_multilabel_offline(offline, tmp_path):
    images, y_true, scores = multilabel_digits(200, seed=1)
    epochs = np.stack([np.clip(scores - 0.25, 0, 1), scores])
    w = ConfusionWidget.from_multilabel(y_true, epochs, labels=LABELS, images=images)
    k = len(w.labels)
    m = w.matrices
    r, c = max(((r, c) for r, c in zip(*np.nonzero(m[0])) if r != c), key=lambda rc: m[0][rc])
    want0, want1 = expected_ids(w, 0, 0, r, c), expected_ids(w, 1, 0, r, c)
    path = save(w, tmp_path / "multilabel.html")

    page = offline.open(path)
    assert matrix_canvas(page).get_attribute("data-rows") == str(k)
    assert page.locator("input.cw-threshold:visible").count() == 0  # no re-thresholding offline
    click_matrix_cell(page, r, c)
    wait_ids(page, want1)
    set_epoch(page, 0)
    wait_ids(page, want0)
    offline.check_clean()


# -- detection -----------------------------------------------------------------------------
def test_detection_boxes_offline(offline, tmp_path):
    images, gt, pred = detection_digits(60, seed=2)
    w = ConfusionWidget.from_detections(gt, pred, labels=LABELS, images=images)
    m = w.matrices[0]
    r, c = max(((r, c) for r, c in zip(*np.nonzero(m)) if r != c), key=lambda rc: m[rc])
    want = expected_ids(w, 0, 0, r, c)
    path = save(w, tmp_path / "detection.html")

    page = offline.open(path)
    click_matrix_cell(page, r, c)
    wait_ids(page, want)
    assert page.locator("figure.cw-thumb svg.cw-boxes").count() == len(want)
    page.locator("figure.cw-thumb").first.click()
    boxes = page.locator(".cw-large svg.cw-boxes")
    boxes.wait_for(state="visible")
    assert boxes.locator("g.cw-box").count() >= 1
    assert page.locator(".cw-large img").evaluate("(i) => i.naturalWidth") > 0
    offline.check_clean()


# -- the check itself ------------------------------------------------------------------------
def test_the_offline_check_catches_a_request(offline, tmp_path):
    """Without the page's Content-Security-Policy, an image from the network is
    requested: the route records it (so an empty record above means something)."""
    path = save(ConfusionWidget([[5, 1], [2, 7]], labels=["cat", "dog"]), tmp_path / "leaky.html")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", path.read_text(encoding="utf-8"))
    path.write_text(
        text.replace("</body>", '<img src="https://example.invalid/x.png"></body>'), encoding="utf-8"
    )
    page = offline.open(path)
    page.wait_for_function("() => document.querySelector('img[src^=\"https\"]').complete")
    assert "https://example.invalid/x.png" in offline.requested


# -- text stays text ------------------------------------------------------------------------
def test_html_in_names_ids_and_title_stays_text_offline(offline, tmp_path):
    evil = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>", "<!--", "ünï & <b>"]
    n = 60
    rng = np.random.default_rng(5)
    images, _ = _digits()
    y = rng.integers(0, 4, n)
    ids = [f"<img src=x onerror=alert({i})>é" for i in range(n)]
    run = Run(evil, y, [rng.integers(0, 4, n), y], sample_ids=ids, images=images[:n])
    w = ConfusionWidget(run, title="</title><script>alert(3)</script>", epoch=0)
    r, c = next((r, c) for r, c in zip(*np.nonzero(w.matrices[0])) if r != c)
    want = expected_ids(w, 0, 0, r, c)
    path = save(w, tmp_path / "xss.html")

    page = offline.open(path)
    assert page.title() == w.title
    root = page.locator(".cw-root")
    assert w.title in root.text_content()
    click_matrix_cell(page, r, c)
    wait_ids(page, want)
    assert evil[r] in page.locator(".cw-panel").text_content()
    page.locator("figure.cw-thumb").first.click()  # string ids find their large view too
    page.locator(".cw-large img").wait_for(state="visible")
    assert page.locator(".cw-large .cw-history").is_visible()
    page.wait_for_timeout(300)  # a broken <img> would fire onerror by now
    assert page.locator('img[src="x"]').count() == 0 and page.locator("b").count() == 0
    assert page.locator("script").count() == 2  # the payload and the bundle, nothing injected
    assert offline.events.dialogs == []
    offline.check_clean()
