"""Durations as people read them, at the edges between units."""

from __future__ import annotations

import pytest

from core.spec.durations import format_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.34, "0.3 s"),  # an estimate under a second is not "0 s"
        (-2.0, "0.0 s"),
        (9.94, "9.9 s"),
        (9.96, "10 s"),
        (42, "42 s"),
        (59.4, "59 s"),
        (59.6, "1 min"),  # rounds up into the next unit, never "60 s"
        (75, "1 min 15 s"),  # not "75 s"
        (185, "3 min 5 s"),  # not "3 min"
        (1800, "30 min"),  # a zero part is left out, not "30 min 0 s"
        (3599.6, "1 h"),
        (3720, "1 h 02 min"),
        (5400, "1 h 30 min"),  # not "1.5 h"
        (7200, "2 h"),  # not "2.0 h" nor "2 h 00 min"
        (90_061, "25 h 01 min"),
    ],
)
def test_a_duration_reads_in_the_largest_units_that_fit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
