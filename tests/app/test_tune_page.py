"""The Tune page under streamlit's AppTest: the search editor, bad input, a search's views."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.spec.config import RunConfig
from core.spec.formats import SETTING_FORMAT
from core.spec.params import field_label
from core.store import Status, Store
from core.store import searches as search_store
from core.worker.launch import worker_alive
from core.worker.searches import (
    SearchSettings,
    SearchSpace,
    launch_search,
    search_state,
)
from pages.ui import tune_importance
from pages.ui.tune_results import CHART_TABS_KEY
from tests.app.conftest import APP
from tests.app.tune_fixtures import TRIALS, write_search, write_stopped_hyperband

TUNE = "pages/tune.py"


def run(**query: str) -> AppTest:
    """Open the app on the Tune page, the way a browser does: through app.py."""
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(TUNE)
    return at.run()


def _launch(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Launch search").click().run()


def test_the_page_opens_on_the_report_000_preset_with_an_estimate(store: Store) -> None:
    at = run()
    assert not at.exception
    assert at.selectbox(key="tune-preset").value == "report000"
    kinds = {s.key: s.value for s in at.selectbox if s.key.endswith("-kind")}
    assert kinds == {
        "tune-filters[0]-kind": "int",
        "tune-filters[1]-kind": "int",
        "tune-dense_units-kind": "int",
        "tune-dropout-kind": "float",
        "tune-learning_rate-kind": "float",
    }
    assert at.text_input(key="tune-filters[0]-low").value == "16"
    assert at.checkbox(key="tune-learning_rate-log").value is True
    assert at.selectbox(key="tune-tuner").value == "hyperband"
    estimate = [c.value for c in at.caption if "30 trials, 120 epochs" in c.value]
    assert estimate and "nothing ran here yet" in estimate[0], [c.value for c in at.caption]
    assert any("No searches yet" in i.value for i in at.info)


def test_choosing_a_preset_loads_its_space_and_tuner(store: Store) -> None:
    at = run()
    at.selectbox(key="tune-preset").set_value("report002").run()
    assert not at.exception
    assert at.selectbox(key="tune-optimizer-kind").value == "choice"
    assert at.text_input(key="tune-optimizer-values").value == "adam, rmsprop"
    assert at.selectbox(key="tune-tuner").value == "random"
    assert at.number_input(key="tune-executions").value == 2
    assert not any(s.key == "tune-filters[0]-kind" for s in at.selectbox)


def test_keys_can_be_added_and_removed(store: Store) -> None:
    at = run()
    at.selectbox(key="tune-add").set_value("optimizer").run()
    assert at.selectbox(key="tune-optimizer-kind").value == "choice"
    assert "adam" in at.text_input(key="tune-optimizer-values").value
    at.button(key="tune-dropout-remove").click().run()
    assert not any(s.key == "tune-dropout-kind" for s in at.selectbox)


@pytest.mark.parametrize(
    ("key", "value", "field", "words"),
    [
        ("tune-dropout-low", "a lot", "dropout", "must be a number"),
        ("tune-dropout-high", "", "dropout", "give the range's high value"),
        ("tune-dropout-low", "0.9", "dropout", "must not be above high"),
        ("tune-filters[0]-step", "2.5", "filters[0]", "whole number"),
        ("tune-learning_rate-low", "0", "learning_rate", "log-scale range must start above 0"),
        ("tune-dense_units-high", "100000", "dense_units", "does not make a valid run"),
    ],
)
def test_bad_space_input_names_the_key_and_queues_nothing(
    store: Store, key: str, value: str, field: str, words: str
) -> None:
    at = run()
    at.text_input(key=key).set_value(value).run()
    _launch(at)
    assert not at.exception
    assert len(at.error) == 1
    # named in the form's words (its label), not by its config key
    assert f"**{field_label(field)}**" in at.error[0].value and words in at.error[0].value
    assert store.studies() == []


def test_a_grid_too_large_to_run_is_estimated_and_refused_naming_its_key(
    store: Store,
) -> None:
    at = run()
    at.selectbox(key="tune-tuner").set_value("grid").run()
    at.checkbox(key="tune-learning_rate-log").uncheck().run()
    at.text_input(key="tune-learning_rate-step").set_value("0.001").run()
    at.text_input(key="tune-filters[0]-low").set_value("1").run()
    at.text_input(key="tune-filters[0]-step").set_value("1").run()
    at.text_input(key="tune-filters[0]-high").set_value("2048").run()  # 1.6 million points
    assert not at.exception  # the estimate before Launch counts the grid, never lists it
    _launch(at)
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "**Filters of conv block 1**" in message and "combinations" in message, message
    assert store.studies() == []


def test_a_float_range_on_a_whole_number_key_is_refused(store: Store) -> None:
    at = run()
    at.selectbox(key="tune-filters[0]-kind").set_value("float").run()
    _launch(at)
    assert not at.exception
    assert len(at.error) == 1
    assert "**Filters of conv block 1**" in at.error[0].value and "int range" in at.error[0].value
    assert store.studies() == []


def test_bad_tuner_settings_name_the_setting(store: Store) -> None:
    at = run()
    at.selectbox(key="tune-tuner").set_value("random").run()
    at.number_input(key="tune-max_trials").set_value(0).run()
    _launch(at)
    assert len(at.error) == 1 and "**Max trials**" in at.error[0].value
    assert store.studies() == []


def test_launching_queues_the_search_and_its_baseline(
    store: Store, cache: Path, busy_worker: None
) -> None:
    at = run()
    at.selectbox(key="tune-tuner").set_value("random").run()
    at.number_input(key="tune-max_trials").set_value(2).run()
    _launch(at)
    assert not at.exception and not at.error
    search, baseline = store.studies()[:2]
    assert search.kind == "search" and baseline.kind == "single"
    assert search.spec["baseline_study"] == baseline.id
    assert search.spec["tuner"] == "random" and search.spec["max_trials"] == 2
    assert [d["key"] for d in search.spec["space"]][:2] == ["filters[0]", "filters[1]"]
    assert at.query_params["study"] in (str(search.id), [str(search.id)])
    assert any(f"Search {search.id}" in m.value for m in at.markdown)
    assert search_state(store, search.id)["state"] == "queued"


def test_a_finished_search_shows_its_table_charts_and_the_baseline(store: Store) -> None:
    study, ids, baseline = write_search(store)
    at = run(study=str(study))
    assert not at.exception
    assert any("5 of 6 trials done" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert list(table["trial"]) == ids
    assert list(table["optimizer"]) == [t[2] for t in TRIALS]
    # A log-scale key reads as people write it, while its column still sorts by value.
    assert list(table["learning_rate"]) == [t[0] for t in TRIALS]
    columns = json.loads(at.dataframe[0].proto.columns)
    assert columns["learning_rate"]["type_config"]["format"] == SETTING_FORMAT  # 0.0003
    # an accuracy is shown in percentage points, one decimal like every share
    assert table["objective"].tolist() == pytest.approx([100 * max(t[3]) for t in TRIALS])
    assert [t.label for t in at.tabs] == [
        "Best so far",
        "Parallel coordinates",
        "Importance",
        "Each parameter",
    ]
    # Only the open tab is drawn: the importance is worked out once its tab is opened.
    said = " ".join(c.value for c in at.caption)
    assert "random forest" not in said and "Working out the importance" not in said
    at.session_state[f"{CHART_TABS_KEY}-{study}"] = "Importance"
    at.run()
    if not any("random forest" in c.value for c in at.caption):  # not worked out at once
        assert any("Working out the importance" in c.value for c in at.caption)
        tune_importance._IMPORTANCE.wait(60)  # the page's fragment redraws it when done
        at.run()
    assert any("random forest" in c.value for c in at.caption)
    versus = at.dataframe[1].value  # shares as the header writes them, the change in points
    assert list(versus.loc[2, ["best trial", "baseline", "change"]]) == [
        "90.0%",
        "50.0%",
        "+40.0 pp",
    ]
    assert not any(b.label == "Resume" for b in at.button)


def test_a_stopped_hyperband_search_says_the_baseline_beats_its_short_trials(
    store: Store,
) -> None:
    study, ids, baseline = write_stopped_hyperband(store)
    best = ids[5]
    at = run(study=str(study))
    assert not at.exception
    assert any(
        "11 of 30 trials done" in m.value and "(after 2 of 10 epochs)" in m.value
        for m in at.markdown
    )
    table = at.dataframe[0].value
    assert list(table["budget"]) == [2] * 11
    assert [w.value for w in at.warning] == [
        "The untuned baseline (97.5%) beats every trial so far; the search has not found a "
        "better setting."
    ]
    assert (
        f"Best so far: run {best}, a 2-epoch trial of a 10-epoch schedule; a score after 2 "
        "epochs is not what its setting reaches after 10."
    ) in [i.value for i in at.info]
    labels = [e.label for e in at.expander]
    assert (
        f"Run {best} in full (a 2-epoch trial of a 10-epoch schedule; the baseline beats it), "
        "with its model to download"
    ) in labels
    assert not any(label.startswith(f"Run {best} in full, with") for label in labels)


def test_a_best_trial_trained_on_another_machine_says_where_its_weights_are(
    store: Store,
) -> None:
    study, _, _ = write_search(store)
    best = search_state(store, study)["best_trial"]
    search_store.set_results(
        store, best, {"rank": 1, "weights_on": "gpu-box:4242", "tuner_trial_id": "t3"}
    )
    at = run(study=str(study))
    assert not at.exception
    (note,) = [i.value for i in at.info if "gpu-box:4242" in i.value]
    assert f"Run {best} was trained by the tuner on gpu-box:4242" in note
    assert "tuning/" + str(study) + "/trial_t3" in note and "Promote" in note
    assert any(b.label == "Promote" for b in at.button)  # the run's full view, below


def test_a_running_search_is_shown_live_with_a_stop_button(store: Store) -> None:
    study, ids, _ = write_search(store, state="running", running=1)
    at = run(study=str(study))
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["status"]) == ["completed"] * 4 + ["running"]
    assert table["objective"].iloc[-1] == pytest.approx(60.0)  # its best epoch so far, in %
    at.button(key=f"tune-stop-{study}").click().run()
    assert search_store.read(store, study).progress.get("cancel") is True


def test_resume_without_time_left_says_to_add_time(store: Store) -> None:
    study, _, _ = write_search(store, state="out_of_time", budget_s=20.0)
    at = run(study=str(study))
    assert not at.exception
    at.button(key=f"tune-resume-{study}").click().run()
    assert len(at.error) == 1 and "**Time budget**" in at.error[0].value
    assert "add time" in at.error[0].value
    assert search_state(store, study)["state"] == "out_of_time"


def test_resume_with_more_time_queues_the_search_again(
    store: Store, cache: Path, busy_worker: None
) -> None:
    study, _, _ = write_search(store, state="out_of_time", budget_s=20.0)
    at = run(study=str(study))
    at.number_input(key=f"tune-extra-{study}").set_value(10.0).run()
    at.button(key=f"tune-resume-{study}").click().run()
    assert not at.exception and not at.error
    state = search_state(store, study)
    assert state["state"] == "queued" and state["budget_s"] == pytest.approx(20.0 + 600.0)
    assert worker_alive(cache)  # the one holding the lock: no second worker was started
    # Answered at once, and the page (run once, after the press) watches it live.
    assert [t.value for t in at.toast] == [
        f"Search {study} is queued again; it goes on from its finished trials."
    ]
    assert any(b.label == "Stop the search" for b in at.button)


def test_an_unknown_search_in_the_url_falls_back_to_the_latest(store: Store) -> None:
    study, _, _ = write_search(store)
    at = run(study="999")
    assert "no search 999" in at.warning[0].value
    assert any(f"Search {study}" in m.value for m in at.markdown)


def test_a_search_whose_worker_died_reads_as_interrupted_with_resume(store: Store) -> None:
    study, ids, _ = write_search(store, state="running", running=1)
    with sqlite3.connect(store.path) as db:  # the worker went silent a minute ago
        db.execute("UPDATE trials SET heartbeat_at = heartbeat_at - 60")
        db.execute("UPDATE studies SET heartbeat_at = heartbeat_at - 60")
    at = run(study=str(study))
    assert not at.exception
    assert any("interrupted" in m.value for m in at.markdown)
    assert list(at.dataframe[0].value["status"]) == ["completed"] * 4 + ["interrupted"]
    assert any("Resume" in w.value for w in at.warning)
    assert at.button(key=f"tune-resume-{study}").label == "Resume"


def test_every_problem_of_a_launch_is_named_at_once(store: Store, busy_worker: None) -> None:
    at = run()
    at.selectbox(key="tune-tuner").set_value("random").run()
    at.text_input(key="tune-dropout-low").set_value("a lot").run()
    at.text_input(key="tune-learning_rate-low").set_value("0").run()
    _launch(at)
    assert not at.exception
    (listed,) = [e.value for e in at.error]
    assert listed.startswith("2 settings to change:")
    assert "**Dropout** — low must be a number" in listed
    assert "**Learning rate** — a log-scale range must start above 0" in listed, listed
    assert store.studies() == []
    # Said until the next launch, which queues once both are fixed.
    at.text_input(key="tune-dropout-low").set_value("0.1").run()
    at.text_input(key="tune-learning_rate-low").set_value("0.0001").run()
    assert at.error  # not launched again yet
    _launch(at)
    assert not at.exception and not at.error
    assert len(store.studies()) == 2  # the search and its baseline


def test_a_launch_names_the_tuner_settings_beside_the_rows_in_one_press(
    store: Store, busy_worker: None
) -> None:
    at = run()
    at.selectbox(key="tune-tuner").set_value("random").run()
    at.number_input(key="tune-max_trials").set_value(0).run()
    at.selectbox(key="tune-filters[0]-kind").set_value("float").run()  # refused at launch
    _launch(at)
    (listed,) = [e.value for e in at.error]
    assert listed.startswith("2 settings to change:"), listed
    assert "**Max trials**" in listed and "**Filters of conv block 1**" in listed
    # A row that cannot be read at all still leaves the settings checked on the same press.
    at.selectbox(key="tune-filters[0]-kind").set_value("int").run()
    at.text_input(key="tune-dropout-low").set_value("a lot").run()
    _launch(at)
    (listed,) = [e.value for e in at.error]
    assert "**Dropout**" in listed and "**Max trials**" in listed, listed
    assert store.studies() == []


def test_bayes_hyperband_is_offered_with_its_stopping_settings_and_says_why_trials_stopped(
    store: Store, busy_worker: None
) -> None:
    at = run()
    at.selectbox(key="tune-tuner").set_value("bayes-hyperband").run()
    labels = {n.key: n.label for n in at.number_input}
    assert labels["tune-min_epochs"] == "Min epochs before stopping"
    assert "tune-executions" not in labels and "tune-max_epochs" not in labels
    at.number_input(key="tune-max_trials").set_value(4)
    at.number_input(key="tune-min_epochs").set_value(2).run()
    _launch(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    search = store.studies(kind="search")[0]
    assert search.spec["tuner"] == "bayes-hyperband"
    assert search.spec["settings"]["min_epochs"] == 2

    study, ids, _ = write_search(store)
    why = {"epoch": 1, "value": 0.3, "threshold": 0.6, "compared": 3, "kept": 1, "rung": 0}
    search_store.set_results(store, ids[1], {"pruned": why})
    at = run(study=str(study))
    table = at.dataframe[0].value
    assert table.loc[1, "stopped"] == (
        "pruned at epoch 1: 30.0%, below the 60.0% needed (best 1 of 3 went on)"
    )
    assert table["stopped"].isna().sum() == len(ids) - 1


def test_a_cross_validated_search_is_launched_from_the_form_and_shows_its_folds_spread(
    store: Store, busy_worker: None
) -> None:
    at = run()
    at.selectbox(key="tune-tuner").set_value("random").run()
    at.number_input(key="tune-max_trials").set_value(2)
    at.number_input(key="tune-folds").set_value(3).run()
    _launch(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    search = store.studies(kind="search")[0]
    assert search.spec["base"]["folds"] == 3
    assert len(store.trials([search.spec["baseline_study"]])) == 3  # the baseline too

    # Trials of two 2-epoch folds each: the objective is their mean, the spread beside it.
    base = RunConfig(model="mlp", epochs=2, folds=2)
    space = SearchSpace.from_list([{"key": "dense_units", "kind": "choice", "values": [8, 16]}])
    study = launch_search(store, base, space, SearchSettings(tuner="random"), baseline=False)
    for number, folds in enumerate(([0.5, 0.7, 0.6, 0.9], [0.8, 0.8, 0.6, 0.6])):
        tid = search_store.start_trial(store, study, f"t{number}", base, pid=1, worker="h:1")
        for epoch, acc in enumerate(folds):
            store.add_epoch(tid, epoch, {"val_accuracy": acc, "val_loss": 1 - acc}, 0.5)
        mean = (max(folds[:2]) + max(folds[2:])) / 2
        store.finish_trial(tid, Status.COMPLETED, results={"hp": {}, "objective": mean})
    search_store.set_state(store, study, "done", {"used_s": 3.0})
    at = run(study=str(study))
    table = at.dataframe[0].value
    assert table["objective"].tolist() == pytest.approx([80.0, 70.0])  # shown in percent
    # Sample standard deviations of (0.7, 0.9) and (0.8, 0.6), in percentage points.
    assert table["objective_std"].tolist() == pytest.approx([14.14, 14.14], abs=1e-2)
    columns = json.loads(at.dataframe[0].proto.columns)
    assert columns["objective_std"]["label"] == "± over folds"
