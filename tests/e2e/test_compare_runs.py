"""notebooks/compare_runs.ipynb in a real JupyterLab (issue 5): three recorded runs
tiled under one slider, a difference view of two runs, and the samples behind a
difference cell.

The notebook's widgets, in page order: ``tiles`` (base, narrow, noisy), ``diff``
(narrow, base, base − narrow) and ``steps`` (a run against its previous epoch).
"""

from __future__ import annotations

import time

from harness import (
    canvas_geometry,
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

NOTEBOOK = "compare_runs.ipynb"
TILES, DIFF, STEPS = 0, 1, 2  # the widgets' order on the page


def run_compare(page, server) -> float:
    return run_notebook(page, server, NOTEBOOK)


def tile_epochs(page, widget: int) -> dict[str, str]:
    """data-tile → data-epoch of every canvas of the widget."""
    return (
        widget_root(page, widget)
        .locator("canvas.cw-matrix")
        .evaluate_all("cs => Object.fromEntries(cs.map(c => [c.dataset.tile, c.dataset.epoch]))")
    )


def wait_all_tiles_at(page, widget: int, epoch: int) -> None:
    page.wait_for_function(
        """([w, e]) => { const cs = [...document.querySelectorAll('.cw-root')[w].querySelectorAll('canvas.cw-matrix')];
             return cs.length > 0 && cs.every(c => c.dataset.epoch === String(e)); }""",
        arg=[widget, epoch],
    )


def canvas_digest(canvas) -> str:
    """The canvas' pixels as a data URL (equal URLs: the same picture)."""
    return canvas.evaluate("c => c.toDataURL()")


def test_tiles_share_one_slider(lab_page, lab_server, lab_events):
    page = lab_page
    run_compare(page, lab_server)
    assert page.locator(".cw-root").count() == 3
    assert kernel_value(page, "[tiles.tile_titles, tiles.n_epochs, tiles.epoch]") == [
        ["base", "narrow", "noisy"],
        5,
        4,
    ]
    # `noisy` has 3 epochs: at slider epochs 3 and 4 its tile shows its last one (2).
    assert kernel_value(page, "tiles._tile_epochs") == [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 2], [4, 4, 2]]
    assert kernel_value(page, "(tiles.matrices[4, 2] == rec_noisy.run.matrices()[2, 0]).all().item()") is True

    require_frontend()
    wait_drawn(page, TILES, 3)
    root = widget_root(page, TILES)
    assert root.locator("canvas.cw-matrix").evaluate_all("cs => cs.map(c => c.dataset.tile)") == [
        "0",
        "1",
        "2",
    ]
    for title in ("base", "narrow", "noisy"):
        assert root.locator(".cw-tile-title", has_text=title).count() == 1, title
    assert tile_epochs(page, TILES) == {"0": "4", "1": "4", "2": "4"}
    headings = root.locator(".cw-tile-title")
    # The shorter run's tile says which epoch it shows; the others need no note.
    page.wait_for_function("(h) => h.textContent.includes('epoch 2')", arg=headings.nth(2).element_handle())
    assert "epoch" not in headings.nth(0).text_content(), headings.nth(0).text_content()
    for t in range(3):
        g = canvas_geometry(matrix_canvas(page, t, TILES))
        assert (g["rows"], g["cols"]) == (10, 10) and g["cell_w"] > 0, (t, g)
    narrow = matrix_canvas(page, 1, TILES)
    at_4 = canvas_digest(narrow)

    # Keyboard: `[` on a focused tile steps every tile back one epoch.
    narrow.focus()
    page.keyboard.press("[")
    wait_for_python(page, "tiles.epoch", 3)
    wait_all_tiles_at(page, TILES, 3)
    assert page.locator("input.cw-epoch-slider").nth(TILES).input_value() == "3"

    # Slider: an `input` event, as a drag sends.
    t0 = time.monotonic()
    root.locator("input.cw-epoch-slider").evaluate(
        "(s) => { s.value = '1'; s.dispatchEvent(new Event('input', {bubbles: true}));"
        " s.dispatchEvent(new Event('change', {bubbles: true})); }"
    )
    wait_all_tiles_at(page, TILES, 1)
    print(f"slider → three tiles at epoch 1: {1000 * (time.monotonic() - t0):.0f} ms")
    wait_for_python(page, "tiles.epoch", 1)
    assert tile_epochs(page, TILES) == {"0": "1", "1": "1", "2": "1"}
    assert headings.nth(2).text_content().strip() == "noisy"  # at epoch 1 noisy shows epoch 1
    # The tiles were really redrawn: narrow's matrix at epoch 1 is not its epoch 4.
    assert kernel_value(page, "bool((tiles.matrices[1, 1] != tiles.matrices[4, 1]).any())") is True
    assert canvas_digest(narrow) != at_4

    # Python → page.
    kernel_eval(page, "tiles.epoch = 4")
    wait_all_tiles_at(page, TILES, 4)
    assert root.locator("input.cw-epoch-slider").input_value() == "4"
    # The other widgets kept their own epoch.
    assert kernel_value(page, "[diff.epoch, steps.epoch]") == [4, 4]
    assert lab_events.widget_errors() == []


# Cell members computed in the kernel straight from the recorded runs, independently of
# the widget: ids of samples with true class r predicted as c at epoch e.
MEMBERS = """
def _cw_members(run, e, r, c):
    ids = run.sample_ids()
    return set(ids[(run.y_true(e) == r) & (run.y_pred(e) == c)].tolist())
"""


def test_difference_tile(lab_page, lab_server, lab_events):
    page = lab_page
    run_compare(page, lab_server)
    assert kernel_value(page, "diff.tile_titles") == ["narrow", "base", "base − narrow"]

    # An epoch whose difference tile has cells of both signs (the last such epoch).
    signs = kernel_value(page, "[[int((m < 0).sum()), int((m > 0).sum())] for m in diff.matrices[:, 2]]")
    both = [e for e, (neg, pos) in enumerate(signs) if neg and pos]
    assert both, f"no epoch where base − narrow has both signs: {signs}"
    epoch = both[-1]
    if kernel_value(page, "diff.epoch") != epoch:
        kernel_eval(page, f"diff.epoch = {epoch}")
    m = kernel_value(page, "diff.matrix[2].tolist()")
    # The difference tile is b − a of the two real tiles.
    assert kernel_value(page, "(diff.matrix[2] == diff.matrix[1] - diff.matrix[0]).all().item()") is True
    cells = [(v, r, c) for r, row in enumerate(m) for c, v in enumerate(row)]
    neg = min(cells)[1:]
    pos = max(cells)[1:]
    zero = next((r, c) for v, r, c in cells if v == 0)
    assert m[neg[0]][neg[1]] < 0 < m[pos[0]][pos[1]]

    require_frontend()
    wait_drawn(page, DIFF, 3)
    wait_all_tiles_at(page, DIFF, epoch)
    canvas = matrix_canvas(page, 2, DIFF)
    assert canvas.get_attribute("data-tile") == "2"
    px_neg, px_pos, px_zero = (cell_pixel(canvas, *cell) for cell in (neg, pos, zero))
    print(
        f"\nbase − narrow at epoch {epoch}: {m[neg[0]][neg[1]]} at {neg} → {px_neg}, "
        f"{m[pos[0]][pos[1]]} at {pos} → {px_pos}, 0 at {zero} → {px_zero}"
    )
    assert px_neg != px_pos and px_neg != px_zero and px_pos != px_zero
    # Diverging blue–red: losses (negative) blue, gains (positive) red.
    assert px_neg[2] > px_neg[0], f"a negative cell is not blue: {px_neg}"
    assert px_pos[0] > px_pos[2], f"a positive cell is not red: {px_pos}"

    # The difference cell with the most flips that has samples on both sides (entered
    # and left), computed from the runs in the kernel, not from the widget.
    kernel_eval(page, MEMBERS)
    flips = kernel_value(
        page,
        f"""[[r, c, len(_cw_members(rec_base.run, {epoch}, r, c) - _cw_members(rec_narrow.run, {epoch}, r, c)),
              len(_cw_members(rec_narrow.run, {epoch}, r, c) - _cw_members(rec_base.run, {epoch}, r, c))]
             for r in range(10) for c in range(10)]""",
    )
    two_sided = [f for f in flips if f[2] and f[3]]
    candidates = two_sided or [f for f in flips if f[2] + f[3]]
    r, c, n_entered, n_left = max(candidates, key=lambda f: (f[2] + f[3] <= 25, f[2] + f[3]))
    expected = set(
        kernel_value(
            page,
            f"sorted(_cw_members(rec_base.run, {epoch}, {r}, {c}) ^ _cw_members(rec_narrow.run, {epoch}, {r}, {c}))",
        )
    )
    assert len(expected) == n_entered + n_left > 0

    click_matrix_cell(page, r, c, tile=2, widget=DIFF)
    wait_for_python(page, "[diff.selected, diff.selected_tile]", [[r, c], 2])
    selected = kernel_value(page, "diff.selected_samples")
    assert set(selected) == expected, "Python's cell differs from the symmetric difference of the runs"
    assert len(selected) == len(expected), "a sample is listed twice"

    root = widget_root(page, DIFF)
    want = [str(i) for i in selected[:25]]
    page.wait_for_function(
        "([w, n]) => document.querySelectorAll('.cw-root')[w].querySelectorAll('figure.cw-thumb [data-sample-id]').length === n",
        arg=[DIFF, len(want)],
    )
    assert thumbnail_ids(page, DIFF) == want
    # Load the rest (if any): the panel then lists exactly the flipped samples.
    while len(thumbnail_ids(page, DIFF)) < len(selected):
        n = len(thumbnail_ids(page, DIFF))
        root.locator(".cw-more").click()
        page.wait_for_function(
            "([w, n]) => document.querySelectorAll('.cw-root')[w].querySelectorAll('figure.cw-thumb [data-sample-id]').length > n",
            arg=[DIFF, n],
        )
    shown = thumbnail_ids(page, DIFF)
    assert shown == [str(i) for i in selected]
    assert {int(i) for i in shown} == expected

    # Entered (in base, not narrow) first, then left; each thumbnail says which.
    entered = kernel_value(
        page,
        f"sorted(_cw_members(rec_base.run, {epoch}, {r}, {c}) - _cw_members(rec_narrow.run, {epoch}, {r}, {c}))",
    )
    assert {int(i) for i in shown[: len(entered)]} == set(entered)
    titles = root.locator("figure.cw-thumb").evaluate_all("fs => fs.map(f => f.title)")
    sides = [t.split(" ")[0] for t in titles]
    assert sides == ["entered"] * n_entered + ["left"] * n_left, titles
    page.wait_for_function(
        "(w) => [...document.querySelectorAll('.cw-root')[w].querySelectorAll('figure.cw-thumb img[data-sample-id]')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        arg=DIFF,
    )
    print(f"cell ({r}, {c}) of base − narrow: {n_entered} entered, {n_left} left")

    # The epoch-vs-previous view of one run: its difference tile is drawn too.
    assert kernel_value(page, "steps.tile_titles") == [
        "previous epoch",
        "this epoch",
        "this epoch − previous epoch",
    ]
    assert kernel_value(
        page, "[bool((steps.matrices[0, 2] == 0).all()), int(abs(steps.matrices[1, 2]).sum()) > 0]"
    ) == [True, True]
    wait_drawn(page, STEPS, 3)
    assert lab_events.widget_errors() == []
