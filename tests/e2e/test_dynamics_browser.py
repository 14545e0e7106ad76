"""The dynamics view in a real JupyterLab (``tests/e2e/notebooks/dynamics_view.ipynb``:
a widget from 400 samples over 6 epochs, then ``view = w.dynamics_view()``).

The map draws (a non-blank canvas saying how many points it holds); a box dragged
with the mouse selects exactly the samples inside it (``view.selection`` against
the dynamics table and the box in data coordinates) and the panel shows their
thumbnails; "filter matrix" makes ``w.matrix`` the brute-force counts of the
selected samples, the drawn matrix follows, and unticking it brings everything back.
"""

from __future__ import annotations

import time

from harness import (
    canvas_ink,
    cell_pixel,
    kernel_value,
    require_frontend,
    run_notebook,
    wait_drawn,
    wait_for_python,
)

NOTEBOOK = "dynamics_view.ipynb"
# A box in data coordinates (variability, confidence), nudged below so that no
# point lies within 2 px of an edge (pixels round; the test must not be flaky).
BOX = {"x": [0.28, 0.32], "y": [0.35, 0.45]}


def _map(page):
    canvas = page.locator("canvas.cw-dyn-map")
    canvas.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('canvas.cw-dyn-map')?.dataset.painted === '1'")
    return canvas


def _geometry(canvas) -> dict[str, float]:
    return canvas.evaluate(
        """(c) => ({points: +c.dataset.points, x0: +c.dataset.x0, y0: +c.dataset.y0,
                   w: +c.dataset.plotW, h: +c.dataset.plotH, xMax: +c.dataset.xMax, yMax: +c.dataset.yMax})"""
    )


def _clear_box(page, g: dict[str, float], left: float, top: float) -> dict[str, list[float]]:
    """BOX's corners as whole client pixels (as mouse events give them; ``left``,
    ``top``: the canvas' client position), each edge moved a pixel at a time until
    no point is within a quarter of a pixel of it; returns the pixel corners and
    the box in data coordinates, as the frontend computes it."""
    xs = kernel_value(page, "view.table['variability'].tolist()")
    ys = kernel_value(page, "view.table['confidence'].tolist()")
    to_x = lambda cx: (cx - left - g["x0"]) / g["w"] * g["xMax"]  # noqa: E731
    to_y = lambda cy: (1 - (cy - top - g["y0"]) / g["h"]) * g["yMax"]  # noqa: E731
    out: dict[str, list[float]] = {"px": [], "py": [], "x": [], "y": []}
    for axis, values, to, scale in (("x", xs, to_x, g["xMax"] / g["w"]), ("y", ys, to_y, g["yMax"] / g["h"])):
        for edge in BOX[axis]:
            pixel = round(left + g["x0"] + edge / g["xMax"] * g["w"]) if axis == "x" else None
            if axis == "y":
                pixel = round(top + g["y0"] + (1 - edge / g["yMax"]) * g["h"])
            while any(abs(v - to(pixel)) < scale / 4 for v in values):
                pixel += 1
            out[f"p{axis}"].append(pixel)
            out[axis].append(to(pixel))
    return out


def _matrix_pixels(page, k: int) -> list[list[list[int]]]:
    canvas = page.locator("canvas.cw-matrix").first
    return [[cell_pixel(canvas, r, c) for c in range(k)] for r in range(k)]


def _brute_force(expr_ids: str) -> str:
    """Kernel expression: the last epoch's counts of the samples with these ids."""
    return (
        "(lambda sel: [[int(sum(1 for p in sel if y[p] == r and logits[-1][p].argmax() == c))"
        " for c in range(K)] for r in range(K)])"
        f"([int(i) for i in np.flatnonzero(np.isin(ids, {expr_ids}))])"
    )


def test_map_box_selection_panel_and_filter(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, NOTEBOOK)
    require_frontend()
    wait_drawn(page)
    canvas = _map(page)
    g = _geometry(canvas)
    assert g["points"] == 400
    ink = canvas_ink(canvas)
    assert ink["colours"] >= 4, ink  # background, axes and several bins of points

    # -- a box drag ------------------------------------------------------------------
    bb = canvas.bounding_box()
    box = _clear_box(page, g, bb["x"], bb["y"])
    (x0, x1), (y0, y1) = sorted(box["x"]), sorted(box["y"])
    expected = kernel_value(
        page,
        f"[i for i, (v, c) in enumerate(zip(view.table['variability'], view.table['confidence']))"
        f" if {x0!r} <= v <= {x1!r} and {y0!r} <= c <= {y1!r}]",
    )
    assert 3 <= len(expected) <= 40, expected  # one page of thumbnails
    (ax, bx), (ay, by) = box["px"], box["py"]
    page.mouse.move(ax, ay)
    page.mouse.down()
    page.mouse.move((ax + bx) / 2, (ay + by) / 2, steps=3)
    page.mouse.move(bx, by, steps=3)
    page.mouse.up()
    wait_for_python(page, "view.selection", expected)
    ids = kernel_value(page, "view.selected_ids")
    assert ids == kernel_value(page, f"[int(ids[p]) for p in {expected}]")
    page.wait_for_function("() => document.querySelector('.cw-dyn-thumbs')?.dataset.state === 'done'")
    shown = page.locator(".cw-dyn-thumbs figure [data-sample-id]").evaluate_all(
        "els => els.map(e => e.dataset.sampleId)"
    )
    assert shown == [str(i) for i in ids]
    assert page.locator(".cw-dyn-thumbs figure img").count() == len(ids)  # real thumbnails
    brush = [m for m in _measures(page) if m[0] == "cw:dyn-brush"]
    assert brush, "no cw:dyn-brush measure"

    # -- a box painted step by step (only the strips the pointer moved across) looks
    # exactly like the same box painted at once; releasing chooses the same samples
    def picture_while_dragging(path):
        page.mouse.move(ax, ay)
        page.mouse.down()
        for mx, my in path:
            page.mouse.move(mx, my)
        picture = canvas.evaluate("c => c.toDataURL()")
        page.mouse.up()
        return picture

    wander = [(bx + 25, by + 30), (bx - 15, ay + 8), (ax + 6, by - 10), ((ax + bx) / 2, by + 12), (bx, by)]
    assert picture_while_dragging(wander) == picture_while_dragging([(bx, by)])
    wait_for_python(page, "view.selection", expected)

    # -- filter the matrix to the selection, and back --------------------------------
    full = kernel_value(page, "w.matrix.tolist()")
    before = _matrix_pixels(page, 5)
    page.locator("input.cw-dyn-filter").check()
    wait_for_python(page, "view.filter_matrix", True)
    want = kernel_value(page, _brute_force(str(ids)))
    wait_for_python(page, "w.matrix.tolist()", want)
    assert sum(map(sum, want)) == len(ids) and want != full
    after = _wait_pixels_change(page, before)
    zero = [after[r][c] for r in range(5) for c in range(5) if want[r][c] == 0]
    assert zero and all(p == zero[0] for p in zero), "empty cells are not drawn alike"
    assert all(after[r][c] != zero[0] for r in range(5) for c in range(5) if want[r][c] > 0)

    page.locator("input.cw-dyn-filter").uncheck()
    wait_for_python(page, "w.matrix.tolist()", full)
    assert _wait_pixels_change(page, after) == before

    # -- a click picks the nearest point: the most isolated one, clicked 2 px off ----
    xs = kernel_value(page, "view.table['variability'].tolist()")
    ys = kernel_value(page, "view.table['confidence'].tolist()")
    pts = [(g["x0"] + v / g["xMax"] * g["w"], g["y0"] + (1 - c / g["yMax"]) * g["h"]) for v, c in zip(xs, ys)]
    gap = [
        min(((a - x) ** 2 + (b - y) ** 2) ** 0.5 for j, (x, y) in enumerate(pts) if j != i)
        for i, (a, b) in enumerate(pts)
    ]
    lone = max(range(len(pts)), key=gap.__getitem__)
    assert gap[lone] > 12, gap[lone]  # nothing else within the 8 px pick radius of the click
    canvas.click(position={"x": pts[lone][0] + 2, "y": pts[lone][1]})
    wait_for_python(page, "view.selection", [lone])

    # -- a list entry opens the sample's image and history ---------------------------
    suspect = page.locator(".cw-dyn-list[data-key='suspects'] li.cw-dyn-item").first
    first_id = kernel_value(page, "int(w.suspects(20)['sample_id'][0])")
    assert suspect.get_attribute("data-sample-id") == str(first_id)
    page.wait_for_function(
        "() => document.querySelector(\".cw-dyn-list[data-key='suspects'] .cw-dyn-item-thumb img\") !== null"
    )
    suspect.click()
    page.wait_for_function("() => document.querySelector('.cw-dyn-detail .cw-history') !== null")
    rows = page.locator(".cw-dyn-detail .cw-history tbody tr").count()
    assert rows == 6  # one per epoch
    assert page.locator(".cw-dyn-detail img.cw-dyn-large").count() == 1
    assert lab_events.widget_errors() == []


def _wait_pixels_change(page, old, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        now = _matrix_pixels(page, 5)
        if now != old or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def _measures(page) -> list[tuple[str, float]]:
    return [
        (m["name"], m["duration"])
        for m in page.evaluate(
            "() => performance.getEntriesByType('measure').map(m => ({name: m.name, duration: m.duration}))"
        )
    ]
