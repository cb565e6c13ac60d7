"""k-fold cross-validation splits: fold i of k holds out the i-th of k stratified parts.

A k-fold study trains k trials of one config, trial number i on fold i. The k validation parts
are disjoint and together make up the dataset's whole training split; the test split stays the
dataset's own. Which image lands in which part depends only on the dataset, k and the seed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from core.engine.loading.datasets import Splits, load_splits
from core.engine.loading.image_files import ImageFiles, join
from core.spec.config import ConfigError, RunConfig


def training_split(config: RunConfig, root: Path | None = None) -> Splits:
    """Return the dataset's whole training split, in a canonical order, with its test split.

    ``load_splits`` only hands out the training split already divided by the config's
    validation share, in an order that share and the seed decide; joining the two parts and
    sorting the images by a hash of their pixels and label gives the same order whatever the
    share, so folds do not move when an unrelated setting changes. A folder's images are
    already in such an order in its cache (by a hash of each file's path): its folds are made
    from paths and labels, without reading a pixel.

    Args:
        config: The run config (``dataset``, ``validation_split``, ``seed``).
        root: The cache folder; defaults to ``paths.cache_dir()``.

    Returns:
        Splits whose ``x_train``/``y_train`` are the whole training split and whose
        validation arrays are empty.
    """
    parts = load_splits(config.dataset, config.validation_split, config.seed, root, config.img_size)
    if isinstance(parts.x_train, ImageFiles):
        joined = join(parts.x_train, parts.x_val)
        order = np.argsort(joined.rows, kind="stable")  # cache order: by a hash of each path
        files = joined.subset(order)
        y_all = np.concatenate([parts.y_train, parts.y_val])[order]
        none = np.arange(0)
        return Splits(
            files,
            y_all,
            files.subset(none),
            y_all[none],
            parts.x_test,
            parts.y_test,
            parts.class_names,
            parts.skipped,
        )
    x = np.concatenate([parts.x_train, parts.x_val])
    y = np.concatenate([parts.y_train, parts.y_val])
    digests = np.array(
        [
            int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little")
            for row in x
        ],
        dtype=np.uint64,
    )
    order = np.lexsort((y, digests))
    return Splits(x[order], y[order], x[:0], y[:0], parts.x_test, parts.y_test, parts.class_names)


def fold_indices(y: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Return the validation indices of each fold (stratified, shuffled with ``seed``).

    Args:
        y: Class labels of the whole training split.
        folds: k, at least 2.
        seed: Seed of the shuffle (scikit-learn's ``StratifiedKFold(random_state=seed)``).

    Returns:
        k sorted index arrays, disjoint, covering ``range(len(y))``.
    """
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [np.sort(val) for _, val in splitter.split(np.zeros(len(y)), y)]


def load_fold(config: RunConfig, fold: int, root: Path | None = None) -> Splits:
    """Return the splits of fold ``fold`` of a ``config.folds``-fold study.

    Args:
        config: The run config; ``folds`` is k (at least 2).
        fold: Which part is held out for validation, 0..k-1.
        root: The cache folder; defaults to ``paths.cache_dir()``.

    Returns:
        Training and validation arrays of that fold, and the dataset's test split.

    Raises:
        ConfigError: If ``fold`` is not in 0..k-1.
    """
    if not 0 <= fold < config.folds:
        raise ConfigError(
            "folds",
            f"fold {fold} does not exist in a {config.folds}-fold study "
            f"(folds are numbered 0 to {config.folds - 1}).",
        )
    whole = training_split(config, root)
    held = fold_indices(whole.y_train, config.folds, config.seed)[fold]
    keep = np.ones(len(whole.y_train), dtype=bool)
    keep[held] = False
    kept = np.flatnonzero(keep)
    x = whole.x_train
    train, val = (
        (x.subset(kept), x.subset(held)) if isinstance(x, ImageFiles) else (x[kept], x[held])
    )
    return Splits(
        train,
        whole.y_train[kept],
        val,
        whole.y_train[held],
        whole.x_test,
        whole.y_test,
        whole.class_names,
        whole.skipped,
    )
