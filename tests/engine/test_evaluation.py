"""Per-class evaluation: confusion matrix, per-class scores and the misclassified grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.engine.evaluation import MIN_TILE, evaluate_classes, misclassified_grid

NAMES = ["a", "b", "c"]
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2, 2, 2, 1])


def _probs(y_pred: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[y_pred] * 0.6 + 0.1


def test_confusion_matrix_and_per_class_scores_match_hand_counts() -> None:
    result = evaluate_classes(Y_TRUE, _probs(Y_PRED, 3), NAMES)
    assert result["class_names"] == NAMES
    assert result["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 1, 3]]
    assert result["support"] == [3, 2, 4]
    # Predicted a: 2 (both right); b: 3 (1 right); c: 4 (3 right).
    assert result["precision"] == pytest.approx([1.0, 1 / 3, 3 / 4])
    assert result["recall"] == pytest.approx([2 / 3, 1 / 2, 3 / 4])
    assert result["f1"] == pytest.approx([0.8, 0.4, 0.75])
    assert result["macro"] == pytest.approx({"precision": 25 / 36, "recall": 23 / 36, "f1": 0.65})


def test_a_class_never_seen_nor_predicted_scores_zero_and_counts_in_the_macro() -> None:
    result = evaluate_classes(Y_TRUE, _probs(Y_PRED, 4), [*NAMES, "d"])
    assert result["confusion"][3] == [0, 0, 0, 0]
    assert [row[3] for row in result["confusion"]] == [0, 0, 0, 0]
    assert (result["precision"][3], result["recall"][3], result["f1"][3]) == (0.0, 0.0, 0.0)
    assert result["support"][3] == 0
    assert result["macro"]["f1"] == pytest.approx((0.8 + 0.4 + 0.75) / 4)


def _images(n: int, channels: int, size: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def test_the_grid_shows_each_mistake_upscaled(tmp_path: Path) -> None:
    path = tmp_path / "run" / "misclassified.png"
    drawn = misclassified_grid(_images(9, 1), Y_TRUE, Y_PRED, NAMES, path)
    assert drawn == 3  # indices 2, 4 and 8
    with Image.open(path) as grid:
        assert grid.format == "PNG" and grid.mode == "RGB"
        # Three 8 px images, upscaled to 64 px, side by side in one row.
        assert grid.width >= 3 * MIN_TILE and MIN_TILE < grid.height < 2 * MIN_TILE


def test_the_grid_stops_at_the_limit_and_takes_rgb_images(tmp_path: Path) -> None:
    path = tmp_path / "grid.png"
    y_true = np.zeros(40, dtype=int)
    y_pred = np.ones(40, dtype=int)
    assert misclassified_grid(_images(40, 3, size=70), y_true, y_pred, NAMES, path) == 24
    assert misclassified_grid(_images(40, 3), y_true, y_pred, NAMES, path, limit=5) == 5
    with Image.open(path) as grid:
        assert grid.width >= 5 * MIN_TILE and grid.height < 2 * MIN_TILE


def test_nothing_is_drawn_when_every_prediction_is_right(tmp_path: Path) -> None:
    path = tmp_path / "misclassified.png"
    assert misclassified_grid(_images(9, 1), Y_TRUE, Y_TRUE, NAMES, path) == 0
    assert not path.exists()
