"""What a launch becomes in the store: a study and its trials, and summaries across them.

A single run is a study of one trial. A run with ``folds = k`` is a *k-fold* study of k
trials; trial number i trains with fold i held out for validation, and the study reports the
mean and standard deviation of the folds' test metrics.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from core.config import RunConfig
from core.store import Status, Trial


@dataclass(frozen=True)
class Plan:
    """A study to create: its name, kind and one config per trial."""

    name: str
    kind: str
    configs: list[RunConfig]


def plan_run(cfg: RunConfig, name: str | None = None) -> Plan:
    """Turn one config into the study that runs it (k trials when ``folds`` is k > 1)."""
    title = name or f"{cfg.model} on {_dataset_name(cfg.dataset)}"
    if cfg.folds > 1:
        return Plan(f"{title} · {cfg.folds}-fold", "kfold", [cfg] * cfg.folds)
    return Plan(title, "single", [cfg])


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


def _dataset_name(dataset: str) -> str:
    return dataset.rstrip("/").rsplit("/", 1)[-1]
