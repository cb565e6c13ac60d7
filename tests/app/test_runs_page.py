"""The Runs page under AppTest: the table, filters, comparing, opening and deleting runs."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.spec.config import RunConfig
from core.store import Status, Store, paths
from core.worker.launch import LOCK_NAME
from tests.app.conftest import APP

RUNS = "pages/runs.py"


def open_runs(**query: str) -> AppTest:
    """Open the app on the Runs page, the way a browser does: through app.py."""
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(RUNS)
    return at.run()


def finished(store: Store, name: str, cfg: RunConfig, accuracies: list[float]) -> int:
    """A study of one completed run with these validation accuracies; returns the trial id."""
    _, (tid,) = store.create_study(name, "single", [cfg], reserve_for=1)
    for i, acc in enumerate(accuracies):
        store.add_epoch(
            tid, i, {"loss": 1.0, "accuracy": acc, "val_loss": 1.0 - acc, "val_accuracy": acc}, 1
        )
    store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.9, "test_loss": 0.3})
    return tid


def select_rows(at: AppTest, rows: list[int]) -> AppTest:
    """Select rows of the runs table, as a click on their row boxes does."""
    key = at.dataframe[0].key
    assert key and key.startswith("runs-")
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_an_empty_store_says_there_are_no_runs(store: Store) -> None:
    at = open_runs()
    assert not at.exception
    assert at.title[0].value == "Runs"
    assert "No runs yet" in at.info[0].value
    assert not at.dataframe


def test_the_table_lists_the_trials_of_every_study_and_filters_them(store: Store) -> None:
    one = finished(store, "first <b>study</b>", RunConfig(model="mlp"), [0.5, 0.7])
    _, folds = store.create_study("cnn · 2-fold", "kfold", [RunConfig()] * 2)
    at = open_runs()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["trial"]) == [*reversed(folds), one]
    assert set(table["study_name"]) == {"first <b>study</b>", "cnn · 2-fold"}
    # shown in percentage points, so every share reads with one decimal
    assert table.set_index("trial").loc[one, "best_val_accuracy"] == pytest.approx(70.0)
    at.multiselect(key="runs-status").set_value(["queued"]).run()
    assert list(at.dataframe[0].value["trial"]) == list(reversed(folds))
    at.text_input(key="runs-search").set_value("FIRST").run()
    assert at.dataframe[0].value.empty
    assert any("0 of 3 runs" in c.value for c in at.caption)


def test_selecting_two_runs_overlays_their_curves_and_diffs_their_settings(
    store: Store,
) -> None:
    slow = finished(store, "slow", RunConfig(learning_rate=0.001), [0.4, 0.6, 0.8])
    fast = finished(store, "fast", RunConfig(learning_rate=0.1), [0.7, 0.75])
    at = select_rows(open_runs(), [0, 1])
    assert not at.exception
    assert at.subheader[0].value == "Compare 2 runs"
    chart = at.get("plotly_chart")[0]
    figure = json.loads(chart.proto.spec)
    legend = [t["name"] for t in figure["data"] if t.get("showlegend", True)]
    assert legend == [f"run {fast} · cnn · lr 0.1 on digits", f"run {slow} · cnn on digits"]
    diff = at.dataframe[1].value
    # Each setting named as the form names it.
    assert "Learning rate" in diff.index and "Model" not in diff.index
    assert list(diff.loc["Learning rate", [f"run {fast}", f"run {slow}"]]) == ["0.1", "0.001"]
    at.toggle(key="runs-diff-only").set_value(False).run()
    everything = at.dataframe[1].value
    assert "Model" in everything.index and not everything.loc["Model", "differs"]


def test_a_run_in_the_url_opens_in_full_with_downloads(store: Store, completed_trial: int) -> None:
    at = open_runs(trial=str(completed_trial))
    assert not at.exception
    assert any(f"Run {completed_trial}" in m.value for m in at.markdown)
    labels = {m.label: m.value for m in at.metric}
    assert labels["Test accuracy"] == f"{store.trial(completed_trial).test_accuracy:.1%}"
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == [
        "Model (.keras)",
        "Weights (.h5)",
        "Config (.json)",
        "train.py",
        "TensorBoard logs",
        "Everything (.zip)",
    ]
    links = [p for p in at.get("page_link") if "Train page" in p.proto.label]
    assert links and f"trial={completed_trial}" in links[0].proto.query_string


def test_promote_queues_a_linked_run_shown_beside_the_original(
    store: Store, cache: Path, completed_trial: int
) -> None:
    # Holding the worker lock keeps the page from starting a worker: the run stays queued.
    with open(cache / LOCK_NAME, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        at = open_runs(trial=str(completed_trial))
        at.button(key=f"promote-{completed_trial}").click().run()
    assert not at.exception
    promoted = [t for t in store.trials() if t.parent_id == completed_trial]
    assert len(promoted) == 1
    (new,) = promoted
    assert store.study(new.study_id).kind == "promote"
    best = store.trial(completed_trial).results["best_epoch"]
    assert new.config["epochs"] == best + 1
    assert at.button(key=f"promote-{completed_trial}").disabled  # one at a time
    assert any(f"Run {new.id} (promoted)" in m.value for m in at.markdown)
    table = open_runs().dataframe[0].value.set_index("trial")
    assert table.loc[new.id, "parent"] == completed_trial and table.loc[new.id, "kind"] == "promote"
    assert new.status == Status.QUEUED


def test_a_study_offers_its_trials_as_csv(store: Store) -> None:
    configs = [RunConfig(learning_rate=rate) for rate in (0.1, 0.01)]
    study, ids = store.create_study("lr sweep", "sweep", configs)
    for tid in ids:
        store.claim_next(pid=1)
        store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.9, "test_loss": 0.3})
    at = select_rows(open_runs(), [0])
    assert not at.exception
    csv_button = at.get("download_button")[0]
    assert csv_button.proto.label == "Download all runs (.csv)"
    assert any("No completed run with saved files" in c.value for c in at.caption)


def test_an_unknown_run_in_the_url_is_named(store: Store) -> None:
    finished(store, "s", RunConfig(), [0.5])
    at = open_runs(trial="999")
    assert not at.exception
    assert "no run 999" in at.warning[0].value


def test_delete_asks_first_then_removes_the_rows_and_the_run_folder(
    store: Store, cache: Path
) -> None:
    keep = finished(store, "keep me", RunConfig(), [0.5])
    gone = finished(store, "delete me", RunConfig(), [0.6])
    study = store.trial(gone).study_id
    folder = paths.runs_dir(cache) / str(study) / str(gone)
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"weights")
    at = select_rows(open_runs(), [0])
    at.button(key=f"runs-delete-{study}").click().run()
    assert not at.exception
    assert "for good" in at.warning[0].value
    assert any("delete me" in t.value for t in at.text)
    assert store.trial(gone)  # nothing deleted before the second click
    at.button(key=f"runs-keep-{study}").click().run()
    assert not at.warning and folder.is_dir()
    at.button(key=f"runs-delete-{study}").click().run()
    at.button(key=f"runs-confirm-{study}").click().run()
    assert not at.exception
    assert [t.id for t in store.trials()] == [keep]
    assert not (paths.runs_dir(cache) / str(study)).exists()
    assert f"Deleted study {study}" in at.success[0].value
    assert list(at.dataframe[0].value["trial"]) == [keep]


def test_a_search_trial_that_was_not_tested_opens_without_test_scores(store: Store) -> None:
    from tests.app.tune_fixtures import write_search

    _, ids, _ = write_search(store)
    at = open_runs(trial=str(ids[0]))  # not among the kept (tested) trials
    assert not at.exception
    scores = {m.label: m.value for m in at.metric}
    assert scores["Test accuracy"] == "—" and scores["Test loss"] == "—"
    assert any("Not tested: a search tests and saves only its best" in c.value for c in at.caption)
