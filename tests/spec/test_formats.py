"""The one vocabulary numbers are written in: shares, losses, settings, counts, missing values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from core.spec.formats import (
    MISSING,
    PERCENT_FORMAT,
    count,
    is_missing,
    loss,
    number,
    percent,
    percent_points,
    setting,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.375, "37.5%"), (0.1, "10.0%"), (0.2951, "29.5%"), (1.0, "100.0%"), (0.0, "0.0%")],
)
def test_every_share_reads_with_one_decimal(value: float, shown: str) -> None:
    assert percent(value) == shown


@pytest.mark.parametrize("unknown", [None, math.nan, float("nan")])
def test_an_unknown_value_is_a_dash_never_none_or_nan(unknown: float | None) -> None:
    assert is_missing(unknown)
    assert percent(unknown) == MISSING == "—"
    assert loss(unknown) == MISSING
    assert setting(unknown) == MISSING


def test_zero_is_a_value_not_a_missing_one() -> None:
    assert not is_missing(0.0)
    assert percent(0.0) == "0.0%"
    assert loss(0.0) == "0.0000"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.001340755456667327, "0.00134"),
        (0.00013407, "1.34e-4"),
        (1e-5, "1e-5"),
        (64.0, "64"),
        (1024, "1024"),
        (0.5, "0.5"),
        (0.123456, "0.123"),
    ],
)
def test_a_tuned_value_reads_to_three_significant_digits(value: float, shown: str) -> None:
    assert number(value) == shown


def test_settings_read_as_people_say_them() -> None:
    assert setting(True) == "on"
    assert setting(False) == "off"
    assert setting("adam") == "adam"
    assert setting(0.001340755456667327) == "0.00134"
    assert setting((16, 32)) == "16, 32"
    assert setting(()) == "none"


@pytest.mark.parametrize(
    ("n", "shown"), [(1, "1 file"), (0, "0 files"), (2, "2 files"), (2000, "2,000 files")]
)
def test_a_count_names_its_noun_in_the_right_number(n: int, shown: str) -> None:
    assert count(n, "file") == shown


def test_an_irregular_plural_is_given() -> None:
    assert count(3, "class", "classes") == "3 classes"


def test_share_columns_become_points_and_the_format_shows_one_decimal() -> None:
    frame = pd.DataFrame({"acc": [0.375, 0.1, None], "name": ["a", "b", "c"]})
    shown = percent_points(frame, ["acc", "not there"])
    assert shown["acc"].iloc[:2].tolist() == pytest.approx([37.5, 10.0])
    assert math.isnan(shown["acc"].iloc[2])
    assert frame["acc"].iloc[0] == 0.375  # the caller's frame is left as it was
    assert PERCENT_FORMAT % shown["acc"].iloc[1] == "10.0%"
