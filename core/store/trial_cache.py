"""Many trials held in memory, brought up to date by reading only the rows that changed.

A page that lists every trial (the Runs page: thousands of runs) keeps one ``TrialCache``
for its process. Each refresh reads every trial's revision from an index (a few bytes a row,
``Store.revisions``), then reads in full only the trials that are new or whose revision moved,
and forgets the ones deleted. Trials that did not change are not read or parsed again.
"""

from __future__ import annotations

import threading

from core.store.records import Trial
from core.store.sqlite import Store

# Ids per read of changed trials (SQLite allows some thousands of parameters per statement).
_CHUNK = 500


class TrialCache:
    """Every trial of a store, newest first, read from it only where it changed.

    Safe to share between threads (Streamlit's sessions): one refresh runs at a time.
    """

    def __init__(self) -> None:
        self._trials: dict[int, Trial] = {}
        self._lock = threading.Lock()

    def trials(self, store: Store) -> list[Trial]:
        """Every trial of ``store`` as it is now, newest first (brief results, as lists carry).

        Returns:
            The trials; those unchanged since the last call are the objects held.
        """
        with self._lock:
            now = store.revisions()
            for gone in self._trials.keys() - now.keys():
                del self._trials[gone]
            stale = [i for i, rev in now.items() if self._revision(i) != rev]
            for start in range(0, len(stale), _CHUNK):
                for trial in store.trials(ids=stale[start : start + _CHUNK]):
                    self._trials[trial.id] = trial
            return [self._trials[i] for i in sorted(self._trials, reverse=True) if i in now]

    def _revision(self, trial_id: int) -> int | None:
        held = self._trials.get(trial_id)
        return None if held is None else held.revision
