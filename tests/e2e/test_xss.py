"""User text is text: class names, sample ids and the title that look like HTML are
shown literally, never parsed (tests/e2e/notebooks/xss.ipynb)."""

from __future__ import annotations

from harness import (
    click_matrix_cell,
    error_outputs,
    matrix_canvas,
    open_notebook,
    require_frontend,
    run_all_cells,
    thumbnail_ids,
    wait_for_python,
)

LABELS = ["<img src=x onerror=alert(1)>", "<b>bold</b>", "plain & <i>"]
TITLE = "<script>alert(3)</script>"


def test_html_in_names_is_shown_as_text(lab_page, lab_server, lab_events):
    page = lab_page
    open_notebook(page, lab_server, "xss.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == []
    require_frontend()

    canvas = matrix_canvas(page)
    canvas.scroll_into_view_if_needed()
    assert canvas.get_attribute("data-rows") == "3"
    root = page.locator(".cw-root")
    assert TITLE in root.text_content()

    # Hover a cell: the tooltip names both classes.
    g = canvas.evaluate(
        "(c) => ({x0: +c.dataset.x0, y0: +c.dataset.y0, w: +c.dataset.cellW, h: +c.dataset.cellH})"
    )
    canvas.hover(position={"x": g["x0"] + 1.5 * g["w"], "y": g["y0"] + 0.5 * g["h"]})
    tooltip = page.locator(".cw-tooltip")
    tooltip.wait_for(state="visible")
    assert LABELS[0] in tooltip.text_content() and LABELS[1] in tooltip.text_content()

    # Select (0, 1): the panel header names the classes, captions carry the ids.
    click_matrix_cell(page, 0, 1)
    wait_for_python(page, "w.selected", [0, 1])
    page.locator("figure.cw-thumb").first.wait_for(state="visible")
    text = root.text_content()
    for name in LABELS[:2]:
        assert name in text, f"{name!r} is not shown as text"
    ids = thumbnail_ids(page)
    assert ids == ["<img src=x onerror=alert(2)>#1", "<img src=x onerror=alert(2)>#6"]
    assert ids[0] in text

    # Nothing was parsed as markup, anywhere on the page, and no script ran.
    page.wait_for_timeout(300)  # a broken <img> fires onerror within a frame or two
    for selector in ('img[src="x"]', "script", "b", "i"):
        assert root.locator(selector).count() == 0, f"{selector} inside the widget"
    assert page.locator('img[src="x"]').count() == 0
    assert lab_events.dialogs == []
    assert lab_events.widget_errors() == []
