"""What a saved ``config.json`` records besides the config: seed, data fingerprint, versions.

A run's ``config.json`` holds the config's keys as they are, plus one ``provenance`` section::

    {"batch_size": 64, ..., "provenance": {"seed": 0, "data": {...}, "versions": {...}}}

``data`` is a SHA-256 over the exact arrays the run trained, validated and was tested on
(shapes, dtypes and bytes, split by split; for a folder, which of its files each split holds,
with the folder's :func:`folder_fingerprint`), so two runs with the same fingerprint saw the same
images in the same order; ``test_sha256`` covers the test split alone, the same for every run
on a dataset whatever its seed. ``RunConfig.from_json`` ignores the section, so the file loads
back as the config that made it.

Nothing here imports TensorFlow: library versions come from the installed packages' metadata.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np

from core.spec.config import PROVENANCE_KEY, RunConfig

LIBRARIES = ("tensorflow", "keras", "numpy", "scikit-learn")

# (dataset, validation split, seed, image size, fold) -> fingerprint: a worker hashes the same
# data once, however many trials of a sweep train on it.
_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def array_digest(arrays: Sequence[np.ndarray]) -> str:
    """Return the SHA-256 of arrays: each one's dtype, shape and bytes (C order), in order.

    Args:
        arrays: The arrays to hash, e.g. ``(x_train, y_train)``.

    Returns:
        64 hex digits; equal arrays in the same order give the same digest.
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        if array.size:  # an empty array has no bytes (and no byte view)
            digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def data_fingerprint(splits: Any, key: tuple[Any, ...] | None = None) -> dict[str, Any]:
    """Fingerprint the train, validation and test arrays of one run.

    Args:
        splits: A ``core.engine.loading.datasets.Splits`` (anything with ``x_train`` ...
            ``y_test``).
        key: What identifies these splits (dataset, split, seed, ...); a fingerprint already
            computed for the same key in this process is returned as it is.

    Returns:
        ``{"sha256": ..., "test_sha256": ..., "sizes": {"train": n, "validation": n,
        "test": n}, "image_shape": [h, w, c]}``.
    """
    if key is not None and key in _cache:
        return _cache[key]
    parts = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    # A split read from disk (``core.engine.loading.image_files.ImageFiles``) is hashed by what
    # names its images (the folder's fingerprint, the side and its rows), not by its pixels.
    arrays = [_digestible(getattr(splits, name)) for name in parts]
    found = {
        "sha256": array_digest(arrays),
        "test_sha256": array_digest(arrays[4:]),
        "sizes": {
            "train": len(splits.y_train),
            "validation": len(splits.y_val),
            "test": len(splits.y_test),
        },
        "image_shape": [int(d) for d in splits.x_train.shape[1:]],
    }
    if key is not None:
        _cache[key] = found
    return found


def _digestible(images: Any) -> Any:
    identity = getattr(images, "identity", None)
    return identity() if identity is not None else images


def folder_fingerprint(info: Any) -> str:
    """Return the SHA-256 that names a folder's images as they are now, without reading them.

    Args:
        info: A ``core.data.folder_scan.FolderInfo``: each image's class, its path in the
            folder, its size and modification time, and whether it is read converted.

    Returns:
        64 hex digits; they change when an image is added, removed, moved to another class,
        or rewritten.
    """
    digest = hashlib.sha256()
    for label, files in enumerate(info.images):
        for path in files:
            stat = path.stat()
            converted = info.converted.get(path, "")
            line = f"{label}\t{info.shown(path)}\t{stat.st_size}\t{stat.st_mtime_ns}\t{converted}\n"
            digest.update(line.encode())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Return the installed versions of Python and the libraries a run depends on."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(config: RunConfig, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The ``provenance`` section of a run's ``config.json``.

    Args:
        config: The run's config (its seed is repeated here, where people look for it).
        data: The run's :func:`data_fingerprint`.
        **extra: More facts to keep, e.g. ``study`` and ``trial`` ids.

    Returns:
        ``{"seed": ..., "data": ..., "versions": ..., **extra}``.
    """
    return {"seed": config.seed, "data": data, "versions": library_versions(), **extra}


def config_document(config: RunConfig, section: dict[str, Any] | None = None) -> str:
    """Return the text of a ``config.json``: the config's keys plus ``provenance``, indented."""
    document: dict[str, Any] = config.to_dict()
    if section is not None:
        document[PROVENANCE_KEY] = section
    return json.dumps(document, indent=2, sort_keys=True)


def read_provenance(text: str) -> dict[str, Any]:
    """Return the ``provenance`` section of a ``config.json`` text (empty when it has none)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    section = data.get(PROVENANCE_KEY) if isinstance(data, dict) else None
    return section if isinstance(section, dict) else {}
