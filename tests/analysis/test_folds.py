"""k-fold summaries: each fold scored on its own held-out images, the test score apart."""

from __future__ import annotations

import statistics

import pytest

from core.analysis.folds import summarize_folds
from core.spec.config import RunConfig
from core.spec.scores import wilson_interval
from core.store import Status, Store


def fold_study(store: Store, folds: int, **changes: object) -> list[int]:
    _, ids = store.create_study(
        "cv", "kfold", [RunConfig(folds=folds, **changes)] * folds, reserve_for=1
    )
    return ids


def fold_results(val: float, test: float | None, val_images: int = 30) -> dict:
    """What a tested fold records: its own held-out images' score, and the shared test set's."""
    results = {
        "val_accuracy": val,
        "val_images": val_images,
        "sizes": {"train": 60, "validation": val_images, "test": 0 if test is None else 100},
    }
    if test is not None:
        results.update(test_accuracy=test, test_loss=1.0, test_images=100)
    return results


def test_folds_report_the_mean_of_their_own_held_out_scores_not_the_test_score(
    store: Store,
) -> None:
    ids = fold_study(store, 3)
    for tid, val, test in zip(ids, (0.9, 0.8, 0.7), (0.5, 0.6, 0.7), strict=True):
        store.finish_trial(tid, Status.COMPLETED, results=fold_results(val, test))
    summary = summarize_folds(store.trials(study_ids=[store.trial(ids[0]).study_id]))
    assert (summary.folds, summary.finished) == (3, 3)
    assert summary.fold_values == [0.9, 0.8, 0.7] and summary.fold_images == [30, 30, 30]
    assert summary.mean_accuracy == pytest.approx(0.8)
    assert summary.std_accuracy == pytest.approx(0.1)
    # Pooled, the folds scored 27 + 24 + 21 of their 90 held-out images right.
    assert summary.pooled.images == 90 and summary.pooled.value == pytest.approx(0.8)
    assert summary.pooled.ci == pytest.approx(list(wilson_interval(72, 90)))
    # The test images are the same for every fold: the fold models' mean, on 100 images.
    assert summary.test_values == [0.5, 0.6, 0.7]
    assert summary.test.value == pytest.approx(0.6) and summary.test.images == 100
    assert summary.test.ci == pytest.approx(list(wilson_interval(60, 100)))


def test_unfinished_folds_do_not_count_and_a_folder_without_a_test_set_has_no_test(
    store: Store,
) -> None:
    ids = fold_study(store, 3)
    store.finish_trial(ids[0], Status.COMPLETED, results=fold_results(0.9, None))
    store.finish_trial(ids[1], Status.COMPLETED, results=fold_results(0.8, None, val_images=29))
    store.finish_trial(ids[2], Status.FAILED, error="x")
    summary = summarize_folds(store.trials(study_ids=[store.trial(ids[0]).study_id]))
    assert (summary.folds, summary.finished) == (3, 2)
    assert summary.mean_accuracy == pytest.approx(0.85)
    assert summary.std_accuracy == pytest.approx(statistics.stdev([0.9, 0.8]))
    assert summary.pooled.images == 59 and summary.test is None and summary.test_values == []


def test_folds_recorded_before_validation_scores_use_the_epoch_they_kept(store: Store) -> None:
    ids = fold_study(store, 2, early_stopping_patience=2)
    for tid, best in zip(ids, (0, 2), strict=True):
        for epoch, acc in enumerate((0.6, 0.7, 0.65)):
            store.add_epoch(tid, epoch, {"val_accuracy": acc + tid / 100}, 1.0)
        old = {"test_accuracy": 0.5, "test_loss": 1.0, "best_epoch": best}
        store.finish_trial(tid, Status.COMPLETED, results=old)
    trials = store.trials(study_ids=[store.trial(ids[0]).study_id])
    summary = summarize_folds(trials, {t.id: store.epochs(t.id) for t in trials})
    # Early stopping restores its best epoch's weights: that epoch's score is the fold's.
    assert summary.fold_values == pytest.approx([0.6 + ids[0] / 100, 0.65 + ids[1] / 100])
    assert summary.fold_images == [None, None] and summary.pooled is None  # no counts kept
    assert summary.test.value == 0.5 and summary.test.ci is None  # nor test images
    assert summarize_folds(trials).finished == 0  # without the epochs, nothing to go on
