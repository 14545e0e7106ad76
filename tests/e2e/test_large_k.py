"""1,000 classes in a real JupyterLab (tests/e2e/notebooks/large_k.ipynb): the whole
matrix fits the output's width, a search zooms so the class's diagonal cell is at the
centre of the view, a click on a zoomed cell selects that class in Python, the wheel
zooms about the pointer, a drag pans, ``w.focus(name)`` zooms from Python, and a click
on a class label of a hierarchy collapses its group (``h.collapsed``)."""

from __future__ import annotations

import time

from harness import (
    canvas_geometry,
    kernel_eval,
    kernel_value,
    matrix_canvas,
    require_frontend,
    run_notebook,
    wait_drawn,
    wait_for_python,
)

K = 1000


def centre_cell(fit: dict, g: dict) -> tuple[float, float]:
    """The (row, col) position (in cells) at the centre of the plot: the plot is
    the fitted matrix's square (data-x0/y0 and cell size of the fitted view)."""
    cx = fit["x0"] + K * fit["cell_w"] / 2
    cy = fit["y0"] + K * fit["cell_h"] / 2
    return (cy - g["y0"]) / g["cell_h"], (cx - g["x0"]) / g["cell_w"]


def wait_geometry_change(page, before: dict, widget: int = 0) -> dict:
    page.wait_for_function(
        """([w, x0, cw]) => { const c = document.querySelectorAll('.cw-root')[w].querySelector('canvas.cw-matrix');
             return +c.dataset.x0 !== x0 || +c.dataset.cellW !== cw; }""",
        arg=[widget, before["x0"], before["cell_w"]],
    )
    return canvas_geometry(matrix_canvas(page, widget=widget))


def test_large_matrix_overview_search_zoom_pan(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "large_k.ipynb")
    require_frontend()
    wait_drawn(page)
    canvas = matrix_canvas(page)
    fit = canvas_geometry(canvas)
    assert fit["rows"] == K and fit["cols"] == K
    # The fitted view: the whole matrix within the output's width, cells under 1 px.
    widths = canvas.evaluate(
        "(c) => ({canvas: c.getBoundingClientRect().width, root: c.closest('.cw-root').clientWidth})"
    )
    assert widths["canvas"] <= widths["root"], widths
    assert fit["cell_w"] < 1.5 and fit["x0"] + K * fit["cell_w"] <= widths["canvas"]

    # Search: the suggestion list, then Enter zooms to the class.
    search = page.locator(".cw-root").nth(0).locator(".cw-toolbar input[type=search]")
    search.fill("class 617")
    page.locator(".cw-search-item").first.wait_for(state="visible")
    assert page.locator(".cw-search-item").first.inner_text() == "class 617"
    t0 = time.monotonic()
    search.press("Enter")
    g = wait_geometry_change(page, fit)
    search_ms = (time.monotonic() - t0) * 1000
    row, col = centre_cell(fit, g)
    assert 617 <= row < 618 and 617 <= col < 618, (row, col, g)
    assert g["cell_w"] >= 20
    assert page.locator(".cw-found-row").first.is_visible()
    print(f"\nsearch → zoomed view (round trip through Playwright) {search_ms:.0f} ms")

    # A click on a zoomed cell selects that class in Python.
    canvas.click(
        position={"x": g["x0"] + (619 + 0.5) * g["cell_w"], "y": g["y0"] + (616 + 0.5) * g["cell_h"]}
    )
    wait_for_python(page, "w.selected", [616, 619])

    # The wheel zooms about the pointer: the matrix point under it stays put.
    box = canvas.bounding_box()
    px, py = g["x0"] + 610.5 * g["cell_w"], g["y0"] + 620.5 * g["cell_h"]
    page.mouse.move(box["x"] + px, box["y"] + py)
    page.mouse.wheel(0, -200)
    z = wait_geometry_change(page, g)
    assert z["cell_w"] > g["cell_w"]
    assert abs((px - z["x0"]) / z["cell_w"] - 610.5) < 0.05
    assert abs((py - z["y0"]) / z["cell_h"] - 620.5) < 0.05

    # A drag pans by the distance dragged.
    page.mouse.move(box["x"] + px, box["y"] + py)
    page.mouse.down()
    page.mouse.move(box["x"] + px - 30, box["y"] + py - 20, steps=4)
    page.mouse.up()
    p = wait_geometry_change(page, z)
    assert abs(p["x0"] - (z["x0"] - 30)) < 0.5 and abs(p["y0"] - (z["y0"] - 20)) < 0.5
    assert p["cell_w"] == z["cell_w"]
    assert kernel_value(page, "w.selected") == [616, 619]  # a drag is not a click

    # w.focus(name) from Python zooms the same way.
    kernel_eval(page, 'w.focus("class 42")')
    page.wait_for_function(
        """([x0, cw, k]) => { const c = document.querySelector('canvas.cw-matrix');
             const cx = x0 + k * cw / 2; return Math.floor((cx - +c.dataset.x0) / +c.dataset.cellW) === 42; }""",
        arg=[fit["x0"], fit["cell_w"], K],
    )
    row, col = centre_cell(fit, canvas_geometry(canvas))
    assert 42 <= row < 43 and 42 <= col < 43

    # The fit button shows the whole matrix again.
    page.locator(".cw-root").nth(0).locator("canvas.cw-matrix").hover()
    page.locator(".cw-root").nth(0).locator("button.cw-zoom-reset").click()
    assert canvas_geometry(canvas) == fit
    assert lab_events.widget_errors() == []


def test_label_click_collapses_a_group(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "large_k.ipynb")
    require_frontend()
    wait_drawn(page, widget=1)
    canvas = matrix_canvas(page, widget=1)
    g = canvas_geometry(canvas)
    assert g["rows"] == 6
    # The row label of "animal/dog" (row 1): left of the cells.
    canvas.click(position={"x": g["x0"] - 8, "y": g["y0"] + 1.5 * g["cell_h"]})
    wait_for_python(page, "h.collapsed", ["animal"])
    page.wait_for_function(
        "() => document.querySelectorAll('.cw-root')[1].querySelector('canvas.cw-matrix').dataset.rows === '4'"
    )
    # A click on the collapsed group's label expands it again.
    g = canvas_geometry(canvas)
    assert kernel_value(page, "h.labels[0]") == "animal"
    canvas.click(position={"x": g["x0"] - 8, "y": g["y0"] + 0.5 * g["cell_h"]})
    wait_for_python(page, "h.collapsed", [])
    assert lab_events.widget_errors() == []
