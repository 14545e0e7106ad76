"""The widget in Voilà (tests/e2e/host_apps/voila_widget.ipynb): Voilà runs the
notebook when the page is requested and shows only its outputs, with JupyterLab's
widget manager; the test drives that page in Chromium.

Voilà has no side channel into the kernel, so the notebook shows what Python sees in
an ``ipywidgets.Label`` (class ``cw-python``) that an observer on the widget's
``epoch`` and ``selected`` keeps up to date, as JSON.
"""

from __future__ import annotations

import time

import pytest
from harness import require_frontend
from hosts import drive_widget, host_page, voila_server


@pytest.fixture(scope="module")
def voila(tmp_path_factory, browser):  # browser first: skip without Chromium before starting anything
    server = voila_server(tmp_path_factory.mktemp("voila")).start()
    yield server
    server.stop()


def test_widget_in_voila(voila, browser):
    require_frontend()
    t0 = time.monotonic()
    with host_page(browser, voila) as (page, events):
        page.goto(voila.url, wait_until="commit")  # Voilà streams the page while the kernel runs
        # This is Voilà's page, showing outputs only (no code cells' inputs).
        page.locator("body[data-voila]").wait_for(state="attached")
        times = drive_widget(page, ".cw-python")
        assert page.locator(".jp-InputArea-editor").count() == 0
        print(f"\nvoila: {times}")
        assert events.widget_errors() == []
    print(f"voila: {time.monotonic() - t0:.1f} s")
