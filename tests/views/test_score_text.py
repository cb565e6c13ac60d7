"""What the pages say about a run's scores: every accuracy with its images and interval."""

from __future__ import annotations

from core.analysis.folds import summarize_folds
from core.analysis.trial_scores import accuracy_on_test, accuracy_on_validation, macro_f1_of
from core.spec.config import RunConfig
from core.store import Status, Store
from core.views import score_text


def finished(store: Store, results: dict, **changes: object) -> int:
    _, (tid,) = store.create_study("run", "single", [RunConfig(**changes)], reserve_for=1)
    store.finish_trial(tid, Status.COMPLETED, results=results)
    return tid


def test_a_tested_run_states_each_accuracy_with_its_images_and_interval(store: Store) -> None:
    tid = finished(
        store,
        {
            "test_accuracy": 350 / 360,
            "test_loss": 0.1,
            "test_images": 360,
            "test_accuracy_ci": [0.9496, 0.9848],
            "val_accuracy": 0.9,
            "val_images": 288,
            "val_accuracy_ci": [0.86, 0.93],
            "sizes": {"train": 1149, "validation": 288, "test": 360},
            "classes": {
                "split": "test",
                "images": 360,
                "macro": {"f1": 0.97, "f1_ci": [0.95, 0.98]},
            },
        },
    )
    trial = store.trial(tid)
    assert score_text.score_lines(trial) == [
        "Test accuracy 97.2% (95% CI 95.0–98.5%, 360 images)",
        "Validation accuracy 90.0% (95% CI 86.0–93.0%, 288 images)",
    ]
    assert score_text.macro_f1_line(trial) == "Macro F1 97.0% (95% CI 95.0–98.0%, 360 test images)"
    assert score_text.no_test_note(trial) is None


def test_an_older_run_gets_wilsons_interval_from_its_split_sizes(store: Store) -> None:
    old = {
        "test_accuracy": 0.75,
        "test_loss": 0.5,
        "sizes": {"train": 70, "validation": 16, "test": 4},
    }
    trial = store.trial(finished(store, old))
    assert accuracy_on_test(trial).text() == "75.0% (95% CI 30.1–95.4%, 4 images)"
    assert accuracy_on_validation(trial) is None and macro_f1_of(trial) is None
    bare = store.trial(finished(store, {"test_accuracy": 0.75, "test_loss": 0.5}))
    assert accuracy_on_test(bare).text() == "75.0%"  # no image count, so no interval (and no crash)


def test_a_run_without_a_test_set_shows_its_validation_accuracy_and_suggests_folds(
    store: Store,
) -> None:
    results = {
        "val_accuracy": 15 / 18,
        "val_loss": 0.4,
        "val_images": 18,
        "val_accuracy_ci": [0.608, 0.942],
        "sizes": {"train": 72, "validation": 18, "test": 0},
    }
    trial = store.trial(finished(store, results, early_stopping_patience=3))
    assert score_text.has_no_test_set(trial) and accuracy_on_test(trial) is None
    note = score_text.no_test_note(trial)
    assert note.startswith(
        "No test accuracy: this folder is too small for a separate test set (every class "
        "needs 50 images). Validation accuracy 83.3% (95% CI 60.8–94.2%, 18 images); early "
        "stopping chose the epoch"
    )
    assert note.endswith(score_text.SUGGEST_FOLDS) and "folds" in score_text.SUGGEST_FOLDS
    fold = store.trial(finished(store, results, folds=3))
    assert "This fold's validation accuracy 83.3%" in score_text.no_test_note(fold)
    assert score_text.SUGGEST_FOLDS not in score_text.no_test_note(fold)  # it is one already


def test_fold_lines_give_the_validation_mean_then_the_test_score(store: Store) -> None:
    _, ids = store.create_study("cv", "kfold", [RunConfig(folds=2)] * 2, reserve_for=1)
    for tid, val in zip(ids, (0.9, 0.7), strict=True):
        results = {"val_accuracy": val, "val_images": 40, "test_accuracy": 0.8, "test_loss": 1.0}
        store.finish_trial(tid, Status.COMPLETED, results={**results, "test_images": 200})
    lines = score_text.fold_lines(summarize_folds(store.trials(study_ids=[1])))
    assert lines == [
        "Cross-validation · 2 of 2 folds done · validation accuracy **80.0% ± 14.1%** "
        "(mean ± std of 2 folds, each scored on its own 40 held-out images)",
        "All 80 held-out images together: 80.0% (95% CI 70.0–87.3%).",
        "Test accuracy 80.0% (95% CI 73.9–85.0%, 200 images): the mean of the 2 fold models on "
        "the same test images.",
    ]
