"""The written summary: best, tied and worse hold up on sweeps whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analysis.sweep_summary import (
    ALPHA,
    Verdict,
    compare_samples,
    compare_to_best,
    holm,
    summarize,
    verdict_frame,
    written_summary,
)

SIMULATIONS = 400


def _runs(
    samples: dict[str, list[float]], seconds: dict[str, list[float]] | None = None
) -> pd.DataFrame:
    """One row per run; ``seconds`` per value gives each run's seconds per epoch (else 1 s)."""
    rows = [
        {"value": v, "test_accuracy": a, "test_loss": 1 - a,
         "seconds_per_epoch": (seconds or {}).get(v, [1.0] * len(accs))[i]}
        for v, accs in samples.items() for i, a in enumerate(accs)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _simulated(means: list[float], sd: float, repeats: int, seed: int) -> list[Verdict | None]:
    rng = np.random.default_rng(seed)
    samples = {str(i): rng.normal(m, sd, repeats) for i, m in enumerate(means)}
    by_value = {d.value: d.verdict for d in compare_samples(samples)}
    return [by_value[str(i)] for i in range(len(means))]


def test_equal_means_are_all_tied_in_at_least_95_percent_of_sweeps() -> None:
    # 4 values × 5 repeats from one normal distribution (sd 1 point): any "worse" is false.
    clean = sum(
        Verdict.WORSE not in _simulated([0.90] * 4, 0.01, 5, seed) for seed in range(SIMULATIONS)
    )
    rate = 1 - clean / SIMULATIONS
    print(f"family-wise false-positive rate: {rate:.3f} over {SIMULATIONS} sweeps")
    assert clean / SIMULATIONS >= 0.93  # 0.95 at α = 0.05, less the simulations' own noise


def test_a_five_point_gap_with_five_repeats_is_called_worse_in_90_percent_of_sweeps() -> None:
    # 4 values × 5 repeats, sd 1.5 points; the last is 5 points below the other three.
    found = sum(
        _simulated([0.90, 0.90, 0.90, 0.85], 0.015, 5, seed)[3] == Verdict.WORSE
        for seed in range(SIMULATIONS)
    )
    print(f"power: {found / SIMULATIONS:.3f} over {SIMULATIONS} sweeps")
    assert found / SIMULATIONS >= 0.90


def test_an_interval_excludes_zero_exactly_when_the_value_is_worse() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        samples = {str(i): rng.normal(0.9 - 0.01 * i, 0.01, 4) for i in range(5)}
        for d in compare_samples(samples)[1:]:
            assert d.ci is not None and d.ci_level is not None and d.ci_level >= 0.95
            excludes_zero = d.ci[1] < 0 or d.ci[0] > 0
            assert excludes_zero == (d.verdict == Verdict.WORSE), d


def test_holm_steps_down_and_says_the_level_each_was_tested_at() -> None:
    adjusted, levels = holm(np.array([0.01, 0.04, 0.03, 0.005]))
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # 0.005 at 0.05/4 and 0.01 at 0.05/3 pass; 0.03 fails at 0.05/2, and 0.04 is held there.
    assert levels.tolist() == pytest.approx([ALPHA / 3, ALPHA / 2, ALPHA / 2, ALPHA / 4])


def test_two_values_are_judged_by_welchs_test_and_its_95_percent_interval() -> None:
    best, other = compare_to_best(_runs({"100": [0.90, 0.91, 0.92], "1000": [0.80, 0.81, 0.82]}))
    welch = stats.ttest_ind([0.80, 0.81, 0.82], [0.90, 0.91, 0.92], equal_var=False)
    interval = welch.confidence_interval(0.95)
    assert (best.value, best.verdict) == ("100", Verdict.BEST)
    assert (other.value, other.verdict) == ("1000", Verdict.WORSE)
    assert other.diff == pytest.approx(-0.10) and other.ci_level == pytest.approx(0.95)
    assert other.p_value == pytest.approx(welch.pvalue)  # one comparison: nothing to adjust
    assert other.ci == pytest.approx((interval.low, interval.high))


def test_values_that_cannot_be_separated_are_tied_best_with_a_warning() -> None:
    runs = _runs(
        {"20": [0.92, 0.90, 0.93], "40": [0.91, 0.92, 0.89], "100": [0.90, 0.91, 0.92],
         "1149": [0.80, 0.81, 0.79]}
    )  # fmt: skip
    summary = summarize(runs, "Batch size")
    verdicts = {d.value: d.verdict for d in compare_to_best(runs)}
    assert verdicts == {"20": "best", "40": "tied", "100": "tied", "1149": "worse"}
    assert summary.lines[0].startswith("**Tied best batch size: 20, 40, 100**")
    assert "Best batch size" not in "\n".join(summary.lines)
    line_40 = next(line for line in summary.lines if line.startswith("40:"))
    assert "1.0 percentage points lower than 20" in line_40 and "tied" in line_40
    assert "95% CI, Holm-adjusted: −3.9 to 5.9 percentage points" in line_40
    line_1149 = next(line for line in summary.lines if line.startswith("1149:"))
    assert "11.7 percentage points lower" in line_1149 and "worse: a real difference" in line_1149
    assert any("20, 40 and 100 cannot be told apart" in w and "95% intervals overlap" in w
               for w in summary.warnings)  # fmt: skip


def test_one_run_per_value_gives_no_verdict_and_says_why() -> None:
    runs = _runs({"20": [0.35], "100": [0.40]}, seconds={"20": [3.0], "100": [0.5]})
    summary = summarize(runs, "Batch size")
    assert all(d.verdict is None for d in compare_to_best(runs))
    assert summary.lines[0].startswith("**Highest test accuracy: batch size 100**")
    lines = "\n".join(summary.lines)
    assert not any(word in lines.lower() for word in ("best", "tied", "worse", "real", "noise:"))
    assert "5.0 percentage points lower" in lines
    assert any("One run per value cannot tell noise from a difference" in w
               and "≥ 3 times" in w for w in summary.warnings)  # fmt: skip
    assert "×" not in lines and "cannot tell a difference in time from noise" in lines


def test_a_value_with_one_run_is_left_out_of_the_test_and_named() -> None:
    runs = _runs({"20": [0.90, 0.91], "40": [0.99], "100": [0.80, 0.81]})
    diffs = compare_to_best(runs)
    assert [(d.value, d.verdict) for d in diffs] == [("20", "best"), ("100", "worse"), ("40", None)]
    warnings = summarize(runs, "Batch size").warnings
    assert any(w.startswith("40 has one finished run only and is not compared") for w in warnings)


def test_a_large_time_gap_within_the_noise_is_no_clear_difference() -> None:
    # 0.358 s apart, but the runs of each value scatter by more than that.
    seconds = {"20": [1.10, 2.30, 1.60, 1.432], "100": [1.30, 0.70, 1.95, 1.05]}
    lines = written_summary(_runs({"20": [0.9] * 4, "100": [0.9] * 4}, seconds), "Batch size")
    cost = next(line for line in lines if line.startswith("Cost:"))
    assert "no clear difference in time" in cost and "×" not in cost
    assert "1.25 s (100) to 1.61 s (20) per epoch, a gap of 0.358 s" in cost
    assert any("cannot be told apart by time per epoch" in line for line in lines)


def test_a_small_time_gap_beyond_the_noise_is_a_real_difference_in_seconds() -> None:
    seconds = {"20": [0.551, 0.549, 0.550, 0.552], "100": [0.500, 0.501, 0.499, 0.502]}
    lines = written_summary(_runs({"20": [0.9] * 4, "100": [0.9] * 4}, seconds), "Batch size")
    cost = next(line for line in lines if line.startswith("Cost:"))
    assert cost.startswith("Cost: 20 takes 0.55 s per epoch, 0.050 s more than 100 (0.50 s; 95% CI")
    assert cost.endswith(" s): 1.1× as long.")


def test_equal_times_without_spread_are_no_clear_difference() -> None:
    lines = written_summary(_runs({"20": [0.9, 0.91], "100": [0.5, 0.52]}), "Batch size")
    assert "Cost: no clear difference in time" in "\n".join(lines)


def test_lower_is_better_metrics_rank_by_the_smallest_value() -> None:
    runs = _runs({"a": [0.9, 0.92], "b": [0.5, 0.52]})
    best, other = compare_to_best(runs, "test_loss")
    assert best.value == "a" and other.diff == pytest.approx(0.4)
    assert "0.4000 higher than a" in summarize(runs, "Batch size", "test_loss").lines[1]


def test_the_verdict_frame_gives_differences_in_percentage_points() -> None:
    frame = verdict_frame(_runs({"100": [0.90, 0.91, 0.92], "1000": [0.80, 0.81, 0.82]}))
    row = frame.set_index("value").loc["1000"]
    assert row["verdict"] == "worse" and row["diff_vs_best"] == pytest.approx(-10.0)
    assert row["ci_low"] < -10 < row["ci_high"] < 0


def test_an_interval_from_two_runs_never_reaches_past_what_two_accuracies_allow() -> None:
    # Two runs a value, one of them far off: Welch's interval (1 degree of freedom) spans
    # several times the whole range of a difference of two accuracies.
    samples = {"a": [0.95, 0.93], "b": [0.90, 0.10]}
    (_, raw) = compare_samples(samples)
    assert raw.ci[0] < -1.0 and raw.ci[1] > 1.0
    runs = _runs({"a": [0.95, 0.93], "b": [0.90, 0.10]})
    (_, cut) = compare_to_best(runs)
    assert cut.ci == (-1.0, 1.0)
    assert cut.verdict == raw.verdict and cut.diff == pytest.approx(raw.diff)
    row = verdict_frame(runs).set_index("value").loc["b"]
    assert row["ci_low"] >= -100 and row["ci_high"] <= 100
    # A loss has no upper bound: its interval is left as Welch's.
    (_, loss) = compare_to_best(runs, "test_loss")
    assert loss.ci == pytest.approx(
        compare_samples({k: [1 - v for v in x] for k, x in samples.items()}, False)[1].ci
    )


def test_no_finished_run_yet_says_so() -> None:
    empty = pd.DataFrame(columns=["value", "test_accuracy", "seconds_per_epoch"])
    assert "No run has finished" in written_summary(empty, "Batch size")[0]
