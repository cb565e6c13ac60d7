"""Searches with keras-tuner's four tuners on digits: every trial streams into the store, the
best keep their weights, a time budget stops a search and Resume continues its trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.engine.memory_guard import MEMORY_ENV
from core.engine.run_logs import log_dir
from core.spec.config import RunConfig
from core.store import Status, Store
from core.store import searches as search_store
from core.store.checkpoint_files import checkpoint_dir, saved_epochs
from core.worker.searches import (
    SearchSettings,
    SearchSpace,
    hyperband_plan,
    launch_search,
    resume_search,
    search_state,
)

BASE = RunConfig(model="mlp", epochs=1, batch_size=64, dense_units=32)
SPACE = SearchSpace.from_list(
    [
        {"key": "dense_units", "kind": "choice", "values": [16, 32]},
        {"key": "learning_rate", "kind": "float", "low": 1e-3, "high": 1e-2, "step": 9e-3},
    ]
)
SETTINGS = {
    "random": SearchSettings(tuner="random", max_trials=2, keep_top=1),
    "grid": SearchSettings(tuner="grid", max_trials=2, keep_top=1),
    "bayesian": SearchSettings(tuner="bayesian", max_trials=2, keep_top=1),
    "hyperband": SearchSettings(tuner="hyperband", max_epochs=2, factor=2, keep_top=1),
}


def _run(store: Store, study_id: int, cache: Path) -> str:
    from core.engine.search.run import run_search

    assert search_store.claim(store, "test:1", study_id) == study_id
    return run_search(store, study_id, cache)


@pytest.mark.parametrize("tuner", list(SETTINGS))
def test_each_tuner_records_every_trial_with_its_epochs_and_keeps_the_best(
    store: Store, cache: Path, tuner: str
) -> None:
    settings = SETTINGS[tuner]
    study_id = launch_search(store, BASE, SPACE, settings, baseline=False)
    assert _run(store, study_id, cache) == "done"

    trials = sorted(store.trials([study_id]), key=lambda t: t.number)
    planned = hyperband_plan(2, 2)[0] if tuner == "hyperband" else 2
    assert len(trials) == planned == search_state(store, study_id)["trials_planned"]
    assert [t.number for t in trials] == list(range(planned))
    for trial in trials:
        assert trial.status == Status.COMPLETED, trial.error
        assert trial.worker and trial.worker.endswith(":" + str(trial.worker_pid))
        hp = trial.results["hp"]
        assert set(hp) == {"dense_units", "learning_rate"}
        assert trial.config["dense_units"] == hp["dense_units"]
        epochs = [e.epoch for e in store.epochs(trial.id)]
        start = trial.fork_epoch + 1 if trial.parent_id else 0
        assert epochs == list(range(start, trial.config["epochs"]))
        assert trial.results["objective"] == max(
            e.metrics["val_accuracy"] for e in store.epochs(trial.id)
        )
    if tuner == "hyperband":
        assert {t.results["bracket"] for t in trials} == {0, 1}
        assert any(t.parent_id for t in trials)  # a later round trains an earlier model on

    state = search_state(store, study_id)
    assert state["state"] == "done" and state["trials_done"] == planned
    best = store.trial(state["best_trial"])
    assert best.results["kept"] and best.results["rank"] == 1
    assert 0 < best.test_accuracy <= 1
    assert Path(best.results["artifacts"]["model"]).is_file()
    assert sum(bool(t.results.get("kept")) for t in store.trials([study_id])) == 1
    weights = list((cache / "tuning" / str(study_id)).glob("trial_*/*.weights.h5"))
    assert len(weights) == 1  # only the kept trial's weights are left
    assert not (cache / "tuning" / str(study_id) / "backup").exists()


def test_a_search_trial_trains_through_the_same_path_as_a_run(store: Store, cache: Path) -> None:
    # Two executions per trial: each records its epochs after the other's, with its own
    # checkpoints and logs; the kept trial is saved like a run, per-class results included.
    settings = SearchSettings(tuner="random", max_trials=2, keep_top=1, executions_per_trial=2)
    study_id = launch_search(store, BASE.replace(epochs=2), SPACE, settings, baseline=False)
    assert _run(store, study_id, cache) == "done"

    trials = store.trials([study_id])
    best = store.trial(search_state(store, study_id)["best_trial"])
    for trial in trials:
        epochs = store.epochs(trial.id)
        assert [e.epoch for e in epochs] == [0, 1, 2, 3]
        # The second execution trains with the next seed: other weights, batches, results.
        assert epochs[0].metrics["loss"] != epochs[2].metrics["loss"]
        for execution in (1, 2):
            events = (log_dir(trial, cache) / f"execution_{execution}").rglob("events.out.*")
            assert any(events), (trial.id, execution)
        kept_checkpoints = saved_epochs(checkpoint_dir(trial, cache))
        assert kept_checkpoints == ([0, 1, 2, 3] if trial.id == best.id else [])
    classes = best.results["classes"]
    assert len(classes["f1"]) == 10 and len(classes["confusion"]) == 10
    assert best.results["sizes"]["test"] == sum(map(sum, classes["confusion"]))
    assert best.results["input_shape"] == [8, 8, 1]
    grid = best.results["artifacts"].get("misclassified")
    assert grid is None or Path(grid).is_file()


def test_a_search_trial_whose_step_cannot_fit_fails_naming_batch_size(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_ENV, "1")  # 1 MiB, less than any step needs
    settings = SearchSettings(tuner="random", max_trials=1, keep_top=1)
    study_id = launch_search(store, BASE, SPACE, settings, baseline=False)
    _run(store, study_id, cache)
    (trial,) = store.trials([study_id])
    assert trial.status == Status.FAILED
    assert trial.error.startswith("batch_size: One training step at batch_size 64 needs")
    assert store.epochs(trial.id) == []  # refused before training


EPOCHS = 30


def test_time_budget_stops_the_trial_and_resume_continues_it_from_its_epoch(
    store: Store, cache: Path
) -> None:
    # The trial takes several times the budget (about 0.3 s an epoch at batch size 8 here, and
    # longer on a busy machine), so the budget ends inside trial 0 however fast it trains.
    base = BASE.replace(epochs=EPOCHS, batch_size=8)
    settings = SearchSettings(tuner="random", max_trials=1, keep_top=1, time_budget_s=3)
    study_id = launch_search(store, base, SPACE, settings, baseline=False)
    assert _run(store, study_id, cache) == "out_of_time"

    state = search_state(store, study_id)
    assert state["state"] == "out_of_time" and state["left_s"] == 0
    assert "time budget ran out after 0 of 1 planned trials" in state["note"]
    assert "trial #0 was stopped mid-way" in state["note"]
    (stopped,) = store.trials([study_id])
    assert stopped.status == Status.INTERRUPTED and "Resume continues" in stopped.error
    before = store.epochs(stopped.id)
    assert 1 <= len(before) < EPOCHS

    resume_search(store, study_id, extra_budget_s=600)
    assert _run(store, study_id, cache) == "done"
    trials = sorted(store.trials([study_id]), key=lambda t: t.number)
    assert [t.status for t in trials] == [Status.COMPLETED]
    assert trials[0].id == stopped.id  # the same trial, not a new one
    after = store.epochs(stopped.id)
    assert [e.epoch for e in after] == list(range(EPOCHS))
    # The epochs finished before the budget ran out were not trained again.
    assert [e.recorded_at for e in after[: len(before)]] == [e.recorded_at for e in before]
    assert trials[0].results["objective"] == max(e.metrics["val_accuracy"] for e in after)
    assert search_state(store, study_id)["note"] == ""


def test_a_search_hands_itself_on_after_its_trials_per_process(store: Store, cache: Path) -> None:
    from core.engine.search.run import run_search

    study_id = launch_search(store, BASE, SPACE, SETTINGS["random"], baseline=False)
    search_store.claim(store, "test:1", study_id)
    assert run_search(store, study_id, cache, trials_per_process=1) == "queued"
    state = search_state(store, study_id)
    assert state["state"] == "queued" and state["trials_done"] == 1 and state["note"] == ""
    assert _run(store, study_id, cache) == "done"
    trials = store.trials([study_id])
    assert sorted(t.number for t in trials) == [0, 1]
    assert all(t.results["worker_rss_mib"] > 0 for t in trials)


@pytest.mark.parametrize(("growth_mib", "state"), [(-1e6, "queued"), (1e6, "done")])
def test_a_search_hands_itself_on_only_once_its_memory_has_grown(
    store: Store, cache: Path, growth_mib: float, state: str
) -> None:
    from core.engine.search.run import run_search

    study_id = launch_search(store, BASE, SPACE, SETTINGS["random"], baseline=False)
    search_store.claim(store, "test:1", study_id)
    # Any growth passes a limit below zero; none reaches a terabyte.
    assert run_search(store, study_id, cache, handover_mib=growth_mib) == state
    assert search_state(store, study_id)["trials_done"] == (1 if state == "queued" else 2)
    if state == "queued":  # the fresh process runs the last trial and ends the search itself
        search_store.claim(store, "test:2", study_id)
        assert run_search(store, study_id, cache, handover_mib=growth_mib) == "done"
