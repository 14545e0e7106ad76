"""The widget in Jupyter Notebook 7 (not only JupyterLab): it draws, and a click on
a cell reaches Python and fills the image panel (tests/e2e/notebooks/small_widget.ipynb).

Notebook 7 is built on the same application framework as JupyterLab, so the harness
drives it through the same ``window.jupyterapp`` API; only the URL and the shell
differ (``jupyterapp.shell.currentWidget`` is the notebook panel).
"""

from __future__ import annotations

import time

from harness import (
    canvas_geometry,
    canvas_ink,
    click_matrix_cell,
    error_outputs,
    kernel_value,
    matrix_canvas,
    open_notebook,
    require_frontend,
    run_all_cells,
    thumbnail_ids,
    wait_for_python,
)

NOTEBOOK = "small_widget.ipynb"
CELL = (3, 4)  # off-diagonal, 48 samples: more than one page of thumbnails


def test_widget_works_in_notebook7(notebook_page, notebook_server, lab_events):
    page = notebook_page
    t0 = time.monotonic()
    open_notebook(page, notebook_server, NOTEBOOK)
    # This really is Notebook 7, not JupyterLab behind the same API.
    assert "/notebooks/" in page.url
    assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
    run_all_cells(page)
    assert error_outputs(page) == []
    # kernel_eval goes through the Notebook 7 panel into the notebook's namespace.
    assert kernel_value(page, "[len(w.labels), int(w.matrix.sum())]") == [10, 1797]

    require_frontend()
    canvas = matrix_canvas(page)
    canvas.wait_for(state="attached")
    canvas.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const c = document.querySelector('canvas.cw-matrix');"
        " return c && c.dataset.epoch !== undefined && +c.dataset.rows > 0; }"
    )
    g = canvas_geometry(canvas)
    assert (g["rows"], g["cols"]) == (10, 10)
    ink = canvas_ink(canvas)
    assert ink["opaque"] > 0.2 * ink["width"] * ink["height"], ink  # not blank
    assert ink["colours"] >= 3, ink

    m = kernel_value(page, "w.matrix.tolist()")
    assert m[CELL[0]][CELL[1]] > 25, m  # the cell has samples (and more than a page)
    assert kernel_value(page, "w.selected") is None

    click_matrix_cell(page, *CELL)
    wait_for_python(page, "w.selected", list(CELL))
    expected = [str(s) for s in kernel_value(page, "[str(s) for s in w.selected_samples[:25]]")]
    assert len(expected) == 25
    page.wait_for_function(
        "(n) => document.querySelectorAll('.cw-root img[data-sample-id]').length >= n",
        arg=len(expected),
    )
    assert thumbnail_ids(page) == expected
    imgs = page.locator(".cw-root img[data-sample-id]")
    assert imgs.evaluate_all("els => els.map(e => e.dataset.sampleId)") == expected
    # The thumbnails are real images, decoded by the browser.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.cw-root img[data-sample-id]')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert lab_events.widget_errors() == []
    print(f"\nNotebook 7 test body took {time.monotonic() - t0:.1f} s")
