"""Whether a built-in dataset can be loaded here, without network and without Keras.

The built-in datasets other than ``digits`` are read by Keras's own loaders from files in
``paths.keras_home(root)/datasets``; this app never downloads them. ``missing_files`` and
``check_available`` say, without importing Keras, whether those files are present and are the
official ones, so that a missing dataset becomes a ``DatasetUnavailable`` naming the file, the
folder and the URL instead of a network error from inside Keras.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from core.data.folders import dataset_info
from core.spec.catalog import DATASETS, DatasetInfo
from core.spec.config import ConfigError
from core.store import paths

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

_hash_cache: dict[tuple[str, int, int], str] = {}


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


def missing_files(name: str, root: Path | None = None) -> list[Path]:
    """Return the files of a built-in dataset that Keras would have to download.

    A file counts as missing when it is absent, or when Keras checks its SHA-256 and the file
    does not match (Keras would then download it again). Keras is not imported.

    Args:
        name: A dataset key of ``core.spec.catalog.DATASETS``, or the path of a folder.
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
        name: A dataset key of ``core.spec.catalog.DATASETS``, or the path of a folder of class
            folders (which is scanned: a folder has no files to fetch, but may be unusable).
        root: The cache folder; defaults to ``paths.cache_dir()``.

    Raises:
        DatasetUnavailable: naming the missing files, the folder they go in and their URL.
        ConfigError: if ``name`` is neither a built-in dataset nor an existing folder, or
            (``core.data.folders.UploadError``) the folder is not a usable dataset.
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
