"""The input pipeline: uint8 image arrays to batched, shuffled, augmented ``tf.data`` datasets.

Images stay uint8 until a batch is taken (the model rescales pixels itself), so memory holds
one byte per pixel (the training split twice: the arrays and the shuffle buffer).
Augmentation works on whole batches inside the pipeline, its pixel work in a parallel
``Dataset.map``, and batches are prefetched, so it can overlap with training instead of
holding up each step. It is made of Keras preprocessing layers named by ``RunConfig.augment``
entries such as ``"flip"`` or ``"rotation:15"``, and leaves pixels in 0..255 (float32).

Rotation, translation and zoom each resample the whole batch (``keras.ops.image.
affine_transform``); consecutive ones are resampled once, through the product of their
matrices, which halves the pixel work of report 002's flip, rotation and translation and
interpolates once instead of twice (:func:`_augment`).

Reproducibility: shuffling and every augmentation layer are seeded from the run's seed, so a
run draws the same batches and the same transformations every time, provided TensorFlow op
determinism is on (``core.training`` turns it on). Training reads its epochs from one
dataset (``epochs=(first, end)``) in which epoch ``e``'s order and augmentations depend only
on ``(seed, e)``, so a run continued from a checkpoint (a fork) draws what the original drew.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from core.catalog import AUGMENTATIONS

# Entry name -> Keras layer for a strength (None for flip) and a seed.
_LAYERS: dict[str, Callable[[float | None, int], keras.layers.Layer]] = {
    "flip": lambda _, seed: keras.layers.RandomFlip("horizontal", seed=seed),
    "rotation": lambda degrees, seed: keras.layers.RandomRotation(degrees / 360, seed=seed),
    "translation": lambda share, seed: keras.layers.RandomTranslation(share, share, seed=seed),
    "zoom": lambda share, seed: keras.layers.RandomZoom(share, seed=seed),
    "contrast": lambda factor, seed: keras.layers.RandomContrast(
        factor, value_range=(0, 255), seed=seed
    ),
    "brightness": lambda factor, seed: keras.layers.RandomBrightness(
        factor, value_range=(0, 255), seed=seed
    ),
}


def parse_augment(entries: Sequence[str]) -> list[tuple[str, float | None]]:
    """Split ``RunConfig.augment`` entries into (name, strength) pairs.

    Args:
        entries: Entries like ``"flip"`` or ``"rotation:15"``; a missing strength takes the
            default of ``core.params.AUGMENTATIONS``.

    Returns:
        One pair per entry, in order; the strength is None for ``flip``.

    Raises:
        ValueError: For a name this module has no layer for.
    """
    pairs: list[tuple[str, float | None]] = []
    for entry in entries:
        name, _, raw = entry.partition(":")
        name = name.strip().lower()
        if name not in _LAYERS or name not in AUGMENTATIONS:
            raise ValueError(f"augment: unknown augmentation {name!r}.")
        default = AUGMENTATIONS[name][0]
        pairs.append((name, float(raw) if raw.strip() else default))
    return pairs


def make_augmenter(augment: Sequence[str], seed: int) -> keras.Sequential | None:
    """Return the augmentation for ``augment`` entries, or None when there are none.

    Args:
        augment: ``RunConfig.augment`` entries (see :func:`parse_augment`).
        seed: The run's seed; layer ``i`` is seeded with ``seed + i``, so layers of the same
            kind at different positions still draw differently.

    Returns:
        A ``keras.Sequential`` of ``RandomFlip("horizontal")``, ``RandomRotation``,
        ``RandomTranslation``, ``RandomZoom``, ``RandomContrast`` and ``RandomBrightness``
        layers in the order given; it maps float32 pixels in 0..255 to the same range.
    """
    pairs = parse_augment(augment)
    if not pairs:
        return None
    layers = [_LAYERS[name](strength, seed + i) for i, (name, strength) in enumerate(pairs)]
    return keras.Sequential(layers, name="augmentation")


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    seed: int,
    augment: Sequence[str] = (),
    training: bool = False,
    epochs: tuple[int, int] | None = None,
) -> tf.data.Dataset:
    """Return the dataset ``fit``/``evaluate`` read one split from.

    Training: shuffled over the whole split with ``seed`` (a new order every epoch, the same
    sequence of orders every run), batched, then augmented batch by batch when ``augment``
    names any augmentation. Otherwise (validation, test): batched in order, never augmented.
    Both prefetch.

    Args:
        x: uint8 images ``(n, h, w, c)``.
        y: Labels as the loss takes them (``core.optim.prepare_labels``: class indices, or
            one-hot rows when ``core.optim.needs_one_hot``).
        batch_size: Images per batch (the last batch may be smaller).
        seed: Seed of the shuffling and the augmentation.
        augment: ``RunConfig.augment`` entries; used only when ``training``.
        training: Whether this is the training split.
        epochs: For training, the epochs ``(first, end)`` (0-based, end excluded) to lay out
            one after another in a single dataset (read it with ``steps_per_epoch``). Epoch
            ``e``'s order and augmentations then depend only on ``(seed, e)``, never on how
            many epochs came before in this process, so training on from a checkpoint of
            epoch ``k`` (``first = k + 1``) repeats the original run's epochs exactly.

    Returns:
        A ``tf.data.Dataset`` of ``(images, labels)`` batches: images uint8, or float32 in
        0..255 once augmented.
    """
    if training and epochs is not None:
        return _epoch_seeded(x, y, batch_size, seed, augment, epochs)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    augmenter = make_augmenter(augment, seed) if training else None
    if augmenter is not None:
        dataset = _augment(dataset, augmenter.layers)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _augment(
    dataset: tf.data.Dataset, layers: list[keras.layers.Layer], seed: int | None = None
) -> tf.data.Dataset:
    """Map batches through the layers, as ``keras.Sequential(layers)(images, training=True)``.

    Each layer draws its random parameters from its own seed generator, a stateful operation,
    and TensorFlow's op determinism runs a map holding one strictly in order, one batch at a
    time: the whole augmentation would run on one thread. So the work is split in the two
    steps every Keras image layer has: drawing (``get_random_transformation``, which looks
    only at the batch's shape) in an ordered map, cheap, then transforming the pixels
    (``transform_images``), stateless, in a parallel map. The layers draw the same numbers in
    the same order as when called whole. Consecutive rotation, translation and zoom layers are
    applied as one resampling by the product of their matrices (:func:`_affine_matrix`): the
    same geometry as one after another, interpolated once, so only pixels that one of the
    steps would have taken from outside the image (the reflected border) can differ. Elements
    that also carry their (epoch, batch number) reseed the layers first (:func:`_reseed`).
    """

    def draw(images: tf.Tensor, labels: tf.Tensor, *where: tf.Tensor) -> tuple:
        if where:
            _reseed(layers, seed or 0, *where)
        params = tuple(layer.get_random_transformation(images, training=True) for layer in layers)
        # Shapes come back partly as Python ints; a dataset element holds only tensors.
        return images, labels, tf.nest.map_structure(tf.convert_to_tensor, params)

    def transform(images: tf.Tensor, labels: tf.Tensor, params: tuple) -> tuple:
        images = tf.cast(images, tf.float32)
        pending: tuple[keras.layers.Layer, tf.Tensor] | None = None  # geometry not yet applied
        for layer, param in zip(layers, params, strict=True):
            matrix = _affine_matrix(layer, param, images)
            if (
                matrix is not None
                and pending is not None
                and _sampling(layer) == _sampling(pending[0])
            ):
                pending = (pending[0], _then(pending[1], matrix))
                continue
            images = _warp(images, pending)
            pending = None
            if matrix is not None:
                pending = (layer, matrix)
                continue
            images = layer.transform_images(images, param, training=True)
        return _warp(images, pending), labels

    return dataset.map(draw).map(transform, num_parallel_calls=tf.data.AUTOTUNE)


def _affine_matrix(layer: keras.layers.Layer, params: Any, images: tf.Tensor) -> tf.Tensor | None:
    """The ``(batch, 8)`` output-to-input matrices of a geometric layer's draw, else None.

    These are the matrices each layer's own ``transform_images`` passes to
    ``affine_transform``, made by its own helpers.
    """
    if isinstance(layer, keras.layers.RandomRotation):
        matrix = params["rotation_matrix"]
    elif isinstance(layer, keras.layers.RandomTranslation):
        matrix = layer._get_translation_matrix(params["translations"])
    elif isinstance(layer, keras.layers.RandomZoom):
        zooms = tf.concat([params["width_zoom"], params["height_zoom"]], axis=1)
        shape = tf.shape(images)
        matrix = layer._get_zoom_matrix(tf.cast(zooms, tf.float32), shape[1], shape[2])
    else:
        return None
    return tf.cast(matrix, tf.float32)


def _sampling(layer: keras.layers.Layer) -> tuple:
    """How a geometric layer resamples: layers that agree on it can resample as one."""
    return (layer.interpolation, layer.fill_mode, layer.fill_value)


def _then(first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
    """The matrices of ``first`` followed by ``second`` as one (both output-to-input maps).

    The second step's output pixel ``p`` reads the first step's output at ``second · p``,
    which reads the input at ``first · second · p``.
    """

    def square(m: tf.Tensor) -> tf.Tensor:
        return tf.reshape(tf.concat([m, tf.ones_like(m[:, :1])], axis=1), (-1, 3, 3))

    product = tf.matmul(square(first), square(second))
    return tf.reshape(product / product[:, 2:, 2:], (-1, 9))[:, :8]


def _warp(images: tf.Tensor, pending: tuple[keras.layers.Layer, tf.Tensor] | None) -> tf.Tensor:
    """Resample ``images`` by the pending matrices, as the first geometric layer would."""
    if pending is None:
        return images
    layer, matrix = pending
    return keras.ops.image.affine_transform(
        images,
        matrix,
        interpolation=layer.interpolation,
        fill_mode=layer.fill_mode,
        fill_value=layer.fill_value,
    )


def _epoch_seeded(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    seed: int,
    augment: Sequence[str],
    epochs: tuple[int, int],
) -> tf.data.Dataset:
    """Epochs ``first..end-1`` back to back, each shuffled and augmented from ``(seed, e)``.

    The order of epoch ``e`` is a stateless permutation seeded with ``(seed, e)``; a seeded
    ``Dataset.shuffle`` would instead depend on how many epochs this process has read.
    """
    images, labels = tf.constant(x), tf.constant(y)
    count = len(x)

    def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([count], seed=key))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate()

    def gather(epoch: tf.Tensor, number: tf.Tensor, idx: tf.Tensor) -> tuple:
        return tf.gather(images, idx), tf.gather(labels, idx), epoch, number

    dataset = (
        tf.data.Dataset.range(*epochs)
        .flat_map(lambda e: one_epoch(e).map(lambda n, idx: (e, n, idx)))
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    )
    augmenter = make_augmenter(augment, seed)
    if augmenter is None:
        dataset = dataset.map(lambda images, labels, *_: (images, labels))
    else:
        dataset = _augment(dataset, augmenter.layers, seed)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _reseed(layers: list[keras.layers.Layer], seed: int, epoch: Any, number: Any) -> None:
    """Set each layer's seed generator from (seed, layer, epoch, batch) before it draws.

    Every draw of a batch then depends only on where the batch is in the run, not on the
    draws before it, which a checkpoint cannot capture (the pipeline reads ahead).
    """
    for i, layer in enumerate(layers):
        state = layer.generator.state
        # 16 states per batch and 2**20 per epoch leave room for each layer's few draws.
        value = tf.stack([tf.constant(seed + i, tf.int64), epoch * 2**20 + number * 16])
        state.assign(tf.cast(value, state.dtype))
