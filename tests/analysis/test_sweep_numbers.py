"""A sweep's numbers from store rows: per run, per value, curves on four x axes, figures."""

from __future__ import annotations

import math

import pytest

from core.analysis import sweep_numbers as compare
from core.spec.config import RunConfig
from core.spec.sweeps import SweepSpec, plan_sweep
from core.store import Status, Store
from core.views import sweep_charts as compare_charts

BASE = RunConfig(model="mlp", epochs=3)


def _sweep(store: Store, values: dict, repeats: int = 1, **kw) -> tuple[int, SweepSpec]:
    plan, spec = plan_sweep(BASE, values, repeats, **kw)
    study_id, _ = store.create_study(
        plan.name, plan.kind, plan.configs, spec=spec.to_dict(), reserve_for=1
    )
    return study_id, SweepSpec.from_dict(store.study(study_id).spec)


def _finish(store: Store, trial_id: int, accs: list[float], seconds: float, test: float) -> None:
    for i, acc in enumerate(accs):
        metrics = {"loss": 1 - acc, "val_loss": 1.1 - acc, "accuracy": acc + 0.05}
        store.add_epoch(trial_id, i, {**metrics, "val_accuracy": acc}, seconds)
    store.finish_trial(
        trial_id, Status.COMPLETED, {"test_accuracy": test, "test_loss": 1 - test,
                                     "peak_memory_mb": 700.0, "sizes": {"train": 1149}},
    )  # fmt: skip


def _read(store: Store, study_id: int) -> tuple[list, dict]:
    trials = store.trials(study_ids=[study_id])
    return trials, {t.id: store.epochs(t.id) for t in trials}


def test_runs_and_values_carry_mean_std_throughput_and_gap(store: Store) -> None:
    study_id, spec = _sweep(store, {"batch_size": "20, 100"}, repeats=2)
    trials = sorted(store.trials(study_ids=[study_id]), key=lambda t: t.number)
    for trial, test in zip(trials, (0.90, 0.80, 0.92, 0.84), strict=True):
        seconds = 2.0 if trial.config["batch_size"] == 20 else 0.5
        _finish(store, trial.id, [0.5, 0.7, test - 0.02], seconds, test)
    runs = compare.run_frame(spec, *_read(store, study_id))
    assert list(runs["value"]) == ["20", "100", "20", "100"]
    assert list(runs["repeat"]) == [1, 1, 2, 2]
    assert runs["images_per_second"].tolist() == pytest.approx([574.5, 2298, 574.5, 2298])
    assert runs["train_val_gap"].tolist() == pytest.approx([0.05] * 4)
    values = compare.value_frame(spec, runs).set_index("value")
    assert values.loc["20", "test_accuracy"] == pytest.approx(0.91)
    assert values.loc["20", "test_accuracy_std"] == pytest.approx(math.sqrt(2) * 0.01)
    assert values.loc["100", "runs"] == 2 and values.loc["100", "seconds_per_epoch"] == 0.5
    assert values.loc["100", "peak_memory_mb"] == 700.0
    (bars, errors) = compare_charts.bars_figure(compare.value_frame(spec, runs)).data
    assert list(errors.error_y.array) == pytest.approx([math.sqrt(2) * 0.01, math.sqrt(2) * 0.02])


def test_curves_have_every_x_axis_and_a_noise_band_with_repeats(store: Store) -> None:
    study_id, spec = _sweep(store, {"batch_size": "20, 100"}, repeats=2)
    trials = sorted(store.trials(study_ids=[study_id]), key=lambda t: t.number)
    for trial, accs in zip(trials, ([0.5, 0.6], [0.4, 0.5], [0.7, 0.8], [0.4, 0.5]), strict=True):
        _finish(store, trial.id, accs, 1.5, 0.5)
    curves = compare.curve_frame(spec, *_read(store, study_id))
    first = curves[(curves["value"] == "100") & (curves["epoch"] == 2)].iloc[0]
    assert first["updates"] == 2 * math.ceil(1149 / 100)
    assert first["samples"] == 2 * 1149 and first["seconds"] == 3.0
    means = compare.mean_curves(curves)
    row = means[(means["value"] == "20") & (means["epoch"] == 1)].iloc[0]
    assert row["n"] == 2 and row["val_accuracy"] == pytest.approx(0.6)
    assert row["val_accuracy_std"] == pytest.approx(math.sqrt(0.02))
    for x in compare.X_AXES:
        fig = compare_charts.sweep_curves_figure(means, x, total_epochs=3, title=spec.title)
        bands = [t for t in fig.data if t.fill == "toself"]
        assert len(bands) == 4  # two values × (loss, accuracy)
        assert {t.name for t in fig.data if t.showlegend} == {"20", "100"}
        if x in ("updates", "samples"):  # counts on a log axis: 100, 1k, 10k
            assert (fig.layout.xaxis.type, fig.layout.xaxis.dtick) == ("log", 1)
            assert fig.layout.xaxis.tickformat == "~s"


def test_a_grid_is_drawn_as_a_heatmap_with_the_mean_of_each_cell(store: Store) -> None:
    study_id, spec = _sweep(store, {"optimizer": "adam, sgd", "learning_rate": "0.01, 0.001"})
    trials = sorted(store.trials(study_ids=[study_id]), key=lambda t: t.number)
    for trial, test in zip(trials[:3], (0.9, 0.8, 0.3), strict=True):
        _finish(store, trial.id, [test], 1.0, test)
    values = compare.value_frame(spec, compare.run_frame(spec, *_read(store, study_id)))
    fig = compare_charts.heatmap_figure(spec, values)
    assert [list(r) for r in fig.data[0].z] == [[0.9, 0.8], [0.3, None]]
    assert list(fig.data[0].y) == ["adam", "sgd"] and list(fig.data[0].x) == ["0.01", "0.001"]
    bars = compare_charts.bars_figure(values)
    assert list(bars.data[0].x) == ["adam · 0.01", "adam · 0.001", "sgd · 0.01"]
    assert len(bars.data) == 1  # one run per value: no error bars


def test_the_chart_states_the_learning_rate_scaling(store: Store) -> None:
    _, spec = _sweep(store, {"batch_size": "32, 128"}, scale_lr=True)
    assert compare_charts.lr_note(spec) == (
        "Learning rate scaled with batch size: lr = 0.001 × batch / 64"
    )


def test_cancelling_a_sweep_keeps_finished_runs(store: Store) -> None:
    plan, spec = plan_sweep(BASE, {"batch_size": "20, 50, 100"})
    study_id, ids = store.create_study(plan.name, plan.kind, plan.configs, spec=spec.to_dict())
    store.claim_next(pid=1)
    store.finish_trial(ids[0], Status.COMPLETED, {"test_accuracy": 0.9})
    store.claim_next(pid=1)
    assert store.cancel_study(study_id) == 2
    statuses = [store.trial(i).status for i in ids]
    assert statuses == [Status.COMPLETED, Status.RUNNING, Status.CANCELLED]
    assert store.trial(ids[1]).cancel_requested and not store.trial(ids[0]).cancel_requested
    assert "1 running" in compare.progress_line(store.trials(study_ids=[study_id]))


def test_a_cancelled_runs_epochs_do_not_count_in_the_values_figures(store: Store) -> None:
    study_id, spec = _sweep(store, {"batch_size": "20"}, repeats=2)
    done, stopped = sorted(store.trials(study_ids=[study_id]), key=lambda t: t.number)
    _finish(store, done.id, [0.8, 0.9], 1.0, 0.9)
    store.add_epoch(stopped.id, 0, {"loss": 2.0, "val_accuracy": 0.1}, 9.0)
    store.finish_trial(stopped.id, Status.CANCELLED)
    runs = compare.run_frame(spec, *_read(store, study_id))
    assert list(runs["status"]) == ["completed", "cancelled"]  # every run is listed
    row = compare.value_frame(spec, runs).iloc[0]
    assert row["runs"] == 1 and row["seconds_per_epoch"] == 1.0
    assert math.isnan(row["seconds_per_epoch_std"])
