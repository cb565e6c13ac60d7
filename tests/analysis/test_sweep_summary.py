"""The written summary: a real difference is called real, a noise-level one is not."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from core.analysis.sweep_summary import compare_to_best, welch_p, written_summary


def _runs(samples: dict[str, list[float]], seconds: dict[str, float] | None = None) -> pd.DataFrame:
    rows = [
        {"value": v, "test_accuracy": a, "test_loss": 1 - a,
         "seconds_per_epoch": (seconds or {}).get(v, 1.0)}
        for v, accs in samples.items() for a in accs
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_clear_gap_across_repeats_is_called_real() -> None:
    runs = _runs({"100": [0.90, 0.91, 0.92], "1000": [0.80, 0.81, 0.82]})
    best, other = compare_to_best(runs)
    assert (best.value, other.value, other.verdict) == ("100", "1000", "real")
    assert other.gap == pytest.approx(0.10)
    assert other.p_value == pytest.approx(
        stats.ttest_ind([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], equal_var=False).pvalue
    )
    assert other.p_value < 0.05


def test_a_gap_smaller_than_the_seed_to_seed_spread_is_noise() -> None:
    runs = _runs({"100": [0.90, 0.93, 0.87, 0.92], "20": [0.91, 0.86, 0.92, 0.88]})
    lines = written_summary(runs, "Batch size")
    (other,) = compare_to_best(runs)[1:]
    assert other.verdict == "noise" and other.p_value > 0.05
    assert lines[0].startswith("**Best batch size: 100**")
    assert "within noise" in lines[1] and f"p = {other.p_value:.3g}" in lines[1]


def test_one_run_per_value_says_noise_cannot_be_judged() -> None:
    lines = written_summary(_runs({"20": [0.35], "100": [0.40]}), "Batch size")
    assert lines[0].startswith("**Best batch size: 100**")
    assert "Welch" not in lines[1]
    assert any("noise cannot be judged" in line and "repeats" in line for line in lines)


def test_lower_is_better_metrics_rank_by_the_smallest_value() -> None:
    runs = _runs({"a": [0.9, 0.92], "b": [0.5, 0.52]})
    assert compare_to_best(runs, "test_loss")[0].value == "a"


def test_the_cost_side_compares_time_per_epoch() -> None:
    runs = _runs({"20": [0.9, 0.91], "1000": [0.5, 0.52]}, seconds={"20": 3.0, "1000": 0.5})
    assert written_summary(runs, "Batch size")[-1] == (
        "Cost: 20 takes 3.00 s per epoch, 6.0× as long as 1000 (0.50 s)."
    )


def test_welch_needs_two_runs_a_side_and_handles_no_spread() -> None:
    assert welch_p([0.9], [0.8, 0.7]) is None
    assert welch_p([0.9, 0.9], [0.8, 0.8]) == 0.0
    assert welch_p([0.9, 0.9], [0.9, 0.9]) == 1.0


def test_no_finished_run_yet_says_so() -> None:
    empty = pd.DataFrame(columns=["value", "test_accuracy", "seconds_per_epoch"])
    assert "No run has finished" in written_summary(empty, "Batch size")[0]
