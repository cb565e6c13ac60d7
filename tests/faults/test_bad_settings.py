"""A malformed ``HPE_*`` setting: one line from the command line, the worker and the app.

Real processes: ``python -m core`` and a worker started as the app starts it, with the bad
value in their environment, and the Home page under AppTest saying why nothing trains.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.spec.config import RunConfig
from core.store import Store
from core.store.settings import CHECKPOINT_CAP, IDLE_EXIT
from core.worker.launch import ensure_worker, start_problem, worker_alive
from tests.app.conftest import APP
from tests.worker.test_worker import wait_for

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_line_refuses_a_bad_setting_in_one_line_and_queues_nothing(
    store: Store,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "core", "train", "--epochs", "1", "--set", "model=mlp"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, IDLE_EXIT: "10m"},
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and IDLE_EXIT in lines[0] and "'10m'" in lines[0]
    assert "number of seconds" in lines[0]
    assert store.trials() == []


def test_a_worker_that_cannot_start_is_explained_and_not_restarted_in_a_loop(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHECKPOINT_CAP, "lots")
    store.create_study("waits", "single", [RunConfig(model="mlp", epochs=1)])
    assert ensure_worker(cache)
    deadline = time.monotonic() + 60
    while start_problem(cache) is None:  # as pages polling every second or two would
        assert not ensure_worker(cache) and time.monotonic() < deadline
        time.sleep(0.2)
    problem = start_problem(cache)
    assert problem.startswith(f"The worker could not start: {CHECKPOINT_CAP}='lots' cannot")
    assert "whole number" in problem and problem.endswith(f"Its log is {cache / 'worker.log'}.")
    # Asked again and again while it was starting, only one worker was started.
    assert (cache / "worker.log").read_text().count(CHECKPOINT_CAP) == 1
    assert not worker_alive(cache)
    assert not ensure_worker(cache)  # it would fail the same way: not started again at once

    # The Home page says so where the waiting run is shown.
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any(e.value == problem for e in at.error)

    # Once the setting is fixed (and the minute has passed), a worker starts and trains.
    monkeypatch.delenv(CHECKPOINT_CAP)
    monkeypatch.setattr("core.worker.launch.RETRY_S", 0.0)
    assert ensure_worker(cache)
    wait_for(lambda: store.trials()[0].status.finished, timeout=120)
    assert start_problem(cache) is None
