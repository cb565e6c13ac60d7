"""TensorBoard logs of every trial: its scalars once per epoch, in its run folder.

``<cache>/runs/<study>/<trial>/logs/`` holds ``train/`` and ``validation/`` event files; the Runs
page offers them as a zip, and ``tensorboard --logdir`` reads them. Only the worker imports
this module (it imports Keras).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras

from core.store import Trial, disk_space, paths

# About what a trial's logs take: an event file's first block, then a few hundred bytes of
# scalars per epoch (a 2-epoch digits run wrote 2 KB in all).
LOG_BYTES = 64 * 1024


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras's ``TensorBoard`` writing once per epoch, with no work at all per batch.

    With ``update_freq="epoch"`` and profiling off, ``TensorBoard``'s batch hooks record
    nothing, but merely having them makes Keras wait for every batch's metrics before it starts
    the next batch (a callback with batch hooks is not dispatched asynchronously). Here they do
    nothing and the callback says it is safe to call from Keras's callback thread, so training
    runs ahead as it does without logs.
    """

    async_safe = True

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        return None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        return None

    # The hooks that open, write and flush the event files: where a full disk shows.
    def on_train_begin(self, logs: dict | None = None) -> None:
        with self._saving():
            super().on_train_begin(logs)

    def on_test_begin(self, logs: dict | None = None) -> None:
        with self._saving():
            super().on_test_begin(logs)

    def on_test_end(self, logs: dict | None = None) -> None:
        with self._saving():
            super().on_test_end(logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        with self._saving():
            super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        with self._saving():
            super().on_train_end(logs)

    @contextmanager
    def _saving(self) -> Iterator[None]:
        """TensorFlow's "No space left on device" as :class:`~core.store.disk_space.DiskFull`.

        The event files are kept: each holds whole records up to the one that failed, and
        TensorBoard reads a file whose last record was cut short.
        """
        with disk_space.saving(Path(self.log_dir), "the TensorBoard logs", LOG_BYTES):
            yield


def log_dir(trial: Trial, root: Path | None = None) -> Path:
    """The folder a trial's TensorBoard logs go in."""
    return paths.runs_dir(root) / str(trial.study_id) / str(trial.id) / "logs"


def tensorboard_callback(folder: Path) -> keras.callbacks.Callback:
    """The TensorBoard callback of a trial: scalars once per epoch into ``folder``.

    ``folder`` is :func:`log_dir` of the trial (or a folder in it, one per execution of a
    search trial). Kept cheap: no weight histograms, images or graph, no profiling, nothing
    per batch.
    """
    return EpochTensorBoard(
        log_dir=str(folder),
        histogram_freq=0,
        write_graph=False,
        write_images=False,
        update_freq="epoch",
        profile_batch=0,
    )
