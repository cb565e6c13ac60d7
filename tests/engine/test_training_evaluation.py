"""A real run records per-class results consistent with its test accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.engine.training import TrialMonitor, run_trial
from core.spec.config import RunConfig
from core.store import Status, Store

DIGITS_TEST_IMAGES = 360


def test_a_digits_run_records_a_confusion_matrix_matching_its_accuracy(
    store: Store, cache: Path
) -> None:
    cfg = RunConfig(epochs=2, batch_size=64, model="mlp")
    _, (tid,) = store.create_study("t", "single", [cfg], claim_pid=1)
    with TrialMonitor(store, tid, interval=0.05) as monitor:
        run_trial(store, store.trial(tid), monitor, cache)
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED, trial.error

    classes = trial.results["classes"]
    matrix = np.array(classes["confusion"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == DIGITS_TEST_IMAGES
    assert np.trace(matrix) / DIGITS_TEST_IMAGES == pytest.approx(trial.test_accuracy, abs=1e-6)
    assert classes["support"] == matrix.sum(axis=1).tolist()

    grid = trial.results["artifacts"].get("misclassified")
    if np.trace(matrix) < DIGITS_TEST_IMAGES:
        with Image.open(grid) as image:
            assert image.format == "PNG"
    else:
        assert grid is None
