"""The table of all runs, config comparison, overlaid curves and deleting a study."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store, paths
from core.views.runs import (
    DIFFERS,
    MISSING,
    RUN_COLUMNS,
    config_diff,
    delete_study,
    filter_runs,
    interval_labels,
    overlay_figure,
    runs_frame,
)


def _epochs(store: Store, trial_id: int, val_accuracies: list[float]) -> None:
    for i, acc in enumerate(val_accuracies):
        metrics = {"loss": 1.0 / (i + 1), "accuracy": acc, "val_loss": 1.2 / (i + 1)}
        store.add_epoch(trial_id, i, {**metrics, "val_accuracy": acc}, 1.0)


@pytest.fixture
def two_studies(store: Store) -> tuple[int, int, list[int]]:
    """A finished single run (mlp, sgd) and a 2-fold study (cnn) with one fold running."""
    single, (one,) = store.create_study(
        "quick mlp", "single", [RunConfig(model="mlp", optimizer="sgd", epochs=3)], reserve_for=1
    )
    assert store.claim(one, pid=1)
    _epochs(store, one, [0.5, 0.8, 0.7])
    store.finish_trial(one, Status.COMPLETED, {"test_accuracy": 0.75, "test_loss": 0.6})
    kfold, folds = store.create_study("cnn · 2-fold", "kfold", [RunConfig()] * 2)
    store.claim_next(pid=1)
    return single, kfold, [one, *folds]


def test_runs_frame_has_one_row_per_trial_with_scores(
    store: Store, two_studies: tuple[int, int, list[int]]
) -> None:
    single, kfold, (one, fold1, fold2) = two_studies
    frame = runs_frame(store)
    assert list(frame.columns) == RUN_COLUMNS
    assert list(frame["trial"]) == [fold2, fold1, one]  # newest first
    row = frame.set_index("trial").loc[one]
    assert row["study"] == single and row["kind"] == "single"
    assert row["study_name"] == "quick mlp" and row["dataset"] == "digits"
    assert (row["model"], row["optimizer"], row["epochs"]) == ("mlp", "sgd", 3)
    assert row["best_val_accuracy"] == pytest.approx(0.8)  # the best epoch, not the last
    assert row["test_accuracy"] == 0.75 and row["test_loss"] == 0.6
    assert pd_isna(row["test_images"]) and pd_isna(row["test_ci_low"])  # no count recorded
    assert row["status"] == "completed" and row["duration_s"] >= 0
    folds = frame[frame["study"] == kfold].set_index("trial")
    assert list(folds.loc[[fold1, fold2], "number"]) == [1, 2]
    assert folds.loc[fold1, "status"] == "running" and pd_isna(folds.loc[fold1, "duration_s"])
    assert pd_isna(folds.loc[fold2, "best_val_accuracy"])


def pd_isna(value: object) -> bool:
    return value is None or value != value  # NaN is the only value unequal to itself


def test_runs_frame_of_an_empty_store_has_the_columns(store: Store) -> None:
    frame = runs_frame(store)
    assert frame.empty and list(frame.columns) == RUN_COLUMNS


def test_filters_combine_and_empty_ones_keep_everything(
    store: Store, two_studies: tuple[int, int, list[int]]
) -> None:
    _, _, (one, fold1, fold2) = two_studies
    frame = runs_frame(store)
    assert len(filter_runs(frame)) == 3
    assert list(filter_runs(frame, statuses=["completed"])["trial"]) == [one]
    assert set(filter_runs(frame, kinds=["kfold"])["trial"]) == {fold1, fold2}
    assert filter_runs(frame, datasets=["mnist"]).empty
    assert list(filter_runs(frame, text="  QUICK ")["trial"]) == [one]
    assert list(filter_runs(frame, text="2-fold", statuses=["queued"])["trial"]) == [fold2]
    assert filter_runs(frame, text="(", kinds=["single"]).empty  # text, not a pattern


def test_config_diff_marks_the_keys_that_differ() -> None:
    a = RunConfig(learning_rate=0.01).to_dict()
    b = RunConfig(learning_rate=0.1, augment=("flip",)).to_dict() | {"extra": 1}
    diff = config_diff([a, b], labels=["run 3", "run 4"])
    assert list(diff.columns) == ["run 3", "run 4", DIFFERS]
    assert diff.loc["learning_rate", DIFFERS] and diff.loc["augment", DIFFERS]
    assert diff.loc["extra", "run 3"] == MISSING and diff.loc["extra", DIFFERS]
    assert not diff.loc["model", DIFFERS] and diff.loc["model", "run 4"] == "cnn"
    assert set(diff.index[diff[DIFFERS]]) == {"learning_rate", "augment", "extra"}
    assert list(config_diff([a, a]).columns) == ["run 1", "run 2", DIFFERS]
    with pytest.raises(ValueError, match="one label per config"):
        config_diff([a, b], labels=["only one"])


def test_overlay_draws_both_metrics_per_trial_in_its_own_colour(
    store: Store, two_studies: tuple[int, int, list[int]]
) -> None:
    _, _, (one, fold1, _) = two_studies
    _epochs(store, fold1, [0.3, 0.6])
    fig = overlay_figure(store, [one, fold1])
    assert len(fig.data) == 4
    legend = [t for t in fig.data if t.showlegend]
    assert [t.name for t in legend] == [
        f"run {one} · mlp · sgd · epochs 3 on digits",
        f"run {fold1} · cnn on digits",
    ]
    colours = {t.legendgroup: t.line.color for t in fig.data}
    assert len(set(colours.values())) == 2
    accuracy = [t for t in fig.data if t.xaxis == "x2"]
    assert list(accuracy[0].y) == [0.5, 0.8, 0.7] and list(accuracy[1].x) == [1, 2]


def test_store_delete_study_takes_its_trials_and_epochs(
    store: Store, two_studies: tuple[int, int, list[int]]
) -> None:
    single, kfold, (one, fold1, _) = two_studies
    assert store.delete_study(single) == 1
    assert store.delete_study(single) == 0
    with pytest.raises(KeyError):
        store.trial(one)
    assert [t.id for t in store.trials()] != [] and store.study(kfold).name == "cnn · 2-fold"
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM epochs WHERE trial_id=?", (one,)).fetchone() == (0,)


def test_delete_study_cancels_active_trials_and_removes_the_run_folder(
    store: Store, cache: Path, two_studies: tuple[int, int, list[int]]
) -> None:
    single, kfold, (_, fold1, fold2) = two_studies
    seen: list[tuple[int, bool]] = []

    class Watching(Store):
        def delete_study(self, study_id: int) -> int:
            seen.extend((t.id, t.cancel_requested) for t in self.trials(study_ids=[study_id]))
            return super().delete_study(study_id)

    folder = paths.runs_dir(cache) / str(kfold) / str(fold1)
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"x")
    other = paths.runs_dir(cache) / str(single)
    other.mkdir(parents=True)
    assert delete_study(Watching(store.path), kfold, cache) == 2
    assert sorted(seen) == [(fold1, True), (fold2, True)]
    assert not (paths.runs_dir(cache) / str(kfold)).exists() and other.is_dir()
    assert [t.study_id for t in store.trials()] == [single]
    with pytest.raises(KeyError):
        delete_study(store, kfold, cache)


def test_the_table_follows_a_running_trial_and_keeps_a_finished_ones_scores(
    store: Store,
) -> None:
    _, (tid,) = store.create_study("live", "single", [RunConfig(epochs=3)], reserve_for=1)
    _epochs(store, tid, [0.5])
    assert runs_frame(store).set_index("trial").loc[tid, "best_val_accuracy"] == 0.5
    store.add_epoch(tid, 1, {"val_accuracy": 0.8, "val_loss": 0.3}, 1.0)
    assert runs_frame(store).set_index("trial").loc[tid, "best_val_accuracy"] == 0.8
    store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.7, "test_loss": 0.4})
    row = runs_frame(store).set_index("trial").loc[tid]
    assert row["best_val_accuracy"] == 0.8 and row["test_accuracy"] == 0.7
    assert pd_isna(row["parent"])


def test_each_row_counts_the_epochs_its_trial_finished_from_one_read(
    store: Store, two_studies: tuple[int, int, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, (one, fold1, fold2) = two_studies
    _epochs(store, fold1, [0.3, 0.6])
    reads: list[object] = []
    read_all = store.epochs_by_trial
    monkeypatch.setattr(
        store, "epochs_by_trial", lambda ids=None: reads.append(ids) or read_all(ids)
    )
    monkeypatch.setattr(store, "epochs", lambda *_: pytest.fail("one read per trial"))
    frame = runs_frame(store).set_index("trial")
    assert frame.loc[[one, fold1, fold2], "epochs_run"].tolist() == [3, 2, 0]
    assert frame.loc[one, "epochs"] == 3 and len(reads) == 1
    store.finish_trial(fold1, Status.CANCELLED)
    runs_frame(store)  # the cancelled fold's count is kept from here on
    reads.clear()
    store.finish_trial(fold2, Status.CANCELLED)
    again = runs_frame(store).set_index("trial")
    assert again.loc[[one, fold1, fold2], "epochs_run"].tolist() == [3, 2, 0]
    assert reads == [[fold2]]  # finished trials' counts come from what was read before


def test_runs_frame_gives_each_test_accuracy_its_images_and_interval(store: Store) -> None:
    _, (new, old) = store.create_study("s", "sweep", [RunConfig(), RunConfig(seed=1)])
    recorded = {"test_accuracy": 0.9, "test_loss": 0.3, "test_images": 360}
    store.finish_trial(new, Status.COMPLETED, {**recorded, "test_accuracy_ci": [0.86, 0.93]})
    sizes = {"train": 70, "validation": 16, "test": 4}  # recorded before intervals were kept
    store.finish_trial(old, Status.COMPLETED, {"test_accuracy": 0.75, "sizes": sizes})
    frame = runs_frame(store).set_index("trial")
    assert frame.loc[new, ["test_images", "test_ci_low", "test_ci_high"]].tolist() == [
        360,
        0.86,
        0.93,
    ]
    assert frame.loc[old, "test_images"] == 4
    assert frame.loc[old, ["test_ci_low", "test_ci_high"]].tolist() == pytest.approx(
        [0.3006, 0.9544], abs=1e-4
    )
    assert interval_labels(frame).loc[[new, old]].tolist() == ["86.0–93.0%", "30.1–95.4%"]
