"""A deep link is the first thing a freshly started server is asked for: the page still comes
through the app's entry point, with its navigation bar, not Streamlit's legacy page list."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import READY

# The sidebar page list of the legacy multipage mode.
LEGACY_NAV = "[data-testid='stSidebarNav']"


@pytest.mark.parametrize("path", ["/tune", "/runs?trial=1"])
def test_a_first_visit_by_deep_link_gets_the_navigation_bar(
    app_url: str, browser, path: str
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(app_url + path)
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_role("heading", level=1).wait_for(timeout=30_000)
    page.wait_for_selector(READY, timeout=60_000)
    assert page.locator(LEGACY_NAV).count() == 0
    assert page.get_by_text("Experiment", exact=True).count() == 1  # the bar's section menu
    title = "Tune" if path.startswith("/tune") else "Runs"
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert page.url.startswith(app_url + path.split("?")[0])
    page.close()
