"""A person trains the default model in a real browser and downloads it."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from core.data.names import run_title
from core.engine.loading.datasets import load_splits
from core.spec.config import RunConfig
from core.store import Status, Store, paths
from tests.e2e.conftest import POINTS, READY

TITLE = run_title(RunConfig(epochs=3).to_dict())  # the form's defaults but 3 epochs

pytestmark = pytest.mark.e2e


def test_train_three_epochs_watch_the_curve_and_download_the_model(
    app_url: str, browser, cache: Path, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(f"{app_url}/train")
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill("3")
    page.get_by_role("button", name="Train").click()

    page.get_by_text(f"Run 1 · {TITLE}").wait_for(timeout=30_000)
    page.wait_for_function(f"({POINTS})() >= 1", timeout=120_000)
    # A refresh shows the same run, still going; nothing restarts.
    page.reload()
    page.get_by_text(f"Run 1 · {TITLE}").wait_for(timeout=30_000)
    page.wait_for_function(f"({POINTS})() >= 3", timeout=120_000)
    page.get_by_text("completed").first.wait_for(timeout=60_000)

    store = Store(paths.store_path(cache))
    (trial,) = store.trials()
    assert trial.status == Status.COMPLETED and len(store.epochs(trial.id)) == 3
    page.get_by_text(f"{trial.test_accuracy:.1%}", exact=True).wait_for(timeout=30_000)
    page.get_by_text(f"Test accuracy {trial.test_accuracy:.1%} (95% CI ").wait_for(timeout=30_000)

    with page.expect_download() as download:
        page.get_by_role("button", name="Model (.keras)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.endswith(".keras")

    model = keras.saving.load_model(saved)
    splits = load_splits("digits", trial.config["validation_split"], trial.config["seed"], cache)
    scores = model.evaluate(splits.x_test, splits.y_test, verbose=0, return_dict=True)
    assert scores["accuracy"] == pytest.approx(trial.test_accuracy, abs=1e-6)
