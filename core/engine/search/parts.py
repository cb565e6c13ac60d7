"""Pieces of a running search: its clock and heartbeat, its stop signal, its trials' ends.

This module imports TensorFlow and keras-tuner; only worker processes use it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from core.engine.monitor import Heartbeat
from core.spec.config import ConfigError
from core.store import Epoch, Status, Store
from core.store import searches as search_store
from core.store.disk_space import DiskFull

# The extra metric a joined tuner sends with each epoch's report: the epoch's seconds.
EPOCH_SECONDS = "epoch_seconds"


class SearchStopped(kt.errors.FatalError):
    """The time budget ran out or a person cancelled: the search ends, resumable."""

    def __init__(self, state: str, note: str) -> None:
        super().__init__(note)
        self.state = state
        self.note = note


class SearchClock:
    """Counts the search's time over all its runs and beats its heartbeat in the store."""

    def __init__(self, store: Store, study_id: int, budget_s: float | None) -> None:
        self.store = store
        self.study_id = study_id
        progress = search_store.read(store, study_id).progress
        self.used_before = float(progress.get("used_s", 0.0))
        self.budget_s = budget_s
        self.cancel = threading.Event()
        self._start = time.monotonic()
        self._heartbeat = Heartbeat(self.beat, 1.0, f"search-beat-{study_id}")

    @property
    def used_s(self) -> float:
        """Seconds used, this run and earlier ones together."""
        return self.used_before + time.monotonic() - self._start

    def out_of_time(self) -> bool:
        """True once the budget is spent."""
        return self.budget_s is not None and self.used_s >= self.budget_s

    def beat(self) -> None:
        """Write the time used and a heartbeat; note a cancel request."""
        progress = search_store.update_progress(self.store, self.study_id, used_s=self.used_s)
        if progress.get("cancel"):
            self.cancel.set()

    def __enter__(self) -> SearchClock:
        self.beat()
        self._heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._heartbeat.stop()
        self.beat()


def rss_mib() -> float | None:
    """Resident memory of this process in MiB (Linux), or None where it cannot be read."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def finish_store_trial(
    store: Store,
    trial_id: int,
    status: str,
    message: str | None,
    ended: Any,
    executions: int,
    pruned: dict[str, Any] | None = None,
) -> None:
    """Record how keras-tuner ended a trial (``ended``, as its oracle holds it) in the store.

    ``pruned``: why the oracle stopped the trial early, when it did (``OptunaOracle.pruned``).
    """
    values = dict(ended.hyperparameters.values)
    epochs = store.epochs(trial_id)
    results = {
        "hp": {k: v for k, v in values.items() if not k.startswith("tuner/")},
        "objective": ended.score,
        "best_step": ended.best_step,
        "tuner_trial_id": ended.trial_id,
        "bracket": values.get("tuner/bracket"),
        "round": values.get("tuner/round"),
        "executions": executions,
        "epochs_run": len(epochs),
        "seconds_per_epoch": (sum(e.seconds for e in epochs) / len(epochs)) if epochs else None,
    }
    if pruned is not None:
        results["pruned"] = pruned
    if status == kt.engine.trial.TrialStatus.COMPLETED:
        store.finish_trial(trial_id, Status.COMPLETED, results=results)
        return
    lines = (message or "").strip().splitlines()
    # keras-tuner keeps the traceback; its last line names the exception. A ConfigError's or a
    # DiskFull's own text ("batch_size: ...", "Not enough disk space ...") is what a person
    # reads, as for a single run.
    error = lines[-1] if lines else ""
    for known in (ConfigError, DiskFull):
        error = error.removeprefix(f"{known.__module__}.{known.__name__}: ")
    store.finish_trial(
        trial_id,
        Status.FAILED,
        results=results,
        error=error or "The trial failed.",
        traceback=message,
    )


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables (keras-tuner's distribution variables) for this block only."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def stored_history(rows: list[Epoch], offset: int, first: int, end: int) -> keras.callbacks.History:
    """The ``History`` of one execution, from its epoch rows in the store.

    Args:
        rows: The trial's epoch rows; an execution's epochs are numbered from ``offset``.
        offset: The execution's first row number (execution × epochs per execution).
        first: Its first epoch (Hyperband's ``tuner/initial_epoch``, else 0).
        end: Its epochs per execution.
    """
    kept = [e for e in rows if offset + first <= e.epoch < offset + end]
    history = keras.callbacks.History()
    history.epoch = [e.epoch - offset for e in kept]
    names = sorted({name for e in kept for name in e.metrics})
    history.history = {name: [e.metrics.get(name) for e in kept] for name in names}
    return history
