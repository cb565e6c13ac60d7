"""Built-in datasets as uint8 image arrays with a seeded, stratified validation split.

``digits`` comes with scikit-learn and is always there. The others are read by Keras's own
loaders (``keras.datasets.<name>.load_data``) from files in ``paths.keras_home(root)/datasets``;
this app never downloads them. ``missing_files`` and ``check_available`` say, without importing
Keras, whether those files are present and are the official ones, so that a missing dataset
becomes a ``DatasetUnavailable`` naming the file, the folder and the URL instead of a network
error from inside Keras.

A dataset may also be the path of a folder of class folders (people's own photos, see
``core.folders``): nothing is ever missing for those, and ``load_splits`` reads them through
``core.folder_data`` with a fixed 4% test set.

Only the standard library and NumPy are imported at module level: the UI process imports this
module and must not load TensorFlow, Keras or scikit-learn.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import paths
from core.catalog import DATASETS, DatasetInfo
from core.class_names import CLASS_NAMES
from core.config import ConfigError
from core.folders import dataset_info

# SHA-256 of the official files, exactly as Keras 3.15.1's loaders pass them to ``get_file``
# (keras/src/datasets/{mnist,cifar10,cifar100}.py). ``get_file`` re-downloads a cached file
# whose hash differs, and deletes it when that download fails, so such a file counts as missing.
# Fashion-MNIST's loader passes no hash: any file present is used as is.
_SHA256: dict[str, str] = {
    "mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "cifar-10-batches-py-target_archive": (
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    ),
    "cifar-100-python-target_archive": (
        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
    ),
}

# Digits has no test split of its own: these many images, drawn with this constant seed, are
# the test set of every run, whatever the run's seed (1797 - 360 = 1437 left for training).
DIGITS_TEST_SIZE = 360
DIGITS_TEST_SEED = 0

_hash_cache: dict[tuple[str, int, int], str] = {}
_keras_home_lock = threading.Lock()


class DatasetUnavailable(ConfigError):
    """A built-in dataset's files are not in the local cache (or are not the official ones).

    Attributes:
        dataset: The dataset key.
        missing: The files that have to be put in place.
    """

    def __init__(self, dataset: str, missing: Sequence[Path], message: str) -> None:
        """Store the dataset key and its missing files; ``message`` says what to do."""
        super().__init__("dataset", message)
        self.dataset = dataset
        self.missing = list(missing)


@dataclass(frozen=True, eq=False)
class Splits:
    """Train, validation and test arrays of one dataset.

    Images are uint8 with shape ``(N, H, W, C)`` (the model rescales them); labels are 1-D
    int64 class indices. Equality is identity: NumPy arrays have no single truth value.

    Attributes:
        x_train: Training images.
        y_train: Training labels.
        x_val: Validation images, held out of the dataset's training split.
        y_val: Validation labels.
        x_test: The dataset's own test images (a fixed held-out set for digits).
        y_test: Test labels.
        class_names: Name of each class, indexed by label.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Height, width and channels of one image."""
        height, width, channels = (int(d) for d in self.x_train.shape[1:])
        return height, width, channels

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


def missing_files(name: str, root: Path | None = None) -> list[Path]:
    """Return the files of a built-in dataset that Keras would have to download.

    A file counts as missing when it is absent, or when Keras checks its SHA-256 and the file
    does not match (Keras would then download it again). Keras is not imported.

    Args:
        name: A dataset key of ``core.catalog.DATASETS``, or the path of a folder.
        root: The cache folder; defaults to ``paths.cache_dir()``.

    Returns:
        Full paths under ``paths.keras_home(root)/"datasets"``, in catalog order; empty for
        ``digits``, for a folder (which is not opened here) or when every file is in place.

    Raises:
        ConfigError: if ``name`` is neither a built-in dataset nor an existing folder.
    """
    if name not in DATASETS and Path(name).expanduser().is_dir():
        return []
    info = dataset_info(name)
    if not info.files:
        return []
    folder = paths.keras_home(root) / "datasets"
    return [folder / rel for rel in info.files if not _usable(folder / rel, rel)]


def check_available(name: str, root: Path | None = None) -> None:
    """Make sure a dataset can be loaded without network.

    Args:
        name: A dataset key of ``core.catalog.DATASETS``, or the path of a folder of class
            folders (which is scanned: a folder has no files to fetch, but may be unusable).
        root: The cache folder; defaults to ``paths.cache_dir()``.

    Raises:
        DatasetUnavailable: naming the missing files, the folder they go in and their URL.
        ConfigError: if ``name`` is neither a built-in dataset nor an existing folder, or
            (``core.folders.UploadError``) the folder is not a usable dataset.
    """
    info = dataset_info(name)
    if name not in DATASETS:
        return
    missing = missing_files(name, root)
    if missing:
        raise DatasetUnavailable(name, missing, _unavailable_message(info, missing))
    home = paths.keras_home(root)
    if info.files and not os.access(home, os.W_OK):
        # ``get_file`` falls back to /tmp/.keras when KERAS_HOME is not writable, and would
        # then look for (and download) the files there.
        raise DatasetUnavailable(
            name,
            [],
            f"{info.title} is in {home}, but Keras needs to write in that folder; "
            "make it writable.",
        )


def load_splits(
    name: str,
    validation_split: float,
    seed: int,
    root: Path | None = None,
    img_size: int = 0,
) -> Splits:
    """Load a dataset and hold out a stratified, seeded validation share.

    ``ceil(n_train * validation_split)`` images of the dataset's training split go to
    validation (drawn with scikit-learn's ``train_test_split(stratify=..., random_state=seed)``),
    which matches ``RunConfig.train_size``. The test split is a built-in dataset's own; for a
    folder it is a fixed, stratified 4% (``core.folder_data``), so a validation split of 0.04
    gives about the 92/4/4 split of the jellyfish report.

    Args:
        name: A dataset key of ``core.catalog.DATASETS``, or the path of a folder of class
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
    if name == "digits":
        x_train, y_train, x_test, y_test = _digits()
        classes = CLASS_NAMES[name]
    elif name in DATASETS:
        check_available(name, root)
        x_train, y_train, x_test, y_test = _keras_arrays(name, root)
        classes = CLASS_NAMES[name]
    else:
        from core.folder_data import folder_arrays

        side = img_size or info.shape[0]
        x_train, y_train, x_test, y_test, classes = folder_arrays(info.name, side, root)

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

    x_fit, x_val, y_fit, y_val = train_test_split(
        x_train, y_train, test_size=n_val, stratify=y_train, random_state=seed
    )
    return Splits(x_fit, y_fit, x_val, y_val, x_test, y_test, list(classes))


def _usable(path: Path, rel: str) -> bool:
    """Return whether ``path`` is a file Keras will use without downloading it again."""
    try:
        stat = path.stat()
    except OSError:
        return False
    if not path.is_file():
        return False
    expected = _SHA256.get(rel)
    return expected is None or _sha256(path, stat.st_size, stat.st_mtime_ns) == expected


def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    """Return the file's SHA-256, remembered while its size and modification time hold."""
    key = (str(path), size, mtime_ns)
    if key not in _hash_cache:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _hash_cache[key] = digest.hexdigest()
    return _hash_cache[key]


def _unavailable_message(info: DatasetInfo, missing: Sequence[Path]) -> str:
    """Say what is wrong and which file to fetch from where, in two sentences."""
    folder = Path(os.path.commonpath([p.parent for p in missing]))
    names = [p.relative_to(folder).as_posix() for p in missing]
    listed = ", ".join(names)
    corrupt = [n for n, p in zip(names, missing, strict=True) if p.exists()]
    if corrupt:
        problem = (
            f"{info.title}: {', '.join(corrupt)} in {folder} is not the official file "
            "(its SHA-256 does not match, perhaps an incomplete download), "
            "so Keras would try to download it again."
        )
    else:
        problem = f"{info.title} is not in the local cache {folder} and cannot be downloaded here."
    if info.source.endswith("/"):
        fix = (
            f"On a machine with network, download {listed} from {info.source} "
            f"and put {'them' if len(names) > 1 else 'it'} in {folder}."
        )
    else:
        archive = " (do not extract it)" if info.source.endswith((".tar.gz", ".zip")) else ""
        fix = (
            f"On a machine with network, download {info.source} "
            f"and save it in {folder} as {listed}{archive}."
        )
    return f"{problem} {fix}"


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
    with _keras_home(home):
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


@contextlib.contextmanager
def _keras_home(home: str) -> Iterator[None]:
    """Make Keras's ``get_file`` read and write datasets under ``home`` while inside.

    Keras reads the ``KERAS_HOME`` environment variable once, when it is first imported, into
    ``keras.src.backend.config._KERAS_DIR``; ``get_file`` (with ``cache_dir=None``, as every
    ``load_data`` calls it) asks ``config.keras_home()``, which returns that variable at call
    time. Keras offers no public way to change it after import, and the dataset loaders take
    no folder, so:

    - before the first import, set ``KERAS_HOME`` (the documented way; it also makes Keras
      read and write its ``keras.json`` there, away from the user's ``~/.keras``);
    - in every case, point ``_KERAS_DIR`` at ``home`` for the duration of the call and put
      the old value back, under a lock. This is the narrowest change that also works when
      Keras was already imported with another home (the worker imports Keras first; tests
      use a temporary root per test). Copying or linking the files into Keras's current home
      would write outside the app's cache.

    Args:
        home: The folder to use as ``KERAS_HOME``.

    Raises:
        RuntimeError: if this Keras version no longer has ``_KERAS_DIR``.
    """
    if "keras" not in sys.modules:
        os.environ["KERAS_HOME"] = home
    from keras.src.backend import config as keras_config

    if not hasattr(keras_config, "_KERAS_DIR"):  # pragma: no cover - guards Keras upgrades
        raise RuntimeError(
            "keras.src.backend.config._KERAS_DIR is gone in this Keras version; "
            "core.datasets._keras_home needs updating."
        )
    with _keras_home_lock:
        previous = keras_config._KERAS_DIR
        keras_config._KERAS_DIR = home
        try:
            yield
        finally:
            keras_config._KERAS_DIR = previous
