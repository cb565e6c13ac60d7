"""A folder of class folders as file splits, with a fixed, stratified test set.

The images are never decoded into one array: ``core.engine.loading.image_files`` decodes each
file once into a cache on disk, and every split is a set of rows of that cache
(:class:`~core.engine.loading.image_files.ImageFiles`), chosen from the files' labels alone.
A file that does not decode is left out of every split, and named with its reason.

TensorFlow is imported only when a cache is written or read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.folder_scan import folder_test_size, scan_folder
from core.engine.loading.image_files import ImageFiles, folder_cache
from core.store import paths

# The test images of a folder are the same for every run, whatever the run's seed, so runs
# with different seeds are scored on the same photos (as the digits test set is).
FOLDER_TEST_SEED = 0


def folder_files(
    folder: Path | str, side: int, root: Path | None = None
) -> tuple[ImageFiles, np.ndarray, ImageFiles, np.ndarray, list[str], dict[str, str]]:
    """Read a folder of class folders into its cache and set its test images aside.

    ``folder_test_size`` images (20%, at least 10 per class) are drawn, stratified, with
    ``FOLDER_TEST_SEED``; the rest is the training split, from which the caller holds out
    validation images. A folder too small for a test set (``folder_test_size`` 0) keeps
    every image in the training split and an empty test split.

    Args:
        folder: The folder (or a folder wrapping it), as ``scan_folder`` accepts it.
        side: Height and width every image is resized to.
        root: The cache folder; defaults to ``paths.cache_dir()``.

    Returns:
        ``x_train, y_train, x_test, y_test, class_names, skipped``: the two splits (each in
        the scan's order), their 1-D int64 labels, the class folder names, and the files that
        did not decode, by name, with why.

    Raises:
        UploadError: if the folder is not a usable dataset.
    """
    info = scan_folder(folder)
    cache = folder_cache(info, side, root or paths.cache_dir())
    # In the scan's order, as Keras lists a folder: the draws below are the ones a script
    # exported from a run makes (core.handover), whatever order the cache keeps.
    rows = cache.scan_rows[cache.kept[cache.scan_rows]]
    everything = ImageFiles(cache, rows)
    labels = cache.labels[rows]
    counts = np.bincount(labels, minlength=len(info.class_names))
    n_test = folder_test_size(counts.tolist())
    if n_test:
        from sklearn.model_selection import train_test_split

        rest, test = train_test_split(
            np.arange(len(labels)), test_size=n_test, stratify=labels, random_state=FOLDER_TEST_SEED
        )
        rest, test = np.sort(rest), np.sort(test)
    else:
        rest, test = np.arange(len(labels)), np.arange(0)
    return (
        everything.subset(rest),
        labels[rest],
        everything.subset(test),
        labels[test],
        list(info.class_names),
        dict(cache.skipped),
    )
