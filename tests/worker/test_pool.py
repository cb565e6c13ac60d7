"""A pool of workers: several processes share one queue, each run goes to exactly one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psutil
import pytest

from core.spec.config import RunConfig
from core.store import Status, Store
from core.store.liveness import this_host
from core.worker.launch import (
    LOCK_NAME,
    LOG_NAME,
    ensure_worker,
    start_problem,
    worker_alive,
)
from core.worker.serve import serve
from tests.worker.test_worker import ROOT, wait_for

STARTED = re.compile(r"trial (\d+): started \(")


def _pool(cache: Path, workers: int, idle_exit: float = 3, *more: str) -> subprocess.Popen:
    log = open(cache / LOG_NAME, "ab")  # noqa: SIM115 - the pool writes to it until it ends
    return subprocess.Popen(
        [sys.executable, "-m", "core.worker", "--cache", str(cache), "--workers", str(workers),
         "--idle-exit", str(idle_exit), *more],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def test_three_workers_run_twelve_queued_trials_each_exactly_once(
    store: Store, cache: Path
) -> None:
    cfg = RunConfig(model="mlp", epochs=1, dense_units=16)
    _, trial_ids = store.create_study(
        "twelve", "sweep", [cfg.replace(seed=seed) for seed in range(12)]
    )
    pool = _pool(cache, workers=3)
    assert pool.wait(timeout=300) == 0

    trials = [store.trial(t) for t in trial_ids]
    assert [t.status for t in trials] == [Status.COMPLETED] * 12, [t.error for t in trials]
    assert all(len(store.epochs(t.id)) == 1 for t in trials)
    log = (cache / LOG_NAME).read_text()
    assert Counter(int(t) for t in STARTED.findall(log)) == Counter(trial_ids)  # once each
    workers = {t.worker for t in trials}
    assert all(re.fullmatch(rf"{re.escape(this_host())}:\d+", w) for w in workers)
    assert len(workers) >= 2, workers  # the queue was shared, not run by one process
    assert pool.pid not in {t.worker_pid for t in trials}  # the pool itself trains nothing
    assert not worker_alive(cache)


def test_killing_the_pool_stops_its_workers_and_leaves_the_trial_resumable(
    store: Store, cache: Path
) -> None:
    _, (trial,) = store.create_study("long", "single", [RunConfig(model="mlp", epochs=300)])
    pool = _pool(cache, workers=2)
    wait_for(lambda: len(store.epochs(trial)) >= 1, timeout=120)
    worker = psutil.Process(store.trial(trial).worker_pid)
    assert worker.ppid() == pool.pid and int((cache / LOCK_NAME).read_text()) == pool.pid

    os.kill(pool.pid, signal.SIGKILL)
    pool.wait(timeout=10)
    worker.wait(timeout=10)  # it dies with the pool rather than training on unseen
    store.reap_stale(timeout_s=0)
    assert store.trial(trial).status == Status.INTERRUPTED


def test_a_pool_whose_workers_cannot_start_gives_up_and_says_why(
    store: Store, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken" / "tensorflow"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('this TensorFlow is broken')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken.parent))  # the pool imports none of it
    monkeypatch.setenv("HPE_WORKERS", "2")
    store.create_study("waits", "single", [RunConfig(model="mlp", epochs=1)])
    assert ensure_worker(cache)
    problem = wait_for(lambda: start_problem(cache), timeout=240)
    assert "this TensorFlow is broken" in problem
    assert (cache / LOCK_NAME).read_text() == ""  # as if it never started
    assert ensure_worker(cache) is False  # not started again and again


def test_an_unknown_worker_count_is_refused_in_one_line(cache: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "core.worker", "--cache", str(cache), "--workers", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--workers: must be a whole number from 1 to 256" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("raw", ["0", "two", "-1", "1.5"])
def test_a_bad_workers_setting_stops_the_pool_before_it_starts(cache: Path, raw: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "core.worker", "--cache", str(cache)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "HPE_WORKERS": raw},
    )  # fmt: skip
    assert done.returncode == 2
    assert f"HPE_WORKERS={raw!r} cannot be used: it must be auto or a whole number" in done.stderr


def test_a_worker_hands_over_to_a_fresh_process_after_its_trials(store: Store, cache: Path) -> None:
    cfg = RunConfig(model="mlp", epochs=1, dense_units=16)
    _, trial_ids = store.create_study("three", "sweep", [cfg.replace(seed=s) for s in range(3)])
    assert serve(cache, idle_exit_s=0.5, trials_per_process=2) == (2, True)
    assert [store.trial(t).status for t in trial_ids] == [
        Status.COMPLETED,
        Status.COMPLETED,
        Status.QUEUED,  # left for the next process
    ]


def test_the_next_process_starts_during_the_last_trial_and_takes_over_once_it_ends(
    store: Store, cache: Path
) -> None:
    cfg = RunConfig(model="mlp", epochs=1, dense_units=16)
    _, trial_ids = store.create_study("three", "sweep", [cfg.replace(seed=s) for s in range(3)])
    pool = _pool(cache, 1, 3, "--trials-per-process", "2")
    assert pool.wait(timeout=300) == 0

    trials = [store.trial(t) for t in trial_ids]
    assert [t.status for t in trials] == [Status.COMPLETED] * 3, [t.error for t in trials]
    first, second = trials[0].worker_pid, trials[2].worker_pid
    assert trials[1].worker_pid == first != second
    log = (cache / LOG_NAME).read_text()
    assert Counter(int(t) for t in STARTED.findall(log)) == Counter(trial_ids)  # once each
    # Started while the first still trained its last trial, so TensorFlow loaded meanwhile:
    # its start comes before the first one's hand-over, its first trial after it.
    waiting = log.index(f"it takes over when worker {first} has ended")
    handed = log.index(f"{first}: 2 trials done; a fresh process goes on")
    assert log.index(f"trial {trial_ids[1]}: started") < waiting < handed
    assert handed < log.index(f"trial {trial_ids[2]}: started")
    assert not list((cache / "workers").glob("*.last-trial"))  # each note taken away


def test_a_worker_told_not_to_wait_still_takes_what_is_queued(store: Store, cache: Path) -> None:
    _, (trial,) = store.create_study("one", "single", [RunConfig(model="mlp", epochs=1)])
    assert serve(cache, idle_exit_s=0) == (1, False)  # else a pool would start it again and again
    assert store.trial(trial).status == Status.COMPLETED
