"""Reading a folder of class folders: which classes, which images, and whether they all open.

A dataset folder holds one sub-folder per class (``moon/img1.jpg``, ``barrel/x.png``). The
rules here mirror ``keras.utils.image_dataset_from_directory``, which the worker loads such a
folder with, so that what a person is shown before training is what training will read:

- classes are the sub-folders whose names do not start with a dot, sorted by name;
- a class's images are the files anywhere below its folder whose names end (in any case) with
  one of Keras's extensions, ``IMAGE_EXTENSIONS``, hidden files included: Keras reads those
  too, so a broken one has to be reported rather than skipped;
- files directly in the top folder are not read.

One folder that only wraps the class folders (``jellyfish/moon/...``) is looked through.
Pillow and the standard library only: the UI process uses this module.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from core.spec.config import ConfigError

# keras.src.utils.image_dataset_utils.ALLOWLIST_FORMATS: Keras skips every other file.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# What TensorFlow's decode_image reads (MPO is the multi-picture JPEG many cameras write).
IMAGE_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "GIF": "GIF", "BMP": "BMP"}
# Share of a folder's images kept aside as its test set (the 92/4/4 split of the jellyfish
# report puts 4% in test, 4% in validation).
FOLDER_TEST_SHARE = 0.04
# One image each for training, validation and test: the stratified splits need it.
MIN_PER_CLASS = 3
# Name of the note ``extract_zip`` leaves beside an upload (hidden, so no loader reads it).
MANIFEST = ".upload.json"
# Folder names that mean a person picked the folder above their train/test split.
_SPLIT_NAMES = {"train", "training", "test", "testing", "val", "valid", "validation"}
# How many wrapping folders are looked through (``archive/jellyfish/moon/...``).
_MAX_WRAPPERS = 3

_scans: dict[str, tuple[tuple, FolderInfo]] = {}


class UploadError(ConfigError):
    """A folder or zip of images that cannot be used; the message says why in one sentence."""

    def __init__(self, message: str) -> None:
        """Report ``message`` against the ``dataset`` setting."""
        super().__init__("dataset", message)


@dataclass(frozen=True)
class FolderInfo:
    """What a folder of class folders holds.

    Attributes:
        path: The folder that holds the class folders (inside any wrapping folder).
        title: Name shown to people: the uploaded zip's name, else the folder's.
        class_names: Class folder names, sorted; label ``i`` is ``class_names[i]``.
        images: Image paths of each class, in the order Keras reads them.
        skipped: Files that are not images (plus those dropped when the zip was unpacked).
        skipped_examples: A few of the skipped files, relative to ``path``.
        sizes: How many images have each (width, height).
    """

    path: Path
    title: str
    class_names: tuple[str, ...]
    images: tuple[tuple[Path, ...], ...]
    skipped: int = 0
    skipped_examples: tuple[str, ...] = ()
    sizes: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def counts(self) -> tuple[int, ...]:
        """Images per class, in ``class_names`` order."""
        return tuple(len(paths) for paths in self.images)

    @property
    def n_images(self) -> int:
        """Images in all classes."""
        return sum(self.counts)


def folder_test_size(n_images: int, n_classes: int) -> int:
    """Return how many of a folder's images form its test set.

    ``ceil(4%)`` of them, but at least one per class, which a stratified draw needs.
    """
    return max(math.ceil(n_images * FOLDER_TEST_SHARE), n_classes)


def class_root(path: Path) -> Path:
    """Return the folder that holds the class folders, looking through wrapping folders.

    A folder is looked through when it holds no images and exactly one visible folder, and
    that folder holds no images itself but has sub-folders of its own (the class folders).
    """
    current = path
    for _ in range(_MAX_WRAPPERS):
        dirs, files = _visible_entries(current)
        if len(dirs) != 1 or any(_is_image_name(f.name) for f in files):
            break
        inner_dirs, inner_files = _visible_entries(dirs[0])
        if not inner_dirs or any(_is_image_name(f.name) for f in inner_files):
            break
        current = dirs[0]
    return current


def scan_folder(path: Path | str) -> FolderInfo:
    """List and check the classes and images of a folder of class folders.

    Every image is opened and verified with Pillow (headers and checksums, not a full
    decode; a JPEG must also end with its end-of-image marker), which takes about a second
    for a thousand photos. The result is remembered until the folder, or a class folder in
    it, changes (their modification times).

    Args:
        path: The folder, absolute or relative to the working directory.

    Returns:
        The classes, their images, the skipped files and the image sizes seen.

    Raises:
        UploadError: if the folder is missing, has fewer than two class folders, a class
            with fewer than ``MIN_PER_CLASS`` images (named), or an image that does not open
            (named).
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise UploadError(f"there is no folder at {folder}.")
    key = str(folder)
    signature = _signature(folder)
    cached = _scans.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    info = _scan(folder)
    _scans[key] = (signature, info)
    return info


def read_manifest(folder: Path) -> dict:
    """Return the note ``extract_zip`` left in an upload folder, or ``{}`` if there is none."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def image_problem(path: Path) -> tuple[str | None, tuple[int, int] | None]:
    """Say what keeps ``path`` from being read as an image, if anything.

    Returns:
        ``(None, (width, height))`` for a usable JPEG, PNG, GIF or BMP image, else
        ``(reason, None)`` with a short reason without a final full stop.
    """
    try:
        with warnings.catch_warnings():
            # Very large images warn before they fail; the failure is reported below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                kind, size = image.format or "unknown", image.size
                if kind not in IMAGE_FORMATS:
                    return f"it is a {kind} image, and only JPEG, PNG, GIF and BMP are read", None
                image.verify()
    except Exception as exc:  # noqa: BLE001 - whatever Pillow trips on, the file is unusable
        reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else ""
        return f"it does not open as an image ({reason or type(exc).__name__})", None
    if IMAGE_FORMATS[kind] == "JPEG" and not _jpeg_complete(path):
        return "the JPEG data is cut short", None
    return None, (int(size[0]), int(size[1]))


def _scan(folder: Path) -> FolderInfo:
    root = class_root(folder)
    dirs, files = _visible_entries(root)
    names = sorted(d.name for d in dirs)
    skipped_examples = [f.name for f in files]  # top-level files are not read
    if len(names) < 2:
        found = f"only {names[0]!r}" if names else "none"
        raise UploadError(
            f"{root} needs at least two class folders, one per class, with the images inside "
            f"(found {found})."
        )
    if {n.lower() for n in names} <= _SPLIT_NAMES:
        raise UploadError(
            f"{root} holds split folders ({', '.join(names)}), not class folders; "
            f"pick the folder that holds the class folders, such as {root / names[0]}."
        )
    images: list[tuple[Path, ...]] = []
    sizes: Counter[tuple[int, int]] = Counter()
    for name in names:
        found, other = _class_files(root / name)
        skipped_examples += [p.relative_to(root).as_posix() for p in other]
        if len(found) < MIN_PER_CLASS:
            count = {0: "no images", 1: "only 1 image"}.get(len(found), f"only {len(found)} images")
            raise UploadError(
                f"class {name!r} has {count}; every class needs at least {MIN_PER_CLASS} "
                "(JPEG, PNG, GIF or BMP) for training, validation and test."
            )
        for image in found:
            problem, size = image_problem(image)
            if problem:
                raise UploadError(
                    f"{image.relative_to(root).as_posix()} cannot be used: {problem}; "
                    "delete or replace it."
                )
            sizes[size] += 1
        images.append(tuple(found))
    manifest = read_manifest(folder)
    title = Path(manifest.get("name") or root.name).stem or root.name
    return FolderInfo(
        path=root,
        title=title,
        class_names=tuple(names),
        images=tuple(images),
        skipped=len(skipped_examples) + int(manifest.get("skipped", 0)),
        skipped_examples=tuple(manifest.get("skipped_examples", []) + skipped_examples)[:5],
        sizes=dict(sizes),
    )


def _class_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Images below ``folder`` in Keras's order, and the visible files that are not images."""
    images: list[Path] = []
    other: list[Path] = []
    # Keras walks with os.walk (links to folders not followed) and sorts by folder, then name.
    for current, _, names in sorted(os.walk(folder), key=lambda entry: entry[0]):
        for name in sorted(names):
            path = Path(current) / name
            if _is_image_name(name):
                images.append(path)
            elif not name.startswith("."):
                other.append(path)
    return images, other


def _visible_entries(folder: Path) -> tuple[list[Path], list[Path]]:
    """Folders (as Keras sees classes: not hidden, no ``__MACOSX``) and files of ``folder``."""
    dirs: list[Path] = []
    files: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise UploadError(f"{folder} cannot be read ({exc.strerror}).") from None
    for entry in entries:
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            continue
        if entry.is_dir():
            dirs.append(entry)
        elif entry.is_file():
            files.append(entry)
    return dirs, files


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _jpeg_complete(path: Path) -> bool:
    """Whether a JPEG's last kilobyte holds its end-of-image marker.

    ``verify`` does not decode a JPEG, so a file cut off mid-download passes it while
    TensorFlow's decoder fails on it. The marker cannot occur inside the compressed data,
    and cameras write at most a little padding after it.
    """
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 1024))
        return b"\xff\xd9" in handle.read()


def _signature(folder: Path) -> tuple:
    """Modification times of the folder, any wrapping folders and every class folder."""
    stamps = [(str(folder), folder.stat().st_mtime_ns)]
    root = class_root(folder)
    for path in (root, *_visible_entries(root)[0]):
        stamps.append((str(path), path.stat().st_mtime_ns))
    manifest = folder / MANIFEST
    stamps.append(("manifest", manifest.stat().st_mtime_ns if manifest.exists() else 0))
    return tuple(stamps)
