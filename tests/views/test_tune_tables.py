"""The Tune page's tables and figures, on searches written into a real SQLite store."""

from __future__ import annotations

import math

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store
from core.store.epoch_reader import EpochReader
from core.views import tune_charts as charts
from core.views import tune_tables as views

SPACE = [
    {"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True},
    {"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5, "step": 0.1},
    {"key": "optimizer", "kind": "choice", "values": ["adam", "rmsprop"]},
    {"key": "epochs", "kind": "fixed", "value": 2},
]
# (learning rate, dropout, optimizer, val_accuracy per epoch, how the trial ended)
TRIALS = [
    (1e-3, 0.1, "adam", [0.50, 0.70], Status.COMPLETED),
    (1e-2, 0.3, "rmsprop", [0.40, 0.55], Status.COMPLETED),
    (3e-4, 0.2, "adam", [0.60, 0.90], Status.COMPLETED),
    (1e-4, 0.5, "rmsprop", [0.20, 0.30], Status.COMPLETED),
    (5e-3, 0.4, "adam", [0.45, 0.60], Status.COMPLETED),
    (2e-3, 0.2, "rmsprop", [0.65], Status.RUNNING),
]


def _search(store: Store, trials=TRIALS, objective=None, baseline=None):
    """A search study with trials in known states; returns the study and its trial ids."""
    configs = [
        RunConfig(model="mlp", epochs=2, learning_rate=lr, dropout=d, optimizer=opt)
        for lr, d, opt, _, _ in trials
    ]
    spec = {
        "tuner": "random",
        "space": SPACE,
        "objective": objective or {"name": "val_accuracy", "direction": "max"},
        "max_trials": 8,
    }
    if baseline is not None:
        spec["baseline_study"] = baseline
    study_id, ids = store.create_study("search", "search", configs, spec=spec, reserve_for=1)
    goal = views.objective_of(store.study(study_id))
    for tid, (lr, d, opt, curve, status) in zip(ids, trials, strict=True):
        assert store.claim(tid, pid=1)
        rows = [{"val_accuracy": a, "val_loss": 1 - a, "accuracy": a, "loss": 1 - a} for a in curve]
        for epoch, metrics in enumerate(rows):
            store.add_epoch(tid, epoch, metrics, 0.5)
        if status != Status.RUNNING:
            hp = {"learning_rate": lr, "dropout": d, "optimizer": opt, "tuner/trial_id": "x"}
            best = goal.best([m[goal.name] for m in rows])
            results = {"hp": hp, "objective": best, "test_accuracy": max(curve) - 0.05}
            store.finish_trial(tid, status, results=results)
    return store.study(study_id), ids


def _frame(store: Store, study):
    trials = store.trials(study_ids=[study.id])
    known = EpochReader().update(store, trials)
    return views.trial_frame(study, trials, known)


def test_the_trial_table_has_a_row_per_trial_with_every_searched_value(store: Store) -> None:
    study, ids = _search(store)
    frame = _frame(store, study)
    assert list(frame["trial"]) == ids
    assert list(frame["number"]) == [1, 2, 3, 4, 5, 6]
    # Searched keys only (the fixed epochs and keras-tuner's own values are not columns).
    assert views.searched_keys(study, store.trials()) == ["learning_rate", "dropout", "optimizer"]
    assert "epochs" not in frame and "tuner/trial_id" not in frame
    assert list(frame["optimizer"]) == [t[2] for t in TRIALS]
    assert frame["learning_rate"].tolist() == pytest.approx([t[0] for t in TRIALS])
    assert list(frame["status"]) == ["completed"] * 5 + ["running"]
    assert frame["objective"].tolist() == pytest.approx([0.7, 0.55, 0.9, 0.3, 0.6, 0.65])
    assert list(frame["epochs_run"]) == [2, 2, 2, 2, 2, 1]
    assert list(frame["budget"]) == [2] * 6  # each trial's config gives it 2 epochs
    assert frame["curve"].iloc[2] == pytest.approx([0.6, 0.9])
    assert frame["bracket"].isna().all()
    assert frame["duration_s"].notna().all()


def test_a_loss_objective_is_minimized(store: Store) -> None:
    study, ids = _search(store, objective={"name": "val_loss", "direction": "min"})
    trials = store.trials(study_ids=[study.id])
    frame = views.trial_frame(study, trials, EpochReader().update(store, trials))
    # The running trial has no recorded objective: its best epoch so far counts.
    assert frame["objective"].iloc[-1] == pytest.approx(0.35)
    best = views.best_row(frame, views.objective_of(study))
    assert best is not None and best["trial"] == ids[2] and best["objective"] == pytest.approx(0.1)


def test_hyperband_brackets_and_rounds_show_in_the_table(store: Store) -> None:
    study, (tid,) = _search(store, trials=TRIALS[5:])  # one running trial
    store.finish_trial(tid, Status.COMPLETED, results={"hp": {"tuner/bracket": 1}, "round": 2})
    frame = views.trial_frame(study, store.trials(study_ids=[study.id]), {})
    assert frame["bracket"].iloc[0] == 1 and frame["round"].iloc[0] == 2


def test_best_so_far_only_improves(store: Store) -> None:
    study, _ = _search(store)
    data = charts.best_so_far(_frame(store, study), views.objective_of(study))
    assert data["best"].tolist() == pytest.approx([0.7, 0.7, 0.9, 0.9, 0.9])
    assert (data["minutes"] >= 0).all()
    fig = charts.best_so_far_figure(_frame(store, study), views.objective_of(study))
    assert [t.name for t in fig.data] == ["trial", "best so far", "trial", "best so far"]
    assert list(fig.data[1].y) == pytest.approx([0.7, 0.7, 0.9, 0.9, 0.9])


def test_the_parallel_chart_has_an_axis_per_key_and_labels_choices(store: Store) -> None:
    study, _ = _search(store)
    fig = charts.parallel_figure(study, _frame(store, study))
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == [
        "learning_rate (log)",
        "dropout",
        "optimizer",
        "val_accuracy",
    ]
    assert list(dims[0].values) == pytest.approx([math.log10(t[0]) for t in TRIALS[:5]])
    assert list(dims[2].ticktext) == ["adam", "rmsprop"]
    assert list(dims[2].values) == [0, 1, 0, 1, 0]
    assert list(fig.data[0].line.color) == pytest.approx([0.7, 0.55, 0.9, 0.3, 0.6])


def test_importance_finds_the_parameter_that_drives_the_objective(store: Store) -> None:
    # The objective follows dropout alone; the other keys are noise.
    rows = [
        (lr, d, opt, [1.0 - d], Status.COMPLETED)
        for lr, d, opt in [
            (1e-3, 0.1, "adam"),
            (1e-2, 0.5, "adam"),
            (3e-4, 0.3, "rmsprop"),
            (1e-4, 0.2, "rmsprop"),
            (5e-3, 0.4, "adam"),
            (2e-3, 0.1, "rmsprop"),
            (7e-4, 0.5, "rmsprop"),
            (4e-3, 0.3, "adam"),
        ]
    ]
    study, _ = _search(store, trials=rows)
    result = views.parameter_importance(study, _frame(store, study))
    assert result is not None
    assert result.table["parameter"].iloc[0] == "dropout"
    assert result.table["importance"].sum() == pytest.approx(1.0)
    assert "random forest" in result.method and "8 finished trials" in result.method
    fig = charts.importance_figure(result)
    assert list(fig.data[0].y)[-1] == "dropout"  # drawn at the top


def test_importance_waits_for_enough_finished_trials(store: Store) -> None:
    study, _ = _search(store, trials=TRIALS[:3])
    assert views.parameter_importance(study, _frame(store, study)) is None


def test_the_scatter_has_a_panel_per_key_with_the_best_trial_marked(store: Store) -> None:
    study, _ = _search(store)
    fig = charts.scatter_figure(study, _frame(store, study))
    assert len(fig.data) == 3
    assert fig.layout.xaxis.type == "log"  # learning rate
    assert fig.layout.xaxis3.type == "category"  # optimizer
    colours = list(fig.data[1].marker.color)
    assert colours.count(charts.BEST_COLOUR) == 1 and colours[2] == charts.BEST_COLOUR


def test_the_best_trial_is_set_beside_the_baseline(store: Store) -> None:
    base_study, (base,) = store.create_study("base", "single", [RunConfig(model="mlp")], None, 1)
    store.add_epoch(base, 0, {"val_accuracy": 0.6}, 1.0)
    store.finish_trial(base, Status.COMPLETED, results={"test_accuracy": 0.58, "test_loss": 1.2})
    study, ids = _search(store, baseline=base_study)
    baseline = views.baseline_trial(store, study)
    assert baseline is not None and baseline.id == base
    best = store.trial(ids[2])
    table = views.versus_baseline(
        best, store.epochs(best.id), baseline, store.epochs(base), views.objective_of(study)
    )
    assert list(table["metric"]) == ["test accuracy", "test loss", "best val_accuracy"]
    assert table["change"].iloc[0] == pytest.approx(0.85 - 0.58)
    assert table["change"].iloc[2] == pytest.approx(0.9 - 0.6)
    assert math.isnan(table["change"].iloc[1])  # the trial has no test loss
    diff = views.settings_diff(best, baseline)
    assert set(diff.index) == {"learning_rate", "dropout", "epochs"}
