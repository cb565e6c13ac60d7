"""The written summary of a sweep: which values are best, tied with it or worse, and the cost.

How a difference is judged. Each value's finished runs (one per seed) are a sample; every pair
of values is compared with Welch's t-test (``scipy.stats.ttest_ind`` with ``equal_var=False``:
the variances are not assumed equal, which matters for time, where a slow value also varies
more), and the p values are corrected with Holm's step-down procedure over *all* pairs, so the
chance of calling any difference real when none is stays at most ``ALPHA`` (0.05) for the whole
sweep. All pairs, not only "each value against the best": the best is picked by its mean from
the same runs, so the comparisons against it are chosen by the data, and only a correction over
every comparison that could have been picked keeps the family-wise error at ``ALPHA``.

Why not Tukey's HSD (``scipy.stats.tukey_hsd``, Games-Howell with ``equal_var=False``): it is
the textbook all-pairs test, but SciPy computes its studentized-range p values and intervals by
numerical integration, about 0.2 s for four values here; the page redraws every second while a
sweep runs, and the summary is checked against thousands of simulated sweeps. Welch + Holm
takes about a millisecond (one ``ttest_ind`` call tests every pair), keeps the unequal
variances, and holds its error rate and power (``benchmarks/significance.py``: a family-wise
false-positive rate of 0.03 for 4 equal values × 5 repeats, power 0.96 for a 5-point gap).

Verdicts (``Verdict``): the value with the best mean is ``best``; a value whose corrected
difference from it is not significant is ``tied`` (the runs cannot tell them apart: "tied best:
20, 40, 100"); the others are ``worse``. A value with fewer than two finished runs has no spread
to weigh a difference against and gets no verdict; when no two values have two runs, the summary
says so and gives none.

Each difference comes with Welch's t interval for the difference of means, at the confidence
level Holm's procedure tested it at (0.95 for one comparison, higher for several, e.g.
1 − 0.05/6 for the first of six): at least 95%, and it excludes zero exactly when the verdict is
``worse``, so an interval and its verdict never disagree. Accuracies differ in percentage
points, times in seconds; every number printed carries its unit.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from core.analysis.sweep_numbers import RUN_METRICS, completed
from core.spec.scores import accuracy_score

ALPHA = 0.05
MIN_RUNS = 2  # runs a value needs before its spread can be estimated at all
ADVISED_RUNS = 3  # what the summary advises: two runs give a very rough spread
COST_METRIC = "seconds_per_epoch"
TEST_NAME = "Welch's t-test, Holm-corrected over all pairs of values"


class Verdict(StrEnum):
    """How a value of a sweep stands against the best one, at ``ALPHA`` for the whole sweep."""

    BEST = "best"  # the best mean among the values with enough runs to compare
    TIED = "tied"  # cannot be told apart from the best with these runs
    WORSE = "worse"  # worse than the best by more than seed-to-seed variation explains


@dataclass(frozen=True)
class Difference:
    """One value against the best one on a metric.

    Attributes:
        value: The value's label.
        mean: Its mean over its finished runs, in the metric's own units.
        runs: How many finished runs have the metric.
        diff: This mean minus the best's, in the metric's own units; None without a verdict.
        ci: The interval of ``diff`` (low, high); None without a verdict.
        ci_level: The interval's confidence level (0.95 or more, see the module docstring).
        p_value: Holm-adjusted p value of the difference from the best; None without a verdict.
        verdict: ``Verdict``, or None when the runs cannot support one.
    """

    value: str
    mean: float
    runs: int
    diff: float | None = None
    ci: tuple[float, float] | None = None
    ci_level: float | None = None
    p_value: float | None = None
    verdict: Verdict | None = None


@dataclass(frozen=True)
class Units:
    """How a metric's numbers are written: its means, and differences in ``unit``."""

    unit: str  # of a difference, written after it (and in the JSON)
    scale: float  # a difference in the metric's own units × scale = a difference in ``unit``
    mean: Callable[[float], str]
    digits: int  # decimals of a difference
    short: str = ""  # ``unit`` where space is short (a table cell); ``unit`` when empty

    @property
    def abbreviation(self) -> str:
        return self.short or self.unit


def _percent(value: float) -> str:
    return f"{value:.1%}"


# The range a difference of two runs' figures can take: shares lie in [0, 1], the gap between
# two shares in [−1, 1]; the other figures have no upper bound.
DIFFERENCE_BOUNDS: dict[str, tuple[float, float]] = {
    "test_accuracy": (-1.0, 1.0),
    "best_val_accuracy": (-1.0, 1.0),
    "train_val_gap": (-2.0, 2.0),
}
UNITS: dict[str, Units] = {
    "test_accuracy": Units("percentage points", 100.0, _percent, 1, "pp"),
    "best_val_accuracy": Units("percentage points", 100.0, _percent, 1, "pp"),
    "train_val_gap": Units("percentage points", 100.0, _percent, 1, "pp"),
    "test_loss": Units("", 1.0, lambda v: f"{v:.4f}", 4),
    "seconds_per_epoch": Units("s", 1.0, lambda v: f"{v:.2f} s", 3),
    "total_seconds": Units("s", 1.0, lambda v: f"{v:.1f} s", 2),
    "images_per_second": Units("images/s", 1.0, lambda v: f"{v:.0f} images/s", 0),
    "peak_memory_mb": Units("MB", 1.0, lambda v: f"{v:.0f} MB", 0),
}


@dataclass(frozen=True)
class Summary:
    """What the page and the command line say about a sweep.

    Attributes:
        lines: Sentences (markdown): the best value or values, each other value, the cost.
        warnings: What the runs cannot tell apart, and why (shown as warnings).
    """

    lines: list[str]
    warnings: list[str]

    @property
    def text(self) -> list[str]:
        """The lines, then the warnings, each marked as one (how the command line prints it)."""
        return self.lines + [f"Warning: {w}" for w in self.warnings]


def holm(p_values: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction: adjusted p values, and the level each was tested at.

    SciPy has no family-wise step-down correction (``scipy.stats.false_discovery_control``
    is Benjamini-Hochberg, which bounds the share of false findings, not the chance of any),
    and statsmodels is not a dependency for these few lines. The k-th smallest of m p values
    is tested at ``alpha / (m - k + 1)`` until one fails; the rest are tested at that one's
    level. A p value is rejected exactly when its adjusted value is below ``alpha``.

    Args:
        p_values: One p value per comparison of the family.
        alpha: The family-wise error rate.

    Returns:
        The adjusted p values and the significance level each comparison was tested at, both
        in the order given.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    steps = m - np.arange(m)
    adjusted = np.minimum(1.0, np.maximum.accumulate(steps * p[order]))
    failed = np.flatnonzero(adjusted >= alpha)
    stop = failed[0] if len(failed) else m
    levels = alpha / steps[np.minimum(np.arange(m), stop if stop < m else m - 1)]
    out_p, out_levels = np.empty(m), np.empty(m)
    out_p[order], out_levels[order] = adjusted, levels
    return out_p, out_levels


@dataclass(frozen=True)
class _Welch:
    """Welch's t-test of mean(a) − mean(b) for one pair, from a batch of pairs."""

    p_value: float
    diff: float
    result: Any  # SciPy's TtestResult for the batch, or None for a pair without any spread
    index: int  # the pair's place in the batch

    def interval(self, level: float) -> tuple[float, float]:
        if self.result is None:
            return self.diff, self.diff
        ci = self.result.confidence_interval(confidence_level=level)
        return float(ci.low[self.index]), float(ci.high[self.index])


def _welch_pairs(
    samples: Mapping[str, np.ndarray], pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], _Welch]:
    """Welch's t-test for every pair, as few SciPy calls as there are pairs of sample sizes.

    ``ttest_ind`` tests along an axis, so pairs of the same sizes go in one call (a call costs
    about a millisecond whatever its size). Two samples without any spread have no noise to
    weigh their difference against: equal means give p = 1, different ones p = 0 (the limit of
    Welch's test), and the interval is a point.
    """
    out: dict[tuple[str, str], _Welch] = {}
    batches: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
    for a, b in pairs:
        diff = float(samples[a].mean() - samples[b].mean())
        if np.ptp(samples[a]) == 0 and np.ptp(samples[b]) == 0:
            out[(a, b)] = _Welch(0.0 if abs(diff) > 1e-12 else 1.0, diff, None, 0)
        else:
            batches[(len(samples[a]), len(samples[b]))].append((a, b))
    for batch in batches.values():
        left = np.stack([samples[a] for a, _ in batch])
        right = np.stack([samples[b] for _, b in batch])
        result = stats.ttest_ind(left, right, axis=1, equal_var=False)
        for i, (a, b) in enumerate(batch):
            diff = float(samples[a].mean() - samples[b].mean())
            out[(a, b)] = _Welch(float(result.pvalue[i]), diff, result, i)
    return out


def compare_samples(
    samples: Mapping[str, Sequence[float]],
    higher: bool = True,
    bounds: tuple[float, float] | None = None,
) -> list[Difference]:
    """Every value against the best one, from each value's results (one per run).

    Args:
        samples: Each value's label and its runs' figures, in the sweep's order.
        higher: Whether a higher figure is better (accuracy) or a lower one (loss, time).
        bounds: The range a difference can take at all (−1 to 1 for two accuracies), when
            there is one: Welch's interval from very few runs can reach beyond it, and is cut
            to it (the true difference always lies within, so nothing is lost).

    Returns:
        The best value first, then the others best mean first, and last the values with too
        few runs to compare (no verdict). When fewer than two values have ``MIN_RUNS`` runs,
        no value has a verdict and the list is in order of mean.
    """
    arrays = {v: np.asarray(xs, dtype=float) for v, xs in samples.items() if len(xs)}
    means = {v: float(xs.mean()) for v, xs in arrays.items()}
    ranked = sorted(means, key=means.get, reverse=higher)  # stable: ties keep the sweep's order
    tested = [v for v in ranked if len(arrays[v]) >= MIN_RUNS]
    if len(tested) < 2:
        return [Difference(v, means[v], len(arrays[v])) for v in ranked]
    best = tested[0]
    pairs = list(itertools.combinations(tested, 2))  # the best is first in each of its pairs
    tests = _welch_pairs(arrays, pairs)
    adjusted, levels = holm(np.array([tests[pair].p_value for pair in pairs]))
    out = [Difference(best, means[best], len(arrays[best]), 0.0, (0.0, 0.0), None, None,
                      Verdict.BEST)]  # fmt: skip
    for value in tested[1:]:
        k = pairs.index((best, value))
        # At the level Holm tested this pair at, the interval agrees with the verdict.
        level = 1 - float(levels[k])
        low, high = tests[(best, value)].interval(level)  # of best − value: turned round
        if bounds is not None:
            low, high = max(low, -bounds[1]), min(high, -bounds[0])
        out.append(
            Difference(
                value,
                means[value],
                len(arrays[value]),
                means[value] - means[best],
                (-high, -low),
                level,
                float(adjusted[k]),
                Verdict.WORSE if adjusted[k] < ALPHA else Verdict.TIED,
            )
        )
    out += [Difference(v, means[v], len(arrays[v])) for v in ranked if v not in tested]
    return out


def compare_to_best(runs: pd.DataFrame, metric: str = "test_accuracy") -> list[Difference]:
    """Every value of a sweep against the best one on a metric (see ``compare_samples``).

    Args:
        runs: ``core.analysis.sweep_numbers.run_frame`` (only completed runs with the metric
            count).
        metric: A column of ``RUN_METRICS``.
    """
    samples = {
        str(value): group[metric].to_numpy(dtype=float)
        for value, group in _usable(runs, metric).groupby("value", sort=False)
    }
    return compare_samples(samples, RUN_METRICS[metric][1], DIFFERENCE_BOUNDS.get(metric))


def verdict_frame(runs: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    """One row per value with its verdict and its difference from the best, in ``UNITS``.

    Columns: ``value``, ``verdict`` (None without one), ``diff_vs_best`` and ``ci_low`` /
    ``ci_high`` in the metric's ``UNITS`` (percentage points for accuracies), ``ci_level``
    and ``p_value`` (Holm-adjusted).
    """
    scale = UNITS[metric].scale
    rows = [
        {
            "value": d.value,
            "verdict": None if d.verdict is None else str(d.verdict),
            "diff_vs_best": None if d.diff is None else d.diff * scale,
            "ci_low": None if d.ci is None else d.ci[0] * scale,
            "ci_high": None if d.ci is None else d.ci[1] * scale,
            "ci_level": d.ci_level,
            "p_value": d.p_value,
        }
        for d in compare_to_best(runs, metric)
    ]
    columns = ["value", "verdict", "diff_vs_best", "ci_low", "ci_high", "ci_level", "p_value"]
    return pd.DataFrame(rows, columns=columns)


def summarize(runs: pd.DataFrame, title: str, metric: str = "test_accuracy") -> Summary:
    """The summary of a sweep, computed from its runs.

    Args:
        runs: ``core.analysis.sweep_numbers.run_frame``.
        title: What was swept, e.g. ``Batch size``.
        metric: The figure the values are ranked by.

    Returns:
        Lines (the best or tied-best values, each other value with its difference, interval
        and verdict, the cost per epoch) and warnings (what the runs cannot tell apart).
    """
    label = RUN_METRICS[metric][0].lower()
    diffs = compare_to_best(runs, metric)
    if not diffs:
        return Summary(
            [f"No run has finished yet: the summary appears when one has a {label}."], []
        )
    if diffs[0].verdict is None:
        lines, warnings = _untested_lines(diffs, title, metric, _usable(runs, metric))
    else:
        lines, warnings = _tested_lines(
            diffs, title, metric, _sweep_order(runs), _usable(runs, metric)
        )
    if metric != COST_METRIC:  # ranked by time already: the cost line would say it again
        cost, cost_warning = _cost_line(runs)
        lines += [cost] if cost else []
        warnings += [cost_warning] if cost_warning else []
    return Summary(lines, warnings)


def written_summary(runs: pd.DataFrame, title: str, metric: str = "test_accuracy") -> list[str]:
    """The summary's lines followed by its warnings (the command line prints them all).

    Args:
        runs: ``core.analysis.sweep_numbers.run_frame``.
        title: What was swept, e.g. ``Batch size``.
        metric: The figure the values are ranked by.
    """
    return summarize(runs, title, metric).text


def _tested_lines(
    diffs: list[Difference],
    title: str,
    metric: str,
    order: dict[str, int],
    usable: pd.DataFrame,
) -> tuple[list[str], list[str]]:
    label = RUN_METRICS[metric][0].lower()
    best = diffs[0]
    tops = sorted((d for d in diffs if d.verdict in (Verdict.BEST, Verdict.TIED)),
                  key=lambda d: order[d.value])  # fmt: skip
    mean = f"{label} {_best_text(usable, metric, best)} (mean of {best.runs} runs)"
    if len(tops) > 1:
        lines = [
            f"**Tied best {title.lower()}: {', '.join(d.value for d in tops)}**: the runs "
            f"cannot tell these apart; {best.value} has the best mean, {mean}."
        ]
    else:
        lines = [f"**Best {title.lower()}: {best.value}**, {mean}."]
    lines += [_value_line(d, best, metric) for d in diffs[1:]]
    lines.append(
        f"Verdicts: {TEST_NAME}; at most a {ALPHA:.0%} chance that any value of this sweep is "
        "called worse when it is not."
    )
    warnings = []
    if len(tops) > 1:
        fewest = min(d.runs for d in tops)
        warnings.append(
            f"{_and([d.value for d in tops])} cannot be told apart by {label}: their 95% "
            f"intervals overlap too much with {fewest} run{_s(fewest)} per value. More repeats "
            "per value narrow the intervals."
        )
    untested = [d.value for d in diffs if d.verdict is None]
    if untested:
        one = len(untested) == 1
        warnings.append(
            f"{_and(untested)} {'has' if one else 'have'} one finished run only and "
            f"{'is' if one else 'are'} not compared: one run cannot tell noise from a "
            f"difference (repeat each value ≥ {ADVISED_RUNS} times to tell)."
        )
    return lines, warnings


def _value_line(d: Difference, best: Difference, metric: str) -> str:
    """``40: 91.2%, 0.8 percentage points lower than 20 (95% CI ...) — tied (p = ...).``"""
    units = UNITS[metric]
    line = f"{d.value}: {units.mean(d.mean)}"
    if d.verdict is None:
        return line + f" (one run): not compared with {best.value}."
    assert d.diff is not None and d.ci is not None and d.p_value is not None
    higher = RUN_METRICS[metric][1]
    # The gap and its interval, signed so that positive is worse than the best.
    gap, (low, high) = (-d.diff, (-d.ci[1], -d.ci[0])) if higher else (d.diff, d.ci)
    worse_side = "lower" if higher else "higher"
    line += (
        f", {_amount(gap, metric)} {worse_side} than {best.value} ({_level(d.ci_level)}: "
        f"{_amount(low, metric, unit=False)} to {_amount(high, metric)})"
    )
    if d.verdict == Verdict.WORSE:
        return line + f" — worse: a real difference (adjusted p = {d.p_value:.2g} < {ALPHA})."
    return line + (
        f" — tied: cannot be told apart from {best.value} with these runs "
        f"(adjusted p = {d.p_value:.2g} ≥ {ALPHA})."
    )


def _untested_lines(
    diffs: list[Difference], title: str, metric: str, usable: pd.DataFrame
) -> tuple[list[str], list[str]]:
    label = RUN_METRICS[metric][0].lower()
    units = UNITS[metric]
    top = diffs[0]
    runs = "one run" if top.runs == 1 else f"mean of {top.runs} runs"
    if len(diffs) == 1:
        figure = _best_text(usable, metric, top)
        return [f"**{title}: {top.value}**, {label} {figure} ({runs})."], []
    higher = RUN_METRICS[metric][1]
    lines = [
        f"**{'Highest' if higher else 'Lowest'} {label}: {title.lower()} {top.value}**, "
        f"{_best_text(usable, metric, top)} ({runs}); no verdict without repeats."
    ]
    for d in diffs[1:]:
        gap = top.mean - d.mean if higher else d.mean - top.mean
        side = "lower" if higher else "higher"
        lines.append(f"{d.value}: {units.mean(d.mean)}, {_amount(gap, metric)} {side}.")
    several = [d.value for d in diffs if d.runs > 1]
    who = f"One run per value (only {several[0]} has more)" if several else "One run per value"
    warning = (
        f"{who} cannot tell noise from a difference: no value is called best, tied or "
        f"worse. Repeat each value ≥ {ADVISED_RUNS} times to tell."
    )
    return lines, [warning]


def _cost_line(runs: pd.DataFrame) -> tuple[str | None, str | None]:
    """The cost per epoch, with a claim of a difference only when the test makes it."""
    diffs = compare_to_best(runs, COST_METRIC)
    if not diffs:
        return None, None
    fast = diffs[0]
    if len(diffs) == 1:
        return f"Cost: {fast.mean:.2f} s per epoch.", None
    if fast.verdict is None:
        slow = diffs[-1]
        return (
            f"Cost: {fast.mean:.2f} s ({fast.value}) to {slow.mean:.2f} s ({slow.value}) per "
            f"epoch; one run per value cannot tell a difference in time from noise.",
            None,
        )
    worse = [d for d in diffs if d.verdict == Verdict.WORSE]
    tied = [d for d in diffs if d.verdict == Verdict.TIED]
    warning = None
    if tied:
        warning = (
            f"{_and([fast.value, *(d.value for d in tied)])} cannot be told apart by time per "
            f"epoch: their 95% intervals overlap too much."
        )
    if not worse:
        slow = max(tied, key=lambda d: d.mean)
        assert slow.ci is not None
        return (
            f"Cost: no clear difference in time: {fast.mean:.2f} s ({fast.value}) to "
            f"{slow.mean:.2f} s ({slow.value}) per epoch, a gap of {slow.mean - fast.mean:.3f} s "
            f"({_level(slow.ci_level)}: {slow.ci[0]:.3f} to {slow.ci[1]:.3f} s).",
            warning,
        )
    slow = max(worse, key=lambda d: d.mean)
    assert slow.diff is not None and slow.ci is not None
    line = (
        f"Cost: {slow.value} takes {slow.mean:.2f} s per epoch, {slow.diff:.3f} s more than "
        f"{fast.value} ({fast.mean:.2f} s; {_level(slow.ci_level)}: "
        f"{slow.ci[0]:.3f} to {slow.ci[1]:.3f} s): {slow.mean / fast.mean:.1f}× as long."
    )
    if tied:
        names = _and([fast.value, *(d.value for d in tied)])
        line += f" No clear difference in time between {names}."
    return line, warning


def _sweep_order(runs: pd.DataFrame) -> dict[str, int]:
    """Each value's place in the sweep (the order its values were given in)."""
    frame = runs.sort_values("order", kind="stable") if "order" in runs else runs
    return {value: i for i, value in enumerate(dict.fromkeys(frame["value"].astype(str)))}


def _amount(value: float, metric: str, unit: bool = True) -> str:
    units = UNITS[metric]
    text = f"{value * units.scale:.{units.digits}f}".replace("-", "−")
    return f"{text} {units.unit}" if unit and units.unit else text


def _level(level: float | None) -> str:
    """``95% CI`` for one comparison; ``95% CI, Holm-adjusted`` where it was widened."""
    if level is None or math.isclose(level, 1 - ALPHA):
        return f"{1 - ALPHA:.0%} CI"
    return f"{1 - ALPHA:.0%} CI, Holm-adjusted"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _best_text(usable: pd.DataFrame, metric: str, best: Difference) -> str:
    """The top value's figure; a test accuracy with its test images and 95% interval.

    The interval is the test set's sampling noise for one run on that many images; the
    spread between seeds is what the verdicts judge.
    """
    mine = usable[usable["value"].astype(str) == best.value] if len(usable) else usable
    if metric == "test_accuracy" and "test_images" in mine and mine["test_images"].notna().any():
        return accuracy_score(best.mean, int(mine["test_images"].max())).text()
    return UNITS[metric].mean(best.mean)


def _usable(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Completed runs (where the frame says) that have the metric."""
    if "status" in runs:
        runs = completed(runs)
    if metric not in runs:
        return runs.iloc[0:0]
    return runs.dropna(subset=[metric])
