"""notebooks/multilabel.ipynb and notebooks/detection.ipynb in a real JupyterLab
(issue 6): the samples behind a clicked cell, their captions and detection boxes,
and re-thresholding a multi-label widget from Python.

Widgets on the pages: multilabel ``w`` (MLCM) then ``per_label`` (10 tiles);
detection ``w`` then ``strict`` (class-wise matching).
"""

from __future__ import annotations

from harness import (
    cell_pixel,
    click_matrix_cell,
    kernel_eval,
    kernel_value,
    matrix_canvas,
    require_frontend,
    run_notebook,
    thumbnail_ids,
    wait_drawn,
    wait_for_python,
    widget_root,
)


def click_and_wait_thumbs(page, var: str, row: int, col: int, widget: int = 0) -> list[str]:
    """Click cell (row, col), wait for Python to see it and for the panel to list
    ``{var}.selected_samples[:25]``; return those ids (as strings)."""
    click_matrix_cell(page, row, col, widget=widget)
    wait_for_python(page, f"{var}.selected", [row, col])
    expected = [str(i) for i in kernel_value(page, f"{var}.selected_samples[:25]")]
    assert expected, f"Python sees no samples in ({row}, {col})"
    page.wait_for_function(
        """([w, ids]) => { const got = [...document.querySelectorAll('.cw-root')[w]
                              .querySelectorAll('figure.cw-thumb [data-sample-id]')].map(e => e.dataset.sampleId);
             return got.length === ids.length && got.every((id, i) => id === ids[i]); }""",
        arg=[widget, expected],
    )
    assert thumbnail_ids(page, widget) == expected
    page.wait_for_function(
        "(w) => [...document.querySelectorAll('.cw-root')[w].querySelectorAll('figure.cw-thumb img[data-sample-id]')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        arg=widget,
    )
    return expected


def largest_cell(page, expr: str) -> list[int]:
    """[row, col] of the largest entry of the 2-D array ``expr`` (in the kernel)."""
    return kernel_value(
        page, f"[int(i) for i in __import__('numpy').unravel_index(({expr}).argmax(), ({expr}).shape)]"
    )


# -- multi-label ------------------------------------------------------------------------
def test_multilabel_cells_and_threshold(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "multilabel.ipynb")
    labels = kernel_value(page, "w.labels")
    assert labels == [str(d) for d in range(10)] + ["(no label)"]
    assert kernel_value(page, "[w.threshold, per_label.tile_titles, per_label.labels]") == [
        0.7,
        [str(d) for d in range(10)],
        ["absent", "present"],
    ]
    L = 10

    require_frontend()
    wait_drawn(page, 0, 1)
    wait_drawn(page, 1, 10)  # one 2×2 tile per label
    canvas = matrix_canvas(page)
    canvas.scroll_into_view_if_needed()
    assert canvas.get_attribute("data-rows") == "11"

    # The most populated confusion between two real labels (off the diagonal, not the
    # "(no label)" row or column), found from Python.
    r, c = largest_cell(page, f"w.matrix[:{L}, :{L}] * (1 - __import__('numpy').eye({L}, dtype=int))")
    assert r != c and kernel_value(page, f"int(w.matrix[{r}, {c}])") >= 1
    click_and_wait_thumbs(page, "w", r, c)
    # Every sample in (r, c) has r among its true labels and c among its predicted
    # ones: the captions say so ("true: … | pred: …").
    titles = widget_root(page, 0).locator("figure.cw-thumb").evaluate_all("fs => fs.map(f => f.title)")
    for t in titles:
        true, pred = (part.split(":", 1)[1].strip().split(", ") for part in t.split(" | "))
        assert labels[r] in true and labels[c] in pred and labels[c] not in true, t

    # A missed label: the "(no label)" column.
    miss = kernel_value(page, f"int(w.matrix[:{L}, {L}].argmax())")
    click_and_wait_thumbs(page, "w", miss, L)

    # Re-threshold from Python: the matrix changes and the canvas is redrawn.
    before = kernel_value(page, "w.matrix.tolist()")
    picture = canvas.evaluate("c => c.toDataURL()")
    pixels = {(i, j): cell_pixel(canvas, i, j) for i in range(L + 1) for j in range(L + 1)}
    kernel_eval(page, "w.threshold = 0.3")
    after = kernel_value(page, "w.matrix.tolist()")
    assert after != before
    assert kernel_value(page, "w.source.threshold") == 0.3
    page.wait_for_function(
        "(before) => document.querySelector('.cw-root canvas.cw-matrix').toDataURL() !== before", arg=picture
    )
    # A cell that was empty and is not any more (or the reverse) changed colour.
    flipped = [
        (i, j) for i in range(L + 1) for j in range(L + 1) if (before[i][j] == 0) != (after[i][j] == 0)
    ]
    assert flipped, "no cell became (non-)empty"
    for i, j in flipped:
        assert cell_pixel(canvas, i, j) != pixels[(i, j)], (
            f"cell {(i, j)}: {before[i][j]} → {after[i][j]}, same colour"
        )
    # Fewer missed labels at a lower threshold.
    assert sum(row[L] for row in after[:L]) < sum(row[L] for row in before[:L])
    assert lab_events.widget_errors() == []


def test_multilabel_panel_follows_threshold(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "multilabel.ipynb")
    require_frontend()
    wait_drawn(page, 0, 1)
    matrix_canvas(page).scroll_into_view_if_needed()
    L = 10
    miss = kernel_value(page, f"int(w.matrix[:{L}, {L}].argmax())")
    old = click_and_wait_thumbs(page, "w", miss, L)
    kernel_eval(page, "w.threshold = 0.3")
    new = [str(i) for i in kernel_value(page, "w.selected_samples[:25]")]
    assert new != old, "the re-thresholded cell lists the same samples; pick another cell"
    for _ in range(25):  # 5 s
        if thumbnail_ids(page) == new:
            break
        page.wait_for_timeout(200)
    assert thumbnail_ids(page) == new, (
        f"panel still lists {len(thumbnail_ids(page))} samples of threshold 0.7; "
        f"Python's cell at 0.3 has {len(new)}"
    )


# -- detection --------------------------------------------------------------------------
BOXES = """(w) => [...document.querySelectorAll('.cw-root')[w].querySelectorAll('figure.cw-thumb')].map(f => ({
    id: f.querySelector('[data-sample-id]').dataset.sampleId,
    viewBox: f.querySelector('svg.cw-boxes')?.getAttribute('viewBox') ?? null,
    boxes: [...f.querySelectorAll('svg.cw-boxes .cw-box')].map(g => {
        const r = g.querySelector('rect');
        return {kind: g.classList.contains('cw-box-gt') ? 'gt' : g.classList.contains('cw-box-pred') ? 'pred' : '?',
                xywh: ['x', 'y', 'width', 'height'].map(a => +r.getAttribute(a)),
                label: g.querySelector('text')?.textContent ?? null};
    }),
}))"""


def box_kinds(page, widget: int = 0) -> list[dict]:
    return page.evaluate(BOXES, widget)


def test_detection_cells_and_boxes(lab_page, lab_server, lab_events):
    page = lab_page
    run_notebook(page, lab_server, "detection.ipynb")
    K = 10
    assert kernel_value(page, "w.labels") == [str(d) for d in range(K)] + ["background"]
    assert kernel_value(page, "[w.source.score, w.source.class_wise, strict.source.class_wise]") == [
        0.3,
        False,
        True,
    ]
    # Class-wise matching leaves no class confusions.
    assert (
        kernel_value(page, f"int(strict.matrix[:{K}, :{K}].sum() - strict.matrix[:{K}, :{K}].trace())") == 0
    )

    require_frontend()
    wait_drawn(page, 0, 1)
    wait_drawn(page, 1, 1)
    matrix_canvas(page).scroll_into_view_if_needed()

    # A class confusion (matched pairs off the diagonal), found from Python.
    r, c = largest_cell(page, f"w.matrix[:{K}, :{K}] * (1 - __import__('numpy').eye({K}, dtype=int))")
    n = kernel_value(page, f"int(w.matrix[{r}, {c}])")
    assert r != c and n >= 1
    ids = click_and_wait_thumbs(page, "w", r, c)
    figures = box_kinds(page)
    assert [f["id"] for f in figures] == ids
    for f in figures:
        kinds = sorted(b["kind"] for b in f["boxes"])
        assert kinds == ["gt", "pred"], f"a matched pair should show both boxes: {f}"
        assert f["viewBox"] == "0 0 96 96", f

    # The boxes drawn are the ones Python matched: compare every thumbnail with the
    # entries of w.source.cell(...) (panel order, same slice of 25).
    entries = kernel_value(page, f"[e['boxes'] for e in w.source.cell(0, 0, {r}, {c}).extra[:25]]")
    assert len(entries) == len(figures)
    for f, want in zip(figures, entries):
        got = {b["kind"]: b for b in f["boxes"]}
        for box in want:
            x0, y0, x1, y1 = box["xyxy"]
            drawn_box = got[box["kind"]]
            assert all(abs(a - b) < 1e-3 for a, b in zip(drawn_box["xywh"], [x0, y0, x1 - x0, y1 - y0])), (
                drawn_box,
                box,
            )
            assert drawn_box["label"] == box["label"], (drawn_box, box)
        gt_label = next(b["label"] for b in want if b["kind"] == "gt")
        pred_label = next(b["label"] for b in want if b["kind"] == "pred")
        assert (gt_label, pred_label) == (str(r), str(c))

    # A miss (true class → background): the ground-truth box only.
    miss = kernel_value(page, f"int(w.matrix[:{K}, {K}].argmax())")
    click_and_wait_thumbs(page, "w", miss, K)
    for f in box_kinds(page):
        assert [b["kind"] for b in f["boxes"]] == ["gt"], f
        assert f["boxes"][0]["label"] == str(miss)
    # A false positive (background → predicted class): the predicted box only.
    fp = kernel_value(page, f"int(w.matrix[{K}, :{K}].argmax())")
    assert kernel_value(page, f"int(w.matrix[{K}, {fp}])") >= 1
    click_and_wait_thumbs(page, "w", K, fp)
    for f in box_kinds(page):
        assert [b["kind"] for b in f["boxes"]] == ["pred"], f
        assert f["boxes"][0]["label"] == str(fp)
    assert lab_events.widget_errors() == []
