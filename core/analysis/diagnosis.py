"""Diagnose a run from its curves, in words: what went wrong, at which epoch, and what to try.

Each check is a plain function over a trial's epochs (as the store keeps them) that returns a
:class:`Flag` or None: diverged, overfitting, learning rate too high, learning rate too low,
plateau and underfitting. The advice follows report 001's tuning guide (lower the learning
rate, add dropout or augmentation, use early stopping, ...). :func:`diagnose` runs them all;
:func:`failure_clusters` looks across a sweep or search for ranges of one hyperparameter
where most trials failed or diverged. Nothing heavy is imported.

The thresholds below were set on a corpus of real digits runs made with known causes
(``tests/analysis/data/diagnosis_corpus.json``, trained by ``benchmarks/diagnosis_corpus.py``);
``benchmarks/diagnosis_table.py`` prints how each finding scores on it. A finding is raised
only when the curves show it clearly: a wrong verdict is worse than none.

Epochs are named by their number in the store (``Epoch.epoch``, shown 1-based), not by their
place in the list, so a fork (whose epochs start after the one it was forked from) and a
search trial's later executions are described at the epochs the chart shows.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.store import Epoch, Status, Store, Trial

# --- thresholds --------------------------------------------------------------------------

# Fewer epochs than this show no trend at all.
MIN_EPOCHS = 3
# Epochs averaged for "at the end" (and "at the start of the last half"), so that one noisy
# epoch decides nothing.
TAIL = 3
# Training accuracy (averaged over the last TAIL epochs) below which a run has not learned its
# training data. Healthy corpus runs end at 0.95 or more, runs with a far too high or far too
# low rate at 0.52 or less; a run above this is never told its rate is wrong.
LEARNED = 0.6
# diverged: a training loss this many times its best so far (and above its first) exploded.
EXPLODE = 10.0
# lr_too_high: a first epoch's training loss at least this many times the second's: the first
# steps threw the weights far off. In the corpus, runs with a rate of 0.3 or more: 2.1x and
# up; runs that ended with low accuracy for other reasons (heavy L2, dropout, a tiny rate):
# 1.6x at most. (A healthy CNN's first epoch is up to 5x its second, but it goes on to learn.)
BLOWUP = 1.8
# lr_too_high: a later epoch's training loss at least this many times the one before: a spike.
# Low-accuracy corpus runs of other causes never rose more than 3% in an epoch.
SPIKE = 1.5
# lr_too_low: the training loss fell less than this share from the first epoch to the end
# (mean of the last TAIL epochs; corpus runs at rates of 1e-6 to 1e-4: 6.5% at most) ...
CRAWL = 0.1
# ... and so did the validation loss (a model held back by heavy dropout shows a flat, noisy
# training loss while its validation loss falls by a fifth).
CRAWL_VAL = 0.1
# plateau: the last this-share of the run (and at least PLATEAU_EPOCHS epochs) ...
PLATEAU_SHARE = 0.25
PLATEAU_EPOCHS = 5
# ... improved neither the training nor the validation loss by this share of its best before,
PLATEAU_GAIN = 0.05
# ... and each of them improved per epoch less than this share of what it did per epoch before
# the stall (killed-rate corpus runs: under 0.02; healthy forks, improving slowly all along:
# 0.25 and more).
PLATEAU_SLOWDOWN = 0.1
# overfitting: validation loss ends (mean of the last TAIL epochs) this share ...
OVERFIT_RISE = 0.1
# ... and this much above its lowest (a rise around a tiny minimum is noise) ...
OVERFIT_RISE_ABS = 0.02
# ... at least this share of the run (and OVERFIT_EPOCHS epochs) after that lowest epoch ...
OVERFIT_SHARE = 0.2
OVERFIT_EPOCHS = 3
# ... while the training loss ends below this share of its value at that epoch; and either the
# rise above, or validation accuracy ending this far below training accuracy (the model learns
# its training images by heart; healthy corpus runs end within 2.5 points).
OVERFIT_TRAIN_FALL = 0.5
OVERFIT_GAP = 0.05
# underfitting: training accuracy rose less than this over the last half of the run.
FLAT = 0.02


@dataclass(frozen=True)
class Flag:
    """One finding about a run.

    Attributes:
        kind: ``diverged``, ``overfitting``, ``lr_too_high``, ``lr_too_low``, ``plateau``
            or ``underfitting``.
        epoch: The epoch (0-based, as the store numbers it) the finding is pinned to, for a
            marker on the curves; the message names it (1-based).
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
    "lr_too_high": "Lower the learning rate (try 10-100x smaller), or use a schedule that "
    "decays it.",
    "lr_too_low": "Raise the learning rate (try 10-100x larger), or train for more epochs.",
    "plateau": "Use early stopping, or a schedule (step decay, cosine, reduce on plateau) "
    "that lowers the rate more gently.",
    "underfitting": "Use a bigger model (more layers or units), train longer, "
    "or lower the regularization (L2, dropout).",
}


def series(epochs: Sequence[Epoch], metric: str) -> list[float]:
    """Return one metric per epoch, in order; NaN where an epoch lacks it."""
    return [float(e.metrics.get(metric, math.nan)) for e in epochs]


def diverged(epochs: Sequence[Epoch], factor: float = EXPLODE) -> Flag | None:
    """Flag the first epoch whose training loss is NaN, infinite or exploding.

    Exploding: above ``factor`` times the lowest loss before it and above the first epoch's.
    """
    losses = series(epochs, "loss")
    for i, loss in enumerate(losses):
        shown = _shown(epochs[i])
        if not math.isfinite(loss):
            return _flag(
                "diverged", epochs[i], f"The loss became NaN or infinite in epoch {shown}."
            )
        best = min(losses[:i], default=math.inf)
        if i and loss > factor * best and loss > losses[0]:
            return _flag(
                "diverged",
                epochs[i],
                f"The loss exploded in epoch {shown} ({loss:.3g}, {_times(loss / best)} its best).",
            )
    return None


def overfitting(epochs: Sequence[Epoch]) -> Flag | None:
    """Flag validation that stopped improving for good while training loss kept falling.

    The onset is the epoch of the lowest validation loss. Raised when at least
    ``OVERFIT_SHARE`` of the run (and ``OVERFIT_EPOCHS`` epochs) follows it, training loss
    ends (mean of the last ``TAIL`` epochs) below ``OVERFIT_TRAIN_FALL`` of its value there,
    and either validation loss ends over ``OVERFIT_RISE`` and ``OVERFIT_RISE_ABS`` above its
    lowest, or validation accuracy ends ``OVERFIT_GAP`` or more below training accuracy.
    The message gives both losses and the gap between training and validation accuracy.
    """
    val, train = series(epochs, "val_loss"), series(epochs, "loss")
    if len(val) < MIN_EPOCHS + 1 or not all(map(math.isfinite, val + train)):
        return None
    onset = min(range(len(val)), key=val.__getitem__)
    after = len(val) - 1 - onset
    if after < max(OVERFIT_EPOCHS, math.ceil(OVERFIT_SHARE * len(val))):
        return None
    val_end, train_end = _end(val), _end(train)
    if train_end >= OVERFIT_TRAIN_FALL * train[onset]:
        return None
    rise = val_end - val[onset]
    risen = rise > OVERFIT_RISE * val[onset] and rise > OVERFIT_RISE_ABS
    acc, val_acc = _end(series(epochs, "accuracy")), _end(series(epochs, "val_accuracy"))
    gapped = math.isfinite(acc) and math.isfinite(val_acc) and acc - val_acc >= OVERFIT_GAP
    if not (risen or gapped):
        return None
    # The message shows the last epoch's numbers, as the chart does.
    acc, val_acc = series(epochs, "accuracy")[-1], series(epochs, "val_accuracy")[-1]
    gap = (
        f" (at the end, training accuracy {acc:.1%} vs validation {val_acc:.1%})"
        if math.isfinite(acc) and math.isfinite(val_acc)
        else ""
    )
    went = (
        f"rose from {val[onset]:.3g} to {val[-1]:.3g}"
        if risen
        else f"stayed above its {val[onset]:.3g} (at {val[-1]:.3g})"
    )
    return _flag(
        "overfitting",
        epochs[onset],
        f"Overfitting from epoch {_shown(epochs[onset])}: over the next {after} epochs "
        f"validation loss {went} while training loss fell from {train[onset]:.3g} to "
        f"{train[-1]:.3g}{gap}.",
    )


def lr_too_high(epochs: Sequence[Epoch]) -> Flag | None:
    """Flag a run whose training loss exploded or spiked and that then learned little.

    Steps that overshoot throw the weights off: the first epoch's loss ends up ``BLOWUP``
    times the second's, or a later epoch's jumps to ``SPIKE`` times the one before, and the
    run does not recover. Raised only when training accuracy ends (mean of the last ``TAIL``
    epochs) below ``LEARNED``: a run that reached good accuracy is never told its rate is too
    high for a noisy epoch or two. Pinned to the explosion or the first spike.
    """
    losses, acc = series(epochs, "loss"), series(epochs, "accuracy")
    if len(losses) < MIN_EPOCHS or not all(map(math.isfinite, losses)) or min(losses) <= 0:
        return None
    if not math.isfinite(_end(acc)) or _end(acc) >= LEARNED:
        return None
    outcome = f"training accuracy ended at {acc[-1]:.1%}: the steps overshoot."
    if losses[0] >= BLOWUP * losses[1]:
        return _flag(
            "lr_too_high",
            epochs[0],
            f"The training loss exploded in epoch {_shown(epochs[0])} ({losses[0]:.3g}, "
            f"{_times(losses[0] / losses[1])} the next epoch's) and {outcome}",
        )
    spikes = [i for i in range(2, len(losses)) if losses[i] >= SPIKE * losses[i - 1]]
    if not spikes:
        return None
    i = spikes[0]
    return _flag(
        "lr_too_high",
        epochs[i],
        f"The training loss spiked in {len(spikes)} epoch{'s' if len(spikes) > 1 else ''} "
        f"(first in epoch {_shown(epochs[i])}, from {losses[i - 1]:.3g} to {losses[i]:.3g}) "
        f"and {outcome}",
    )


def lr_too_low(epochs: Sequence[Epoch]) -> Flag | None:
    """Flag a run whose loss barely moves: it learns, but far too slowly to get anywhere.

    Raised when training accuracy ends below ``LEARNED`` and both the training and the
    validation loss fell less than ``CRAWL`` (``CRAWL_VAL``) from the first epoch to the end
    (mean of the last ``TAIL`` epochs). Pinned to the last epoch.
    """
    losses, acc = series(epochs, "loss"), series(epochs, "accuracy")
    if len(losses) < MIN_EPOCHS or not all(map(math.isfinite, losses)) or losses[0] <= 0:
        return None
    if not math.isfinite(_end(acc)) or _end(acc) >= LEARNED:
        return None
    drop = (losses[0] - _end(losses)) / losses[0]
    val = series(epochs, "val_loss")
    val_drop = (val[0] - _end(val)) / val[0] if all(map(math.isfinite, val)) and val[0] > 0 else 0
    if drop >= CRAWL or val_drop >= CRAWL_VAL:
        return None
    last, fell = epochs[-1], max((losses[0] - losses[-1]) / losses[0], 0.0)
    return _flag(
        "lr_too_low",
        last,
        f"The training loss fell only {fell:.1%} in {len(losses)} epochs (by epoch "
        f"{_shown(last)}), with training accuracy at {acc[-1]:.1%}: the steps are too small.",
    )


def plateau(epochs: Sequence[Epoch]) -> Flag | None:
    """Flag a run that stopped improving early and trained on for nothing.

    The stall is the longest stretch at the end, at least ``PLATEAU_SHARE`` of the run and
    ``PLATEAU_EPOCHS`` epochs, in which neither the training loss (its mean over ``TAIL``
    epochs, as dropout and batch noise move it) nor the validation loss (when there is one)
    got ``PLATEAU_GAIN`` below its best before it, and each improved per epoch less than
    ``PLATEAU_SLOWDOWN`` of what it did before. A run that never learned is no plateau
    (that is a rate too low, or underfitting), nor one that improves as slowly as it always
    did (a fork continuing a run that had nearly converged). Pinned to the last epoch before
    the stall, which the message names.
    """
    train, val = series(epochs, "loss"), series(epochs, "val_loss")
    if not all(map(math.isfinite, train)):
        return None
    # In the stall, the training loss is judged by its mean over TAIL epochs: one lucky noisy
    # epoch is no progress.
    smooth = [statistics.fmean(train[max(0, i - TAIL + 1) : i + 1]) for i in range(len(train))]
    watched = [(train, smooth)] + ([(val, val)] if all(map(math.isfinite, val)) else [])
    least = max(PLATEAU_EPOCHS, math.ceil(PLATEAU_SHARE * len(train)))
    for stall in range(len(train) - 2, least - 1, -1):
        cut = len(train) - stall
        if all(_stalled(raw, later, cut) for raw, later in watched):
            break
    else:
        return None
    at = epochs[cut - 1]
    what = (
        "neither the training nor the validation loss"
        if len(watched) > 1
        else "the training loss never"
    )
    return _flag(
        "plateau",
        at,
        f"No real progress after epoch {_shown(at)}: in the last {stall} of {len(train)} "
        f"epochs {what} got {PLATEAU_GAIN:.0%} below its best before.",
    )


def underfitting(epochs: Sequence[Epoch]) -> Flag | None:
    """Flag a training accuracy that ends low (under ``LEARNED``) and no longer rises.

    No longer rises: over the last half of the run (at least ``MIN_EPOCHS`` epochs) the mean
    of its last ``TAIL`` epochs is less than ``FLAT`` above the mean of its first ``TAIL``
    (fewer in a short run, so the two do not overlap).
    Pinned to the last epoch.
    """
    acc = series(epochs, "accuracy")
    if len(acc) < 2 * MIN_EPOCHS or not all(map(math.isfinite, acc)):
        return None
    half = acc[len(acc) // 2 :]
    window = max(1, min(TAIL, len(half) // 2))  # the half's first and last epochs, apart
    end = statistics.fmean(half[-window:])
    if end >= LEARNED or end - statistics.fmean(half[:window]) >= FLAT:
        return None
    last = epochs[-1]
    return _flag(
        "underfitting",
        last,
        f"Training accuracy ended low ({acc[-1]:.1%} in epoch {_shown(last)}) and did not rise "
        f"over the last {len(half)} epochs: the model does not fit even the training data.",
    )


CHECKS: tuple[Callable[[Sequence[Epoch]], Flag | None], ...] = (
    diverged,
    overfitting,
    lr_too_high,
    lr_too_low,
    plateau,
    underfitting,
)
# Explanations of a run that learned little or stopped learning, most specific first: only the
# first that holds is given (a run whose first steps exploded also ends flat and low, but the
# rate, not the model, is what to change).
EXPLANATIONS = ("lr_too_high", "lr_too_low", "underfitting", "plateau")


def diagnose(epochs: Sequence[Epoch], per_execution: int | None = None) -> list[Flag]:
    """Run every check on a trial's epochs; a diverged run gets only that flag.

    Overfitting is judged on its own; of the other findings only the first of
    ``EXPLANATIONS`` that holds is given.

    Args:
        epochs: The trial's epochs in order (``Store.epochs``).
        per_execution: The epochs of one training (the config's ``epochs``). A search trial
            trained several times (keras-tuner's executions) stores them one after another,
            numbered on; each is judged on its own (see :func:`diagnose_executions`).

    Returns:
        The flags raised, in the order of ``CHECKS``.
    """
    runs = executions(epochs, per_execution)
    if len(runs) > 1:
        return diagnose_executions(runs)
    first = diverged(epochs)
    if first is not None:
        return [first]
    found = {flag.kind: flag for check in CHECKS[1:] if (flag := check(epochs)) is not None}
    explained = next((kind for kind in EXPLANATIONS if kind in found), None)
    keep = {"overfitting", explained}
    return [flag for kind, flag in found.items() if kind in keep]


def diagnose_trial(trial: Trial, epochs: Sequence[Epoch]) -> list[Flag]:
    """Diagnose a trial's epochs, each execution of a search trial on its own."""
    return diagnose(epochs, int(trial.config.get("epochs") or 0) or None)


def executions(epochs: Sequence[Epoch], per_execution: int | None) -> list[list[Epoch]]:
    """Split a trial's epochs into its executions: rows ``k * per_execution`` on are the k-th.

    A single run or a fork (whose epochs never reach ``per_execution``) is one execution.
    """
    if not per_execution or per_execution <= 0:
        return [list(epochs)] if epochs else []
    runs: dict[int, list[Epoch]] = {}
    for e in epochs:
        runs.setdefault(e.epoch // per_execution, []).append(e)
    return [runs[k] for k in sorted(runs)]


def diagnose_executions(runs: Sequence[Sequence[Epoch]]) -> list[Flag]:
    """Diagnose each execution of a search trial; keep what holds in at least half of them.

    Each finding is pinned where it first appears, its message prefixed with the execution.
    """
    found: dict[str, list[tuple[int, Flag]]] = {}
    for number, run in enumerate(runs):
        for flag in diagnose(run):
            found.setdefault(flag.kind, []).append((number, flag))
    flags = []
    for kind in (check.__name__ for check in CHECKS):
        if len(found.get(kind, ())) * 2 >= len(runs):
            number, flag = found[kind][0]
            where = f"In execution {number + 1} of {len(runs)}"
            flags.append(replace(flag, message=f"{where}: {flag.message}"))
    return flags


def diagnosis_badges(store: Store, trial_id: int) -> str:
    """Return a trial's flags as short labels for a table cell, e.g. ``LR too high``."""
    trial = store.trial(trial_id)
    return ", ".join(flag.label for flag in diagnose_trial(trial, store.epochs(trial_id)))


def _flag(kind: str, epoch: Epoch, message: str) -> Flag:
    return Flag(kind, epoch.epoch, message, ADVICE[kind])


def _shown(epoch: Epoch) -> int:
    """The epoch's number as people see it (1-based), also in a fork or a later execution."""
    return epoch.epoch + 1


def _times(ratio: float) -> str:
    """A ratio as people write it: ``2.1x``, ``78x``, ``over 1000x``."""
    if ratio >= 1000:
        return "over 1000x"
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def _end(values: Sequence[float]) -> float:
    """The mean of the last ``TAIL`` values (NaN if there are none)."""
    tail = values[-TAIL:]
    return statistics.fmean(tail) if tail else math.nan


def _stalled(values: Sequence[float], later: Sequence[float], cut: int) -> bool:
    """Whether a loss stalled from ``cut`` on (judged on ``later``, e.g. a smoothed copy).

    Stalled: it got less than ``PLATEAU_GAIN`` below its best before ``cut``, and its gain per
    epoch there is below ``PLATEAU_SLOWDOWN`` of its gain per epoch before.
    """
    best = min(values[:cut])
    if values[0] <= 0 or best <= 0:
        return False
    gain = (best - min(later[cut:])) / best
    earlier = (values[0] - best) / values[0] / max(cut - 1, 1)
    stall = len(values) - cut
    return (
        gain < PLATEAU_GAIN and earlier > 0 and max(gain, 0.0) / stall < PLATEAU_SLOWDOWN * earlier
    )


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
