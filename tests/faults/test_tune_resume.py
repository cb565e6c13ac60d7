"""SIGKILL the worker in the middle of a search's trial: finished trials stay finished, the
killed one is interrupted, and Resume finishes the search with no trial lost or run twice,
the killed trial continuing from its last finished epoch. Each trial trains twice
(``executions_per_trial=2``) and the kill falls in the second: the first is not trained again."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store
from core.store import searches as search_store
from core.worker.launch import ensure_worker, worker_alive
from core.worker.searches import (
    SearchSettings,
    SearchSpace,
    launch_search,
    resume_search,
)
from core.worker.searches import search_state as state_of
from tests.worker.test_worker import wait_for

pytestmark = pytest.mark.faults

EPOCHS = 5


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")


def _killable(store: Store, study_id: int) -> int | None:
    """The running trial once one trial has finished and it is two epochs into its second
    execution, else None."""
    trials = store.trials([study_id])
    if not any(t.status == Status.COMPLETED for t in trials):
        return None
    running = [t for t in trials if t.status == Status.RUNNING]
    if running and EPOCHS + 2 <= len(store.epochs(running[0].id)) < 2 * EPOCHS - 1:
        return running[0].id
    return None


def test_killed_search_resumes_without_losing_or_repeating_a_trial(
    store: Store, cache: Path, ledger: Callable
) -> None:
    base = RunConfig(model="mlp", epochs=EPOCHS, batch_size=16, dense_units=32)
    space = SearchSpace.from_list(
        [{"key": "dense_units", "kind": "choice", "values": [16, 24, 32, 48]}]
    )
    settings = SearchSettings(tuner="random", max_trials=2, keep_top=1, executions_per_trial=2)
    study_id = launch_search(store, base, space, settings, baseline=False)
    ensure_worker(cache)

    victim = wait_for(lambda: _killable(store, study_id), every=0.05)
    trainer = store.trial(victim).worker_pid  # the worker's child process running the search
    worker = int(search_store.read(store, study_id).owner.rpartition(":")[2])
    assert worker != trainer
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: not worker_alive(cache), timeout=10)
    wait_for(lambda: not _alive(trainer), timeout=10)  # the child died with the worker
    before = {t.id: store.epochs(t.id) for t in store.trials([study_id])}
    finished = {t.id for t in store.trials([study_id]) if t.status == Status.COMPLETED}

    wait_for(lambda: state_of(store, study_id)["state"] == "interrupted", timeout=30)
    wait_for(lambda: store.reap_stale() or store.trial(victim).status.finished, timeout=30)
    assert store.trial(victim).status == Status.INTERRUPTED
    assert "Resume continues this trial" in store.trial(victim).error

    resume_search(store, study_id)
    ensure_worker(cache)
    wait_for(lambda: state_of(store, study_id)["state"] == "done", timeout=240)

    trials = sorted(store.trials([study_id]), key=lambda t: t.number)
    # A search trial's result is its objective; only the kept best is tested on the test set.
    ledger("results", 2, sum("objective" in t.results for t in trials))
    after = {t: {e.epoch for e in store.epochs(t)} for t in before}
    ledger("epochs", sum(map(len, before.values())),
           sum(len({e.epoch for e in before[t]} & after[t]) for t in before))  # fmt: skip
    assert [t.number for t in trials] == [0, 1]
    assert [t.status for t in trials] == [Status.COMPLETED] * 2
    assert len({t.results["tuner_trial_id"] for t in trials}) == 2
    for trial_id in finished:  # not trained again
        assert store.epochs(trial_id) == before[trial_id]
    resumed = store.trial(victim)
    assert resumed.worker_pid != trainer
    epochs = store.epochs(victim)
    assert [e.epoch for e in epochs] == list(range(2 * EPOCHS))
    # The first execution was not trained again, and the second went on from its backup: the
    # epochs before the kill were kept as they were, times included (the last one may be
    # trained again if the kill fell between recording it and backing it up).
    kept = before[victim][:-1]
    assert len(kept) > EPOCHS and epochs[: len(kept)] == kept
    assert resumed.results["executions"] == 2
    assert state_of(store, study_id)["trials_done"] == 2
    wait_for(lambda: not worker_alive(cache), timeout=30)


def test_a_killed_bayes_hyperband_search_resumes_with_optuna_knowing_each_trial_once(
    store: Store, cache: Path
) -> None:
    import optuna

    base = RunConfig(model="mlp", epochs=6, batch_size=16, dense_units=32)
    space = SearchSpace.from_list(
        [{"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True}]
    )
    # Judged after 4 epochs: the kill, after 2 epochs of trial #1, comes before its rung.
    settings = SearchSettings(tuner="bayes-hyperband", max_trials=3, min_epochs=4, keep_top=1)
    study_id = launch_search(store, base, space, settings, baseline=False)
    ensure_worker(cache)

    def killable() -> int | None:
        running = [t for t in store.trials([study_id]) if t.status == Status.RUNNING]
        if running and running[0].number == 1 and 2 <= len(store.epochs(running[0].id)) < 4:
            return running[0].id
        return None

    victim = wait_for(killable, every=0.05)
    trainer = store.trial(victim).worker_pid
    worker = int(search_store.read(store, study_id).owner.rpartition(":")[2])
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: not worker_alive(cache), timeout=10)
    wait_for(lambda: not _alive(trainer), timeout=10)
    before = store.epochs(victim)
    wait_for(lambda: state_of(store, study_id)["state"] == "interrupted", timeout=30)
    wait_for(lambda: store.reap_stale() or store.trial(victim).status.finished, timeout=30)

    resume_search(store, study_id)
    ensure_worker(cache)
    wait_for(lambda: state_of(store, study_id)["state"] == "done", timeout=240)

    trials = sorted(store.trials([study_id]), key=lambda t: t.number)
    assert [t.number for t in trials] == [0, 1, 2]
    assert [t.status for t in trials] == [Status.COMPLETED] * 3
    resumed = store.trial(victim)
    assert resumed.worker_pid != trainer
    epochs = store.epochs(victim)
    assert epochs[: len(before) - 1] == before[:-1]  # went on from its last backup
    assert [e.epoch for e in epochs] == list(range(len(epochs)))
    journal = optuna.load_study(
        study_name="search",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(
                str(cache / "tuning" / str(study_id) / "optuna.journal")
            )
        ),
    )
    finished = [t for t in journal.get_trials() if t.state.is_finished()]
    assert len(journal.get_trials()) == len(finished) == 3  # none lost, none asked twice
    assert journal.trials[1].params["learning_rate"] == resumed.results["hp"]["learning_rate"]
    wait_for(lambda: not worker_alive(cache), timeout=30)
