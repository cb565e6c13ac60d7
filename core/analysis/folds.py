"""A k-fold study in numbers: the mean and spread of test accuracy over its finished folds."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from core.store import Status, Trial


@dataclass(frozen=True)
class FoldSummary:
    """Test metrics across the finished folds of a k-fold study."""

    folds: int
    finished: int
    mean_accuracy: float | None
    std_accuracy: float | None
    accuracies: list[float]


def summarize_folds(trials: Sequence[Trial]) -> FoldSummary:
    """Mean and standard deviation (sample, n-1) of test accuracy over the completed folds."""
    done = sorted(
        (t for t in trials if t.status == Status.COMPLETED and t.test_accuracy is not None),
        key=lambda t: t.number,
    )
    accs = [float(t.test_accuracy) for t in done]
    mean = statistics.fmean(accs) if accs else None
    std = statistics.stdev(accs) if len(accs) > 1 else None
    return FoldSummary(len(trials), len(accs), mean, std, accs)
