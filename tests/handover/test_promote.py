"""Promoting a run: its config again on train + validation for its best epochs, then tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.handover.promote import (
    PROMOTE_KIND,
    PromoteError,
    promoted_config,
    promotions_of,
    queue_promotion,
)
from core.spec.config import RunConfig
from core.store import Status, Store


def _train_next(store: Store, cache: Path) -> int:
    """Claim the oldest queued trial and train it, as the worker does; return its id."""
    from core.engine.training import TrialMonitor, run_trial

    trial = store.claim_next(pid=1)
    assert trial is not None
    with TrialMonitor(store, trial.id) as monitor:
        run_trial(store, trial, monitor, cache)
    return trial.id


def test_a_promoted_run_trains_on_train_and_validation_for_the_best_epochs(
    store: Store, cache: Path, completed_trial: int
) -> None:
    source_id = completed_trial  # a real 2-epoch mlp run on digits (tests/conftest.py)
    source = store.trial(source_id)
    assert source.status == Status.COMPLETED, source.error
    best = source.results["best_epoch"]

    study_id, promoted_id = queue_promotion(store, source_id)
    study, promoted = store.study(study_id), store.trial(promoted_id)
    assert study.kind == PROMOTE_KIND and study.spec["source"] == source_id
    assert promoted.parent_id == source_id and promoted.status == Status.QUEUED
    assert promoted.config == {**source.config, "epochs": best + 1}
    assert [t.id for t in promotions_of(store, source_id)] == [promoted_id]

    assert _train_next(store, cache) == promoted_id
    done = store.trial(promoted_id)
    assert done.status == Status.COMPLETED, done.error
    sizes = source.results["sizes"]
    assert done.results["sizes"] == {
        "train": sizes["train"] + sizes["validation"],
        "validation": 0,
        "test": sizes["test"],
    }
    epochs = store.epochs(promoted_id)
    assert len(epochs) == best + 1
    assert all("val_loss" not in e.metrics and "loss" in e.metrics for e in epochs)
    assert 0.0 < done.test_accuracy <= 1.0
    assert Path(done.results["artifacts"]["model"]).is_file()


def test_only_a_completed_single_run_can_be_promoted(store: Store) -> None:
    _, (queued,) = store.create_study("waiting", "single", [RunConfig()])
    with pytest.raises(PromoteError, match="only a completed run"):
        queue_promotion(store, queued)
    _, folds = store.create_study("cv", "kfold", [RunConfig(folds=3)] * 3)
    store.request_cancel(queued)
    for tid in folds:
        store.claim_next(pid=1)
        store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.9, "best_epoch": 4})
    with pytest.raises(PromoteError, match="cross-validation"):
        promoted_config(store.trial(folds[0]))
    assert len(store.studies()) == 2  # nothing was queued
    with pytest.raises(KeyError):
        queue_promotion(store, 999)


def test_a_run_best_inside_its_warm_up_is_refused_with_what_to_do(store: Store) -> None:
    _, (tid,) = store.create_study("warm", "single", [RunConfig(warmup_epochs=3)], reserve_for=1)
    store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.5, "best_epoch": 1})
    with pytest.raises(PromoteError, match="inside its 3-epoch warm-up; fork it"):
        promoted_config(store.trial(tid))
    assert len(store.studies()) == 1


def test_without_a_best_epoch_the_promotion_trains_the_epochs_run(store: Store) -> None:
    _, (tid,) = store.create_study("done", "single", [RunConfig(epochs=8)], reserve_for=1)
    store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.9, "epochs_run": 5})
    assert promoted_config(store.trial(tid)).epochs == 5


def test_a_search_trial_is_promoted_for_its_best_step_not_all_its_executions(
    store: Store,
) -> None:
    # Two executions of 3 epochs each record 6 epoch rows; keras-tuner scored step 1 best.
    _, (tid,) = store.create_study("search", "search", [RunConfig(epochs=3)], reserve_for=1)
    store.finish_trial(tid, Status.COMPLETED, {"best_step": 1, "epochs_run": 6})
    assert promoted_config(store.trial(tid)).epochs == 2
    _, (other,) = store.create_study("search", "search", [RunConfig(epochs=3)], reserve_for=1)
    store.finish_trial(other, Status.COMPLETED, {"epochs_run": 6})
    assert promoted_config(store.trial(other)).epochs == 3
