"""The store: queueing, claiming, epochs, endings, cancel and dead-worker detection."""

from __future__ import annotations

import sqlite3
import time

import pytest

from core.spec.config import RunConfig
from core.store import SCHEMA_VERSION, Status, Store


def test_new_store_uses_wal_and_records_its_schema_version(store: Store) -> None:
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version() == SCHEMA_VERSION


def test_reopening_keeps_the_data(store: Store) -> None:
    study_id, _ = store.create_study("s", "single", [RunConfig()])
    assert Store(store.path).study(study_id).name == "s"


def test_trials_are_claimed_oldest_first_and_only_once(store: Store) -> None:
    _, first = store.create_study("a", "single", [RunConfig()])
    _, second = store.create_study("b", "single", [RunConfig(seed=1)])
    claimed = store.claim_next(pid=123)
    assert claimed is not None and claimed.id == first[0]
    assert claimed.status == Status.RUNNING and claimed.worker_pid == 123
    assert store.claim_next(pid=123).id == second[0]
    assert store.claim_next(pid=123) is None


def test_config_is_stored_with_its_hash(store: Store) -> None:
    cfg = RunConfig(batch_size=32)
    _, (tid,) = store.create_study("s", "single", [cfg])
    trial = store.trial(tid)
    assert trial.run_config == cfg and trial.config_hash == cfg.config_hash()


def test_epochs_come_back_in_order_and_after_a_given_one(store: Store) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig()], claim_pid=1)
    for epoch in (0, 1, 2):
        store.add_epoch(tid, epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0}, 0.5)
    assert [e.epoch for e in store.epochs(tid)] == [0, 1, 2]
    assert [e.epoch for e in store.epochs(tid, after=0)] == [1, 2]
    assert store.epochs(tid)[2].metrics["loss"] == pytest.approx(1 / 3)


def test_a_finished_trial_keeps_its_first_ending(store: Store) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig()], claim_pid=1)
    store.finish_trial(tid, Status.COMPLETED, results={"test_accuracy": 0.9, "test_loss": 0.3})
    store.finish_trial(tid, Status.FAILED, error="late")
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED and trial.test_accuracy == 0.9 and trial.error is None


def test_cancel_of_a_queued_trial_is_immediate(store: Store) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig()])
    store.request_cancel(tid)
    assert store.trial(tid).status == Status.CANCELLED
    assert store.claim_next(pid=1) is None


def test_cancel_of_a_running_trial_reaches_its_heartbeat(store: Store) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig()], claim_pid=1)
    assert store.heartbeat(tid, {"epoch": 1}) is False
    store.request_cancel(tid)
    assert store.heartbeat(tid) is True
    assert store.trial(tid).status == Status.RUNNING  # the worker decides when it stops


def test_silent_running_trials_are_marked_interrupted_with_their_epochs_kept(
    store: Store,
) -> None:
    _, (dead,) = store.create_study("dead", "single", [RunConfig()], claim_pid=1)
    _, (alive,) = store.create_study("alive", "single", [RunConfig()], claim_pid=2)
    store.add_epoch(dead, 0, {"loss": 1.0}, 1.0)
    store.add_epoch(dead, 1, {"loss": 0.5}, 1.0)
    time.sleep(0.3)
    store.heartbeat(alive)
    assert store.reap_stale(timeout_s=0.2) == [dead]
    trial = store.trial(dead)
    assert trial.status == Status.INTERRUPTED and "2 finished epoch" in trial.error
    assert "fork it from a finished epoch" in trial.error
    assert len(store.epochs(dead)) == 2
    assert store.trial(alive).status == Status.RUNNING


def test_trials_filter_by_study_and_status(store: Store) -> None:
    s1, t1 = store.create_study("a", "sweep", [RunConfig(), RunConfig(seed=1)])
    s2, t2 = store.create_study("b", "single", [RunConfig()])
    store.request_cancel(t1[0])
    assert {t.id for t in store.trials(study_ids=[s1])} == set(t1)
    assert [t.id for t in store.trials(statuses=(Status.QUEUED,))] == [t2[0], t1[1]]
    assert [s.id for s in store.studies()] == [s2, s1]
    with pytest.raises(KeyError):
        store.trial(999)


def test_a_silent_search_trial_is_told_that_resume_continues_it(store: Store) -> None:
    _, (dead,) = store.create_study("search", "search", [RunConfig()], claim_pid=1)
    store.add_epoch(dead, 0, {"loss": 1.0}, 1.0)
    time.sleep(0.3)
    assert store.reap_stale(timeout_s=0.2) == [dead]
    assert "Resume continues this trial" in store.trial(dead).error
