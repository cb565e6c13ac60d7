"""Which searched parameters decide the objective, and how sure that is.

A random forest learns the objective from the searched values; scikit-learn's
``permutation_importance`` then shuffles one parameter's values among trials the forest did
not see and measures how much worse it predicts them. A parameter the objective does not
depend on changes nothing when shuffled, whatever the number of distinct values it took, so
its importance is about zero; the forest's own impurity importance, by contrast, grows with
the number of places a parameter can be split.

Every trial is held out once per shuffled k-fold split; the split is drawn again
``REPEATS`` times and each held-out fold shuffled ``PERMUTATIONS`` times, and the spread of
those estimates is the interval. Two parameters shuffled together show how much they matter
only together: the loss from shuffling both, short of the two losses alone, is their
interaction. The forest's held-out R² says how much of the objective the searched values
predict at all; below ``MIN_R2`` no parameter is named.

Callers pass trials of one budget only (Hyperband's 2-epoch and 10-epoch trials do not
measure the same thing). Nothing here imports Streamlit or TensorFlow; scikit-learn loads on
first use.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Shuffled k-fold splits, folds per split and shuffles per held-out fold: 12 estimates per
# parameter, enough for an interval's ends to settle to a few points, few enough forests for
# 30 trials of 5 parameters to take a second or two on one CPU core.
REPEATS = 3
FOLDS = 5
PERMUTATIONS = 4
TREES = 20
# The interval: from the 5th to the 95th percentile of the estimates.
LEVEL = 0.9
# Below this held-out R², the searched values do not predict the objective: nothing is named.
MIN_R2 = 0.1
# A pair is measured only among parameters that each hold this share (an interaction is part
# of both parameters' importance, so it cannot be larger), and named only when its own share
# is at least this large with an interval clear of zero.
NOTABLE = 0.10
PAIR_CANDIDATES = 3


@dataclass(frozen=True)
class Share:
    """A share of the importance with its interval.

    Attributes:
        share: The mean over the estimates.
        low: The interval's lower end (below zero when shuffling can even help).
        high: Its upper end.
    """

    share: float
    low: float
    high: float


@dataclass(frozen=True)
class Pair:
    """Two parameters that matter partly only together, and that part's share."""

    first: str
    second: str
    share: Share


@dataclass(frozen=True)
class Permutation:
    """The answer for one set of trials.

    Attributes:
        shares: Each parameter's share of the importance (they add up to about 1), largest
            first; empty when ``r2`` is below ``MIN_R2``.
        pair: The strongest two-parameter interaction when it is notable, else None.
        r2: How well the forest predicts the objective of held-out trials (1 is perfectly).
        trials: How many trials it learned from.
        estimates: How many estimates each interval spans.
        level: The intervals' coverage (0.9 for the 5th to 95th percentile).
    """

    shares: dict[str, Share]
    pair: Pair | None
    r2: float
    trials: int
    estimates: int
    level: float


def permutation_shares(
    features: np.ndarray, names: Sequence[str], values: Sequence[float], seed: int = 0
) -> Permutation | None:
    """Each parameter's share of the importance, with intervals, and the strongest pair.

    Args:
        features: One row per trial, one column per parameter, as numbers (log10 of a
            log-scale key, a choice as its position).
        names: The parameters, in the columns' order.
        values: Each trial's objective.
        seed: Makes the forests, splits and shuffles repeatable.

    Returns:
        None when there are fewer than 4 trials or the objective never varies.
    """
    x = np.asarray(features, dtype=float)
    y = np.asarray(values, dtype=float)
    if len(y) < 4 or np.ptp(y) == 0 or x.shape[1] == 0:
        return None
    losses, r2, folds = _held_out_losses(x, y, seed)
    scale = 2.0 * float(np.var(y))  # shuffling a part of variance V costs 2V in squared error
    losses = losses / scale  # (parameters, estimates)
    means = losses.mean(axis=1)
    total = float(np.clip(means, 0.0, None).sum())
    # Each estimate's shares are of its own total, so an interval is about the share, not
    # about how much a single shuffle happened to cost.
    totals = np.clip(losses, 0.0, None).sum(axis=0)
    kept = totals > 0
    shares: dict[str, Share] = {}
    if r2 >= MIN_R2 and total > 0 and kept.any():
        shares = {
            names[i]: _share(losses[i, kept] / totals[kept])
            for i in np.argsort(-means, kind="stable")
        }
    pair = _strongest_pair(x, y, list(names), shares, losses, folds, scale, totals)
    return Permutation(shares, pair, r2, len(y), losses.shape[1], LEVEL)


def _share(estimates: np.ndarray) -> Share:
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return Share(float(estimates.mean()), float(low), float(high))


def _held_out_losses(
    x: np.ndarray, y: np.ndarray, seed: int
) -> tuple[np.ndarray, float, list[tuple[int, Any, np.ndarray, Any]]]:
    """Each parameter's loss in held-out squared error when shuffled, pooled over the folds.

    Returns:
        The losses (parameters × estimates, one estimate per split and shuffle), the
        forests' held-out R², and each fold as (split, fitted forest, held-out rows, its
        forest's random seed) for the pairs.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import RepeatedKFold

    n = len(y)
    splits = RepeatedKFold(n_splits=min(FOLDS, n), n_repeats=REPEATS, random_state=seed)
    losses = np.zeros((x.shape[1], REPEATS, PERMUTATIONS))
    squared = np.zeros(REPEATS)
    folds = []
    for k, (train, test) in enumerate(splits.split(x)):
        split = k // min(FOLDS, n)
        forest = RandomForestRegressor(n_estimators=TREES, random_state=seed + k)
        forest.fit(x[train], y[train])
        squared[split] += float(((forest.predict(x[test]) - y[test]) ** 2).sum())
        result = permutation_importance(
            forest,
            x[test],
            y[test],
            scoring="neg_mean_squared_error",
            n_repeats=PERMUTATIONS,
            random_state=seed + k,
        )
        losses[:, split, :] += result.importances * len(test) / n
        folds.append((split, forest, test, seed + k))
    r2 = float(1.0 - squared.mean() / (n * np.var(y)))
    return losses.reshape(x.shape[1], -1), r2, folds


def _strongest_pair(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    shares: dict[str, Share],
    losses: np.ndarray,
    folds: list[tuple[int, Any, np.ndarray, Any]],
    scale: float,
    totals: np.ndarray,
) -> Pair | None:
    """The notable pair with the largest interaction, or None."""
    candidates = [k for k, s in shares.items() if s.share >= NOTABLE][:PAIR_CANDIDATES]
    best = None
    for first, second in itertools.combinations(candidates, 2):
        i, j = names.index(first), names.index(second)
        both = _together_losses(x, y, [i, j], folds) / scale
        kept = totals > 0
        share = _share((losses[i, kept] + losses[j, kept] - both[kept]) / totals[kept])
        notable = share.share >= NOTABLE and share.low > 0
        if notable and (best is None or share.share > best[2].share):
            best = (first, second, share)
    return Pair(*best) if best else None


def _together_losses(
    x: np.ndarray, y: np.ndarray, group: list[int], folds: list[tuple[int, Any, np.ndarray, Any]]
) -> np.ndarray:
    """The loss when the ``group``'s columns are shuffled together, per split and shuffle.

    ``permutation_importance`` shuffles one column at a time. Here its one column is the
    held-out rows' numbers, and the pipeline's first step takes the group's values from the
    row each number names, so one shuffle moves the group's values together.
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.inspection import permutation_importance
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    n = len(y)
    losses = np.zeros((REPEATS, PERMUTATIONS))
    for split, forest, test, state in folds:
        regroup = FunctionTransformer(
            _with_group_from, kw_args={"table": x, "rows": test, "group": group}
        )
        model = make_pipeline(regroup, FrozenEstimator(forest))
        numbers = test.reshape(-1, 1).astype(float)
        model.fit(numbers, y[test])  # nothing is learned: the forest is frozen
        result = permutation_importance(
            model,
            numbers,
            y[test],
            scoring="neg_mean_squared_error",
            n_repeats=PERMUTATIONS,
            random_state=state,
        )
        losses[split] += result.importances[0] * len(test) / n
    return losses.reshape(-1)


def _with_group_from(
    numbers: np.ndarray, table: np.ndarray, rows: np.ndarray, group: list[int]
) -> np.ndarray:
    """The held-out ``rows`` of ``table``, with the ``group``'s columns taken from the rows
    that ``numbers`` names (the same rows, until they are shuffled)."""
    out = table[rows].copy()
    out[:, group] = table[numbers[:, 0].astype(int)][:, group]
    return out
