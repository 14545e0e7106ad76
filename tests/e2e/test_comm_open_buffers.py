"""A host that drops the binary buffers of a widget's ``comm_open``, imitated in real
JupyterLab: Colab's widget manager builds the model from the state alone, and
Positron did before posit-dev/positron#7228. The ``_counts`` trait (a pack of the
epochs around the current one) then never arrives, and the frontend must ask for
every epoch it shows with a ``counts`` request.

``kernel_ws.CommOpenBufferStripper`` sits between the page and the Jupyter server
on the kernel channels WebSocket (Playwright's ``page.route_web_socket``), parses
JupyterLab 4's ``v1.kernel.websocket.jupyter.org`` frames, removes the buffers and
``buffer_paths`` of the widget's ``comm_open`` and forwards everything else byte for
byte; it also records the custom messages both ways, so the test knows that the
counts came by request (the shell channel) and not some other way.

Notebook: ``tests/e2e/notebooks/three_epochs.ipynb`` (sklearn digits, 3 epochs of a
fake predictor, K = 10).
"""

from __future__ import annotations

import json
import time

import pytest
from harness import (
    canvas_geometry,
    click_matrix_cell,
    kernel_value,
    matrix_canvas,
    require_frontend,
    run_notebook,
    thumbnail_ids,
    wait_for_python,
)
from kernel_ws import (
    V1,
    CommOpenBufferStripper,
    parse_legacy,
    parse_v1,
    serialize_legacy,
    serialize_v1,
)

NOTEBOOK = "three_epochs.ipynb"


# -- the frame codec, against jupyter_server's own (no browser) ---------------------------------
def _message(buffers: list[bytes]) -> dict:
    return {
        "header": {"msg_id": "m1", "msg_type": "comm_open", "date": "2026-11-29T12:00:00.000000Z"},
        "parent_header": {"msg_id": "p0"},
        "metadata": {},
        "content": {
            "comm_id": "c1",
            "target_name": "jupyter.widget",
            "data": {"state": {"labels": ["a", "é"]}, "buffer_paths": [["_counts"]] if buffers else []},
        },
        "buffers": buffers,
    }


@pytest.mark.parametrize("buffers", [[], [b"\x01\x02\x03"], [b"", b"x" * 1000]])
def test_v1_frames_match_jupyter_server(buffers):
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1,
        serialize_msg_to_ws_v1,
    )

    m = _message(buffers)
    parts = [json.dumps(m[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
    frame = serialize_msg_to_ws_v1([*parts, *buffers], "iopub")  # what the server sends
    msg = parse_v1(frame)
    assert (msg.channel, msg.msg_type, msg.content, msg.buffers) == (
        "iopub",
        "comm_open",
        m["content"],
        buffers,
    )
    assert serialize_v1(msg) == frame  # untouched → byte for byte
    msg.content["data"]["buffer_paths"], msg.buffers = [], []
    channel, out = deserialize_msg_from_ws_v1(serialize_v1(msg))  # what the server reads
    assert channel == "iopub" and len(out) == 4 and json.loads(out[3])["data"]["buffer_paths"] == []


def test_legacy_frames_match_jupyter_server():
    from jupyter_server.services.kernels.connection.base import (
        deserialize_binary_message,
        serialize_binary_message,
    )

    m = {**_message([b"abc"]), "channel": "iopub", "msg_id": "m1", "msg_type": "comm_open"}
    msg = parse_legacy(serialize_binary_message(m))
    assert (msg.buffers, msg.content) == ([b"abc"], m["content"])
    back = deserialize_binary_message(serialize_legacy(msg))
    assert [bytes(b) for b in back["buffers"]] == [b"abc"] and back["content"] == m["content"]
    msg.buffers = []
    assert json.loads(serialize_legacy(msg))["msg_type"] == "comm_open"


# -- in JupyterLab ------------------------------------------------------------------------------
def wait_epoch_drawn(page, epoch: int, timeout_ms: float, why: str) -> None:
    try:
        page.wait_for_function(
            "(e) => { const c = document.querySelector('canvas.cw-matrix');"
            " return c && c.dataset.epoch === String(e) && +c.dataset.rows > 0; }",
            arg=epoch,
            timeout=timeout_ms,
        )
    except Exception as exc:
        raise AssertionError(f"the canvas never drew epoch {epoch} ({why})") from exc


def cell_colours(canvas) -> list[list[list[int]]]:
    """RGBA of every cell, 3 CSS px inside its top-left corner (away from the value
    text), in backing-store pixels."""
    return canvas.evaluate(
        """(c) => {
             const d = c.dataset, s = c.width / c.getBoundingClientRect().width;
             const ctx = c.getContext('2d'), out = [];
             for (let r = 0; r < +d.rows; r++) {
               const row = [];
               for (let k = 0; k < +d.cols; k++) {
                 const x = Math.round((+d.x0 + k * +d.cellW + 3) * s);
                 const y = Math.round((+d.y0 + r * +d.cellH + 3) * s);
                 row.push(Array.from(ctx.getImageData(x, y, 1, 1).data));
               }
               out.push(row);
             }
             return out;
           }"""
    )


def assert_draws_matrix(page, epoch: int) -> None:
    """The canvas shows epoch ``epoch`` of ``w.matrix`` (count, equal scale, blues):
    one colour per count; empty cells in their own colour; non-empty cells darker
    for larger counts."""
    assert kernel_value(page, "w.epoch") == epoch
    m = kernel_value(page, "w.matrix.tolist()")
    canvas = matrix_canvas(page)
    g = canvas_geometry(canvas)
    assert (g["rows"], g["cols"], g["epoch"]) == (len(m), len(m), epoch), g
    colours = cell_colours(canvas)
    by_count: dict[int, set[tuple[int, ...]]] = {}
    for r, row in enumerate(m):
        for c, v in enumerate(row):
            by_count.setdefault(v, set()).add(tuple(colours[r][c]))
    assert all(len(cs) == 1 for cs in by_count.values()), {v: cs for v, cs in by_count.items() if len(cs) > 1}
    colour = {v: next(iter(cs)) for v, cs in by_count.items()}
    assert 0 in colour and all(colour[0] != colour[v] for v in colour if v), colour
    luma = {v: 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] for v, rgba in colour.items() if v}
    assert all(colour[v][3] == 255 for v in luma), colour  # non-empty cells are opaque
    counts = sorted(luma)
    assert luma[counts[0]] > luma[counts[-1]] + 100, luma  # the smallest count light, the largest dark
    for lo, hi in zip(counts, counts[1:]):
        assert luma[lo] >= luma[hi] - 1, (epoch, lo, hi, luma)  # monotone: more → darker


def test_comm_open_without_buffers_fetches_counts(lab_page, lab_server, lab_events):
    page = lab_page
    t0 = time.monotonic()
    proxy = CommOpenBufferStripper().install(page)
    run_notebook(page, lab_server, NOTEBOOK)

    # The widget's comm_open really reached the page without its buffers.
    assert proxy.protocols and set(proxy.protocols) == {V1}, proxy.protocols
    assert proxy.errors == []
    opens = [s for s in proxy.stripped if ["_counts"] in s.buffer_paths]
    assert len(opens) == 1, proxy.stripped
    assert opens[0].buffer_bytes and min(opens[0].buffer_bytes) > 0, opens
    assert "_counts" not in opens[0].state_keys
    print(
        f"\nstripped {len(proxy.stripped)} comm_open(s): buffer_paths {opens[0].buffer_paths}, "
        f"{sum(opens[0].buffer_bytes)} bytes of buffers"
    )

    require_frontend()
    assert kernel_value(page, "[w.n_epochs, w.epoch]") == [3, 2]
    matrix_canvas(page).scroll_into_view_if_needed()
    wait_epoch_drawn(page, 2, 15_000, f"counts requests sent: {counts_requests(proxy)}")

    # It drew because it asked: counts requests on the shell channel, answered with packs.
    asked = [e for req in counts_requests(proxy) for e in req.get("epochs", [])]
    assert 2 in asked, asked
    assert_counts_replies(page, proxy)
    assert_draws_matrix(page, 2)

    # The slider (input events, as a drag) to the first epoch: Python and canvas follow.
    page.locator("input.cw-epoch-slider").evaluate(
        "(s) => { s.value = '0'; s.dispatchEvent(new Event('input', {bubbles: true}));"
        " s.dispatchEvent(new Event('change', {bubbles: true})); }"
    )
    wait_epoch_drawn(page, 0, 10_000, f"counts requests sent: {counts_requests(proxy)}")
    wait_for_python(page, "w.epoch", 0)
    assert_draws_matrix(page, 0)

    # `]` on the focused matrix: one epoch on.
    matrix_canvas(page).focus()
    page.keyboard.press("]")
    wait_epoch_drawn(page, 1, 10_000, f"counts requests sent: {counts_requests(proxy)}")
    wait_for_python(page, "w.epoch", 1)
    assert_draws_matrix(page, 1)

    # Every epoch shown was asked for (none came in the state), none twice.
    asked = [e for req in counts_requests(proxy) for e in req.get("epochs", [])]
    assert sorted(set(asked)) == [0, 1, 2], asked
    assert len(asked) == len(set(asked)), f"an epoch was asked for twice: {asked}"
    assert_counts_replies(page, proxy)

    # A click on the busiest off-diagonal cell shows its samples.
    r, c = kernel_value(
        page,
        "(lambda m: [int(i) for i in __import__('numpy').unravel_index("
        "(m - __import__('numpy').diag(m.diagonal())).argmax(), m.shape)])(w.matrix)",
    )
    click_matrix_cell(page, r, c)
    wait_for_python(page, "w.selected", [r, c])
    expected = [str(s) for s in kernel_value(page, "[str(s) for s in w.selected_samples[:25]]")]
    assert expected
    page.wait_for_function(
        "(n) => document.querySelectorAll('figure.cw-thumb img[data-sample-id]').length === n",
        arg=len(expected),
    )
    assert thumbnail_ids(page) == expected
    assert any(m.get("type") == "cell" for m in proxy.sent_custom)

    assert proxy.errors == []
    assert lab_events.widget_errors() == []
    print(
        f"counts requests: {counts_requests(proxy)}; replies: "
        f"{[(m.get('done'), sizes) for m, sizes in proxy.received_custom if m.get('type') == 'counts']}; "
        f"{proxy.frames_in} frames in, {proxy.frames_out} out; {time.monotonic() - t0:.1f} s"
    )


def counts_requests(proxy: CommOpenBufferStripper) -> list[dict]:
    return [m for m in proxy.sent_custom if m.get("type") == "counts"]


def assert_counts_replies(page, proxy: CommOpenBufferStripper, timeout: float = 10.0) -> None:
    """Every counts request was answered by counts parts, each with one pack, the
    last one ``done``; and no state update carried ``_counts`` instead. Waits for
    the replies of requests still under way (a prefetch may just have left)."""

    def answered(req: dict) -> bool:
        return any(m.get("id") == req.get("id") and m.get("done") is True for m, _ in proxy.received_custom)

    deadline = time.monotonic() + timeout
    while not all(answered(req) for req in counts_requests(proxy)) and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright run the proxy's handlers meanwhile
    replies = [(m, sizes) for m, sizes in proxy.received_custom if m.get("type") == "counts"]
    errors = [m for m, _ in proxy.received_custom if m.get("type") == "error"]
    assert errors == [], errors
    for req in counts_requests(proxy):
        parts = [(m, sizes) for m, sizes in replies if m.get("id") == req.get("id")]
        assert parts and parts[-1][0].get("done") is True, (req, parts)
        assert all(len(sizes) == 1 and sizes[0] > 0 for _, sizes in parts), parts
    assert not [p for p in proxy.updates_with_buffers if ["_counts"] in p], proxy.updates_with_buffers
