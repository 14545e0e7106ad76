"""A history longer than the widget's state holds (tests/e2e/notebooks/windowed.ipynb:
30 epochs of a 320-class matrix with dense-ish random counts; `_counts` holds only the
last two): scrubbing reaches every epoch, each draws Python's counts, and every epoch
crosses the wire exactly once — in `_counts` or in one `counts` reply (the notebook
wraps ``w.send`` to count the rows of counts each epoch gets)."""

from __future__ import annotations

import time

from harness import canvas_geometry, kernel_value, matrix_canvas, require_frontend, run_notebook, wait_drawn

K, E = 320, 30


def cell_of(epoch: int) -> tuple[int, int]:
    """The cell checked at `epoch`: a different one each epoch, (0, 0) first."""
    return (epoch * 37) % K, (epoch * 101 + (K - 1) * (epoch % 2)) % K


DRAWN = """([e]) => { const c = document.querySelector('canvas.cw-matrix');
  return c && c.dataset.epoch === String(e) && !c.closest('.cw-stage').classList.contains('cw-dimmed'); }"""


def hover_count(page, canvas, geom, row: int, col: int) -> str:
    """The tooltip's count of cell (row, col): the value the canvas was drawn from."""
    # Playwright scrolls the point into view first (the 320-row canvas is taller than the page).
    position = {
        "x": geom["x0"] + (col + 0.5) * geom["cell_w"],
        "y": geom["y0"] + (row + 0.5) * geom["cell_h"],
    }
    canvas.hover(position=position)
    tip = page.locator(".cw-tooltip")
    tip.wait_for(state="visible")
    text = " ".join(tip.inner_text().split())
    return text.split("count ", 1)[1].split(" ")[0]


def test_every_epoch_draws_and_crosses_the_wire_once(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "windowed.ipynb")
    require_frontend()
    wait_drawn(page)
    in_state = kernel_value(
        page,
        "sorted({b['epoch'] for b in json.loads(bytes(w._counts[4:4 + struct.unpack('<I', w._counts[:4])[0]]))['blocks']})",
    )
    assert in_state == [E - 2, E - 1]  # only the last two epochs travel with the widget
    cells = [cell_of(e) for e in range(E)]
    expected = kernel_value(page, f"[int(w.matrices[e][r, c]) for e, (r, c) in enumerate({cells!r})]")

    canvas = matrix_canvas(page)
    geom = canvas_geometry(canvas)
    assert geom["rows"] == K and geom["epoch"] == E - 1
    canvas.focus()
    # Scrub down with the pointer away from the matrix: the slider's own fetches
    # (and the prefetch in the direction it moves) bring every epoch.
    page.mouse.move(1, 1)
    t0 = time.monotonic()
    for epoch in range(E - 2, -1, -1):
        page.keyboard.press("[")
        page.wait_for_function(DRAWN, arg=[epoch], timeout=10_000)
    assert kernel_value(page, "w.epoch") == 0
    # Scrub back up: each epoch shows Python's counts (the tooltip reads the drawn data).
    t1 = time.monotonic()
    for epoch in range(E):
        if epoch:
            page.keyboard.press("]")
        page.wait_for_function(DRAWN, arg=[epoch], timeout=10_000)
        drawn = int(hover_count(page, canvas, geom, *cells[epoch]).replace(",", ""))
        assert drawn == expected[epoch], f"epoch {epoch}, cell {cells[epoch]}"
    print(
        f"\nscrubbed {E - 1} epochs down in {t1 - t0:.1f} s, {E} up (hovering) in {time.monotonic() - t1:.1f} s"
    )

    sent = {int(e): rows for e, rows in kernel_value(page, "sent_rows").items()}
    assert sorted(sent) == [e for e in range(E) if e not in in_state], "an epoch was never fetched"
    assert set(sent.values()) == {K}, f"an epoch's rows were sent more than once: {sent}"
    assert lab_events.widget_errors() == []
