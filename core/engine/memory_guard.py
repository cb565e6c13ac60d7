"""Refuse a training step that cannot fit in the worker's memory, before it is tried.

On a CPU, TensorFlow has no allocator that fails gracefully: when a batch's activations do not
fit, the operating system kills the worker (or, under an address-space limit, TensorFlow
crashes), and the person sees only that the worker died. So before ``fit`` the worker estimates
what one training step needs and fails the trial with a message naming ``batch_size`` when the
estimate exceeds what the worker may use.

The estimate counts every layer's output for one batch (kept for the backward pass) and the
same again for its gradients, plus four copies of the weights (weights, gradients and two
optimizer slots). It is deliberately plain: it catches the runs that would need several times
the memory there is (report 003's full-batch step), not the ones at the margin.

The input pipeline adds what it will hold: a folder's shuffle buffer and the prefetched
batches (``core.engine.batches.held_bytes``). A folder's images stay on disk, and a built-in
dataset's arrays are already in the process when the check is made.

What the worker may use is ``HPE_WORKER_MEMORY_MB`` when set (a cap for the whole worker
process, less what it already holds), else the memory the system reports available when the
trial starts (both read through psutil).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import psutil

from core.spec.config import ConfigError
from core.store import settings

MEMORY_ENV = settings.WORKER_MEMORY_MB
_MIB = 2**20
_FLOAT_BYTES = 4


def _leaf_layers(layer: Any) -> Iterator[Any]:
    """Every layer that computes something, looking inside nested models (a backbone)."""
    inner = getattr(layer, "layers", None)
    if inner:
        for child in inner:
            yield from _leaf_layers(child)
    else:
        yield layer


def _elements(shape: Any) -> int:
    """Elements of one sample of a symbolic output shape (batch dimension left out)."""
    dims = [d for d in tuple(shape)[1:] if d is not None]
    return math.prod(dims) if dims else 0


def step_bytes(model: Any, batch_size: int) -> int:
    """Estimate the memory one training step of ``model`` needs at ``batch_size``.

    Args:
        model: A built Keras model (functional or sequential, nested models included).
        batch_size: Images per step.

    Returns:
        Bytes: activations and their gradients for one batch, plus weights, gradients and two
        optimizer slots.
    """
    per_sample = 0
    for layer in _leaf_layers(model):
        try:
            outputs = layer.output
        except (AttributeError, ValueError):
            continue  # a layer never called symbolically (e.g. a bare InputLayer)
        for out in outputs if isinstance(outputs, list | tuple) else [outputs]:
            per_sample += _elements(out.shape)
    activations = 2 * per_sample * batch_size * _FLOAT_BYTES
    return activations + 4 * int(model.count_params()) * _FLOAT_BYTES


def _rss_bytes() -> int:
    try:
        return int(psutil.Process().memory_info().rss)
    except psutil.Error:
        return 0


def _available_bytes() -> int:
    try:
        return int(psutil.virtual_memory().available)
    except (psutil.Error, OSError):
        return 0


def headroom_bytes() -> tuple[int | None, str]:
    """What a training step may still use, and a phrase saying where that figure comes from.

    Under a cap, what the cap leaves beside what the worker already holds (0 when it holds
    more); otherwise the machine's available memory, or None where it cannot be read.
    """
    cap = settings.read(MEMORY_ENV)
    if cap is not None:
        cap_bytes = int(cap * _MIB)
        used = _rss_bytes()
        return max(cap_bytes - used, 0), (
            f"of the worker's cap of {cap_bytes / _MIB:,.0f} MiB set by {MEMORY_ENV}, "
            f"{used / _MIB:,.0f} MiB already in use"
        )
    return _available_bytes() or None, "of the memory this machine has available"


def check_step_fits(model: Any, batch_size: int, held: int = 0) -> None:
    """Raise a ``batch_size`` error when one training step would not fit in memory.

    Args:
        model: The built model.
        batch_size: Images per step.
        held: What the input pipeline will hold besides what the process holds already: a
            folder's shuffle buffer and the prefetched batches (``core.engine.batches``).

    Raises:
        ConfigError: naming ``batch_size``, the estimate, the headroom and a batch size that fits.
    """
    step = step_bytes(model, batch_size)
    need = step + held
    headroom, source = headroom_bytes()
    if headroom is None or need <= headroom:  # nothing to judge by, or it fits
        return
    per_image = max(step / batch_size, 1.0)
    fits = int(max(headroom * 0.8 - held, 0) // per_image)
    advice = (
        f"use a batch_size of at most {fits}"
        if fits >= 1
        else "use a smaller model or img_size, or give the worker more memory"
    )
    pipeline = f" ({_mib(held)} of it for the input pipeline's buffers)" if held else ""
    raise ConfigError(
        "batch_size",
        f"One training step at batch_size {batch_size} needs about {_mib(need)}{pipeline} "
        f"but only {_mib(headroom)} is free ({source}); {advice}.",
    )


def _mib(size: float) -> str:
    """A memory size in MiB, to a tenth below 10 MiB so that a small one does not read as 0."""
    return f"{size / _MIB:,.1f} MiB" if size < 10 * _MIB else f"{size / _MIB:,.0f} MiB"
