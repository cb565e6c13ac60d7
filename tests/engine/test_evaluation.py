"""Per-class evaluation: confusion matrix, per-class scores and the misclassified grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.engine.evaluation import (
    MIN_TILE,
    evaluate_classes,
    macro_f1,
    macro_f1_interval,
    misclassified_grid,
)

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
    macro = {k: result["macro"][k] for k in ("precision", "recall", "f1")}
    assert macro == pytest.approx({"precision": 25 / 36, "recall": 23 / 36, "f1": 0.65})
    assert (result["split"], result["images"]) == ("test", 9)
    low, high = result["macro"]["f1_ci"]
    assert 0 <= low < 0.65 < high <= 1


def test_macro_f1_from_counts_is_scikit_learns_for_one_sample_and_for_stacks() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, (6, 40))
    y_pred = np.where(rng.random((6, 40)) < 0.6, y_true, rng.integers(0, 5, (6, 40)))
    y_pred[0] = np.where(y_pred[0] == 4, 3, y_pred[0])  # class 4 never predicted in row 0
    sklearn = [
        f1_score(t, p, labels=range(6), average="macro", zero_division=0)  # 5 is never seen
        for t, p in zip(y_true, y_pred, strict=True)
    ]
    assert macro_f1(y_true, y_pred, 6) == pytest.approx(sklearn)
    assert macro_f1(y_true[1], y_pred[1], 6) == pytest.approx(sklearn[1])


def test_macro_f1_interval_is_seeded_and_narrows_with_more_images() -> None:
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 3, 400)
    y_pred = np.where(rng.random(400) < 0.8, y_true, rng.integers(0, 3, 400))
    few = macro_f1_interval(y_true[:40], y_pred[:40], 3)
    many = macro_f1_interval(y_true, y_pred, 3)
    assert few == macro_f1_interval(y_true[:40], y_pred[:40], 3)  # the same every time
    assert many[0] < macro_f1(y_true, y_pred, 3) < many[1]
    assert many[1] - many[0] < few[1] - few[0]
    assert macro_f1_interval(y_true, y_true, 3) == (1.0, 1.0)
    assert macro_f1_interval(y_true[:1], y_pred[:1], 3) is None


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
