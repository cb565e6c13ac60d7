"""The search-space model, its validation, launching and the state the Tune page reads."""

from __future__ import annotations

import os
import time

import pytest

from core.spec.config import ConfigError, RunConfig
from core.store import Status, Store
from core.store import searches as search_store
from core.views import tune_tables
from core.worker.searches import (
    Dimension,
    SearchSettings,
    SearchSpace,
    cancel_search,
    hyperband_plan,
    launch_search,
    planned_trials,
    presets,
    resume_search,
    search_state,
    validate_search,
)
from tests.app.tune_fixtures import write_search, write_stopped_hyperband

BASE = RunConfig(model="mlp", epochs=2, batch_size=32)
SPACE = SearchSpace.from_list(
    [
        {"key": "dense_units", "kind": "choice", "values": [32, 64]},
        {"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True},
        {"key": "optimizer", "kind": "fixed", "value": "sgd"},
    ]
)


def test_presets_of_the_three_reports_are_valid_searches() -> None:
    found = presets()
    assert set(found) == {"report000", "report002", "report004", "report004cv"}
    assert found["report004cv"].apply().folds == 5
    r000 = found["report000"]
    assert {d.key for d in r000.space.searched} == {
        "filters[0]",
        "filters[1]",
        "dense_units",
        "dropout",
        "learning_rate",
    }
    assert r000.settings.tuner == "hyperband" and r000.settings.max_epochs == 10
    assert found["report002"].settings.executions_per_trial == 2
    r004 = found["report004"].settings
    assert (r004.tuner, r004.min_epochs, r004.factor) == ("bayes-hyperband", 3, 3)
    for preset in found.values():
        validate_search(preset.apply(), preset.space, preset.settings)


def test_space_round_trips_through_json() -> None:
    again = SearchSpace.from_json(SPACE.to_json())
    assert again == SPACE
    assert [d.key for d in again.searched] == ["dense_units", "learning_rate"]


def test_config_for_applies_fixed_searched_and_per_block_filters() -> None:
    space = SearchSpace.from_list([{"key": "filters[1]", "kind": "int", "low": 32, "high": 64}])
    cfg = space.config_for({"filters[1]": 48}, RunConfig(filters=(16, 64)))
    assert cfg.filters == (16, 48)
    assert SPACE.config_for({"dense_units": 64}, BASE).optimizer == "sgd"


def test_grid_size() -> None:
    space = SearchSpace.from_list(
        [
            {"key": "dense_units", "kind": "int", "low": 128, "high": 512, "step": 128},
            {"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5, "step": 0.1},
        ]
    )
    assert space.grid_size() == 4 * 5  # 128, 256, 384, 512 by 0.1, 0.2, 0.3, 0.4, 0.5
    assert SPACE.grid_size() is None  # a log range has no grid


@pytest.mark.parametrize(
    ("dims", "settings", "field", "match"),
    [
        ([{"key": "colour", "kind": "choice", "values": [1]}], {}, "colour", "unknown setting"),
        ([{"key": "seed", "kind": "choice", "values": [1, 2]}], {}, "seed", "cannot be searched"),
        ([{"key": "dropout", "kind": "float", "low": 0.5, "high": 0.1}], {}, "dropout", "low"),
        ([{"key": "dropout", "kind": "float", "low": 0.1, "high": 2.0}], {}, "dropout", "0.95"),
        (
            [{"key": "learning_rate", "kind": "float", "low": 0, "high": 1, "log": True}],
            {},
            "learning_rate",
            "above 0",
        ),
        ([{"key": "optimizer", "kind": "choice", "values": []}], {}, "optimizer", "at least one"),
        (
            [{"key": "optimizer", "kind": "choice", "values": ["adam", "lion"]}],
            {},
            "optimizer",
            "lion",
        ),
        (
            [{"key": "batch_size", "kind": "choice", "values": [32, 5000]}],
            {},
            "batch_size",
            "larger than the training set",
        ),
        (
            [{"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5}],
            {"tuner": "grid"},
            "dropout",
            "grid search needs a step",
        ),
        (
            [{"key": "epochs", "kind": "int", "low": 1, "high": 5}],
            {"tuner": "hyperband"},
            "epochs",
            "max_epochs",
        ),
        (
            [{"key": "filters[3]", "kind": "int", "low": 8, "high": 16}],
            {},
            "filters[3]",
            "conv blocks",
        ),
        (
            [{"key": "dense_units", "kind": "fixed", "value": 64}],
            {},
            "space",
            "nothing is searched",
        ),
        (SPACE.to_list(), {"tuner": "annealing"}, "tuner", "choose one of"),
        (SPACE.to_list(), {"objective": "val_auc"}, "objective", "val_accuracy"),
        (SPACE.to_list(), {"max_trials": 0}, "max_trials", "whole number from 1"),
        (SPACE.to_list(), {"factor": 1}, "factor", "from 2"),
        (SPACE.to_list(), {"time_budget_s": -5}, "time_budget_s", "positive"),
    ],
)
def test_bad_searches_name_the_field_and_queue_nothing(
    store: Store, dims: list, settings: dict, field: str, match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        launch_search(store, BASE, SearchSpace.from_list(dims), SearchSettings.from_dict(settings))
    assert caught.value.field == field
    assert store.studies() == []


def test_malformed_dimensions_are_refused_when_read() -> None:
    with pytest.raises(ConfigError, match="unknown kind") as caught:
        Dimension.from_dict({"key": "dropout", "kind": "normal"})
    assert caught.value.field == "dropout"
    with pytest.raises(ConfigError, match="appears twice"):
        SearchSpace.from_list([{"key": "dropout", "value": 0.1}] * 2)
    with pytest.raises(ConfigError, match="not valid JSON"):
        SearchSpace.from_json("[{")


def test_the_baseline_trains_with_the_search_s_early_stopping(store: Store) -> None:
    settings = SearchSettings(tuner="random", max_trials=2, early_stopping_patience=2)
    spec = store.study(launch_search(store, BASE, SPACE, settings)).spec
    (baseline,) = store.trials([spec["baseline_study"]])
    assert baseline.config["early_stopping_patience"] == 2
    assert baseline.config["early_stopping_monitor"] == "val_accuracy"
    # Fixed keys apply; every searched key keeps the base config's value.
    assert baseline.config["optimizer"] == "sgd"
    assert all(baseline.config[d.key] == BASE.to_dict()[d.key] for d in SPACE.searched)


def test_launch_records_the_contract_spec_and_queues_a_baseline(store: Store) -> None:
    settings = SearchSettings(tuner="random", max_trials=4, time_budget_s=60)
    study_id = launch_search(store, BASE, SPACE, settings)
    study = store.study(study_id)
    assert study.kind == "search"
    spec = study.spec
    assert spec["tuner"] == "random" and spec["max_trials"] == 4
    assert spec["objective"] == {"name": "val_accuracy", "direction": "max"}
    assert SearchSpace.from_list(spec["space"]) == SPACE
    assert RunConfig.from_dict(spec["base"]) == BASE
    assert spec["hyperband"] == {"max_epochs": 10, "factor": 3, "iterations": 1}
    assert spec["keep_top"] == 3 and spec["time_budget_s"] == 60
    (baseline,) = store.trials([spec["baseline_study"]])
    assert baseline.status == Status.QUEUED
    assert baseline.config == BASE.replace(optimizer="sgd").to_dict()  # the fixed key applies
    state = search_state(store, study_id)
    assert state["state"] == "queued"
    assert state["trials_done"] == 0 and state["trials_planned"] == 4
    assert state["budget_s"] == 60 and state["left_s"] == 60
    assert state["best_trial"] is None


def test_state_reports_the_best_trial_by_the_objective_direction(store: Store) -> None:
    settings = SearchSettings(tuner="random", objective="val_loss", max_trials=3)
    study_id = launch_search(store, BASE, SPACE, settings, baseline=False)
    assert search_state(store, study_id)["objective"]["direction"] == "min"
    ids = []
    for number, loss in enumerate([0.9, 0.4, 0.7]):
        trial_id = search_store.start_trial(store, study_id, f"{number:02d}", BASE, 1, "h:1")
        store.finish_trial(trial_id, Status.COMPLETED, results={"objective": loss})
        ids.append(trial_id)
    again = search_store.start_trial(store, study_id, "01", BASE, 1, "h:1")
    assert again == ids[1]  # the same tuner trial keeps its store trial
    store.finish_trial(again, Status.COMPLETED, results={"objective": 0.4})
    state = search_state(store, study_id)
    assert state["best_trial"] == ids[1] and state["best_value"] == 0.4
    assert state["trials_done"] == 3
    assert [t.number for t in sorted(store.trials([study_id]), key=lambda t: t.id)] == [0, 1, 2]


def test_resume_and_cancel_follow_the_search_state(store: Store) -> None:
    settings = SearchSettings(tuner="random", max_trials=2, time_budget_s=10)
    study_id = launch_search(store, BASE, SPACE, settings, baseline=False)
    with pytest.raises(ConfigError, match="only a stopped search resumes"):
        resume_search(store, study_id)
    cancel_search(store, study_id)
    assert search_state(store, study_id)["state"] == "cancelled"
    search_store.set_state(store, study_id, "out_of_time", {"used_s": 10.0})
    with pytest.raises(ConfigError, match="add time") as caught:
        resume_search(store, study_id)
    assert caught.value.field == "time_budget_s"
    resume_search(store, study_id, extra_budget_s=30)
    state = search_state(store, study_id)
    assert state["state"] == "queued" and state["budget_s"] == 40 and state["left_s"] == 30
    assert search_store.claim(store, "w:1") == study_id
    assert search_state(store, study_id)["state"] == "running"


def test_a_running_search_whose_worker_went_silent_reads_as_interrupted(store: Store) -> None:
    study_id = launch_search(store, BASE, SPACE, SearchSettings(tuner="random"), baseline=False)
    search_store.claim(store, "w:1")
    with store._write() as db:
        db.execute("UPDATE studies SET heartbeat_at=0 WHERE id=?", (study_id,))
    assert search_state(store, study_id)["state"] == "interrupted"
    resume_search(store, study_id)
    assert search_state(store, study_id)["state"] == "queued"


def test_hyperband_plan_counts_brackets_and_rounds() -> None:
    # max_epochs 9, factor 3: bracket 2 trains 9 models 1 epoch, the best 3 to 3 epochs and the
    # best 1 to 9; bracket 1 trains 5 models 3 epochs and the best 2 to 9; bracket 0 trains 3.
    trials, epochs = hyperband_plan(9, 3)
    assert trials == 9 + 3 + 1 + 5 + 2 + 3
    assert epochs == (9 * 1 + 3 * 2 + 1 * 6) + (5 * 3 + 2 * 6) + 3 * 9
    assert hyperband_plan(9, 3, iterations=2) == (2 * trials, 2 * epochs)


def test_planned_trials_follow_the_tuner() -> None:
    settings = SearchSettings(tuner="random", max_trials=5)
    assert planned_trials(SPACE, settings) == 5
    assert planned_trials(SPACE, settings.replace(tuner="hyperband", max_epochs=2, factor=2)) == 5


def test_missing_imagenet_weights_are_named_before_anything_is_queued(store: Store) -> None:
    preset = presets()["report002"]  # a frozen ImageNet ResNet-50: no weights file offline
    with pytest.raises(ConfigError, match="resnet50") as caught:
        launch_search(store, preset.apply(), preset.space, preset.settings)
    assert caught.value.field == "pretrained"
    assert store.studies() == []


def test_on_a_tie_the_trial_the_tuner_ranked_first_is_the_best(store: Store) -> None:
    study_id = launch_search(store, BASE, SPACE, SearchSettings(tuner="random"), baseline=False)
    ids = [search_store.start_trial(store, study_id, f"{n}", BASE, 1, "h:1") for n in range(3)]
    for trial_id, rank in zip(ids, [None, 1, None], strict=True):
        store.finish_trial(trial_id, Status.COMPLETED, results={"objective": 0.9, "rank": rank})
    assert search_state(store, study_id)["best_trial"] == ids[1]


def test_a_search_launched_to_run_here_is_never_offered_to_a_worker(store: Store) -> None:
    # The command line trains the baseline first, for minutes: meanwhile a worker polling
    # the queue must take neither the search nor its baseline.
    study_id = launch_search(store, BASE, SPACE, SearchSettings(max_trials=2), run_here=True)
    row = search_store.read(store, study_id)
    assert row.state == "running" and row.owner.endswith(f":{os.getpid()}")
    assert search_store.claim(store) is None
    assert not store.waiting_for_worker() and store.claim_next(os.getpid()) is None
    time.sleep(0.2)
    assert not search_store.reap(store, timeout_s=0.1)  # silent, but its owner is alive
    search_store.set_state(store, study_id, "interrupted")
    resume_search(store, study_id, run_here=True)
    assert search_store.read(store, study_id).state == "running"
    assert search_store.claim(store) is None


def test_a_stopped_hyperband_search_says_its_best_is_a_short_trial_the_baseline_beats(
    store: Store,
) -> None:
    study_id, ids, baseline = write_stopped_hyperband(store)
    state = search_state(store, study_id)
    assert state["trials_done"] == 11 and state["trials_planned"] == 30
    assert state["best_trial"] == ids[5] and state["best_value"] == pytest.approx(0.60)
    assert state["best_epochs"] == 2 and state["schedule_epochs"] == 10
    assert state["baseline_trial"] == baseline and state["baseline_epochs"] == 10
    assert state["baseline_value"] == pytest.approx(0.975)
    assert state["baseline_better"] is True
    assert tune_tables.best_notes(state) == [
        "The untuned baseline (97.5%) beats every trial so far; the search has not found a "
        "better setting.",
        f"Best so far: run {ids[5]}, a 2-epoch trial of a 10-epoch schedule; a score after 2 "
        "epochs is not what its setting reaches after 10.",
    ]


def test_a_trial_that_beats_the_baseline_leaves_nothing_to_warn_about(store: Store) -> None:
    study_id, ids, _ = write_search(store)  # random search: its best 0.90, the baseline's 0.5
    state = search_state(store, study_id)
    assert state["baseline_value"] == pytest.approx(0.5) and state["baseline_better"] is False
    assert state["best_epochs"] == state["schedule_epochs"] == 2
    assert tune_tables.best_notes(state) == []


def test_without_a_finished_baseline_there_is_no_comparison(store: Store) -> None:
    settings = SearchSettings(tuner="random", max_trials=2)
    study_id = launch_search(store, BASE, SPACE, settings)  # its baseline is still queued
    trial_id = search_store.start_trial(store, study_id, "00", BASE, 1, "h:1")
    store.finish_trial(trial_id, Status.COMPLETED, results={"objective": 0.4})
    state = search_state(store, study_id)
    assert state["baseline_trial"] is not None and state["baseline_value"] is None
    assert state["baseline_better"] is None
    assert (
        search_state(store, launch_search(store, BASE, SPACE, settings, baseline=False))[
            "baseline_trial"
        ]
        is None
    )
