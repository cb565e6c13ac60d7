"""What each trial's curves say in short, for its row of the runs table, without blocking it.

A row shows the trial's best validation accuracy, the epochs it ran and the diagnosis of its
curves (``core.analysis.diagnosis``). A finished trial's summary never changes: it is worked out
once, kept in the store (``core.store.curves``) and in this process. A page asks for the
summaries of every trial it lists; the ones not known yet are worked out at once when they are
few (a run that just ended), else in a background thread of this process, while the rows show
their epoch count and a blank summary until it is done (``pending`` says how many are left).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import NamedTuple

from core.analysis.diagnosis import diagnose_trial
from core.store import Epoch, Store, StoreError, Trial
from core.store import curves as kept

logger = logging.getLogger(__name__)

# At most this many unknown summaries are worked out while a page waits; more go to the
# background (a few hundred take a fraction of a second, thousands take many seconds).
AT_ONCE = 200


class Curves(NamedTuple):
    """What a trial's epochs say in short."""

    best_val_accuracy: float | None
    diagnosis: str
    epochs_run: int


# (store id, trial id, finished at) -> the summary of a finished trial, for the life of the
# process. A store is known by its id (``core.store.identity``), not its path: a store file
# replaced at the same path is another store.
_KNOWN: dict[tuple[str, int, float], Curves] = {}
_loaded: set[str] = set()  # the stores whose kept summaries were read into _KNOWN
_working: dict[str, threading.Thread] = {}  # store -> the thread working out the rest
_pending: dict[str, int] = {}
_lock = threading.Lock()


def summaries(store: Store, trials: Sequence[Trial]) -> dict[int, Curves]:
    """Each trial's curve summary; those not known yet and too many to wait for are blank.

    A blank one has its epoch count and no accuracy or diagnosis; a background thread works
    them out and keeps them, and the next call has them.
    """
    key = str(store.id)
    with _lock:
        if key not in _loaded:
            _load(store)
            _loaded.add(key)
    found: dict[int, Curves] = {}
    missing = []
    for t in trials:
        known = _KNOWN.get((key, t.id, t.finished_at)) if t.finished_at is not None else None
        if known is not None:
            found[t.id] = known
        else:
            missing.append(t)
    busy = key in _working and _working[key].is_alive()
    now, later = ([], missing) if busy else (missing[:AT_ONCE], missing[AT_ONCE:])
    if later:
        counts = store.epoch_counts()
        found.update({t.id: Curves(None, "", counts.get(t.id, 0)) for t in later})
        _work_later(store, later)
    found.update(_work_out(store, now))
    return found


def pending(store: Store) -> int:
    """How many summaries the background thread of this process still works out."""
    return _pending.get(str(store.id), 0)


def best_val_accuracy(epochs: Sequence[Epoch]) -> float | None:
    """The highest ``val_accuracy`` over these epochs (None if none has one)."""
    values = [e.metrics["val_accuracy"] for e in epochs if "val_accuracy" in e.metrics]
    return max(values) if values else None


def _load(store: Store) -> None:
    """Read the summaries the store keeps into this process's."""
    for tid, (done, data) in kept.read(store).items():
        if done is not None:
            summary = Curves(data.get("best"), data.get("diagnosis", ""), data["n"])
            _KNOWN[(str(store.id), tid, done)] = summary


def _work_out(store: Store, trials: Sequence[Trial]) -> dict[int, Curves]:
    """Work out these trials' summaries from their epochs; keep the finished ones."""
    if not trials:
        return {}
    many = len(trials) > 500  # past a few hundred ids, reading every epoch is quicker
    epochs = store.epochs_by_trial(None if many else [t.id for t in trials])
    found, keep = {}, {}
    for t in trials:
        own = epochs.get(t.id, [])
        labels = ", ".join(f.label for f in diagnose_trial(t, own))
        found[t.id] = Curves(best_val_accuracy(own), labels, len(own))
        if t.finished_at is not None:
            _KNOWN[(str(store.id), t.id, t.finished_at)] = found[t.id]
            keep[t.id] = (
                t.finished_at,
                {"best": found[t.id][0], "diagnosis": labels, "n": len(own)},
            )
    try:
        kept.save(store, keep)
    except StoreError as exc:  # busy or full: they are known here, and worked out again later
        logger.info("curve summaries not kept: %s", exc.message)
    return found


def _work_later(store: Store, trials: Sequence[Trial]) -> None:
    """Work these summaries out in a background thread, unless one is at it already."""
    key = str(store.id)
    with _lock:
        if key in _working and _working[key].is_alive():
            return
        _pending[key] = len(trials)

        def run() -> None:
            try:
                for start in range(0, len(trials), 500):
                    _work_out(store, trials[start : start + 500])
                    _pending[key] = max(0, len(trials) - start - 500)
            except Exception:  # the rows stay blank; the next page visit tries again
                logger.exception("working out curve summaries failed")
            finally:
                _pending[key] = 0

        _working[key] = threading.Thread(target=run, name="curve-summaries", daemon=True)
        _working[key].start()
