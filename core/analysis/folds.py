"""A k-fold study in numbers: validation accuracy over the held-out folds, and the test score.

Fold i of a k-fold study trains on every other fold and is scored on its own held-out fold
(``core.engine.loading.folds``), so each fold's validation accuracy comes from images its
model never trained on; the folds are disjoint and together make the whole training split.
The estimate is their mean ± standard deviation; pooled, the folds score every training
image once, which gives a 95% Wilson interval over all of them. The test images, the same
for every fold, are reported apart: the fold models' mean test accuracy.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.analysis.trial_scores import accuracy_on_test, accuracy_on_validation
from core.spec.scores import Score, accuracy_score
from core.store import Epoch, Status, Trial


@dataclass(frozen=True)
class FoldSummary:
    """Validation and test accuracy across the finished folds of a k-fold study.

    Attributes:
        folds: Folds planned (k).
        finished: Folds completed with a validation accuracy.
        mean_accuracy: Mean validation accuracy over those folds (None: none finished).
        std_accuracy: Its sample standard deviation (n − 1; None under two folds).
        fold_values: Each finished fold's validation accuracy, in fold order.
        fold_images: The validation images each was scored on (None: not recorded).
        pooled: Every finished fold's held-out images together: accuracy, images, interval.
        test: The fold models' mean test accuracy on the test images, with the interval
            those images allow (None: no fold was tested, e.g. a folder without a test set).
        test_values: Each tested fold's test accuracy, in fold order.
    """

    folds: int
    finished: int
    mean_accuracy: float | None
    std_accuracy: float | None
    fold_values: list[float]
    fold_images: list[int | None]
    pooled: Score | None
    test: Score | None
    test_values: list[float]


def summarize_folds(
    trials: Sequence[Trial], epochs: Mapping[int, Sequence[Epoch]] | None = None
) -> FoldSummary:
    """Sum up the completed folds of a k-fold study.

    Args:
        trials: The study's trials (any order); only completed ones count.
        epochs: Finished epochs by trial id, for folds recorded before validation scores
            were kept (``core.analysis.trial_scores.accuracy_on_validation``).
    """
    done = sorted((t for t in trials if t.status == Status.COMPLETED), key=lambda t: t.number)
    scored = [(t, accuracy_on_validation(t, (epochs or {}).get(t.id))) for t in done]
    values = [s for _, s in scored if s is not None]
    accs = [s.value for s in values]
    tests = [s for s in (accuracy_on_test(t) for t in done) if s is not None]
    return FoldSummary(
        folds=len(trials),
        finished=len(values),
        mean_accuracy=statistics.fmean(accs) if accs else None,
        std_accuracy=statistics.stdev(accs) if len(accs) > 1 else None,
        fold_values=accs,
        fold_images=[s.images for s in values],
        pooled=_pooled(values),
        test=_mean_test(tests),
        test_values=[s.value for s in tests],
    )


def _pooled(values: Sequence[Score]) -> Score | None:
    """All held-out images of the folds together (only when every fold's count is known)."""
    if not values or any(not s.images for s in values):
        return None
    images = sum(int(s.images or 0) for s in values)
    correct = sum(round(s.value * int(s.images or 0)) for s in values)
    return accuracy_score(correct / images, images)


def _mean_test(tests: Sequence[Score]) -> Score | None:
    """The folds' mean test accuracy, with the Wilson interval of that share of the images."""
    if not tests:
        return None
    return accuracy_score(statistics.fmean(s.value for s in tests), tests[0].images)
