"""A live process keeps its trials: a command beside a worker, a paused worker, a late result.

Real processes and real signals: a worker started as the app starts it, a ``python -m core``
command, SIGSTOP and SIGCONT. A reaper runs beside them as an open page would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store
from core.store.errors import StoreBusy
from core.worker.launch import IDLE_ENV, ensure_worker, worker_alive
from tests.worker.test_worker import wait_for

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
Ledger = Callable[[str, int, int], None]


class Reaper:
    """What an open Home tab does: reap the store every half second, in a thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reaped: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.reaped += self.store.reap_stale()

    def __enter__(self) -> Reaper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_command_line_sweep_beside_an_idle_worker_trains_every_run(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch, ledger: Ledger
) -> None:
    # The worker reaps on every poll; each of the sweep's runs waits longer than the quiet
    # time for its turn (TensorFlow's import alone takes most of it).
    monkeypatch.setenv(IDLE_ENV, "120")
    ensure_worker(cache)
    with Reaper(store) as reaper:
        done = subprocess.run(
            [sys.executable, "-m", "core", "sweep", "--param", "optimizer",
             "--values", "adam,sgd,rmsprop", "--repeats", "2", "--epochs", "1",
             "--set", "model=mlp", "--json"],
            cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    trials = store.trials(study_ids=[summary["study"]])
    ledger("results", 6, sum(t.test_accuracy is not None for t in trials))
    assert len(trials) == 6 and {t.status for t in trials} == {Status.COMPLETED}
    assert all(t.test_accuracy is not None for t in trials)
    assert all(v["test_accuracy"] is not None for v in summary["values"])
    assert not reaper.reaped
    # Each run was claimed when it started, by the command, one after another.
    ordered = sorted(trials, key=lambda t: t.number)
    assert {t.worker_pid for t in trials} != {None} and len({t.worker_pid for t in trials}) == 1
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert before.finished_at <= after.started_at
    assert worker_alive(cache)


def _training_in_worker(store: Store, cache: Path, epochs: int) -> tuple[int, int]:
    """A run queued and trained by a worker, past its first epoch: its id and the pid."""
    _, (tid,) = store.create_study(
        "in the worker", "single", [RunConfig(model="mlp", epochs=epochs, batch_size=16)]
    )
    ensure_worker(cache)
    wait_for(lambda: len(store.epochs(tid)) >= 1)
    return tid, store.trial(tid).worker_pid


def pause_outside_a_write(store: Store, pid: int) -> None:
    """SIGSTOP ``pid`` at a moment it holds no lock on the store.

    A process stopped inside its own write (or while closing the store's last connection)
    keeps everyone else waiting: that case has tests of its own. Here the pause must land
    between writes, so a stop that finds the store locked is undone and tried again.
    """
    quick = Store(store.path, busy_timeout_s=0.5)
    for _ in range(50):
        os.kill(pid, signal.SIGSTOP)
        try:
            with quick.transaction() as db:
                db.execute("SELECT 1")
            return
        except StoreBusy:
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.1)
    raise AssertionError(f"process {pid} never left the store unlocked")


def test_a_paused_worker_keeps_its_run_and_finishes_it(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch, ledger: Ledger
) -> None:
    monkeypatch.setenv(IDLE_ENV, "5")
    tid, pid = _training_in_worker(store, cache, epochs=6)
    pause_outside_a_write(store, pid)
    try:
        with Reaper(store) as reaper:
            time.sleep(12)  # past the quiet time: only the process check can keep it
        assert store.trial(tid).status == Status.RUNNING
        assert not reaper.reaped
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: store.trial(tid).status.finished)
    trial = store.trial(tid)
    ledger("results", 1, int(trial.test_accuracy is not None))
    ledger("epochs", 6, len(store.epochs(tid)))
    assert trial.status == Status.COMPLETED and trial.test_accuracy is not None
    assert len(store.epochs(tid)) == 6


def test_a_result_reported_after_the_trial_was_taken_for_dead_is_kept(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch, ledger: Ledger
) -> None:
    # A reaper on another machine cannot ask this host's kernel: it goes by heartbeat age,
    # and ends a paused worker's trial. The worker, resumed, reports the real result.
    monkeypatch.setenv(IDLE_ENV, "5")
    tid, pid = _training_in_worker(store, cache, epochs=5)
    pause_outside_a_write(store, pid)
    try:
        with store.transaction() as db:
            db.execute(
                "UPDATE trials SET status='interrupted', finished_at=?, "
                "error='no heartbeat for 60 s' WHERE id=?",
                (time.time(), tid),
            )
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: store.trial(tid).status == Status.COMPLETED)
    trial = store.trial(tid)
    ledger("results", 1, int(trial.test_accuracy is not None))
    ledger("epochs", 5, len(store.epochs(tid)))
    assert trial.test_accuracy is not None and trial.error is None
    assert trial.results["reconciled"]["interruption"] == "no heartbeat for 60 s"
    assert len(store.epochs(tid)) == 5
    wait_for(lambda: not worker_alive(cache), timeout=30)
    log = (cache / "worker.log").read_text()
    assert f"trial {tid} was marked interrupted while its process" in log


def test_a_killed_command_leaves_no_run_queued_for_ever(store: Store, cache: Path) -> None:
    command = subprocess.Popen(
        [sys.executable, "-m", "core", "sweep", "--param", "dropout", "--values", "0,0.1,0.2",
         "--epochs", "50", "--set", "model=mlp", "--set", "batch_size=8"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: any(store.epochs(t.id) for t in store.trials()))
    finally:
        command.kill()
        command.wait()
    # An open page reaps on every poll: the run in progress and the two never started end.
    wait_for(lambda: store.reap_stale() * 0 or all(t.status.finished for t in store.trials()), 30)
    statuses = sorted(str(t.status) for t in store.trials())
    assert statuses == ["interrupted"] * 3
    never = [t for t in store.trials() if t.started_at is None]
    assert len(never) == 2 and all("ended before it started" in t.error for t in never)
