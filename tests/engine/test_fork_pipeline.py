"""The epoch-seeded training pipeline: epoch e's batches depend only on (seed, e)."""

from __future__ import annotations

import numpy as np

from core.engine.pipeline import make_dataset

X = (np.arange(23 * 8 * 8 * 1) % 251).astype("uint8").reshape(23, 8, 8, 1)
Y = np.arange(23)
AUGMENT = ("flip", "rotation:20", "zoom:0.2")


def _batches(first: int, augment: tuple = (), seed: int = 3) -> list[tuple]:
    dataset = make_dataset(X, Y, 5, seed, augment, training=True, epochs=(first, 3))
    return [(images.numpy(), labels.numpy()) for images, labels in dataset]


def _same(a: list[tuple], b: list[tuple]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True)
    )


def test_later_epochs_are_the_same_whichever_epoch_the_dataset_starts_at() -> None:
    for augment in ((), AUGMENT):
        whole, tail = _batches(0, augment), _batches(1, augment)
        assert len(whole) == 15 and len(tail) == 10  # 5 batches per epoch, none across
        assert _same(whole[5:], tail)


def test_each_epoch_is_a_new_order_of_every_image_and_seeds_differ() -> None:
    epochs = [np.concatenate([b[1] for b in _batches(0)[i * 5 : i * 5 + 5]]) for i in range(3)]
    assert all(sorted(e) == list(range(23)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])
    other = np.concatenate([b[1] for b in _batches(0, seed=4)[:5]])
    assert not np.array_equal(epochs[0], other)


def test_augmentation_changes_the_images_it_draws_for() -> None:
    plain, augmented = _batches(0), _batches(0, AUGMENT)
    assert [b[1].tolist() for b in plain] == [b[1].tolist() for b in augmented]
    assert augmented[0][0].dtype == np.float32
    assert not np.allclose(plain[0][0].astype(np.float32), augmented[0][0])


def test_every_batch_draws_its_own_transformations() -> None:
    # One image everywhere: a batch's pattern of flipped and kept images is its draw alone.
    same = np.repeat(X[:1], 40, axis=0)
    dataset = make_dataset(same, np.arange(40), 8, 3, ("flip",), training=True, epochs=(0, 2))
    patterns = {
        tuple(np.array_equal(image, same[0]) for image in images.numpy()) for images, _ in dataset
    }
    assert len(patterns) >= 8  # ten batches; a draw shared between batches would repeat
