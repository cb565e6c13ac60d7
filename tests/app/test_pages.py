"""Every page under streamlit's AppTest: defaults, bad input, and each state of a run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.spec.config import RunConfig
from core.spec.params import field_label
from core.store import Status, Store
from core.worker.launch import IDLE_ENV, worker_alive
from tests.app.conftest import APP, TRAIN


def run(page: str, **query: str) -> AppTest:
    """Open the app on one page, the way a browser does: through app.py."""
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    if page != APP:
        at.switch_page(page)
    return at.run()


def test_home_page_with_an_empty_store_invites_a_first_run(store: Store) -> None:
    at = run(APP)
    assert not at.exception
    assert at.title[0].value == "Hyperparameter Explorer"
    assert any("No studies yet" in c.value for c in at.caption)
    assert any(b.label == "Train a model" for b in at.button)


def test_home_page_lists_studies_and_what_is_running(store: Store, busy_worker: None) -> None:
    store.create_study("queued one", "single", [RunConfig()])  # left queued: the worker is busy
    _, (tid,) = store.create_study("running one", "single", [RunConfig()], reserve_for=os.getpid())
    assert store.claim(tid)
    store.heartbeat(
        tid, {"phase": "training", "epoch": 2, "epochs": 10, "batch": 3, "batches": 18, "eta_s": 12}
    )
    at = run(APP)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Name"]) == ["running one", "queued one"]
    assert any("Epoch 2/10" in (p.proto.text or "") for p in at.get("progress"))


def test_train_page_opens_with_working_defaults(store: Store) -> None:
    at = run(TRAIN)
    assert not at.exception
    defaults = RunConfig()
    assert at.selectbox(key="dataset").value == defaults.dataset
    assert at.selectbox(key="model").value == defaults.model
    assert at.selectbox(key="optimizer").value == defaults.optimizer
    assert at.number_input(key="learning_rate").value == defaults.learning_rate
    assert at.number_input(key="batch_size").value == defaults.batch_size
    assert at.number_input(key="epochs").value == defaults.epochs
    assert at.number_input(key="seed").value == defaults.seed
    assert any("No runs yet" in i.value for i in at.info)


@pytest.mark.parametrize(
    ("widget", "value", "words"),
    [
        ("batch_size", 5000, "larger than the training set"),
        ("batch_size", 0, "at least 1"),
        ("epochs", 0, "at least 1"),
        ("learning_rate", 0.0, "above 0"),
        ("learning_rate", -0.1, "above 0"),
    ],
)
def test_bad_values_show_one_error_and_queue_nothing(
    store: Store, widget: str, value: float, words: str
) -> None:
    at = run(TRAIN)
    at.number_input(key=widget).set_value(value)
    at.button[0].click().run()
    assert not at.exception
    # Named under the button by the field's label, as the form shows it, never by its key;
    # what is wrong is said at the field.
    summary = f"**A setting to change**, marked above: {field_label(widget)}."
    assert [e.value for e in at.error] == [summary]
    (mark,) = [m.value for m in at.markdown if m.value.startswith(":red[")]
    assert words in mark and widget not in mark
    assert store.studies() == []


def test_a_dataset_missing_offline_says_which_file_and_where(store: Store, cache: Path) -> None:
    at = run(TRAIN)
    at.selectbox(key="dataset").set_value("cifar10")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["**A setting to change**, marked above: Dataset."]
    (message,) = [m.value for m in at.markdown if m.value.startswith(":red[")]
    assert "CIFAR-10" in message and str(cache / "keras") in message
    assert store.studies() == []


def test_train_queues_a_run_starts_the_worker_and_shows_it(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "1")
    at = run(TRAIN)
    at.number_input(key="epochs").set_value(1)
    at.selectbox(key="model").set_value("mlp")
    at.button[0].click().run()
    assert not at.exception and not at.error
    (trial,) = store.trials()
    assert trial.config["epochs"] == 1 and trial.config["model"] == "mlp"
    assert at.query_params["trial"] in (str(trial.id), [str(trial.id)])
    assert any(f"Run {trial.id}" in m.value for m in at.markdown)
    # The worker started by the page trains it; wait so it does not outlive the test folder.
    end = time.monotonic() + 120
    while not store.trial(trial.id).status.finished and time.monotonic() < end:
        time.sleep(0.3)
    assert store.trial(trial.id).status == Status.COMPLETED
    while worker_alive(cache) and time.monotonic() < end:
        time.sleep(0.3)


def test_a_completed_run_shows_metrics_summary_and_downloads(
    store: Store, completed_trial: int
) -> None:
    at = run(TRAIN, trial=str(completed_trial))
    assert not at.exception
    trial = store.trial(completed_trial)
    labels = {m.label: m.value for m in at.metric}
    assert labels["Test accuracy"] == f"{trial.test_accuracy:.1%}"
    low, high = trial.results["test_accuracy_ci"]
    interval = f"95% CI {low * 100:.1f}–{high * 100:.1f}%"
    stated = f"Test accuracy {trial.test_accuracy:.1%} ({interval}, 360 images)"
    assert any(c.value.startswith(stated) for c in at.caption)
    assert labels["Test loss"] == f"{trial.test_loss:.4f}"
    summary = at.dataframe[0].value
    assert list(summary.columns) == ["Layer", "Type", "Output shape", "Params"]
    assert summary["Params"].sum() == trial.results["params"]
    downloads = at.get("download_button")
    assert len(downloads) == 6  # model, weights, config, train.py, logs, all in one zip


@pytest.mark.parametrize(
    ("status", "error", "shown"),
    [
        (Status.FAILED, "Out of memory at batch size 64", "error"),
        (Status.DIVERGED, "The loss became NaN in epoch 3", "error"),
        (Status.INTERRUPTED, "The worker stopped", "warning"),
        (Status.CANCELLED, None, "info"),
    ],
)
def test_each_ending_is_explained(
    store: Store, status: Status, error: str | None, shown: str
) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig()], reserve_for=1)
    store.add_epoch(
        tid, 0, {"loss": 1.0, "val_loss": 1.1, "accuracy": 0.5, "val_accuracy": 0.4}, 1.0
    )
    store.finish_trial(tid, status, error=error)
    at = run(TRAIN, trial=str(tid))
    assert not at.exception
    elements = getattr(at, shown)
    assert len(elements) == 1
    assert (error or "Cancelled") in elements[0].value


def test_an_unknown_run_in_the_url_falls_back_to_the_latest(store: Store) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig()])
    store.request_cancel(tid)
    at = run(TRAIN, trial="999")
    assert "no run 999" in at.warning[0].value
    assert any(f"Run {tid}" in m.value for m in at.markdown)


def test_a_folder_too_small_for_a_test_set_shows_validation_and_fold_scores(
    store: Store, tmp_path: Path
) -> None:
    # Three folds of a folder of 3 classes of 30: no test set, each fold scored on its own 30.
    cfg = RunConfig(dataset=str(tmp_path / "jelly"), folds=3)
    _, ids = store.create_study("jelly · 3-fold", "kfold", [cfg] * 3, reserve_for=1)
    for tid, right in zip(ids, (27, 24, 21), strict=True):
        results = {
            "val_accuracy": right / 30,
            "val_loss": 0.5,
            "val_images": 30,
            "sizes": {"train": 60, "validation": 30, "test": 0},
        }
        store.finish_trial(tid, Status.COMPLETED, results=results)
    at = run(TRAIN, trial=str(ids[0]))
    assert not at.exception, [e.value for e in at.exception]
    assert any("validation accuracy **80.0% ± 10.0%**" in m.value for m in at.markdown)
    captions = [c.value for c in at.caption]
    assert "All 90 held-out images together: 80.0% (95% CI 70.6–87.0%)." in captions
    assert any(c.startswith("No test set: this folder is too small") for c in captions)
    labels = {m.label: m.value for m in at.metric}
    assert labels["Validation accuracy"] == "90.0%" and "Test accuracy" not in labels
    (note,) = [i.value for i in at.info]
    assert note.startswith("No test accuracy: this folder is too small for a separate test set")
    assert note.endswith("This fold's validation accuracy 90.0% (95% CI 74.4–96.5%, 30 images).")
