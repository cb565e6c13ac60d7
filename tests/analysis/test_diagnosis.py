"""Diagnosis on constructed curves: each check flags the curves it must and spares the rest."""

from __future__ import annotations

import math

import pytest

from core.analysis import diagnosis as diagnose
from core.analysis.diagnosis import Flag
from core.spec.config import RunConfig
from core.store import Epoch, Status, Trial


def curves(**metrics: list[float]) -> list[Epoch]:
    """Epochs 0..n-1 with the given per-epoch metric lists."""
    count = len(next(iter(metrics.values())))
    return [
        Epoch(1, i, {name: values[i] for name, values in metrics.items()}, 1.0, 0.0)
        for i in range(count)
    ]


HEALTHY = curves(
    loss=[1.2, 0.8, 0.55, 0.42, 0.35, 0.31],
    val_loss=[1.1, 0.8, 0.6, 0.5, 0.45, 0.43],
    accuracy=[0.6, 0.75, 0.83, 0.88, 0.9, 0.92],
    val_accuracy=[0.62, 0.74, 0.81, 0.85, 0.87, 0.88],
)


def kinds(flags: list[Flag]) -> list[str]:
    return [f.kind for f in flags]


def test_healthy_curves_raise_no_flag() -> None:
    assert diagnose.diagnose(HEALTHY) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, 250.0])
def test_diverged_flags_nan_infinite_or_exploding_loss_at_its_epoch(bad: float) -> None:
    flag = diagnose.diverged(curves(loss=[2.3, 1.9, 1.6, bad, 1.0]))
    assert flag is not None and flag.epoch == 3 and "epoch 4" in flag.message
    assert "Lower the learning rate" in flag.advice


def test_diverged_spares_a_loss_that_only_wobbles() -> None:
    assert diagnose.diverged(curves(loss=[2.3, 1.9, 2.4, 1.6, 1.5])) is None


def test_a_diverged_run_gets_only_that_flag() -> None:
    assert kinds(diagnose.diagnose(curves(loss=[2.3, 9.0, math.nan, math.nan]))) == ["diverged"]


def test_overfitting_names_the_onset_epoch_and_the_gap() -> None:
    epochs = curves(
        loss=[1.0, 0.6, 0.4, 0.25, 0.15, 0.08],
        val_loss=[1.0, 0.7, 0.55, 0.6, 0.7, 0.85],
        accuracy=[0.7, 0.8, 0.88, 0.93, 0.97, 0.99],
        val_accuracy=[0.7, 0.78, 0.83, 0.82, 0.81, 0.8],
    )
    flag = diagnose.overfitting(epochs)
    assert flag is not None and flag.epoch == 2
    assert "from epoch 3" in flag.message and "99.0% vs validation 80.0%" in flag.message
    assert "dropout" in flag.advice and "early stopping" in flag.advice


def test_overfitting_spares_validation_loss_that_only_ticks_up_once() -> None:
    epochs = curves(loss=[1.0, 0.6, 0.4, 0.3, 0.25], val_loss=[1.0, 0.7, 0.55, 0.56, 0.5])
    assert diagnose.overfitting(epochs) is None
    assert diagnose.overfitting(HEALTHY) is None
    # Noise around a low minimum is no trend.
    noisy = curves(
        loss=[0.5, 0.1, 0.05, 0.03, 0.02, 0.01], val_loss=[0.4, 0.07, 0.06, 0.062, 0.064, 0.065]
    )
    assert diagnose.overfitting(noisy) is None


def test_lr_too_high_flags_an_oscillating_training_loss() -> None:
    flag = diagnose.lr_too_high(curves(loss=[2.0, 1.4, 1.9, 1.2, 1.7, 1.1]))
    assert flag is not None and flag.kind == "lr_too_high" and flag.epoch == 2
    assert diagnose.lr_too_high(HEALTHY) is None
    # One bump is noise, not a pattern.
    assert diagnose.lr_too_high(curves(loss=[2.0, 1.4, 1.6, 1.2, 1.0])) is None


def test_lr_too_low_flags_a_loss_that_barely_moves() -> None:
    flag = diagnose.lr_too_low(curves(loss=[2.30, 2.29, 2.28, 2.27], accuracy=[0.1] * 4))
    assert flag is not None and "fell only 1.3% in 4 epochs" in flag.message
    assert "Raise the learning rate" in flag.advice
    assert diagnose.lr_too_low(HEALTHY) is None
    # Flat because there is nothing left to learn is fine.
    assert diagnose.lr_too_low(curves(loss=[0.02] * 4, accuracy=[0.99] * 4)) is None


def test_plateau_marks_where_early_stopping_would_have_stopped() -> None:
    epochs = curves(
        loss=[1.0, 0.7, 0.6, 0.58, 0.57, 0.57, 0.56], val_loss=[1, 0.7, 0.6, 0.61, 0.6, 0.62, 0.63]
    )
    flag = diagnose.plateau(epochs, patience=3)
    assert flag is not None and flag.epoch == 5  # best at epoch 2 (0-based), + 3
    assert "after epoch 3" in flag.message and "last 4 epochs" in flag.message
    assert diagnose.plateau(HEALTHY) is None


def test_underfitting_flags_low_flat_training_accuracy() -> None:
    epochs = curves(loss=[2.0, 1.8, 1.75, 1.74, 1.74], accuracy=[0.3, 0.4, 0.41, 0.41, 0.42])
    flag = diagnose.underfitting(epochs)
    assert flag is not None and flag.epoch == 4 and "42.0%" in flag.message
    assert diagnose.underfitting(HEALTHY) is None
    # Low but still climbing: give it time.
    assert diagnose.underfitting(curves(accuracy=[0.2, 0.3, 0.4, 0.5, 0.58])) is None


def _trial(number: int, status: Status, **config: object) -> Trial:
    cfg = RunConfig(**config).to_dict()
    return Trial(
        number,
        1,
        number,
        cfg,
        "h",
        status,
        0.0,
        0.0,
        1.0,
        None,
        None,
        False,
        {},
        {},
        None,
        None,
        None,
        None,
        None,
    )


def test_failure_clusters_finds_the_learning_rates_that_diverged() -> None:
    rates = [1e-4, 3e-4, 1e-3, 1e-2, 1e-2, 3e-2, 1e-1, 1e-1]
    statuses = [Status.COMPLETED] * 3 + [Status.DIVERGED, Status.COMPLETED] + [Status.DIVERGED] * 3
    batches = [32, 32, 64, 32, 64, 64, 32, 64]  # two of each size diverged
    trials = [
        _trial(i, s, learning_rate=r, batch_size=b)
        for i, (r, s, b) in enumerate(zip(rates, statuses, batches, strict=True))
    ]
    clusters = diagnose.failure_clusters(trials)
    assert clusters[0].sentence == "4 of 5 trials with learning_rate ≥ 0.01 diverged"
    assert all(c.key != "batch_size" for c in clusters)  # failures spread evenly there


def test_failure_clusters_is_empty_without_failures_or_pattern() -> None:
    fine = [_trial(i, Status.COMPLETED, learning_rate=10.0**-i) for i in range(1, 5)]
    assert diagnose.failure_clusters(fine) == []
    spread = [
        _trial(i, Status.DIVERGED if i % 2 else Status.COMPLETED, learning_rate=10.0**-i)
        for i in range(1, 7)
    ]
    assert diagnose.failure_clusters(spread) == []
