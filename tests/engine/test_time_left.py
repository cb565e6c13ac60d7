"""The time left in a run: from whole epochs once there is one, never from the tracing batch."""

from __future__ import annotations

import pytest

from core.engine.time_left import time_left


def test_nothing_is_said_before_two_batches_after_the_first() -> None:
    # The first batch traced the graph for 3 s: an estimate from it would say minutes.
    assert time_left([], batch=1, steps=18, epochs_after=4, since_first_batch=0.0,
                     batches_since_first=0) is None  # fmt: skip
    assert time_left([], 2, 18, 4, 0.01, 1) is None


def test_in_the_first_epoch_it_goes_by_the_batches_after_the_tracing_one() -> None:
    # 10 ms a batch once traced: 8 batches left now and 4 epochs of 18 after.
    left = time_left([], batch=10, steps=18, epochs_after=4, since_first_batch=0.09,
                     batches_since_first=9)  # fmt: skip
    assert left == pytest.approx(0.01 * (8 + 4 * 18))


def test_whole_epochs_count_validation_and_leave_out_the_slow_first_one() -> None:
    # Epochs take 0.5 s start to start (most of it validation and checkpoints), the first 3 s.
    left = time_left([3.0, 0.5, 0.5, 0.6], batch=9, steps=18, epochs_after=2,
                     since_first_batch=5.0, batches_since_first=80)  # fmt: skip
    assert left == pytest.approx(0.5 * (0.5 + 2))
    assert time_left([3.0], 0, 18, 1, 3.0, 17) == pytest.approx(3.0 * 2)  # only the first yet


def test_a_fork_counts_only_the_epochs_it_trains() -> None:
    # A fork of a 40-epoch run after epoch 30 trains 10: after its 1st, 9 remain (8 after this).
    left = time_left([0.9, 0.9], batch=0, steps=18, epochs_after=8, since_first_batch=1.8,
                     batches_since_first=35)  # fmt: skip
    assert left == pytest.approx(0.9 * 9)
