"""A checkpoint per finished epoch, so a run can be forked from its best or its recent epochs.

A checkpoint holds every variable of the model at the end of an epoch (weights, batch-norm
statistics and the seed generators that drive dropout) and every variable of its optimizer
(step count, moments, learning rate), copied through Keras and written as one NumPy ``.npz``
file by a background thread, so training hardly waits (see :class:`CheckpointCallback`).
With the epoch-seeded pipeline (``core.engine.pipeline``) this is everything the next epoch depends
on, so training on from a checkpoint repeats the original run's later epochs exactly.

A trial keeps the checkpoints of its newest epochs and of its best one, within the budget of
``HPE_CHECKPOINT_CAP`` copies and ``HPE_CHECKPOINT_BYTES`` bytes (``core.store.checkpoint_files``),
pruned after each write. Each file records the value of the metric early stopping watches, so
the best epoch is found again by a later process (a resumed search trial). They live in
``runs/<study>/<trial>/checkpoints/``. This module imports Keras; only worker processes use it
(see ``core.worker.forks`` for the TensorFlow-free side).
"""

from __future__ import annotations

import math
import os
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np

from core.engine import optim
from core.spec.params import FORKABLE
from core.store import Store, Trial, disk_space, identity
from core.store.checkpoint_files import (
    Budget,
    checkpoint_dir,
    checkpoint_path,
    saved_epochs,
    to_prune,
)
from core.store.errors import StoreReplaced

# What np.savez adds to each array: its .npy header and the zip's local and central records.
_ENTRY_BYTES = 512
# The entry holding the epoch's value of the monitored metric (not a variable).
MONITOR_KEY = "meta_monitor"


def snapshot(model: keras.Model) -> dict[str, np.ndarray]:
    """Copy the state training goes on from: every model variable and optimizer variable.

    ``model.variables`` includes the seed generators (dropout's random state), which
    ``model.weights`` and Keras's weights files leave out. Kept in order, not by name: two
    builds of the same model in one process name their variables differently.
    """
    state = {
        f"model_{i}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(model.variables)
    }
    for i, v in enumerate(model.optimizer.variables):
        state[f"optimizer_{i}"] = keras.ops.convert_to_numpy(v.value)
    return state


def write(
    state: dict[str, np.ndarray],
    folder: Path,
    epoch: int,
    budget: Budget,
    monitor: str = "",
    owner: identity.Owner | None = None,
) -> Path:
    """Write a snapshot as the checkpoint of ``epoch``, then prune to ``budget``.

    Args:
        state: From :func:`snapshot`, with the epoch's monitored value under ``MONITOR_KEY``
            where it has one.
        folder: The trial's checkpoint folder (created if needed).
        epoch: The epoch just finished (0-based).
        budget: What the trial's checkpoints may take (:func:`prune`).
        monitor: The metric that says which epoch is best (``val_loss``, ``val_accuracy``).
        owner: The store whose ``runs/`` the folder was in when training began: nothing is
            written once that folder belongs to another store.

    Raises:
        DiskFull: when the disk has no room for it (the half-written file is removed).
        StoreReplaced: when the store was deleted or replaced; a file written meanwhile
            into the new store's folder is taken back out.
    """
    if owner is not None:
        owner.check()
    path = checkpoint_path(folder, epoch)
    partial = path.with_suffix(".part.npz")
    # np.savez stores arrays uncompressed: the file is their bytes, a header each and the
    # zip's own records, so their sizes are what the checkpoint needs, within a few KB.
    needed = sum(v.nbytes for v in state.values()) + _ENTRY_BYTES * len(state)
    what = f"the checkpoint of epoch {epoch + 1}"
    try:
        with disk_space.saving(folder, what, needed, partial=[partial]):
            folder.mkdir(parents=True, exist_ok=True)
            np.savez(partial, **state)
            os.replace(partial, path)  # whole or not there: forks never read half a file
    except OSError:
        _still_owned(owner, path)  # a folder moved aside under the write: say why
        raise
    _still_owned(owner, path)
    prune(folder, budget, monitor)
    return path


def _still_owned(owner: identity.Owner | None, path: Path) -> None:
    """Raise ``StoreReplaced`` if the store was replaced, taking ``path`` back out first."""
    if owner is None:
        return
    try:
        owner.check()
    except StoreReplaced:
        _take_back(path, owner.folder)
        raise


def _take_back(path: Path, top: Path) -> None:
    """Remove a file written into another store's folder, and the folders made for it."""
    path.unlink(missing_ok=True)
    path.with_suffix(".part.npz").unlink(missing_ok=True)
    for folder in path.parents:
        if folder == top or top not in folder.parents:
            return
        try:
            folder.rmdir()  # only while empty: never anything of the other store's
        except OSError:
            return


def prune(folder: Path, budget: Budget, monitor: str = "") -> list[int]:
    """Delete the checkpoints in ``folder`` beyond ``budget``; return their epochs.

    The newest and the best (by the ``monitor`` values the files record; lowest loss or
    highest accuracy) stay (``core.store.checkpoint_files.to_prune``).
    """
    epochs = saved_epochs(folder)
    sizes = {e: checkpoint_path(folder, e).stat().st_size for e in epochs}
    best = _best(folder, epochs, monitor) if budget.copies > 1 else None  # 1: the newest
    gone = to_prune(sizes, best, budget)
    for old in gone:
        checkpoint_path(folder, old).unlink(missing_ok=True)
    return gone


def _best(folder: Path, epochs: list[int], monitor: str) -> int | None:
    """The epoch whose recorded monitored value is best, or None when none has one."""
    values = {}
    for epoch in epochs:
        try:
            with np.load(checkpoint_path(folder, epoch)) as file:
                if MONITOR_KEY in file.files:
                    values[epoch] = float(file[MONITOR_KEY])
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            continue  # unreadable: never the one to keep for its score
    finite = {e: v for e, v in values.items() if math.isfinite(v)}
    if not finite:
        return None
    pick = max if "accuracy" in monitor else min
    return pick(finite, key=finite.__getitem__)


def save(model: keras.Model, folder: Path, epoch: int, budget: Budget) -> Path | None:
    """Save the model's and its optimizer's state at the end of ``epoch``; prune to ``budget``.

    Args:
        model: The compiled model being trained.
        folder: The trial's checkpoint folder (created if needed).
        epoch: The epoch just finished (0-based).
        budget: What the trial's checkpoints may take; ``copies`` 0 saves none.

    Returns:
        The file written, or None when the budget keeps no copies.
    """
    return write(snapshot(model), folder, epoch, budget) if budget.copies > 0 else None


def restore(model: keras.Model, folder: Path, epoch: int) -> None:
    """Load the checkpoint of ``epoch`` into a model compiled like the one that saved it.

    The optimizer is built first, so its variables (step count, moments, rate) load too. The
    whole file is read and checked before any variable changes, so a file that cannot be
    read leaves the model as it was.

    Raises:
        FileNotFoundError: If there is no checkpoint for that epoch (dropped or never saved).
        ValueError: If the model or its optimizer has other variables than the saved ones.
        OSError, EOFError, zipfile.BadZipFile: If the file cannot be read.
    """
    path = checkpoint_path(folder, epoch)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint of epoch {epoch + 1} in {folder}")
    model.optimizer.build(model.trainable_variables)
    with np.load(path) as file:
        saved = {key: file[key] for key in file.files}
    pairs = []
    for prefix, variables in (
        ("model", model.variables),
        ("optimizer", model.optimizer.variables),
    ):
        count = sum(1 for key in saved if key.startswith(prefix + "_"))
        if count != len(variables):
            raise ValueError(
                f"the checkpoint of epoch {epoch + 1} holds {count} {prefix} variables, "
                f"this {prefix} has {len(variables)}"
            )
        for i, variable in enumerate(variables):
            value = saved[f"{prefix}_{i}"]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"the checkpoint of epoch {epoch + 1} does not fit {variable.path}: "
                    f"shape {value.shape}, not {variable.shape}"
                )
            pairs.append((variable, value))
    for variable, value in pairs:
        variable.assign(value)


def restore_latest(model: keras.Model, folder: Path, first: int, end: int) -> int | None:
    """Load the newest readable checkpoint numbered ``first`` to ``end - 1`` into ``model``.

    How a search trial stopped mid-way (a time budget, a kill) goes on: from the checkpoint
    of its last finished epoch. A file that cannot be read (a disk that failed mid-write)
    falls back to the one before it.

    Args:
        model: The compiled model about to train.
        folder: The trial's checkpoint folder.
        first: The first checkpoint number that belongs to this training.
        end: One past the last.

    Returns:
        The number of the checkpoint loaded, or None when there was none to load (the
        model is then left as it was).
    """
    for row in reversed([e for e in saved_epochs(folder) if first <= e < end]):
        try:
            restore(model, folder, row)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            continue
        return row
    return None


def start_epoch(store: Store, trial: Trial, model: keras.Model, train_size: int, root: Path) -> int:
    """Prepare ``model`` for ``trial`` and return the epoch (0-based) training starts at.

    A fresh trial starts at 0 and the model is left as it is. A fork (a trial with a parent
    and a fork epoch ``k``) gets its parent's state at the end of epoch ``k`` and starts at
    ``k + 1``: the model's weights, the seed generators and, when the optimizer kind is the
    same, its moments and step count. The learning rate is the parent's last one unless the
    fork changes the rate or its schedule. The model must already be compiled for the fork's
    own config; it is compiled again the same way.

    Args:
        store: The store holding the parent.
        trial: The trial about to train.
        model: Its model, built and compiled from the trial's config.
        train_size: Images in the training split (the same for parent and fork).
        root: The cache folder.

    Returns:
        The first epoch to train (``initial_epoch`` for ``fit``).

    Raises:
        FileNotFoundError: If the parent's checkpoint of that epoch is gone.
    """
    if trial.parent_id is None or trial.fork_epoch is None:
        return 0
    parent = store.trial(trial.parent_id)
    cfg, parent_cfg = trial.run_config, parent.run_config
    classes = int(model.outputs[0].shape[-1])
    steps = math.ceil(train_size / cfg.batch_size)
    optim.compile_model(model, parent_cfg, math.ceil(train_size / parent_cfg.batch_size), classes)
    restore(model, checkpoint_dir(parent, root), trial.fork_epoch)
    saved = _optimizer_state(model.optimizer)
    optim.compile_model(model, cfg, steps, classes)
    model.optimizer.build(model.trainable_variables)
    if cfg.optimizer == parent_cfg.optimizer:
        fresh = _optimizer_state(model.optimizer)
        rate_keys = FORKABLE["learning rate"]  # a change there gives the fork its own rate
        same_rate = all(getattr(cfg, k) == getattr(parent_cfg, k) for k in rate_keys)
        if same_rate and saved["rate"] and fresh["rate"]:
            fresh["rate"][0].assign(saved["rate"][0])
        # Slots (moments) line up one to one: both optimizers were built on the same weights.
        for new, old in zip(fresh["slots"], saved["slots"], strict=False):
            if tuple(new.shape) == tuple(old.shape):
                new.assign(old)
    # Schedules count optimizer steps: keep them in step with epochs when the batch size changes.
    model.optimizer.iterations.assign((trial.fork_epoch + 1) * steps)
    return trial.fork_epoch + 1


class CheckpointCallback(keras.callbacks.Callback):
    """Checkpoints the model after every epoch, writing the file off the training thread.

    The state is copied at the epoch's end (milliseconds); writing it takes longer (Keras's
    own ``save_weights`` took about 0.2 s per epoch for the default CNN, as long as a digits
    epoch), so one background thread writes, in order, and prunes to the budget after each
    write. Training waits for the last write before it ends, so a finished trial has all the
    checkpoints its budget keeps.

    Args:
        folder: The trial's checkpoint folder.
        budget: What its checkpoints may take (``core.store.checkpoint_files.Budget``).
        offset: The number of epoch 0's file (a search trial's later execution).
        monitor: The metric that names the best epoch (the config's early stopping one).
    """

    def __init__(self, folder: Path, budget: Budget, offset: int = 0, monitor: str = "") -> None:
        super().__init__()
        self.folder = folder
        self.budget = budget
        self.offset = offset
        self.monitor = monitor
        self.owner = identity.owner_of(folder)  # checked at each write (see write)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: list[Future] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.budget.copies <= 0:
            return
        self._raise_failed()  # a full disk stops training now, not epochs later
        state = snapshot(self.model)
        if self.monitor in (logs or {}):
            state[MONITOR_KEY] = np.asarray(float(logs[self.monitor]))
        self._pending = [f for f in self._pending if not f.done()]
        row = self.offset + epoch
        self._pending.append(
            self._writer.submit(
                write, state, self.folder, row, self.budget, self.monitor, self.owner
            )
        )

    def on_train_end(self, logs: dict | None = None) -> None:
        for future in self._pending:
            future.result()  # a failed write fails the trial, with its reason
        self._writer.shutdown()

    def _raise_failed(self) -> None:
        """Raise the error of the first earlier write that failed, if one did."""
        for future in self._pending:
            error = future.exception() if future.done() else None
            if error is not None:
                raise error


def _optimizer_state(optimizer: keras.optimizers.Optimizer) -> dict[str, list]:
    """An optimizer's variables as ``rate`` (its rate variable, if any) and ``slots``."""
    rate = [v for v in optimizer.variables if v.name == "learning_rate"]
    taken = {id(optimizer.iterations), *(id(v) for v in rate)}
    return {"rate": rate, "slots": [v for v in optimizer.variables if id(v) not in taken]}
