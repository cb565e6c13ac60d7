"""How TensorFlow runs a trial on the machine's devices: memory, determinism, precision, steps.

* :func:`allow_memory_growth`: every visible GPU takes memory as it needs it, rather than all
  of it at the first op, so several worker processes (a pool, a search's children) share a
  GPU. It must run before TensorFlow initialises its devices: ``core.engine.executor`` calls
  it when it is imported, which every trial path does before its first op.
* :func:`set_op_determinism`: op determinism on or off, per trial (``deterministic``).
* :func:`precision_policy`: the Keras dtype policy a model is built under (``precision``).
* :func:`jit_compile_arg` and :func:`steps_per_execution`: what ``model.compile`` is given
  (``jit_compile``, ``steps_per_execution``).
* :func:`determinism_errors`: an op with no deterministic kernel fails the trial in one line
  that names the setting to change.
* :func:`freeze_imported_objects`: the imported libraries' objects are left out of garbage
  collection, which keras-tuner and Keras run several times per trial.

This module imports TensorFlow; only worker processes use it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from core.engine import compat
from core.spec.config import ConfigError, RunConfig

logger = logging.getLogger(__name__)

# What one call of the training function may take under steps_per_execution=auto: a fifth
# of the trial's heartbeat interval (core.engine.monitor, 0.5 s), so batch progress and a
# cancel request are seen about as soon as with one batch per call.
EXECUTION_BUDGET_S = 0.1
# The most batches one call runs under auto.
MAX_AUTO_STEPS = 64
# Timed forward passes of the auto probe; a training step costs about three of them.
_PROBE_PASSES = 3
_STEP_PER_FORWARD = 3.0

_memory_growth_done = False


def allow_memory_growth() -> None:
    """Let every visible GPU grow its memory as needed (idempotent; no-op without a GPU).

    TensorFlow otherwise maps nearly all of a GPU's memory to the first process that uses
    it. Growth can only be set before TensorFlow initialises its devices; called later, the
    devices keep what they have and a warning says so.
    """
    global _memory_growth_done
    if _memory_growth_done:
        return
    _memory_growth_done = True
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as exc:  # the devices were initialised already
            logger.warning("memory growth not set on %s: %s", gpu.name, exc)


def freeze_imported_objects() -> None:
    """Leave the objects of every module imported so far out of garbage collection.

    TensorFlow, Keras and keras-tuner create millions of long-lived objects when imported,
    and each full collection walks all of them: about 0.23 s each on a 2-core machine. Keras's
    ``clear_session`` and keras-tuner collect several times per trial, so on small models
    that walk took about a third of a search's time. Objects created afterwards (each
    trial's models and data) are collected as usual. Call it once the engine's modules are
    imported; calling it again would also freeze what was made in between.
    """
    gc.freeze()


def memory_growth_done() -> bool:
    """Whether :func:`allow_memory_growth` has run in this process."""
    return _memory_growth_done


def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU."""
    return bool(tf.config.list_physical_devices("GPU"))


def set_op_determinism(on: bool) -> None:
    """Turn TensorFlow's op determinism on or off for the trials that follow.

    Off, a trial in a process where an earlier trial turned it on runs as fast as in a fresh
    process (the random seeds are set either way).
    """
    if on:
        tf.config.experimental.enable_op_determinism()
    else:
        compat.disable_op_determinism()


@contextlib.contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    """Build the layers made inside under the Keras dtype policy ``precision``.

    Layers keep the policy they were made with, so the global policy is put back when the
    block ends: the next trial in the process starts from float32 whatever this one used.

    Args:
        precision: ``float32``, ``mixed_float16`` or ``mixed_bfloat16``.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def jit_compile_arg(cfg: RunConfig) -> bool | str:
    """``model.compile``'s ``jit_compile`` for the config: ``"auto"``, True or False."""
    return {"auto": "auto", "on": True, "off": False}[cfg.jit_compile]


def largest_divisor_at_most(steps: int, cap: int) -> int:
    """The largest whole number at most ``cap`` that divides ``steps`` (at least 1).

    A call of the training function that ran past an epoch's last batch would take the next
    epoch's first batches (the training dataset runs through every epoch), so a call runs a
    number of batches that divides the epoch's.
    """
    for n in range(max(1, min(cap, steps)), 0, -1):
        if steps % n == 0:
            return n
    return 1


def auto_steps(step_seconds: float, steps: int) -> int:
    """Batches per call for a training step of ``step_seconds``: a call within the budget.

    Args:
        step_seconds: About how long one training step takes on the device.
        steps: Batches per epoch.
    """
    fits = int(EXECUTION_BUDGET_S / max(step_seconds, 1e-9))
    return largest_divisor_at_most(steps, min(MAX_AUTO_STEPS, max(fits, 1)))


def probe_step_seconds(model: keras.Model, batch: np.ndarray) -> float:
    """About how long one training step of ``model`` on ``batch`` takes: 3 forward passes.

    Forward passes in inference mode change no weight, statistic or random state, so the
    trial trains exactly as it would without the probe. The first pass (tracing) is not timed.
    """
    model.predict_on_batch(batch)
    start = time.perf_counter()
    for _ in range(_PROBE_PASSES):
        model.predict_on_batch(batch)
    return _STEP_PER_FORWARD * (time.perf_counter() - start) / _PROBE_PASSES


def steps_per_execution(cfg: RunConfig, steps: int, model: keras.Model, batch: Any) -> int:
    """Batches each call of the training function runs, for ``steps`` batches per epoch.

    A set value is an upper bound: the largest count at most it that divides ``steps``.
    ``auto`` (0) is 1 without a GPU: on a CPU a step takes long enough that the per-batch
    callbacks cost little (``benchmarks/batch_callbacks.py``). With a GPU, a probe times a
    step (:func:`probe_step_seconds`) and each call gets as many steps as fit in
    ``EXECUTION_BUDGET_S``. A warm-up under reduce-on-plateau sets the rate before every
    batch from a callback, so it keeps one batch per call.
    """
    if cfg.lr_schedule == "reduce_on_plateau" and cfg.warmup_epochs:
        return 1
    if cfg.steps_per_execution:
        return largest_divisor_at_most(steps, cfg.steps_per_execution)
    if not gpu_visible():
        return 1
    return auto_steps(probe_step_seconds(model, batch), steps)


def _op_name(message: str) -> str:
    found = re.search(r"implementation (?:of|for) (?:the )?(.+?)(?: op)?(?: is| not|\.|$)", message)
    if found is None:
        found = re.search(r"^(.+?) ops? do(?:es)? not (?:yet )?have a deterministic", message)
    return found.group(1).strip() if found else "An operation of this model"


def determinism_message(exc: BaseException) -> str | None:
    """The one line to show for an op that has no deterministic kernel, else None."""
    if not isinstance(exc, tf.errors.OpError):
        return None
    text = str(getattr(exc, "message", "") or exc)
    if "determinis" not in text.lower():
        return None
    first = next((line for line in text.splitlines() if "determinis" in line.lower()), text)
    return (
        f"{_op_name(first)} has no deterministic GPU kernel; turn off Deterministic ops "
        "(deterministic=off) to train it, at the cost of run-to-run differences."
    )


@contextlib.contextmanager
def determinism_errors() -> Iterator[None]:
    """Turn an op's missing deterministic kernel into a ConfigError naming ``deterministic``."""
    try:
        yield
    except tf.errors.OpError as exc:
        message = determinism_message(exc)
        if message is None:
            raise
        raise ConfigError("deterministic", message) from exc
