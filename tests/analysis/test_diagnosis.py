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


def test_lr_too_high_flags_an_explosion_that_leaves_the_run_at_chance() -> None:
    epochs = curves(
        loss=[186.0, 2.38, 2.48, 2.32, 2.35, 2.33], accuracy=[0.16, 0.11, 0.12, 0.1, 0.1, 0.09]
    )
    flag = diagnose.lr_too_high(epochs)
    assert flag is not None and flag.kind == "lr_too_high" and flag.epoch == 0
    assert "exploded in epoch 1 (186, 78x" in flag.message and "ended at 9.0%" in flag.message
    assert "Lower the learning rate" in flag.advice
    assert [f.kind for f in diagnose.diagnose(epochs)] == ["lr_too_high"]  # not underfitting


def test_lr_too_high_flags_spikes_in_a_run_that_learned_little() -> None:
    epochs = curves(
        loss=[2.3, 2.0, 1.8, 3.2, 1.9, 1.7, 2.9], accuracy=[0.2, 0.3, 0.35, 0.3, 0.38, 0.4, 0.35]
    )
    flag = diagnose.lr_too_high(epochs)
    assert flag is not None and flag.epoch == 3
    assert "spiked in 2 epochs (first in epoch 4, from 1.8 to 3.2)" in flag.message


def test_lr_too_high_spares_a_noisy_run_that_reached_good_accuracy() -> None:
    # A default run at 98%: its tiny training loss jumps by a third twice. That is noise.
    epochs = curves(
        loss=[1.02, 0.23, 0.0993, 0.0576, 0.0423, 0.0057, 0.0073, 0.0054, 0.0028, 0.0032],
        accuracy=[0.69, 0.93, 0.976, 0.986, 0.992, 0.999, 1.0, 1.0, 1.0, 1.0],
    )
    assert diagnose.lr_too_high(epochs) is None
    assert diagnose.lr_too_high(HEALTHY) is None


def test_lr_too_low_flags_a_loss_that_barely_moves() -> None:
    flag = diagnose.lr_too_low(curves(loss=[2.30, 2.29, 2.28, 2.27], accuracy=[0.1] * 4))
    assert flag is not None and flag.epoch == 3
    assert "fell only 1.3% in 4 epochs (by epoch 4)" in flag.message
    assert "Raise the learning rate" in flag.advice
    assert diagnose.lr_too_low(HEALTHY) is None
    # Flat because there is nothing left to learn is fine.
    assert diagnose.lr_too_low(curves(loss=[0.02] * 4, accuracy=[0.99] * 4)) is None


def test_plateau_names_the_epoch_after_which_nothing_improved() -> None:
    # The rate was cut to nearly nothing after epoch 3; the run went on for 9 more.
    loss = [2.1, 1.6, 1.15, 0.96, 0.96, 0.95, 0.95, 0.95, 0.94, 0.95, 0.95, 0.95]
    val = [1.8, 1.3, 0.93, 0.931, 0.928, 0.925, 0.925, 0.925, 0.925, 0.925, 0.925, 0.925]
    flag = diagnose.plateau(curves(loss=loss, val_loss=val))
    assert flag is not None and flag.epoch == 3
    assert "after epoch 4: in the last 8 of 12 epochs" in flag.message
    assert diagnose.plateau(HEALTHY) is None


def test_plateau_spares_a_run_still_improving_as_it_always_did() -> None:
    # A fork at a lower rate: slow, steady gains all along, never a stall.
    val = [0.235 - 0.002 * i for i in range(15)]
    loss = [0.26, 0.264, 0.249, 0.261, 0.25, 0.241, 0.247, 0.254, 0.242, 0.239] + [0.236] * 5
    assert diagnose.plateau(curves(loss=loss, val_loss=val)) is None


def test_underfitting_flags_low_flat_training_accuracy() -> None:
    epochs = curves(
        loss=[2.0, 1.8, 1.75, 1.74, 1.74, 1.73],
        accuracy=[0.3, 0.4, 0.41, 0.41, 0.42, 0.42],
    )
    flag = diagnose.underfitting(epochs)
    assert flag is not None and flag.epoch == 5 and "42.0% in epoch 6" in flag.message
    assert diagnose.underfitting(HEALTHY) is None
    # Low but still climbing: give it time.
    climbing = curves(accuracy=[0.2, 0.3, 0.4, 0.45, 0.5, 0.58])
    assert diagnose.underfitting(climbing) is None


def test_messages_name_the_stored_epochs_of_a_fork() -> None:
    # A fork's epochs start after the epoch it was forked from (here after epoch 10).
    fork = [
        Epoch(2, 10 + e.epoch, e.metrics, 1.0, 0.0)
        for e in curves(
            loss=[9.0, 2.3, 2.31, 2.3, 2.32, 2.3], accuracy=[0.1, 0.1, 0.11, 0.1, 0.1, 0.1]
        )
    ]
    flag = diagnose.lr_too_high(fork)
    assert flag is not None and flag.epoch == 10 and "in epoch 11" in flag.message


def test_each_execution_of_a_search_trial_is_judged_on_its_own() -> None:
    # Two executions of 6 epochs: the second restarts from fresh weights at row 6. Read as one
    # run, the restart is an explosion; each on its own is healthy.
    rows = [Epoch(1, i, e.metrics, 1.0, 0.0) for i, e in enumerate(HEALTHY + HEALTHY)]
    assert diagnose.diagnose(rows, per_execution=6) == []
    assert [len(run) for run in diagnose.executions(rows, 6)] == [6, 6]
    assert diagnose.executions(rows, None) == [rows]


def test_a_finding_of_most_executions_names_the_execution() -> None:
    stuck = curves(
        loss=[186.0, 2.38, 2.48, 2.32, 2.35, 2.33], accuracy=[0.16, 0.11, 0.12, 0.1, 0.1, 0.09]
    )
    rows = [Epoch(1, i, e.metrics, 1.0, 0.0) for i, e in enumerate(HEALTHY + stuck)]
    (flag,) = diagnose.diagnose(rows, per_execution=6)
    assert flag.kind == "lr_too_high" and flag.epoch == 6
    assert flag.message.startswith("In execution 2 of 2: ") and "in epoch 7" in flag.message
    three = [Epoch(1, i, e.metrics, 1.0, 0.0) for i, e in enumerate(HEALTHY + stuck + HEALTHY)]
    assert diagnose.diagnose(three, per_execution=6) == []  # one of three is no pattern


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
