"""The self-contained HTML export of the quickstart run: file size, time to write it,
and time to first paint when Chromium opens it from ``file://`` (offline: every
request but the file is aborted, and counted).

The run is the quickstart notebook's: the demo CNN (``confusion_widget.demo``)
trained for 6 epochs on sklearn's digits, the validation predictions recorded with
a ``ConfusionRecorder`` holding the validation images, ``rec.widget()``.

Figures
- ``save_html``: wall time of ``save_html`` (best of 3), the file's size, and what
  is in it (cells saved, samples, images);
- first paint: the widget's own ``cw:first-paint`` measure (render → matrix drawn)
  and when it ends after navigation start (``startTime + duration``: reading and
  parsing the page and its payload included); *cold* is a fresh browser context
  (a new renderer process: its first text layout loads the system fonts, a few
  hundred ms on this machine whatever the page holds), median of 3; *warm* is the
  same page reloaded, median of 12; then click → 25 thumbnails (``cw:panel-fill``)
  on the largest off-diagonal cell.

Run: ``.venv/bin/python benchmarks/bench_export.py`` (about half a minute).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
from _timing import table
from harness import CHROMIUM, CHROMIUM_ARGS  # the e2e tests' browser and flags

from confusion_widget import ConfusionRecorder

EPOCHS = 6  # as notebooks/quickstart.ipynb
CONTEXTS = 3  # cold loads
RELOADS = 4  # warm loads per context


def quickstart_widget():
    """The quickstart notebook's training loop and widget, verbatim but for printing."""
    import torch

    from confusion_widget.demo import DigitsCNN, load_digits_split, train_epoch

    torch.set_num_threads(1)
    data = load_digits_split(test_size=0.3, seed=0)
    val_set = torch.utils.data.TensorDataset(
        torch.from_numpy(data.x_val), torch.from_numpy(data.y_val), torch.arange(len(data.y_val))
    )
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=128, shuffle=True)
    model = DigitsCNN(seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    rec = ConfusionRecorder([str(d) for d in range(10)], images=data.images_val)
    for _ in range(EPOCHS):
        train_epoch(model, opt, data.x_train, data.y_train)
        model.eval()
        with torch.no_grad():
            for x, y, idx in val_loader:
                rec.update(model(x), y, sample_ids=idx)
        rec.end_epoch()
    return rec.widget(colormap="blues")


def save(w, path: Path) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        w.save_html(path)
        best = min(best, time.perf_counter() - t0)
    return best


def _paint(page) -> tuple[float, float]:
    page.wait_for_function("() => performance.getEntriesByName('cw:first-paint').length > 0")
    m = page.evaluate("() => performance.getEntriesByName('cw:first-paint')[0].toJSON()")
    return m["duration"], m["startTime"] + m["duration"]


def open_offline(path: Path, cell: tuple[int, int]) -> dict[str, float]:
    """Cold loads (a fresh browser context each: a new renderer, fonts not yet
    loaded) and warm ones (the same page reloaded)."""
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    blocked: list[str] = []
    cold, warm, fill = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for i in range(CONTEXTS):
            context = browser.new_context(viewport={"width": 1000, "height": 1000})
            context.route(
                "**/*",
                lambda r: (
                    r.continue_() if r.request.url == url else (blocked.append(r.request.url), r.abort())
                ),
            )
            page = context.new_page()
            page.goto(url)
            cold.append(_paint(page))
            for _ in range(RELOADS):
                page.reload()
                warm.append(_paint(page))
            if i == 0:
                c = page.locator("canvas.cw-matrix").first
                g = c.evaluate(
                    "(c) => ({x0: +c.dataset.x0, y0: +c.dataset.y0, w: +c.dataset.cellW, h: +c.dataset.cellH})"
                )
                c.click(
                    position={
                        "x": g["x0"] + (cell[1] + 0.5) * g["w"],
                        "y": g["y0"] + (cell[0] + 0.5) * g["h"],
                    }
                )
                page.wait_for_function("() => performance.getEntriesByName('cw:panel-fill').length > 0")
                fill.append(page.evaluate("() => performance.getEntriesByName('cw:panel-fill')[0].duration"))
            context.close()
        browser.close()
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    return {
        "cold_paint_ms": med(cold, 0),
        "cold_paint_after_nav_ms": med(cold, 1),
        "warm_paint_ms": med(warm, 0),
        "warm_paint_after_nav_ms": med(warm, 1),
        "panel_fill_ms": fill[0],
        "blocked": len(blocked),
    }


def main() -> dict[str, float]:
    t0 = time.perf_counter()
    w = quickstart_widget()
    print(
        f"quickstart run: {EPOCHS} epochs, {len(w.source.sample_ids())} validation samples, trained and recorded in {time.perf_counter() - t0:.1f} s"
    )
    m = w.matrices[-1].copy()
    np.fill_diagonal(m, 0)
    cell = tuple(int(v) for v in np.unravel_index(np.argmax(m), m.shape))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "quickstart.html"
        seconds = save(w, path)
        size = path.stat().st_size
        text = path.read_text(encoding="utf-8")
        p = export_payload(text)
        browser = open_offline(path, cell) if Path(CHROMIUM).exists() else None
    n_cells = len(p["cells"])
    samples = sum(len(c.get("samples", [])) for c in p["cells"].values())
    rows = [
        ("save_html", f"{seconds * 1000:.0f} ms"),
        ("file size", f"{size / 2**20:.2f} MiB ({size:,} bytes)"),
        ("cells saved / left out", f"{n_cells} / {sum(len(v) for v in p['unsaved'].values())}"),
        ("sample entries / distinct images / blobs", f"{samples} / {len(p['images'])} / {len(p['blobs'])}"),
    ]
    out = {"save_ms": seconds * 1000, "size_bytes": size}
    if browser:
        rows += [
            ("cold: render → first paint (cw:first-paint)", f"{browser['cold_paint_ms']:.0f} ms"),
            ("cold: navigation start → first paint", f"{browser['cold_paint_after_nav_ms']:.0f} ms"),
            ("warm (reload): render → first paint", f"{browser['warm_paint_ms']:.0f} ms"),
            ("warm (reload): navigation start → first paint", f"{browser['warm_paint_after_nav_ms']:.0f} ms"),
            (f"click cell {cell} → thumbnails (cw:panel-fill)", f"{browser['panel_fill_ms']:.0f} ms"),
            ("requests other than the file", str(browser["blocked"])),
        ]
        out.update(browser)
    print(table(rows, ("quickstart export", "")))
    return out


def export_payload(page: str) -> dict:
    import json
    import re

    return json.loads(re.search(r'id="cw-payload">(.*?)</script>', page, re.S).group(1))


if __name__ == "__main__":
    main()
