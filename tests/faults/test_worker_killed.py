"""SIGKILL a worker mid-run: finished epochs stay, the run is marked interrupted, the pool goes
on with the next job in a fresh worker."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from core.spec.config import RunConfig
from core.store import Status, Store
from core.worker.launch import IDLE_ENV, ensure_worker, worker_alive
from tests.worker.test_worker import wait_for

pytestmark = pytest.mark.faults


def test_killed_worker_keeps_epochs_and_the_next_job_still_runs(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch, ledger: Callable
) -> None:
    monkeypatch.setenv(IDLE_ENV, "2")
    long_run = RunConfig(model="mlp", epochs=500, batch_size=8)
    _, (victim,) = store.create_study("long", "single", [long_run])
    _, (next_job,) = store.create_study("next", "single", [RunConfig(model="mlp", epochs=1)])
    ensure_worker(cache)

    wait_for(lambda: len(store.epochs(victim)) >= 2)
    worker = psutil.Process(store.trial(victim).worker_pid)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    kept = len(store.epochs(victim))

    # The pool starts a fresh worker for the waiting job; it (or a page polling the store)
    # notices the silence of the killed one.
    wait_for(lambda: store.reap_stale() or store.trial(victim).status.finished, timeout=30)
    trial = store.trial(victim)
    ledger("epochs", kept, len(store.epochs(victim)))
    assert trial.status == Status.INTERRUPTED and "kept" in trial.error
    assert len(store.epochs(victim)) == kept >= 2

    wait_for(lambda: store.trial(next_job).status.finished)
    assert store.trial(next_job).worker_pid != worker.pid  # a fresh worker of the same pool
    assert store.trial(next_job).status == Status.COMPLETED
    ledger("results", 1, int(store.trial(next_job).test_accuracy is not None))
    wait_for(lambda: not worker_alive(cache), timeout=30)
