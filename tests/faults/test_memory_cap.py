"""A batch that cannot fit under the worker's memory cap fails its trial with a clear message;
the same worker goes on with the queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.data.checks import train_size
from core.engine.memory_guard import MEMORY_ENV
from core.spec.config import RunConfig
from core.store import Status, Store
from core.worker.launch import ensure_worker, worker_alive
from tests.worker.test_worker import wait_for

pytestmark = pytest.mark.faults


def test_a_batch_over_the_memory_cap_fails_clearly_and_the_queue_goes_on(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_ENV, "3000")  # the worker may use 3,000 MiB in all
    # Full-batch on digits blown up to 128x128: each conv activation alone is ~2 GB a step.
    huge = RunConfig(img_size=128, epochs=1)
    huge = huge.replace(batch_size=train_size(huge))
    _, (too_big,) = store.create_study("full batch", "single", [huge])
    _, (next_job,) = store.create_study("next", "single", [RunConfig(model="mlp", epochs=1)])
    ensure_worker(cache)

    wait_for(lambda: store.trial(next_job).status.finished, timeout=180)
    failed, after = store.trial(too_big), store.trial(next_job)
    assert failed.status == Status.FAILED
    assert failed.error.startswith("One training step at batch_size")
    assert "MiB" in failed.error and MEMORY_ENV in failed.error and "at most" in failed.error
    assert failed.traceback is None  # a message for a person, not a crash
    assert store.epochs(too_big) == []
    # The worker that refused the step is the one that ran the next job: it did not die.
    assert after.status == Status.COMPLETED
    assert after.worker_pid == failed.worker_pid
    wait_for(lambda: not worker_alive(cache), timeout=30)
