"""What a launch becomes in the store: a study and its trials, and summaries across them.

A single run is a study of one trial. A run with ``folds = k`` is a *k-fold* study of k
trials; trial number i trains with fold i held out for validation, and the study reports the
mean and standard deviation of the folds' test metrics.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.catalog import DATASETS
from core.config import RunConfig
from core.folder_scan import read_manifest
from core.store import Status, Trial


@dataclass(frozen=True)
class Plan:
    """A study to create: its name, kind and one config per trial."""

    name: str
    kind: str
    configs: list[RunConfig]


def run_title(config: dict) -> str:
    """``cnn on digits``: the model and a readable dataset name (a folder's own name)."""
    return f"{config.get('model')} on {dataset_name(str(config.get('dataset')))}"


def dataset_name(dataset: str) -> str:
    """A short name: the built-in key, an upload's zip name, or a folder's own name."""
    if dataset in DATASETS:
        return dataset
    folder = Path(dataset)
    note = read_manifest(folder) or {}
    return str(note.get("name") or folder.name).removesuffix(".zip")


def plan_run(cfg: RunConfig, name: str | None = None) -> Plan:
    """Turn one config into the study that runs it (k trials when ``folds`` is k > 1)."""
    title = name or run_title(cfg.to_dict())
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
