"""The store: queueing, claiming, epochs, endings, cancel and dead-worker detection."""

from __future__ import annotations

import ast
import os
import sqlite3
import time
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import SCHEMA_VERSION, Status, Store, liveness


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
    _, (tid,) = store.create_study("s", "single", [RunConfig()], reserve_for=1)
    for epoch in (0, 1, 2):
        store.add_epoch(tid, epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0}, 0.5)
    assert [e.epoch for e in store.epochs(tid)] == [0, 1, 2]
    assert [e.epoch for e in store.epochs(tid, after=0)] == [1, 2]
    assert store.epochs(tid)[2].metrics["loss"] == pytest.approx(1 / 3)


def test_a_finished_trial_keeps_its_first_ending(store: Store) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig()], reserve_for=1)
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
    _, (tid,) = store.create_study("s", "single", [RunConfig()], reserve_for=1)
    assert store.claim(tid, pid=1)
    assert store.heartbeat(tid, {"epoch": 1}) is False
    store.request_cancel(tid)
    assert store.heartbeat(tid) is True
    assert store.trial(tid).status == Status.RUNNING  # the worker decides when it stops


def test_silent_running_trials_are_marked_interrupted_with_their_epochs_kept(
    store: Store, dead_pid: int
) -> None:
    _, (dead,) = store.create_study("dead", "single", [RunConfig()])
    _, (alive,) = store.create_study("alive", "single", [RunConfig()])
    assert store.claim(dead, pid=dead_pid) and store.claim(alive, pid=os.getpid())
    store.add_epoch(dead, 0, {"loss": 1.0}, 1.0)
    store.add_epoch(dead, 1, {"loss": 0.5}, 1.0)
    time.sleep(0.3)
    assert store.reap_stale(timeout_s=0.2) == [dead]
    trial = store.trial(dead)
    assert trial.status == Status.INTERRUPTED and "2 finished epoch" in trial.error
    assert "fork it from a finished epoch" in trial.error
    assert len(store.epochs(dead)) == 2
    # Quiet as long, but its process (this one) is alive: a paused or busy owner keeps it.
    assert store.trial(alive).status == Status.RUNNING


def test_a_quiet_trial_of_a_live_process_is_kept_and_a_reused_pid_is_not_that_process(
    store: Store,
) -> None:
    _, (mine,) = store.create_study("mine", "single", [RunConfig()])
    _, (reused,) = store.create_study("reused", "single", [RunConfig()])
    assert store.claim(mine) and store.claim(reused)
    with store.transaction() as db:  # as if process os.getpid() had started a minute earlier
        db.execute("UPDATE trials SET worker_started=worker_started-60 WHERE id=?", (reused,))
    time.sleep(0.3)
    assert store.reap_stale(timeout_s=0.2) == [reused]
    assert store.trial(mine).status == Status.RUNNING


def test_a_quiet_trial_of_another_host_is_judged_by_its_heartbeat_age(store: Store) -> None:
    _, (remote,) = store.create_study("remote", "single", [RunConfig()])
    assert store.claim(remote)
    with store.transaction() as db:
        db.execute(
            "UPDATE trials SET worker='elsewhere:1', heartbeat_at=? WHERE id=?",
            (time.time() - liveness.REMOTE_TIMEOUT_S / 2, remote),
        )
    assert store.reap_stale() == []  # quiet, but not yet for the remote timeout
    with store.transaction() as db:
        db.execute(
            "UPDATE trials SET heartbeat_at=? WHERE id=?",
            (time.time() - liveness.REMOTE_TIMEOUT_S - 1, remote),
        )
    assert store.reap_stale() == [remote]


def test_trials_a_command_reserved_wait_for_it_and_end_when_it_does(
    store: Store, dead_pid: int
) -> None:
    _, (kept,) = store.create_study("mine", "sweep", [RunConfig()], reserve_for=os.getpid())
    _, (orphan,) = store.create_study("gone", "sweep", [RunConfig()], reserve_for=dead_pid)
    assert store.claim_next(pid=1) is None  # no worker takes a reserved trial
    assert not store.claim(kept, pid=1)  # nor does another process
    assert store.reap_stale(timeout_s=0) == [orphan]
    assert "ended before it started" in store.trial(orphan).error
    assert store.trial(kept).status == Status.QUEUED
    assert store.claim(kept)
    trial = store.trial(kept)
    assert trial.status == Status.RUNNING and trial.started_at is not None


def test_a_late_result_of_a_reaped_trial_is_kept_by_its_owner(store: Store) -> None:
    _, (tid,) = store.create_study("paused", "single", [RunConfig()])
    assert store.claim(tid)
    store.add_epoch(tid, 0, {"loss": 1.0}, 1.0)
    with store.transaction() as db:  # as the reaper of a host that could not check it does
        db.execute("UPDATE trials SET status='interrupted', error='stopped' WHERE id=?", (tid,))
    store.add_epoch(tid, 1, {"loss": 0.5}, 1.0)
    store.finish_trial(tid, Status.COMPLETED, results={"test_accuracy": 0.9, "test_loss": 0.3})
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED and trial.test_accuracy == 0.9
    assert trial.error is None and trial.results["reconciled"]["interruption"] == "stopped"
    assert len(store.epochs(tid)) == 2


def test_a_late_result_from_another_process_does_not_overwrite_an_ending(
    store: Store, dead_pid: int
) -> None:
    _, (tid,) = store.create_study("dead", "single", [RunConfig()])
    assert store.claim(tid, pid=dead_pid)
    assert store.reap_stale(timeout_s=0) == [tid]
    store.finish_trial(tid, Status.COMPLETED, results={"test_accuracy": 0.9})
    assert store.trial(tid).status == Status.INTERRUPTED


def test_a_heartbeat_of_its_owner_brings_a_reaped_trial_back(store: Store) -> None:
    _, (tid,) = store.create_study("paused", "single", [RunConfig()])
    assert store.claim(tid)
    with store.transaction() as db:
        db.execute("UPDATE trials SET status='interrupted', error='stopped' WHERE id=?", (tid,))
    store.heartbeat(tid, {"epoch": 2})
    trial = store.trial(tid)
    assert trial.status == Status.RUNNING and trial.error is None
    assert trial.results["reconciled"]["now"] == "running"


def test_trials_filter_by_study_and_status(store: Store) -> None:
    s1, t1 = store.create_study("a", "sweep", [RunConfig(), RunConfig(seed=1)])
    s2, t2 = store.create_study("b", "single", [RunConfig()])
    store.request_cancel(t1[0])
    assert {t.id for t in store.trials(study_ids=[s1])} == set(t1)
    assert [t.id for t in store.trials(statuses=(Status.QUEUED,))] == [t2[0], t1[1]]
    assert [s.id for s in store.studies()] == [s2, s1]
    with pytest.raises(KeyError):
        store.trial(999)


def test_a_silent_search_trial_is_told_that_resume_continues_it(
    store: Store, dead_pid: int
) -> None:
    _, (dead,) = store.create_study("search", "search", [RunConfig()])
    assert store.claim(dead, pid=dead_pid)
    store.add_epoch(dead, 0, {"loss": 1.0}, 1.0)
    time.sleep(0.3)
    assert store.reap_stale(timeout_s=0.2) == [dead]
    assert "Resume continues this trial" in store.trial(dead).error


# -- the transaction API the store's own modules use, and no one else's use of its privates --


def test_a_transaction_commits_on_leaving_and_rolls_back_on_error(store: Store) -> None:
    study_id, _ = store.create_study("before", "single", [RunConfig()])
    with pytest.raises(RuntimeError, match="midway"), store.transaction() as db:
        db.execute("UPDATE studies SET name='lost' WHERE id=?", (study_id,))
        raise RuntimeError("midway")
    assert store.study(study_id).name == "before"
    with store.transaction() as db:
        db.execute("UPDATE studies SET name='after' WHERE id=?", (study_id,))
    with store.connection() as db:
        row = db.execute("SELECT name FROM studies WHERE id=?", (study_id,)).fetchone()
    assert row["name"] == "after" == store.study(study_id).name


def test_a_transaction_holds_the_write_lock_from_its_start(store: Store) -> None:
    # What makes a read-modify-write in one transaction safe against other writers.
    with store.transaction():
        other = sqlite3.connect(store.path, timeout=0.1, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Store's own private names and those of its bases (the file, the reads).
STORE_PRIVATE = {n for n in dir(Store) if n.startswith("_") and not n.startswith("__")}
STORE_MODULES = {
    PROJECT_ROOT / "core" / "store" / f for f in ("sqlite.py", "store_file.py", "reads.py")
}


def store_private_calls(tree: ast.Module) -> list[str]:
    """``line: call`` for every use of one of Store's private methods, bar one's own class's."""
    return [
        f"{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in STORE_PRIVATE
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]


def test_only_the_store_calls_its_private_methods() -> None:
    files = [PROJECT_ROOT / "app.py"]
    for folder in ("core", "pages", "benchmarks"):
        files += sorted((PROJECT_ROOT / folder).rglob("*.py"))
    found = {
        str(path.relative_to(PROJECT_ROOT)): calls
        for path in files
        if path not in STORE_MODULES and (calls := store_private_calls(ast.parse(path.read_text())))
    }
    assert STORE_PRIVATE, "Store has no private methods left to guard"
    assert not found, found


def test_the_private_call_scan_finds_a_call_through_a_store() -> None:
    code = "def f(store):\n    with store._write() as db:\n        db.execute('SELECT 1')\n"
    assert store_private_calls(ast.parse(code)) == ["2: store._write"]
