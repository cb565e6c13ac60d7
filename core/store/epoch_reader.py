"""The epochs a live view holds, brought up to date by reading only the rows that are new.

A page that redraws every second asks the store, per trial, only for the epochs after the last
one it holds (optuna-dashboard's ``?after=N``), and leaves a trial alone once it has ended and
been read in full. The Compare page's sweeps and the Tune page's searches both hold one
``EpochReader`` per study in their session.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.store.records import Epoch, Trial
from core.store.sqlite import Store


class EpochReader:
    """Keeps the epochs of a study's trials, reading from the store only what is new.

    Attributes:
        epochs: Trial id -> its epochs, in order, as read so far.
        settled: Trial id -> the ``finished_at`` of the ending after which the trial's epochs
            were read in full; such a trial is not read again while it keeps that ending.
    """

    def __init__(self) -> None:
        self.epochs: dict[int, list[Epoch]] = {}
        self.settled: dict[int, float | None] = {}

    def update(self, store: Store, trials: Sequence[Trial]) -> dict[int, list[Epoch]]:
        """Bring the held epochs up to date with ``trials`` (as just read from ``store``).

        A trial still going is asked for the epochs after the last one held; one that has
        ended is read one last time and then left alone. A trial that runs again in the same
        store row (a resumed search re-runs an interrupted trial) no longer has the ending it
        was settled at, so it is read afresh: its epochs may have been written anew.

        Returns:
            ``epochs``, updated in place.
        """
        unseen = [t.id for t in trials if t.id not in self.epochs]
        if len(unseen) > 1:  # a view opened on many trials reads them all in one query
            first = store.epochs_by_trial(unseen)
            for trial_id in unseen:
                self.epochs[trial_id] = first.get(trial_id, [])
        fresh = set(unseen) if len(unseen) > 1 else set()
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
        return self.epochs
