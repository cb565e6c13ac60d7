"""A folder of class folders as uint8 image arrays with a fixed, stratified test set.

The worker reads the photos with ``keras.utils.image_dataset_from_directory`` (labels from the
class folder names, every image resized to a square side) and keeps them, like the built-in
datasets, as uint8 ``(N, side, side, 3)`` arrays. Decoding a thousand photos takes a while, so
the arrays are kept in a joblib cache under the cache folder, keyed by the folder, the side and
every image's size and modification time.

Keras is imported inside the functions that decode, so importing this module stays light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.folder_scan import (
    FolderInfo,
    UploadError,
    folder_test_size,
    scan_folder,
)
from core.store import paths

# The test images of a folder are the same for every run, whatever the run's seed, so runs
# with different seeds are scored on the same photos (as the digits test set is).
FOLDER_TEST_SEED = 0


def folder_arrays(
    folder: Path | str, side: int, root: Path | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Load a folder of class folders and set its test images aside.

    ``folder_test_size`` images (4%, at least one per class) are drawn, stratified, with
    ``FOLDER_TEST_SEED``; the rest is the training split, from which the caller holds out
    validation images.

    Args:
        folder: The folder (or a folder wrapping it), as ``scan_folder`` accepts it.
        side: Height and width every image is resized to.
        root: The cache folder for the decoded arrays; defaults to ``paths.cache_dir()``.

    Returns:
        ``x_train, y_train, x_test, y_test, class_names``: contiguous uint8
        ``(N, side, side, 3)`` images, 1-D int64 labels, and the class folder names.

    Raises:
        UploadError: if the folder is not a usable dataset, or Keras reads a different
            number of images than the scan found.
    """
    info = scan_folder(folder)
    x, y = _decoded(info, side, root or paths.cache_dir())
    if len(y) != info.n_images:
        raise UploadError(
            f"Keras read {len(y)} images in {info.path} where {info.n_images} were found; "
            "check that no files changed while the run started."
        )
    from sklearn.model_selection import train_test_split

    n_test = folder_test_size(len(y), len(info.class_names))
    rest, test = train_test_split(
        np.arange(len(y)), test_size=n_test, stratify=y, random_state=FOLDER_TEST_SEED
    )
    # Indices, then one copy per part: the images are not copied twice over.
    rest, test = np.sort(rest), np.sort(test)
    return x[rest], y[rest], x[test], y[test], list(info.class_names)


def _decoded(info: FolderInfo, side: int, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """All images and labels of a scanned folder, decoded once and then read from the cache."""
    import joblib

    signature = tuple(
        (str(path), path.stat().st_size, path.stat().st_mtime_ns)
        for images in info.images
        for path in images
    )
    memory = joblib.Memory(location=root / "datasets" / "joblib", verbose=0)
    return memory.cache(_read_with_keras)(str(info.path), info.class_names, side, signature)


def _read_with_keras(
    folder: str, class_names: tuple[str, ...], side: int, signature: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every image of ``folder`` with Keras, resized to ``side`` × ``side``.

    Args:
        folder: The folder holding the class folders.
        class_names: The class folders to read, in label order (passing them also keeps
            Keras from taking any other sub-folder, such as ``__MACOSX``, for a class).
        side: Height and width of the resized images.
        signature: Only part of the joblib cache key (image paths, sizes and times).

    Returns:
        Contiguous uint8 ``(N, side, side, 3)`` images and 1-D int64 labels, class by class.
    """
    del signature
    import keras

    dataset = keras.utils.image_dataset_from_directory(
        folder,
        labels="inferred",
        label_mode="int",
        class_names=list(class_names),
        color_mode="rgb",
        image_size=(side, side),
        batch_size=None,
        shuffle=False,
        verbose=False,
    )
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for x, y in dataset.batch(256).as_numpy_iterator():
        # Bilinear resizing gives floats in [0, 255]: round back to the stored pixel type.
        images.append(np.clip(np.rint(x), 0, 255).astype(np.uint8))
        labels.append(np.asarray(y, dtype=np.int64))
    if not images:
        return np.zeros((0, side, side, 3), np.uint8), np.zeros((0,), np.int64)
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)
