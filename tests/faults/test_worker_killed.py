"""SIGKILL the worker mid-run: finished epochs stay, the run is marked interrupted, the queue
goes on with the next job."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

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
    pid = store.trial(victim).worker_pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not worker_alive(cache), timeout=10)
    kept = len(store.epochs(victim))

    # A page polling the store notices the silence and a new worker picks up the queue.
    wait_for(lambda: store.reap_stale() or store.trial(victim).status.finished, timeout=30)
    trial = store.trial(victim)
    ledger("epochs", kept, len(store.epochs(victim)))
    assert trial.status == Status.INTERRUPTED and "kept" in trial.error
    assert len(store.epochs(victim)) == kept >= 2

    ensure_worker(cache)
    wait_for(lambda: store.trial(next_job).status.finished)
    assert store.trial(next_job).status == Status.COMPLETED
    ledger("results", 1, int(store.trial(next_job).test_accuracy is not None))
    wait_for(lambda: not worker_alive(cache), timeout=30)
