"""A page made by ``jupyter nbconvert --execute --to html`` (host_apps/nbconvert_widget.ipynb,
fake_digits: K = 10, two epochs, images) in Chromium, with no kernel anywhere.

Such a page loads require.js, ``@jupyter-widgets/html-manager`` and anywidget from
public CDNs, which this machine cannot reach. The page's context serves exactly
those URLs from the npm packages pinned in package.json (``requirejs``,
``@jupyter-widgets/html-manager``, ``anywidget``: the versions the URLs ask for) and
aborts and records every other request but the file itself; the page must work
without any of those (it asks for MathJax, and there is no math, and for
``anywidget.js`` next to the file, which html-manager tries before the CDN).

Checked: the matrix draws from the widget state saved in the page; the slider moves
to the other epoch and the drawing follows the data (every epoch is in ``_counts``
for a matrix this small, so no "needs a running kernel" note); a click on an
off-diagonal cell says at once, with no spinner and no "waiting" first, that samples
need a running kernel or a ``save_html`` file.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from harness import canvas_geometry, canvas_ink, cell_pixel, click_matrix_cell, require_frontend, unavailable
from hosts import APPS, CELL, EPOCHS, cell_samples  # hosts puts host_apps/ on sys.path

REPO = Path(__file__).parents[2]
NODE_MODULES = REPO / "node_modules"
NO_KERNEL = "samples need a running kernel (or a file saved with w.save_html)"
NO_KERNEL_METRICS = "per-class metrics need a running kernel (or a file saved with w.save_html)"

# URL the page asks for → (npm package, file in it; None: the path after the version).
# The version in the URL must be satisfied by the installed (exact-pinned) package.
CDN = [
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/require\.js/([^/]+)/require\.min\.js",
        "requirejs",
        "require.js",
    ),
    (
        r"https://unpkg\.com/@jupyter-widgets/html-manager@([^/]+)/(dist/.+)",
        "@jupyter-widgets/html-manager",
        None,
    ),
    (r"https://cdn\.jsdelivr\.net/npm/anywidget@([^/]+)/(dist/.+)", "anywidget", None),
]
# Asked for and not needed: MathJax (nbconvert's template loads it on every page; there
# is no math), and anywidget.js next to the page (html-manager's loader tries a module
# there first, then falls back to the CDN).
MATHJAX = re.compile(r"https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^/]+/latest\.js(\?.*)?")


def unneeded(url: str, page_file: Path) -> bool:
    return bool(MATHJAX.fullmatch(url)) or url == (page_file.parent / "anywidget.js").resolve().as_uri()


def satisfies(version: str, spec: str) -> bool:
    """An npm range check, enough for what these pages ask: ``*``, ``1.2.3``,
    ``1.2.*``, ``~0.11.*``, ``~1.2.3``, ``^1.2.3``."""
    if spec in ("*", "latest", ""):
        return True
    v = tuple(int(x) for x in version.split("."))
    op = spec[0] if spec[0] in "~^" else ""
    fixed = [
        int(p) for p in itertools.takewhile(lambda p: p not in ("*", "x", "X"), spec.lstrip("~^=").split("."))
    ]
    low = tuple(fixed + [0] * (3 - len(fixed)))
    if not op:
        return v[: len(fixed)] == tuple(fixed)
    if op == "~":
        keep = min(2, len(fixed))  # ~1.2.3 and ~1.2.*: 1.2.x; ~1: 1.x
    else:  # ^: everything up to the first non-zero part stays
        keep = min(next((i + 1 for i, p in enumerate(low) if p), 3), max(len(fixed), 1))
    return v >= low and v[:keep] == low[:keep]


def test_satisfies():
    assert satisfies("0.11.0", "~0.11.*") and satisfies("0.11.3", "~0.11.*")
    assert not satisfies("0.9.21", "~0.11.*") and not satisfies("0.12.0", "~0.11.*")
    assert satisfies("1.0.15", "*") and satisfies("2.1.10", "2.1.10") and not satisfies("2.3.8", "2.1.10")
    assert (
        satisfies("1.4.0", "^1.2.3") and not satisfies("2.0.0", "^1.2.3") and not satisfies("0.3.0", "^0.2.1")
    )


class LocalCDN:
    """The route of a context that opens ``page_url``: the CDN files from node_modules,
    everything else aborted and recorded."""

    def __init__(self, page_url: str):
        self.page_url = page_url
        self.served: dict[str, Path] = {}  # URL → local file
        self.aborted: list[str] = []
        self.refused: list[str] = []  # a CDN URL the installed package cannot answer

    def local_file(self, url: str) -> Path | None:
        for pattern, package, file in CDN:
            m = re.fullmatch(pattern, url)
            if not m:
                continue
            root = NODE_MODULES / package
            installed = json.loads((root / "package.json").read_text())["version"]
            wanted = unquote(m.group(1))
            path = root / (file or unquote(m.group(2)))
            if not satisfies(installed, wanted):
                self.refused.append(f"{url}: {package}@{wanted} asked, {installed} installed")
            elif not path.is_file():
                self.refused.append(f"{url}: no {path}")
            else:
                return path
            return None
        return None

    def __call__(self, route) -> None:
        url = route.request.url
        if url == self.page_url:
            route.continue_()
            return
        path = self.local_file(url)
        if path is None:
            self.aborted.append(url)
            route.abort()
        else:
            self.served[url] = path
            route.fulfill(path=str(path))


def nbconvert(work: Path) -> Path:
    """``jupyter nbconvert --execute --to html`` of a copy of the notebook in ``work``,
    with HOME and the Jupyter dirs there too (no user config in, nothing out)."""
    app = work / "app"
    app.mkdir()
    for name in ("nbconvert_widget.ipynb", "fake_digits.py"):
        shutil.copy2(APPS / name, app / name)
    home = work / "home"
    env = dict(os.environ, HOME=str(home), JUPYTER_PLATFORM_DIRS="1", PYTHONUNBUFFERED="1")
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "jupyter-config"),
        ("JUPYTER_DATA_DIR", "jupyter-data"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
        ("IPYTHONDIR", "ipython"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_CONFIG_HOME", ".config"),
    ):
        env[var] = str(home / sub)
    cmd = [sys.executable, "-m", "nbconvert", "--execute", "--to", "html", "nbconvert_widget.ipynb"]
    cmd += ["--ExecutePreprocessor.timeout=120"]
    done = subprocess.run(cmd, cwd=app, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"nbconvert failed:\n{done.stderr[-3000:]}"
    return app / "nbconvert_widget.html"


@pytest.fixture(scope="module")
def page_file(tmp_path_factory, browser) -> Path:  # browser first: skip without Chromium
    require_frontend()
    for package in ("requirejs", "@jupyter-widgets/html-manager", "anywidget"):
        if not (NODE_MODULES / package / "package.json").is_file():
            unavailable(f"node_modules/{package} is missing: run `npm install`")
    t0 = time.monotonic()
    path = nbconvert(tmp_path_factory.mktemp("nbconvert"))
    print(f"\nnbconvert --execute: {time.monotonic() - t0:.1f} s")
    return path


def saved_widget_state(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', text, re.S)
    assert m, "no widget state in the page"
    return json.loads(m.group(1))["state"]


def test_nbconvert_page_draws_scrubs_and_says_samples_need_a_kernel(browser, page_file):
    t0 = time.monotonic()
    # The page holds the widget's whole state: its JS, and the counts as a buffer.
    ours = [m for m in saved_widget_state(page_file).values() if m["model_name"] == "AnyModel"]
    assert len(ours) == 1 and ours[0]["state"]["_esm"], "the widget state (with _esm) is not in the page"
    assert [b["path"] for b in ours[0].get("buffers", [])] == [["_counts"]]

    url = page_file.resolve().as_uri()
    cdn = LocalCDN(url)
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    context.set_default_timeout(15_000)
    context.route("**/*", cdn)
    page = context.new_page()
    console: list[tuple[str, str]] = []
    page_errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and console.append((m.text, m.location.get("url", ""))))
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    try:
        page.goto(url)
        root = page.locator(".cw-root")
        canvas = root.locator('canvas.cw-matrix[data-tile="0"]')
        canvas.wait_for(state="attached")
        page.wait_for_function(
            "() => document.querySelector('.cw-root canvas.cw-matrix')?.dataset.epoch !== undefined"
        )
        t_drawn = time.monotonic() - t0
        assert root.count() == 1

        # Drawn from the saved state: the last epoch, 10 × 10, not blank.
        g = canvas_geometry(canvas)
        assert (g["rows"], g["cols"], g["epoch"]) == (10, 10, EPOCHS - 1), g
        ink = canvas_ink(canvas)
        assert ink["colours"] > 3, ink
        # fake_digits: epoch 0 confuses r → r+1, epoch 1 r → r+2; r → r+4 never.
        r = CELL[0]
        first, last, never = (r, (r + 1) % 10), (r, (r + 2) % 10), (r, (r + 4) % 10)
        assert cell_samples(0, *first) and not cell_samples(1, *first) and cell_samples(1, *last)
        assert not cell_samples(0, *never) and not cell_samples(1, *never)
        empty = cell_pixel(canvas, *never)
        assert cell_pixel(canvas, *last) != empty and cell_pixel(canvas, *first) == empty

        # The slider draws epoch 0 from the same state (it is in _counts: no kernel needed).
        slider = root.locator("input.cw-epoch-slider")
        assert slider.get_attribute("max") == str(EPOCHS - 1)
        slider.focus()
        slider.press("Home")
        page.wait_for_function(
            "() => document.querySelector('.cw-root canvas.cw-matrix').dataset.epoch === '0'"
        )
        assert cell_pixel(canvas, *first) != empty and cell_pixel(canvas, *last) == empty
        assert cell_pixel(canvas, *never) == empty
        assert root.locator(".cw-note.cw-offline:visible").count() == 0  # "this epoch needs a running kernel"
        assert "epoch 0" in root.locator(".cw-epoch-label").text_content()

        # A click on an off-diagonal cell with samples: the message at once, nothing before it.
        root.evaluate(
            """(root) => {
                 const log = window.__cwPanelLog = [];
                 const texts = () => [...root.querySelectorAll('.cw-panel-status, .cw-panel .cw-error')]
                   .filter((e) => !e.hidden && e.textContent).map((e) => e.textContent).join(' | ');
                 let last = texts();
                 new MutationObserver(() => {
                   const now = texts();
                   if (now !== last) log.push({t: performance.now(), text: (last = now)});
                 }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
                 root.addEventListener('click', () => { window.__cwClickAt = performance.now(); }, true);
               }"""
        )
        click_matrix_cell(page, *first)
        status = root.locator(".cw-panel-status")
        status.filter(has_text=NO_KERNEL).wait_for(state="visible", timeout=1_000)
        page.wait_for_timeout(300)  # anything after it (a spinner, a request) would show by now
        log, click_at, painted_at = page.evaluate(
            "() => [window.__cwPanelLog, window.__cwClickAt,"
            " performance.getEntriesByName('cw:first-paint')[0].startTime]"
        )
        # Within 2 s of the first paint, a kernel found by a ping's silence would still
        # be "waiting": this click tells knowing at once from a timeout.
        assert click_at - painted_at < 1_500, f"clicked {click_at - painted_at:.0f} ms after the first paint"
        after = [e for e in log if e["t"] >= click_at]
        assert [e["text"] for e in after] == [NO_KERNEL], f"the panel showed {after}"
        delay_ms = after[0]["t"] - click_at
        assert delay_ms < 200, f"the message came {delay_ms:.0f} ms after the click"
        assert root.locator(".cw-panel .cw-error:visible").count() == 0
        assert root.locator("figure.cw-thumb").count() == 0
        assert f"{first[0]} \u2192 {first[1]}" in root.locator(".cw-panel-header").text_content()

        # The per-class table opens on a note: its rows come from the kernel (the page
        # keeps none, so no stale epoch's figures either).
        root.locator("details.cw-metrics summary").click()
        root.locator(".cw-metrics-wait").filter(has_text=NO_KERNEL_METRICS).wait_for(state="visible")
        assert root.locator("details.cw-metrics tbody tr").count() == 0

        # Only the CDN files were needed: each served from node_modules, nothing else.
        assert cdn.refused == [], cdn.refused
        served = sorted(str(p.relative_to(NODE_MODULES)) for p in cdn.served.values())
        want = [
            "@jupyter-widgets/html-manager/dist/embed-amd.js",
            "anywidget/dist/index.js",
            "requirejs/require.js",
        ]
        assert served == want, cdn.served
        assert [u for u in cdn.aborted if not unneeded(u, page_file)] == [], (
            f"the page asked for {cdn.aborted}"
        )
        # Errors: only the aborted loads ("Failed to load resource").
        assert page_errors == []
        assert [t for t, where in console if where not in cdn.aborted] == [], console
    except BaseException:
        print(
            f"\nserved: {cdn.served}\naborted: {cdn.aborted}\nrefused: {cdn.refused}\n"
            f"console errors: {console}\npage errors: {page_errors}"
        )
        raise
    finally:
        context.close()
    print(
        f"\nnbconvert page: drawn {t_drawn:.1f} s after goto, clicked {click_at - painted_at:.0f} ms after the "
        f"first paint, click → message {delay_ms:.0f} ms, "
        f"whole page test {time.monotonic() - t0:.1f} s\nserved: "
        + ", ".join(f"{u} ← {p.relative_to(REPO)}" for u, p in cdn.served.items())
        + f"\naborted (not needed): {cdn.aborted}"
    )
