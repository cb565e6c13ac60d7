"""A folder of class folders as uint8 image arrays with a fixed, stratified test set.

The worker reads the photos with ``keras.utils.image_dataset_from_directory`` (labels from the
class folder names, every image resized to a square side) and keeps them, like the built-in
datasets, as uint8 ``(N, side, side, 3)`` arrays. Decoding a thousand photos takes a while, so
the arrays are kept in a joblib cache under the cache folder, keyed by the classes, the side and
every image's path, size and modification time.

Keras does not read the person's folder itself but a view of it made for the read: a folder of
links to exactly the images the scan accepted (no named pipe or other file it skipped, class
folders spelled two ways merged), and, for the images TensorFlow cannot decode as they are
(``core.data.image_checks``: 1-bit BMPs and the like), PNG copies that Pillow decoded. The
person's files are never written to.

Keras is imported inside the functions that decode, so importing this module stays light.
"""

from __future__ import annotations

import tempfile
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

    ``folder_test_size`` images (20%, at least 10 per class) are drawn, stratified, with
    ``FOLDER_TEST_SEED``; the rest is the training split, from which the caller holds out
    validation images. A folder too small for a test set (``folder_test_size`` 0) keeps
    every image in the training split and returns empty test arrays.

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
            f"Keras read {len(y)} images in {info.source} where {info.n_images} were found; "
            "check that no files changed while the run started."
        )
    from sklearn.model_selection import train_test_split

    n_test = folder_test_size(info.counts)
    if n_test:
        rest, test = train_test_split(
            np.arange(len(y)), test_size=n_test, stratify=y, random_state=FOLDER_TEST_SEED
        )
        # Indices, then one copy per part: the images are not copied twice over.
        rest, test = np.sort(rest), np.sort(test)
    else:
        rest, test = np.arange(len(y)), np.arange(0)
    return x[rest], y[rest], x[test], y[test], list(info.class_names)


def _decoded(info: FolderInfo, side: int, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """All images and labels of a scanned folder, decoded once and then read from the cache."""
    import joblib

    signature = tuple(
        (str(path), path.stat().st_size, path.stat().st_mtime_ns, str(info.converted.get(path)))
        for images in info.images
        for path in images
    )
    scratch = root / "datasets"
    memory = joblib.Memory(location=scratch / "joblib", verbose=0)
    read = memory.cache(_read_with_keras, ignore=["info", "scratch"])
    return read(info, info.class_names, side, signature, scratch)


def _read_with_keras(
    info: FolderInfo, class_names: tuple[str, ...], side: int, signature: tuple, scratch: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every image of a scanned folder with Keras, resized to ``side`` × ``side``.

    Args:
        info: The scan: which images, and which to convert (not part of the cache key).
        class_names: The classes, in label order (they name the view's class folders, and
            passing them keeps Keras from taking any other folder for a class).
        side: Height and width of the resized images.
        signature: Only part of the joblib cache key (image paths, sizes, times, conversions).
        scratch: Where the view Keras reads is made, and removed again.

    Returns:
        Contiguous uint8 ``(N, side, side, 3)`` images and 1-D int64 labels, class by class.

    Raises:
        UploadError: naming the image TensorFlow could not decode, if one fails anyway.
    """
    del signature
    import keras
    import tensorflow as tf

    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".keras-view-", dir=scratch) as view:
        _make_view(info, Path(view))
        dataset = keras.utils.image_dataset_from_directory(
            view,
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
        try:
            for x, y in dataset.batch(256).as_numpy_iterator():
                # Bilinear resizing gives floats in [0, 255]: round back to the stored pixel type.
                images.append(np.clip(np.rint(x), 0, 255).astype(np.uint8))
                labels.append(np.asarray(y, dtype=np.int64))
        except tf.errors.InvalidArgumentError as exc:
            raise UploadError(_undecodable(info, Path(view)) or exc.message) from None
    if not images:
        return np.zeros((0, side, side, 3), np.uint8), np.zeros((0,), np.int64)
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def _make_view(info: FolderInfo, view: Path) -> None:
    """Fill ``view`` with one folder per class: links to its images, or converted copies."""
    from PIL import Image

    for name, files in zip(info.class_names, info.images, strict=True):
        for path in files:
            dest = view / name / _inside_class(info, path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if path in info.converted:
                # PNG whatever the name says: TensorFlow decodes by content, Keras picks by name.
                with Image.open(path) as image:
                    image.convert("RGB").save(dest, format="PNG", compress_level=1)
            else:
                dest.symlink_to(path)


def _inside_class(info: FolderInfo, path: Path) -> Path:
    """``path`` below its class folder (``sub/a.jpg`` of ``root/moon/sub/a.jpg``)."""
    return Path(*path.relative_to(info.path).parts[1:])


def _undecodable(info: FolderInfo, view: Path) -> str | None:
    """Find the image TensorFlow fails on, one by one, and say which it is."""
    import tensorflow as tf

    for name, files in zip(info.class_names, info.images, strict=True):
        for path in files:
            data = tf.io.read_file(str(view / name / _inside_class(info, path)))
            try:
                tf.io.decode_image(data, channels=3, expand_animations=False)
            except tf.errors.InvalidArgumentError as exc:
                # "{{function_node ...}} Input size should match ... [Op:DecodeImage]"
                reason = exc.message.split("}}")[-1].split("[Op:")[0].strip().rstrip(".")
                return (
                    f"{info.shown(path)} in {info.source} cannot be decoded for training "
                    f"({reason}); save it as PNG or JPEG."
                )
    return None
