"""The epochs a live view holds, brought up to date by reading only the rows that are new.

A page that redraws every second asks the store, per trial, only for the epochs after the last
one it holds (optuna-dashboard's ``?after=N``), and leaves a trial alone once it has ended and
been read in full. The Compare page's sweeps and the Tune page's searches both hold one
``EpochReader`` per study in their session.

An ended trial's epochs do not change while it keeps that ending, so the readers of one process
share them (:class:`SettledEpochs`): a page opened in a new browser session takes a finished
search's thousands of epochs from memory instead of reading them all again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from core.store.records import Epoch, Trial
from core.store.sqlite import Store

# Epochs the shared cache holds at most (about 0.6 KiB each): a 200-trial search of 30 epochs
# is 6,000.
SETTLED_LIMIT = 60_000


class SettledEpochs:
    """The epochs of ended trials, shared by this process's readers, least recently used out.

    Keyed by the store's id, the trial and the ``finished_at`` of its ending: a trial that runs
    again (a resumed search) ends anew, so its old entry is never used for it.
    """

    def __init__(self, limit: int = SETTLED_LIMIT) -> None:
        self.limit = limit
        self._held: OrderedDict[tuple, tuple[Epoch, ...]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    @staticmethod
    def _key(store: Store, trial: Trial) -> tuple:
        return (store.id, trial.id, trial.finished_at)

    def get(self, store: Store, trial: Trial) -> list[Epoch] | None:
        """The ended trial's epochs as kept, or None when they are not."""
        key = self._key(store, trial)
        with self._lock:
            found = self._held.get(key)
            if found is None:
                return None
            self._held.move_to_end(key)
        return list(found)

    def put(self, store: Store, trial: Trial, epochs: Sequence[Epoch]) -> None:
        """Keep an ended trial's epochs, read in full; the oldest go when over the limit."""
        if len(epochs) > self.limit:
            return
        key = self._key(store, trial)
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
                return
            self._held[key] = tuple(epochs)
            self._count += len(epochs)
            while self._count > self.limit:
                _, dropped = self._held.popitem(last=False)
                self._count -= len(dropped)

    def __len__(self) -> int:
        return len(self._held)


SETTLED = SettledEpochs()


class EpochReader:
    """Keeps the epochs of a study's trials, reading from the store only what is new.

    Attributes:
        epochs: Trial id -> its epochs, in order, as read so far.
        settled: Trial id -> the ``finished_at`` of the ending after which the trial's epochs
            were read in full; such a trial is not read again while it keeps that ending.
    """

    def __init__(self, shared: SettledEpochs | None = SETTLED) -> None:
        self.epochs: dict[int, list[Epoch]] = {}
        self.settled: dict[int, float | None] = {}
        self.shared = shared

    def update(self, store: Store, trials: Sequence[Trial]) -> dict[int, list[Epoch]]:
        """Bring the held epochs up to date with ``trials`` (as just read from ``store``).

        A trial still going is asked for the epochs after the last one held; one that has
        ended is read one last time and then left alone. A trial that runs again in the same
        store row (a resumed search re-runs an interrupted trial) no longer has the ending it
        was settled at, so it is read afresh: its epochs may have been written anew.

        An ended trial's epochs come from the process's shared cache when another reader
        has read them in full already.

        Returns:
            ``epochs``, updated in place.
        """
        unseen = [t for t in trials if t.id not in self.epochs]
        fresh: set[int] = set()
        for trial in unseen:
            kept = None
            if self.shared is not None and trial.status.finished:
                kept = self.shared.get(store, trial)
            if kept is not None:
                self.epochs[trial.id] = kept
                fresh.add(trial.id)
        missing = [t.id for t in unseen if t.id not in fresh]
        if len(missing) > 1:  # a view opened on many trials reads them all in one query
            first = store.epochs_by_trial(missing)
            for trial_id in missing:
                self.epochs[trial_id] = first.get(trial_id, [])
            fresh.update(missing)
        for trial in trials:
            if trial.id in self.settled:
                if trial.status.finished and self.settled[trial.id] == trial.finished_at:
                    continue
                del self.settled[trial.id]
                self.epochs[trial.id] = []
            held = self.epochs.setdefault(trial.id, [])
            if trial.id not in fresh:
                held.extend(store.epochs(trial.id, after=held[-1].epoch if held else -1))
            if trial.status.finished:
                self.settled[trial.id] = trial.finished_at
                if self.shared is not None:
                    self.shared.put(store, trial, held)
        return self.epochs
