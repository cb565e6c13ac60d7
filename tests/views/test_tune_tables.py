"""The Tune page's tables and figures, on searches written into a real SQLite store."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
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
    assert fig.layout.yaxis.tickformat == ".0%"  # an accuracy, in percent as in the table
    # These trials ended within a second of each other: the time axis counts seconds.
    assert fig.layout.xaxis2.title.text == "seconds since the start"
    assert list(fig.data[2].x) == pytest.approx(list(data["minutes"] * 60))


def test_the_time_axis_takes_the_unit_its_span_reads_best_in() -> None:
    assert charts._time_unit(0.5) == ("s", 60.0)
    assert charts._time_unit(45) == ("min", 1.0)
    assert charts._time_unit(600) == ("h", 1 / 60)


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


# A search written straight into the store: the learning rate, dropout and dense units each
# trial tried, its budget (epochs) and its objective.
CONSTRUCTED_SPACE = [
    {"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True},
    {"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5, "step": 0.1},
    {"key": "dense_units", "kind": "choice", "values": [128, 256, 384, 512]},
]


def _constructed(store: Store, rows, tuner: str = "random"):
    """A finished search of ``rows`` (hp dict, objective, epochs); its study and frame."""
    configs = [
        RunConfig(model="mlp", epochs=epochs, learning_rate=hp["learning_rate"])
        for hp, _, epochs in rows
    ]
    spec = {"tuner": tuner, "space": CONSTRUCTED_SPACE, "objective": {"name": "val_accuracy"}}
    study_id, ids = store.create_study("search", "search", configs, spec=spec, reserve_for=1)
    for tid, (hp, value, _) in zip(ids, rows, strict=True):
        assert store.claim(tid, pid=1)
        store.finish_trial(tid, Status.COMPLETED, results={"hp": hp, "objective": value})
    study = store.study(study_id)
    return study, _frame(store, study)


def _random_trials(count: int, seed: int, objective, epochs: int = 2):
    """``count`` trials scored by ``objective(log10 lr, dropout)`` plus a little noise.

    As a random search would, but balanced: learning rates spread evenly over the range and
    every dropout and dense-units value equally often, each key shuffled on its own, so that
    no key follows another by chance.
    """
    rng = np.random.default_rng(seed)
    log_lrs = rng.permutation(np.linspace(-4, -2, count))
    dropouts = rng.permutation(np.resize([0.1, 0.2, 0.3, 0.4, 0.5], count))
    units = rng.permutation(np.resize([128, 256, 384, 512], count))
    rows = []
    for log_lr, dropout, dense in zip(log_lrs, dropouts, units, strict=True):
        hp = {
            "learning_rate": float(10**log_lr),
            "dropout": float(dropout),
            "dense_units": int(dense),
        }
        score = objective(float(log_lr), float(dropout)) + rng.normal(0, 0.002)
        rows.append((hp, score, epochs))
    return rows


def _peaked_at_1e_3(log_lr: float, dropout: float) -> float:
    """An accuracy decided by the learning rate alone: best at 1e-3, lower either side."""
    return 0.9 - 0.2 * (log_lr + 3) ** 2


def test_importance_gives_the_one_parameter_that_decides_nearly_all_of_it(store: Store) -> None:
    study, frame = _constructed(store, _random_trials(20, seed=2, objective=_peaked_at_1e_3))
    result = views.parameter_importance(study, frame)
    assert result is not None and result.verdict is None
    table = result.table.set_index("parameter")
    assert list(table.index)[0] == "learning_rate"
    assert table.loc["learning_rate", "importance"] > 0.9
    assert table.loc["learning_rate", "low"] > 0.7
    for noise in ("dropout", "dense_units"):
        low, share, high = table.loc[noise, ["low", "importance", "high"]]
        assert abs(share) < 0.05 and low < 0.02 and high > -0.02, (noise, low, share, high)
    assert result.pair is None  # nothing acts only together with the learning rate
    assert result.budget is None and result.trials == 20
    assert result.title == "Share of importance · the 20 finished trials (90% intervals)"
    assert "permutation importance" in result.method and "R²" in result.method
    fig = charts.importance_figure(result)
    assert list(fig.data[0].y)[-1] == "learning_rate"  # drawn at the top
    assert fig.data[0].error_x.arrayminus is not None
    assert fig.layout.title.text == result.title


def test_hyperband_importance_keeps_to_the_trials_of_the_most_epochs(store: Store) -> None:
    # After 2 epochs a low dropout looks best (it learns fastest); after 10 only the learning
    # rate matters. Mixed together, the many short trials would make dropout look decisive.
    short = _random_trials(24, seed=2, objective=lambda lr, d: 0.88 - 0.5 * (d - 0.1), epochs=2)
    full = _random_trials(15, seed=12, objective=_peaked_at_1e_3, epochs=10)
    study, frame = _constructed(store, short + full, tuner="hyperband")
    assert sorted(set(frame["budget"])) == [2, 10]
    result = views.parameter_importance(study, frame)
    assert result is not None and result.budget == 10 and result.trials == 15
    assert result.title.startswith("Share of importance · the 15 finished 10-epoch trials")
    assert "The 24 finished trials given fewer epochs are left out" in result.method
    table = result.table.set_index("parameter")
    assert table["importance"].idxmax() == "learning_rate"
    assert table.loc["dropout", "low"] < 0.02
    # The same measure over every trial, budgets mixed, names dropout instead.
    mixed = study.spec | {"tuner": "random"}
    misled = views.parameter_importance(dataclasses.replace(study, spec=mixed), frame)
    assert misled is not None
    assert misled.table["parameter"].iloc[0] == "dropout"


def test_a_notable_interaction_is_named_in_one_line(store: Store) -> None:
    def together(log_lr: float, dropout: float) -> float:
        # Dropout helps at a high learning rate and hurts at a low one.
        return 0.7 + 0.05 * (log_lr + 3) + 0.5 * (log_lr + 3) * (dropout - 0.3)

    study, frame = _constructed(store, _random_trials(30, seed=4, objective=together))
    result = views.parameter_importance(study, frame)
    assert result is not None and result.pair is not None
    named, _, rest = result.pair.partition(" explain ")
    assert set(named.split(" × ")) == {"learning_rate", "dropout"}
    assert "together, beyond what each does alone (90% interval" in rest


def test_importance_names_nothing_when_the_values_do_not_predict_the_objective(
    store: Store,
) -> None:
    rng = np.random.default_rng(5)
    rows = [
        (hp, float(rng.uniform(0.4, 0.6)), 2) for hp, _, _ in _random_trials(12, 5, _peaked_at_1e_3)
    ]
    study, frame = _constructed(store, rows)
    result = views.parameter_importance(study, frame)
    assert result is not None and result.table.empty
    assert result.verdict is not None
    assert result.verdict.startswith("The searched values do not yet predict val_accuracy")
    assert "no parameter can be named as important" in result.verdict
    assert "Bars are" not in result.method  # no chart is drawn


def test_importance_waits_for_enough_finished_trials(store: Store) -> None:
    study, _ = _search(store, trials=TRIALS[:3])
    assert views.parameter_importance(study, _frame(store, study)) is None


def test_the_scatter_has_a_panel_per_key_with_the_best_trial_marked(store: Store) -> None:
    study, _ = _search(store)
    fig = charts.scatter_figure(study, _frame(store, study))
    assert len(fig.data) == 3
    assert fig.layout.xaxis.type == "log"  # learning rate, a tick at each power of ten
    assert (fig.layout.xaxis.dtick, fig.layout.xaxis.exponentformat) == (1, "power")
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
    shown = views.shown_versus(table)
    assert list(shown.loc[0]) == ["test accuracy", "85.0%", "58.0%", "+27.0 pp"]
    assert list(shown.loc[1]) == ["test loss", "—", "1.2000", "—"]
    diff = views.settings_diff(best, baseline)
    assert set(diff.index) == {"learning_rate", "dropout", "epochs"}
