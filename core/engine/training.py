"""Train one trial with Keras ``fit``, streaming its progress into the store.

A single run, a sweep member, a fold of a k-fold study, a fork and a promotion all train here,
through the same pieces a search trial uses (``core.engine.executor``): the training loop never
waits on SQLite for progress (batch progress goes into a ``TrialMonitor``, whose heartbeat
writes it a few times a second and brings back cancel requests), finished epochs are written at
once, so a killed worker loses at most the epoch it was in, and a checkpoint is kept per epoch.
This module imports TensorFlow; only worker processes use it.

Runs are reproducible: the same config trains to the same metrics, epoch for epoch.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.engine import checkpoints, devices, peak_memory, run_logs
from core.engine.executor import (
    EpochRecorder,
    best_epoch,
    compiled_model,
    dataset,
    load_data,
    save_results,
    standard_callbacks,
    steps_per_epoch,
)
from core.engine.monitor import TrialMonitor
from core.spec.config import ConfigError, RunConfig
from core.spec.plan import PROMOTE_KIND
from core.store import Status, Store, Trial, disk_space, paths
from core.store.checkpoint_files import checkpoint_dir
from core.store.disk_space import DiskFull
from core.store.errors import StoreError

EpochHook = Callable[[int, dict[str, float], float], None]


def run_trial(
    store: Store,
    trial: Trial,
    monitor: TrialMonitor,
    root: Path | None = None,
    on_epoch: EpochHook | None = None,
) -> Status:
    """Train, test and save one trial, recording everything in the store.

    Any error ends the trial as failed with a message and the traceback; nothing is raised,
    except a :class:`~core.store.errors.StoreError`: with no store to record in, the caller
    says why in one line and stops. A full disk also ends the trial as failed, with a message
    naming the folder and the space it needed, then raises
    :class:`~core.store.disk_space.DiskFull`: a command stops with that line, a worker goes
    on with its next trial.

    Args:
        store: The store the trial lives in.
        trial: The trial, already marked running.
        monitor: The trial's running monitor (heartbeat and cancel flag).
        root: The cache folder (datasets and artifacts); defaults to ``paths.cache_dir()``.
        on_epoch: Called after each finished epoch with (epoch, metrics, seconds).

    Returns:
        The status the trial ended with.

    Raises:
        StoreError: when the store cannot be used (nothing more is recorded).
        DiskFull: when the disk had no room for the trial's files (the trial is failed first).
    """
    root = root or paths.cache_dir()
    try:
        with devices.determinism_errors():
            return _train(store, trial, monitor, root, on_epoch)
    except StoreError:
        raise
    except ConfigError as exc:
        store.finish_trial(trial.id, Status.FAILED, error=exc.message)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the trial
        full = _disk_full(exc, trial, root)
        store.finish_trial(
            trial.id,
            Status.FAILED,
            error=_describe(exc, trial) if full is None else full.message,
            traceback=traceback.format_exc(),
        )
        if full is exc:
            raise
        if full is not None:
            raise full from exc
    return Status.FAILED


def fold_of(trial: Trial, config: RunConfig) -> int | None:
    """Return the fold a trial trains on: its number in a k-fold study, else None."""
    return trial.number if config.folds > 1 else None


def _train(
    store: Store, trial: Trial, monitor: TrialMonitor, root: Path, on_epoch: EpochHook | None
) -> Status:
    cfg = trial.run_config
    monitor.update(phase="loading data", epoch=0, epochs=cfg.epochs)
    peak_memory.reset()  # this run's peak, not the worker's earlier runs'
    # A promotion (core.handover.promote) trains on training and validation images together.
    promoted = store.study(trial.study_id).kind == PROMOTE_KIND
    splits, data_key = load_data(cfg, root, fold_of(trial, cfg), promoted)
    model = compiled_model(cfg, splits, root)
    steps = steps_per_epoch(cfg, splits)
    # A fork continues from its parent's checkpoint (core.engine.checkpoints); others start at 0.
    start = checkpoints.start_epoch(store, trial, model, len(splits.x_train), root)

    monitor.update(phase="training", batches=steps)
    recorder = EpochRecorder(
        lambda row, metrics, seconds: store.add_epoch(trial.id, row, metrics, seconds),
        monitor,
        cfg.epochs,
        steps,
        on_epoch=on_epoch,
    )
    history = model.fit(
        # Training reads epochs start..end from one dataset, each seeded by its number.
        dataset(cfg, splits, "train", span=(start, cfg.epochs)),
        epochs=cfg.epochs,
        initial_epoch=start,
        steps_per_epoch=steps,
        shuffle=False,  # the dataset shuffles itself, seeded
        validation_data=None if promoted else dataset(cfg, splits, "val"),
        callbacks=standard_callbacks(
            cfg, steps, recorder, checkpoint_dir(trial, root), run_logs.log_dir(trial, root)
        ),
        verbose=0,
    )
    if recorder.diverged_epoch is not None:
        store.finish_trial(
            trial.id,
            Status.DIVERGED,
            error=f"The loss became NaN or infinite in epoch {recorder.diverged_epoch + 1}; "
            "try a lower learning rate.",
            diverged_epoch=recorder.diverged_epoch,
        )
        return Status.DIVERGED
    if monitor.lost is not None:
        raise monitor.lost
    if monitor.cancelled.is_set():
        store.finish_trial(trial.id, Status.CANCELLED)
        return Status.CANCELLED

    monitor.update(phase="testing")
    store.check()  # the files below belong to this store: it must still be the one here
    folder = paths.runs_dir(root) / str(trial.study_id) / str(trial.id)
    results = save_results(
        model, cfg, splits, folder, data_key, study=trial.study_id, trial=trial.id
    )
    results["artifacts"]["logs"] = str(run_logs.log_dir(trial, root))
    epoch_seconds = [e.seconds for e in store.epochs(trial.id)]
    best = best_epoch(history.history, cfg.early_stopping_monitor)
    results.update(
        fold=fold_of(trial, cfg),
        seconds_per_epoch=float(np.mean(epoch_seconds)) if epoch_seconds else None,
        epochs_run=len(history.epoch),
        # Numbered from the run's start, also for a fork (its history begins at `start`).
        best_epoch=None if best is None else start + best,
        stopped_early=start + len(history.epoch) < cfg.epochs,
        peak_memory_mb=peak_memory.peak_mb(),
    )
    store.finish_trial(trial.id, Status.COMPLETED, results=results)
    return Status.COMPLETED


def _disk_full(exc: Exception, trial: Trial, root: Path) -> DiskFull | None:
    """The :class:`DiskFull` an error amounts to, or None when it is not about disk space.

    The trial's own saves raise it themselves (``core.store.disk_space.saving``); any other
    write that found the disk full (a dataset cache, a folder) names the file's folder when
    the error gives it, else the trial's run folder.
    """
    if isinstance(exc, DiskFull):
        return exc
    if not disk_space.is_no_space(exc):
        return None
    filename = getattr(exc, "filename", None)
    folder = (
        Path(filename).parent
        if filename
        else paths.runs_dir(root) / str(trial.study_id) / str(trial.id)
    )
    return disk_space.disk_full(folder, "files")


def _describe(exc: Exception, trial: Trial) -> str:
    """One line a person can act on, for an unexpected error."""
    name = type(exc).__name__
    if "ResourceExhausted" in name or isinstance(exc, MemoryError):
        batch = trial.config.get("batch_size")
        return f"Out of memory at batch size {batch}: try a smaller batch size or model."
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{name}: {first}" if first else name


__all__ = ["EpochHook", "TrialMonitor", "fold_of", "run_trial"]
