"""Train one trial with Keras ``fit``, streaming its progress into the store.

The training loop never waits on SQLite for progress: batch-level progress goes into a
``TrialMonitor``, whose background thread writes it (with a heartbeat) a few times a second
and brings back cancel requests. Finished epochs are written at once, so a killed worker loses
at most the epoch it was in. This module imports TensorFlow; only worker processes use it.
"""

from __future__ import annotations

import json
import math
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from core import paths
from core.config import ConfigError
from core.datasets import load_splits
from core.models import build_model, compile_model, prepare_labels, summary_rows
from core.store import Status, Store, Trial

EpochHook = Callable[[int, dict[str, float], float], None]


class TrialMonitor:
    """Carries progress from the training loop to the store, and cancel requests back.

    Use as a context manager: a daemon thread writes the latest progress and a heartbeat every
    ``interval`` seconds and sets ``cancelled`` when someone asked to stop the trial.
    """

    def __init__(self, store: Store, trial_id: int, interval: float = 0.5) -> None:
        self.store = store
        self.trial_id = trial_id
        self.interval = interval
        self.cancelled = threading.Event()
        self._progress: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def update(self, **fields: Any) -> None:
        """Merge fields into the progress the next heartbeat will write."""
        with self._lock:
            self._progress.update(fields)

    def beat(self) -> None:
        """Write progress and heartbeat now; note a cancel request if there is one."""
        with self._lock:
            progress = dict(self._progress)
        if self.store.heartbeat(self.trial_id, progress):
            self.cancelled.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a busy store must not kill the heartbeat
                continue

    def __enter__(self) -> TrialMonitor:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class StoreCallback(keras.callbacks.Callback):
    """Writes each finished epoch to the store, reports batch progress, honours cancel."""

    # Only touches a lock-protected dict and an Event, so Keras may call the batch hook from
    # its callback thread without syncing the training loop every batch.
    async_safe = True

    def __init__(
        self, store: Store, monitor: TrialMonitor, epochs: int, steps: int, on_epoch: EpochHook
    ) -> None:
        super().__init__()
        self.store = store
        self.monitor = monitor
        self.epochs = epochs
        self.steps = steps
        self.on_epoch = on_epoch
        self.diverged_epoch: int | None = None
        self._train_start = 0.0
        self._epoch_start = 0.0
        self._epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._train_start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._epoch_start = time.perf_counter()
        self.monitor.update(phase="training", epoch=epoch + 1, batch=0)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        done = self._epoch * self.steps + batch + 1
        elapsed = time.perf_counter() - self._train_start
        eta = elapsed / done * (self.epochs * self.steps - done)
        self.monitor.update(batch=batch + 1, eta_s=round(eta, 1))
        if self.monitor.cancelled.is_set():
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self._epoch_start
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        metrics["learning_rate"] = float(self.model.optimizer.learning_rate)
        if not all(math.isfinite(v) for v in metrics.values()):
            self.diverged_epoch = epoch
            self.model.stop_training = True
            metrics = {k: (v if math.isfinite(v) else float("nan")) for k, v in metrics.items()}
        self.store.add_epoch(self.monitor.trial_id, epoch, metrics, seconds)
        self.on_epoch(epoch, metrics, seconds)
        if self.monitor.cancelled.is_set():
            self.model.stop_training = True


def run_trial(
    store: Store,
    trial: Trial,
    monitor: TrialMonitor,
    root: Path | None = None,
    on_epoch: EpochHook | None = None,
) -> Status:
    """Train, test and save one trial, recording everything in the store.

    Any error ends the trial as failed with a message and the traceback; nothing is raised.

    Args:
        store: The store the trial lives in.
        trial: The trial, already marked running.
        monitor: The trial's running monitor (heartbeat and cancel flag).
        root: The cache folder (datasets and artifacts); defaults to ``paths.cache_dir()``.
        on_epoch: Called after each finished epoch with (epoch, metrics, seconds).

    Returns:
        The status the trial ended with.
    """
    try:
        return _train(store, trial, monitor, root or paths.cache_dir(), on_epoch)
    except ConfigError as exc:
        store.finish_trial(trial.id, Status.FAILED, error=exc.message)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the trial
        store.finish_trial(
            trial.id,
            Status.FAILED,
            error=_describe(exc, trial),
            traceback=traceback.format_exc(),
        )
    return Status.FAILED


def _train(
    store: Store, trial: Trial, monitor: TrialMonitor, root: Path, on_epoch: EpochHook | None
) -> Status:
    cfg = trial.run_config
    monitor.update(phase="loading data", epoch=0, epochs=cfg.epochs)
    splits = load_splits(cfg.dataset, cfg.validation_split, cfg.seed, root)
    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg, splits.input_shape, splits.num_classes)
    compile_model(model, cfg)
    steps = math.ceil(len(splits.x_train) / cfg.batch_size)
    monitor.update(phase="training", batches=steps)
    callback = StoreCallback(store, monitor, cfg.epochs, steps, on_epoch or _ignore)
    callbacks: list[keras.callbacks.Callback] = [callback]
    if cfg.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=cfg.early_stopping_patience, restore_best_weights=True
            )
        )
    labels = lambda y: prepare_labels(y, cfg, splits.num_classes)  # noqa: E731
    history = model.fit(
        splits.x_train,
        labels(splits.y_train),
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        validation_data=(splits.x_val, labels(splits.y_val)),
        callbacks=callbacks,
        verbose=0,
    )
    if callback.diverged_epoch is not None:
        store.finish_trial(
            trial.id,
            Status.DIVERGED,
            error=f"The loss became NaN or infinite in epoch {callback.diverged_epoch + 1}; "
            "try a lower learning rate.",
            diverged_epoch=callback.diverged_epoch,
        )
        return Status.DIVERGED
    if monitor.cancelled.is_set():
        store.finish_trial(trial.id, Status.CANCELLED)
        return Status.CANCELLED

    monitor.update(phase="testing")
    scores = model.evaluate(
        splits.x_test, labels(splits.y_test), batch_size=256, verbose=0, return_dict=True
    )
    monitor.update(phase="saving")
    folder = paths.runs_dir(root) / str(trial.study_id) / str(trial.id)
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = {
        "model": str(folder / "model.keras"),
        "weights": str(folder / "model.weights.h5"),
        "config": str(folder / "config.json"),
    }
    model.save(artifacts["model"])
    model.save_weights(artifacts["weights"])
    Path(artifacts["config"]).write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True))
    epoch_seconds = [e.seconds for e in store.epochs(trial.id)]
    val_loss = history.history.get("val_loss", [])
    results = {
        "test_loss": float(scores["loss"]),
        "test_accuracy": float(scores["accuracy"]),
        "seconds_per_epoch": float(np.mean(epoch_seconds)) if epoch_seconds else None,
        "epochs_run": len(history.epoch),
        "best_epoch": int(np.nanargmin(val_loss)) if val_loss else None,
        "stopped_early": len(history.epoch) < cfg.epochs,
        "params": int(model.count_params()),
        "summary": summary_rows(model),
        "sizes": {
            "train": len(splits.x_train),
            "validation": len(splits.x_val),
            "test": len(splits.x_test),
        },
        "class_names": list(splits.class_names),
        "artifacts": artifacts,
    }
    store.finish_trial(trial.id, Status.COMPLETED, results=results)
    return Status.COMPLETED


def _describe(exc: Exception, trial: Trial) -> str:
    """One line a person can act on, for an unexpected error."""
    name = type(exc).__name__
    if "ResourceExhausted" in name or isinstance(exc, MemoryError):
        batch = trial.config.get("batch_size")
        return f"Out of memory at batch size {batch}: try a smaller batch size or model."
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{name}: {first}" if first else name


def _ignore(*_: Any) -> None:
    return None
