"""Fixtures for the page tests: stores with runs in known states."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TRAIN = "pages/1_Train.py"


@pytest.fixture
def completed_trial(store: Store, cache: Path) -> int:
    """A real, tiny, completed run on digits (trained in this process)."""
    from core.engine.training import TrialMonitor, run_trial

    cfg = RunConfig(model="mlp", epochs=2)
    _, (tid,) = store.create_study("mlp on digits", "single", [cfg], claim_pid=1)
    with TrialMonitor(store, tid) as monitor:
        run_trial(store, store.trial(tid), monitor, cache)
    assert store.trial(tid).status == Status.COMPLETED
    return tid
