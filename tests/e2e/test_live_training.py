"""notebooks/live_training.ipynb in a real JupyterLab: a background thread trains and
records; the widget shown after the first epoch follows the run to its last epoch
without any cell being run again (issue 4).

The notebook sleeps ``PAUSE`` seconds between epochs, so after "run all" returns (the
widget cell waits for the first epoch only) several epochs are still to come and the
test can watch the slider grow.
"""

from __future__ import annotations

import time

from harness import (
    canvas_ink,
    error_outputs,
    kernel_value,
    matrix_canvas,
    notebook_cells,
    open_notebook,
    require_frontend,
    run_all_cells,
    wait_for_python,
)

NOTEBOOK = "live_training.ipynb"

# Records every state of the first widget's slider and canvas from now on:
# [t_ms, slider max, slider value, canvas data-epoch]. A MutationObserver sees each
# change of the `max` / `data-epoch` attributes as it happens (the slider's value is
# read at the same moment), so no intermediate epoch can slip between two polls.
OBSERVE = """() => {
  const root = document.querySelector('.cw-root');
  const t0 = performance.now();
  const log = window.__cwLive = [];
  const snap = () => {
    const s = root.querySelector('input.cw-epoch-slider');
    const c = root.querySelector('canvas.cw-matrix');
    const row = [Math.round(performance.now() - t0), s ? +s.max : null, s ? +s.value : null,
                 c && c.dataset.epoch !== undefined ? +c.dataset.epoch : null];
    const last = log[log.length - 1];
    if (!last || last.slice(1).some((v, i) => v !== row[i + 1])) log.push(row);
  };
  snap();
  new MutationObserver(snap).observe(root, {subtree: true, attributes: true,
                                            attributeFilter: ['max', 'data-epoch']});
  return log.slice();
}"""


def test_widget_follows_background_training(lab_page, lab_server, lab_events):
    page = lab_page
    open_notebook(page, lab_server, NOTEBOOK)
    seconds = run_all_cells(page)
    assert error_outputs(page) == []
    counts_after_run = [c["execution_count"] for c in notebook_cells(page) if c["cell_type"] == "code"]
    assert None not in counts_after_run, counts_after_run
    final = kernel_value(page, "EPOCHS") - 1
    assert final >= 3, "the notebook needs a few epochs to show the widget growing"

    require_frontend()
    canvas = matrix_canvas(page)
    canvas.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const c = document.querySelector('.cw-root canvas.cw-matrix');"
        " return c && c.dataset.epoch !== undefined && +c.dataset.rows === 10; }"
    )
    first = page.evaluate(OBSERVE)
    print(f"\nrun all returned after {seconds:.1f} s; first state seen [t, max, value, epoch]: {first}")

    # No cell is run from here on: the thread's end_epoch() calls must reach the page.
    t0 = time.monotonic()
    page.wait_for_function(
        """(last) => { const r = document.querySelector('.cw-root');
             const s = r.querySelector('input.cw-epoch-slider'), c = r.querySelector('canvas.cw-matrix');
             return +s.max === last && +s.value === last && c.dataset.epoch === String(last); }""",
        arg=final,
        timeout=90_000,
    )
    states = page.evaluate("() => window.__cwLive")
    print(f"final epoch {final} on the page {time.monotonic() - t0:.1f} s later; states: {states}")

    maxes = [s[1] for s in states]
    # We really watched it grow: the slider was short of its final length at first …
    assert min(maxes) < final, f"training was already over before the test looked: {states}"
    # … and it only ever grew, one recorded epoch at a time or faster.
    assert maxes == sorted(maxes), f"the slider's max went backwards: {states}"
    assert len(set(maxes)) >= 2, states
    # The canvas followed the slider (nobody moved it, so it tracks the newest epoch).
    epochs_drawn = [s[3] for s in states if s[3] is not None]
    assert epochs_drawn == sorted(epochs_drawn), f"the canvas went back in time: {states}"
    assert len(set(epochs_drawn)) >= 2, f"the canvas was never redrawn for a new epoch: {states}"
    assert epochs_drawn[-1] == final

    # Python agrees, and no cell ran again.
    assert kernel_value(page, "[w.epoch, w.n_epochs, rec.n_epochs, len(w.matrices)]") == [
        final,
        final + 1,
        final + 1,
        final + 1,
    ]
    wait_for_python(page, "thread.is_alive()", False, timeout=30)
    assert [
        c["execution_count"] for c in notebook_cells(page) if c["cell_type"] == "code"
    ] == counts_after_run

    ink = canvas_ink(canvas)
    assert ink["opaque"] > 0.2 * ink["width"] * ink["height"] and ink["colours"] >= 3, ink
    assert lab_events.widget_errors() == []
