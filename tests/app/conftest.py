"""Fixtures for the page tests: stores with runs in known states."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.spec.sweeps import plan_sweep
from core.store import Status, Store
from core.worker.launch import try_lock

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TRAIN = "pages/train.py"


@pytest.fixture
def busy_worker(cache: Path) -> Iterator[None]:
    """A worker that is already running (it holds the cache's worker lock), so the page
    queues work without starting another one."""
    lock = try_lock(cache)
    assert lock is not None
    yield
    lock.close()


def write_sweep(store: Store, values: dict, tests: list[float], repeats: int = 1) -> int:
    """A finished two-epoch sweep of ``values`` whose runs scored ``tests``; its study id."""
    plan, spec = plan_sweep(RunConfig(model="mlp", epochs=2), values, repeats)
    study_id, ids = store.create_study(
        plan.name, plan.kind, plan.configs, spec=spec.to_dict(), reserve_for=1
    )
    for trial_id, test in zip(ids, tests, strict=True):
        for epoch in range(2):
            metrics = {"loss": 1.0 / (epoch + 1), "accuracy": test, "val_accuracy": test - 0.01}
            store.add_epoch(trial_id, epoch, {**metrics, "val_loss": 1.2}, 0.4)
        store.finish_trial(trial_id, Status.COMPLETED, {"test_accuracy": test, "test_loss": 0.3})
    return study_id
