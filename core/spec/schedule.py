"""What a search will train if nothing stops it: its trials, in stages, and their epochs.

Hyperband's stages are keras-tuner's brackets and rounds (``core.spec.hyperband``): a round
after the first trains the best models on from where they stopped, so it counts only its own
epochs. The other tuners run ``max_trials`` trials (a grid, at most its size) of the base
config's epochs, or, when ``epochs`` is searched, of its values on average. Every trial trains
``executions_per_trial`` times. Early stopping can only shorten what is planned here. Nothing
heavy is imported.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from core.spec.config import RunConfig
from core.spec.grid import value_count
from core.spec.hyperband import hyperband_rounds
from core.spec.search_space import Dimension, SearchSettings, SearchSpace, planned_trials


@dataclass(frozen=True)
class Stage:
    """Trials a search runs alike.

    Attributes:
        trials: How many.
        epochs: Epochs each execution of them trains (on average, when ``epochs`` is
            searched).
        label: ``bracket 2, round 0`` for Hyperband; ``trials`` otherwise.
    """

    trials: int
    epochs: float
    label: str

    def to_dict(self) -> dict[str, Any]:
        """The stage as JSON-compatible data."""
        return {"trials": self.trials, "epochs": self.epochs, "label": self.label}


def search_schedule(base: RunConfig, space: SearchSpace, settings: SearchSettings) -> list[Stage]:
    """The stages of a search, in the order its tuner runs them (every Hyperband iteration)."""
    if settings.tuner == "hyperband":
        rounds = hyperband_rounds(settings.max_epochs, settings.factor)
        return [
            Stage(r.models, r.epochs, f"bracket {r.bracket}, round {r.round}")
            for _ in range(settings.iterations)
            for r in rounds
        ]
    epochs: float = base.epochs
    for dim in space.searched:
        if dim.key == "epochs":
            epochs = mean_value(dim)
    return [Stage(planned_trials(space, settings), epochs, "trials")]


def planned_epochs(stages: list[Stage], executions: int = 1) -> float:
    """Epochs a schedule trains in all, with every trial trained ``executions`` times."""
    return sum(s.trials * s.epochs for s in stages) * executions


def mean_value(dim: Dimension) -> float:
    """The average of a numeric dimension's values, each as likely as the others.

    A stepped range averages its steps (as a grid visits them); an unstepped one its middle,
    or its geometric middle on a log scale.
    """
    if dim.kind == "fixed":
        return float(dim.value)
    if dim.kind == "choice":
        return float(statistics.fmean(dim.values))
    count = value_count(dim)
    low, high = float(dim.low), float(dim.high)
    if count is not None and count <= 10_000 and dim.step:
        step = float(dim.step)
        values = [low * step**i if dim.log else low + step * i for i in range(count)]
        return float(statistics.fmean(values))
    return (low * high) ** 0.5 if dim.log else (low + high) / 2
