"""Reading a folder of class folders: which classes, which images, and whether they all open.

A dataset folder holds one sub-folder per class (``moon/img1.jpg``, ``barrel/x.png``). The
rules here mirror ``keras.utils.image_dataset_from_directory``, which the worker loads such a
folder with, so that what a person is shown before training is what training will read:

- classes are the sub-folders whose names do not start with a dot, sorted by name; two
  folders whose names differ only in Unicode normalization (macOS writes names decomposed,
  NFD) are one class, named in composed form (NFC);
- a class's images are the regular files anywhere below its folder whose names end (in any
  case) with one of Keras's extensions, ``IMAGE_EXTENSIONS``, hidden files included: Keras
  reads those too, so a broken one has to be reported rather than skipped;
- named pipes, sockets, devices and links to them are skipped without being opened (and
  counted), and training reads only the images listed here (``core.engine.loading``);
- files directly in the top folder are not read.

One folder that only wraps the class folders (``jellyfish/moon/...``) is looked through.
Every message names what the person gave: the zip they uploaded or the folder they chose,
and paths inside it. Pillow and the standard library only: the UI process uses this module.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.data.class_files import IMAGE_EXTENSIONS as IMAGE_EXTENSIONS  # Keras's, re-exported
from core.data.class_files import class_files, class_groups, is_image_name
from core.data.image_checks import check_image
from core.spec.config import ConfigError

# Share of a folder's images kept aside as its test set, drawn stratified.
FOLDER_TEST_SHARE = 0.2
# Test images every class needs for a folder to have a test set at all. Below that a test
# accuracy is luck (4 test images put any result between about 30% and 95%): the folder has
# no test set, and cross-validation (folds) gives its estimate.
MIN_TEST_PER_CLASS = 10
# So a folder has a test set when its smallest class has this many images (50).
MIN_CLASS_FOR_TEST = math.ceil(MIN_TEST_PER_CLASS / FOLDER_TEST_SHARE)
# One image each for training and validation, and a third for 3-fold cross-validation.
MIN_PER_CLASS = 3
# Name of the note ``extract_zip`` leaves beside an upload (hidden, so no loader reads it).
MANIFEST = ".upload.json"
# Folder names that mean a person picked the folder above their train/test split.
_SPLIT_NAMES = {"train", "training", "test", "testing", "val", "valid", "validation"}
# How many wrapping folders are looked through (``archive/jellyfish/moon/...``).
_MAX_WRAPPERS = 3
# How many unusable images one message names.
_NAMED = 5

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
        class_names: Class folder names (NFC), sorted; label ``i`` is ``class_names[i]``.
        images: Image paths of each class, in the order Keras reads them.
        skipped: Files that are not images, by their names.
        skipped_examples: A few of the skipped files, as ``shown`` names them.
        sizes: How many images have each (width, height).
        source: What the person gave: the uploaded zip's file name, or the folder's path.
        top: The folder that was scanned (``path`` or a folder wrapping it).
        special: Files skipped unopened because they are not regular files, by name, with
            what they are (``"a named pipe"``).
        converted: Images training reads a converted copy of, with why (``"a 1-bit BMP"``).
        unreadable: Images left out when the zip was unpacked, by name, with why.
    """

    path: Path
    title: str
    class_names: tuple[str, ...]
    images: tuple[tuple[Path, ...], ...]
    skipped: int = 0
    skipped_examples: tuple[str, ...] = ()
    sizes: dict[tuple[int, int], int] = field(default_factory=dict)
    source: str = ""
    top: Path | None = None
    special: dict[str, str] = field(default_factory=dict)
    converted: dict[Path, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> tuple[int, ...]:
        """Images per class, in ``class_names`` order."""
        return tuple(len(paths) for paths in self.images)

    @property
    def n_images(self) -> int:
        """Images in all classes."""
        return sum(self.counts)

    def shown(self, path: Path) -> str:
        """``path`` as the person knows it: relative to the folder or zip they gave."""
        return path.relative_to(self.top or self.path).as_posix()


def folder_test_size(counts: Sequence[int]) -> int:
    """Return how many of a folder's images form its test set (0: the folder has none).

    ``ceil(FOLDER_TEST_SHARE)`` of all images, drawn stratified, when every class holds at
    least ``MIN_CLASS_FOR_TEST`` images, so that each gives at least ``MIN_TEST_PER_CLASS``
    test images (a stratified draw gives a class at least the whole part of its share).
    A smaller folder has no test set: every image trains or validates, and its runs are
    scored on their validation images, or across folds.

    Args:
        counts: Images per class.
    """
    if not counts or min(counts) < MIN_CLASS_FOR_TEST:
        return 0
    return math.ceil(sum(counts) * FOLDER_TEST_SHARE)


def class_root(path: Path) -> Path:
    """Return the folder that holds the class folders, looking through wrapping folders.

    A folder is looked through when it holds no images and exactly one visible folder, and
    that folder holds no images itself but has sub-folders of its own (the class folders).
    """
    current = path
    for _ in range(_MAX_WRAPPERS):
        dirs, files = _visible_entries(current)
        if len(dirs) != 1 or any(is_image_name(f.name) for f in files):
            break
        inner_dirs, inner_files = _visible_entries(dirs[0])
        if not inner_dirs or any(is_image_name(f.name) for f in inner_files):
            break
        current = dirs[0]
    return current


def scan_folder(path: Path | str) -> FolderInfo:
    """List and check the classes and images of a folder of class folders.

    Every image is checked the way training will read it (``core.data.image_checks``):
    headers, checksums and whether the data is complete, mostly without decoding, which
    takes about a second for a thousand photos. The result is remembered until the folder,
    or a class folder in it, changes (their modification times).

    Args:
        path: The folder, absolute or relative to the working directory.

    Returns:
        The classes, their images, the skipped files and the image sizes seen.

    Raises:
        UploadError: if the folder is missing, has fewer than two class folders, images
            that cannot be used (named), or a class with fewer than ``MIN_PER_CLASS``
            usable images (named).
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


def _scan(folder: Path) -> FolderInfo:
    root = class_root(folder)
    manifest = read_manifest(folder)
    source = str(manifest.get("name") or folder)
    dirs, files = _visible_entries(root)
    groups = class_groups(dirs)
    names = sorted(groups)
    _check_classes(folder, root, source, names, groups, bool(manifest))
    listed = [class_files(groups[name], folder) for name in names]
    for name, files_of in zip(names, listed, strict=True):
        if files_of.clashes:
            raise UploadError(
                f"class {name!r} has two folders whose names differ only in how their letters "
                f"are encoded (Unicode NFC and NFD), and both hold {files_of.clashes[0]}; "
                "move the images into one folder."
            )
    converted: dict[Path, str] = {}
    sizes: Counter[tuple[int, int]] = Counter()
    usable: list[tuple[Path, ...]] = []
    problems: list[tuple[str, str]] = []
    for files_of in listed:
        kept = []
        for image in files_of.images:
            check = check_image(image)
            if check.problem:
                problems.append((image.relative_to(folder).as_posix(), check.problem))
                continue
            if check.convert:
                converted[image] = check.convert
            sizes[check.size] += 1
            kept.append(image)
        usable.append(tuple(kept))
    if problems:
        raise UploadError(_problems_message(problems))
    unreadable = {str(k): str(v) for k, v in dict(manifest.get("unreadable", {})).items()}
    for name, files_of, kept in zip(names, listed, usable, strict=True):
        prefixes = [d.relative_to(folder).as_posix() + "/" for d in groups[name]]
        left_out = [*manifest.get("not_images", []), *unreadable]
        dropped = [p for p in left_out if str(p).startswith(tuple(prefixes))]
        _check_count(name, len(kept), len(files_of.others) + len(dropped))
    others = [f.relative_to(folder).as_posix() for f in files]  # top-level files are not read
    others += [p for files_of in listed for p in files_of.others]
    return FolderInfo(
        path=root,
        title=Path(manifest.get("name") or root.name).stem or root.name,
        class_names=tuple(names),
        images=tuple(usable),
        skipped=len(others) + int(manifest.get("skipped", 0)),
        skipped_examples=tuple(manifest.get("skipped_examples", []) + others)[:_NAMED],
        sizes=dict(sizes),
        source=source,
        top=folder,
        special={p: kind for files_of in listed for p, kind in files_of.special.items()},
        converted=converted,
        unreadable=unreadable,
    )


def _check_classes(
    folder: Path, root: Path, source: str, names: list[str], groups: dict, zipped: bool
) -> None:
    """Refuse a folder that does not hold at least two class folders."""
    if len(names) < 2:
        found = f"one: {groups[names[0]][0].relative_to(folder).as_posix()}/" if names else "none"
        raise UploadError(
            f"{source} needs at least two class folders, one per class, with the images "
            f"inside; it has {found}."
        )
    if {n.lower() for n in names} <= _SPLIT_NAMES:
        first = groups[names[0]][0]
        pick = (
            f"zip the folder that holds the class folders, such as "
            f"{first.relative_to(folder).as_posix()}/, on its own"
            if zipped
            else f"pick the folder that holds the class folders, such as {first}"
        )
        raise UploadError(
            f"{source} holds split folders ({', '.join(names)}), not class folders; {pick}."
        )


def _check_count(name: str, found: int, unusable: int) -> None:
    """Refuse a class with too few usable images, saying what became of its other files."""
    if found >= MIN_PER_CLASS:
        return
    needs = (
        f"every class needs at least {MIN_PER_CLASS} (JPEG, PNG, GIF or BMP) for training, "
        "validation and cross-validation."
    )
    if not found and unusable:
        its = (
            "its only file is not an image or is damaged"
            if unusable == 1
            else f"its {unusable} files are not images or are damaged"
        )
        raise UploadError(f"class {name!r} has no readable images: {its}; {needs}")
    count = {0: "no images", 1: "only 1 image"}.get(found, f"only {found} images")
    if unusable:
        count += (
            " (and 1 file that is not an image or is damaged)"
            if unusable == 1
            else f" (and {unusable} files that are not images or are damaged)"
        )
    raise UploadError(f"class {name!r} has {count}; {needs}")


def _problems_message(problems: list[tuple[str, str]]) -> str:
    """One sentence naming the images that cannot be used, and why."""
    if len(problems) == 1:
        ((name, problem),) = problems
        return f"{name} cannot be used: {problem}; delete or replace it."
    named = "; ".join(f"{name}: {problem}" for name, problem in problems[:_NAMED])
    more = f"; and {len(problems) - _NAMED} more" if len(problems) > _NAMED else ""
    return f"{len(problems)} images cannot be used ({named}{more}); delete or replace them."


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


def _signature(folder: Path) -> tuple:
    """Modification times of the folder, any wrapping folders and every class folder."""
    stamps = [(str(folder), folder.stat().st_mtime_ns)]
    root = class_root(folder)
    for path in (root, *_visible_entries(root)[0]):
        stamps.append((str(path), path.stat().st_mtime_ns))
    manifest = folder / MANIFEST
    stamps.append(("manifest", manifest.stat().st_mtime_ns if manifest.exists() else 0))
    return tuple(stamps)
