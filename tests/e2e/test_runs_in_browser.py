"""A person compares two runs on the Runs page and downloads one run's Keras script."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.data.names import run_title
from core.spec.config import RunConfig
from core.store import Status, Store
from tests.e2e.conftest import READY

pytestmark = pytest.mark.e2e

# Traces of the overlay chart (the figure Plotly drew last), by legend name.
LEGEND = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const last = plots[plots.length - 1];
  return last && last._fullData ? last._fullData.filter(t => t.showlegend).map(t => t.name) : [];
}"""


def _finished(store: Store, name: str, cfg: RunConfig, accuracies: list[float]) -> int:
    _, (tid,) = store.create_study(name, "single", [cfg], reserve_for=1)
    for i, acc in enumerate(accuracies):
        metrics = {"loss": 1.0 - acc, "accuracy": acc, "val_loss": 1.1 - acc, "val_accuracy": acc}
        store.add_epoch(tid, i, metrics, 1.0)
    store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": accuracies[-1], "test_loss": 0.3})
    return tid


def test_select_two_runs_see_both_curves_then_download_a_script(
    store: Store, app_url: str, browser, tmp_path: Path
) -> None:
    slow = _finished(store, "slow", RunConfig(model="mlp", learning_rate=0.001), [0.4, 0.6, 0.8])
    fast = _finished(store, "fast", RunConfig(learning_rate=0.05, seed=7), [0.7, 0.75])
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page.goto(f"{app_url}/runs")
    page.wait_for_selector(READY, timeout=60_000)
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.wait_for(timeout=30_000)
    box = grid.bounding_box()
    for row in (0, 1):  # each row's check box, in the grid's first column
        page.mouse.click(box["x"] + 15, box["y"] + 35 + 35 * row + 17)
        page.wait_for_selector(READY)
    page.get_by_text("Compare 2 runs").wait_for(timeout=30_000)
    page.wait_for_function(f"({LEGEND})().length === 2", timeout=30_000)
    names = [run_title(store.trial(t).config) for t in (fast, slow)]
    assert names[0] == "cnn · lr 0.05 · seed 7 on digits"  # what differs from the defaults
    assert page.evaluate(LEGEND) == [f"run {fast} · {names[0]}", f"run {slow} · {names[1]}"]

    page.mouse.click(box["x"] + 15, box["y"] + 35 + 35 * 1 + 17)  # keep only the fast run
    page.wait_for_selector(READY)
    button = page.get_by_role("button", name="train.py")
    button.wait_for(timeout=30_000)
    with page.expect_download() as download:
        button.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"study2-run{fast}-digits-cnn-acc75.0-train.py"
    text = saved.read_text()
    ast.parse(text)
    assert '"seed": 7' in text and '"learning_rate": 0.05' in text
    assert text.rstrip().endswith("main()")
