"""The worker process: started on demand, one per cache folder, runs the queue in order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store
from core.worker.launch import IDLE_ENV, ensure_worker, worker_alive


def wait_for(predicate, timeout: float = 120.0, every: float = 0.2):
    """Poll until predicate() is truthy; fail the test after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


def test_worker_runs_queued_trials_in_order_then_exits_when_idle(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "2")
    cfg = RunConfig(model="mlp", epochs=2)
    _, (first,) = store.create_study("a", "single", [cfg])
    _, (second,) = store.create_study("b", "single", [cfg.replace(seed=1)])

    assert ensure_worker(cache) is True
    wait_for(lambda: worker_alive(cache), timeout=30)
    assert ensure_worker(cache) is False  # one worker per cache folder

    wait_for(lambda: store.trial(second).status.finished)
    a, b = store.trial(first), store.trial(second)
    assert a.status == b.status == Status.COMPLETED, (a.error, b.error)
    assert a.finished_at <= b.started_at
    assert len(store.epochs(first)) == len(store.epochs(second)) == 2
    assert Path(b.results["artifacts"]["model"]).is_file()
    wait_for(lambda: not worker_alive(cache), timeout=30)
    assert "trial" in (cache / "worker.log").read_text()
