"""Forking a run mid-training: a fork that changes nothing repeats its parent exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.engine.training import TrialMonitor, run_trial
from core.spec.config import ConfigError, RunConfig
from core.store import Status, Store
from core.worker import forks as fork

# Dropout and augmentation on: both draw random numbers that a fork must draw again the same.
PARENT = RunConfig(
    epochs=3, batch_size=64, model="mlp", dropout=0.3, augment=("flip", "rotation:10")
)


def _train(store: Store, root: Path, trial_id: int) -> None:
    with TrialMonitor(store, trial_id, interval=0.05) as monitor:
        run_trial(store, store.trial(trial_id), monitor, root)


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path, int]:
    """A finished three-epoch run with a checkpoint per epoch, shared by the tests here."""
    root = tmp_path_factory.mktemp("cache")
    store = Store(root / "store.sqlite")
    _, (tid,) = store.create_study("parent", "single", [PARENT], reserve_for=1)
    _train(store, root, tid)
    assert store.trial(tid).status == Status.COMPLETED, store.trial(tid).error
    return store, root, tid


def _fork(store: Store, root: Path, parent_id: int, epoch: int, **changes: object) -> int:
    plan = fork.plan_fork(store, parent_id, epoch, changes, root)
    _, tid = fork.queue_fork(store, plan, reserve_for=1)
    _train(store, root, tid)
    return tid


def test_a_fork_with_no_change_repeats_the_parents_next_epochs_exactly(parent) -> None:
    store, root, parent_id = parent
    tid = _fork(store, root, parent_id, 1)
    child = store.trial(tid)
    assert child.status == Status.COMPLETED, child.error
    assert (child.parent_id, child.fork_epoch) == (parent_id, 0)
    theirs = {e.epoch: e.metrics for e in store.epochs(parent_id)}
    ours = {e.epoch: e.metrics for e in store.epochs(tid)}
    assert sorted(ours) == [1, 2]
    for epoch in (1, 2):
        assert ours[epoch] == theirs[epoch]  # every metric, bit for bit
    assert child.test_accuracy == store.trial(parent_id).test_accuracy
    # Epochs are numbered from the run's start in a fork's results too.
    assert child.results["best_epoch"] == store.trial(parent_id).results["best_epoch"] == 2
    assert child.results["epochs_run"] == 2 and not child.results["stopped_early"]


def test_a_forked_learning_rate_is_the_optimizers_after_the_fork(parent) -> None:
    store, root, parent_id = parent
    tid = _fork(store, root, parent_id, 2, learning_rate=1e-4, batch_size=32, epochs=4)
    assert store.trial(tid).status == Status.COMPLETED, store.trial(tid).error
    epochs = store.epochs(tid)
    assert [e.epoch for e in epochs] == [2, 3]
    assert all(e.metrics["learning_rate"] == pytest.approx(1e-4) for e in epochs)
    assert store.epochs(parent_id)[2].metrics["learning_rate"] == pytest.approx(1e-3)
    assert epochs[0].metrics["loss"] != store.epochs(parent_id)[2].metrics["loss"]


def test_a_fork_may_switch_optimizer_and_keeps_the_trained_weights(parent) -> None:
    store, root, parent_id = parent
    tid = _fork(store, root, parent_id, 3, optimizer="sgd", momentum=0.9, epochs=4)
    child = store.trial(tid)
    assert child.status == Status.COMPLETED, child.error
    # Starting from trained weights, its one epoch is already far better than chance.
    assert store.epochs(tid)[0].metrics["val_accuracy"] > 0.5


def test_fork_refuses_what_cannot_change_mid_training(parent) -> None:
    store, root, parent_id = parent
    with pytest.raises(ConfigError, match="model: cannot change mid-training"):
        fork.plan_fork(store, parent_id, 1, {"model": "cnn"}, root)
    with pytest.raises(
        ConfigError, match="epoch: run .* has not finished epoch 7; these .*: 1, 2, 3$"
    ):
        fork.plan_fork(store, parent_id, 7, {}, root)
    with pytest.raises(ConfigError, match="epochs: is 3, so nothing is left"):
        fork.plan_fork(store, parent_id, 3, {}, root)
    with pytest.raises(ConfigError, match="learning_rate"):
        fork.plan_fork(store, parent_id, 1, {"learning_rate": -1.0}, root)
    with pytest.raises(ConfigError, match="trial: there is no run #999"):
        fork.plan_fork(store, 999, 1, {}, root)
