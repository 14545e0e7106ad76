"""The widget in a marimo app (tests/e2e/host_apps/marimo_app.py), served by
``marimo run --headless`` and driven in Chromium, in marimo's light and dark themes.

marimo renders the widget inside a shadow root (``<marimo-anywidget>``) and sets no
``--jp-*`` variables; its dark theme puts ``dark dark-theme`` and
``data-theme="dark"`` on ``<body>`` (and ``contents dark`` on a div inside each
widget's shadow root). The ``?theme=`` query parameter overrides the app's theme.
The app's last cell reads ``mw.value`` (``mw = mo.ui.anywidget(w)``), so marimo runs
it again on every trait change: it prints what Python sees in ``<pre data-cw-python>``.
"""

from __future__ import annotations

import time

import pytest
from harness import require_frontend
from hosts import drive_widget, host_page, luminance, marimo_server, theme_colours

PYTHON = "pre[data-cw-python]"


@pytest.fixture(scope="module")
def marimo(tmp_path_factory, browser):  # browser first: skip without Chromium before starting anything
    server = marimo_server(tmp_path_factory.mktemp("marimo")).start()
    yield server
    server.stop()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_widget_in_marimo(theme, marimo, browser):
    require_frontend()
    t0 = time.monotonic()
    # The OS prefers the other scheme: the widget must follow marimo, not the OS.
    os_scheme = "dark" if theme == "light" else "light"
    with host_page(browser, marimo, color_scheme=os_scheme) as (page, events):
        page.goto(f"{marimo.url}/?theme={theme}", wait_until="commit")
        # marimo really is in that theme: its body class (and, below, its page colour).
        page.wait_for_function("(t) => document.body?.classList.contains(`${t}-theme`)", arg=theme)
        assert page.evaluate("() => document.body.dataset.theme") == theme

        times = drive_widget(page, PYTHON)

        page_bg = luminance(page.evaluate("() => getComputedStyle(document.body).backgroundColor"))
        colours = theme_colours(page)
        print(f"\nmarimo {theme}: page {page_bg}, widget {colours}, times {times}")
        labels = colours.pop("canvas_labels")
        assert labels["n"] > 20, labels  # row labels are drawn
        marker = colours.pop("theme")
        if theme == "dark":
            assert page_bg < 0.1, page_bg  # the test really runs dark
            assert colours["root_bg"] < 0.1, colours  # a dark box, not a light one
            assert min(colours["root_fg"], colours["title"], colours["epoch_label"]) > 0.5, colours
            assert labels["max"] > 0.5, labels  # the canvas paints its labels light too
        else:
            assert page_bg > 0.9, page_bg
            assert colours["root_bg"] > 0.9, colours
            assert max(colours["root_fg"], colours["title"], colours["epoch_label"]) < 0.2, colours
            assert labels["max"] < 0.2, labels
        assert marker == theme  # what theme.js read from the host
        assert events.widget_errors() == []
    print(f"marimo {theme}: {time.monotonic() - t0:.1f} s")
