"""Every trial of every study as one table, and what to do with a few of them.

The table behind the Runs page and ``python -m core runs``: one row per trial (a single run,
each fold of a k-fold study, each trial of a sweep or search), with its key hyperparameters,
how it ended and its scores. Plus a comparison of configs, overlaid validation curves, and
deleting a study with its files. Nothing here imports Streamlit or TensorFlow.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from core.analysis.trial_scores import accuracy_on_test
from core.data.names import dataset_name, run_title
from core.spec.scores import format_interval
from core.store import Status, Store, Trial, paths
from core.store.trial_cache import TrialCache
from core.views import run_curves

RUN_COLUMNS = [
    "study",
    "study_name",
    "kind",
    "trial",
    "number",
    "parent",
    "dataset",
    "model",
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs",
    "epochs_run",
    "status",
    "best_val_accuracy",
    "diagnosis",
    "test_accuracy",
    "test_images",
    "test_ci_low",
    "test_ci_high",
    "test_loss",
    "duration_s",
    "worker",
    "created_at",
]
# Numbers that may be missing: NaN where they are (drawn empty), never "None" text. They are
# the parent, the best validation accuracy and every column from test accuracy to duration.
_TESTED = slice(RUN_COLUMNS.index("test_accuracy"), RUN_COLUMNS.index("duration_s") + 1)
_NUMBERS = ("parent", "best_val_accuracy", *RUN_COLUMNS[_TESTED])

DIFFERS = "differs"
MISSING = "(not set)"
RUN_COLOURS = qualitative.Plotly + qualitative.D3


# The store (its id: a store file replaced at the same path is another) -> every trial of it,
# read again only where a trial changed.
_CACHES: dict[str, TrialCache] = {}
# The store -> (what its last table was made of, that table): a table asked for again while
# no trial, study or summary changed is the one made last time.
_FRAMES: dict[str, tuple[int, pd.DataFrame]] = {}


def runs_frame(store: Store, study_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per trial of every study (or of the studies given), newest first.

    Columns (see ``RUN_COLUMNS``): the study's id, name and kind; the trial's id and 1-based
    number inside its study (the fold of a k-fold study); the run it comes from (``parent``:
    a promotion's source, a fork's parent; None for others); the dataset's short name, model,
    optimizer, learning rate, batch size and epochs (planned); the epochs it finished
    (``epochs_run``: the rows the store holds, so a fork's own, and in a search with several
    executions per trial, those of every execution); the status; the best validation accuracy
    over its epochs; the diagnosis of its curves in short (``core.analysis.diagnosis``, e.g.
    ``overfitting, plateau``; empty when nothing stands out); test accuracy, the test images
    it was measured on and its 95% interval (``test_ci_low``, ``test_ci_high``; Wilson's,
    worked out from accuracy × images for runs recorded without one), and test loss;
    seconds from start to finish (None until it ends); the worker that ran it (``host:pid``,
    None until one claims it); and when it was created (seconds since the epoch).
    """
    if study_ids is None:
        trials = _CACHES.setdefault(str(store.id), TrialCache()).trials(store)
    else:
        trials = store.trials(study_ids=study_ids)
    wanted = {t.study_id for t in trials}
    studies = {s.id: s for s in store.studies(limit=max(len(wanted), 1) * 4) if s.id in wanted}
    studies.update({sid: store.study(sid) for sid in wanted - studies.keys()})
    curves = run_curves.summaries(store, trials)
    made_of = hash(
        (tuple((t.id, t.revision) for t in trials), len(studies), tuple(curves.values()))
    )
    last = _FRAMES.get(str(store.id)) if study_ids is None else None
    if last is not None and last[0] == made_of:
        return last[1].copy()
    frame = _frame(trials, studies, curves)
    if study_ids is None:
        _FRAMES[str(store.id)] = (made_of, frame.copy())
    return frame


def _frame(
    trials: Sequence[Trial], studies: dict[int, Any], curves: dict[int, run_curves.Curves]
) -> pd.DataFrame:
    """The table's rows for these trials (see ``runs_frame``)."""
    names: dict[str, str] = {}
    rows = []
    for t in trials:
        study = studies[t.study_id]
        cfg = t.config
        dataset = str(cfg.get("dataset"))
        if dataset not in names:
            names[dataset] = dataset_name(dataset)
        test = accuracy_on_test(t)
        rows.append(
            {
                "study": t.study_id,
                "study_name": study.name,
                "kind": study.kind,
                "trial": t.id,
                "number": t.number + 1,
                "parent": t.parent_id,
                "dataset": names[dataset],
                "model": cfg.get("model"),
                "optimizer": cfg.get("optimizer"),
                "learning_rate": cfg.get("learning_rate"),
                "batch_size": cfg.get("batch_size"),
                "epochs": cfg.get("epochs"),
                "epochs_run": curves[t.id].epochs_run,
                "status": str(t.status),
                "best_val_accuracy": curves[t.id].best_val_accuracy,
                "diagnosis": curves[t.id].diagnosis,
                "test_accuracy": t.test_accuracy,
                "test_images": test.images if test else None,
                "test_ci_low": test.low if test else None,
                "test_ci_high": test.high if test else None,
                "test_loss": t.test_loss,
                "duration_s": _duration(t),
                "worker": t.worker,
                "created_at": t.created_at,
            }
        )
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    for column in _NUMBERS:
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame


def interval_labels(frame: pd.DataFrame) -> pd.Series:
    """``95.1–98.4%`` per row of a ``runs_frame`` from its test interval (empty without one)."""
    return pd.Series(
        [
            "" if pd.isna(low) or pd.isna(high) else format_interval((low, high))
            for low, high in zip(frame["test_ci_low"], frame["test_ci_high"], strict=True)
        ],
        index=frame.index,
        dtype=object,
    )


def best_val_accuracy(store: Store, trial_id: int) -> float | None:
    """The highest ``val_accuracy`` over a trial's finished epochs (None if it has none)."""
    return run_curves.best_val_accuracy(store.epochs(trial_id))


def _duration(trial: Trial) -> float | None:
    if trial.started_at is None or trial.finished_at is None:
        return None
    return max(0.0, trial.finished_at - trial.started_at)


def filter_runs(
    frame: pd.DataFrame,
    statuses: Iterable[str] = (),
    kinds: Iterable[str] = (),
    datasets: Iterable[str] = (),
    text: str = "",
) -> pd.DataFrame:
    """The rows of a ``runs_frame`` that match every filter given (an empty filter keeps all).

    Args:
        frame: A table from ``runs_frame``.
        statuses: Keep these statuses only.
        kinds: Keep these study kinds only (``single``, ``kfold``, ``sweep``, ...).
        datasets: Keep these dataset short names only.
        text: Keep rows whose study name, model or dataset contains this (any case).
    """
    keep = pd.Series(True, index=frame.index)
    for column, wanted in (("status", statuses), ("kind", kinds), ("dataset", datasets)):
        wanted = list(wanted)
        if wanted:
            keep &= frame[column].isin(wanted)
    needle = text.strip().lower()
    if needle:
        haystack = (
            frame["study_name"].astype(str)
            + " "
            + frame["model"].astype(str)
            + " "
            + frame["dataset"].astype(str)
        ).str.lower()
        keep &= haystack.str.contains(needle, regex=False)
    return frame[keep]


def config_diff(
    configs: Sequence[dict[str, Any]], labels: Sequence[str] | None = None
) -> pd.DataFrame:
    """The settings of several configs side by side.

    Args:
        configs: One config dict per trial.
        labels: Column names, one per config (default ``run 1``, ``run 2``, ...).

    Returns:
        One row per key (sorted), one text column per config (``(not set)`` where a config
        lacks the key), and a boolean ``differs`` column that is True where they disagree.
    """
    labels = list(labels) if labels is not None else [f"run {i + 1}" for i in range(len(configs))]
    if len(labels) != len(configs):
        raise ValueError("config_diff needs one label per config")
    keys = sorted({k for cfg in configs for k in cfg})
    data: dict[str, list[Any]] = {label: [] for label in labels}
    differs = []
    for key in keys:
        shown = [_show(cfg[key]) if key in cfg else MISSING for cfg in configs]
        for label, text in zip(labels, shown, strict=True):
            data[label].append(text)
        differs.append(len(set(shown)) > 1)
    frame = pd.DataFrame(data, index=pd.Index(keys, name="setting"), columns=labels)
    frame[DIFFERS] = pd.Series(differs, index=frame.index, dtype=bool)
    return frame


def _show(value: Any) -> str:
    """A config value as compact text (the same text for equal values)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def delete_study(store: Store, study_id: int, root: Path | None = None) -> int:
    """Delete a study: cancel its active trials, drop its rows, remove its run folder.

    Args:
        store: The store holding the study.
        study_id: The study to delete.
        root: The cache folder (default ``paths.cache_dir()``); its ``runs/<study>/`` goes.

    Returns:
        The number of trials deleted.

    Raises:
        KeyError: if there is no such study.
    """
    store.study(study_id)  # raises KeyError for an unknown study
    for trial in store.trials(study_ids=[study_id], statuses=(Status.QUEUED, Status.RUNNING)):
        store.request_cancel(trial.id)
    deleted = store.delete_study(study_id)
    shutil.rmtree(paths.runs_dir(root) / str(study_id), ignore_errors=True)
    return deleted


def overlay_figure(store: Store, trial_ids: Sequence[int]) -> go.Figure:
    """Validation loss and accuracy of several trials on shared axes, one colour per trial.

    Each trial draws one line per panel; its legend entry reads ``run N · <model> on <data>``
    and toggles both lines.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=("Validation loss", "Validation accuracy"),
    )
    longest = 1
    for i, trial_id in enumerate(trial_ids):
        trial = store.trial(trial_id)
        epochs = store.epochs(trial_id)
        longest = max(longest, len(epochs))
        label = f"run {trial.id} · {run_title(trial.config)}"
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        for col, metric in ((1, "val_loss"), (2, "val_accuracy")):
            points = [(e.epoch + 1, e.metrics[metric]) for e in epochs if metric in e.metrics]
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in points],
                    y=[p[1] for p in points],
                    mode="lines+markers",
                    name=label,
                    legendgroup=f"trial-{trial.id}",
                    showlegend=col == 1,
                    line={"color": colour},
                    hovertemplate=f"{label}<br>epoch %{{x}} · %{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(
        title_text="epoch", range=[0.5, longest + 0.5], dtick=max(1, -(-longest // 10))
    )
    fig.update_yaxes(title_text="loss", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_layout(
        height=380,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2, "yanchor": "top", "x": 0, "xanchor": "left"},
    )
    return fig
