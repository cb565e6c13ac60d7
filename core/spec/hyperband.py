"""Hyperband's schedule, as keras-tuner's ``Hyperband`` oracle plans it: brackets and rounds.

Bracket b (from 0) runs b + 1 rounds (:func:`hyperband_rounds`); round r of bracket b trains
``ceil(1 + log_factor(max_epochs)) / (b + 1) × factor^(b − r)`` models (rounded up) until epoch
``ceil(max_epochs / factor^(b − r))``, each round keeping 1/factor of the models and training them
on from where they stopped. The brackets start from the widest: as many as ``max_epochs`` can be
divided by ``factor`` while at least one epoch is left, and keras-tuner runs the widest (the
highest-numbered) first. Nothing heavy is imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _brackets(max_epochs: int, factor: int) -> int:
    brackets, epochs_left = 0, float(max_epochs)
    while epochs_left >= 1:
        epochs_left /= factor
        brackets += 1
    return brackets


@dataclass(frozen=True)
class Round:
    """One round of a Hyperband bracket: how many models train, and over which epochs.

    Attributes:
        bracket: The bracket (from 0); the widest comes first.
        round: The round within it (from 0).
        models: Trials the round runs.
        start: The epoch its models train from (the previous round's end; 0 in round 0).
        end: The epoch they train to (keras-tuner's ``tuner/epochs``).
    """

    bracket: int
    round: int
    models: int
    start: int
    end: int

    @property
    def epochs(self) -> int:
        """Epochs each of its models trains in this round."""
        return self.end - self.start


def hyperband_rounds(max_epochs: int, factor: int) -> list[Round]:
    """The rounds of one Hyperband iteration, in the order keras-tuner runs its brackets."""
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    rounds = []
    for bracket in reversed(range(_brackets(max_epochs, factor))):
        start = 0
        for rnd in range(bracket + 1):
            size = math.ceil(end_size / (bracket + 1) * factor ** (bracket - rnd))
            end = math.ceil(max_epochs / factor ** (bracket - rnd))
            rounds.append(Round(bracket, rnd, size, start, end))
            start = end
    return rounds


def hyperband_plan(max_epochs: int, factor: int, iterations: int = 1) -> tuple[int, int]:
    """Trials and epochs keras-tuner's Hyperband runs for these settings.

    Returns:
        (trials, epochs) for the whole search.
    """
    rounds = hyperband_rounds(max_epochs, factor)
    trials = sum(r.models for r in rounds)
    epochs = sum(r.models * r.epochs for r in rounds)
    return trials * iterations, epochs * iterations


def shortest_round(max_epochs: int, factor: int) -> int:
    """The fewest epochs a Hyperband trial trains (the first round of its widest bracket)."""
    return min(r.end for r in hyperband_rounds(max_epochs, factor))
