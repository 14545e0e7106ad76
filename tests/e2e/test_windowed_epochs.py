"""A history longer than the wire budget: the frontend holds a window of epochs and
Python re-centres it as the slider moves (tests/e2e/notebooks/windowed.ipynb: 12
epochs of a 10×10 matrix whose diagonal is e + 1, three epochs per message)."""

from __future__ import annotations

from harness import kernel_value, matrix_canvas, require_frontend, run_notebook, wait_drawn, wait_for_python


def test_scrubbing_across_window_edges_draws_every_epoch(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "windowed.ipynb")
    require_frontend()
    wait_drawn(page)
    assert kernel_value(page, "w._window") == [9, 3]  # the last three epochs travelled first
    canvas = matrix_canvas(page)
    canvas.focus()
    windows = set()
    for epoch in range(10, -1, -1):
        page.keyboard.press("[")
        wait_for_python(page, "w.epoch", epoch)
        # the canvas shows this epoch once its window has arrived (dimmed until then)
        page.wait_for_function(
            "([e]) => { const c = document.querySelector('canvas.cw-matrix');"
            " return c && c.dataset.epoch === String(e)"
            " && !c.closest('.cw-stage').classList.contains('cw-dimmed'); }",
            arg=[epoch],
            timeout=10_000,
        )
        windows.add(tuple(kernel_value(page, "w._window")))
        # the tooltip's count for cell (0, 0) is the drawn value: epoch + 1
        box = canvas.bounding_box()
        geom = {k: float(canvas.get_attribute(f"data-{k}")) for k in ("x0", "y0", "cell-w", "cell-h")}
        page.mouse.move(
            box["x"] + geom["x0"] + geom["cell-w"] / 2, box["y"] + geom["y0"] + geom["cell-h"] / 2
        )
        tip = page.locator(".cw-tooltip")
        tip.wait_for(state="visible")
        assert f"count {epoch + 1}" in " ".join(tip.inner_text().split())
    assert len(windows) >= 4, windows  # the window really moved, several times
    assert lab_events.widget_errors() == []
