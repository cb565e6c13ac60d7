"""Plotly figures of a sweep: curves by value with noise bands, bars with error bars, a heatmap.

Built from the frames of ``core.analysis.sweep_numbers``; nothing here imports Streamlit or
TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis.sweep_numbers import RUN_METRICS, X_AXES
from core.analysis.sweep_summary import UNITS
from core.spec.sweeps import SweepSpec, format_value, param_label

PALETTE = plotly.colors.qualitative.Plotly + plotly.colors.qualitative.Dark24
LEGEND = {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "xanchor": "left"}


def colour(order: int) -> str:
    """The colour of the value at ``order`` in its sweep (the same on every chart)."""
    return PALETTE[order % len(PALETTE)]


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def lr_note(spec: SweepSpec) -> str | None:
    """The linear scaling rule as the chart states it, when the sweep uses it."""
    if not spec.scale_lr:
        return None
    base = spec.base
    return (
        f"Learning rate scaled with batch size: lr = {base['learning_rate']:g} × batch / "
        f"{base['batch_size']}"
    )


def sweep_curves_figure(
    means: pd.DataFrame,
    x: str = "epoch",
    note: str | None = None,
    total_epochs: int | None = None,
    title: str = "",
) -> go.Figure:
    """Loss and accuracy by value: one colour per value, train dashed, validation solid.

    With repeats, each line is the mean over the runs that reached the epoch and the shaded
    band is ±1 standard deviation of the validation metric.

    Args:
        means: ``core.analysis.sweep_numbers.mean_curves``.
        x: One of ``X_AXES``.
        note: A line written under the title (e.g. the learning-rate scaling).
        total_epochs: With ``x="epoch"``, the axis spans all planned epochs.
        title: What was swept, the legend's title.
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08)
    for (order, value), group in means.groupby(["order", "value"], sort=True):
        c = colour(int(order))
        for col, metric in ((1, "loss"), (2, "accuracy")):
            _band(fig, group, x, f"val_{metric}", c, col)
            for prefix, dash, part in (("", "dash", "train"), ("val_", "solid", "validation")):
                name = prefix + metric
                if group[name].isna().all():
                    continue
                fig.add_trace(
                    go.Scatter(
                        x=group[x],
                        y=group[name],
                        mode="lines+markers",
                        marker={"size": 4},
                        name=str(value),
                        legendgroup=str(value),
                        showlegend=col == 2 and prefix == "val_",
                        line={"color": c, "dash": dash, "width": 2 if prefix else 1.5},
                        customdata=group["n"],
                        hovertemplate=f"{value} · {part} {metric} %{{y:.4f}}"
                        f"<br>{X_AXES[x].lower()} %{{x:,.4g}} · %{{customdata}} run(s)"
                        "<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    fig.update_xaxes(title_text=X_AXES[x])
    if x == "epoch":
        span = max(total_epochs or 0, int(means["epoch"].max()) if len(means) else 1, 1)
        fig.update_xaxes(range=[0.5, span + 0.5], dtick=max(1, math.ceil(span / 10)))
    elif x in ("updates", "samples"):
        # A tick at each power of ten (100, 1k, 10k): Plotly's default also labels the 2s
        # and 5s between them, which read as one run of numbers ("1 2 5 10 2 5 100").
        fig.update_xaxes(type="log", dtick=1, tickformat="~s")
    fig.update_yaxes(
        title_text="loss (train dashed, validation solid)", rangemode="tozero", row=1, col=1
    )
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_layout(
        height=420 if note else 400,
        margin={"l": 10, "r": 10, "t": 75 if note else 40, "b": 10},
        legend={**LEGEND, "title": {"text": title}},
        hovermode="closest",
        # The note (learning-rate scaling, repeats) sits above the legend, never on it.
        title={"text": note or "", "x": 0.01, "y": 0.985, "yanchor": "top", "font": {"size": 12}},
    )
    return fig


def _band(fig: go.Figure, group: pd.DataFrame, x: str, metric: str, c: str, col: int) -> None:
    """A ±1 std band around the mean, only where at least two runs reached the epoch."""
    shown = group[(group["n"] > 1) & group[metric].notna()]
    if shown.empty:
        return
    upper = shown[metric] + shown[f"{metric}_std"]
    lower = shown[metric] - shown[f"{metric}_std"]
    fig.add_trace(
        go.Scatter(
            x=list(shown[x]) + list(shown[x])[::-1],
            y=list(upper) + list(lower)[::-1],
            mode="lines",
            fill="toself",
            fillcolor=_rgba(c, 0.15),
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
        ),
        row=1,
        col=col,
    )


def bars_figure(
    values: pd.DataFrame,
    metric: str = "test_accuracy",
    verdicts: Mapping[str, str | None] | None = None,
) -> go.Figure:
    """One bar per value with ±1 std error bars (when the value has two or more runs).

    Args:
        values: ``core.analysis.sweep_numbers.value_frame``.
        metric: A column of ``RUN_METRICS``.
        verdicts: Each value's verdict against the best (``best``, ``tied``, ``worse``), from
            ``core.analysis.sweep_summary.verdict_frame``: written in its bar and hover.
    """
    label = RUN_METRICS[metric][0]
    shown = values.dropna(subset=[metric])
    std = shown[f"{metric}_std"].astype(float)  # NaN (one run): no error bar drawn
    runs = [f"{n} run{'s' if n != 1 else ''}" for n in shown["runs"]]
    said = [(verdicts or {}).get(str(v)) or "" for v in shown["value"]]
    fig = go.Figure(
        go.Bar(
            x=shown["value"].astype(str),
            y=shown[metric],
            marker_color=[colour(int(o)) for o in shown["order"]],
            customdata=[
                [f"± {s:.2g} " if s == s else "", n, f" · {v}" if v else ""]
                for s, n, v in zip(std, runs, said, strict=True)
            ],
            text=said,
            hovertemplate="%{x}: %{y:.4g} %{customdata[0]}(%{customdata[1]})%{customdata[2]}"
            "<extra></extra>",
            textposition="inside",
            insidetextanchor="start",
            showlegend=False,  # the x axis names the values
        )
    )
    spread = shown[std.notna()]
    if len(spread):  # error bars only where there is a spread (a bar's own would draw ± 0)
        fig.add_trace(
            go.Scatter(
                x=spread["value"].astype(str),
                y=spread[metric],
                mode="markers",
                marker={"opacity": 0},
                error_y={"type": "data", "array": list(std[std.notna()]), "color": "#333"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    percent = "accuracy" in metric or metric == "train_val_gap"
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"title": label, "tickformat": ".0%" if percent else None},
        xaxis={"title": None, "type": "category"},
    )
    return fig


def verdict_table(values: pd.DataFrame, verdicts: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The per-value table with each value's verdict, difference from the best and interval.

    Args:
        values: ``core.analysis.sweep_numbers.value_frame`` (any of its columns).
        verdicts: ``core.analysis.sweep_summary.verdict_frame`` on ``metric``.
        metric: The figure the verdicts are on.

    Returns:
        ``values`` with ``verdict``, ``diff_vs_best`` (in the metric's ``UNITS``) and ``ci``
        (the interval as text with its unit; empty for the best value) after ``value`` and
        ``runs``.
    """
    units = UNITS[metric]
    unit = f" {units.abbreviation}" if units.abbreviation else ""
    ci = [
        None
        if pd.isna(low) or verdict == "best"
        else f"{low:.{units.digits}f} to {high:.{units.digits}f}{unit}"
        for verdict, low, high in zip(
            verdicts["verdict"], verdicts["ci_low"], verdicts["ci_high"], strict=True
        )
    ]
    shown = verdicts.assign(ci=ci)[["value", "verdict", "diff_vs_best", "ci"]]
    table = values.merge(shown, on="value", how="left")
    first = [c for c in ("value", "runs", "verdict", "diff_vs_best", "ci") if c in table]
    return table[first + [c for c in table.columns if c not in first]]


def heatmap_figure(
    spec: SweepSpec, values: pd.DataFrame, metric: str = "test_accuracy"
) -> go.Figure:
    """A two-key sweep as a grid: rows are the first key's values, columns the second's.

    Each cell shows the mean of ``metric`` over its finished runs; empty cells have none yet.
    """
    rows, cols = spec.values
    grid = [[None] * len(cols) for _ in rows]
    for _, row in values.iterrows():
        cell = spec.all_cells()[int(row["order"])]
        if pd.notna(row[metric]):
            grid[cell[0]][cell[1]] = float(row[metric])
    percent = "accuracy" in metric or metric == "train_val_gap"
    text = [[_cell_text(v, percent) for v in line] for line in grid]
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=[format_value(v) for v in cols],
            y=[format_value(v) for v in rows],
            text=text,
            texttemplate="%{text}",
            colorscale="Viridis",
            reversescale=not RUN_METRICS[metric][1],
            # The colour bar reads as the cells do: in percent for a share.
            colorbar={
                "title": {"text": RUN_METRICS[metric][0]},
                **({"tickformat": ".0%"} if percent else {}),
            },
            hovertemplate=f"{param_label(spec.keys[0])} %{{y}} · {param_label(spec.keys[1])} "
            "%{x}<br>%{text}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(260, 70 * len(rows) + 120),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": param_label(spec.keys[1]), "type": "category"},
        yaxis={"title": param_label(spec.keys[0]), "type": "category", "autorange": "reversed"},
    )
    return fig


def _cell_text(value: float | None, percent: bool) -> str:
    if value is None:
        return ""
    return f"{value:.1%}" if percent else f"{value:.3g}"
