"""Where a split's batches come from: uint8 arrays in memory, or a folder's cache on disk.

Arrays are read where they lie: each batch's rows are gathered from the NumPy array by
``tf.numpy_function``, so no copy of a split is made for TensorFlow (``tf.constant`` or
``from_tensor_slices`` would copy it whole). Training shuffles the positions, not the images:
an epoch's order is a stateless permutation seeded with ``(seed, epoch)``, as before.

A folder's split (``core.engine.loading.image_files.ImageFiles``) is read from its cache in
cache order (a fixed order that looks random), a window at a time: at most ``SHUFFLE_BYTES``
of images (and at least ``MIN_SHUFFLE`` images), and each window's images are put in a
stateless random order seeded with ``(seed, epoch, window)``, so a run, and a run continued
from a checkpoint, read the same batches every time. Only the window and the prefetched
batches are in memory, and the validation split when it is small (``MEMORY_CACHE_BYTES``).
(A seeded ``Dataset.shuffle`` would depend on how many epochs the process had read, and works
image by image; the cache is read in blocks, which costs several times less.)

:func:`held_bytes` says what a training pipeline holds, for ``core.engine.memory_guard``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import psutil
import tensorflow as tf

from core.engine.loading.image_files import ImageFiles

# A folder's shuffle buffer: at most this many bytes of images, and at least MIN_SHUFFLE
# images (fewer only when the split is smaller).
SHUFFLE_BYTES = 32 * 2**20
MIN_SHUFFLE = 1024
# A window is held several times over while it is read, gathered in its new order and cut
# into batches, with the next one on its way: six times, measured on 64 × 64 images with
# windows of 32 and 128 MiB (benchmarks/folder_stream.py's folder).
WINDOW_COPIES = 6
# Batches the pipeline holds besides the shuffle buffer, as core.engine.memory_guard counts
# them: the prefetch buffer and the batches being made in parallel maps.
PREFETCH_BATCHES = 4
# A folder's validation split up to this size is kept in memory once read, not read from
# disk again every epoch.
MEMORY_CACHE_BYTES = 256 * 2**20


def usable_cores() -> int:
    """Cores this process may run on: its affinity where the system tells it, else all."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counted is not None:
        return max(1, counted() or 1)
    try:
        return max(1, len(psutil.Process().cpu_affinity()))
    except (AttributeError, NotImplementedError, psutil.Error):  # macOS has no affinity
        return max(1, os.cpu_count() or 1)


def shuffle_images(x: Any) -> int:
    """Images in a folder split's shuffle buffer (0 for arrays, which shuffle positions)."""
    if not isinstance(x, ImageFiles):
        return 0
    image_bytes = max(1, x.nbytes // max(len(x), 1))
    return int(min(len(x), max(MIN_SHUFFLE, SHUFFLE_BYTES // image_bytes)))


def memory_cached(x: Any) -> bool:
    """Whether a folder's held-out split is kept in memory once read (``MEMORY_CACHE_BYTES``)."""
    return isinstance(x, ImageFiles) and x.nbytes <= MEMORY_CACHE_BYTES


def held_bytes(x: Any, batch_size: int, augmented: bool, x_val: Any = None) -> int:
    """What reading ``x`` for training (and ``x_val`` to validate) holds in memory.

    The shuffle window of a folder's split (``WINDOW_COPIES`` times), ``PREFETCH_BATCHES``
    batches (float32 once augmented), and a folder's validation split when it is kept in
    memory. Arrays held in memory are already counted where the process's memory is.
    """
    image_bytes = int(np.prod(x.shape[1:]))
    batch = min(batch_size, max(len(x), 1)) * image_bytes * (4 if augmented else 1)
    kept = x_val.nbytes if memory_cached(x_val) else 0
    window = WINDOW_COPIES * shuffle_images(x) * image_bytes
    return window + PREFETCH_BATCHES * batch + kept


def ordered_batches(x: Any, y: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """``(images, labels)`` batches in the split's order (validation, test).

    A folder's split of at most ``MEMORY_CACHE_BYTES`` is kept in memory once read (the
    validation images, read again every epoch); a larger one is read from disk each time.
    """
    labels = tf.constant(y)
    if isinstance(x, ImageFiles):
        found = x.blocks().rebatch(batch_size)
        if memory_cached(x):
            found = found.cache()
        return found.map(lambda images, at: (images, tf.gather(labels, at)))
    rows = _rows(x)
    starts = tf.data.Dataset.range(0, len(x), batch_size)

    def read(start: tf.Tensor) -> tuple:
        at = tf.range(start, tf.minimum(start + batch_size, len(x)))
        return rows(at), tf.gather(labels, at)

    return starts.map(read)


def shuffled_batches(x: Any, y: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """``(images, labels)`` batches, a new order each time the dataset is read."""
    labels = tf.constant(y)
    if isinstance(x, ImageFiles):
        return (
            x.stream()
            .shuffle(shuffle_images(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .map(lambda images, at: (images, tf.gather(labels, at)))
        )
    rows = _rows(x)
    # Positions, not images, fill the buffer: 8 bytes each.
    order = tf.data.Dataset.range(len(x)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return order.batch(batch_size).map(lambda at: (rows(at), tf.gather(labels, at)))


def epoch_batches(
    x: Any, y: np.ndarray, batch_size: int, seed: int, epochs: tuple[int, int]
) -> tf.data.Dataset:
    """Epochs ``first..end-1`` back to back: ``(images, labels, epoch, batch number)``.

    Epoch ``e``'s order depends only on ``(seed, e)``: a stateless permutation of an array's
    positions; for a folder, a stateless permutation of each window of ``shuffle_images``
    images read from the cache in turn.
    """
    labels = tf.constant(y)
    if isinstance(x, ImageFiles):
        stream, window = x.placed_blocks(), shuffle_images(x)

        def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
            def mix(number: tf.Tensor, block: tuple) -> tuple:
                images, at = block
                ours = tf.where(at >= 0)[:, 0]  # the window's images of this split
                key = tf.stack([tf.constant(seed, tf.int64), epoch * 2**20 + number])
                order = tf.argsort(tf.random.stateless_uniform(tf.shape(ours), seed=key))
                picks = tf.gather(ours, order)
                return tf.gather(images, picks), tf.gather(at, picks)

            return (
                stream.rebatch(window)
                .enumerate()
                .map(mix)
                .rebatch(batch_size)
                .enumerate()
                .map(lambda n, batch: (batch[0], tf.gather(labels, batch[1]), epoch, n))
            )

        return tf.data.Dataset.range(*epochs).flat_map(one_epoch)
    rows, count = _rows(x), len(x)

    def positions(epoch: tf.Tensor) -> tf.data.Dataset:
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([count], seed=key))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate()

    def gather(epoch: tf.Tensor, number: tf.Tensor, at: tf.Tensor) -> tuple:
        return rows(at), tf.gather(labels, at), epoch, number

    return (
        tf.data.Dataset.range(*epochs)
        .flat_map(lambda e: positions(e).map(lambda n, at: (e, n, at)))
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    )


def _rows(x: np.ndarray) -> Any:
    """A function from a tensor of positions to those rows of ``x``, read from ``x`` itself."""
    shape = (None, *x.shape[1:])

    def gather(at: np.ndarray) -> np.ndarray:
        return x[at]

    def rows(at: tf.Tensor) -> tf.Tensor:
        found = tf.numpy_function(gather, [at], tf.as_dtype(x.dtype), stateful=False)
        return tf.ensure_shape(found, shape)

    return rows
