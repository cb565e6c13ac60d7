"""Diagnose a run from its curves, in words: what went wrong, at which epoch, and what to try.

Each check is a plain function over a trial's epochs (as the store keeps them) that returns a
:class:`Flag` or None: diverged, overfitting, learning rate too high, learning rate too low,
plateau and underfitting. The advice follows report 001's tuning guide (lower the learning
rate, add dropout or augmentation, use early stopping, ...). :func:`diagnose` runs them all;
:func:`failure_clusters` looks across a sweep or search for ranges of one hyperparameter
where most trials failed or diverged. Nothing heavy is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.store import Epoch, Status, Store, Trial


@dataclass(frozen=True)
class Flag:
    """One finding about a run.

    Attributes:
        kind: ``diverged``, ``overfitting``, ``lr_too_high``, ``lr_too_low``, ``plateau``
            or ``underfitting``.
        epoch: The epoch (0-based) the finding is pinned to, for a marker on the curves.
        message: What happened, with numbers.
        advice: One sentence on what to try.
    """

    kind: str
    epoch: int
    message: str
    advice: str

    @property
    def label(self) -> str:
        """Short badge text, e.g. ``overfitting``."""
        return LABELS[self.kind]


LABELS = {
    "diverged": "diverged",
    "overfitting": "overfitting",
    "lr_too_high": "LR too high",
    "lr_too_low": "LR too low",
    "plateau": "plateau",
    "underfitting": "underfitting",
}
ADVICE = {
    "diverged": "Lower the learning rate (try 10x smaller), or add gradient clipping.",
    "overfitting": "Add dropout (0.2-0.5), augmentation or L2 regularization, "
    "or use early stopping.",
    "lr_too_high": "Lower the learning rate, or use a schedule that decays it.",
    "lr_too_low": "Raise the learning rate (try 3-10x larger), or train for more epochs.",
    "plateau": "Use early stopping, or a schedule (step decay, cosine, reduce on plateau) "
    "to lower the rate when progress stalls.",
    "underfitting": "Use a bigger model (more layers or units), train longer, "
    "or lower the regularization.",
}


def series(epochs: Sequence[Epoch], metric: str) -> list[float]:
    """Return one metric per epoch, in order; NaN where an epoch lacks it."""
    return [float(e.metrics.get(metric, math.nan)) for e in epochs]


def diverged(epochs: Sequence[Epoch], factor: float = 10.0) -> Flag | None:
    """Flag the first epoch whose training loss is NaN, infinite or exploding.

    Exploding: above ``factor`` times the lowest loss before it and above the first epoch's.
    """
    losses = series(epochs, "loss")
    for i, loss in enumerate(losses):
        if not math.isfinite(loss):
            return _flag(
                "diverged", epochs[i], f"The loss became NaN or infinite in epoch {i + 1}."
            )
        best = min(losses[:i], default=math.inf)
        if i and loss > factor * best and loss > losses[0]:
            return _flag(
                "diverged",
                epochs[i],
                f"The loss exploded in epoch {i + 1} ({loss:.3g}, {loss / best:.0f}x its best).",
            )
    return None


def overfitting(epochs: Sequence[Epoch], rise: int = 2) -> Flag | None:
    """Flag the epoch after which validation loss rises while training loss still falls.

    The onset is the epoch of the lowest validation loss, when at least ``rise`` epochs
    follow it with rises, validation loss ends over 10% (and 0.01) above it and training
    loss ends below its value there.
    The message gives the gap between training and validation (accuracy, else loss).
    """
    val, train = series(epochs, "val_loss"), series(epochs, "loss")
    if len(val) < rise + 2 or not all(map(math.isfinite, val + train)):
        return None
    onset = min(range(len(val)), key=val.__getitem__)
    after = val[onset + 1 :]
    if len(after) < rise or sum(b > a for a, b in zip(val[onset:], after, strict=False)) < rise:
        return None
    # Noise around a low minimum is no trend: the rise must be over 10% and over 0.01.
    risen = val[-1] > val[onset] * 1.1 and val[-1] - val[onset] > 0.01
    if not (risen and train[-1] < train[onset]):
        return None
    acc, val_acc = series(epochs, "accuracy")[-1], series(epochs, "val_accuracy")[-1]
    if math.isfinite(acc) and math.isfinite(val_acc):
        gap = f"training accuracy {acc:.1%} vs validation {val_acc:.1%}"
    else:
        gap = f"validation loss {val[-1]:.3g} vs training {train[-1]:.3g}"
    return _flag(
        "overfitting",
        epochs[onset],
        f"Overfitting from epoch {onset + 1}: validation loss rose while training loss fell "
        f"(at the end, {gap}).",
    )


def lr_too_high(epochs: Sequence[Epoch], jump: float = 0.1, spikes: int = 2) -> Flag | None:
    """Flag a training loss that spikes or oscillates: ``spikes`` rises of over ``jump``.

    Training loss with a fitting rate falls nearly every epoch; repeated rises of more than
    ``jump`` (relative) mean the steps overshoot. Pinned to the first rise.
    """
    losses = series(epochs, "loss")
    if not all(map(math.isfinite, losses)):
        return None
    rises = [
        i for i in range(1, len(losses)) if losses[i] > losses[i - 1] * (1 + jump) and losses[i]
    ]
    if len(rises) < spikes:
        return None
    return _flag(
        "lr_too_high",
        epochs[rises[0]],
        f"The training loss jumped up in {len(rises)} epochs (first in epoch {rises[0] + 1}): "
        "the steps overshoot.",
    )


def lr_too_low(epochs: Sequence[Epoch], least: float = 0.05, min_epochs: int = 3) -> Flag | None:
    """Flag a training loss that barely moves: less than ``least`` lower over the whole run.

    Needs ``min_epochs`` epochs, and is not raised when training accuracy is already high
    (over 95%: nothing left to gain).
    """
    losses = series(epochs, "loss")
    if len(losses) < min_epochs or not all(map(math.isfinite, losses)) or losses[0] <= 0:
        return None
    drop = (losses[0] - losses[-1]) / losses[0]
    acc = series(epochs, "accuracy")[-1]
    if drop >= least or (math.isfinite(acc) and acc > 0.95):
        return None
    return _flag(
        "lr_too_low",
        epochs[-1],
        f"The training loss fell only {max(drop, 0):.1%} in {len(losses)} epochs.",
    )


def plateau(epochs: Sequence[Epoch], patience: int = 3, metric: str = "val_loss") -> Flag | None:
    """Flag ``patience`` or more epochs at the end with no improvement of ``metric``.

    Pinned to the epoch early stopping with that patience would have stopped at. Falls back
    to the training loss for runs without validation.
    """
    values = series(epochs, metric)
    if not any(map(math.isfinite, values)):
        metric, values = "loss", series(epochs, "loss")
    if len(values) <= patience or not all(map(math.isfinite, values)):
        return None
    better = max if "accuracy" in metric else min
    best = values.index(better(values))
    wasted = len(values) - 1 - best
    if wasted < patience:
        return None
    return _flag(
        "plateau",
        epochs[best + patience],
        f"No better {metric} after epoch {best + 1}: the last {wasted} epochs added nothing.",
    )


def underfitting(epochs: Sequence[Epoch], low: float = 0.6, flat: float = 0.02) -> Flag | None:
    """Flag a training accuracy that stays low (under ``low``) and flat over the last epochs.

    Flat: it rose by less than ``flat`` over the last half of the run (at least 2 epochs).
    """
    acc = series(epochs, "accuracy")
    if len(acc) < 3 or not all(map(math.isfinite, acc)):
        return None
    half = acc[len(acc) // 2 :]
    if acc[-1] >= low or half[-1] - half[0] >= flat:
        return None
    return _flag(
        "underfitting",
        epochs[-1],
        f"Training accuracy stayed low ({acc[-1]:.1%}) and flat over the last {len(half)} "
        "epochs: the model does not fit even the training data.",
    )


CHECKS: tuple[Callable[[Sequence[Epoch]], Flag | None], ...] = (
    diverged,
    overfitting,
    lr_too_high,
    lr_too_low,
    plateau,
    underfitting,
)


def diagnose(epochs: Sequence[Epoch]) -> list[Flag]:
    """Run every check on a trial's epochs; a diverged run gets only that flag.

    Args:
        epochs: The trial's epochs in order (``Store.epochs``).

    Returns:
        The flags raised, in the order of ``CHECKS``.
    """
    first = diverged(epochs)
    if first is not None:
        return [first]
    return [flag for check in CHECKS[1:] if (flag := check(epochs)) is not None]


def diagnosis_badges(store: Store, trial_id: int) -> str:
    """Return a trial's flags as short labels for a table cell, e.g. ``overfitting, plateau``."""
    return ", ".join(flag.label for flag in diagnose(store.epochs(trial_id)))


def _flag(kind: str, epoch: Epoch, message: str) -> Flag:
    return Flag(kind, epoch.epoch, message, ADVICE[kind])


# --- failures across a sweep or search ---------------------------------------------------

BAD = (Status.FAILED, Status.DIVERGED)


@dataclass(frozen=True)
class Cluster:
    """A range of one hyperparameter where most trials went bad.

    Attributes:
        key: The hyperparameter.
        condition: The range in words, e.g. ``learning_rate ≥ 0.01`` or ``optimizer = sgd``.
        bad: How many trials in that range failed or diverged.
        total: How many trials were in that range.
        sentence: The finding, e.g. ``4 of 5 trials with learning_rate ≥ 0.01 diverged``.
    """

    key: str
    condition: str
    bad: int
    total: int
    sentence: str


def failure_clusters(trials: Sequence[Trial], least: float = 0.75) -> list[Cluster]:
    """Find where failures and divergences cluster in a study's hyperparameter space.

    For every hyperparameter that varies among finished trials: numbers are split between
    each pair of neighbouring values (``≥`` the higher one, ``≤`` the lower one), choices by
    value. A range is reported when at least two trials in it went bad, they
    are at least ``least`` of its trials, and the trials outside it went bad less often.
    For each hyperparameter only the range with the most bad trials (then the purest) is kept.

    Args:
        trials: A study's trials (any order); unfinished ones are ignored.
        least: Smallest share of bad trials in a range worth reporting.

    Returns:
        Clusters, the strongest (most bad trials, then highest share) first.
    """
    done = [t for t in trials if t.status.finished and t.status != Status.CANCELLED]
    if len(done) < 3 or not any(t.status in BAD for t in done):
        return []
    found = []
    for key in sorted({k for t in done for k in t.config}):
        values = [t.config.get(key) for t in done]
        if len({repr(v) for v in values}) < 2:
            continue
        best = _best_range(key, done, values, least)
        if best is not None:
            found.append(best)
    return sorted(found, key=lambda c: (-c.bad, -c.bad / c.total, c.key))


def _best_range(key: str, done: Sequence[Trial], values: list[Any], least: float) -> Cluster | None:
    candidates: list[tuple[str, list[bool]]] = []
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values):
        cuts = sorted(set(numbers))
        for low, high in zip(cuts, cuts[1:], strict=False):
            candidates.append((f"{key} ≥ {high:g}", [v >= high for v in numbers]))
            candidates.append((f"{key} ≤ {low:g}", [v <= low for v in numbers]))
    else:
        for shown in sorted({_text(v) for v in values}):
            candidates.append((f"{key} = {shown}", [_text(v) == shown for v in values]))
    best: Cluster | None = None
    for condition, inside in candidates:
        bad_in = [t for t, i in zip(done, inside, strict=True) if i and t.status in BAD]
        total_in = sum(inside)
        bad_out = sum(1 for t, i in zip(done, inside, strict=True) if not i and t.status in BAD)
        total_out = len(done) - total_in
        share = len(bad_in) / total_in if total_in else 0.0
        if len(bad_in) < 2 or share < least:
            continue
        if total_out and bad_out / total_out >= share:
            continue
        cluster = Cluster(
            key, condition, len(bad_in), total_in, _sentence(condition, bad_in, total_in)
        )
        if best is None or (cluster.bad, share) > (best.bad, best.bad / best.total):
            best = cluster
    return best


def _sentence(condition: str, bad: Sequence[Trial], total: int) -> str:
    statuses = {t.status for t in bad}
    what = (
        "diverged"
        if statuses == {Status.DIVERGED}
        else ("failed" if statuses == {Status.FAILED} else "failed or diverged")
    )
    return f"{len(bad)} of {total} trials with {condition} {what}"


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "none"
    return str(value)
