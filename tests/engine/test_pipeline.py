"""The tf.data input pipeline: seeded shuffling, batch augmentation, untouched evaluation data."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.engine.pipeline import make_augmenter, make_dataset, parse_augment
from core.spec.config import RunConfig

AUGMENT = ("flip", "rotation:15", "translation:0.1", "zoom", "contrast", "brightness")


@pytest.fixture(scope="module", autouse=True)
def deterministic() -> None:
    # As in training: without op determinism, parallel map calls draw seeds in any order.
    tf.config.experimental.enable_op_determinism()


def _images(n: int = 24, side: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, side, side, 1), dtype=np.uint8)


def _epochs(dataset: tf.data.Dataset, count: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each pass over the dataset as (images, labels), batches joined."""
    passes = []
    for _ in range(count):
        batches = list(dataset.as_numpy_iterator())
        passes.append(
            (np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]))
        )
    return passes


def test_entries_become_the_matching_keras_layers() -> None:
    cfg = RunConfig(augment=list(AUGMENT))  # canonical entries, defaults filled in
    assert parse_augment(cfg.augment) == [
        ("flip", None),
        ("rotation", 15.0),
        ("translation", 0.1),
        ("zoom", 0.1),
        ("contrast", 0.2),
        ("brightness", 0.2),
    ]
    augmenter = make_augmenter(cfg.augment, seed=7)
    flip, rotation, translation, zoom, contrast, brightness = augmenter.layers
    assert isinstance(flip, keras.layers.RandomFlip) and flip.mode == "horizontal"
    assert isinstance(rotation, keras.layers.RandomRotation)
    assert rotation.factor == pytest.approx((-15 / 360, 15 / 360))
    assert isinstance(translation, keras.layers.RandomTranslation)
    assert translation.height_factor == translation.width_factor == 0.1
    assert isinstance(zoom, keras.layers.RandomZoom) and zoom.height_factor == 0.1
    assert isinstance(contrast, keras.layers.RandomContrast)
    assert isinstance(brightness, keras.layers.RandomBrightness)
    assert tuple(contrast.value_range) == tuple(brightness.value_range) == (0, 255)
    assert make_augmenter((), seed=7) is None
    with pytest.raises(ValueError, match="blur"):
        parse_augment(["blur"])


def test_shuffling_is_seeded_and_new_every_epoch() -> None:
    x, y = _images(), np.arange(24)
    first, second = _epochs(make_dataset(x, y, 5, seed=3, training=True))
    again, _ = _epochs(make_dataset(x, y, 5, seed=3, training=True))
    other, _ = _epochs(make_dataset(x, y, 5, seed=4, training=True))
    assert sorted(first[1]) == list(range(24))  # each image once per epoch
    assert not np.array_equal(first[1], np.arange(24))
    assert not np.array_equal(first[1], second[1])  # reshuffled
    assert np.array_equal(first[1], again[1])  # same seed, same order
    assert not np.array_equal(first[1], other[1])
    assert np.array_equal(first[0], x[first[1]])  # images travel with their labels
    assert [len(b[1]) for b in make_dataset(x, y, 5, seed=3, training=True)] == [5, 5, 5, 5, 4]


def test_augmentation_changes_each_pass_but_not_evaluation_data() -> None:
    x, y = _images(), np.arange(24)  # labels index the images, to undo the shuffle
    train = make_dataset(x, y, 8, seed=1, augment=AUGMENT, training=True)
    (a, ya), (b, yb) = _epochs(train)
    a, b = a[np.argsort(ya)], b[np.argsort(yb)]
    assert a.dtype == np.float32 and a.shape == x.shape
    assert a.min() >= 0 and a.max() <= 255
    assert not np.allclose(a, b)  # the same image, transformed anew
    assert not np.allclose(a, x)

    plain = make_dataset(x, y, 8, seed=1, training=True)
    (c, yc), (d, yd) = _epochs(plain)
    assert np.array_equal(c[np.argsort(yc)], x) and np.array_equal(d[np.argsort(yd)], x)

    for evaluation in (
        make_dataset(x, y, 8, seed=1, augment=AUGMENT, training=False),
        make_dataset(x, y, 8, seed=1),
    ):
        (e, ye), (f, yf) = _epochs(evaluation)
        assert e.dtype == np.uint8 and np.array_equal(e, x) and np.array_equal(f, x)
        assert np.array_equal(ye, y) and np.array_equal(yf, y)


def test_augmentation_repeats_with_the_same_seed() -> None:
    x, y = _images(), np.arange(24)
    runs = [
        _epochs(make_dataset(x, y, 8, seed=seed, augment=AUGMENT, training=True))
        for seed in (5, 5, 6)
    ]
    for (a, _), (b, _) in zip(runs[0], runs[1], strict=True):
        assert np.array_equal(a, b)
    assert not np.allclose(runs[0][0][0], runs[2][0][0])


def _pipeline_and_whole(
    x: np.ndarray, augment: tuple[str, ...], batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two epochs of the pipeline, the same batches through the layers called whole, and the
    batches before augmentation."""
    y = np.arange(len(x))
    (first, order), (second, order2) = _epochs(
        make_dataset(x, y, batch, seed=2, augment=augment, training=True)
    )
    augmenter = make_augmenter(augment, seed=2)  # fresh layers: same seeds, same draws

    def whole(images: np.ndarray) -> np.ndarray:
        return keras.ops.convert_to_numpy(augmenter(images.astype("float32"), training=True))

    batches = [order[:batch], order[batch:], order2[:batch], order2[batch:]]
    whole_batches = np.concatenate([whole(x[b]) for b in batches])
    return np.concatenate([first, second]), whole_batches, np.concatenate([x[b] for b in batches])


def test_the_pipeline_transforms_exactly_as_the_layers_called_whole() -> None:
    got, expected, _ = _pipeline_and_whole(_images(), ("flip", "contrast", "brightness"), 12)
    assert np.array_equal(got, expected)


def test_consecutive_geometric_layers_resample_once_to_the_same_geometry() -> None:
    # On a linear ramp, bilinear interpolation is exact, so resampling once through the
    # product of the matrices gives what rotating, then shifting, then zooming gives, wherever
    # no step reads outside the image (the filled border, where the two may differ).
    rows, cols = np.mgrid[0:32, 0:32]
    ramp = (3 * cols + 2 * rows + 20).astype(np.uint8)[..., None]
    x = np.stack([ramp + i for i in range(24)])
    augment = ("flip", "rotation:15", "translation:0.1", "zoom")
    got, expected, source = _pipeline_and_whole(x, augment, 12)
    centre = (slice(None), slice(12, 20), slice(12, 20))
    assert np.abs(got[centre] - expected[centre]).max() < 0.01
    assert np.abs(got[centre] - source[centre]).mean() > 1  # the images did move
    # Noise is not linear: there the single resampling is visibly different, but no blurrier.
    noisy, twice, _ = _pipeline_and_whole(_images(24, 32), augment, 12)
    assert not np.allclose(noisy, twice)
    assert noisy[centre].std() >= twice[centre].std()


def test_flip_mirrors_some_images_and_keeps_the_others() -> None:
    x = _images(64)
    flipped = make_augmenter(["flip"], seed=0)(x.astype("float32"), training=True)
    flipped = keras.ops.convert_to_numpy(flipped)
    mirrored = [np.array_equal(f, o[:, ::-1]) for f, o in zip(flipped, x, strict=True)]
    kept = [np.array_equal(f, o) for f, o in zip(flipped, x, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 10 < sum(mirrored) < 54


@pytest.mark.parametrize("entry", ["rotation:30", "translation:0.3", "zoom:0.5"])
def test_geometric_augmentations_move_pixels(entry: str) -> None:
    x = _images(16, side=16)
    out = keras.ops.convert_to_numpy(
        make_augmenter([entry], seed=0)(x.astype("float32"), training=True)
    )
    changed = [not np.allclose(o, i) for o, i in zip(out, x, strict=True)]
    assert sum(changed) >= 12
    # moving pixels around (with borders filled from the edge) keeps the overall brightness
    assert abs(out.mean() - x.mean()) < 10


def test_brightness_and_contrast_change_intensities() -> None:
    x = np.full((32, 4, 4, 1), 100, np.uint8)
    x[:, :2] = 160
    bright = keras.ops.convert_to_numpy(
        make_augmenter(["brightness:0.5"], seed=0)(x.astype("float32"), training=True)
    )
    shifts = bright.mean(axis=(1, 2, 3)) - x.mean()
    assert np.ptp(shifts) > 30  # images shifted by different amounts
    contrast = keras.ops.convert_to_numpy(
        make_augmenter(["contrast:0.9"], seed=0)(x.astype("float32"), training=True)
    )
    spreads = contrast.max(axis=(1, 2, 3)) - contrast.min(axis=(1, 2, 3))
    assert np.ptp(spreads) > 20  # the gap of 60 between the halves stretched or squeezed


def test_one_hot_labels_pass_through_unchanged() -> None:
    x = _images(10)
    y = np.eye(10, dtype=np.float32)
    (images, labels), _ = _epochs(make_dataset(x, y, 4, seed=0, augment=["flip"], training=True))
    assert labels.shape == (10, 10) and labels.dtype == np.float32
    assert sorted(labels.argmax(axis=1).tolist()) == list(range(10))
