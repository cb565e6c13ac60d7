"""A person launches a three-value batch-size sweep in a real browser and watches it grow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.store import Status, Store, paths
from tests.e2e.conftest import READY

pytestmark = pytest.mark.e2e

# Points of each value's validation line in the curves chart (the page's first Plotly chart):
# one legend entry per value, so the list has one number per value shown so far.
CURVE_POINTS = """() => {
  const plot = document.querySelector('.js-plotly-plot');
  if (!plot || !plot._fullData) return [];
  return plot._fullData.filter(t => t.showlegend).map(t => t.x.length);
}"""


def test_a_three_value_sweep_draws_three_growing_curves_and_a_summary(
    app_url: str, browser, cache: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{app_url}/compare")
    page.wait_for_selector(READY, timeout=60_000)
    epochs = page.get_by_role("spinbutton", name="Epochs per run")
    epochs.fill("2")
    epochs.press("Enter")
    page.wait_for_selector(READY)
    values = page.get_by_role("textbox", name="Batch size values")
    values.fill("100, 300, 1000")
    values.press("Enter")
    page.wait_for_selector(READY)
    # From the click on, note every view of the curves the page draws, so the end can tell
    # whether the sweep was watched growing (the sweep may finish before any single check).
    page.evaluate(
        f"""() => {{
            window.__views = [];
            setInterval(() => window.__views.push(({CURVE_POINTS})()), 100);
        }}"""
    )
    page.get_by_role("button", name="Launch sweep").click()

    page.get_by_text(re.compile(r"Batch size sweep · cnn( · [^·]+)* on digits")).wait_for(
        timeout=30_000
    )
    # Each value's curve appears while the sweep runs, then grows to both epochs.
    page.wait_for_function(
        f"(() => {{ const n = ({CURVE_POINTS})(); return n.length === 3 && "
        "n.every(k => k === 2); })()",
        timeout=180_000,
    )
    # The last poll hands over to a full rerun, which draws the finished sweep; until that run
    # ends, the poll's last view may still be on the page beside it.
    page.get_by_text("3 of 3 runs finished").first.wait_for(timeout=60_000)
    page.wait_for_selector(READY, timeout=30_000)
    # One run per value: the summary names the highest and gives no verdict.
    page.get_by_text("Highest test accuracy:").first.wait_for(timeout=60_000)
    page.wait_for_selector(READY, timeout=30_000)
    # The x axis switches to wall-clock seconds; the same three curves are drawn against time.
    page.get_by_role("radio", name="Wall-clock seconds").click()
    page.wait_for_function(
        "document.querySelector('.js-plotly-plot').layout.xaxis.title.text"
        " === 'Wall-clock seconds'",
        timeout=60_000,
    )
    views = page.evaluate("window.__views")
    drawn = [sum(view) for view in views if view]
    assert drawn and min(drawn) < 6 <= max(drawn), "the curves were never seen part-way"
    trials = Store(paths.store_path(cache)).trials()
    assert len(trials) == 3 and {t.status for t in trials} == {Status.COMPLETED}
    assert sorted(t.config["batch_size"] for t in trials) == [100, 300, 1000]
