"""Figures and tables of a trial's per-class results (``results["classes"]``).

Plain functions the pages render; nothing here imports Streamlit or TensorFlow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

ANNOTATE_MAX_CLASSES = 20


def confusion_figure(classes_result: dict) -> go.Figure:
    """Heatmap of the confusion matrix: true class on y, predicted class on x.

    Args:
        classes_result: ``core.engine.evaluation.evaluate_classes`` output.

    Returns:
        A Plotly figure; each cell shows its count when there are at most
        ``ANNOTATE_MAX_CLASSES`` classes.
    """
    names = [str(name) for name in classes_result["class_names"]]
    matrix = np.asarray(classes_result["confusion"])  # Plotly checks an array at once, not cells
    annotate = len(names) <= ANNOTATE_MAX_CLASSES
    heatmap = go.Heatmap(
        z=matrix,
        x=names,
        y=names,
        colorscale="Blues",
        colorbar={"title": "Images"},
        hovertemplate="True %{y}<br>Predicted %{x}<br>%{z} images<extra></extra>",
        text=matrix if annotate else None,
        texttemplate="%{text}" if annotate else None,
    )
    fig = go.Figure(heatmap)
    fig.update_layout(
        xaxis={"title": "Predicted class", "type": "category", "side": "bottom"},
        yaxis={"title": "True class", "type": "category", "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        height=max(350, min(900, 28 * len(names) + 150)),
    )
    return fig


def per_class_frame(classes_result: dict) -> pd.DataFrame:
    """One row per class: precision, recall and F1 (fractions 0..1) and support (images).

    Args:
        classes_result: ``core.engine.evaluation.evaluate_classes`` output.

    Returns:
        Columns ``class``, ``precision``, ``recall``, ``F1``, ``support``.
    """
    return pd.DataFrame(
        {
            "class": [str(name) for name in classes_result["class_names"]],
            "precision": classes_result["precision"],
            "recall": classes_result["recall"],
            "F1": classes_result["f1"],
            "support": classes_result["support"],
        }
    )
