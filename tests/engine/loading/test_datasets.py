"""Tests for core.engine.loading.datasets: offline checks, Keras's loaders on small files, splits.

The Keras datasets are exercised through Keras's own ``load_data`` on files these tests write,
in the original formats, into a temporary cache root: ``mnist.npz``, Fashion-MNIST's gzipped
IDX files, and the CIFAR-10 / CIFAR-100 tar.gz archives of pickled batches.

Hashes: Keras's MNIST and CIFAR loaders pass a fixed SHA-256 to ``get_file``, which compares
it with any cached file and, on a mismatch, downloads the file again (and deletes the cached
one when that fails). No small test file can have the official hash, and ``load_data`` takes
no hash argument, so the ``keras_offline`` fixture replaces ``keras.src.utils.file_utils.
validate_file`` with a spy that accepts the file and records its path, and replaces
``file_utils.urlretrieve`` with a function that fails the test: everything else (where
``get_file`` looks, the archive extraction, the parsing) is Keras's real code, and a test
passes only if Keras found the files in the temporary root without any download. On our side,
``trust`` puts the test file's own hash into ``core.data.availability._SHA256``; the hashes
are checked against the Keras sources in ``test_official_hashes_match_keras_loaders``.
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import io
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from core.data import availability
from core.data.availability import DatasetUnavailable, check_available, missing_files
from core.data.checks import train_size
from core.data.folders import FOLDER_IMAGE_SIZE
from core.engine.loading.datasets import CLASS_NAMES, Splits, load_splits
from core.engine.loading.image_files import ImageFiles
from core.spec.catalog import DATASETS
from core.spec.config import ConfigError, RunConfig
from core.spec.scores import wilson_interval
from core.store import paths

PROJECT_ROOT = Path(__file__).resolve().parents[3]


# ---------------------------------------------------------------------------------------------
# Fixtures and writers of small files in Keras's formats
# ---------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _restore_keras_home_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the ``KERAS_HOME`` that ``load_splits`` sets when it is first to import Keras."""
    original = os.environ.get("KERAS_HOME")
    monkeypatch.setenv("KERAS_HOME", original or "placeholder")
    if original is None:
        monkeypatch.delenv("KERAS_HOME")


@pytest.fixture
def keras_offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Accept test files whatever their hash, forbid downloads; return the validated paths."""
    pytest.importorskip("keras")
    from keras.src.utils import file_utils

    validated: list[str] = []

    def accept(fpath: str, file_hash: str, algorithm: str = "auto", chunk_size: int = 0) -> bool:
        validated.append(str(fpath))
        return True

    def no_network(url: str, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"Keras tried to download {url}")

    monkeypatch.setattr(file_utils, "validate_file", accept)
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    return validated


def trust(monkeypatch: pytest.MonkeyPatch, path: Path, rel: str) -> None:
    """Make core.engine.loading.datasets treat ``path`` as the official file ``rel``."""
    monkeypatch.setitem(availability._SHA256, rel, hashlib.sha256(path.read_bytes()).hexdigest())


def data_dir(root: Path) -> Path:
    """Return (and create) the folder Keras reads datasets from under ``root``."""
    path = paths.keras_home(root) / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def labelled_images(labels: np.ndarray, size: int = 28) -> np.ndarray:
    """Images whose pixels equal 20 * label, except pixels 0-1 of row 1 encoding the index."""
    x = np.repeat((labels.astype(np.uint8) * 20)[:, None, None], size * size, axis=1)
    x = x.reshape(len(labels), size, size)
    index = np.arange(len(labels))
    x[:, 1, 0] = index % 256
    x[:, 1, 1] = index // 256
    return x


def balanced(n_per_class: int, n_classes: int = 10) -> np.ndarray:
    """Labels 0..n_classes-1, repeated ``n_per_class`` times."""
    return np.tile(np.arange(n_classes, dtype=np.uint8), n_per_class)


def write_mnist(root: Path, n_per_class: int = 20) -> Path:
    y_train, y_test = balanced(n_per_class), balanced(3)
    path = data_dir(root) / "mnist.npz"
    np.savez(
        path,
        x_train=labelled_images(y_train),
        y_train=y_train,
        x_test=labelled_images(y_test),
        y_test=y_test,
    )
    return path


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a gzipped IDX file (unsigned bytes), as Fashion-MNIST ships them."""
    magic = 0x0800 + array.ndim
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def write_fashion_mnist(root: Path) -> Path:
    folder = data_dir(root) / "fashion-mnist"
    folder.mkdir(exist_ok=True)
    y_train, y_test = balanced(10), balanced(2)
    write_idx(folder / "train-labels-idx1-ubyte.gz", y_train)
    write_idx(folder / "train-images-idx3-ubyte.gz", labelled_images(y_train))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y_test)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", labelled_images(y_test))
    return folder


def cifar_rows(red: np.ndarray) -> np.ndarray:
    """CIFAR rows (N, 3072): red plane = ``red``, green plane 1, blue plane 2."""
    data = np.empty((len(red), 3072), dtype=np.uint8)
    data[:, :1024] = red[:, None]
    data[:, 1024:2048] = 1
    data[:, 2048:] = 2
    return data


def write_tar_gz(path: Path, members: dict[str, object]) -> None:
    """Write pickled members into a tar.gz (protocol 3: Python 3 bytes, no ``_codecs``)."""
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for name, obj in members.items():
            payload = pickle.dumps(obj, protocol=3)
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))


def write_cifar10(root: Path) -> Path:
    """Write CIFAR-10 as Keras reads it: five full 10,000-image batches and a small test batch.

    Keras's loader fills a fixed (50000, 3, 32, 32) array, 10,000 rows per batch, so the
    training batches cannot be smaller; uniform planes keep the archive tiny.
    """
    members: dict[str, object] = {}
    for i in range(1, 6):
        labels = [int(v) for v in balanced(1000)]
        members[f"cifar-10-batches-py/data_batch_{i}"] = {
            b"batch_label": f"training batch {i} of 5".encode(),
            b"labels": labels,
            b"data": cifar_rows(np.array(labels, dtype=np.uint8) * 20),
            b"filenames": [b"x.png"] * len(labels),
        }
    test_labels = [int(v) for v in balanced(3)]
    members["cifar-10-batches-py/test_batch"] = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": test_labels,
        b"data": cifar_rows(np.array(test_labels, dtype=np.uint8) * 20),
        b"filenames": [b"x.png"] * len(test_labels),
    }
    members["cifar-10-batches-py/batches.meta"] = {
        b"label_names": [n.encode() for n in CLASS_NAMES["cifar10"]],
        b"num_vis": 3072,
        b"num_cases_per_batch": 10000,
    }
    path = data_dir(root) / "cifar-10-batches-py-target_archive"
    write_tar_gz(path, members)
    return path


def write_cifar100(root: Path, n_per_class: int = 4) -> Path:
    """Write CIFAR-100's train/test/meta pickles; the red plane holds the fine label."""

    def batch(fine: np.ndarray) -> dict[bytes, object]:
        return {
            b"filenames": [b"x.png"] * len(fine),
            b"batch_label": b"training batch 1 of 1",
            b"fine_labels": [int(v) for v in fine],
            b"coarse_labels": [int(v) // 5 for v in fine],
            b"data": cifar_rows(fine),
        }

    members = {
        "cifar-100-python/train": batch(balanced(n_per_class, 100)),
        "cifar-100-python/test": batch(balanced(1, 100)),
        "cifar-100-python/meta": {
            b"fine_label_names": [n.encode() for n in CLASS_NAMES["cifar100"]],
            b"coarse_label_names": [f"super{i}".encode() for i in range(20)],
        },
    }
    path = data_dir(root) / "cifar-100-python-target_archive"
    write_tar_gz(path, members)
    return path


def assert_labels_follow_images(splits: Splits, scale: int = 20) -> None:
    for x, y in (
        (splits.x_train, splits.y_train),
        (splits.x_val, splits.y_val),
        (splits.x_test, splits.y_test),
    ):
        assert x.dtype == np.uint8
        assert y.ndim == 1 and y.dtype == np.int64
        np.testing.assert_array_equal(pixels(x)[:, 0, 0, 0], y * scale)


# ---------------------------------------------------------------------------------------------
# Import weight and offline checks (no Keras)
# ---------------------------------------------------------------------------------------------


# What importing the data modules loads, in a fresh process (import-linter sees imports, not
# what a module's import runs; Keras's home at its first import is pinned in test_compat.py).
FRESH_PROCESS = """
import json, sys
import core.data.folder_scan, core.data.folders, core.views.folder_preview
import core.engine.loading.datasets, core.engine.loading.folders
heavy = ("tensorflow", "keras", "sklearn", "streamlit")
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(heavy))))
"""


def test_import_does_not_load_tensorflow_keras_or_sklearn() -> None:
    # The loaders and the folder modules the Train page's preview uses import Keras and
    # scikit-learn only when they read a dataset (Streamlit: never).
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_missing_files_is_empty_for_digits(tmp_path: Path) -> None:
    assert missing_files("digits", tmp_path) == []
    check_available("digits", tmp_path)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "cifar100"])
def test_missing_files_lists_every_file_of_an_empty_cache(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "keras" / "datasets"
    assert missing_files(name, tmp_path) == [folder / f for f in DATASETS[name].files]


@pytest.mark.parametrize(
    ("name", "folder", "files"),
    [
        ("mnist", "", ["mnist.npz"]),
        (
            "fashion_mnist",
            "fashion-mnist",
            ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"],
        ),
        ("cifar10", "", ["cifar-10-batches-py-target_archive"]),
        ("cifar100", "", ["cifar-100-python-target_archive"]),
    ],
)
def test_check_available_names_files_folder_and_url(
    tmp_path: Path, name: str, folder: str, files: list[str]
) -> None:
    with pytest.raises(DatasetUnavailable, match="On a machine with network") as caught:
        check_available(name, tmp_path)
    exc = caught.value
    expected_folder = tmp_path / "keras" / "datasets" / folder
    assert exc.field == "dataset" and exc.dataset == name
    assert str(expected_folder) in exc.message
    for file in files:
        assert file in exc.message
    assert DATASETS[name].source in exc.message
    assert exc.message.count(". ") <= 2 and "Traceback" not in exc.message


def test_check_available_tells_to_keep_cifar_archive_packed(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetUnavailable,
        match=r"cifar-10-python\.tar\.gz and save it in .* "
        r"as cifar-10-batches-py-target_archive \(do not extract it\)",
    ):
        check_available("cifar10", tmp_path)


def test_missing_files_lists_only_the_absent_fashion_files(tmp_path: Path) -> None:
    folder = write_fashion_mnist(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    assert missing_files("fashion_mnist", tmp_path) == [folder / "t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DatasetUnavailable, match=r"download t10k-labels-idx1-ubyte\.gz from "):
        check_available("fashion_mnist", tmp_path)


def test_file_with_wrong_hash_counts_as_missing(tmp_path: Path) -> None:
    path = write_mnist(tmp_path)  # not the official file: its SHA-256 differs
    assert missing_files("mnist", tmp_path) == [path]
    with pytest.raises(DatasetUnavailable, match=r"mnist\.npz in .* is not the official file"):
        check_available("mnist", tmp_path)


def test_file_with_official_hash_is_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_mnist(tmp_path)
    trust(monkeypatch, path, "mnist.npz")
    assert missing_files("mnist", tmp_path) == []
    check_available("mnist", tmp_path)


def test_unknown_dataset_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown value 'svhn'"):
        missing_files("svhn", tmp_path)


def test_official_hashes_and_names_match_keras_loaders() -> None:
    pytest.importorskip("keras")
    from keras.src.datasets import cifar10, cifar100, mnist
    from keras.src.utils import file_utils

    # get_file(fname=X, extract=True) with no "." in X keeps the archive as X_archive and
    # decides whether to download by that file alone (the extracted folder is not looked at).
    assert 'f"{fname}_archive"' in inspect.getsource(file_utils.get_file)
    for module, fname, rel in (
        (mnist, "mnist.npz", "mnist.npz"),
        (cifar10, "cifar-10-batches-py-target", "cifar-10-batches-py-target_archive"),
        (cifar100, "cifar-100-python-target", "cifar-100-python-target_archive"),
    ):
        source = inspect.getsource(module.load_data)
        assert availability._SHA256[rel] in source
        assert f'"{fname}"' in source


def test_class_names_are_complete() -> None:
    for name, info in DATASETS.items():
        assert len(CLASS_NAMES[name]) == info.num_classes
    fine = CLASS_NAMES["cifar100"]
    assert fine == sorted(fine) and len(set(fine)) == 100
    assert fine[:3] == ["apple", "aquarium_fish", "baby"] and fine[-1] == "worm"
    assert CLASS_NAMES["fashion_mnist"][0] == "T-shirt/top"
    assert CLASS_NAMES["fashion_mnist"][9] == "Ankle boot"


# ---------------------------------------------------------------------------------------------
# Digits (scikit-learn, embedded)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", [0.1, 0.2, 0.33])
def test_digits_sizes_match_catalog_and_run_config(tmp_path: Path, split: float) -> None:
    splits = load_splits("digits", split, 0, tmp_path)
    n_val = math.ceil(1437 * split)
    assert len(splits.x_val) == len(splits.y_val) == n_val
    assert len(splits.x_train) == train_size(RunConfig(validation_split=split)) == 1437 - n_val
    assert len(splits.x_test) == len(splits.y_test) == 360
    assert splits.input_shape == DATASETS["digits"].shape == (8, 8, 1)
    assert splits.num_classes == 10 and splits.class_names == [str(i) for i in range(10)]


def test_digits_pixels_are_uint8_scaled_to_255(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    splits = load_splits("digits", 0.2, 0, tmp_path)
    assert splits.x_train.dtype == np.uint8 and splits.x_train.shape[1:] == (8, 8, 1)
    assert splits.x_train.max() == 255 and splits.x_train.min() == 0
    values = np.unique(np.concatenate([splits.x_train.ravel(), splits.x_test.ravel()]))
    assert set(values) <= {round(v * 255 / 16) for v in range(17)}
    original = load_digits().images
    all_x = np.concatenate([splits.x_train, splits.x_val, splits.x_test])
    assert sorted(map(bytes, all_x)) == sorted(
        bytes(np.rint(img * 255 / 16).astype(np.uint8)[..., None]) for img in original
    )


def test_digits_test_split_is_the_same_for_every_seed(tmp_path: Path) -> None:
    a = load_splits("digits", 0.2, 0, tmp_path)
    b = load_splits("digits", 0.3, 7, tmp_path)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_test, b.y_test)


def test_split_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = load_splits("digits", 0.2, 3, tmp_path)
    b = load_splits("digits", 0.2, 3, tmp_path)
    c = load_splits("digits", 0.2, 4, tmp_path)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_val, c.x_val)


def test_split_is_stratified(tmp_path: Path) -> None:
    splits = load_splits("digits", 0.25, 11, tmp_path)
    n_val = len(splits.y_val)
    full = np.concatenate([splits.y_train, splits.y_val])
    expected = np.bincount(full, minlength=10) / len(full) * n_val
    assert np.all(np.abs(np.bincount(splits.y_val, minlength=10) - expected) <= 1)


def test_validation_split_must_leave_every_class_on_both_sides(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least one image of each of the 10 classes"):
        load_splits("digits", 0.001, 0, tmp_path)
    with pytest.raises(ConfigError, match="above 0 and below 1"):
        load_splits("digits", 1.0, 0, tmp_path)


def test_splits_compare_by_identity(tmp_path: Path) -> None:
    splits = load_splits("digits", 0.2, 0, tmp_path)
    assert splits == splits and splits != load_splits("digits", 0.2, 0, tmp_path)
    with pytest.raises(AttributeError):
        splits.class_names = []  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Keras datasets through Keras's own loaders, on small files in a temporary root
# ---------------------------------------------------------------------------------------------


def test_missing_keras_dataset_raises_before_any_download(
    tmp_path: Path, keras_offline: list[str]
) -> None:
    path = write_mnist(tmp_path)  # wrong hash: Keras would delete it and download again
    with pytest.raises(DatasetUnavailable, match=r"mnist\.npz"):
        load_splits("mnist", 0.2, 0, tmp_path)
    assert path.exists() and keras_offline == []


def test_mnist_loads_from_npz_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras_offline: list[str]
) -> None:
    from keras.src.backend import config as keras_config

    home_before = keras_config.keras_home()
    path = write_mnist(tmp_path, n_per_class=20)
    trust(monkeypatch, path, "mnist.npz")
    splits = load_splits("mnist", 0.25, 0, tmp_path)
    assert keras_offline == [str(path)]  # Keras checked the file in tmp_path, nowhere else
    assert keras_config.keras_home() == home_before
    assert splits.input_shape == (28, 28, 1) and splits.num_classes == 10
    assert len(splits.x_val) == math.ceil(200 * 0.25) == 50 and len(splits.x_train) == 150
    assert len(splits.x_test) == 30
    assert_labels_follow_images(splits)
    np.testing.assert_array_equal(np.bincount(splits.y_val), [5] * 10)  # stratified


def test_keras_arrays_are_parsed_once_then_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras_offline: list[str]
) -> None:
    path = write_mnist(tmp_path, n_per_class=20)
    trust(monkeypatch, path, "mnist.npz")
    a = load_splits("mnist", 0.2, 1, tmp_path)
    b = load_splits("mnist", 0.2, 1, tmp_path)
    c = load_splits("mnist", 0.2, 2, tmp_path)
    assert len(keras_offline) == 1 and (tmp_path / "datasets" / "joblib").is_dir()
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_val, c.x_val)

    write_mnist(tmp_path, n_per_class=30)  # a replaced file is parsed again
    trust(monkeypatch, path, "mnist.npz")
    d = load_splits("mnist", 0.2, 1, tmp_path)
    assert len(keras_offline) == 2 and len(d.y_train) + len(d.y_val) == 300


def test_fashion_mnist_loads_from_gzipped_idx_offline(
    tmp_path: Path, keras_offline: list[str]
) -> None:
    write_fashion_mnist(tmp_path)
    splits = load_splits("fashion_mnist", 0.1, 0, tmp_path)
    assert keras_offline == []  # no hash for Fashion-MNIST, and no download either
    assert splits.input_shape == (28, 28, 1)
    assert len(splits.x_val) == 10 and len(splits.x_train) == 90 and len(splits.x_test) == 20
    assert splits.class_names[0] == "T-shirt/top"
    assert_labels_follow_images(splits)


def test_cifar10_loads_from_archive_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras_offline: list[str]
) -> None:
    path = write_cifar10(tmp_path)
    trust(monkeypatch, path, "cifar-10-batches-py-target_archive")
    splits = load_splits("cifar10", 0.1, 0, tmp_path)
    assert keras_offline == [str(path)]
    assert splits.input_shape == (32, 32, 3) and splits.class_names[0] == "airplane"
    assert len(splits.x_train) == 45000 and len(splits.x_val) == 5000
    assert len(splits.x_test) == 30 and splits.x_train.flags.c_contiguous
    assert splits.y_train.min() == 0 and splits.y_train.max() == 9
    assert_labels_follow_images(splits)
    assert np.all(splits.x_test[..., 1] == 1) and np.all(splits.x_test[..., 2] == 2)  # RGB last


def test_cifar100_loads_fine_labels_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras_offline: list[str]
) -> None:
    path = write_cifar100(tmp_path, n_per_class=4)
    trust(monkeypatch, path, "cifar-100-python-target_archive")
    splits = load_splits("cifar100", 0.25, 0, tmp_path)
    assert keras_offline == [str(path)]
    assert splits.input_shape == (32, 32, 3) and splits.num_classes == 100
    assert len(splits.x_val) == 100 and len(splits.x_train) == 300 and len(splits.x_test) == 100
    assert splits.y_train.max() == 99  # fine labels, not the 20 coarse ones
    np.testing.assert_array_equal(np.bincount(splits.y_val), [1] * 100)
    assert_labels_follow_images(splits, scale=1)
    assert np.all(splits.x_train[..., 2] == 2)


def test_cifar_images_stay_channels_last_under_channels_first_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras_offline: list[str]
) -> None:
    import keras

    path = write_cifar100(tmp_path, n_per_class=2)
    trust(monkeypatch, path, "cifar-100-python-target_archive")
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        splits = load_splits("cifar100", 0.5, 0, tmp_path)
    finally:
        keras.config.set_image_data_format(previous)
    assert splits.input_shape == (32, 32, 3)
    assert_labels_follow_images(splits, scale=1)
    assert np.all(splits.x_train[..., 1] == 1) and np.all(splits.x_train[..., 2] == 2)


# ---------------------------------------------------------------------------------------------
# Folders of class folders (people's own photos), read by image_dataset_from_directory
# ---------------------------------------------------------------------------------------------


def pixels(x: object) -> np.ndarray:
    """A split's images as an array: a folder's split is read whole from its cache."""
    return x.load() if isinstance(x, ImageFiles) else np.asarray(x)


def write_photo_folder(root: Path, per_class: int = 30, side: int = 16) -> Path:
    """Three class folders of flat PNGs: red = 80 * label, green = 5 * index in the class."""
    from PIL import Image

    for label, name in enumerate(("barrel", "blue", "moon")):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (side, side), (80 * label, 5 * i % 256, 0)).save(
                folder / f"{i:02d}.png"
            )
    return root


def test_folder_loads_as_uint8_with_a_fixed_stratified_test_set(tmp_path: Path) -> None:
    folder = write_photo_folder(tmp_path / "jelly", per_class=50)
    splits = load_splits(str(folder), 0.2, 0, tmp_path / "cache", img_size=16)
    assert splits.class_names == ["barrel", "blue", "moon"]
    # 20% of 150 for test, then ceil(120 * 0.2) = 24 of the rest for validation.
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (96, 24, 30)
    assert len(splits.y_train) == train_size(RunConfig(dataset=str(folder), batch_size=8))
    assert splits.x_train.shape == (96, 16, 16, 3) and splits.input_shape == (16, 16, 3)
    assert_labels_follow_images(splits, scale=80)
    # Every photo lands in exactly one part, once.
    ids = [
        (int(y), int(g))
        for x, ys in ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val))
        for y, g in zip(ys, pixels(x)[:, 0, 0, 1], strict=True)
    ]
    test_green = pixels(splits.x_test)[:, 0, 0, 1]
    ids += [(int(y), int(g)) for y, g in zip(splits.y_test, test_green, strict=True)]
    assert sorted(ids) == [(label, 5 * i) for label in range(3) for i in range(50)]
    np.testing.assert_array_equal(np.bincount(splits.y_test), [10, 10, 10])  # stratified
    assert np.all(np.abs(np.bincount(splits.y_val, minlength=3) - 8) <= 1)

    again = load_splits(str(folder), 0.2, 0, tmp_path / "cache", img_size=16)
    np.testing.assert_array_equal(pixels(again.x_val), pixels(splits.x_val))
    other = load_splits(str(folder), 0.2, 7, tmp_path / "cache", img_size=16)
    np.testing.assert_array_equal(pixels(other.x_test), pixels(splits.x_test))  # same photos
    assert not np.array_equal(pixels(other.x_val), pixels(splits.x_val))  # another draw


def test_folder_images_are_resized_to_the_image_size(tmp_path: Path) -> None:
    folder = write_photo_folder(tmp_path / "jelly", per_class=4, side=20)
    small = load_splits(str(folder), 0.4, 0, tmp_path / "cache", img_size=8)
    assert small.input_shape == (8, 8, 3) and small.x_train.dtype == np.uint8
    assert_labels_follow_images(small, scale=80)
    default = load_splits(str(folder), 0.4, 0, tmp_path / "cache")
    assert default.input_shape == (20, 20, 3)  # the photos' own size, not blown up


def test_large_photos_load_no_larger_than_the_folder_cap(tmp_path: Path) -> None:
    folder = write_photo_folder(tmp_path / "big", per_class=3, side=300)
    splits = load_splits(str(folder), 0.4, 0, tmp_path / "cache")
    assert splits.input_shape == (FOLDER_IMAGE_SIZE, FOLDER_IMAGE_SIZE, 3) == (128, 128, 3)


def test_a_large_folder_sets_a_fifth_aside_for_test(tmp_path: Path) -> None:
    folder = write_photo_folder(tmp_path / "jelly", per_class=100, side=8)
    # 20% is set aside for test; a validation split of 0.04 of the other 240 rounds up to 10.
    splits = load_splits(str(folder), 0.04, 0, tmp_path / "cache", img_size=8)
    sizes = (len(splits.y_train), len(splits.y_val), len(splits.y_test))
    assert sizes == (230, 10, 60)
    np.testing.assert_array_equal(np.bincount(splits.y_test), [20, 20, 20])


def test_a_folder_too_small_for_a_test_set_keeps_every_image_to_train_and_validate(
    tmp_path: Path,
) -> None:
    folder = write_photo_folder(tmp_path / "jelly", per_class=30, side=8)
    splits = load_splits(str(folder), 0.2, 0, tmp_path / "cache", img_size=8)
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (72, 18, 0)
    assert splits.x_test.shape == (0, 8, 8, 3) and splits.y_test.dtype == np.int64
    other = load_splits(str(folder), 0.2, 7, tmp_path / "cache", img_size=8)
    assert len(other.y_test) == 0
    assert not np.array_equal(pixels(other.x_val), pixels(splits.x_val))


def test_a_changed_folder_is_read_again(tmp_path: Path) -> None:
    from PIL import Image

    folder = write_photo_folder(tmp_path / "jelly", per_class=10, side=8)
    first = load_splits(str(folder), 0.3, 0, tmp_path / "cache", img_size=8)
    assert list((tmp_path / "cache" / "datasets" / "folders").glob("*/images.index"))
    for i in range(10, 13):
        Image.new("RGB", (8, 8), (160, 8 * i, 0)).save(folder / "moon" / f"{i}.png")
    again = load_splits(str(folder), 0.3, 0, tmp_path / "cache", img_size=8)
    total = lambda s: len(s.y_train) + len(s.y_val) + len(s.y_test)  # noqa: E731
    assert (total(first), total(again)) == (30, 33)
    assert_labels_follow_images(again, scale=80)


def test_an_unusable_folder_fails_before_keras(tmp_path: Path) -> None:
    folder = write_photo_folder(tmp_path / "jelly", per_class=4)
    (folder / "moon" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ConfigError, match=r"moon/broken\.png cannot be used"):
        load_splits(str(folder), 0.4, 0, tmp_path / "cache", img_size=8)


def test_a_one_epoch_run_on_a_folder_completes(store, cache: Path, tmp_path: Path) -> None:
    from core.engine.training import TrialMonitor, run_trial
    from core.store import Status

    folder = write_photo_folder(tmp_path / "jelly")
    cfg = RunConfig(dataset=str(folder), model="mlp", epochs=1, batch_size=16, img_size=16)
    _, (tid,) = store.create_study("folder", "single", [cfg], reserve_for=1)
    with TrialMonitor(store, tid, interval=0.05) as monitor:
        status = run_trial(store, store.trial(tid), monitor, cache)
    trial = store.trial(tid)
    assert status == Status.COMPLETED, trial.error
    # 3 classes of 30: too small for a test set, so the run is scored on its validation images.
    assert trial.results["sizes"] == {"train": 72, "validation": 18, "test": 0}
    assert trial.results["class_names"] == ["barrel", "blue", "moon"]
    assert len(store.epochs(tid)) == 1 and trial.test_accuracy is None
    assert "test_images" not in trial.results and "test_accuracy_ci" not in trial.results
    r = trial.results
    assert r["val_images"] == 18 and 0 <= r["val_accuracy"] <= 1
    right = round(r["val_accuracy"] * 18)
    assert r["val_accuracy_ci"] == pytest.approx(list(wilson_interval(right, 18)))
    assert r["val_accuracy"] == pytest.approx(store.epochs(tid)[0].metrics["val_accuracy"])
    assert (r["classes"]["split"], r["classes"]["images"]) == ("validation", 18)


def test_cli_trains_on_a_zip_of_class_folders(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import zipfile

    from core.store import Status, Store
    from tests.cli.conftest import run_here

    folder = write_photo_folder(tmp_path / "jelly")
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.rglob("*.png")):
            handle.write(path, f"jelly/{path.relative_to(folder).as_posix()}")
    settings = ["model=mlp", "batch_size=16", "img_size=16"]
    options = [arg for s in settings for arg in ("--set", s)]
    ran = run_here(capsys, "train", "--dataset", str(archive), "--epochs", "1", *options, "--json")
    assert ran.status == 0, ran.err[-3000:]
    summary = json.loads(ran.out.strip().splitlines()[-1])
    assert summary["status"] == "completed" and summary["epochs_run"] == 1
    assert summary["test_accuracy"] is None and summary["test_images"] is None  # too small
    assert summary["val_images"] == 18 and len(summary["val_accuracy_ci"]) == 2
    assert "no test set: the folder is too small for one" in ran.err
    trial = Store(paths.store_path(cache)).trial(summary["trial"])
    assert trial.status == Status.COMPLETED
    upload = Path(trial.config["dataset"])
    assert upload.parent == cache.resolve() / "uploads" and (upload / "jelly" / "moon").is_dir()

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    ran = run_here(capsys, "train", "--dataset", str(bad))
    lines = ran.err.strip().splitlines()
    assert ran.status == 2 and len(lines) == 1, ran.err
    assert lines[0] == "error: dataset: bad.zip is not a zip file."


def test_cli_json_of_a_folder_with_a_test_set_gives_its_images_and_interval(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tests.cli.conftest import run_here

    folder = write_photo_folder(tmp_path / "jelly", per_class=50, side=8)
    settings = ["model=mlp", "batch_size=32", "img_size=8"]
    options = [arg for s in settings for arg in ("--set", s)]
    ran = run_here(capsys, "train", "--dataset", str(folder), "--epochs", "1", *options, "--json")
    assert ran.status == 0, ran.err[-3000:]
    summary = json.loads(ran.out.strip().splitlines()[-1])
    # 3 classes of 50: 30 test images (10 a class), 24 validation, 96 to train.
    assert (summary["test_images"], summary["val_images"]) == (30, 24)
    right = round(summary["test_accuracy"] * 30)
    assert summary["test_accuracy_ci"] == pytest.approx(list(wilson_interval(right, 30)))
    low, high = summary["macro_f1_ci"]
    assert 0 <= low <= summary["macro_f1"] <= high <= 1
    assert "images)" in ran.err.strip().splitlines()[-1]  # the run's line states its images
