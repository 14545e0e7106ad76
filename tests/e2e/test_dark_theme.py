"""The widget follows JupyterLab's theme: light text on a dark page in "JupyterLab
Dark", dark text again after switching back to "JupyterLab Light" — in the DOM
(root, tooltip, image panel) and on the canvas, which paints its labels with a
colour read at draw time (tests/e2e/notebooks/small_widget.ipynb).

Colours are compared by WCAG relative luminance (0 black … 1 white) and text by its
WCAG contrast ratio against what is behind it; translucent colours are first
composited over the page colour actually behind the element.
"""

from __future__ import annotations

import json
import time

import pytest
from harness import (
    canvas_geometry,
    cell_pixel,
    click_matrix_cell,
    kernel_value,
    matrix_canvas,
    require_frontend,
    run_notebook,
    wait_drawn,
    wait_for_python,
)

NOTEBOOK = "small_widget.ipynb"
EMPTY = (0, 5)  # off-diagonal, no samples
FULL = (3, 4)  # off-diagonal, 48 samples
LIGHT, DARK = "JupyterLab Light", "JupyterLab Dark"

# Luminance, compositing and the opaque-ish pixels of the row-label margin, in page JS.
_JS = """
window.__cwLum = ([r, g, b]) => {
  const lin = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
};
window.__cwParse = (css) => {
  const m = css.match(/rgba?\\(([^)]+)\\)/);
  if (!m) return null;
  const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
window.__cwOver = ([r, g, b, a], [R, G, B]) => [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a)];
// The opaque colour behind `el`: its nearest ancestor-or-self with a background.
window.__cwBackdrop = (el) => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = window.__cwParse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let rgb = [255, 255, 255];  // the canvas of the browser window
  for (const c of layers.reverse()) rgb = window.__cwOver(c, rgb);
  return rgb;
};
// Colour of `el` as seen: computed `prop`, composited over what is behind it.
window.__cwSeen = (el, prop) => {
  const c = window.__cwParse(getComputedStyle(el)[prop]);
  const back = window.__cwBackdrop(prop === 'backgroundColor' ? el.parentElement : el);
  const rgb = c ? window.__cwOver(c, back) : back;
  const lum = window.__cwLum(rgb), backLum = window.__cwLum(back);
  const contrast = (Math.max(lum, backLum) + 0.05) / (Math.min(lum, backLum) + 0.05);
  return {css: getComputedStyle(el)[prop], rgb: rgb.map(Math.round), lum,
          contrast: Math.round(contrast * 100) / 100};
};
"""


def _install(page) -> None:
    page.evaluate(f"() => {{ {_JS} }}")


def seen(page, selector: str, prop: str = "color") -> dict:
    """``{css, rgb, lum}`` of the first element matching ``selector``."""
    _install(page)
    return page.locator(selector).first.evaluate(f"(el) => window.__cwSeen(el, {prop!r})")


def label_ink(canvas) -> dict:
    """Pixels of the row-label margin (left of ``data-x0``, along the rows) that the
    text covers (alpha ≥ 160): their count and the luminance of the brightest and
    darkest one (unpremultiplied, i.e. the ink colour itself)."""
    return canvas.evaluate(
        """(c) => {
             const d = c.dataset, s = c.width / c.getBoundingClientRect().width;
             const w = Math.floor((+d.x0 - 2) * s), y = Math.floor(+d.y0 * s);
             const h = Math.floor(+d.rows * +d.cellH * s);
             const px = c.getContext('2d').getImageData(0, y, w, h).data;
             let n = 0, max = -1, min = 2, maxRgb = null, minRgb = null;
             for (let i = 0; i < px.length; i += 4) {
               if (px[i + 3] < 160) continue;
               n++;
               const rgb = [px[i], px[i + 1], px[i + 2]], l = window.__cwLum(rgb);
               if (l > max) { max = l; maxRgb = rgb; }
               if (l < min) { min = l; minRgb = rgb; }
             }
             return {n, max, min, maxRgb, minRgb};
           }"""
    )


def empty_cell_seen(page, canvas) -> dict:
    """The empty cell's canvas pixel composited over the page colour behind the canvas."""
    _install(page)
    rgba = cell_pixel(canvas, *EMPTY)
    return canvas.evaluate(
        """(c, [r, g, b, a]) => {
             const rgb = window.__cwOver([r, g, b, a / 255], window.__cwBackdrop(c));
             return {pixel: [r, g, b, a], rgb: rgb.map(Math.round), lum: window.__cwLum(rgb)};
           }""",
        rgba,
    )


@pytest.fixture
def restore_light_theme(lab_server):
    """JupyterLab stores the theme in the (session-wide) user settings: put "JupyterLab
    Light" back after the test, pass or fail, so no later test opens in the dark."""
    yield
    lab_server.api(
        "PUT",
        "/lab/api/settings/@jupyterlab/apputils-extension:themes",
        {"raw": json.dumps({"theme": LIGHT})},
    )


def set_theme(page, theme: str, light: bool) -> None:
    """Switch JupyterLab's theme and wait until its CSS is in force."""
    page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
    page.wait_for_function(
        "(want) => document.body.dataset.jpThemeLight === want",
        arg="true" if light else "false",
        timeout=15_000,
    )
    _install(page)
    # The theme's own variables are applied (the page itself turned light/dark).
    page.wait_for_function(
        "(light) => { const l = window.__cwLum(window.__cwBackdrop(document.querySelector('.jp-Notebook')));"
        " return light ? l > 0.6 : l < 0.2; }",
        arg=light,
        timeout=15_000,
    )


def wait_labels(canvas, light_ink: bool, timeout: float = 3.0) -> dict:
    """Give the widget ``timeout`` s to repaint its labels in the theme's ink, then
    return what is on the canvas (the caller asserts)."""
    deadline = time.monotonic() + timeout
    while True:
        ink = label_ink(canvas)
        ok = ink["n"] > 0 and (ink["max"] > 0.6 if light_ink else ink["max"] < 0.4)
        if ok or time.monotonic() > deadline:
            return ink
        time.sleep(0.1)


def test_widget_follows_dark_theme(lab_page, lab_server, lab_events, restore_light_theme):
    page = lab_page
    run_notebook(page, lab_server, NOTEBOOK)
    require_frontend()
    wait_drawn(page)
    canvas = matrix_canvas(page)
    _install(page)
    m = kernel_value(page, "w.matrix.tolist()")
    assert m[EMPTY[0]][EMPTY[1]] == 0 and m[FULL[0]][FULL[1]] > 0
    assert canvas_geometry(canvas)["x0"] > 4  # there is a label margin to look at

    # -- light theme (the default): the reference --------------------------------
    assert page.evaluate("() => document.body.dataset.jpThemeLight") == "true"
    light = {
        "root": seen(page, ".cw-root"),
        "root_bg": seen(page, ".cw-root", "backgroundColor"),
        "labels": wait_labels(canvas, light_ink=False),
        "empty": empty_cell_seen(page, canvas),
    }
    print(f"\nlight: {light}")
    assert light["root"]["lum"] < 0.2, light["root"]
    assert light["labels"]["n"] > 20 and light["labels"]["max"] < 0.4, light["labels"]
    assert light["empty"]["lum"] > 0.6, light["empty"]

    # -- dark ------------------------------------------------------------------------
    set_theme(page, DARK, light=False)
    dark = {
        "root": seen(page, ".cw-root"),
        "root_bg": seen(page, ".cw-root", "backgroundColor"),
        "labels": wait_labels(canvas, light_ink=True),
        "empty": empty_cell_seen(page, canvas),
    }
    print(f"dark: {dark}")
    problems = []
    if not dark["root"]["lum"] > 0.6:
        problems.append(f".cw-root color is not light: {dark['root']}")
    if not dark["root_bg"]["lum"] < 0.2:
        problems.append(f".cw-root background (over the page) is not dark: {dark['root_bg']}")
    if not (dark["labels"]["n"] > 20 and dark["labels"]["max"] > 0.6):
        problems.append(f"canvas row labels are not drawn in a light colour: {dark['labels']}")
    if not (dark["empty"]["lum"] < 0.5 and dark["empty"]["rgb"] != light["empty"]["rgb"]):
        problems.append(
            f"empty cell {EMPTY} is glaring / unchanged: {dark['empty']} (light: {light['empty']})"
        )

    # Tooltip: hover the full off-diagonal cell.
    g = canvas_geometry(canvas)
    canvas.hover(
        position={"x": g["x0"] + (FULL[1] + 0.5) * g["cell_w"], "y": g["y0"] + (FULL[0] + 0.5) * g["cell_h"]}
    )
    page.locator(".cw-tooltip").wait_for(state="visible")
    tip, tip_bg = seen(page, ".cw-tooltip"), seen(page, ".cw-tooltip", "backgroundColor")
    print(f"dark tooltip: {tip} on {tip_bg}")
    if not (tip["lum"] > 0.6 and tip_bg["lum"] < 0.2 and tip["contrast"] >= 4.5):
        problems.append(f"tooltip text {tip} on {tip_bg} is not light on dark")

    # Image panel: select the cell, wait for its thumbnails.
    click_matrix_cell(page, *FULL)
    wait_for_python(page, "w.selected", list(FULL))
    page.locator(".cw-root img[data-sample-id]").first.wait_for(state="visible")
    header = seen(page, ".cw-panel-header")
    caption = seen(page, "figure.cw-thumb")
    print(f"dark panel header: {header}; thumbnail caption: {caption}")
    if not (header["lum"] > 0.6 and header["contrast"] >= 4.5):
        problems.append(f".cw-panel-header text is not light: {header}")
    if not caption["contrast"] >= 4.5:  # muted, but still readable (WCAG AA) on a dark page
        problems.append(f"figure.cw-thumb caption is not readable: {caption}")
    assert problems == [], "widget does not follow the dark theme:\n" + "\n".join(problems)

    # -- and back to light -----------------------------------------------------------
    set_theme(page, LIGHT, light=True)
    back = {
        "root": seen(page, ".cw-root"),
        "labels": wait_labels(canvas, light_ink=False),
        "empty": empty_cell_seen(page, canvas),
    }
    print(f"light again: {back}")
    assert back["root"]["lum"] < 0.2, back["root"]
    assert back["labels"]["n"] > 20 and back["labels"]["max"] < 0.4, (
        f"canvas row labels did not flip back to dark: {back['labels']}"
    )
    assert back["empty"]["lum"] > 0.6, back["empty"]
    assert lab_events.widget_errors() == []


def test_canvas_follows_theme_colours_without_reflow(lab_page, lab_server, lab_events, restore_light_theme):
    """Hosts such as VS Code switch themes by changing CSS variables in place, with no
    layout change at all. The DOM follows at once; the canvas labels must follow too
    (within a short wait), not only when a resize or new data happens to repaint."""
    page = lab_page
    run_notebook(page, lab_server, NOTEBOOK)
    require_frontend()
    wait_drawn(page)
    canvas = matrix_canvas(page)
    _install(page)
    before = wait_labels(canvas, light_ink=False)
    assert before["n"] > 20 and before["max"] < 0.4, before
    width = page.evaluate("() => document.querySelector('.cw-root').clientWidth")

    # A dark palette through the variables the widget reads (--jp-* in JupyterLab).
    page.evaluate(
        """() => { const s = document.body.style;
                   s.setProperty('--jp-ui-font-color1', 'rgb(240, 240, 240)');
                   s.setProperty('--jp-layout-color0', 'rgb(17, 17, 17)');
                   s.setProperty('--jp-layout-color1', 'rgb(17, 17, 17)'); }"""
    )
    root = seen(page, ".cw-root")
    assert root["lum"] > 0.6, root  # the DOM side follows the variables immediately
    assert page.evaluate("() => document.querySelector('.cw-root').clientWidth") == width  # no reflow
    after = wait_labels(canvas, light_ink=True, timeout=3.0)
    print(f"\nlabels before {before}, after the variables changed {after}")
    assert after["max"] > 0.6, (
        f"canvas row labels kept their old ink after the theme colours changed "
        f"(root color is now {root['css']}): {after}"
    )

    # And back: the labels follow again.
    page.evaluate(
        """() => { const s = document.body.style;
                   for (const v of ['--jp-ui-font-color1', '--jp-layout-color0', '--jp-layout-color1'])
                     s.removeProperty(v); }"""
    )
    back = wait_labels(canvas, light_ink=False, timeout=3.0)
    assert back["max"] < 0.4, f"canvas row labels did not return to dark ink: {back}"
    assert lab_events.widget_errors() == []
