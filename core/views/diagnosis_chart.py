"""A trial's curves with its diagnosis marked on them, and a fork's drawn over its parent's.

Builds on ``core.views.charts.curves_figure``: the fork's own curves start at the epoch it was
forked from (joined to the parent's point there), the parent's whole curves are drawn
beneath in a paler line, and each diagnosis flag is a marker at its epoch whose hover text
gives the finding and the advice. A fork's chart opens zoomed on what the fork changed: from a
few epochs before the fork point to its end, each axis fitted to the curves there (on the
parent's whole loss axis the fork's part is a flat line). Plain functions, no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from core.analysis.diagnosis import Cluster, Flag
from core.store import Epoch, Store, Trial
from core.views import charts
from core.worker import forks as fork

PARENT_COLOURS = {"": "#9AA4F8", "val_": "#F5A897"}  # paler train and validation colours
FLAG_COLOUR = "#FF9900"
FORK_CONTEXT = 2  # parent epochs shown before a fork point, at least
# The curve a flag sits on: the validation loss for what is judged on validation.
_FLAG_METRIC = {"overfitting": "val_loss", "plateau": "val_loss"}


def trial_figure(
    store: Store,
    trial: Trial,
    epochs: Sequence[Epoch],
    flags: Sequence[Flag] = (),
    whole: bool = False,
) -> go.Figure:
    """Return a trial's loss and accuracy curves, over its parent's if it is a fork.

    Args:
        store: The store (for a fork's parent).
        trial: The trial.
        epochs: Its epochs (``Store.epochs``).
        flags: Its diagnosis (``core.analysis.diagnosis.diagnose``), marked at their epochs.
        whole: For a fork, span the whole run instead of the region after the fork point.
    """
    chain = fork.lineage(store, trial)
    shown = list(epochs)
    parents: list[tuple[Trial, list[Epoch]]] = []
    if len(chain) > 1:
        parent, at = chain[-2]
        parents = [(parent, store.epochs(parent.id))]
        joint = [e for e in parents[0][1] if e.epoch == at]
        shown = joint + shown  # the fork's curve starts where it left its parent
    fig = charts.curves_figure(shown, int(trial.config.get("epochs") or 0) or None)
    for parent, parent_epochs in parents:
        add_parent_curves(fig, parent, parent_epochs)
    add_flag_markers(fig, flags, epochs)
    if parents:
        fork_at = chain[-2][1] + 1  # the 1-based epoch the fork continued after
        fig.add_vline(x=fork_at, line={"color": "#888888", "dash": "dot", "width": 1})
        if not whole:
            end = max(int(trial.config.get("epochs") or 0), fork_at + len(epochs))
            zoom_to(fig, fork_at - max(FORK_CONTEXT, (end - fork_at) // 4), end)
    return fig


def zoom_to(fig: go.Figure, first: float, last: float) -> None:
    """Show epochs ``first``..``last`` (1-based), each y axis fitted to what is drawn there."""
    first = max(1, first)
    fig.update_xaxes(range=[first - 0.5, last + 0.5], dtick=charts.tick_step(int(last - first) + 1))
    for axis, bounds in (("y", None), ("y2", (0.0, 1.02))):
        seen = [
            y
            for t in fig.data
            if (t.yaxis or "y") == axis and t.x is not None and t.y is not None
            for x, y in zip(t.x, t.y, strict=False)
            if y is not None and math.isfinite(y) and first - 0.5 <= x <= last + 0.5
        ]
        if not seen:
            continue
        low, high = min(seen), max(seen)
        pad = (high - low) * 0.1 or abs(high) * 0.05 or 0.01
        low, high = low - pad, high + pad
        layout: dict = {"range": [low, high], "rangemode": "normal"}
        if bounds:  # accuracy: whole percents repeat on a range a few points wide
            low, high = max(bounds[0], low), min(bounds[1], high)
            layout.update(range=[low, high], tickformat=".1%" if high - low < 0.1 else ".0%")
        fig.update_layout({f"yaxis{axis[1:]}": layout})


def add_parent_curves(fig: go.Figure, parent: Trial, epochs: Sequence[Epoch]) -> None:
    """Draw a parent's curves under a fork's, paler and dotted, named after the parent."""
    frame = charts.epochs_frame(epochs)
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for prefix, label in (("", "train"), ("val_", "validation")):
            name = prefix + metric
            if name not in frame:
                continue
            fig.add_trace(
                go.Scatter(
                    x=frame["epoch"],
                    y=frame[name],
                    mode="lines",
                    name=f"run {parent.id} {label}",
                    legendgroup=f"parent-{label}",
                    showlegend=col == 1,
                    line={"color": PARENT_COLOURS[prefix], "dash": "dot", "width": 1.5},
                    hovertemplate=f"run {parent.id} {label} {metric} %{{y:.4f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )


def add_flag_markers(fig: go.Figure, flags: Sequence[Flag], epochs: Sequence[Epoch]) -> None:
    """Mark each flag on the loss chart at its epoch, labelled, with its advice on hover."""
    by_epoch = {e.epoch: e.metrics for e in epochs}
    span = max(fig.layout.xaxis.range or (0, len(epochs)))
    for flag in flags:
        metrics = by_epoch.get(flag.epoch, {})
        metric = _FLAG_METRIC.get(flag.kind, "loss")
        y = metrics.get(metric, metrics.get("loss"))
        if y is None or not math.isfinite(y):  # a diverged epoch: mark it at the top
            finite = [
                m["loss"] for m in by_epoch.values() if math.isfinite(m.get("loss", math.nan))
            ]
            y = max(finite, default=1.0)
        fig.add_trace(
            go.Scatter(
                x=[flag.epoch + 1],
                y=[y],
                mode="markers+text",
                text=[flag.label],
                # Labels near the right edge lean left, so the chart does not clip them.
                textposition="top left" if flag.epoch + 2 >= span else "top center",
                textfont={"color": FLAG_COLOUR},
                marker={"color": FLAG_COLOUR, "size": 13, "symbol": "diamond"},
                name=flag.label,
                showlegend=False,
                hovertemplate=f"<b>{flag.label}</b><br>{flag.message}<br>{flag.advice}<extra></extra>",
            ),
            row=1,
            col=1,
        )


def add_cluster_notes(fig: go.Figure, clusters: Sequence[Cluster]) -> go.Figure:
    """Write where a study's failures cluster above a chart (e.g. its parallel coordinates).

    One line per cluster, e.g. "4 of 5 trials with learning_rate ≥ 0.01 diverged", at the
    top left of the figure, whose top margin grows to hold them. Returns the same figure.
    """
    if not clusters:
        return fig
    lines = "<br>".join(f"⚠ {c.sentence}" for c in clusters)
    fig.add_annotation(
        text=lines,
        xref="paper",
        yref="paper",
        x=0,
        y=1,
        yshift=30,
        xanchor="left",
        yanchor="bottom",
        align="left",
        showarrow=False,
        font={"color": FLAG_COLOUR},
    )
    top = fig.layout.margin.t if fig.layout.margin.t is not None else 40
    fig.update_layout(margin={"t": top + 18 * len(clusters) + 10})
    return fig
