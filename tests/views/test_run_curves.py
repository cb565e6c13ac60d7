"""Curve summaries for the runs table: worked out once, kept, and never blocking the page."""

from __future__ import annotations

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store, curves
from core.views import run_curves


def _finished(store: Store, count: int) -> list[int]:
    _, ids = store.create_study("s", "sweep", [RunConfig(seed=i) for i in range(count)])
    for i, tid in enumerate(ids):
        store.claim(tid)
        for epoch in range(3):
            store.add_epoch(tid, epoch, {"val_accuracy": 0.1 * (epoch + i)}, 0.1)
        store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.5})
    return ids


def test_many_unknown_summaries_are_worked_out_in_the_background_and_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_curves, "AT_ONCE", 1)
    ids = _finished(store, 3)
    trials = store.trials()  # newest first: the newest is worked out at once
    first = run_curves.summaries(store, trials)
    assert first[ids[2]].best_val_accuracy == pytest.approx(0.4)
    assert first[ids[0]] == run_curves.Curves(None, "", 3)  # blank for now, epochs counted
    run_curves._working[str(store.id)].join(timeout=30)
    assert run_curves.pending(store) == 0
    kept = curves.read(store)
    assert kept[ids[0]][1]["best"] == pytest.approx(0.2) and kept[ids[0]][1]["n"] == 3
    run_curves._KNOWN.clear()  # a new process: the store has them all
    run_curves._loaded.clear()
    again = run_curves.summaries(store, trials)
    assert [again[i].best_val_accuracy for i in ids] == pytest.approx([0.2, 0.3, 0.4])
