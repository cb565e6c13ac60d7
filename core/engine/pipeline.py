"""The input pipeline: uint8 image arrays to batched, shuffled, augmented ``tf.data`` datasets.

Images stay uint8 until a batch is taken (the model rescales pixels itself), so memory holds
one byte per pixel: the arrays once (batches are gathered from them), or, for a folder, only a
bounded shuffle buffer of its cache on disk (``core.engine.batches``).
Augmentation works on whole batches inside the pipeline, its pixel work in a parallel
``Dataset.map``, and batches are prefetched, so it can overlap with training instead of
holding up each step. It is made of Keras preprocessing layers named by ``RunConfig.augment``
entries such as ``"flip"`` or ``"rotation:15"``, and leaves pixels in 0..255 (float32).

Flip, rotation, translation and zoom each move pixels; consecutive ones are applied as one
resampling through the product of their matrices (``keras.ops.image.affine_transform``), so
report 002's flip, rotation and translation cost one resampling instead of three steps.

Reproducibility: shuffling and every augmentation layer are seeded from the run's seed, so a
run draws the same batches and the same transformations every time, provided TensorFlow op
determinism is on (``core.engine.training`` turns it on). Training reads its epochs from one
dataset (``epochs=(first, end)``) in which epoch ``e``'s order and augmentations depend only
on ``(seed, e)``, so a run continued from a checkpoint (a fork) draws what the original drew.
There, each batch's random draws are keyed by (seed, layer, epoch, batch) rather than taken
from a layer's seed generator in turn, so no state is shared and whole batches are drawn and
transformed in parallel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from core.engine import batches, compat
from core.spec.catalog import AUGMENTATIONS

# Pixels that rotation, translation and zoom bring in from outside the image repeat the
# nearest edge pixel, as in Keras's legacy ImageDataGenerator (report 002's augmentation).
FILL = "nearest"

# Entry name -> Keras layer for a strength (None for flip) and a seed.
_LAYERS: dict[str, Callable[[float | None, int], keras.layers.Layer]] = {
    "flip": lambda _, seed: keras.layers.RandomFlip("horizontal", seed=seed),
    "rotation": lambda degrees, seed: keras.layers.RandomRotation(
        degrees / 360, fill_mode=FILL, seed=seed
    ),
    "translation": lambda share, seed: keras.layers.RandomTranslation(
        share, share, fill_mode=FILL, seed=seed
    ),
    "zoom": lambda share, seed: keras.layers.RandomZoom(share, fill_mode=FILL, seed=seed),
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
            default of ``core.spec.params.AUGMENTATIONS``.

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
    x: Any,
    y: np.ndarray,
    batch_size: int,
    seed: int,
    augment: Sequence[str] = (),
    training: bool = False,
    epochs: tuple[int, int] | None = None,
) -> tf.data.Dataset:
    """Return the dataset ``fit``/``evaluate`` read one split from.

    Training: shuffled with ``seed`` (a new order every epoch, the same sequence of orders
    every run; see ``core.engine.batches`` for how far a folder's split is mixed), batched,
    then augmented batch by batch when ``augment`` names any augmentation. Otherwise
    (validation, test): batched in order, never augmented. Both prefetch.

    Args:
        x: uint8 images ``(n, h, w, c)``: an array, or a folder's split read from its cache
            (``core.engine.loading.image_files.ImageFiles``).
        y: Labels as the loss takes them (``core.engine.optim.prepare_labels``: class indices, or
            one-hot rows when ``core.engine.optim.needs_one_hot``).
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
        return _epoch_seeded(batches.epoch_batches(x, y, batch_size, seed, epochs), seed, augment)
    if training:
        dataset = batches.shuffled_batches(x, y, batch_size, seed)
    else:
        dataset = batches.ordered_batches(x, y, batch_size)
    augmenter = make_augmenter(augment, seed) if training else None
    if augmenter is not None:
        dataset = _augment(dataset, augmenter.layers)
    return _prefetched(dataset)


def _augment(dataset: tf.data.Dataset, layers: list[keras.layers.Layer]) -> tf.data.Dataset:
    """Map batches through the layers, as ``keras.Sequential(layers)(images, training=True)``.

    Each layer draws its random parameters from its own seed generator, a stateful operation,
    and TensorFlow's op determinism runs a map holding one strictly in order, one batch at a
    time: the whole augmentation would run on one thread. So the work is split in the two
    steps every Keras image layer has: drawing (``get_random_transformation``, which looks
    only at the batch's shape) in an ordered map, then transforming the pixels
    (:func:`_transform`), stateless, in a parallel map. The layers draw the same numbers in
    the same order as when called whole.
    """

    def draw(images: tf.Tensor, labels: tf.Tensor) -> tuple:
        params = tuple(layer.get_random_transformation(images, training=True) for layer in layers)
        # Shapes come back partly as Python ints; a dataset element holds only tensors.
        return images, labels, tf.nest.map_structure(tf.convert_to_tensor, params)

    def transform(images: tf.Tensor, labels: tf.Tensor, params: tuple) -> tuple:
        return _transform(layers, params, images), labels

    return dataset.map(draw).map(transform, num_parallel_calls=tf.data.AUTOTUNE)


class _KeyedSeeds(keras.random.SeedGenerator):
    """Seeds for one layer's draws on one batch, from a key and a count: no state at all.

    Keras's random ops take their seed from ``SeedGenerator.next()``; this one returns
    ``key + (0, n)`` for its n-th draw, so a batch's draws depend only on its key and can
    run in any order, in parallel. It holds no variable (the parent's state is never made).
    """

    def __init__(self, key: tf.Tensor) -> None:  # noqa: D107 - no parent state on purpose
        self.key = key
        self.draws = 0

    def next(self, ordered: bool = True) -> tf.Tensor:  # noqa: ARG002 - Keras's signature
        self.draws += 1
        return self.key + tf.constant([0, self.draws], self.key.dtype)


def _keyed_draws(
    layers: list[keras.layers.Layer], images: tf.Tensor, seed: int, epoch: Any, number: Any
) -> tuple:
    """Every layer's draw for batch ``number`` of ``epoch``, keyed by (seed, layer, where).

    The draws depend only on where the batch is in the run, never on the batches before it
    (which a checkpoint cannot capture: the pipeline reads ahead).
    """
    where = tf.cast(epoch, tf.int64) * 2**20 + tf.cast(number, tf.int64) * 16
    return tuple(
        layer.get_random_transformation(
            images,
            training=True,
            seed=_KeyedSeeds(tf.stack([tf.constant(seed + i, tf.int64), where])),
        )
        for i, layer in enumerate(layers)
    )


def _transform(layers: list[keras.layers.Layer], params: tuple, images: tf.Tensor) -> tf.Tensor:
    """Apply the layers' drawn transformations to a uint8 batch; float32 pixels come out.

    Consecutive geometric layers (flip, rotation, translation, zoom) are applied as one
    resampling by the product of their matrices (:func:`_affine_matrix`): the same geometry as
    one after another, interpolated once, so only pixels that one of the steps would have
    taken from outside the image (the filled border) can differ. A flip with no other
    geometric layer beside it is left to the layer, which is cheaper than a resampling.
    """
    images = tf.cast(images, tf.float32)
    run: list[tuple[keras.layers.Layer, Any, tf.Tensor]] = []  # geometry not yet applied

    def flush(images: tf.Tensor) -> tf.Tensor:
        sampler = next((layer for layer, _, _ in run if _sampling(layer)), None)
        if sampler is None:
            for layer, param, _ in run:
                images = layer.transform_images(images, param, training=True)
        elif run:
            images = keras.ops.image.affine_transform(
                images,
                functools.reduce(_then, [matrix for _, _, matrix in run]),
                interpolation=sampler.interpolation,
                fill_mode=sampler.fill_mode,
                fill_value=sampler.fill_value,
            )
        run.clear()
        return images

    for layer, param in zip(layers, params, strict=True):
        matrix = _affine_matrix(layer, param, images)
        if matrix is None:
            images = layer.transform_images(flush(images), param, training=True)
            continue
        sampling = {_sampling(other) for other, _, _ in run} - {None}
        if _sampling(layer) is not None and sampling - {_sampling(layer)}:
            images = flush(images)
        run.append((layer, param, matrix))
    return flush(images)


def _affine_matrix(layer: keras.layers.Layer, params: Any, images: tf.Tensor) -> tf.Tensor | None:
    """The ``(batch, 8)`` output-to-input matrices of a geometric layer's draw, else None.

    Rotation, translation and zoom: the matrices their own ``transform_images`` passes to
    ``affine_transform``, made by their own helpers (through ``core.engine.compat``). A
    horizontal flip reads column ``width - 1 - x`` for output column ``x`` of each image it
    flips.
    """
    if isinstance(layer, keras.layers.RandomRotation):
        matrix = params["rotation_matrix"]
    elif isinstance(layer, keras.layers.RandomTranslation):
        matrix = compat.translation_matrix(layer, params["translations"])
    elif isinstance(layer, keras.layers.RandomZoom):
        zooms = tf.concat([params["width_zoom"], params["height_zoom"]], axis=1)
        shape = tf.shape(images)
        matrix = compat.zoom_matrix(layer, tf.cast(zooms, tf.float32), shape[1], shape[2])
    elif isinstance(layer, keras.layers.RandomFlip) and layer.mode == "horizontal":
        flips = tf.reshape(tf.cast(params["flips"], tf.float32), (-1, 1))
        last = tf.cast(tf.shape(images)[2] - 1, tf.float32)
        zero, one = tf.zeros_like(flips), tf.ones_like(flips)
        matrix = tf.concat([1 - 2 * flips, zero, flips * last, zero, one, zero, zero, zero], 1)
    else:
        return None
    return tf.cast(matrix, tf.float32)


def _sampling(layer: keras.layers.Layer) -> tuple | None:
    """How a geometric layer resamples (None for a flip, which moves whole pixels)."""
    if isinstance(layer, keras.layers.RandomFlip):
        return None
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


def _epoch_seeded(dataset: tf.data.Dataset, seed: int, augment: Sequence[str]) -> tf.data.Dataset:
    """Epoch-seeded ``(images, labels, epoch, number)`` batches, augmented from their place.

    Each batch's augmentation is drawn from ``(seed, epoch, number)``
    (:func:`_keyed_draws`), never from state carried over from earlier batches.
    """
    augmenter = make_augmenter(augment, seed)
    if augmenter is None:
        return _prefetched(dataset.map(lambda images, labels, *_: (images, labels)))
    layers = augmenter.layers

    def augmented(images: tf.Tensor, labels: tf.Tensor, epoch: tf.Tensor, number: tf.Tensor):  # noqa: ANN202
        params = _keyed_draws(layers, images, seed, epoch, number)
        return _transform(layers, params, images), labels

    # Keyed draws hold no state, so drawing and transforming run in one parallel map, on
    # all cores but one: training needs that one, and tf.data's autotuning, which does not
    # know it, took more and slowed training down on two cores.
    dataset = dataset.map(augmented, num_parallel_calls=_augment_calls(), deterministic=True)
    return _prefetched(dataset)


def _augment_calls() -> int:
    """Batches augmented at once: one per core this process may use, less one."""
    return max(1, batches.usable_cores() - 1)


def _prefetched(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Prefetch, with each batch's ops on one thread: the parallel maps already work on
    several batches at once, and splitting a batch's small ops over the threads training
    uses costs more CPU than it saves."""
    options = tf.data.Options()
    options.threading.max_intra_op_parallelism = 1
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)
