"""A person launches a tiny search on the Tune page and watches the trial table fill."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.store import Status, Store, paths
from core.worker.searches import search_state
from tests.e2e.conftest import READY

pytestmark = pytest.mark.e2e


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the select box labelled ``label`` (the last one of that name)."""
    box = page.get_by_role("combobox", name=label, exact=True).last
    for _ in range(5):  # the list can take a moment to open on a busy machine
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=3_000)
            break
        except Exception:  # noqa: BLE001 - closed again, try once more
            page.keyboard.press("Escape")
    page.wait_for_selector(READY)


def test_launch_a_random_search_watch_the_table_and_overlay_two_trials(
    app_url: str, browser, cache: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{app_url}/tune")
    page.wait_for_selector(READY, timeout=60_000)
    _pick(page, "Tuner", "Random search")
    page.get_by_role("spinbutton", name="Max trials").fill("2")
    page.keyboard.press("Tab")
    page.wait_for_selector(READY)
    # Two epochs a trial: add the epochs key, fixed.
    page.get_by_role("combobox", name="Add a setting").click()
    page.keyboard.type("epochs")
    page.get_by_role("option", name="Epochs", exact=True).click()
    # Its row comes with the rerun: wait for it, or "the last Mode" is still the row before.
    page.locator("strong").filter(has_text=re.compile(r"^Epochs$")).wait_for(timeout=30_000)
    page.wait_for_selector(READY)
    _pick(page, "Mode", "fixed")
    page.get_by_role("textbox", name="Value").fill("2")
    page.keyboard.press("Tab")
    page.wait_for_selector(READY)
    page.get_by_role("button", name="Launch search").click()

    page.get_by_text(re.compile(r"Search 2 · Random search: cnn( · [^·]+)* on digits")).wait_for(
        timeout=30_000
    )
    # The table shows the first trial while it runs, then both, then the search ends.
    page.get_by_text("1 trial · click a column").wait_for(timeout=180_000)
    page.get_by_text("2 of 2 trials done").wait_for(timeout=300_000)
    # Once the best trials are tested and saved, the page draws the final view.
    page.get_by_text("Best trial beside the baseline").wait_for(timeout=120_000)

    store = Store(paths.store_path(cache))
    state = search_state(store, 2)
    assert state["state"] == "done"
    trials = store.trials(study_ids=[2])
    assert [t.status for t in trials] == [Status.COMPLETED, Status.COMPLETED]
    assert all(t.config["epochs"] == 2 and t.results.get("hp") for t in trials), [
        (t.config["epochs"], t.results.get("hp")) for t in trials
    ]
    page.get_by_role("button", name="Model (.keras)").wait_for(timeout=30_000)

    # Selecting both rows of the trial table overlays their curves in one more chart.
    charts = page.locator(".js-plotly-plot").count()
    grid = page.locator("[data-testid='stDataFrame']").first.bounding_box()
    for row in (0, 1):  # the row's check box, in the grid's first column
        page.mouse.click(grid["x"] + 15, grid["y"] + 35 + 35 * row + 17)
        page.wait_for_selector(READY)
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot').length > {charts}", timeout=30_000
    )
    page.get_by_text(re.compile(rf"run {trials[-1].id} · cnn( · [^·]+)* on digits")).first.wait_for(
        timeout=10_000
    )
