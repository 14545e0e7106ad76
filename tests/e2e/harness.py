"""Real JupyterLab + headless Chromium: the server, the browser and page helpers.

Everything here is synchronous Playwright. The helpers talk to JupyterLab through
``window.jupyterapp`` (``--LabApp.expose_app_in_browser``) rather than through key
presses on its UI: waiting on status attributes and pressing Shift+Enter was seen to
silently not run cells (TESTING.md).

Typical use (the fixtures in ``conftest.py`` provide ``lab_server`` and ``lab_page``)::

    open_notebook(page, lab_server, "quickstart.ipynb")
    run_all_cells(page)
    assert kernel_eval(page, "print(w.epoch)") == "5"
    click_matrix_cell(page, 3, 8)
    wait_for_python(page, "w.selected", (3, 8))
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CW_CHROMIUM", "/usr/bin/chromium")

# Chromium keeps trying hosts this network refuses unless told not to (TESTING.md).
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
if hasattr(os, "geteuid") and os.geteuid() == 0:
    CHROMIUM_ARGS.append("--no-sandbox")

# The "Jupyter news" / update toast covers the page and steals focus.
NOTIFICATION_SETTINGS = {"fetchNews": "false", "checkForUpdates": False}


# -- the server ----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A JupyterLab server in its own process group, on loopback, with a random
    port and token and temporary config/runtime/settings dirs.

    ``app="notebook"`` starts Jupyter Notebook 7 instead (same frontend framework,
    same ``window.jupyterapp`` API; notebooks open at ``/notebooks/<path>``).
    """

    root_dir: Path
    work_dir: Path
    app: str = "lab"  # "lab" (JupyterLab) or "notebook" (Notebook 7)
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LabServer:
        w = self.work_dir
        dirs = {name: w / name for name in ("config", "runtime", "data", "ipython", "workspaces")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        # User settings in a temp dir: no writes to sys.prefix, and the developer's
        # own ~/.jupyter settings cannot leak into the tests.
        settings = w / "user-settings"
        plugin = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        plugin.parent.mkdir(parents=True, exist_ok=True)
        plugin.write_text(json.dumps(NOTIFICATION_SETTINGS), encoding="utf-8")

        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            JUPYTER_DATA_DIR=str(dirs["data"]),
            IPYTHONDIR=str(dirs["ipython"]),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTERLAB_SETTINGS_DIR", None)
        env.pop("JUPYTERLAB_WORKSPACES_DIR", None)
        common = [
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
        ]
        if self.app == "lab":
            cmd = [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                *common,
                "--LabApp.expose_app_in_browser=True",
                f"--LabApp.user_settings_dir={settings}",
                f"--LabApp.workspaces_dir={dirs['workspaces']}",
                "--LabApp.news_url=",
                "--LabApp.extension_manager=readonly",  # never asks PyPI
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ]
        elif self.app == "notebook":
            cmd = [
                sys.executable,
                "-m",
                "notebook",
                *common,
                "--JupyterNotebookApp.expose_app_in_browser=True",
                f"--JupyterNotebookApp.user_settings_dir={settings}",
                f"--JupyterNotebookApp.workspaces_dir={dirs['workspaces']}",
            ]
        else:
            raise ValueError(f"unknown app {self.app!r} (expected 'lab' or 'notebook')")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # the server exits at once as root without it
        self.log_path = w / f"jupyter-{self.app}.log"
        with open(self.log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.root_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, killed as a whole in stop()
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Jupyter {self.app} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                self.api("GET", "/api/status", timeout=2)
                return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"Jupyter {self.app} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """Call the server's REST API; returns the decoded JSON (or None)."""
        req = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read()
        return json.loads(data) if data else None

    def shutdown_kernels(self) -> None:
        """Delete every session (and its kernel): the next test that opens the same
        notebook must get a fresh kernel, not the previous test's state."""
        for s in self.api("GET", "/api/sessions"):
            with contextlib.suppress(OSError):
                self.api("DELETE", f"/api/sessions/{s['id']}")

    def log_tail(self, n: int = 60) -> str:
        """The last ``n`` lines of the server log (minified-JS stack dumps cut short)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(line[:300] for line in lines[-n:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:  # graceful first: the server shuts its kernels down
                self.api("POST", "/api/shutdown", timeout=5)
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        # Then the whole group, whatever is left (kernels, their children).
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                continue
        self._kill_stray_kernels()
        self.proc = None

    def _kill_stray_kernels(self) -> None:
        """Kernels run in their own sessions (jupyter_client), so killing the server's
        group misses them if the graceful shutdown failed. Ours are the processes
        whose command line names a connection file in our private runtime dir."""
        marker = str(self.work_dir / "runtime").encode()
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                if marker in (proc_dir / "cmdline").read_bytes():
                    os.kill(int(proc_dir.name), signal.SIGKILL)
            except (OSError, ValueError):
                pass


def copy_notebooks(dest: Path, *sources: Path) -> None:
    """Copy the ``*.ipynb`` of each source dir into ``dest`` (tests never touch the
    repository's notebooks: JupyterLab may save them)."""
    for src in sources:
        for nb in sorted(src.glob("*.ipynb")):
            shutil.copy2(nb, dest / nb.name)


# -- browser-side events ---------------------------------------------------------------
@dataclass
class PageEvents:
    """What the page said: console errors, uncaught exceptions, dialogs (alert…)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

        def on_dialog(d: Any) -> None:
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()  # a listener must answer, or the page hangs

        page.on("dialog", on_dialog)

    def widget_errors(self) -> list[str]:
        """Console errors and exceptions that mention this widget (JupyterLab logs a
        few unrelated errors of its own)."""
        keys = ("confusion", "cw-", "anywidget", "widget.js")
        return [e for e in self.console_errors + self.page_errors if any(k in e.lower() for k in keys)]


# -- JupyterLab through window.jupyterapp --------------------------------------------------
# The notebook panel for `path`, or the current one (else the first open notebook).
_FIND_PANEL = """
window.__cwPanel = (path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  const isNb = (w) => !!(w && w.context && w.content && w.sessionContext);
  if (!path && isNb(app.shell.currentWidget)) return app.shell.currentWidget;
  for (const w of app.shell.widgets('main')) {
    if (isNb(w) && (!path || w.context.path === path)) return w;
  }
  return null;
};
"""


def _ensure_js(page: Any) -> None:
    page.evaluate(f"() => {{ {_FIND_PANEL} }}")


def open_notebook(page: Any, server: LabServer, path: str, timeout: float = 60.0) -> None:
    """Open ``path`` (relative to the server root) in a fresh workspace (JupyterLab)
    or its own page (Notebook 7) and wait until its kernel is idle."""
    if server.app == "notebook":
        page.goto(f"{server.url}/notebooks/{path}?token={server.token}")
    else:
        workspace = f"cw-{uuid.uuid4().hex[:8]}"
        page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={server.token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=timeout * 1000)
    _ensure_js(page)
    page.wait_for_function(
        "(path) => { const p = window.__cwPanel(path); return p && p.context.isReady; }",
        arg=path,
        timeout=timeout * 1000,
    )
    page.evaluate("(path) => window.jupyterapp.shell.activateById(window.__cwPanel(path).id)", path)
    wait_kernel_idle(page, timeout)


def wait_kernel_idle(page: Any, timeout: float = 60.0) -> None:
    """Wait until the current notebook's kernel exists and reports ``idle``."""
    _ensure_js(page)
    page.wait_for_function(
        """() => { const p = window.__cwPanel();
                   const k = p && p.sessionContext.session && p.sessionContext.session.kernel;
                   return !!k && k.status === 'idle' && k.connectionStatus === 'connected'; }""",
        timeout=timeout * 1000,
        polling=100,
    )


def run_all_cells(page: Any, timeout: float = 120.0) -> float:
    """Run every cell of the current notebook and wait until they all finished.

    ``notebook:run-all-cells`` resolves when the last cell replied (or the run was
    aborted by an error). Returns the wall time in seconds.
    """
    wait_kernel_idle(page, timeout)
    t0 = time.monotonic()
    page.evaluate(
        """(ms) => Promise.race([
             window.jupyterapp.commands.execute('notebook:run-all-cells'),
             new Promise((_, reject) => setTimeout(() => reject(new Error('run-all timed out')), ms)),
           ])""",
        timeout * 1000,
    )
    wait_kernel_idle(page, timeout)
    return time.monotonic() - t0


def notebook_cells(page: Any) -> list[dict[str, Any]]:
    """The current notebook's cells as nbformat-like dicts (type, source,
    execution_count, outputs) from the live notebook model."""
    _ensure_js(page)
    return page.evaluate(
        """() => { const p = window.__cwPanel(); const out = [];
                   for (const c of p.content.widgets) {
                     const m = c.model;
                     out.push({cell_type: m.type, source: m.sharedModel.getSource(),
                               execution_count: m.type === 'code' ? m.executionCount : null,
                               outputs: m.type === 'code' ? m.outputs.toJSON() : []});
                   }
                   return out; }"""
    )


def error_outputs(page: Any) -> list[str]:
    """``"ename: evalue"`` of every error output in the current notebook."""
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in notebook_cells(page)
        for o in c["outputs"]
        if o.get("output_type") == "error"
    ]


class KernelEvalError(AssertionError):
    """Code sent with :func:`kernel_eval` raised in the kernel."""


def kernel_eval(page: Any, code: str, timeout: float = 30.0) -> str:
    """Run ``code`` in the kernel of the open notebook (same namespace as its cells)
    and return what it printed to stdout, stripped.

    The request goes through the notebook's own kernel connection, so its output
    never reaches a notebook cell. Raises :class:`KernelEvalError` with the
    traceback if the code raised.
    """
    _ensure_js(page)
    res = page.evaluate(
        """async ([code, ms]) => {
             const k = window.__cwPanel().sessionContext.session.kernel;
             const future = k.requestExecute({code, silent: false, store_history: false,
                                              allow_stdin: false, stop_on_error: false});
             const out = [], err = [];
             future.onIOPub = (msg) => {
               const t = msg.header.msg_type, c = msg.content;
               if (t === 'stream' && c.name === 'stdout') out.push(c.text);
               else if (t === 'stream') err.push(c.text);
               else if (t === 'error') err.push(c.ename + ': ' + c.evalue + '\\n' + c.traceback.join('\\n'));
             };
             let timer;
             const timeout = new Promise((_, reject) => {
               timer = setTimeout(() => reject(new Error('kernel_eval timed out')), ms); });
             try {
               const reply = await Promise.race([future.done, timeout]);
               return {status: reply.content.status, out: out.join(''), err: err.join('')};
             } finally { clearTimeout(timer); }
           }""",
        [code, timeout * 1000],
    )
    if res["status"] != "ok":
        # strip ANSI colour codes from the traceback
        raise KernelEvalError(re.sub(r"\x1b\[[0-9;]*m", "", res["err"]) or res["status"])
    return res["out"].strip()


def kernel_value(page: Any, expr: str, timeout: float = 30.0) -> Any:
    """The value of a Python expression, round-tripped through JSON."""
    return json.loads(kernel_eval(page, f"import json as _j; print(_j.dumps({expr}))", timeout))


def wait_for_python(
    page: Any,
    expr: str,
    expected: Any = None,
    *,
    predicate: Callable[[Any], bool] | None = None,
    timeout: float = 10.0,
    interval: float = 0.2,
) -> Any:
    """Poll the JSON value of ``expr`` in the kernel until it equals ``expected``
    (tuples compare equal to lists) or ``predicate(value)`` is true; return it."""
    if predicate is None:
        want = json.loads(json.dumps(expected))
        predicate = lambda v: v == want  # noqa: E731
    deadline = time.monotonic() + timeout
    while True:
        value = kernel_value(page, expr)
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Python never saw {expr} == {expected!r} within {timeout} s; last value {value!r}"
            )
        time.sleep(interval)


# -- the widget's DOM contract -------------------------------------------------------------
def run_notebook(page: Any, server: LabServer, path: str, max_seconds: float = 60.0) -> float:
    """Open ``path``, run every cell and assert it ran cleanly: no error outputs,
    every code cell executed, within ``max_seconds``. Returns the run time."""
    open_notebook(page, server, path)
    seconds = run_all_cells(page)
    assert error_outputs(page) == []
    unrun = [
        c["source"][:40]
        for c in notebook_cells(page)
        if c["cell_type"] == "code" and c["execution_count"] is None
    ]
    assert unrun == [], f"cells that never ran: {unrun}"
    print(f"\n{path} ran in {seconds:.1f} s")
    assert seconds < max_seconds
    return seconds


def wait_drawn(page: Any, widget: int = 0, n_tiles: int = 1) -> None:
    """Scroll widget ``widget`` into view and wait until its ``n_tiles`` canvases
    have drawn an epoch (JupyterLab skips rendering off-screen outputs)."""
    root = widget_root(page, widget)
    root.scroll_into_view_if_needed()
    page.wait_for_function(
        """([w, n]) => { const r = document.querySelectorAll('.cw-root')[w];
             const cs = r ? [...r.querySelectorAll('canvas.cw-matrix')] : [];
             return cs.length === n && cs.every(c => c.dataset.epoch !== undefined && +c.dataset.rows > 0); }""",
        arg=[widget, n_tiles],
    )


def widget_root(page: Any, widget: int = 0) -> Any:
    """Locator of the ``widget``-th ``.cw-root`` on the page (document order)."""
    return page.locator(".cw-root").nth(widget)


def matrix_canvas(page: Any, tile: int = 0, widget: int = 0) -> Any:
    """Locator of the matrix canvas of ``tile`` in the ``widget``-th widget."""
    return widget_root(page, widget).locator(f'canvas.cw-matrix[data-tile="{tile}"]')


def canvas_geometry(canvas: Any) -> dict[str, float]:
    """The canvas' data-* geometry: rows, cols, x0, y0, cell_w, cell_h, epoch."""
    return canvas.evaluate(
        """(c) => ({rows: +c.dataset.rows, cols: +c.dataset.cols, x0: +c.dataset.x0,
                   y0: +c.dataset.y0, cell_w: +c.dataset.cellW, cell_h: +c.dataset.cellH,
                   epoch: +c.dataset.epoch})"""
    )


def click_matrix_cell(page: Any, row: int, col: int, tile: int = 0, widget: int = 0) -> None:
    """Click the centre of cell ``(row, col)`` using the canvas' own geometry."""
    canvas = matrix_canvas(page, tile, widget)
    g = canvas_geometry(canvas)
    assert 0 <= row < g["rows"] and 0 <= col < g["cols"], (row, col, g)
    # Playwright's position is relative to the element's top-left corner and it
    # scrolls the canvas into view first.
    canvas.click(
        position={"x": g["x0"] + (col + 0.5) * g["cell_w"], "y": g["y0"] + (row + 0.5) * g["cell_h"]}
    )


def canvas_ink(canvas: Any) -> dict[str, int]:
    """Count non-transparent pixels and distinct colours on a canvas (a blank or
    single-colour canvas has 0 or 1 colours)."""
    return canvas.evaluate(
        """(c) => {
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let opaque = 0; const colours = new Set();
             for (let i = 0; i < d.length; i += 4) {
               if (d[i + 3] === 0) continue;
               opaque++;
               if (colours.size < 64) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
             }
             return {width: c.width, height: c.height, opaque, colours: colours.size};
           }"""
    )


def cell_pixel(canvas: Any, row: int, col: int) -> list[int]:
    """RGBA of cell ``(row, col)`` 3 CSS px inside its top-left corner (away from the
    value text drawn at the centre), in backing-store pixels (devicePixelRatio)."""
    return canvas.evaluate(
        """(c, [row, col]) => {
             const d = c.dataset, s = c.width / c.getBoundingClientRect().width;
             const x = Math.round((+d.x0 + col * +d.cellW + 3) * s);
             const y = Math.round((+d.y0 + row * +d.cellH + 3) * s);
             return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);
           }""",
        [row, col],
    )


def thumbnail_ids(page: Any, widget: int = 0) -> list[str]:
    """``data-sample-id`` of the panel's thumbnails in DOM order (images and
    placeholders alike)."""
    return (
        widget_root(page, widget)
        .locator("figure.cw-thumb [data-sample-id]")
        .evaluate_all("els => els.map(e => e.dataset.sampleId)")
    )


def measures(page: Any, prefix: str = "cw:") -> dict[str, list[float]]:
    """``performance.measure`` durations (ms) by name, for names starting with ``prefix``."""
    return page.evaluate(
        """(prefix) => { const out = {};
             for (const m of performance.getEntriesByType('measure'))
               if (m.name.startsWith(prefix)) (out[m.name] = out[m.name] || []).push(m.duration);
             return out; }""",
        prefix,
    )


def unavailable(reason: str) -> None:
    """Skip locally, fail on CI: a CI machine without a browser or a built frontend
    is a broken setup, not a reason to go green."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def require_frontend() -> None:
    """Skip (fail on CI) while the built bundle is the placeholder: the DOM contract
    (canvas.cw-matrix, select.cw-aggregation, …) only exists in the real frontend."""
    if frontend_is_placeholder():
        unavailable("the frontend bundle is still the placeholder; build it with `npm run build`")


def frontend_is_placeholder() -> bool:
    """True while the built bundle is still the few-byte placeholder (the real
    frontend is tens of KB)."""
    import confusion_widget

    bundle = Path(confusion_widget.__file__).parent / "static" / "widget.js"
    return not bundle.exists() or bundle.stat().st_size < 4096
