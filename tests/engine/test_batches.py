"""Where batches come from: arrays read in place, a folder's cache a bounded window at a time."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from core.engine import batches
from core.engine.loading.datasets import load_splits, merge_validation
from core.engine.loading.image_files import ImageFiles

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="module", autouse=True)
def deterministic() -> None:
    tf.config.experimental.enable_op_determinism()


def folder_split(tmp_path: Path, per_class: int = 20) -> tuple[ImageFiles, np.ndarray]:
    """A folder's training split whose green pixel numbers each image (0..3*per_class-1)."""
    for label in range(3):
        (tmp_path / "jelly" / f"c{label}").mkdir(parents=True)
        for i in range(per_class):
            number = label * per_class + i
            Image.new("RGB", (4, 4), (0, number, 0)).save(
                tmp_path / "jelly" / f"c{label}" / f"{i}.png"
            )
    splits = load_splits(str(tmp_path / "jelly"), 0.1, 0, tmp_path / "cache", img_size=4)
    return splits.x_train, splits.y_train


def epochs_of(dataset: tf.data.Dataset) -> dict[int, list[int]]:
    """Image numbers (green pixels) read in each epoch, in order."""
    found: dict[int, list[int]] = {}
    for images, _, epoch, _ in dataset.as_numpy_iterator():
        found.setdefault(int(epoch), []).extend(images[:, 0, 0, 1].tolist())
    return found


def test_a_folder_epoch_depends_only_on_seed_and_epoch_and_mixes_within_a_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = folder_split(tmp_path)
    monkeypatch.setattr(batches, "MIN_SHUFFLE", 8)
    monkeypatch.setattr(batches, "SHUFFLE_BYTES", 8 * 4 * 4 * 3)  # windows of 8 images
    assert batches.shuffle_images(x) == 8 < len(x)
    whole = epochs_of(batches.epoch_batches(x, y, 5, seed=3, epochs=(0, 3)))
    alone = epochs_of(batches.epoch_batches(x, y, 5, seed=3, epochs=(2, 3)))
    assert alone[2] == whole[2]  # a run continued at epoch 2 reads what it read
    # The cache as stored, every split's images: windows are 8 of these in a row.
    stored = [
        (int(image[0, 0, 1]), int(at))
        for images, places in x.placed_blocks().as_numpy_iterator()
        for image, at in zip(images, places, strict=True)
    ]
    windows = [
        sorted(green for green, at in stored[start : start + 8] if at >= 0)
        for start in range(0, len(stored), 8)
    ]
    for epoch in whole.values():
        assert len(epoch) == len(x)  # every image of the split once an epoch ...
        for window in windows:  # ... none leaving its window
            assert sorted(epoch[: len(window)]) == window
            epoch = epoch[len(window) :]
    assert len({tuple(e) for e in whole.values()}) == 3
    other = epochs_of(batches.epoch_batches(x, y, 5, seed=4, epochs=(2, 3)))
    assert other[2] != whole[2]


def test_a_folder_window_is_bounded_by_bytes_not_by_the_split(tmp_path: Path) -> None:
    x, _ = folder_split(tmp_path, per_class=8)
    assert batches.shuffle_images(x) == len(x)  # a small split is mixed whole
    # A split of 100,000 images of 64 × 64: the window holds SHUFFLE_BYTES of them.
    big = ImageFiles(dataclasses.replace(x.cache, side=64), np.zeros(100_000, np.int64))
    assert batches.shuffle_images(big) == batches.SHUFFLE_BYTES // (64 * 64 * 3) < 100_000
    huge = ImageFiles(dataclasses.replace(x.cache, side=1024), big.rows)
    assert batches.shuffle_images(huge) == batches.MIN_SHUFFLE  # never fewer than that
    assert batches.held_bytes(x, 8, augmented=True) > batches.held_bytes(x, 8, augmented=False)


def test_arrays_are_split_in_place_and_read_without_a_copy() -> None:
    splits = load_splits("digits", 0.2, 0, None)
    assert splits.x_train.base is not None and splits.x_train.base is splits.x_val.base
    from sklearn.model_selection import train_test_split

    from core.engine.loading.datasets import _digits

    x, y, _, _ = _digits()
    x_fit, x_val, _, _ = train_test_split(
        x, y, test_size=len(splits.y_val), stratify=y, random_state=0
    )
    np.testing.assert_array_equal(splits.x_train, x_fit)  # the same draw as before
    np.testing.assert_array_equal(splits.x_val, x_val)
    assert merge_validation(splits).x_train is splits.x_train.base  # joined again, not copied
    labels = splits.y_train
    read = batches.epoch_batches(splits.x_train, labels, 64, seed=0, epochs=(0, 1))
    images = np.concatenate([b[0] for b in read.as_numpy_iterator()])
    assert sorted(map(bytes, images)) == sorted(map(bytes, splits.x_train))


def test_usable_cores_is_at_least_one_and_at_most_the_machine() -> None:
    assert 1 <= batches.usable_cores() <= (os.cpu_count() or 1)
