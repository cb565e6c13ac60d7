"""The live views' epoch reader: only new rows, an ended trial left alone, a re-run read afresh."""

from __future__ import annotations

from core.spec.config import RunConfig
from core.store import Status, Store
from core.store import searches as search_store
from core.store.epoch_reader import EpochReader, SettledEpochs

CONFIG = RunConfig(model="mlp", epochs=3)


def _study(store: Store, kind: str, curves: list[list[float]], running: int) -> list[int]:
    """A study whose trials hold these validation curves; all but the last ``running`` ended."""
    _, ids = store.create_study(kind, kind, [CONFIG] * len(curves), reserve_for=1)
    for n, (tid, curve) in enumerate(zip(ids, curves, strict=True)):
        for epoch, acc in enumerate(curve):
            store.add_epoch(tid, epoch, {"val_accuracy": acc}, 0.5)
        if n < len(curves) - running:
            store.finish_trial(tid, Status.COMPLETED, results={"objective": max(curve)})
    return ids


def test_live_reads_fetch_only_new_epochs_and_stop_once_a_trial_ended(store: Store) -> None:
    ids = _study(store, "search", [[0.5, 0.7]] * 5 + [[0.65]], running=1)
    study_id = store.trial(ids[0]).study_id
    reader = EpochReader()
    known = reader.update(store, store.trials(study_ids=[study_id]))
    assert set(reader.settled) == set(ids[:5]) and len(known[ids[5]]) == 1
    store.add_epoch(ids[5], 1, {"val_accuracy": 0.8}, 0.5)
    store.finish_trial(ids[5], Status.COMPLETED, results={"objective": 0.8})
    reader.update(store, store.trials(study_ids=[study_id]))
    assert [e.epoch for e in known[ids[5]]] == [0, 1] and ids[5] in reader.settled
    store.add_epoch(ids[0], 5, {"val_accuracy": 0.1}, 0.5)  # an ended trial is not read again
    reader.update(store, store.trials(study_ids=[study_id]))
    assert len(known[ids[0]]) == 2


def test_a_run_is_read_one_last_time_when_it_ends_and_then_left_alone(store: Store) -> None:
    (tid,) = _study(store, "sweep", [[]], running=1)
    trial = store.trial(tid)
    reader = EpochReader()
    assert reader.update(store, [trial]) == {trial.id: []}
    store.add_epoch(trial.id, 0, {"loss": 1.0}, 1.0)
    store.add_epoch(trial.id, 1, {"loss": 0.5}, 1.0)
    assert [e.epoch for e in reader.update(store, [trial])[trial.id]] == [0, 1]
    store.finish_trial(trial.id, Status.COMPLETED, {"test_accuracy": 0.5})
    reader.update(store, [store.trial(trial.id)])
    store.add_epoch(trial.id, 2, {"loss": 0.1}, 1.0)  # after the end: not read again
    assert [e.epoch for e in reader.update(store, store.trials())[trial.id]] == [0, 1]


def test_a_trial_that_runs_again_is_read_afresh(store: Store) -> None:
    study_id, _ = store.create_study("search", "search", [], spec={"tuner": "random"})
    tid = search_store.start_trial(store, study_id, "t0", CONFIG, pid=1, worker="h:1")
    store.add_epoch(tid, 0, {"val_accuracy": 0.5}, 0.5)
    store.finish_trial(tid, Status.INTERRUPTED)
    reader = EpochReader()
    known = reader.update(store, store.trials(study_ids=[study_id]))
    assert tid in reader.settled
    # Resumed: the same store trial runs again and goes on from its checkpoint.
    assert search_store.start_trial(store, study_id, "t0", CONFIG, pid=1, worker="h:1") == tid
    store.add_epoch(tid, 1, {"val_accuracy": 0.7}, 0.5)
    store.add_epoch(tid, 2, {"val_accuracy": 0.75}, 0.5)
    reader.update(store, store.trials(study_ids=[study_id]))
    assert [e.epoch for e in known[tid]] == [0, 1, 2] and tid not in reader.settled


def test_a_new_reader_takes_ended_trials_from_the_shared_cache(store: Store) -> None:
    ids = _study(store, "search", [[0.5, 0.7]] * 3 + [[0.6]], running=1)
    study_id = store.trial(ids[0]).study_id
    shared = SettledEpochs()
    EpochReader(shared).update(store, store.trials(study_ids=[study_id]))
    assert len(shared) == 3  # the running trial is not kept
    # Rows written after an ending are never read again: a new reader that shows them read
    # the store, one that does not took the kept epochs.
    store.add_epoch(ids[0], 2, {"val_accuracy": 0.9}, 0.5)
    store.add_epoch(ids[3], 1, {"val_accuracy": 0.8}, 0.5)
    second = EpochReader(shared).update(store, store.trials(study_ids=[study_id]))
    assert [e.epoch for e in second[ids[0]]] == [0, 1]
    assert [e.epoch for e in second[ids[3]]] == [0, 1]  # still running: read from the store
    alone = EpochReader(None).update(store, store.trials(study_ids=[study_id]))
    assert [e.epoch for e in alone[ids[0]]] == [0, 1, 2]


def test_the_shared_cache_forgets_a_trial_that_ended_again_and_holds_at_most_its_limit(
    store: Store,
) -> None:
    study_id, _ = store.create_study("search", "search", [], spec={"tuner": "random"})
    tid = search_store.start_trial(store, study_id, "t0", CONFIG, pid=1, worker="h:1")
    store.add_epoch(tid, 0, {"val_accuracy": 0.5}, 0.5)
    store.finish_trial(tid, Status.INTERRUPTED)
    shared = SettledEpochs(limit=2)
    EpochReader(shared).update(store, store.trials(study_ids=[study_id]))
    search_store.start_trial(store, study_id, "t0", CONFIG, pid=1, worker="h:1")
    store.add_epoch(tid, 1, {"val_accuracy": 0.7}, 0.5)
    store.finish_trial(tid, Status.COMPLETED, results={"objective": 0.7})
    again = EpochReader(shared).update(store, store.trials(study_ids=[study_id]))
    assert [e.epoch for e in again[tid]] == [0, 1]  # its new ending: read afresh
    assert len(shared) == 1  # the two epochs of its new ending pushed out the old one
    other = search_store.start_trial(store, study_id, "t1", CONFIG, pid=1, worker="h:1")
    store.add_epoch(other, 0, {"val_accuracy": 0.6}, 0.5)
    store.finish_trial(other, Status.COMPLETED, results={"objective": 0.6})
    EpochReader(shared).update(store, store.trials(study_ids=[study_id]))
    assert len(shared) == 1  # three epochs in all: the least recently used trial went
