"""The Tune page's Plotly figures, built from a search's trial table (``core.views.tune_tables``).

Best-so-far objective against trial number and against time, a parallel-coordinates chart of
the trials coloured by the objective, parameter importance, and one scatter per searched key.
Plain functions of pandas frames: nothing here imports Streamlit or TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.store import Study
from core.views.tune_tables import (
    LEAD_COLUMNS,
    TAIL_COLUMNS,
    Importance,
    Objective,
    encode,
    finished_rows,
    is_log,
    is_share,
    objective_of,
    searched_keys,
)

TRIAL_COLOUR = "#636EFA"
BEST_COLOUR = "#EF553B"
COLOURSCALE = "Viridis"
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def best_so_far(frame: pd.DataFrame, objective: Objective) -> pd.DataFrame:
    """The finished trials in the order they ended, with the best objective up to each.

    Returns:
        Columns ``number``, ``trial``, ``objective``, ``best`` (best so far) and ``minutes``
        (since the search's first trial started).
    """
    done = finished_rows(frame)
    columns = ["number", "trial", "objective", "best", "minutes"]
    if done.empty:
        return pd.DataFrame(columns=columns)
    done = done.sort_values(["finished_at", "number"], ignore_index=True)
    values = done["objective"].astype(float)
    best = values.cummax() if objective.maximize else values.cummin()
    start = pd.to_numeric(frame["started_at"], errors="coerce").min()
    minutes = (done["finished_at"].astype(float) - start) / 60.0
    return pd.DataFrame(
        {
            "number": done["number"],
            "trial": done["trial"],
            "objective": values,
            "best": best,
            "minutes": minutes,
        },
        columns=columns,
    )


def best_so_far_figure(frame: pd.DataFrame, objective: Objective) -> go.Figure:
    """Two panels: each finished trial's objective and the best so far, against the trial's
    number and against the minutes since the search started."""
    data = best_so_far(frame, objective)
    unit, per_minute = _time_unit(data["minutes"].max() if not data.empty else 0.0)
    share = is_share(objective)
    value = "%{y:.1%}" if share else "%{y:.4f}"
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=("By trial number", "By time"),
    )
    by_number = data.sort_values("number")
    best_by_number = (
        by_number["objective"].cummax() if objective.maximize else by_number["objective"].cummin()
    )
    for col, x, best, source in (
        (1, by_number["number"], best_by_number, by_number),
        (2, data["minutes"] * per_minute, data["best"], data),
    ):
        at = "trial %{x}" if col == 1 else f"%{{x:.1f}} {unit}"
        fig.add_trace(
            go.Scatter(
                x=x,
                y=source["objective"],
                mode="markers",
                name="trial",
                legendgroup="trial",
                showlegend=col == 1,
                marker={"color": TRIAL_COLOUR, "size": 7, "opacity": 0.6},
                customdata=source["trial"],
                hovertemplate=f"run %{{customdata}} · {at}<br>{objective.name} {value}"
                "<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=best,
                mode="lines",
                line={"color": BEST_COLOUR, "shape": "hv", "width": 2},
                name="best so far",
                legendgroup="best",
                showlegend=col == 1,
                hovertemplate=f"{at}<br>best {value}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    fig.update_xaxes(title_text="trial", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(
        title_text=f"{_UNIT_WORDS[unit]} since the start",
        row=1,
        col=2,
        rangemode="tozero",
        exponentformat="none",
    )
    fig.update_yaxes(title_text=objective.name, row=1, col=1)
    if share:
        fig.update_yaxes(tickformat=".0%")
    fig.update_layout(
        height=340,
        margin=_MARGIN,
        legend={"orientation": "h", "y": 1.12, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    return fig


_UNIT_WORDS = {"s": "seconds", "min": "minutes", "h": "hours"}


def _time_unit(minutes: float) -> tuple[str, float]:
    """The unit a span of ``minutes`` reads best in, and how many of it make a minute."""
    if minutes < 2:
        return "s", 60.0
    if minutes < 120:
        return "min", 1.0
    return "h", 1 / 60


def _axis(study: Study, key: str, values: pd.Series) -> dict:
    """One parallel-coordinates dimension: numbers as they are (log10 when log), choices as
    positions labelled with their values."""
    data, levels = encode(values, is_log(study, key))
    dim: dict = {"label": key, "values": data}
    if levels is not None:
        dim["tickvals"] = list(range(len(levels)))
        dim["ticktext"] = levels
    elif is_log(study, key) and np.isfinite(data).any():
        low, high = math.floor(np.nanmin(data)), math.ceil(np.nanmax(data))
        dim["tickvals"] = list(range(low, high + 1))
        dim["ticktext"] = [f"1e{p}" for p in range(low, high + 1)]
        dim["label"] = f"{key} (log)"
    return dim


def parallel_figure(study: Study, frame: pd.DataFrame) -> go.Figure:
    """The finished trials as lines across one axis per searched key, ending at the objective;
    each line coloured by its objective (brighter is better)."""
    objective = objective_of(study)
    done = finished_rows(frame)
    keys = [k for k in searched_keys(study) if k in done] or [
        c for c in done.columns if c not in _NOT_SEARCHED
    ]
    values = done["objective"].astype(float)
    dims = [_axis(study, key, done[key]) for key in keys]
    dims.append({"label": objective.name, "values": values})
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": values if objective.maximize else -values,
                "colorscale": COLOURSCALE,
                "showscale": False,
            },
            dimensions=dims,
            labelangle=-20,
        )
    )
    fig.update_layout(height=380, margin={"l": 60, "r": 60, "t": 70, "b": 20})
    return fig


_NOT_SEARCHED = {*LEAD_COLUMNS, *TAIL_COLUMNS}


def importance_figure(importance: Importance) -> go.Figure:
    """Horizontal bars: each searched key's share of the importance, with its interval as a
    line, under a title that names the trials it was measured on."""
    table = importance.table.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=table["importance"],
            y=table["parameter"],
            orientation="h",
            marker={"color": TRIAL_COLOUR},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (table["high"] - table["importance"]).clip(lower=0),
                "arrayminus": (table["importance"] - table["low"]).clip(lower=0),
                "color": "#444",
                "thickness": 1.5,
            },
            customdata=table[["low", "high"]],
            hovertemplate="%{y}: %{x:.0%} (%{customdata[0]:.0%} to %{customdata[1]:.0%})"
            "<extra></extra>",
        )
    )
    fig.add_vline(x=0, line={"color": "#888", "width": 1})
    fig.update_xaxes(title_text="share of importance", tickformat=".0%")
    fig.update_layout(
        title={"text": importance.title, "font": {"size": 14}},
        height=max(190, 90 + 34 * len(table)),
        margin={**_MARGIN, "t": 50},
    )
    return fig


def scatter_figure(study: Study, frame: pd.DataFrame, columns: int = 3) -> go.Figure:
    """One panel per searched key: each finished trial's value against its objective, the
    best trial marked; log keys on a log axis, choices as categories."""
    objective = objective_of(study)
    done = finished_rows(frame)
    keys = [k for k in searched_keys(study) if k in done]
    panels = max(1, len(keys))
    cols = min(columns, panels)
    rows = math.ceil(panels / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=keys or ["no finished trials yet"],
        horizontal_spacing=0.08,
        vertical_spacing=0.6 / rows if rows > 1 else 0.1,
    )
    values = done["objective"].astype(float)
    best_at = (values.idxmax() if objective.maximize else values.idxmin()) if len(done) else None
    for i, key in enumerate(keys):
        row, col = i // cols + 1, i % cols + 1
        numeric = pd.to_numeric(done[key], errors="coerce")
        is_number = numeric.notna().sum() == done[key].notna().sum()
        x = numeric if is_number else done[key].astype(str)
        colours = [BEST_COLOUR if j == best_at else TRIAL_COLOUR for j in done.index]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=values,
                mode="markers",
                marker={"color": colours, "size": 8, "opacity": 0.75},
                customdata=done["trial"],
                showlegend=False,
                hovertemplate=f"run %{{customdata}}<br>{key} %{{x}}<br>{objective.name} "
                "%{y:.4f}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        if is_number and is_log(study, key) and (numeric > 0).all():
            # A tick at each power of ten, written 10⁻³: no 2s and 5s between them.
            fig.update_xaxes(type="log", dtick=1, exponentformat="power", row=row, col=col)
        elif not is_number:
            fig.update_xaxes(type="category", categoryorder="category ascending", row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text=objective.name, row=row, col=col)
    fig.update_layout(height=60 + 260 * rows, margin=_MARGIN)
    return fig
