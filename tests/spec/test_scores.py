"""Scores with their image counts and 95% intervals, against textbook values."""

from __future__ import annotations

import pytest

from core.spec.scores import Score, accuracy_score, format_score, wilson_interval


@pytest.mark.parametrize(
    ("correct", "images", "low", "high"),
    [
        (3, 4, 0.301, 0.954),  # 3 right of 4 test images: anything from 30% to 95%
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Statistics in Medicine 17, table II
        (0, 10, 0.0, 0.2775),  # the same table: none of 10
    ],
)
def test_wilson_interval_matches_textbook_values(
    correct: int, images: int, low: float, high: float
) -> None:
    found = wilson_interval(correct, images)
    assert found == pytest.approx((low, high), abs=5e-4)


def test_wilson_interval_refuses_counts_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match="no interval for 0 right of 0 images"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="no interval for 5 right of 4 images"):
        wilson_interval(5, 4)


def test_an_accuracy_without_a_recorded_interval_gets_wilsons_from_its_images() -> None:
    score = accuracy_score(0.75, 4)
    assert (score.images, score.ci) == (4, pytest.approx([0.3006, 0.9544], abs=1e-4))
    assert score.text() == "75.0% (95% CI 30.1–95.4%, 4 images)"


def test_a_recorded_interval_is_kept_and_no_images_means_no_interval() -> None:
    assert accuracy_score(0.9, 100, [0.8, 0.95]).ci == [0.8, 0.95]
    unknown = accuracy_score(0.75, None)
    assert (unknown.images, unknown.ci, unknown.text()) == (None, None, "75.0%")
    assert accuracy_score(0.75, 0).ci is None


def test_scores_read_as_value_interval_and_images() -> None:
    assert accuracy_score(350 / 360, 360).text() == "97.2% (95% CI 95.0–98.5%, 360 images)"
    assert format_score(0.5, 1, None) == "50.0% (1 image)"
    assert Score(0.5, 2, 0.1, 0.9).ci == [0.1, 0.9]
