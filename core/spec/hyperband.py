"""Hyperband's schedule, as keras-tuner's ``Hyperband`` oracle plans it: brackets and rounds.

Bracket b (from 0) runs b + 1 rounds; round r of bracket b trains
``ceil(1 + log_factor(max_epochs)) / (b + 1) × factor^(b − r)`` models (rounded up) until epoch
``ceil(max_epochs / factor^(b − r))``, each round keeping 1/factor of the models and training them
on from where they stopped. The brackets start from the widest: as many as ``max_epochs`` can be
divided by ``factor`` while at least one epoch is left. Nothing heavy is imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator


def _brackets(max_epochs: int, factor: int) -> int:
    brackets, epochs_left = 0, float(max_epochs)
    while epochs_left >= 1:
        epochs_left /= factor
        brackets += 1
    return brackets


def _rounds(max_epochs: int, factor: int) -> Iterator[tuple[int, int, int]]:
    """Each round as (models, epoch it trains from, epoch it trains to)."""
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    for bracket in range(_brackets(max_epochs, factor)):
        before = 0
        for rnd in range(bracket + 1):
            size = math.ceil(end_size / (bracket + 1) * factor ** (bracket - rnd))
            upto = math.ceil(max_epochs / factor ** (bracket - rnd))
            yield size, before, upto
            before = upto


def hyperband_plan(max_epochs: int, factor: int, iterations: int = 1) -> tuple[int, int]:
    """Trials and epochs keras-tuner's Hyperband runs for these settings.

    Returns:
        (trials, epochs) for the whole search.
    """
    trials = epochs = 0
    for size, before, upto in _rounds(max_epochs, factor):
        trials += size
        epochs += size * (upto - before)
    return trials * iterations, epochs * iterations


def shortest_round(max_epochs: int, factor: int) -> int:
    """The fewest epochs a Hyperband trial trains (the first round of its widest bracket)."""
    return min(upto for _, _, upto in _rounds(max_epochs, factor))
