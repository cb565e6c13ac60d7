"""Train one trial with Keras ``fit``, streaming its progress into the store.

The training loop never waits on SQLite for progress: batch-level progress goes into a
``TrialMonitor``, whose background thread writes it (with a heartbeat) a few times a second
and brings back cancel requests. Finished epochs are written at once, so a killed worker loses
at most the epoch it was in. This module imports TensorFlow; only worker processes use it.

Data comes from ``core.engine.pipeline`` (``tf.data``), everything about optimization from
``core.engine.optim`` and ``core.engine.schedules``, and a k-fold trial's split from
``core.engine.folds``. Runs are reproducible: the same config trains to the same metrics, epoch for
epoch.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from core.data import fingerprint
from core.engine import checkpoints, memory_guard, optim, peak_memory, run_logs
from core.engine.datasets import Splits, load_splits, merge_validation
from core.engine.evaluation import evaluate_classes, misclassified_grid
from core.engine.folds import load_fold
from core.engine.models import build_model, summary_rows
from core.engine.pipeline import make_dataset
from core.engine.schedules import current_learning_rate
from core.spec.config import ConfigError, RunConfig
from core.spec.plan import PROMOTE_KIND
from core.store import Status, Store, Trial, paths

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
        metrics["learning_rate"] = current_learning_rate(self.model.optimizer)
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


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow ops deterministic.

    Together with the seeded pipeline this makes a run repeat exactly: same initial weights,
    batches, augmentations and dropout masks, hence the same metrics. Op determinism stays on
    for the rest of the process (TensorFlow has no public way back); on a 2-core CPU it cost a
    few per cent of training speed in ``benchmarks/augmentation.py``.

    Args:
        seed: The run's seed.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def fold_of(trial: Trial, config: RunConfig) -> int | None:
    """Return the fold a trial trains on: its number in a k-fold study, else None."""
    return trial.number if config.folds > 1 else None


def _load(cfg: RunConfig, fold: int | None, root: Path) -> Splits:
    if fold is None:
        return load_splits(cfg.dataset, cfg.validation_split, cfg.seed, root, cfg.img_size)
    return load_fold(cfg, fold, root)


def _train(
    store: Store, trial: Trial, monitor: TrialMonitor, root: Path, on_epoch: EpochHook | None
) -> Status:
    cfg = trial.run_config
    fold = fold_of(trial, cfg)
    monitor.update(phase="loading data", epoch=0, epochs=cfg.epochs)
    peak_memory.reset()  # this run's peak, not the worker's earlier runs'
    splits = _load(cfg, fold, root)
    data_key = (cfg.dataset, cfg.validation_split, cfg.seed, cfg.img_size, fold)
    promoted = store.study(trial.study_id).kind == PROMOTE_KIND
    if promoted:  # the final model (core.handover.promote): validation images join training
        splits, data_key = merge_validation(splits), (*data_key, "promoted")
    make_deterministic(cfg.seed)
    classes = splits.num_classes
    model = build_model(cfg, splits.input_shape, classes, x_sample=splits.x_train, root=root)
    steps = math.ceil(len(splits.x_train) / cfg.batch_size)
    optim.compile_model(model, cfg, steps, classes)
    memory_guard.check_step_fits(model, cfg.batch_size)  # fail clearly, not by a killed worker
    # A fork continues from its parent's checkpoint (core.engine.checkpoints); others start at 0.
    start = checkpoints.start_epoch(store, trial, model, len(splits.x_train), root)

    def data(x: np.ndarray, y: np.ndarray, training: bool, batch: int) -> Any:
        labels = optim.prepare_labels(y, cfg, classes)
        # Training reads epochs start..end from one dataset, each seeded by its number.
        span = (start, cfg.epochs) if training else None
        return make_dataset(x, labels, batch, cfg.seed, cfg.augment, training, span)

    monitor.update(phase="training", batches=steps)
    callback = StoreCallback(store, monitor, cfg.epochs, steps, on_epoch or _ignore)
    history = model.fit(
        data(splits.x_train, splits.y_train, True, cfg.batch_size),
        epochs=cfg.epochs,
        initial_epoch=start,
        steps_per_epoch=steps,
        shuffle=False,  # the dataset shuffles itself, seeded
        validation_data=None
        if promoted
        else data(splits.x_val, splits.y_val, False, cfg.batch_size),
        # The store callback comes first so it records each epoch's rate before a plateau
        # callback cuts it.
        callbacks=[
            callback,
            *optim.callbacks(cfg, steps),
            run_logs.tensorboard_callback(trial, root),  # TensorBoard, per epoch
            checkpoints.callback(trial, root),
        ],
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
        data(splits.x_test, splits.y_test, False, 256), verbose=0, return_dict=True
    )
    monitor.update(phase="saving")
    folder = paths.runs_dir(root) / str(trial.study_id) / str(trial.id)
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = {
        "model": str(folder / "model.keras"),
        "weights": str(folder / "model.weights.h5"),
        "config": str(folder / "config.json"),
        "logs": str(folder / "logs"),
    }
    # --- Per-class evaluation: one predict pass over the test set (core.engine.evaluation). ---
    probs = model.predict(data(splits.x_test, splits.y_test, False, 256), verbose=0)
    class_result = evaluate_classes(splits.y_test, probs, splits.class_names)
    grid_path = folder / "misclassified.png"
    drawn = misclassified_grid(
        splits.x_test, splits.y_test, probs.argmax(axis=1), splits.class_names, grid_path
    )
    if drawn:
        artifacts["misclassified"] = str(grid_path)
    # --- End of per-class evaluation. ---
    optim.compile_for_export(model, cfg, classes)
    model.save(artifacts["model"])
    model.save_weights(artifacts["weights"])
    origin = fingerprint.provenance(
        cfg, fingerprint.data_fingerprint(splits, data_key), study=trial.study_id, trial=trial.id
    )
    Path(artifacts["config"]).write_text(fingerprint.config_document(cfg, origin))
    epoch_seconds = [e.seconds for e in store.epochs(trial.id)]
    best = _best_epoch(history.history, cfg.early_stopping_monitor)
    results = {
        "test_loss": float(scores["loss"]),
        "test_accuracy": float(scores["accuracy"]),
        **{f"test_{name}": float(scores[name]) for name in ("f1", "top5") if name in scores},
        "fold": fold,
        "seconds_per_epoch": float(np.mean(epoch_seconds)) if epoch_seconds else None,
        "epochs_run": len(history.epoch),
        # Numbered from the run's start, also for a fork (its history begins at `start`).
        "best_epoch": None if best is None else start + best,
        "stopped_early": start + len(history.epoch) < cfg.epochs,
        "params": int(model.count_params()),
        "peak_memory_mb": peak_memory.peak_mb(),
        "summary": summary_rows(model),
        "sizes": {
            "train": len(splits.x_train),
            "validation": len(splits.x_val),
            "test": len(splits.x_test),
        },
        "class_names": list(splits.class_names),
        "input_shape": list(splits.input_shape),
        "classes": class_result,
        "artifacts": artifacts,
    }
    store.finish_trial(trial.id, Status.COMPLETED, results=results)
    return Status.COMPLETED


def _best_epoch(history: dict[str, list[float]], monitor: str) -> int | None:
    """The epoch early stopping judges best: lowest loss or highest accuracy of ``monitor``."""
    values = history.get(monitor, [])
    if not values:
        return None
    return int(np.nanargmax(values) if "accuracy" in monitor else np.nanargmin(values))


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
