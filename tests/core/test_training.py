"""Training a trial end to end: a real fit on digits, recorded in the store."""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

from core.config import RunConfig
from core.datasets import load_splits
from core.store import Status, Store
from core.training import TrialMonitor, run_trial

FAST = {"epochs": 2, "batch_size": 64, "model": "mlp"}


def _run(store: Store, cache: Path, **changes) -> int:
    cfg = RunConfig(**{**FAST, **changes})
    _, (tid,) = store.create_study("t", "single", [cfg], claim_pid=1)
    with TrialMonitor(store, tid, interval=0.05) as monitor:
        run_trial(store, store.trial(tid), monitor, cache)
    return tid


def test_a_two_epoch_run_records_epochs_tests_and_saves(store: Store, cache: Path) -> None:
    tid = _run(store, cache, model="cnn", batch_size=16)
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED, trial.error
    epochs = store.epochs(tid)
    assert [e.epoch for e in epochs] == [0, 1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(
        epochs[0].metrics
    )
    assert epochs[1].metrics["loss"] < epochs[0].metrics["loss"]
    assert 0.5 < trial.test_accuracy <= 1.0 and math.isfinite(trial.test_loss)
    assert trial.results["sizes"] == {"train": 1149, "validation": 288, "test": 360}
    assert trial.results["params"] == sum(r["params"] for r in trial.results["summary"])

    artifacts = trial.results["artifacts"]
    model = keras.saving.load_model(artifacts["model"])
    splits = load_splits("digits", 0.2, 0, cache)
    scores = model.evaluate(splits.x_test, splits.y_test, verbose=0, return_dict=True)
    assert scores["accuracy"] == pytest.approx(trial.test_accuracy, abs=1e-6)
    assert RunConfig.from_dict(json.loads(Path(artifacts["config"]).read_text())) == (
        trial.run_config
    )
    model.load_weights(artifacts["weights"])


def test_nan_loss_marks_the_trial_diverged_at_that_epoch(store: Store, cache: Path) -> None:
    tid = _run(store, cache, optimizer="sgd", learning_rate=1e3, epochs=5)
    trial = store.trial(tid)
    assert trial.status == Status.DIVERGED
    assert trial.diverged_epoch is not None and "learning rate" in trial.error
    assert len(store.epochs(tid)) == trial.diverged_epoch + 1


def test_a_cancel_request_stops_the_fit_and_keeps_finished_epochs(
    store: Store, cache: Path
) -> None:
    cfg = RunConfig(**{**FAST, "epochs": 200, "batch_size": 8})
    _, (tid,) = store.create_study("t", "single", [cfg], claim_pid=1)
    seen: list[int] = []

    def cancel_after_first(epoch: int, metrics: dict, seconds: float) -> None:
        seen.append(epoch)
        store.request_cancel(tid)

    with TrialMonitor(store, tid, interval=0.05) as monitor:
        status = run_trial(store, store.trial(tid), monitor, cache, cancel_after_first)
    assert status == Status.CANCELLED
    assert store.trial(tid).status == Status.CANCELLED
    assert 1 <= len(store.epochs(tid)) <= 3


def test_early_stopping_ends_before_the_last_epoch(store: Store, cache: Path) -> None:
    # A learning rate this small barely moves val_loss; patience 1 stops at the first stall.
    tid = _run(
        store, cache, optimizer="sgd", learning_rate=1e-9, epochs=30, early_stopping_patience=1
    )
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED
    assert trial.results["stopped_early"] and trial.results["epochs_run"] < 30


def test_an_error_fails_the_trial_with_a_message_and_traceback(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("core.training.load_splits", broken)
    tid = _run(store, cache)
    trial = store.trial(tid)
    assert trial.status == Status.FAILED
    assert trial.error == "RuntimeError: disk on fire" and "Traceback" in trial.traceback


def test_progress_reaches_the_store_while_training(store: Store, cache: Path) -> None:
    tid = _run(store, cache, epochs=1)
    progress = store.trial(tid).progress
    assert progress["epochs"] == 1 and progress["batches"] == math.ceil(1149 / 64)
    assert np.isfinite(progress.get("eta_s", 0))
