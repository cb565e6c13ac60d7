"""Built-in datasets as uint8 image arrays with a seeded, stratified validation split.

``digits`` comes with scikit-learn and is always there. The others are read by Keras's own
loaders (``keras.datasets.<name>.load_data``) from files in ``paths.keras_home(root)/datasets``;
this app never downloads them; ``core.data.availability`` says beforehand, without Keras,
whether those files are in place.

A dataset may also be the path of a folder of class folders (people's own photos, see
``core.data.folders``): nothing is ever missing for those, and ``load_splits`` reads them through
``core.engine.loading.folders`` with a fixed, stratified 20% test set (none for a folder too
small to give every class 10 test images), as files read from a cache on disk, never as one
array in memory.

A built-in dataset's arrays are held once: the validation draw moves rows in place and the
two parts are views of one array.

Only the standard library and NumPy are imported at module level; Keras and scikit-learn load
when a dataset is read.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.data.availability import check_available
from core.data.folders import dataset_info
from core.engine import compat
from core.engine.loading.image_files import ImageFiles, join
from core.spec.catalog import DATASETS
from core.spec.class_names import CLASS_NAMES
from core.spec.config import ConfigError
from core.store import paths

# Digits has no test split of its own: these many images, drawn with this constant seed, are
# the test set of every run, whatever the run's seed (1797 - 360 = 1437 left for training).
DIGITS_TEST_SIZE = 360
DIGITS_TEST_SEED = 0

# A split's images: an array in memory, or a folder's files read from their cache.
Images = np.ndarray | ImageFiles


@dataclass(frozen=True, eq=False)
class Splits:
    """Train, validation and test arrays of one dataset.

    Images are uint8 with shape ``(N, H, W, C)`` (the model rescales them): arrays for the
    built-in datasets, a folder's :class:`~core.engine.loading.image_files.ImageFiles` (read
    from its cache on disk) for a folder; labels are 1-D int64 class indices. Equality is
    identity: NumPy arrays have no single truth value.

    Attributes:
        x_train: Training images.
        y_train: Training labels.
        x_val: Validation images, held out of the dataset's training split.
        y_val: Validation labels.
        x_test: The dataset's own test images (a fixed held-out set for digits).
        y_test: Test labels.
        class_names: Name of each class, indexed by label.
        skipped: A folder's files that did not decode, by name, with why (left out of
            every split).
    """

    x_train: Images
    y_train: np.ndarray
    x_val: Images
    y_val: np.ndarray
    x_test: Images
    y_test: np.ndarray
    class_names: list[str]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Height, width and channels of one image."""
        height, width, channels = (int(d) for d in self.x_train.shape[1:])
        return height, width, channels

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


def load_splits(
    name: str,
    validation_split: float,
    seed: int,
    root: Path | None = None,
    img_size: int = 0,
) -> Splits:
    """Load a dataset and hold out a stratified, seeded validation share.

    ``ceil(n_train * validation_split)`` images of the dataset's training split go to validation
    (drawn with scikit-learn's ``train_test_split(stratify=..., random_state=seed)``), which matches
    ``core.data.checks.train_size``. The test split is a built-in dataset's own; for a folder it is
    a fixed, stratified 20% (``core.engine.loading.folders``), or empty for a folder too small
    for one.

    Args:
        name: A dataset key of ``core.spec.catalog.DATASETS``, or the path of a folder of class
            folders.
        validation_split: Share of the training split to hold out, above 0 and below 1.
        seed: Seed of the validation draw.
        root: The cache folder; defaults to ``paths.cache_dir()``.
        img_size: Side a folder's images are resized to (0: ``folders.default_side``). Built-in
            datasets keep their own size here; the model resizes them.

    Returns:
        The three splits and the class names (a folder's class folder names).

    Raises:
        DatasetUnavailable: if the dataset's files are not in the cache.
        ConfigError: for an unknown dataset or an unusable folder, or a validation split
            that cannot hold at least one image of every class in both parts.
    """
    info = dataset_info(name)
    if not 0.0 < validation_split < 1.0:
        raise ConfigError(
            "validation_split",
            f"validation split must be above 0 and below 1 (got {validation_split:g}).",
        )
    skipped: dict[str, str] = {}
    if name == "digits":
        x_train, y_train, x_test, y_test = _digits()
        classes = CLASS_NAMES[name]
    elif name in DATASETS:
        check_available(name, root)
        x_train, y_train, x_test, y_test = _keras_arrays(name, root)
        classes = CLASS_NAMES[name]
    else:
        from core.engine.loading.folders import folder_files

        side = img_size or info.shape[0]
        x_train, y_train, x_test, y_test, classes, skipped = folder_files(info.name, side, root)

    n_train = len(y_train)
    n_val = math.ceil(n_train * validation_split)
    if n_val < len(classes) or n_train - n_val < len(classes):
        raise ConfigError(
            "validation_split",
            f"a validation split of {validation_split:g} leaves {n_val} of {n_train} "
            f"{info.title} images for validation; both parts need at least one image of each "
            f"of the {len(classes)} classes.",
        )

    from sklearn.model_selection import train_test_split

    # The draw is made on positions, so no image is copied to make it.
    fit, val = train_test_split(
        np.arange(n_train), test_size=n_val, stratify=y_train, random_state=seed
    )
    if isinstance(x_train, ImageFiles):
        x_fit, x_val = x_train.subset(fit), x_train.subset(val)
    else:
        x_fit, x_val = _split_rows(x_train, fit, val)
    y_fit, y_val = y_train[fit], y_train[val]
    return Splits(x_fit, y_fit, x_val, y_val, x_test, y_test, list(classes), skipped)


def _split_rows(
    x: np.ndarray, first: np.ndarray, second: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``x[first]`` and ``x[second]`` as two views of ``x``, its rows moved in place.

    ``first`` and ``second`` together hold every row once. The rows are permuted cycle by
    cycle with one row of scratch, so the images exist once, not once per part as well.
    """
    if not x.flags.writeable:
        x = x.copy()
    order = np.concatenate([first, second])
    done = np.zeros(len(order), dtype=bool)
    for start in range(len(order)):
        if done[start] or order[start] == start:
            continue
        held = x[start].copy()
        at = start
        while True:
            done[at] = True
            source = order[at]
            if source == start:
                x[at] = held
                break
            x[at] = x[source]
            at = source
    return x[: len(first)], x[len(first) :]


def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return scikit-learn's digits as uint8 (N, 8, 8, 1) images with a fixed test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    # Values are 0..16: scale to 0..255 with round-half-up integer arithmetic.
    scaled = (bunch.images.astype(np.int64) * 255 + 8) // 16
    images = scaled.astype(np.uint8)[..., np.newaxis]
    labels = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        labels,
        test_size=DIGITS_TEST_SIZE,
        stratify=labels,
        random_state=DIGITS_TEST_SEED,
    )
    return x_train, y_train, x_test, y_test


def _keras_arrays(
    name: str, root: Path | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return a Keras dataset's arrays, parsed once and then read from a joblib cache."""
    import joblib

    base = root or paths.cache_dir()
    home = paths.keras_home(base)
    folder = home / "datasets"
    # Part of the cache key, so that replacing a file invalidates the parsed arrays.
    signature = tuple(
        (rel, (folder / rel).stat().st_size, (folder / rel).stat().st_mtime_ns)
        for rel in DATASETS[name].files
    )
    memory = joblib.Memory(location=base / "datasets" / "joblib", verbose=0)
    return memory.cache(_read_with_keras)(name, str(home), signature)


def _read_with_keras(
    name: str, home: str, signature: tuple[tuple[str, int, int], ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run Keras's loader for ``name`` against ``home`` and normalise its arrays.

    Args:
        name: A Keras dataset key.
        home: The folder to use as ``KERAS_HOME``.
        signature: Only part of the joblib cache key (file sizes and times).

    Returns:
        ``x_train, y_train, x_test, y_test``: contiguous uint8 (N, H, W, C) images and 1-D
        int64 labels.
    """
    del signature
    with compat.keras_home(home):
        import keras

        loaders = {
            "mnist": keras.datasets.mnist.load_data,
            "fashion_mnist": keras.datasets.fashion_mnist.load_data,
            "cifar10": keras.datasets.cifar10.load_data,
            "cifar100": lambda: keras.datasets.cifar100.load_data(label_mode="fine"),
        }
        (x_train, y_train), (x_test, y_test) = loaders[name]()
        channels_first = keras.config.image_data_format() == "channels_first"
    return (
        _images(x_train, channels_first),
        np.asarray(y_train, dtype=np.int64).reshape(-1),
        _images(x_test, channels_first),
        np.asarray(y_test, dtype=np.int64).reshape(-1),
    )


def _images(x: np.ndarray, channels_first: bool) -> np.ndarray:
    """Return images as contiguous uint8 (N, H, W, C)."""
    if x.ndim == 3:
        x = x[..., np.newaxis]  # MNIST-style (N, 28, 28)
    elif channels_first:
        x = x.transpose(0, 2, 3, 1)  # CIFAR is transposed only under channels_last
    return np.ascontiguousarray(x, dtype=np.uint8)


def _rejoined(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``concatenate([first, second])``; the array they are views of when they lie end to end."""
    base = first.base
    if (
        isinstance(base, np.ndarray)
        and second.base is base
        and len(base) == len(first) + len(second)
        and first.ctypes.data == base.ctypes.data
        and second.ctypes.data == base.ctypes.data + first.nbytes
    ):
        return base
    return np.concatenate([first, second])


def merge_validation(splits: Splits) -> Splits:
    """Return the splits with the validation images moved into training (none left over).

    Args:
        splits: The splits of a run.

    Returns:
        A copy whose training arrays are the training then the validation arrays, and whose
        validation arrays are empty.
    """
    y_train = np.concatenate([splits.y_train, splits.y_val])
    return dataclasses.replace(
        splits,
        x_train=(
            join(splits.x_train, splits.x_val)
            if isinstance(splits.x_train, ImageFiles)
            else _rejoined(splits.x_train, splits.x_val)
        ),
        y_train=y_train,
        x_val=splits.x_val[:0],
        y_val=splits.y_val[:0],
    )
