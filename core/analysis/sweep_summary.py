"""The written summary of a sweep: the best value, the others against it, noise, and cost.

Whether a difference is real is judged with Welch's t-test (``scipy.stats.ttest_ind`` with
``equal_var=False``: two samples, variances not assumed equal) on the runs of each value, at
``ALPHA``. With fewer than two finished runs of a value, noise cannot be judged, and the summary
says so and suggests repeats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from core.analysis.sweep_numbers import RUN_METRICS, completed
from core.spec.scores import accuracy_score

ALPHA = 0.05


@dataclass(frozen=True)
class Difference:
    """One value against the best one on the summary's metric.

    Attributes:
        value: The value's label.
        mean: Its mean.
        gap: Best mean minus this mean, in the metric's units (positive: worse).
        p_value: Welch's t-test p value, or None when it cannot be computed.
        verdict: ``real``, ``noise`` or ``unknown`` (too few runs to tell).
    """

    value: str
    mean: float
    gap: float
    p_value: float | None
    verdict: str


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided p value of Welch's t-test between two samples; None if it cannot be computed.

    It needs two values in each sample; two samples without any spread give a p value of 0
    when their means differ and 1 when they are equal.
    """
    if len(a) < 2 or len(b) < 2:
        return None
    if max(a) == min(a) and max(b) == min(b):  # no spread: the t statistic is undefined
        return 1.0 if math.isclose(a[0], b[0]) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def compare_to_best(runs: pd.DataFrame, metric: str = "test_accuracy") -> list[Difference]:
    """The best value first, then every other value with its gap, p value and verdict.

    Args:
        runs: ``core.analysis.sweep_numbers.run_frame`` (only completed runs with the metric count).
        metric: A column of ``RUN_METRICS``.
    """
    higher = RUN_METRICS[metric][1]
    samples: dict[str, list[float]] = {}
    for value, group in _usable(runs, metric).groupby("value", sort=False):
        samples[str(value)] = [float(v) for v in group[metric]]
    if not samples:
        return []
    means = {v: sum(xs) / len(xs) for v, xs in samples.items()}
    best = (max if higher else min)(means, key=means.get)
    out = [Difference(best, means[best], 0.0, None, "best")]
    others = sorted((v for v in means if v != best), key=means.get, reverse=higher)
    for value in others:
        p = welch_p(samples[best], samples[value])
        verdict = "unknown" if p is None else "real" if p < ALPHA else "noise"
        gap = means[best] - means[value] if higher else means[value] - means[best]
        out.append(Difference(value, means[value], gap, p, verdict))
    return out


def written_summary(runs: pd.DataFrame, title: str, metric: str = "test_accuracy") -> list[str]:
    """A few sentences (markdown) computed from the numbers.

    Args:
        runs: ``core.analysis.sweep_numbers.run_frame``.
        title: What was swept, e.g. ``Batch size``.
        metric: The figure the values are ranked by.

    Returns:
        One line per point: the best value, each other value (within noise or not), a note
        when noise cannot be judged, and the cost per epoch.
    """
    label = RUN_METRICS[metric][0].lower()
    diffs = compare_to_best(runs, metric)
    if not diffs:
        return [f"No run has finished yet: the summary appears when one has a {label}."]
    fmt = _formatter(metric)
    best = diffs[0]
    usable = _usable(runs, metric)
    n_best = int(usable.groupby("value").size().get(best.value, 0))
    lines = [
        f"**Best {title.lower()}: {best.value}**, {label} {_best_text(usable, metric, best)}"
        + (f" (mean of {n_best} runs)." if n_best > 1 else ".")
    ]
    for d in diffs[1:]:
        worse = "lower" if RUN_METRICS[metric][1] else "higher"
        line = f"{d.value}: {fmt(d.mean)}, {fmt(d.gap, gap=True)} {worse}"
        if d.verdict == "real":
            line += f" — a real difference (Welch's t-test p = {d.p_value:.3g} < {ALPHA})."
        elif d.verdict == "noise":
            line += (
                f" — within noise: not distinguishable from seed-to-seed variation with these "
                f"runs (Welch's t-test p = {d.p_value:.3g} ≥ {ALPHA})."
            )
        else:
            line += "."
        lines.append(line)
    if any(d.verdict == "noise" and d.gap > 0 for d in diffs[1:]) and _fewest(runs, metric) < 5:
        lines.append(
            "More repeats narrow the noise: a difference called noise here may prove real "
            "with more runs per value."
        )
    if any(d.verdict == "unknown" for d in diffs[1:]):
        lines.append(
            "Where a value has only one finished run, noise cannot be judged: run at least 2 "
            "repeats (3 or more is better) to tell a real difference from seed-to-seed variation."
        )
    cost = _cost_line(runs)
    if cost:
        lines.append(cost)
    return lines


def _best_text(usable: pd.DataFrame, metric: str, best: Difference) -> str:
    """The best value's figure; a test accuracy with its test images and 95% interval."""
    mine = usable[usable["value"].astype(str) == best.value] if len(usable) else usable
    if metric == "test_accuracy" and "test_images" in mine and mine["test_images"].notna().any():
        return accuracy_score(best.mean, int(mine["test_images"].max())).text()
    return _formatter(metric)(best.mean)


def _usable(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Completed runs (where the frame says) that have the metric."""
    if "status" in runs:
        runs = completed(runs)
    return runs.dropna(subset=[metric])


def _fewest(runs: pd.DataFrame, metric: str) -> int:
    counts = _usable(runs, metric).groupby("value").size()
    return int(counts.min()) if len(counts) else 0


def _cost_line(runs: pd.DataFrame) -> str | None:
    timed = _usable(runs, "seconds_per_epoch")
    if timed.empty:
        return None
    per_value = timed.groupby("value", sort=False)["seconds_per_epoch"].mean()
    fast, slow = per_value.idxmin(), per_value.idxmax()
    if fast == slow:
        return f"Cost: {per_value[fast]:.2f} s per epoch."
    ratio = per_value[slow] / per_value[fast]
    return (
        f"Cost: {slow} takes {per_value[slow]:.2f} s per epoch, {ratio:.1f}× as long as "
        f"{fast} ({per_value[fast]:.2f} s)."
    )


def _formatter(metric: str):  # noqa: ANN202 - a small local formatter
    if "accuracy" in metric or metric == "train_val_gap":

        def percent(value: float, gap: bool = False) -> str:
            return f"{value * 100:.1f} points" if gap else f"{value:.1%}"

        return percent

    def plain(value: float, gap: bool = False) -> str:
        return f"{value:.3g}"

    return plain
