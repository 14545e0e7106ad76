"""Hosts other than Jupyter for the real-browser tests: marimo (``marimo run``) and
Voilà, and one scenario that drives the widget the same way in each.

Each server serves a copy of its app from ``host_apps/`` in a temp dir, on loopback
and a random free port, in its own process group, with ``HOME`` and the Jupyter dirs
in the temp dir (no user config leaks in, nothing is written to the repository).

The page helpers go through Playwright locators, which pierce shadow roots: marimo
renders each widget inside one (``<marimo-anywidget>``), so ``document.querySelector``
would not find it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    PageEvents,
    canvas_geometry,
    canvas_ink,
    click_matrix_cell,
    free_port,
    thumbnail_ids,
    widget_root,
)

APPS = Path(__file__).parent / "host_apps"
sys.path.insert(0, str(APPS))  # the tests compute expected samples with the apps' own data

from fake_digits import cell_samples  # noqa: E402

EPOCHS = 2  # fake_digits has two epochs; the widget opens at the last one
CELL = (3, 4)  # off-diagonal: 48 samples at epoch 0, none at epoch 1
PAGE = 25  # thumbnails per page


# -- servers ---------------------------------------------------------------------------
@dataclass
class HostServer:
    """A server process started by ``cmd`` in ``work/app``, answering on ``ready_path``."""

    name: str
    work: Path
    cmd: list[str]
    port: int
    ready_path: str = "/"
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> HostServer:
        home = self.work / "home"
        env = dict(os.environ)
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_STATE_HOME=str(home / ".state"),
            JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
            JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
            JUPYTER_DATA_DIR=str(home / "jupyter-data"),
            IPYTHONDIR=str(home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        home.mkdir(parents=True, exist_ok=True)
        self.log_path = self.work / f"{self.name}.log"
        with open(self.log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.work / "app",
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, killed as a whole in stop()
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:  # not up yet (HTTPError is an OSError too)
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except (OSError, AttributeError):
            return ""
        return "\n".join(line[:300] for line in lines[-n:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def _copy_app(work: Path, *names: str) -> None:
    app = work / "app"
    app.mkdir(parents=True, exist_ok=True)
    for name in (*names, "fake_digits.py"):
        shutil.copy2(APPS / name, app / name)


def marimo_server(work: Path) -> HostServer:
    """``marimo run marimo_app.py --headless`` (app mode: every cell runs on open)."""
    _copy_app(work, "marimo_app.py")
    port = free_port()
    cmd = [sys.executable, "-m", "marimo", "run", "marimo_app.py", "--headless"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-token"]
    return HostServer("marimo", work, cmd, port, ready_path="/health")


def voila_server(work: Path) -> HostServer:
    """``voila voila_widget.ipynb``: runs the notebook for each page load and shows
    its outputs only. Needs ipykernel in the environment (else a 500 error)."""
    _copy_app(work, "voila_widget.ipynb")
    port = free_port()
    cmd = [sys.executable, "-m", "voila", "voila_widget.ipynb", "--no-browser"]
    cmd += [f"--port={port}", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"]
    # GET / would execute the notebook in a new kernel; a static file says "up".
    return HostServer("voila", work, cmd, port, ready_path="/voila/static/voila.js")


# -- pages -------------------------------------------------------------------------------
@contextlib.contextmanager
def host_page(
    browser: Any, server: HostServer, color_scheme: str = "light"
) -> Iterator[tuple[Any, PageEvents]]:
    """A page in a fresh browser context that may only reach loopback (hosts may try
    fonts or CDNs; this network refuses them anyway), and its events; ``color_scheme``
    is the OS preference the page sees. If the block raises: a screenshot, the page's
    errors and the server log's tail are printed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=color_scheme)
    context.set_default_timeout(30_000)
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    page = context.new_page()
    events = PageEvents()
    events.attach(page)
    try:
        yield page, events
    except BaseException:
        shot = server.work / f"{server.name}-failure.png"
        with contextlib.suppress(Exception):  # a crashed page must not hide the failure
            page.screenshot(path=str(shot), full_page=True)
        print(
            f"\nscreenshot: {shot}\nconsole errors: {events.console_errors}\n"
            f"page errors: {events.page_errors}\n{server.name} log:\n{server.log_tail()}"
        )
        raise
    finally:
        context.close()


def luminance(css: str) -> float:
    """WCAG relative luminance (0 black … 1 white) of a computed colour,
    ``rgb()``/``rgba()`` (0–255) or ``color(srgb …)`` (0–1); a colour with alpha < 1
    counts as if over white."""
    nums = [float(v) for v in re.findall(r"[\d.]+", css)]
    scale = 1.0 if css.startswith("color(srgb") else 255.0
    r, g, b = (v / scale for v in nums[:3])
    a = nums[3] if len(nums) > 3 else 1.0

    def lin(v: float) -> float:
        v = v * a + (1 - a)
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def computed(locator: Any, prop: str) -> str:
    return locator.evaluate("(el, prop) => getComputedStyle(el)[prop]", prop)


def label_ink(canvas: Any) -> dict[str, float]:
    """The canvas' row labels (the margin left of ``data-x0``): how many pixels the
    text covers (alpha ≥ 160) and the luminance of the brightest one."""
    return canvas.evaluate(
        """(c) => {
             const lin = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
             const d = c.dataset, s = c.width / c.getBoundingClientRect().width;
             const w = Math.floor((+d.x0 - 2) * s), y = Math.floor(+d.y0 * s);
             const px = c.getContext('2d').getImageData(0, y, w, Math.floor(+d.rows * +d.cellH * s)).data;
             let n = 0, max = -1;
             for (let i = 0; i < px.length; i += 4) {
               if (px[i + 3] < 160) continue;
               n++;
               max = Math.max(max, 0.2126 * lin(px[i]) + 0.7152 * lin(px[i + 1]) + 0.0722 * lin(px[i + 2]));
             }
             return {n, max};
           }"""
    )


def theme_colours(page: Any) -> dict[str, Any]:
    """Luminance of the widget root's background and text, its title, the epoch
    label, and the canvas' row labels (painted with the root's colour)."""
    root = widget_root(page)
    return {
        "theme": root.get_attribute("data-cw-theme"),
        "root_bg": luminance(computed(root, "backgroundColor")),
        "root_fg": luminance(computed(root, "color")),
        "title": luminance(computed(root.locator(".cw-title"), "color")),
        "epoch_label": luminance(computed(root.locator(".cw-epoch-label"), "color")),
        "canvas_labels": label_ink(root.locator("canvas.cw-matrix").first),
    }


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Poll ``condition()`` until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.1)


def python_view(page: Any, selector: str) -> Any:
    """The JSON that the app prints in ``selector`` (its text, if it is not JSON)."""
    text = page.locator(selector).first.text_content()
    try:
        return json.loads(text or "")
    except ValueError:
        return text


def wait_for_python(page: Any, selector: str, predicate: Callable[[Any], bool], what: str) -> Any:
    """Wait until what the app prints in ``selector`` satisfies ``predicate``; return it."""
    seen: list[Any] = [None]

    def check() -> bool:
        seen[0] = python_view(page, selector)
        return predicate(seen[0])

    try:
        wait_until(check, what)
    except AssertionError:
        raise AssertionError(f"Python never saw {what}; last {seen[0]!r}") from None
    return seen[0]


def drive_widget(page: Any, python_selector: str) -> dict[str, float]:
    """The scenario every host runs, on a page showing host_apps' widget:

    the canvas draws the last epoch; the slider (keyboard Home) moves to epoch 0 and
    both the canvas and Python follow; a click on ``CELL`` shows that cell's samples
    at epoch 0 as thumbnails (ids computed here from the same data), and Python sees
    the selection. ``python_selector`` is the element where the app prints, as JSON,
    ``{"epoch", "selected", "samples"}`` as Python has them. Returns timings (s)."""
    from playwright.sync_api import expect

    t0 = time.monotonic()
    root = widget_root(page)
    canvas = root.locator("canvas.cw-matrix").first
    # A generous first wait: a cold kernel imports numpy, sklearn and the widget first.
    expect(canvas).to_have_attribute("data-epoch", str(EPOCHS - 1), timeout=60_000)
    t_drawn = time.monotonic() - t0
    g = canvas_geometry(canvas)
    assert (g["rows"], g["cols"]) == (10, 10), g
    ink = canvas_ink(canvas)
    assert ink["opaque"] > 0.2 * ink["width"] * ink["height"] and ink["colours"] >= 3, ink  # not blank
    start = {"epoch": EPOCHS - 1, "selected": None, "samples": []}
    wait_for_python(page, python_selector, lambda v: v == start, f"{start}")

    # The slider: keyboard on the range input, as a user would.
    slider = root.locator("input.cw-epoch-slider")
    assert slider.get_attribute("max") == str(EPOCHS - 1), slider.get_attribute("max")
    slider.focus()
    slider.press("Home")
    expect(canvas).to_have_attribute("data-epoch", "0")
    wait_for_python(page, python_selector, lambda v: isinstance(v, dict) and v["epoch"] == 0, "epoch 0")

    # A click on an off-diagonal cell: its samples at epoch 0, in the panel and in Python.
    expected = cell_samples(0, *CELL)
    assert len(expected) > PAGE and cell_samples(EPOCHS - 1, *CELL) == [], "the epoch must matter"
    click_matrix_cell(page, *CELL)
    imgs = root.locator("figure.cw-thumb img[data-sample-id]")
    expect(imgs).to_have_count(PAGE)
    shown, want = thumbnail_ids(page), [str(s) for s in expected[:PAGE]]
    assert shown == want, f"thumbnails {shown}, expected the samples of {CELL} at epoch 0: {want}"
    wait_until(
        lambda: imgs.evaluate_all("els => els.every(i => i.complete && i.naturalWidth > 0)"),
        "the thumbnails to decode",  # real images, not broken ones
    )
    seen = wait_for_python(
        page, python_selector, lambda v: isinstance(v, dict) and v["selected"] is not None, "the selection"
    )
    assert seen == {"epoch": 0, "selected": list(CELL), "samples": expected[:PAGE]}, seen
    return {"drawn": t_drawn, "scenario": time.monotonic() - t0}
