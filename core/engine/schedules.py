"""Learning-rate schedules over optimizer steps, with warm-up, and reading the current rate.

Timing. ``warmup_epochs`` W grows the rate linearly from 0 (first update) to
``learning_rate`` over W epochs, as Keras's ``CosineDecay`` does; every schedule then starts
its decay where the warm-up ends. ``step`` multiplies the rate by ``lr_decay_rate`` every
``lr_decay_steps`` epochs, ``exponential`` does the same continuously, ``cosine`` decays to 0
at the last epoch, ``reduce_on_plateau`` multiplies it by ``lr_factor`` after ``lr_patience``
epochs without a better validation loss (a callback, see ``core.engine.optim.callbacks``).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from core.engine import compat
from core.spec.config import RunConfig

_Schedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="hpe")
class WarmUp(_Schedule):
    """Linear warm-up from 0 to ``target`` over ``warmup_steps``, then ``after``.

    Keras has warm-up only inside ``CosineDecay``, and no wrapper that adds it to another
    schedule, so constant, step and exponential schedules get it from here. The formula is
    ``CosineDecay``'s (``target * step / warmup_steps``), so all schedules warm up alike;
    ``after`` is evaluated at ``step - warmup_steps``, so its decay starts when warm-up ends.

    Args:
        target: The rate reached at the end of warm-up.
        warmup_steps: Optimizer updates the warm-up lasts (at least 1).
        after: The schedule (or constant rate) that follows.
    """

    def __init__(self, target: float, warmup_steps: int, after: _Schedule | float) -> None:
        super().__init__()
        self.target = float(target)
        self.warmup_steps = max(int(warmup_steps), 1)
        self.after = after

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        warm = self.target * step / self.warmup_steps
        later = ops.maximum(step - self.warmup_steps, 0.0)
        rest = self.after(later) if callable(self.after) else self.after
        return ops.where(step < self.warmup_steps, warm, ops.cast(rest, "float32"))

    def get_config(self) -> dict[str, Any]:
        after = self.after
        if isinstance(after, _Schedule):
            after = keras.optimizers.schedules.serialize(after)
        return {"target": self.target, "warmup_steps": self.warmup_steps, "after": after}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WarmUp:
        after = config["after"]
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        return cls(config["target"], config["warmup_steps"], after)


class PlateauWarmUp(keras.callbacks.Callback):
    """Linear warm-up of a settable (float) learning rate, for reduce-on-plateau runs.

    ``ReduceLROnPlateau`` can only change a rate held in a variable, never one computed by a
    schedule, so its warm-up cannot be a :class:`WarmUp`; this callback sets the variable
    before each update instead, with the same formula. A cut the plateau callback makes while
    warming up is kept: the warm-up's target shrinks by the same factor.

    Args:
        target: The rate reached at the end of warm-up.
        warmup_steps: Optimizer updates the warm-up lasts.
    """

    def __init__(self, target: float, warmup_steps: int) -> None:
        super().__init__()
        self.target = float(target)
        self.warmup_steps = int(warmup_steps)
        self._step = 0
        self._last: float | None = None

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._step > self.warmup_steps:
            return
        optimizer = self.model.optimizer
        if self._last:
            now = float(ops.convert_to_numpy(optimizer.learning_rate))
            if not np.isclose(now, self._last, rtol=1e-6, atol=0.0):
                self.target *= now / self._last
        rate = self.target * min(self._step / self.warmup_steps, 1.0)
        optimizer.learning_rate = rate
        self._last = float(np.float32(rate))
        self._step += 1


def make_schedule(config: RunConfig, steps_per_epoch: int) -> _Schedule | float:
    """Return the learning rate the optimizer is built with: a schedule, or a float.

    Args:
        config: The run config (``learning_rate``, ``lr_schedule`` and its settings,
            ``warmup_epochs``, ``epochs``).
        steps_per_epoch: Optimizer updates per epoch.

    Returns:
        A float for ``constant`` without warm-up and for ``reduce_on_plateau`` (whose warm-up, if
        any, is :class:`PlateauWarmUp` from ``core.engine.optim.callbacks``); otherwise a
        ``LearningRateSchedule`` over optimizer steps.
    """
    rate = config.learning_rate
    warmup = config.warmup_epochs * steps_per_epoch
    kind = config.lr_schedule
    schedules = keras.optimizers.schedules
    if kind == "reduce_on_plateau":
        return rate
    if kind == "cosine":
        decay = max(config.epochs - config.warmup_epochs, 1) * steps_per_epoch
        if not warmup:
            return schedules.CosineDecay(rate, decay)
        return schedules.CosineDecay(0.0, decay, warmup_target=rate, warmup_steps=warmup)
    after: _Schedule | float = rate
    if kind in ("step", "exponential"):
        after = schedules.ExponentialDecay(
            rate,
            decay_steps=config.lr_decay_steps * steps_per_epoch,
            decay_rate=config.lr_decay_rate,
            staircase=kind == "step",
        )
    elif kind != "constant":
        raise ValueError(f"lr_schedule: unknown {kind!r}.")
    return WarmUp(rate, warmup, after) if warmup else after


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """Return the learning rate the optimizer applied at its last update.

    ``optimizer.learning_rate`` evaluates a schedule at ``iterations``, the *next* update, so
    read at the end of an epoch it would already show the next epoch's rate (a step decay
    would seem to happen one epoch early). A schedule is evaluated one step back instead.

    Args:
        optimizer: A Keras optimizer.

    Returns:
        The rate as a float (the initial rate before any update).
    """
    # Under mixed_float16 the optimizer is Keras's LossScaleOptimizer around the configured one.
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = compat.learning_rate_schedule(optimizer)
    if schedule is not None:
        step = max(int(ops.convert_to_numpy(optimizer.iterations)) - 1, 0)
        return float(ops.convert_to_numpy(schedule(step)))
    return float(ops.convert_to_numpy(optimizer.learning_rate))
