"""Which checkpoints a run's budget keeps: the newest, the best, then the newest others."""

from __future__ import annotations

import pytest

from core.store.checkpoint_files import Budget, to_prune

TEN = {e: 100 for e in range(10)}  # ten epochs, 100 bytes each


@pytest.mark.parametrize(
    ("best", "budget", "gone"),
    [
        (2, Budget(5, 10**6), [0, 1, 3, 4, 5]),  # the best and the four newest
        (8, Budget(5, 10**6), [0, 1, 2, 3, 4]),  # the best is among the newest
        (None, Budget(3, 10**6), [0, 1, 2, 3, 4, 5, 6]),  # no metric: the newest only
        (2, Budget(5, 350), [0, 1, 3, 4, 5, 6, 7]),  # the bytes bind first
        (2, Budget(5, 150), [0, 1, 3, 4, 5, 6, 7, 8]),  # best and newest stay, over the bytes
        (2, Budget(1, 10**6), [0, 1, 2, 3, 4, 5, 6, 7, 8]),  # a cap of 1: the newest only
    ],
)
def test_the_budget_keeps_the_best_and_the_newest(
    best: int | None, budget: Budget, gone: list[int]
) -> None:
    assert to_prune(TEN, best, budget) == gone


def test_nothing_saved_prunes_nothing() -> None:
    assert to_prune({}, None, Budget(5, 10)) == []
