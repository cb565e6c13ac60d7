"""Promote a finished run: train its config again on train + validation, for its best epochs.

Once a run's settings are chosen, its validation images have done their job; training again on
them as well gives the final model more data. The promoted run trains the same config for the
number of epochs the source run judged best (``results["best_epoch"] + 1``, by its
``early_stopping_monitor``), with no validation and no early stopping, then is tested on the
same test set. It goes through the worker like any run: a study of kind ``promote`` holding one
trial linked to its source by ``parent_id``; the study's spec names the source.

Nothing here imports TensorFlow (the pages call :func:`queue_promotion`); ``core.engine.training``
checks the study kind, ``PROMOTE_KIND``, and calls
``core.engine.loading.datasets.merge_validation``.
"""

from __future__ import annotations

from core.data.checks import check_config
from core.data.names import run_title
from core.spec.config import ConfigError, RunConfig
from core.spec.plan import PROMOTE_KIND
from core.store import Status, Store, Trial


class PromoteError(ValueError):
    """A run that cannot be promoted; the message says why and what to do."""


def promoted_epochs(trial: Trial) -> int:
    """Return how many epochs a promotion of ``trial`` trains: its best epoch count.

    The best epoch (0-based, by the run's ``early_stopping_monitor``; for a search trial, the
    step keras-tuner scored best) plus one, at most the config's epochs; a run that recorded
    neither gives the epochs it ran (one execution's, for a search trial).

    Raises:
        PromoteError: if the run has not completed.
    """
    if trial.status != Status.COMPLETED:
        raise PromoteError(
            f"run {trial.id} is {trial.status}; only a completed run can be promoted."
        )
    epochs = int(trial.config.get("epochs") or 1)
    best = trial.results.get("best_epoch", trial.results.get("best_step"))
    if best is not None:
        return min(int(best) + 1, epochs)
    return min(int(trial.results.get("epochs_run") or epochs), epochs)


def promoted_config(trial: Trial) -> RunConfig:
    """Return the config a promotion of ``trial`` trains: its own, for its best epoch count.

    Early stopping is off (there is no validation split left to watch); everything else,
    seed included, is the source run's.

    Raises:
        PromoteError: if the run has not completed, is a fold of a cross-validation (whose
            validation images are a fold, not a held-out share), was best before its warm-up
            ended (a run must outlast its warm-up), or its dataset cannot be read here any
            more (a promotion trains on it again).
    """
    epochs = promoted_epochs(trial)
    config = trial.run_config
    if config.folds > 1:
        raise PromoteError(
            f"run {trial.id} is one fold of a {config.folds}-fold cross-validation; "
            "promote a single run with the same settings instead."
        )
    try:
        config = check_config(config)
    except ConfigError as exc:
        raise PromoteError(
            f"it trains on run {trial.id}'s dataset again, but {exc.message}"
        ) from None
    if config.warmup_epochs >= epochs:
        raise PromoteError(
            f"run {trial.id} was best after {epochs} epoch(s), inside its "
            f"{config.warmup_epochs}-epoch warm-up; fork it with a shorter warm-up and "
            "promote the fork."
        )
    return config.replace(epochs=epochs, early_stopping_patience=0)


def queue_promotion(store: Store, trial_id: int) -> tuple[int, int]:
    """Queue the promotion of a completed run; the worker trains it like any run.

    Args:
        store: The store holding the run.
        trial_id: The run to promote.

    Returns:
        The new study's id and its trial's id.

    Raises:
        KeyError: if there is no such run.
        PromoteError: if the run cannot be promoted (see :func:`promoted_config`).
    """
    source = store.trial(trial_id)
    config = promoted_config(source)
    name = f"{run_title(source.config)} · run {trial_id} promoted"
    spec = {"source": trial_id, "epochs": config.epochs}
    study_id, (new_id,) = store.create_study(name, PROMOTE_KIND, [config], spec=spec)
    store.set_parent(new_id, trial_id)
    return study_id, new_id


def is_promotion(store: Store, trial: Trial) -> bool:
    """Return whether a trial is a promotion (trains on train + validation)."""
    return store.study(trial.study_id).kind == PROMOTE_KIND


def promotions_of(store: Store, trial_id: int) -> list[Trial]:
    """Return the promotions of a run, newest first."""
    return [t for t in store.trials(parent_id=trial_id) if is_promotion(store, t)]
