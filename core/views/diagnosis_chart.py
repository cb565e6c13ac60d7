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
    # While it runs, the axis spans the planned epochs for the curve to grow into; once it
    # ends (cancelled, stopped early) it spans the epochs it ran.
    planned = 0 if trial.status.finished else int(trial.config.get("epochs") or 0)
    fig = charts.curves_figure(shown, planned or None)
    for parent, parent_epochs in parents:
        add_parent_curves(fig, parent, parent_epochs)
    add_flag_markers(fig, flags, epochs)
    if parents:
        fork_at = chain[-2][1] + 1  # the 1-based epoch the fork continued after
        fig.add_vline(x=fork_at, line={"color": "#888888", "dash": "dot", "width": 1})
        if not whole:
            end = max(planned, fork_at + len(epochs))
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
    """Mark each flag on the loss chart at the epoch its message names, advice on hover.

    Each marker is labelled beside it when the labels fit (:func:`labels_fit`); when two
    would overlap or one would run off the chart, the markers stay bare and the labels are
    listed under the chart instead, each with its epoch.
    """
    x_range = tuple(fig.layout.xaxis.range or (0.5, len(epochs) + 0.5))
    points = marker_points(flags, epochs)
    top = _loss_top(fig, [y for _, _, y in points])
    inline = labels_fit([(x, y, flag.label) for flag, x, y in points], x_range, top)
    for flag, x, y in points:
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers+text" if inline else "markers",
                text=[flag.label] if inline else None,
                textposition="top center",
                textfont={"color": FLAG_COLOUR},
                marker={"color": FLAG_COLOUR, "size": MARKER_PX, "symbol": "diamond"},
                name=flag.label,
                showlegend=False,
                hovertemplate=f"<b>{flag.label}</b> · epoch {x}<br>{flag.message}<br>"
                f"{flag.advice}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if points and not inline:
        _list_under(fig, [f"◆ {flag.label}: epoch {x}" for flag, x, _ in points])


# How a label is sized on the loss chart, in pixels: it is laid out for the narrowest chart
# the app draws (the loss panel of a 700 px wide figure, 340 px high), so on a wider page
# labels only get more room.
PANEL_WIDTH_PX = 300  # the loss panel, without its axis labels
PANEL_HEIGHT_PX = 250  # the plotting area, without the x axis title and ticks
CHAR_PX = 7.5  # one character of a 12 px label (Plotly's default font), a little generous
LABEL_HEIGHT_PX = 16
MARKER_PX = 13
LABEL_GAP_PX = 4  # the least room between two labels, or a label and the chart's edge


def labels_fit(
    points: Sequence[tuple[float, float, str]],
    x_range: tuple[float, float],
    top: float,
    width_px: float = PANEL_WIDTH_PX,
    height_px: float = PANEL_HEIGHT_PX,
) -> bool:
    """Whether every marker's label fits beside it: no two overlap, none leaves the chart.

    Each label is centred above its marker; the loss axis runs from 0 to ``top``.

    Args:
        points: One ``(epoch, loss, label)`` per marker, the epoch 1-based as on the axis.
        x_range: The epoch axis's range (``curves_figure`` sets 0.5 to the epochs + 0.5).
        top: The top of the loss axis.
        width_px: The loss panel's width in pixels.
        height_px: Its height in pixels.

    Returns:
        True if the labels can be drawn on the chart, False if they belong under it.
    """
    low, high = x_range
    boxes = []
    for epoch, loss, label in points:
        centre = (epoch - low) / max(high - low, 1e-9) * width_px
        half = len(label) * CHAR_PX / 2
        bottom = (loss / top if top > 0 else 0) * height_px + MARKER_PX / 2
        box = (centre - half, centre + half, bottom, bottom + LABEL_HEIGHT_PX)
        if box[0] < LABEL_GAP_PX or box[1] > width_px - LABEL_GAP_PX or box[3] > height_px:
            return False
        boxes.append(box)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart_x = a[1] + LABEL_GAP_PX <= b[0] or b[1] + LABEL_GAP_PX <= a[0]
            apart_y = a[3] + LABEL_GAP_PX <= b[2] or b[3] + LABEL_GAP_PX <= a[2]
            if not (apart_x or apart_y):
                return False
    return True


def marker_points(flags: Sequence[Flag], epochs: Sequence[Epoch]) -> list[tuple[Flag, int, float]]:
    """Where each flag is marked on the loss chart: ``(flag, epoch, loss)``.

    The epoch is the one the flag's message names, 1-based as on the axis (a fork's and a
    later execution's epochs are numbered on from the ones before); the loss is the curve the
    finding is about at that epoch (validation for overfitting and a plateau).
    """
    by_epoch = {e.epoch: e.metrics for e in epochs}
    return [(flag, flag.epoch + 1, _marker_y(flag, by_epoch)) for flag in flags]


def _marker_y(flag: Flag, by_epoch: dict[int, dict[str, float]]) -> float:
    """Where a flag sits on the loss chart: its curve at its epoch, else the top of the chart."""
    metrics = by_epoch.get(flag.epoch, {})
    y = metrics.get(_FLAG_METRIC.get(flag.kind, "loss"), metrics.get("loss"))
    if y is None or not math.isfinite(y):  # a diverged epoch: mark it at the top
        finite = [m["loss"] for m in by_epoch.values() if math.isfinite(m.get("loss", math.nan))]
        y = max(finite, default=1.0)
    return float(y)


def _loss_top(fig: go.Figure, extra: Sequence[float]) -> float:
    """The top of the loss axis as Plotly draws it: the highest point, plus its padding."""
    values = list(extra)
    for trace in fig.data:
        if trace.xaxis in (None, "x") and trace.y is not None:
            values += [float(y) for y in trace.y if y is not None and math.isfinite(y)]
    return max(values, default=1.0) * 1.05


def _list_under(fig: go.Figure, lines: Sequence[str]) -> None:
    """Write the flags' labels in one line under the chart, below the epoch axis."""
    _note(fig, "   ".join(lines), y=0, yshift=-48, yanchor="top")
    bottom = fig.layout.margin.b if fig.layout.margin.b is not None else 10
    fig.update_layout(margin={"b": bottom + 28}, height=(fig.layout.height or 340) + 28)


def _note(fig: go.Figure, text: str, y: float, yshift: int, yanchor: str) -> None:
    """A left-aligned note in the flag colour, at the left edge, above or under the plot."""
    fig.add_annotation(
        text=text,
        xref="paper",
        yref="paper",
        x=0,
        y=y,
        yshift=yshift,
        xanchor="left",
        yanchor=yanchor,
        align="left",
        showarrow=False,
        font={"color": FLAG_COLOUR},
    )


def add_cluster_notes(fig: go.Figure, clusters: Sequence[Cluster]) -> go.Figure:
    """Write where a study's failures cluster above a chart (e.g. its parallel coordinates).

    One line per cluster, e.g. "4 of 5 trials with learning_rate ≥ 0.01 diverged", at the
    top left of the figure, whose top margin grows to hold them. Returns the same figure.
    """
    if not clusters:
        return fig
    _note(fig, "<br>".join(f"⚠ {c.sentence}" for c in clusters), y=1, yshift=30, yanchor="bottom")
    top = fig.layout.margin.t if fig.layout.margin.t is not None else 40
    fig.update_layout(margin={"t": top + 18 * len(clusters) + 10})
    return fig
