"""Training a trial end to end: a real fit on digits, recorded in the store."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from core.analysis.folds import summarize_folds
from core.engine.loading.datasets import load_splits
from core.engine.loading.folds import load_fold
from core.engine.training import TrialMonitor, run_trial
from core.spec.config import RunConfig
from core.store import Status, Store

FAST = {"epochs": 2, "batch_size": 64, "model": "mlp"}


def _run(store: Store, cache: Path, **changes) -> int:
    cfg = RunConfig(**{**FAST, **changes})
    _, (tid,) = store.create_study("t", "single", [cfg], reserve_for=1)
    with TrialMonitor(store, tid, interval=0.05) as monitor:
        run_trial(store, store.trial(tid), monitor, cache)
    return tid


def test_a_two_epoch_run_records_epochs_tests_and_saves(store: Store, cache: Path) -> None:
    tid = _run(store, cache, model="cnn", batch_size=16)
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED, trial.error
    epochs = store.epochs(tid)
    assert [e.epoch for e in epochs] == [0, 1]
    assert set(epochs[0].metrics) == {
        *("loss", "accuracy", "f1", "top5"),
        *("val_loss", "val_accuracy", "val_f1", "val_top5"),
        "learning_rate",
    }
    assert epochs[1].metrics["loss"] < epochs[0].metrics["loss"]
    assert 0.5 < trial.test_accuracy <= 1.0 and math.isfinite(trial.test_loss)
    results = trial.results
    assert 0.4 < results["test_f1"] <= 1.0 and results["test_accuracy"] <= results["test_top5"]
    assert results["fold"] is None
    assert trial.results["sizes"] == {"train": 1149, "validation": 288, "test": 360}
    assert trial.results["params"] == sum(r["params"] for r in trial.results["summary"])

    artifacts = trial.results["artifacts"]
    with zipfile.ZipFile(artifacts["model"]) as saved:
        # Only Keras's own classes, so the file loads where this project is not installed.
        assert "hpe>" not in saved.read("config.json").decode()
    model = keras.saving.load_model(artifacts["model"])
    splits = load_splits("digits", 0.2, 0, cache)
    scores = model.evaluate(splits.x_test, splits.y_test, verbose=0, return_dict=True)
    assert scores["accuracy"] == pytest.approx(trial.test_accuracy, abs=1e-6)
    assert RunConfig.from_dict(json.loads(Path(artifacts["config"]).read_text())) == (
        trial.run_config
    )
    model.load_weights(artifacts["weights"])


def test_nan_loss_marks_the_trial_diverged_at_that_epoch(store: Store, cache: Path) -> None:
    tid = _run(store, cache, optimizer="sgd", learning_rate=1e3, epochs=5, dense_layers=3)
    trial = store.trial(tid)
    assert trial.status == Status.DIVERGED
    assert trial.diverged_epoch is not None and "learning rate" in trial.error
    assert len(store.epochs(tid)) == trial.diverged_epoch + 1


def test_a_cancel_request_stops_the_fit_and_keeps_finished_epochs(
    store: Store, cache: Path
) -> None:
    cfg = RunConfig(**{**FAST, "epochs": 200, "batch_size": 8})
    _, (tid,) = store.create_study("t", "single", [cfg], reserve_for=1)
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

    monkeypatch.setattr("core.engine.executor.load_splits", broken)
    tid = _run(store, cache)
    trial = store.trial(tid)
    assert trial.status == Status.FAILED
    assert trial.error == "RuntimeError: disk on fire" and "Traceback" in trial.traceback


def test_progress_reaches_the_store_while_training(store: Store, cache: Path) -> None:
    tid = _run(store, cache, epochs=1)
    progress = store.trial(tid).progress
    assert progress["epochs"] == 1 and progress["batches"] == math.ceil(1149 / 64)
    assert np.isfinite(progress.get("eta_s", 0))


def _epoch_metrics(store: Store, tid: int) -> list[dict[str, float]]:
    return [e.metrics for e in store.epochs(tid)]


def test_the_same_config_trains_to_exactly_the_same_metrics(store: Store, cache: Path) -> None:
    # Augmentation, shuffling, dropout and initial weights all draw random numbers.
    same = {"augment": ["flip", "rotation:15"], "dropout": 0.5, "batch_size": 256}
    first = _epoch_metrics(store, _run(store, cache, **same))
    second = _epoch_metrics(store, _run(store, cache, **same))
    assert len(first) == 2 and first == second
    other = _epoch_metrics(store, _run(store, cache, seed=1, **same))
    assert other[0]["loss"] != first[0]["loss"] and other[1]["val_loss"] != first[1]["val_loss"]


def test_step_decay_cuts_the_recorded_rate_after_each_decay_period(
    store: Store, cache: Path
) -> None:
    tid = _run(
        store,
        cache,
        epochs=5,
        batch_size=512,
        optimizer="sgd",
        learning_rate=0.1,
        lr_schedule="step",
        lr_decay_steps=2,
        lr_decay_rate=0.1,
    )
    rates = [m["learning_rate"] for m in _epoch_metrics(store, tid)]
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001], rel=1e-5)


def test_early_stopping_watches_the_configured_metric(store: Store, cache: Path) -> None:
    # At this rate val_loss still falls a little every epoch, while no prediction changes, so
    # val_accuracy stalls at once.
    slow = {
        **{"optimizer": "sgd", "learning_rate": 1e-5, "batch_size": 256, "epochs": 4},
        "early_stopping_patience": 1,
    }
    by_loss = store.trial(_run(store, cache, **slow, early_stopping_monitor="val_loss"))
    losses = [m["val_loss"] for m in _epoch_metrics(store, by_loss.id)]
    assert losses == sorted(losses, reverse=True) and len(set(losses)) == 4
    assert by_loss.results["epochs_run"] == 4 and by_loss.results["best_epoch"] == 3

    by_acc = store.trial(_run(store, cache, **slow, early_stopping_monitor="val_accuracy"))
    assert by_acc.results["stopped_early"] and by_acc.results["epochs_run"] == 2
    assert by_acc.results["best_epoch"] == 0


def test_a_k_fold_study_trains_each_fold_on_its_own_validation_part(
    store: Store, cache: Path
) -> None:
    cfg = RunConfig(**{**FAST, "epochs": 1, "batch_size": 512, "folds": 3})
    _, tids = store.create_study("cv", "kfold", [cfg] * 3, reserve_for=1)
    for tid in tids:
        with TrialMonitor(store, tid, interval=0.05) as monitor:
            assert run_trial(store, store.trial(tid), monitor, cache) == Status.COMPLETED

    trials = [store.trial(tid) for tid in tids]
    assert [t.number for t in trials] == [t.results["fold"] for t in trials] == [0, 1, 2]
    folds = [load_fold(cfg, i, cache) for i in range(3)]
    for trial, fold in zip(trials, folds, strict=True):
        assert trial.results["sizes"] == {
            "train": len(fold.x_train),
            "validation": len(fold.x_val),
            "test": 360,
        }
        assert len(store.epochs(trial.id)) == 1 and 0 < trial.test_accuracy <= 1
        # Each fold is scored on its own held-out part, the model it kept after its one epoch.
        assert trial.results["val_images"] == len(fold.y_val)
        val = store.epochs(trial.id)[0].metrics["val_accuracy"]
        assert trial.results["val_accuracy"] == pytest.approx(val, abs=1e-6)
    assert len({store.epochs(t.id)[0].metrics["val_loss"] for t in trials}) == 3
    summary = summarize_folds(trials)
    assert summary.fold_values == [t.results["val_accuracy"] for t in trials]
    assert summary.pooled.images == 1437 and summary.test.images == 360
    assert summary.test_values == [t.test_accuracy for t in trials]

    # The validation parts are disjoint and make up the whole training split (1,437 images).
    def rows(x: np.ndarray, y: np.ndarray) -> list[bytes]:
        return sorted(img.tobytes() + bytes([label]) for img, label in zip(x, y, strict=True))

    whole = load_splits("digits", 0.2, 0, cache)
    everything = rows(
        np.concatenate([whole.x_train, whole.x_val]), np.concatenate([whole.y_train, whole.y_val])
    )
    held = [rows(f.x_val, f.y_val) for f in folds]
    assert sum(len(h) for h in held) == len(everything) == 1437
    assert sorted(r for h in held for r in h) == everything
    for fold, part in zip(folds, held, strict=True):
        assert sorted(rows(fold.x_train, fold.y_train) + part) == everything
        assert abs(len(part) - 1437 / 3) <= 1
        assert np.bincount(fold.y_val).min() >= 15  # stratified: every digit in every part
