"""Plotly figures and pandas tables built from store rows: plain functions the pages render.

Nothing here imports Streamlit or TensorFlow, so every figure and table is tested directly.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.trial_scores import accuracy_on_test
from core.spec.durations import format_duration
from core.spec.formats import MISSING
from core.spec.scores import format_interval
from core.store import Epoch, Status, Study, Trial
from core.views.folder_preview import dataset_label

TRAIN_COLOUR = "#636EFA"
VAL_COLOUR = "#EF553B"

STATUS_BADGES: dict[Status, str] = {
    Status.QUEUED: ":grey-badge[:material/schedule: queued]",
    Status.RUNNING: ":blue-badge[:material/sync: running]",
    Status.COMPLETED: ":green-badge[:material/check: completed]",
    Status.FAILED: ":red-badge[:material/error: failed]",
    Status.CANCELLED: ":grey-badge[:material/block: cancelled]",
    Status.INTERRUPTED: ":orange-badge[:material/warning: interrupted]",
    Status.DIVERGED: ":red-badge[:material/trending_up: diverged]",
}


def safe_name(text: str) -> str:
    """Text made safe for a file name: letters, digits, ``.``, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "run"


def epochs_frame(epochs: Sequence[Epoch]) -> pd.DataFrame:
    """One row per finished epoch (1-based ``epoch``), one column per metric, plus seconds."""
    rows = [{"epoch": e.epoch + 1, **e.metrics, "seconds": e.seconds} for e in epochs]
    return pd.DataFrame(rows, columns=None if rows else ["epoch"])


def curves_figure(epochs: Sequence[Epoch], total_epochs: int | None = None) -> go.Figure:
    """Loss and accuracy curves, training and validation, side by side.

    Args:
        epochs: The finished epochs, in order.
        total_epochs: If given, the x axis spans all planned epochs so the curve grows into it.
    """
    frame = epochs_frame(epochs)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1)
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for prefix, label, colour, dash in (
            ("", "train", TRAIN_COLOUR, "dash"),
            ("val_", "validation", VAL_COLOUR, "solid"),
        ):
            name = prefix + metric
            if name not in frame:
                continue
            fig.add_trace(
                go.Scatter(
                    x=frame["epoch"],
                    y=frame[name],
                    mode="lines+markers",
                    name=label,
                    legendgroup=label,
                    showlegend=col == 1,
                    line={"color": colour, "dash": dash},
                    hovertemplate=f"epoch %{{x}}<br>{label} {metric} %{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    span = max(total_epochs or 0, len(frame), 1)
    fig.update_xaxes(title_text="epoch", range=[0.5, span + 0.5], dtick=tick_step(span))
    fig.update_yaxes(title_text="loss", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        hovermode="x unified",
    )
    return fig


def tick_step(span: int) -> int:
    """The step between epoch ticks that puts about ten of them on an axis of ``span`` epochs."""
    return max(1, math.ceil(span / 10))


def progress_of(trial: Trial) -> tuple[float, str]:
    """Return (fraction done, one line of text) for a trial's progress bar.

    The text names the epoch and batch, the time left when known, and the worker
    (``host:pid``) that trains it.
    """
    p = trial.progress
    epochs = int(p.get("epochs") or trial.config.get("epochs") or 1)
    if trial.status == Status.QUEUED:
        return 0.0, "Waiting for the worker (it loads TensorFlow when it starts)…"
    phase = p.get("phase", "starting")
    if phase != "training":
        done = 1.0 if phase in ("testing", "saving") else 0.0
        return done, f"{phase.capitalize()}…"
    epoch, batch, batches = int(p.get("epoch", 1)), int(p.get("batch", 0)), int(p.get("batches", 1))
    fraction = min(1.0, ((epoch - 1) + batch / max(batches, 1)) / epochs)
    text = f"Epoch {epoch}/{epochs} · batch {batch}/{batches}"
    if p.get("eta_s") is not None and batch:
        text += f" · about {format_duration(float(p['eta_s']))} left"
    if trial.worker:
        text += f" · worker {trial.worker}"
    return fraction, text


def format_age(timestamp: float, now: float | None = None) -> str:
    """How long ago, in words: ``just now``, ``5 min ago``, ``2 days ago``."""
    age = (now or time.time()) - timestamp
    if age < 60:
        return "just now"
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if age >= size:
            n = int(age // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return "just now"  # pragma: no cover


def summary_frame(rows: Sequence[dict]) -> pd.DataFrame:
    """The model summary (layer, type, output shape, params) as a table."""
    frame = pd.DataFrame(list(rows), columns=["layer", "type", "output_shape", "params"])
    return frame.rename(
        columns={
            "layer": "Layer",
            "type": "Type",
            "output_shape": "Output shape",
            "params": "Params",
        }
    )


def studies_frame(studies: Sequence[Study], trials: Sequence[Trial]) -> pd.DataFrame:
    """One row per study: what it trained, how it ended and its best test accuracy.

    The best test accuracy comes with its 95% interval (``95% CI``, text such as
    ``95.1–98.4%``) and the test images it was measured on (text: ``1,000``); what is not
    known is ``—``.
    """
    by_study: dict[int, list[Trial]] = {}
    for t in trials:
        by_study.setdefault(t.study_id, []).append(t)
    rows = []
    for s in studies:
        mine = by_study.get(s.id, [])
        tested = [score for t in mine if (score := accuracy_on_test(t)) is not None]
        best = max(tested, key=lambda score: score.value) if tested else None
        first = mine[-1] if mine else None
        rows.append(
            {
                "Study": s.id,
                "Name": s.name,
                "Kind": s.kind,
                "Status": _study_status(mine),
                "Dataset": dataset_label(first.config["dataset"]) if first else MISSING,
                "Trials": len(mine),
                "Best test accuracy": best.value if best else None,
                "95% CI": format_interval(best.ci) if best and best.ci else MISSING,
                "Test images": f"{best.images:,}" if best and best.images else MISSING,
                "Started": format_age(s.created_at),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "Study",
            "Name",
            "Kind",
            "Status",
            "Dataset",
            "Trials",
            "Best test accuracy",
            "95% CI",
            "Test images",
            "Started",
        ],
    )


def _study_status(trials: Sequence[Trial]) -> str:
    statuses = {t.status for t in trials}
    for active in (Status.RUNNING, Status.QUEUED):
        if active in statuses:
            return str(active)
    if len(statuses) == 1:
        return str(statuses.pop())
    return "mixed" if statuses else "empty"
