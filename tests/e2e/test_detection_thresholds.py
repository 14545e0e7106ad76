"""notebooks/detection.ipynb in a real JupyterLab (issue 12): dragging a detection
widget's score slider with the mouse changes Python's ``score_threshold``, the matrix
(equal to a fresh computation at that threshold) and the drawn canvas.

Widgets on the page: ``w``, ``strict`` then ``epochs`` (three epochs, score 0.3 set
by the last cell).
"""

from __future__ import annotations

from harness import (
    kernel_value,
    matrix_canvas,
    require_frontend,
    run_notebook,
    wait_drawn,
    wait_for_python,
    widget_root,
)

EPOCHS = 2  # the third widget on the page


def test_dragging_the_score_slider_rematches(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "detection.ipynb")
    assert kernel_value(page, "[epochs.n_epochs, epochs.score_threshold, epochs.iou_threshold]") == [
        3,
        0.3,
        0.5,
    ]

    require_frontend()
    wait_drawn(page, EPOCHS, 1)
    root = widget_root(page, EPOCHS)
    slider = root.locator('input.cw-threshold[data-trait="score_threshold"]')
    iou_slider = root.locator('input.cw-threshold[data-trait="iou_threshold"]')
    assert slider.is_visible() and iou_slider.is_visible()
    assert root.locator('input.cw-threshold[data-trait="threshold"]').is_hidden()  # multi-label only
    assert float(slider.input_value()) == 0.3 and float(iou_slider.input_value()) == 0.5
    canvas = matrix_canvas(page, widget=EPOCHS)
    canvas.scroll_into_view_if_needed()
    picture = canvas.evaluate("c => c.toDataURL()")
    before = kernel_value(page, "epochs.matrix.tolist()")

    # Drag the thumb from 0.3 to about 0.8 with the mouse.
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.3 * box["width"], y)
    page.mouse.down()
    for f in (0.4, 0.5, 0.6, 0.7, 0.8):
        page.mouse.move(box["x"] + f * box["width"], y, steps=3)
    page.mouse.up()
    value = float(slider.input_value())
    assert 0.7 <= value <= 0.9, value

    # Python follows, and its matrix is a fresh computation at the new threshold.
    wait_for_python(page, "epochs.score_threshold", value)
    assert kernel_value(page, "epochs.source.score") == value
    after = kernel_value(page, "epochs.matrix.tolist()")
    fresh = kernel_value(
        page,
        f"ConfusionWidget.from_detections(gt, epochs_pred[2], labels, score={value}).matrix.tolist()",
    )
    assert after == fresh and after != before
    # Fewer predictions counted at a higher threshold.
    assert sum(map(sum, after)) - sum(r[-1] for r in after) < sum(map(sum, before)) - sum(
        r[-1] for r in before
    )
    page.wait_for_function(
        "([w, before]) => document.querySelectorAll('.cw-root')[w].querySelector('canvas.cw-matrix').toDataURL() !== before",
        arg=[EPOCHS, picture],
    )
    assert root.locator(".cw-threshold-value").nth(1).text_content() == f"score {value:.2f}"

    # Python → slider: setting the IoU threshold in the kernel moves its slider.
    kernel_value(page, "setattr(epochs, 'iou_threshold', 0.25) or 0")
    page.wait_for_function(
        """(w) => document.querySelectorAll('.cw-root')[w]
             .querySelector('input.cw-threshold[data-trait="iou_threshold"]').value === '0.25'""",
        arg=EPOCHS,
    )
    assert lab_events.widget_errors() == []
