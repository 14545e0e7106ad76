"""Counts on the wire, measured where they travel: the kernel WebSocket of a real
JupyterLab, while the user steps through a long history.

Scenario (per K): a notebook cell builds ``ConfusionWidget(mats)`` from E = 50 epochs
of K × K counts (``banded_counts``: a diagonal plus confusions near it, about 2% of
the cells non-zero in every epoch) and displays it at its last epoch; then the
epoch is stepped back one at a time to the first, each step from the frontend
(``[`` pressed on the focused matrix, js/keyboard.js), each time waiting until the
canvas' ``data-epoch`` and Python's ``w.epoch`` both show the new epoch.

Measured
- every WebSocket frame the page *receives* on the kernel channels
  (``page.on("websocket")`` → ``framereceived``; payload bytes as delivered, the
  ``v1.kernel.websocket.jupyter.org`` envelope included), from the page's opening
  (kernel_info and friends, a few kB) until the last step: the total, the largest
  frame, how many exceed 1 MiB / 2 MiB, and the bytes by kind (the widget's
  ``comm_open``, ``counts`` replies, the rest); the ``counts`` requests the page
  sent (``framesent``), which epochs, and whether any epoch was asked twice.
- step → frame: from the ``[`` keydown's timestamp until the end of the first frame
  after the canvas' ``data-epoch`` changed (a MutationObserver, then a
  requestAnimationFrame callback and a task posted from it, as bench_browser.py's
  "→ frame"), for steps served from the epochs already in the page and for steps
  that waited for a ``counts`` reply; and the widget's own ``cw:epoch-step``
  measure (JS time from the epoch change to the paint call).

Run: ``.venv/bin/python benchmarks/bench_wire.py`` (~2 minutes). Options:
``--k 1000`` (one size only; ``--k 10000 --epochs 10`` builds the widget from 1,000,000
predictions of 10,000 classes instead, held sparse end to end), ``--baseline DIR``: the same scenario with the widget
from another source tree (``DIR/src`` on the kernel's PYTHONPATH, its bundle in
``DIR/src/confusion_widget/static``), e.g. the previous design for a same-run
comparison: ``git archive HEAD | tar -x -C /tmp/cw-head`` and build its bundle.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from _timing import table

E_DEFAULT = 50
MIB = 2**20
TARGET_TOTAL = 10e6  # bytes received in all, K = 1,000 × 50 epochs (the issue: ≤ 10 MB)
TARGET_FRAME = 2 * MIB  # the largest frame
TARGET_STEP = 25.0  # ms, step → frame
DENSE_TODAY = 200e6  # the figure for the previous design (32 MiB windows of int32)
CHANNELS_URL = re.compile(r"/api/kernels/[^/?]+/channels")

CAVEAT = (
    "Machine: 2 shared CPU cores, headless Chromium with software rendering; real JupyterLab\n"
    "and kernel on loopback. Times vary run to run (±20-30%); byte counts are exact and stable."
)


# -- data ------------------------------------------------------------------------------------
def banded_counts(K: int, E: int, fill: float = 0.02, per_class: int = 200, seed: int = 0) -> np.ndarray:
    """``(E, K, K)`` int32: ``per_class`` samples per true class; each row's errors go
    to ``round(fill * K) - 1`` confusable classes near the diagonal (offsets within
    ±K/10, fixed for the run, as real confusions are), every one of them hit at
    least once, so about ``fill`` of the cells are non-zero in every epoch; the
    error rate falls from ~60% to ~15% over the epochs."""
    rng = np.random.default_rng(seed)
    m = max(1, round(fill * K) - 1)
    spread = max(m, K // 10)
    choices = np.r_[-spread:0, 1 : spread + 1]
    offs = np.stack([rng.choice(choices, m, replace=False) for _ in range(K)])
    cols = (np.arange(K)[:, None] + offs) % K
    weights = 0.2 + rng.random((K, m)) ** 2
    weights /= weights.sum(1, keepdims=True)
    rows = np.arange(K)[:, None]
    out = np.zeros((E, K, K), np.int32)
    for e in range(E):
        rate = 0.15 + 0.45 * np.exp(-e / 8)
        errors = np.clip(np.round(per_class * rate * (0.7 + 0.6 * rng.random(K))), m, per_class).astype(
            np.int64
        )
        hits = 1 + rng.multinomial(errors - m, weights)  # (K, m), each >= 1
        np.add.at(out[e], (np.broadcast_to(rows, cols.shape), cols), hits)
        out[e, np.arange(K), np.arange(K)] += per_class - errors
    return out


NOTEBOOK_SOURCE = """\
import sys
sys.path.insert(0, {bench_dir!r})
from bench_wire import banded_counts
from confusion_widget import ConfusionWidget

mats = banded_counts({K}, {E})
w = ConfusionWidget(mats)
w
"""

# From SPARSE_FROM classes: predictions (bench_large_k's scene: N = 1,000,000, errors
# into neighbouring classes), held sparse end to end; a dense stack would not fit.
NOTEBOOK_SOURCE_LARGE = """\
import sys
sys.path.insert(0, {bench_dir!r})
from bench_large_k import scene
from confusion_widget import ConfusionWidget

y, preds = scene()
w = ConfusionWidget.from_predictions(y, preds[:{E}])
w
"""
TARGET_TOTAL_LARGE = 20e6  # bytes received in all, K = 10,000 × 10 epochs (issue 11: ≤ 20 MB)


# -- the page side ------------------------------------------------------------------------------
# Timestamps every `[` / `]` keydown on the widget and the end of the first frame
# after the canvas shows a new epoch: window.__cwSteps = [{epoch, key, painted, frame}].
STEP_WATCH = """
() => {
  const root = document.querySelector('.cw-root');
  window.__cwSteps = [];
  let pending = null;
  root.addEventListener('keydown', (e) => {
    if (e.key !== '[' && e.key !== ']') return;
    const c = root.querySelector('canvas.cw-matrix');
    pending = {from: c ? c.dataset.epoch : null, key: e.timeStamp};
  }, true);
  new MutationObserver(() => {
    const c = root.querySelector('canvas.cw-matrix');
    if (!pending || !c || c.dataset.epoch === pending.from) return;
    const step = {...pending, epoch: +c.dataset.epoch, painted: performance.now()};
    pending = null;
    requestAnimationFrame(() => setTimeout(() => {
      step.frame = performance.now();
      window.__cwSteps.push(step);
    }, 0));
  }).observe(root, {attributes: true, attributeFilter: ['data-epoch'], subtree: true});
}
"""


def _kernel_ws():
    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    import kernel_ws

    return kernel_ws


class WireLog:
    """Frames on the page's kernel channels WebSockets, both ways."""

    def __init__(self) -> None:
        self.kws = _kernel_ws()
        self.received: list[tuple[int, str]] = []  # (bytes, kind)
        self.sent_counts: list[list[int]] = []  # epochs of each counts request
        self.other_ws_bytes = 0  # every other WebSocket of the page (JupyterLab's events etc.)
        self.protocols: set[str] = set()

    def attach(self, page: Any) -> None:
        page.on("websocket", self._on_ws)

    def _on_ws(self, ws: Any) -> None:
        if not CHANNELS_URL.search(ws.url):
            ws.on(
                "framereceived",
                lambda p: setattr(self, "other_ws_bytes", self.other_ws_bytes + self.kws.frame_size(p)),
            )
            return
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _parse(self, payload: str | bytes):
        try:
            if isinstance(payload, str):
                return self.kws.parse_legacy(payload)
            try:
                msg = self.kws.parse_v1(payload)
                self.protocols.add("v1")
                return msg
            except ValueError:
                msg = self.kws.parse_legacy(payload)
                self.protocols.add("legacy")
                return msg
        except Exception:
            return None

    def _received(self, payload: str | bytes) -> None:
        size = self.kws.frame_size(payload)
        msg = self._parse(payload)
        kind = "other"
        if msg is not None:
            custom = self.kws.custom_content(msg)
            data = msg.comm_data
            if msg.msg_type == "comm_open" and msg.content.get("target_name") == "jupyter.widget":
                kind = "comm_open"
            elif custom is not None and custom.get("type") == "counts":
                kind = "counts reply"
            elif msg.msg_type == "comm_msg" and data.get("method") in ("update", "echo_update"):
                kind = "state update (buffers)" if msg.buffers else "state update"
        self.received.append((size, kind))

    def _sent(self, payload: str | bytes) -> None:
        msg = self._parse(payload)
        custom = self.kws.custom_content(msg) if msg is not None else None
        if custom is not None and custom.get("type") == "counts":
            self.sent_counts.append(list(custom.get("epochs") or []))

    def summary(self) -> dict[str, Any]:
        sizes = [s for s, _ in self.received]
        by_kind: dict[str, list[int]] = {}
        for s, k in self.received:
            by_kind.setdefault(k, []).append(s)
        asked = [e for req in self.sent_counts for e in req]
        return {
            "total": sum(sizes),
            "frames": len(sizes),
            "largest": max(sizes, default=0),
            "over_1mib": sum(s > MIB for s in sizes),
            "over_2mib": sum(s > 2 * MIB for s in sizes),
            "by_kind": {k: (len(v), sum(v), max(v)) for k, v in sorted(by_kind.items())},
            "requests": len(self.sent_counts),
            "requested": self.sent_counts,
            "asked": asked,
            "asked_twice": sorted({e for e in asked if asked.count(e) > 1}),
            "other_ws_bytes": self.other_ws_bytes,
            "protocols": sorted(self.protocols),
        }


# -- the scenario ------------------------------------------------------------------------------------
def step_history(browser: Any, server: Any, harness: Any, K: int, E: int) -> dict[str, Any]:
    import nbformat

    name = f"bench_wire_k{K}.ipynb"
    nb = nbformat.v4.new_notebook()
    source = NOTEBOOK_SOURCE_LARGE if K >= 5000 else NOTEBOOK_SOURCE
    nb.cells = [nbformat.v4.new_code_cell(source.format(bench_dir=str(HERE), K=K, E=E))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, server.root_dir / name)

    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(60_000)
    page = ctx.new_page()
    events = harness.PageEvents()
    events.attach(page)
    log = WireLog()
    log.attach(page)
    try:
        t0 = time.monotonic()
        harness.open_notebook(page, server, name)
        run_s = harness.run_all_cells(page, timeout=180)
        assert harness.error_outputs(page) == [], harness.error_outputs(page)
        assert harness.kernel_value(page, "[w.n_epochs, w.epoch, len(w.labels)]") == [E, E - 1, K]
        canvas = harness.matrix_canvas(page)
        canvas.scroll_into_view_if_needed()
        page.wait_for_function(
            "(e) => { const c = document.querySelector('canvas.cw-matrix');"
            " return c && c.dataset.epoch === String(e) && +c.dataset.rows > 0; }",
            arg=E - 1,
        )
        shown_s = time.monotonic() - t0
        page.evaluate(STEP_WATCH)
        page.evaluate("() => performance.clearMeasures('cw:epoch-step')")
        fetched_at: list[bool] = []
        for target in range(E - 2, -1, -1):
            before = len(log.sent_counts)
            canvas.press("[")
            page.wait_for_function(
                "(e) => { const c = document.querySelector('canvas.cw-matrix');"
                " return c && c.dataset.epoch === String(e); }",
                arg=target,
                timeout=30_000,
            )
            harness.wait_for_python(page, "w.epoch", target, timeout=30, interval=0.05)
            page.wait_for_function("(n) => window.__cwSteps.length >= n", arg=E - 1 - target)
            # did the page ask for this step's epoch while the step was under way? (frames
            # are dispatched to Python during the calls above: close, not exact)
            fetched_at.append(any(target in req for req in log.sent_counts[before:]))
        steps = page.evaluate("() => window.__cwSteps")
        epoch_steps = harness.measures(page).get("cw:epoch-step", [])
        ink = harness.canvas_ink(canvas)
        assert ink["opaque"] > 0 and ink["colours"] >= 2, ink
        errors = events.widget_errors()
        assert not errors, errors
    finally:
        ctx.close()
        server.shutdown_kernels()
    assert [s["epoch"] for s in steps] == list(range(E - 2, -1, -1)), [s["epoch"] for s in steps]
    to_frame = [s["frame"] - s["key"] for s in steps]
    return {
        "K": K,
        "E": E,
        "run_s": run_s,
        "shown_s": shown_s,
        "to_frame": to_frame,
        "to_paint": [s["painted"] - s["key"] for s in steps],
        "paint_to_frame": [s["frame"] - s["painted"] for s in steps],
        "to_frame_local": [t for t, f in zip(to_frame, fetched_at) if not f],
        "to_frame_fetched": [t for t, f in zip(to_frame, fetched_at) if f],
        "epoch_step": epoch_steps,
        "wire": log.summary(),
        "dense": E * K * K * 4,
    }


# -- reporting -------------------------------------------------------------------------------------------
def med(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def p95(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n < 10e6 else f"{n / 1e6:.0f} MB"


def ok(flag: bool) -> str:
    return "ok" if flag else "MISSED"


def report(r: dict[str, Any], label: str = "") -> dict[str, float]:
    w = r["wire"]
    K, E = r["K"], r["E"]
    print(
        f"\nK = {K:,}, {E} epochs{label}: notebook ran in {r['run_s']:.1f} s, first matrix after {r['shown_s']:.1f} s"
    )
    print(
        f"   received on the kernel channels: {mb(w['total'])} in {w['frames']} frames; largest frame "
        f"{w['largest'] / MIB:.2f} MiB; frames > 1 MiB: {w['over_1mib']}, > 2 MiB: {w['over_2mib']}"
        f"  (protocol {', '.join(w['protocols']) or '?'}; other WebSockets of the page: {mb(w['other_ws_bytes'])})"
    )
    rows = [(k, n, mb(total), f"{big / 1e3:.0f} kB") for k, (n, total, big) in w["by_kind"].items()]
    print(table(rows, ("frames of kind", "n", "bytes", "largest")))
    print(
        f"   counts requests sent: {w['requests']} for {len(w['asked'])} epochs"
        f"{'; asked twice: ' + str(w['asked_twice']) if w['asked_twice'] else ' (none asked twice)'}"
        + (f"; in order: {' '.join(map(str, w['requested']))[:200]}" if w["requested"] else "")
    )
    print(
        f"   for comparison: dense int32 of the same history {mb(r['dense'])}"
        + (
            f"; the previous design (32 MiB windows), the issue's 'dense today': {mb(DENSE_TODAY)}"
            if K == 1000
            else ""
        )
    )
    tf, es = r["to_frame"], r["epoch_step"]
    print(
        f"   [ → canvas shows the epoch (data-epoch set): median {ms(med(r['to_paint']))} ms, p95 {ms(p95(r['to_paint']))};"
        f" then → end of frame: median {ms(med(r['paint_to_frame']))} ms"
    )
    rows = [
        ("[ → frame, all steps", len(tf), ms(med(tf)), ms(p95(tf)), ms(max(tf) if tf else None)),
        (
            "  served from the page",
            len(r["to_frame_local"]),
            ms(med(r["to_frame_local"])),
            ms(p95(r["to_frame_local"])),
            ms(max(r["to_frame_local"], default=None)),
        ),
        (
            "  waited for a counts reply",
            len(r["to_frame_fetched"]),
            ms(med(r["to_frame_fetched"])),
            ms(p95(r["to_frame_fetched"])),
            ms(max(r["to_frame_fetched"], default=None)),
        ),
        ("cw:epoch-step (JS)", len(es), ms(med(es)), ms(p95(es)), ms(max(es) if es else None)),
    ]
    print(table(rows, ("epoch step", "n", "median ms", "p95 ms", "max ms")))
    figures = {
        f"wire_k{K}_total_mb": w["total"] / 1e6,
        f"wire_k{K}_largest_mib": w["largest"] / MIB,
        f"wire_k{K}_frames_over_2mib": w["over_2mib"],
        f"wire_k{K}_step_frame_ms": med(tf) or 0.0,
        f"wire_k{K}_step_frame_p95_ms": p95(tf) or 0.0,
        f"wire_k{K}_epoch_step_ms": med(es) or 0.0,
    }
    if K >= 5000:
        print(
            f"   targets: total {mb(w['total'])} ≤ 20 MB: {ok(w['total'] <= TARGET_TOTAL_LARGE)}; "
            f"largest frame {w['largest'] / MIB:.2f} MiB ≤ 2 MiB: {ok(w['largest'] <= TARGET_FRAME)}; "
            f"[ → frame median {ms(med(tf))} ms ≤ 50 ms: {ok((med(tf) or 0) <= 50)}"
        )
    if K == 1000 and E == 50:
        print(
            f"   targets: total {mb(w['total'])} ≤ 10 MB: {ok(w['total'] <= TARGET_TOTAL)}; "
            f"largest frame {w['largest'] / MIB:.2f} MiB ≤ 2 MiB: {ok(w['largest'] <= TARGET_FRAME)}; "
            f"\n   step ≤ 25 ms: [ → frame median {ms(med(tf))} ms {ok((med(tf) or 0) <= TARGET_STEP)}, "
            f"p95 {ms(p95(tf))} ms {ok((p95(tf) or 0) <= TARGET_STEP)}; "
            f"cw:epoch-step median {ms(med(es))} ms {ok((med(es) or 0) <= TARGET_STEP)}, "
            f"p95 {ms(p95(es))} ms {ok((p95(es) or 0) <= TARGET_STEP)}"
        )
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, action="append", help="class counts to run (default 1000 and 100)")
    ap.add_argument("--epochs", type=int, default=E_DEFAULT)
    ap.add_argument("--baseline", type=Path, help="a source tree whose widget to measure instead")
    args = ap.parse_args(argv if argv is not None else [])
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    import harness

    sizes = args.k or [1000, 100]
    label = ""
    env_before = os.environ.get("PYTHONPATH")
    if args.baseline:
        src = args.baseline.resolve() / "src"
        assert (src / "confusion_widget" / "static" / "widget.js").exists(), f"no built bundle under {src}"
        os.environ["PYTHONPATH"] = str(src) + (os.pathsep + env_before if env_before else "")
        label = f" [baseline: {args.baseline}]"
    else:
        bundle = REPO / "src" / "confusion_widget" / "static" / "widget.js"
        print(
            f"Bundle: {bundle.relative_to(REPO)} ({bundle.stat().st_size / 1e3:.0f} kB, built "
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(bundle.stat().st_mtime))})"
        )
    print(CAVEAT)
    print(
        f"Load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work on the machine skews the times)."
    )
    figures: dict[str, float] = {}
    t_all = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="cw-bench-wire-") as tmp, sync_playwright() as pw:
            root, work = Path(tmp) / "root", Path(tmp) / "work"
            root.mkdir()
            work.mkdir()
            server = harness.LabServer(root_dir=root, work_dir=work).start()
            browser = pw.chromium.launch(
                executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS, headless=True
            )
            try:
                if args.baseline:
                    print(f"kernel PYTHONPATH: {os.environ['PYTHONPATH']}")
                for K in sizes:
                    r = step_history(browser, server, harness, K, args.epochs)
                    figures |= report(r, label)
            finally:
                browser.close()
                server.stop()
    finally:
        if args.baseline:
            if env_before is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = env_before
    print(
        "\n(bytes: WebSocket payloads as delivered to the page, envelope included; → frame: from the keydown's\n"
        "timestamp to the end of the first frame after the canvas' data-epoch changed; a step counts as\n"
        "'waited for a counts reply' when the page sent a counts request during it; cw:epoch-step is the\n"
        f"widget's own measure, from the epoch change to the paint call.  {time.perf_counter() - t_all:.0f} s in all;\n"
        f"load average at the end {os.getloadavg()[0]:.1f})"
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
