"""The numbers of a sweep: one row per run, one row per value, and curves by value.

Plain pandas from store rows, for the Compare page and the sweep command alike. Nothing here
imports Streamlit or TensorFlow. Figures are in ``core.views.sweep_charts``, the written summary in
``core.analysis.sweep_summary``.

The x axes a sweep's curves can be drawn against (``X_AXES``): epochs; optimizer updates
(epochs × batches per epoch, which a batch size changes); training images seen; and wall-clock
seconds of training (the epochs' own seconds, validation included, added up).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.trial_scores import accuracy_on_test
from core.data.checks import train_size
from core.spec.config import ConfigError, RunConfig
from core.spec.scores import accuracy_score
from core.spec.sweeps import SweepSpec
from core.store import Epoch, Status, Trial

# Seconds per epoch is the median over a run's epochs: the first epoch also builds the model's
# graph, which a mean would spread over short runs.
X_AXES = {
    "epoch": "Epoch",
    "updates": "Optimizer updates",
    "samples": "Images seen",
    "seconds": "Wall-clock seconds",
}
CURVE_METRICS = ("loss", "val_loss", "accuracy", "val_accuracy")
# Per-run figures: column → (label, higher is better). The table, bars and summary use these.
RUN_METRICS: dict[str, tuple[str, bool]] = {
    "test_accuracy": ("Test accuracy", True),
    "test_loss": ("Test loss", False),
    "best_val_accuracy": ("Best validation accuracy", True),
    "seconds_per_epoch": ("Seconds per epoch (median)", False),
    "total_seconds": ("Total time (s)", False),
    "images_per_second": ("Images per second", True),
    "train_val_gap": ("Train − validation accuracy", False),
    "peak_memory_mb": ("Peak memory (MB)", False),
}


def cell_of(spec: SweepSpec, trial: Trial) -> tuple[int, ...] | None:
    """The cell (value indexes) a trial of the sweep trained, from its number."""
    if 0 <= trial.number < len(spec.cells):
        return spec.cells[trial.number]
    return None


@functools.lru_cache(maxsize=256)
def _train_size(config_json: str) -> int | None:
    try:
        return train_size(RunConfig.from_dict(json.loads(config_json)))
    except (ConfigError, OSError, KeyError):
        return None


def train_images(trial: Trial) -> int | None:
    """Training images per epoch: as recorded once the run ends, else from its config."""
    recorded = (trial.results.get("sizes") or {}).get("train")
    if recorded:
        return int(recorded)
    return _train_size(json.dumps(trial.config, sort_keys=True))


def run_frame(
    spec: SweepSpec, trials: Sequence[Trial], epochs: Mapping[int, Sequence[Epoch]]
) -> pd.DataFrame:
    """One row per run of the sweep: its value, repeat, status and every ``RUN_METRICS`` figure.

    Args:
        spec: The sweep.
        trials: The study's trials (any order).
        epochs: Finished epochs by trial id (runs without any may be missing).
    """
    order = {cell: i for i, cell in enumerate(spec.all_cells())}
    rows = []
    for trial in sorted(trials, key=lambda t: t.number):
        cell = cell_of(spec, trial)
        if cell is None:
            continue
        mine = list(epochs.get(trial.id, ()))
        seconds = [e.seconds for e in mine]
        images = train_images(trial)
        per_epoch = float(np.median(seconds)) if seconds else None
        last = mine[-1].metrics if mine else {}
        val_accs = [e.metrics["val_accuracy"] for e in mine if "val_accuracy" in e.metrics]
        test = accuracy_on_test(trial)
        rows.append(
            {
                "trial": trial.id,
                "order": order[cell],
                "value": spec.label(cell),
                **{k: v for k, v in zip(spec.keys, spec.cell_values(cell), strict=True)},
                "repeat": spec.seeds[trial.number] + 1,
                "seed": trial.config.get("seed"),
                "learning_rate_used": trial.config.get("learning_rate"),
                "status": str(trial.status),
                "epochs_done": len(mine),
                "test_accuracy": trial.test_accuracy,
                "test_images": test.images if test else None,
                "test_loss": trial.test_loss,
                "best_val_accuracy": _finite_max(val_accs),
                "seconds_per_epoch": per_epoch,
                "total_seconds": float(sum(seconds)) if seconds else None,
                "images_per_second": images / per_epoch if images and per_epoch else None,
                "train_val_gap": (
                    last["accuracy"] - last["val_accuracy"]
                    if "accuracy" in last and "val_accuracy" in last
                    else None
                ),
                "peak_memory_mb": trial.results.get("peak_memory_mb"),
            }
        )
    return pd.DataFrame(rows)


def _finite_max(values: Sequence[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


def value_frame(spec: SweepSpec, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per value (cell): runs done, and mean and std of each ``RUN_METRICS`` figure.

    Only completed runs count (a cancelled or failed run's epochs would skew the figures).
    Columns ``<metric>`` hold the mean over the value's runs that have the figure, and
    ``<metric>_std`` the sample standard deviation (n − 1); NaN where there are no runs, or
    fewer than two for the deviation. ``test_images`` is how many test images each run was
    scored on (the same images for every run of a sweep), and ``test_ci_low`` and
    ``test_ci_high`` the 95% Wilson interval of the mean test accuracy on that many images:
    how far the test images alone leave it uncertain (the spread over seeds is
    ``test_accuracy_std``).
    Rows follow the order the values were given in.
    """
    rows = []
    done = completed(runs)
    for i, cell in enumerate(spec.all_cells()):
        mine = done[done["order"] == i] if len(done) else done
        row: dict[str, Any] = {
            "order": i,
            "value": spec.label(cell),
            **{k: v for k, v in zip(spec.keys, spec.cell_values(cell), strict=True)},
            "runs": len(mine),
            "planned": spec.repeats,
        }
        for metric in RUN_METRICS:
            values = mine[metric].dropna().astype(float) if len(mine) else pd.Series(dtype=float)
            row[metric] = float(values.mean()) if len(values) else math.nan
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        row.update(_test_interval(mine, row["test_accuracy"]))
        rows.append(row)
    return pd.DataFrame(rows)


def _test_interval(runs: pd.DataFrame, mean: float) -> dict[str, float]:
    """Test images of a value's runs and the Wilson interval of their mean accuracy."""
    images = runs["test_images"].dropna() if len(runs) else pd.Series(dtype=float)
    if images.empty or math.isnan(mean):
        return {"test_images": math.nan, "test_ci_low": math.nan, "test_ci_high": math.nan}
    score = accuracy_score(mean, int(images.max()))
    return {
        "test_images": float(images.max()),
        "test_ci_low": score.low if score.low is not None else math.nan,
        "test_ci_high": score.high if score.high is not None else math.nan,
    }


def completed(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``run_frame`` whose run completed (trained, tested and saved)."""
    return runs[runs["status"] == str(Status.COMPLETED)] if len(runs) else runs


def curve_frame(
    spec: SweepSpec, trials: Sequence[Trial], epochs: Mapping[int, Sequence[Epoch]]
) -> pd.DataFrame:
    """One row per finished epoch of every run, with each x axis of ``X_AXES``.

    ``epoch`` is 1-based; ``updates`` and ``samples`` count to the end of the epoch;
    ``seconds`` is the run's training time so far.
    """
    order = {cell: i for i, cell in enumerate(spec.all_cells())}
    rows = []
    for trial in trials:
        cell = cell_of(spec, trial)
        if cell is None:
            continue
        images = train_images(trial) or 0
        steps = math.ceil(images / int(trial.config.get("batch_size") or 1))
        elapsed = 0.0
        for e in epochs.get(trial.id, ()):
            elapsed += e.seconds
            n = e.epoch + 1
            rows.append(
                {
                    "trial": trial.id,
                    "order": order[cell],
                    "value": spec.label(cell),
                    "epoch": n,
                    "updates": n * steps,
                    "samples": n * images,
                    "seconds": elapsed,
                    **{m: e.metrics.get(m) for m in CURVE_METRICS},
                }
            )
    columns = ["trial", "order", "value", *X_AXES, *CURVE_METRICS]
    return pd.DataFrame(rows, columns=columns)


def mean_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation across repeats, per value and epoch.

    ``order`` is the value's place in the sweep (its colour). Each x axis is averaged too
    (repeats of a value take about the same time per epoch); ``n`` says how many runs reached
    the epoch. ``<metric>_std`` is 0 with one run.
    """
    if curves.empty:
        columns = ["order", "value", "n", *X_AXES]
        return pd.DataFrame(
            columns=columns + [*CURVE_METRICS, *(f"{m}_std" for m in CURVE_METRICS)]
        )
    grouped = curves.groupby(["order", "value", "epoch"], sort=False)
    means = grouped[[a for a in X_AXES if a != "epoch"] + list(CURVE_METRICS)].mean()
    stds = grouped[list(CURVE_METRICS)].std(ddof=1).fillna(0.0).add_suffix("_std")
    counts = grouped.size().rename("n")
    out = pd.concat([counts, means, stds], axis=1).reset_index()
    return out.sort_values(["order", "epoch"], kind="stable").reset_index(drop=True)


def progress_line(trials: Sequence[Trial]) -> str:
    """``7 of 15 runs finished · 1 running · 7 queued`` (and failures, if any)."""
    statuses = [t.status for t in trials]
    finished = sum(s.finished for s in statuses)
    parts = [f"{finished} of {len(statuses)} runs finished"]
    for status in (
        Status.RUNNING,
        Status.QUEUED,
        Status.FAILED,
        Status.DIVERGED,
        Status.CANCELLED,
        Status.INTERRUPTED,
    ):
        count = statuses.count(status)
        if count:
            parts.append(f"{count} {status}")
    return " · ".join(parts)
