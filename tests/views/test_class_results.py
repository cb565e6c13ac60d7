"""Figures and tables of the per-class results."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine.evaluation import evaluate_classes
from core.views.class_results import confusion_figure, per_class_frame

RESULT = evaluate_classes(
    np.array([0, 0, 0, 1, 1, 2, 2, 2, 2]),
    np.eye(3)[[0, 0, 1, 1, 2, 2, 2, 2, 1]],
    ["cat", "dog", "owl"],
)


def test_the_heatmap_has_true_classes_down_and_predictions_across_with_counts() -> None:
    fig = confusion_figure(RESULT)
    (heatmap,) = fig.data
    assert heatmap.type == "heatmap"
    assert [list(row) for row in heatmap.z] == [[2, 1, 0], [0, 1, 1], [0, 1, 3]]
    assert list(heatmap.x) == list(heatmap.y) == ["cat", "dog", "owl"]
    assert heatmap.texttemplate == "%{text}"
    assert [list(row) for row in heatmap.text] == [[2, 1, 0], [0, 1, 1], [0, 1, 3]]
    assert fig.layout.xaxis.title.text == "Predicted class"
    assert fig.layout.yaxis.title.text == "True class"


def test_many_classes_are_not_annotated() -> None:
    classes = 21
    y = np.arange(classes)
    fig = confusion_figure(evaluate_classes(y, np.eye(classes), [f"c{i}" for i in y]))
    (heatmap,) = fig.data
    assert heatmap.texttemplate is None and heatmap.text is None
    assert len(heatmap.x) == classes


def test_the_table_has_one_row_per_class() -> None:
    frame = per_class_frame(RESULT)
    assert list(frame.columns) == ["class", "precision", "recall", "F1", "support"]
    assert list(frame["class"]) == ["cat", "dog", "owl"]
    assert list(frame["precision"]) == pytest.approx([1.0, 1 / 3, 3 / 4])
    assert list(frame["recall"]) == pytest.approx([2 / 3, 1 / 2, 3 / 4])
    assert list(frame["F1"]) == pytest.approx([0.8, 0.4, 0.75])
    assert list(frame["support"]) == [3, 2, 4]
