"""The store's reads stay cheap with many runs: brief lists, only-new rows, reused connections.

And the idle worker's calls (reaping, claiming, the backup check) write nothing when there is
nothing to do.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from core.spec.config import RunConfig
from core.store import SCHEMA_VERSION, Status, Store, backup, curves, liveness
from core.store import searches as search_store
from core.store.records import brief_results
from core.store.trial_cache import TrialCache

BIG = {
    "test_accuracy": 0.9,
    "summary": [{"layer": f"dense_{i}", "params": i} for i in range(20_000)],
    "classes": {"split": "test", "confusion": [[1] * 100] * 100, "macro": {"f1": 0.8}},
    "test_hits": {"images": 10, "bits": "AA=="},
}


def _finished(store: Store, results: dict | None = None, count: int = 1) -> list[int]:
    _, ids = store.create_study("s", "sweep", [RunConfig(seed=i) for i in range(count)])
    for tid in ids:
        store.claim(tid)
        store.finish_trial(tid, Status.COMPLETED, results or BIG)
    return ids


def _columns_read(store: Store, call) -> set[tuple[str, str]]:
    """The (table, column) pairs SQLite reads for ``call`` on this thread's connection."""
    seen: set[tuple[str, str]] = set()

    def note(action: int, table: str | None, column: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and table and column:
            seen.add((table, column))
        return sqlite3.SQLITE_OK

    with store.connection() as db:
        db.set_authorizer(note)
    call()
    with store.connection() as db:
        db.set_authorizer(None)
    return seen


def test_lists_of_trials_never_read_the_whole_results(store: Store) -> None:
    (tid,) = _finished(store)
    read = _columns_read(store, lambda: store.trials(statuses=(Status.COMPLETED,)))
    assert ("trials", "results") in read and ("trial_results", "full") not in read
    (listed,) = store.trials()
    assert listed.results == brief_results(BIG)
    assert "summary" not in listed.results and "confusion" not in listed.results["classes"]
    assert listed.results["classes"]["macro"] == {"f1": 0.8} and listed.test_accuracy == 0.9
    assert store.trial(tid).results == BIG  # one trial by its id carries everything


def test_results_merged_later_reach_the_brief_too(store: Store) -> None:
    (tid,) = _finished(store)
    search_store.set_results(store, tid, {"rank": 1, "summary": ["again"]})
    (listed,) = store.trials()
    assert listed.results["rank"] == 1 and "summary" not in listed.results


def test_after_returns_exactly_the_trials_added_since(store: Store) -> None:
    first = _finished(store, {"test_accuracy": 0.5}, count=3)
    newer = _finished(store, {"test_accuracy": 0.6}, count=2)
    assert [t.id for t in store.trials(after=first[-1])] == newer[::-1]
    assert [t.id for t in store.trials(after=first[0])] == [*newer[::-1], first[2], first[1]]
    assert store.trials(after=newer[-1]) == []


def test_trials_of_a_parent_are_found_by_its_index(store: Store) -> None:
    parent, other = _finished(store, {"test_accuracy": 0.5}, count=2)
    _, fork = store.fork_trial(parent, 0, RunConfig(), "fork")
    store.fork_trial(other, 0, RunConfig(), "fork of the other")
    assert [t.id for t in store.trials(parent_id=parent)] == [fork]
    with store.connection() as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM trials WHERE parent_id=?", (parent,)
        ).fetchall()
    assert "trials_by_parent" in " ".join(row["detail"] for row in plan)


def _as_version_4(path: Path) -> None:
    """Make a current store file look like one written at schema version 4."""
    db = sqlite3.connect(path)
    db.executescript(
        "UPDATE trials SET results = (SELECT full FROM trial_results WHERE trial_id = trials.id)"
        " WHERE id IN (SELECT trial_id FROM trial_results);"
        "DROP TABLE trial_results; DROP TABLE curve_summaries; DROP TRIGGER trials_revision;"
        "DROP INDEX trials_by_parent; DROP INDEX studies_by_state; DROP INDEX trials_by_revision;"
        "ALTER TABLE trials DROP COLUMN revision;"
        "UPDATE meta SET value='4' WHERE key='schema_version';"
    )
    db.close()


def test_a_version_4_store_gets_the_parent_index_and_its_results_moved(store: Store) -> None:
    (tid,) = _finished(store)
    store.close()
    _as_version_4(store.path)
    with sqlite3.connect(store.path) as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list(trials)")}
    assert "trials_by_parent" not in indexes
    with sqlite3.connect(store.path) as db:  # version 4 kept the whole results in the row
        assert "confusion" in db.execute("SELECT results FROM trials").fetchone()[0]

    reopened = Store(store.path)
    assert reopened.schema_version() == SCHEMA_VERSION == 5
    with reopened.connection() as db:
        indexes = {row["name"] for row in db.execute("PRAGMA index_list(trials)")}
    assert "trials_by_parent" in indexes
    (listed,) = reopened.trials()
    assert listed.results == brief_results(BIG)
    assert reopened.trial(tid).results == BIG
    reopened.heartbeat(tid)
    assert reopened.revisions() == {tid: 1}


def test_a_thread_reuses_its_connection_and_sees_other_writers(store: Store) -> None:
    with store.connection() as first:
        pass
    with store.connection() as again:
        assert again is first
    with store.connection() as outer, store.connection() as inner:
        assert inner is not outer  # a call made while the connection is in use gets its own
    other: list[sqlite3.Connection] = []

    def elsewhere() -> None:
        with store.connection() as db:
            other.append(db)

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert other and other[0] is not first
    (tid,) = _finished(Store(store.path), {"test_accuracy": 0.7})  # another store object
    assert store.trial(tid).test_accuracy == 0.7


def _idle_pass(store: Store) -> None:
    assert backup.take_if_due(store.path) is None
    assert store.reap_stale(timeout_s=0) == []  # every live row checked, none dead
    assert store.claim_next(pid=1) is None
    assert search_store.reap(store, timeout_s=0) == []
    assert search_store.claim(store) is None


def test_the_idle_workers_calls_write_nothing(store: Store) -> None:
    _finished(store, {"test_accuracy": 0.5}, count=3)
    _, (live,) = store.create_study("live", "single", [RunConfig()])
    assert store.claim(live)  # running for this process, which is alive
    store.heartbeat(live)
    search = store.create_study("search", "search", [])[0]
    search_store.set_state(store, search, "running", here=True)
    backup.take(store.path)
    watcher = sqlite3.connect(store.path)
    version = watcher.execute("PRAGMA data_version").fetchone()[0]
    wal = store.path.with_name(store.path.name + "-wal")
    before = (wal.stat().st_size, sorted(backup.backup_dir(store.path).iterdir()))

    for _ in range(3):
        _idle_pass(store)

    assert watcher.execute("PRAGMA data_version").fetchone()[0] == version
    assert (wal.stat().st_size, sorted(backup.backup_dir(store.path).iterdir())) == before
    assert store.trial(live).status == Status.RUNNING
    assert liveness.this_process().label == store.trial(live).worker
    watcher.close()


def test_the_idle_workers_calls_take_no_write_lock(store: Store) -> None:
    _finished(store, {"test_accuracy": 0.5})
    backup.take(store.path)
    waits_briefly = Store(store.path, busy_timeout_s=0.1)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        _idle_pass(waits_briefly)  # would raise StoreBusy if any call waited for the lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_trial_cache_reads_again_only_the_trials_that_changed(store: Store) -> None:
    ids = _finished(store, {"test_accuracy": 0.5}, count=4)
    cache = TrialCache()
    first = cache.trials(store)
    assert [t.id for t in first] == ids[::-1]
    search_store.set_results(store, ids[1], {"rank": 1})  # a finished trial changes
    new = _finished(store, {"test_accuracy": 0.6})
    read = _columns_read(store, lambda: cache.trials(store))
    assert ("trials", "config") in read  # the changed and new rows were read in full
    second = cache.trials(store)
    assert [t.id for t in second] == [*new, *ids[::-1]]
    by_id = {t.id: t for t in second}
    assert by_id[ids[1]].results["rank"] == 1
    assert by_id[ids[0]] is first[-1]  # unchanged: the object held, not read again
    untouched = _columns_read(store, lambda: cache.trials(store))
    assert ("trials", "config") not in untouched  # nothing changed: revisions only


def test_curve_summaries_are_kept_per_ending_and_go_with_their_trial(store: Store) -> None:
    (tid,) = _finished(store, {"test_accuracy": 0.5})
    done = store.trial(tid).finished_at
    curves.save(store, {tid: (done, {"best": 0.9}), 999: (1.0, {"best": 0.1})})
    assert curves.read(store) == {tid: (done, {"best": 0.9})}  # no trial 999: skipped
    store.delete_study(store.trial(tid).study_id)
    assert curves.read(store) == {}


def test_status_counts_come_from_the_status_index_alone(store: Store) -> None:
    _finished(store, {"test_accuracy": 0.5}, count=3)
    _, (failed, _queued) = store.create_study("t", "sweep", [RunConfig(), RunConfig(seed=1)])
    store.claim(failed)
    store.finish_trial(failed, Status.FAILED, {}, error="broke")
    assert store.status_counts() == {Status.COMPLETED: 3, Status.FAILED: 1, Status.QUEUED: 1}
    # Of the trials, nothing but the status column is read: no config, no results.
    read = _columns_read(store, store.status_counts)
    assert {column for table, column in read if table == "trials"} == {"status"}
