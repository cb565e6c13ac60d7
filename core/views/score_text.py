"""The sentences that state a run's scores: each with its images and 95% interval.

Plain functions of a trial or a fold summary; the Train and Runs pages lay out what these
return. Nothing here imports Streamlit or TensorFlow.
"""

from __future__ import annotations

from core.analysis.folds import FoldSummary
from core.analysis.trial_scores import accuracy_on_test, accuracy_on_validation, macro_f1_of
from core.data.folder_scan import MIN_CLASS_FOR_TEST
from core.spec.scores import format_interval, format_score
from core.store import Trial

# What a person does about a folder too small for a test set.
SUGGEST_FOLDS = (
    "Train with folds (cross-validation, e.g. 5) for an estimate that scores every image "
    "once, on a model that did not train on it."
)


def has_no_test_set(trial: Trial) -> bool:
    """Whether the trial's data had no test images (a folder too small for a test set)."""
    return (trial.results.get("sizes") or {}).get("test") == 0


def score_lines(trial: Trial) -> list[str]:
    """One line per score of a finished trial: test accuracy, validation accuracy.

    E.g. ``Test accuracy 97.2% (95% CI 95.1–98.4%, 360 images)``.
    """
    lines = []
    if (test := accuracy_on_test(trial)) is not None:
        lines.append(f"Test accuracy {test.text()}")
    if (val := accuracy_on_validation(trial)) is not None:
        lines.append(f"Validation accuracy {val.text()}")
    return lines


def no_test_note(trial: Trial) -> str | None:
    """Why a trial has no test accuracy when its folder had no test set, and what to do."""
    if not has_no_test_set(trial):
        return None
    note = (
        "No test accuracy: this folder is too small for a separate test set (every class "
        f"needs {MIN_CLASS_FOR_TEST} images)."
    )
    val = accuracy_on_validation(trial)
    if val is None:
        return f"{note} This run trained on its validation images too, so nothing scored it."
    fold = int(trial.config.get("folds") or 1) > 1
    whose = "This fold's validation" if fold else "Validation"
    note += f" {whose} accuracy {val.text()}"
    if trial.config.get("early_stopping_patience"):
        note += "; early stopping chose the epoch on these same images, so it reads a bit high"
    # A fold is already part of a cross-validation: the summary above it is the estimate.
    return f"{note}." if fold else f"{note}. {SUGGEST_FOLDS}"


def macro_f1_line(trial: Trial) -> str | None:
    """``Macro F1 96.9% (95% CI 94.8–98.5%, 360 test images)`` of the per-class results."""
    score = macro_f1_of(trial)
    if score is None:
        return None
    split = (trial.results.get("classes") or {}).get("split", "test")
    images = f"{score.images:,} {split} images" if score.images else None
    parts = [f"95% CI {format_interval(score.ci)}"] if score.ci else []
    parts += [images] if images else []
    return f"Macro F1 {score.value:.1%}" + (f" ({', '.join(parts)})" if parts else "")


def fold_lines(summary: FoldSummary, no_test_set: bool = False) -> list[str]:
    """Markdown lines of a k-fold study: folds done, the validation estimate, the test score.

    Args:
        summary: ``core.analysis.folds.summarize_folds`` of the study.
        no_test_set: The folder had no test set (so the folds are the only estimate).
    """
    head = f"Cross-validation · {summary.finished} of {summary.folds} folds done"
    if summary.mean_accuracy is None:
        return [head]
    spread = f" ± {summary.std_accuracy:.1%}" if summary.std_accuracy is not None else ""
    what = "mean ± std" if spread else "the only finished fold"
    counts = sorted({n for n in summary.fold_images if n})
    images = ""
    if counts:
        each = f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}–{counts[-1]:,}"
        images = f", each scored on its own {each} held-out images"
    lines = [
        f"{head} · validation accuracy **{summary.mean_accuracy:.1%}{spread}** "
        f"({what} of {summary.finished} fold{'s' if summary.finished != 1 else ''}{images})"
    ]
    if summary.pooled is not None and summary.pooled.ci is not None:
        lines.append(
            f"All {summary.pooled.images:,} held-out images together: "
            f"{format_score(summary.pooled.value, None, summary.pooled.ci)}."
        )
    if summary.test is not None:
        lines.append(
            f"Test accuracy {summary.test.text()}: the mean of the "
            f"{len(summary.test_values)} fold models on the same test images."
        )
    elif no_test_set:
        lines.append(
            "No test set: this folder is too small for one (every class needs "
            f"{MIN_CLASS_FOR_TEST} images), so the folds above are the estimate."
        )
    return lines
