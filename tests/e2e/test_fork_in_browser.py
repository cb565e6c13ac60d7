"""A person forks a finished run from its page in a real browser and sees both curves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.engine.training import TrialMonitor, run_trial
from core.spec.config import RunConfig
from core.store import Status, Store, paths
from tests.e2e.conftest import READY

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("HPE_SHOTS_DIR", "/tmp/shots"))
# Names and point counts of every trace in the first Plotly chart.
TRACES = """() => {
  const plot = document.querySelector('.js-plotly-plot');
  return plot && plot._fullData ? plot._fullData.map(t => [t.name, t.x.length]) : [];
}"""


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"fork_{name}.png"), full_page=True)


def test_fork_a_run_from_its_page_and_see_two_curves(app_url: str, browser, cache: Path) -> None:
    store = Store(paths.store_path(cache))
    cfg = RunConfig(model="mlp", epochs=3, batch_size=64)
    _, (parent,) = store.create_study("mlp on digits", "single", [cfg], reserve_for=1)
    with TrialMonitor(store, parent) as monitor:
        run_trial(store, store.trial(parent), monitor, cache)
    assert store.trial(parent).status == Status.COMPLETED

    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{app_url}/train?trial={parent}")
    page.wait_for_selector(READY, timeout=60_000)
    title = "Continue from an epoch with new settings"
    page.get_by_text(title).click()
    box = page.get_by_test_id("stExpander").filter(has_text=title)
    box.get_by_test_id("stSelectbox").filter(has_text="Continue after epoch").click()
    page.get_by_role("option", name="1", exact=True).click()
    box.get_by_role("spinbutton", name="Learning rate").fill("0.0001")
    box.get_by_role("spinbutton", name="Epochs in all").fill("4")
    _shot(page, "form")
    box.get_by_role("button", name="Fork", exact=True).click()

    page.get_by_text(f"Forked from run {parent} after epoch 1").wait_for(timeout=60_000)
    page.get_by_text("completed").first.wait_for(timeout=180_000)
    child = next(t for t in store.trials() if t.id != parent)
    assert (child.parent_id, child.fork_epoch, child.status) == (parent, 0, Status.COMPLETED)
    page.wait_for_function(
        f"({TRACES})().some(t => t[0] === 'train' && t[1] === 4)", timeout=30_000
    )
    traces = dict(page.evaluate(TRACES))
    # The parent's three epochs beneath, the fork's from epoch 1 (joined there) to 4.
    assert traces[f"run {parent} train"] == 3 and traces[f"run {parent} validation"] == 3
    assert traces["train"] == 4 and traces["validation"] == 4
    _shot(page, "two_curves")
