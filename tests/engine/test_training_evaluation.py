"""A real run records per-class results consistent with its test accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.spec.scores import wilson_interval
from core.store import Status, Store

DIGITS_TEST_IMAGES = 360


def test_a_digits_run_records_a_confusion_matrix_matching_its_accuracy(
    trained_run: tuple[Store, Path, int],
) -> None:
    store, _, tid = trained_run  # a real 2-epoch mlp run on digits (tests/conftest.py)
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED, trial.error

    classes = trial.results["classes"]
    matrix = np.array(classes["confusion"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == DIGITS_TEST_IMAGES
    assert np.trace(matrix) / DIGITS_TEST_IMAGES == pytest.approx(trial.test_accuracy, abs=1e-6)
    assert classes["support"] == matrix.sum(axis=1).tolist()
    # The accuracy is stated with the images it was measured on and their Wilson interval.
    assert trial.results["test_images"] == DIGITS_TEST_IMAGES
    expected = wilson_interval(int(np.trace(matrix)), DIGITS_TEST_IMAGES)
    assert trial.results["test_accuracy_ci"] == pytest.approx(list(expected))
    low, high = classes["macro"]["f1_ci"]
    assert low <= classes["macro"]["f1"] <= high and classes["split"] == "test"

    grid = trial.results["artifacts"].get("misclassified")
    if np.trace(matrix) < DIGITS_TEST_IMAGES:
        with Image.open(grid) as image:
            assert image.format == "PNG"
    else:
        assert grid is None
