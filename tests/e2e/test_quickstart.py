"""notebooks/quickstart.ipynb in a real JupyterLab: run it, then drive the widget
from the browser and check what Python sees (and the other way round).

Each test opens the notebook in a fresh workspace with a fresh kernel and runs it
top to bottom (~15 s); the widget is ``w`` in the notebook's namespace.
"""

from __future__ import annotations

import time

from harness import (
    canvas_geometry,
    canvas_ink,
    cell_pixel,
    click_matrix_cell,
    kernel_eval,
    kernel_value,
    matrix_canvas,
    measures,
    require_frontend,
    run_notebook,
    thumbnail_ids,
    wait_for_python,
)

NOTEBOOK = "quickstart.ipynb"


def run_quickstart(page, server) -> float:
    return run_notebook(page, server, NOTEBOOK)


def shown_canvas(page):
    """The matrix canvas, scrolled into view (JupyterLab skips rendering off-screen
    cells) once the widget has drawn an epoch."""
    canvas = matrix_canvas(page)
    canvas.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const c = document.querySelector('canvas.cw-matrix');"
        " return c && c.dataset.epoch !== undefined && +c.dataset.rows > 0; }"
    )
    return canvas


def test_quickstart_runs_and_draws(lab_page, lab_server, lab_events):
    seconds = run_quickstart(lab_page, lab_server)
    print(f"\nquickstart ran in {seconds:.1f} s")
    assert seconds < 60
    # The kernel side is reachable and is the notebook's own namespace.
    assert kernel_value(lab_page, "[w.n_epochs, w.epoch, len(w.labels)]") == [6, 5, 10]

    require_frontend()
    canvas = shown_canvas(lab_page)
    assert lab_page.locator(".cw-root[data-lm-suppress-shortcuts]").count() == 1
    g = canvas_geometry(canvas)
    assert (g["rows"], g["cols"], g["epoch"]) == (10, 10, 5)
    assert g["cell_w"] > 0 and g["cell_h"] > 0

    ink = canvas_ink(canvas)
    assert ink["opaque"] > 0.2 * ink["width"] * ink["height"], ink  # not blank
    assert ink["colours"] >= 3, ink  # labels, full cells, empty cells
    # A full diagonal cell and an empty off-diagonal cell are painted differently.
    m = kernel_value(lab_page, "w.matrix.tolist()")
    assert m[0][0] > 0 and m[0][9] == 0
    assert cell_pixel(canvas, 0, 0) != cell_pixel(canvas, 0, 9)

    first_paint = measures(lab_page).get("cw:first-paint", [])
    assert first_paint, "no cw:first-paint measure"
    print(f"first paint {first_paint[0]:.1f} ms")
    assert lab_events.widget_errors() == []
    assert lab_events.dialogs == []


def test_controls_sync_both_ways(lab_page, lab_server, lab_events):
    run_quickstart(lab_page, lab_server)
    require_frontend()
    canvas = shown_canvas(lab_page)
    agg = lab_page.locator("select.cw-aggregation")

    # UI → Python
    agg.select_option("row")
    wait_for_python(lab_page, "w.aggregation", "row")
    lab_page.locator("select.cw-colormap").select_option("viridis")
    wait_for_python(lab_page, "w.colormap", "viridis")
    lab_page.locator("input.cw-hide-diagonal").check()
    wait_for_python(lab_page, "w.hide_diagonal", True)

    # Python → UI
    kernel_eval(lab_page, "w.aggregation = 'column'")
    lab_page.wait_for_function("() => document.querySelector('select.cw-aggregation').value === 'column'")

    # Epoch by keyboard: `[` on the focused canvas steps back one epoch.
    assert kernel_value(lab_page, "w.epoch") == 5
    canvas.focus()
    lab_page.keyboard.press("[")
    wait_for_python(lab_page, "w.epoch", 4)
    lab_page.wait_for_function("() => document.querySelector('canvas.cw-matrix').dataset.epoch === '4'")
    lab_page.keyboard.press("]")
    wait_for_python(lab_page, "w.epoch", 5)

    # Epoch by slider (the slider follows `input` events, as a drag does).
    t0 = time.monotonic()
    lab_page.locator("input.cw-epoch-slider").evaluate(
        "(s) => { s.value = '1'; s.dispatchEvent(new Event('input', {bubbles: true}));"
        " s.dispatchEvent(new Event('change', {bubbles: true})); }"
    )
    lab_page.wait_for_function("() => document.querySelector('canvas.cw-matrix').dataset.epoch === '1'")
    print(f"\nslider → canvas at epoch 1: {1000 * (time.monotonic() - t0):.0f} ms")
    wait_for_python(lab_page, "w.epoch", 1)

    # Python → UI for the epoch.
    kernel_eval(lab_page, "w.epoch = 3")
    lab_page.wait_for_function("() => document.querySelector('canvas.cw-matrix').dataset.epoch === '3'")
    assert lab_page.locator("input.cw-epoch-slider").input_value() == "3"
    steps = measures(lab_page).get("cw:epoch-step", [])
    if steps:
        print(f"cw:epoch-step median {sorted(steps)[len(steps) // 2]:.1f} ms over {len(steps)} steps")

    # The per-class table is shown closed; its rows cross the wire only once it is
    # opened (w._metrics_open), then follow the epoch, and stop when it is closed.
    table = lab_page.locator("details.cw-metrics")
    assert table.is_visible() and kernel_value(lab_page, "w._metrics") == []
    table.locator("summary").click()
    wait_for_python(lab_page, "w._metrics_open", True)
    seen = []
    for epoch in (3, 1):
        kernel_eval(lab_page, f"w.epoch = {epoch}")
        want = kernel_value(lab_page, "[round(100 * r['recall'], 1) for r in w._metrics]")
        assert len(want) == 10
        lab_page.wait_for_function(
            """(want) => { const got = [...document.querySelectorAll('details.cw-metrics tbody tr')]
                 .map((tr) => parseFloat(tr.cells[2].textContent.replace('<', '')));
               return got.length === want.length && got.every((g, i) => Math.abs(g - want[i]) <= 0.51); }""",
            arg=want,
        )
        seen.append(want)
    assert seen[0] != seen[1]  # the rows did change with the epoch
    table.locator("summary").click()
    wait_for_python(lab_page, "w._metrics_open", False)
    assert kernel_value(lab_page, "w._metrics") == []

    # Abstention from the toolbar: the checkbox turns it on (an "(abstain)" column
    # drawn, its slider shown) and off again.
    rows = int(canvas.get_attribute("data-rows"))
    lab_page.locator("input.cw-abstain").check()
    wait_for_python(lab_page, "w.confidence_threshold", 0.5)
    wait_for_python(lab_page, "w.labels[-1]", "(abstain)")
    lab_page.wait_for_function(
        f"() => +document.querySelector('canvas.cw-matrix').dataset.cols === {rows + 1}"
    )
    assert lab_page.locator('input.cw-threshold[data-trait="confidence_threshold"]').is_visible()
    lab_page.locator("input.cw-abstain").uncheck()
    wait_for_python(lab_page, "w.confidence_threshold", None)
    lab_page.wait_for_function(f"() => +document.querySelector('canvas.cw-matrix').dataset.cols === {rows}")
    assert lab_events.widget_errors() == []


def test_click_cell_shows_its_samples(lab_page, lab_server, lab_events):
    run_quickstart(lab_page, lab_server)
    require_frontend()
    shown_canvas(lab_page)

    # The off-diagonal cell with the most errors at the current epoch (asked from Python).
    r, c = kernel_value(
        lab_page,
        "(lambda m: [int(i) for i in __import__('numpy').unravel_index("
        "(m - __import__('numpy').diag(m.diagonal())).argmax(), m.shape)])(w.matrix)",
    )
    assert r != c and kernel_value(lab_page, f"int(w.matrix[{r}, {c}])") >= 1

    t0 = time.monotonic()
    click_matrix_cell(lab_page, r, c)
    lab_page.locator("figure.cw-thumb img[data-sample-id]").first.wait_for(state="visible")
    click_to_thumbs = time.monotonic() - t0
    wait_for_python(lab_page, "w.selected", [r, c])

    expected = [str(i) for i in kernel_value(lab_page, "w.selected_samples[:25]")]
    assert expected, "Python sees no samples in the clicked cell"
    lab_page.wait_for_function(
        f"() => document.querySelectorAll('figure.cw-thumb [data-sample-id]').length === {len(expected)}"
    )
    assert thumbnail_ids(lab_page) == expected
    assert_images_loaded(lab_page)
    print(f"\nclick ({r}, {c}) → {len(expected)} thumbnails visible: {1000 * click_to_thumbs:.0f} ms")

    # A big diagonal cell pages: 25 first, `more` appends the next 25.
    n = kernel_value(lab_page, "int(w.matrix[0, 0])")
    assert n > 25
    click_matrix_cell(lab_page, 0, 0)
    wait_for_python(lab_page, "w.selected", [0, 0])
    first = [str(i) for i in kernel_value(lab_page, "w.selected_samples[:50]")]
    lab_page.wait_for_function(
        "() => document.querySelectorAll('figure.cw-thumb [data-sample-id]').length === 25"
    )
    assert thumbnail_ids(lab_page) == first[:25]
    lab_page.locator(".cw-more").click()
    lab_page.wait_for_function(
        f"() => document.querySelectorAll('figure.cw-thumb [data-sample-id]').length === {min(n, 50)}"
    )
    assert thumbnail_ids(lab_page) == first[: min(n, 50)]
    assert_images_loaded(lab_page)

    # Clicking a thumbnail opens the larger view.
    lab_page.locator("figure.cw-thumb").first.click()
    lab_page.locator(".cw-large").wait_for(state="visible")

    fills = measures(lab_page).get("cw:panel-fill", [])
    if fills:
        print(f"cw:panel-fill {', '.join(f'{f:.0f}' for f in fills)} ms")
    assert lab_events.widget_errors() == []


def assert_images_loaded(page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure.cw-thumb img[data-sample-id]')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
