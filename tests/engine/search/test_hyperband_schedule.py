"""The Hyperband schedule the estimate counts is the one keras-tuner's own oracle runs."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import keras_tuner as kt
import pytest

from core.spec.hyperband import hyperband_plan


class _Counting(kt.Hyperband):
    """keras-tuner's Hyperband with each trial scored at random instead of trained."""

    def run_trial(self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any) -> float:
        values = trial.hyperparameters.values
        self.trained.append(values["tuner/epochs"] - values["tuner/initial_epoch"])
        return random.random()


@pytest.mark.parametrize(
    ("max_epochs", "factor", "iterations"),
    [(10, 3, 1), (9, 3, 1), (2, 2, 1), (27, 3, 1), (8, 2, 2)],
)
def test_hyperband_plan_counts_the_trials_and_epochs_keras_tuner_runs(
    tmp_path: Path, max_epochs: int, factor: int, iterations: int
) -> None:
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    tuner = _Counting(
        hypermodel=None,
        objective=kt.Objective("score", "max"),
        max_epochs=max_epochs,
        factor=factor,
        hyperband_iterations=iterations,
        hyperparameters=hp,
        directory=str(tmp_path),
        project_name="plan",
        seed=0,
    )
    tuner.trained = []
    tuner.search(verbose=0)
    assert hyperband_plan(max_epochs, factor, iterations) == (
        len(tuner.trained),
        sum(tuner.trained),
    )
