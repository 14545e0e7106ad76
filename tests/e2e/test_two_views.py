"""One widget displayed twice (tests/e2e/notebooks/two_views.ipynb): the views share
one request channel made in ``initialize``, yet each view's panel gets its own
replies; a view that goes away (its output cleared) takes its listeners with it and
the other view keeps working."""

from __future__ import annotations

from harness import (
    click_matrix_cell,
    kernel_value,
    run_notebook,
    thumbnail_ids,
    wait_drawn,
    wait_for_python,
)


def panel_filled(page, widget, n):
    page.wait_for_function(
        "([w, n]) => { const r = document.querySelectorAll('.cw-root')[w];"
        " return r && r.querySelectorAll('figure.cw-thumb [data-sample-id]').length >= n; }",
        arg=[widget, n],
    )


def test_two_views_share_one_channel_and_survive_each_other(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "two_views.ipynb")
    for view in (0, 1):
        wait_drawn(page, widget=view)
    assert page.locator(".cw-root").count() == 2

    # A click in the second view: Python sees it, and both panels (one per view)
    # fill with the cell's samples, each from its own replies.
    click_matrix_cell(page, 3, 4, widget=1)
    wait_for_python(page, "w.selected", [3, 4])
    expected = [str(s) for s in kernel_value(page, "[str(s) for s in w.selected_samples[:25]]")]
    for view in (0, 1):
        panel_filled(page, view, 25)
        assert thumbnail_ids(page, widget=view) == expected

    # The first view goes away; the second still asks and gets answers.
    page.evaluate("() => window.__cwPanel().content.widgets[2].model.outputs.clear()")
    page.wait_for_function("() => document.querySelectorAll('.cw-root').length === 1")
    click_matrix_cell(page, 6, 7, widget=0)
    wait_for_python(page, "w.selected", [6, 7])
    expected = [str(s) for s in kernel_value(page, "[str(s) for s in w.selected_samples[:25]]")]
    page.wait_for_function(
        "(first) => document.querySelector('.cw-root figure.cw-thumb [data-sample-id]')?.dataset.sampleId === first",
        arg=expected[0],
    )
    panel_filled(page, 0, len(expected))
    assert thumbnail_ids(page, widget=0) == expected
    assert lab_events.widget_errors() == []
