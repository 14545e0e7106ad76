"""The dynamics view's cartography map of 100,000 points in headless Chromium: first
paint and brush (box drag) updates; and its Python side (building the view, the
bytes of its points, a page of thumbnails).

Run: ``.venv/bin/python benchmarks/bench_dynamics_view.py`` (about half a minute; no
network: the built bundle ``src/confusion_widget/static/dynamics_view.js`` is served
on a fake origin through Playwright's ``page.route``, on a fake anywidget model
whose traits are the ones a real ``DynamicsView`` of 100,000 samples holds).

- first paint: the view's own ``cw:dyn-first-paint`` measure (from the start of
  ``render()`` to the map painted: JS time) and "→ frame" (from the ``render()``
  call to the end of the next animation frame: includes style, layout and paint);
- brush update: ``cw:dyn-brush`` per pointer move while dragging a box (the box
  selection over every point, the map repainted with the selection, the box drawn),
  real mouse input through Playwright, 60 moves per drag.

Targets (issue 13): first paint ≤ 200 ms, brush update ≤ 16 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from _timing import best_of, table
from harness import CHROMIUM, CHROMIUM_ARGS

STATIC = REPO / "src" / "confusion_widget" / "static"
ORIGIN = "http://cw-dyn-bench.invalid"
N, E, K = 100_000, 10, 10
TARGET_FIRST_PAINT = 200
TARGET_BRUSH = 16

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/dynamics_view.css"></head>
<body style="margin:8px"><div id="host" style="width:900px"></div>
<script type="module">
import view from "/dynamics_view.js";
const attrs = await (await fetch("/traits.json")).json();
attrs._points = new DataView(await (await fetch("/points.bin")).arrayBuffer());
function fakeModel(attrs) {
  const handlers = new Map();
  const model = {
    get: (k) => attrs[k],
    set(k, v) { attrs[k] = v; for (const f of [...(handlers.get(`change:${k}`) ?? [])]) f(); },
    on(e, f) { if (!handlers.has(e)) handlers.set(e, new Set()); handlers.get(e).add(f); },
    off(e, f) { handlers.get(e)?.delete(f); },
    save_changes() {},
    send() {},
  };
  return model;
}
window.bench = {
  ready: true,
  mount() {
    const host = document.getElementById("host");
    host.replaceChildren();
    performance.clearMeasures();
    const el = document.createElement("div");
    host.append(el);
    return new Promise((resolve) => {
      const t0 = performance.now();
      window.bench.cleanup = view.render({ model: fakeModel({ ...attrs, selection: [] }), el });
      requestAnimationFrame(() => setTimeout(() => resolve({
        frame: performance.now() - t0,
        paint: performance.getEntriesByName("cw:dyn-first-paint").map((m) => m.duration)[0],
        points: +document.querySelector("canvas.cw-dyn-map").dataset.points,
      })));
    });
  },
  brushes() {
    return performance.getEntriesByName("cw:dyn-brush").map((m) => m.duration);
  },
};
</script></body></html>"""


def make_view():
    """A real DynamicsView of N samples over E epochs (synthetic logits)."""
    from confusion_widget import ConfusionWidget

    rng = np.random.default_rng(0)
    y = rng.integers(0, K, N)
    logits = []
    for e in range(E):
        s = rng.normal(0, 1, (N, K)).astype(np.float32)
        s[np.arange(N), y] += 0.5 * e + rng.normal(0, 1.5, N).astype(np.float32)
        logits.append(s)
    images = rng.integers(0, 255, (N, 16, 16), dtype=np.uint8)
    w = ConfusionWidget.from_predictions(y, logits, images=images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        view = w.dynamics_view()
        build = time.perf_counter() - t0
    return w, view, build


def main() -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    print(f"Load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")
    _w, view, build = make_view()  # the widget stays alive: the view filters it
    page_of_thumbs = best_of(
        lambda: view.answer({"type": "dyn-samples", "id": 1, "positions": list(range(40))}), repeat=3
    )
    view.selection = list(range(0, N, 7))
    t0 = time.perf_counter()
    view.filter_matrix = True
    filter_s = time.perf_counter() - t0
    view.filter_matrix = False
    traits = {
        "n_points": view.n_points,
        "title": view.title,
        "confidence_threshold": view.confidence_threshold,
        "variability_threshold": view.variability_threshold,
        "_lists": view._lists,
        "_has_images": False,  # the fake model answers no thumbnail requests
        "filter_matrix": False,
    }
    files = {
        "/": (PAGE.encode(), "text/html"),
        "/dynamics_view.js": ((STATIC / "dynamics_view.js").read_bytes(), "text/javascript"),
        "/dynamics_view.css": ((STATIC / "dynamics_view.css").read_bytes(), "text/css"),
        "/traits.json": (json.dumps(traits).encode(), "application/json"),
        "/points.bin": (bytes(view._points), "application/octet-stream"),
    }

    def route(r):
        body = files.get(r.request.url[len(ORIGIN) :].split("?")[0] or "/")
        if body is None:
            r.fulfill(status=404, body="not found")
        else:
            r.fulfill(body=body[0], content_type=body[1], headers={"Cache-Control": "no-store"})

    figures: dict[str, float] = {}
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        print(f"Chromium {browser.version} (headless); {N:,} points, {E} epochs")
        try:
            for dpr in (1, 2):
                ctx = browser.new_context(viewport={"width": 1000, "height": 900}, device_scale_factor=dpr)
                page = ctx.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                ctx.route(f"{ORIGIN}/**", route)
                page.goto(f"{ORIGIN}/")
                page.wait_for_function("() => window.bench && window.bench.ready", timeout=20_000)
                mounts = [page.evaluate("() => window.bench.mount()") for _ in range(5)]
                assert all(m["points"] == N for m in mounts), mounts
                canvas = page.locator("canvas.cw-dyn-map")
                g = canvas.evaluate(
                    "(c) => ({x0: +c.dataset.x0, y0: +c.dataset.y0, w: +c.dataset.plotW, h: +c.dataset.plotH})"
                )
                bb = canvas.bounding_box()
                for _ in range(3):  # three drags across the densest part of the map
                    x, y = bb["x"] + g["x0"] + 0.3 * g["w"], bb["y"] + g["y0"] + 0.2 * g["h"]
                    page.mouse.move(x, y)
                    page.mouse.down()
                    for i in range(1, 61):
                        page.mouse.move(x + i * 0.006 * g["w"], y + i * 0.01 * g["h"])
                    page.mouse.up()
                brush = page.evaluate("() => window.bench.brushes()")
                assert not errors, errors
                paint = statistics.median(m["paint"] for m in mounts)
                frame = statistics.median(m["frame"] for m in mounts)
                b_med, b_p95 = statistics.median(brush), sorted(brush)[int(0.95 * (len(brush) - 1))]
                rows.append(
                    (
                        f"dpr {dpr}",
                        f"{paint:.1f}",
                        f"{frame:.1f}",
                        f"{b_med:.2f}",
                        f"{b_p95:.2f}",
                        len(brush),
                        "ok" if paint <= TARGET_FIRST_PAINT and b_p95 <= TARGET_BRUSH else "OVER",
                    )
                )
                figures[f"dyn_first_paint_ms_dpr{dpr}"] = paint
                figures[f"dyn_brush_p95_ms_dpr{dpr}"] = b_p95
                ctx.close()
        finally:
            browser.close()
    print(
        table(
            rows,
            (
                "map of 100k",
                "first paint ms",
                "→ frame ms",
                "brush median ms",
                "brush p95 ms",
                "moves",
                f"≤ {TARGET_FIRST_PAINT} / {TARGET_BRUSH} ms",
            ),
        )
    )
    print(
        f"Python: DynamicsView of {N:,} samples × {E} epochs built in {build * 1e3:.0f} ms; "
        f"_points {len(view._points) / 1e3:.0f} kB; a page of 40 thumbnails answered in "
        f"{page_of_thumbs * 1e3:.1f} ms; filter the matrix to {len(view.selection):,} samples "
        f"in {filter_s * 1e3:.0f} ms."
    )
    print(f"Load average after: {os.getloadavg()[0]:.1f} (p95 figures suffer first on a loaded machine).")
    figures["dyn_view_build_ms"] = build * 1e3
    return figures


if __name__ == "__main__":
    main()
