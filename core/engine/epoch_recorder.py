"""The one epoch writer of every trial: finished epochs to a sink, batch progress, cancel.

Every trial trains with it (``core.engine.executor.standard_callbacks``): a single run writes
its epochs into the store, a search trial reports them to its chief as well.
This module imports TensorFlow; only worker processes use it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras

from core.engine.monitor import TrialMonitor
from core.engine.schedules import current_learning_rate
from core.engine.time_left import time_left

# Called with (epoch row, metrics, seconds) for each finished epoch.
EpochSink = Callable[[int, dict[str, float], float], None]


class EpochRecorder(keras.callbacks.Callback):
    """The one epoch writer: each finished epoch's metrics to a sink, batch progress, cancel.

    Metrics are the epoch's logs as floats plus the optimizer's ``learning_rate``. An epoch
    whose metrics are not all finite marks the trial diverged (``diverged_epoch``) and stops
    it. Epoch rows are numbered from ``offset`` (an execution of a search trial after the
    first, see ``core.engine.search.tuner``).

    Args:
        sink: Where each epoch goes: ``store.add_epoch`` for the trial, or a report to a
            search's chief.
        monitor: Batch progress and the cancel flag (None: nothing reported, no cancel).
        epochs: Epochs the fit runs to, for the time left.
        steps: Batches per epoch.
        offset: The row number of epoch 0.
        on_epoch: Also called with each epoch's (epoch, metrics, seconds).
    """

    # Only touches a lock-protected dict and an Event in the batch hook, so Keras may call it
    # from its callback thread without syncing the training loop every batch.
    async_safe = True

    def __init__(
        self,
        sink: EpochSink,
        monitor: TrialMonitor | None,
        epochs: int,
        steps: int,
        offset: int = 0,
        on_epoch: Callable[[int, dict[str, float], float], None] | None = None,
    ) -> None:
        super().__init__()
        self.sink = sink
        self.monitor = monitor
        self.epochs = epochs
        self.steps = steps
        self.offset = offset
        self.on_epoch = on_epoch
        self.diverged_epoch: int | None = None
        self._epoch_start = 0.0
        self._epoch = 0
        self._whole_epochs: list[float] = []  # this run's finished epochs, start to start
        self._first_batch_end: float | None = None
        self._batches = 0  # batches this run has trained, across its epochs
        self._at_first_end = 0  # ... when the first call of the training function ended
        self._epoch_batches = 0  # ... in the current epoch

    @property
    def cancelled(self) -> bool:
        """Whether someone asked the trial to stop."""
        return self.monitor is not None and self.monitor.cancelled.is_set()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._whole_epochs, self._first_batch_end, self._batches = [], None, 0
        self._at_first_end = 0
        self._epoch_start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        if self._epoch_start:
            self._whole_epochs.append(now - self._epoch_start)
        self._epoch = epoch
        self._epoch_start = now
        self._epoch_batches = 0
        if self.monitor is not None:
            self.monitor.update(phase="training", epoch=epoch + 1, batch=0)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.monitor is None:
            return
        now = time.perf_counter()
        # With several batches per call (steps_per_execution), `batch` is the call's last one.
        self._batches += batch + 1 - self._epoch_batches
        self._epoch_batches = batch + 1
        if self._first_batch_end is None:
            self._first_batch_end, self._at_first_end = now, self._batches
        left = time_left(
            self._whole_epochs,
            batch + 1,
            self.steps,
            max(0, self.epochs - self._epoch - 1),
            now - self._first_batch_end,
            self._batches - self._at_first_end,
        )
        self.monitor.update(batch=batch + 1, eta_s=None if left is None else round(left, 1))
        if self.cancelled:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self._epoch_start
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        metrics["learning_rate"] = current_learning_rate(self.model.optimizer)
        if not all(math.isfinite(v) for v in metrics.values()):
            self.diverged_epoch = epoch
            self.model.stop_training = True
            metrics = {k: (v if math.isfinite(v) else float("nan")) for k, v in metrics.items()}
        self.sink(self.offset + epoch, metrics, seconds)
        if self.on_epoch is not None:
            self.on_epoch(epoch, metrics, seconds)
        if self.cancelled:
            self.model.stop_training = True
