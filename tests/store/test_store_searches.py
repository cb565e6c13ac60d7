"""A search's own state in the store: a search whose worker went silent ends as interrupted."""

from __future__ import annotations

import time

from core.spec.config import RunConfig
from core.store import Status, Store, liveness
from core.store import searches as search_store

CONFIG = RunConfig(model="mlp", epochs=3)


def _running_search(store: Store, owner: str) -> int:
    study_id, _ = store.create_study(owner, search_store.SEARCH_KIND, [], spec={})
    search_store.set_state(store, study_id, "queued")
    assert search_store.claim(store, owner, study_id) == study_id
    return study_id


def test_a_silent_search_and_its_running_trial_end_as_interrupted(
    store: Store, dead_pid: int
) -> None:
    gone = f"{liveness.this_host()}:{dead_pid}"
    dead = _running_search(store, gone)
    alive = _running_search(store, liveness.this_process().label)
    quiet = _running_search(store, liveness.this_process().label)
    done = search_store.start_trial(store, dead, "t0", CONFIG, pid=dead_pid, worker=gone)
    store.finish_trial(done, Status.COMPLETED, results={"objective": 0.9})
    running = search_store.start_trial(store, dead, "t1", CONFIG, pid=dead_pid, worker=gone)
    store.add_epoch(running, 0, {"val_accuracy": 0.5}, 0.5)
    me = liveness.this_process()
    other = search_store.start_trial(store, alive, "t0", CONFIG, pid=me.pid, worker=me.label)
    time.sleep(0.3)
    search_store.update_progress(store, alive)  # beats the live search's heartbeat
    # `quiet` is as silent as `dead`, but its owner (this process) is alive: paused, say.
    assert search_store.reap(store, timeout_s=0.2) == [dead]
    assert search_store.read(store, quiet).state == "running"
    assert search_store.read(store, dead).state == "interrupted"
    assert search_store.read(store, alive).state == "running"
    trial = store.trial(running)
    assert trial.status == Status.INTERRUPTED and "1 finished epoch" in trial.error
    assert "Resume continues this trial" in trial.error and len(store.epochs(running)) == 1
    assert store.trial(done).status == Status.COMPLETED
    assert store.trial(other).status == Status.RUNNING
    assert search_store.reap(store, timeout_s=0.2) == []  # nothing left to end


def test_a_search_within_its_heartbeat_timeout_keeps_running(store: Store) -> None:
    study_id = _running_search(store, "w:1")
    assert search_store.reap(store) == []
    assert search_store.read(store, study_id).state == "running"
