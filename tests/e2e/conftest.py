"""Fixtures for the real-browser tests: one JupyterLab server and one Chromium per
session, a fresh browser context (and fresh kernels) per test.

- ``lab_server``: :class:`harness.LabServer`; its root is a temp dir holding copies of
  ``notebooks/*.ipynb`` and ``tests/e2e/notebooks/*.ipynb``.
- ``browser``: Playwright Chromium (``/usr/bin/chromium``, or ``$CW_CHROMIUM``).
- ``lab_events``: :class:`harness.PageEvents` of the test's page (console errors,
  uncaught exceptions, dialogs — which are recorded and dismissed).
- ``lab_page``: a Playwright page; after the test its context is closed and all
  kernels are shut down, so the next test starts from a clean kernel.
- ``notebook_server`` / ``notebook_page``: the same for Jupyter Notebook 7
  (``LabServer(app="notebook")``), started only by tests that ask for it.

Every test in this directory gets the ``e2e`` marker (``-m "not e2e"`` skips them).
Without Chromium or Playwright the tests skip, unless ``$CI`` is set: then they fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import harness` from the tests

from harness import CHROMIUM, CHROMIUM_ARGS, LabServer, PageEvents, copy_notebooks, unavailable

E2E_DIR = Path(__file__).parent
REPO = E2E_DIR.parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A conftest's `pytestmark` does not apply to test modules; mark them here.
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # Keep the outcome on the item so `lab_page` can save a screenshot on failure.
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CW_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the Python package playwright is not installed")


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory):
    _require_browser()  # no point starting a server nobody can look at
    root = tmp_path_factory.mktemp("lab-root")
    copy_notebooks(root, REPO / "notebooks", E2E_DIR / "notebooks")
    server = LabServer(root_dir=root, work_dir=tmp_path_factory.mktemp("lab-work")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def notebook_server(tmp_path_factory: pytest.TempPathFactory):
    _require_browser()
    root = tmp_path_factory.mktemp("nb7-root")
    copy_notebooks(root, REPO / "notebooks", E2E_DIR / "notebooks")
    server = LabServer(root_dir=root, work_dir=tmp_path_factory.mktemp("nb7-work"), app="notebook").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
    finally:
        pw.stop()


@pytest.fixture
def lab_events() -> PageEvents:
    return PageEvents()


def _page_for(request: pytest.FixtureRequest, browser, server: LabServer, events: PageEvents):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    events.attach(page)
    yield page
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        shot = server.work_dir / f"{request.node.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(
                f"\nscreenshot: {shot}\nconsole errors: {events.console_errors}\n"
                f"page errors: {events.page_errors}\ndialogs: {events.dialogs}"
            )
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"\n(no screenshot: {exc})")
    context.close()
    server.shutdown_kernels()


@pytest.fixture
def lab_page(request: pytest.FixtureRequest, browser, lab_server: LabServer, lab_events: PageEvents):
    yield from _page_for(request, browser, lab_server, lab_events)


@pytest.fixture
def notebook_page(
    request: pytest.FixtureRequest, browser, notebook_server: LabServer, lab_events: PageEvents
):
    yield from _page_for(request, browser, notebook_server, lab_events)
