"""A trial's heartbeat and progress: one thread per beating thing, failures logged, not fatal.

:class:`Heartbeat` is the one heartbeat thread of the worker: a training trial's
(:class:`TrialMonitor`), a search's clock (``core.engine.search.parts.SearchClock``) and a
chief's beats for the trials its tuners run (``core.engine.search.distributed``) all beat on
one. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from core.store import Store
from core.store.errors import StoreBusy, StoreError

logger = logging.getLogger(__name__)


class Heartbeat:
    """A daemon thread that calls ``beat`` every ``interval`` seconds until stopped.

    A failing beat (a store busy for a moment) is logged and retried at the next interval,
    never allowed to end the thread: the trial must go on, and a dead heartbeat would have it
    reaped as interrupted. The same failure is logged once until a beat succeeds again.
    """

    def __init__(self, beat: Callable[[], None], interval: float, name: str) -> None:
        self.beat = beat
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._failing: str | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - logged; the next beat tries again
                text = f"{type(exc).__name__}: {exc}"
                if text != self._failing:
                    logger.warning("%s: a heartbeat failed (%s); retrying", self._thread.name, text)
                self._failing = text
            else:
                self._failing = None

    def start(self) -> None:
        """Start beating (the first beat comes after one interval)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class TrialMonitor:
    """Carries progress from the training loop to the store, and cancel requests back.

    Use as a context manager: a :class:`Heartbeat` writes the latest progress and a heartbeat
    every ``interval`` seconds and sets ``cancelled`` when someone asked to stop the trial.
    If the store itself is gone (deleted, replaced or damaged), training has nowhere to go:
    ``lost`` keeps why, and ``cancelled`` is set so the trial stops at the next batch.
    """

    def __init__(self, store: Store, trial_id: int, interval: float = 0.5) -> None:
        self.store = store
        self.trial_id = trial_id
        self.cancelled = threading.Event()
        self.lost: StoreError | None = None
        self._progress: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._heartbeat = Heartbeat(self.beat, interval, f"heartbeat-{trial_id}")

    def update(self, **fields: Any) -> None:
        """Merge fields into the progress the next heartbeat will write."""
        with self._lock:
            self._progress.update(fields)

    def beat(self) -> None:
        """Write progress and heartbeat now; note a cancel request if there is one."""
        with self._lock:
            progress = dict(self._progress)
        try:
            asked = self.store.heartbeat(self.trial_id, progress)
        except StoreBusy:
            raise  # another process holds the lock for now: the next beat tries again
        except StoreError as exc:
            self.lost = exc
            self.cancelled.set()
            raise
        if asked:
            self.cancelled.set()

    def __enter__(self) -> TrialMonitor:
        self.beat()
        self._heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._heartbeat.stop()
