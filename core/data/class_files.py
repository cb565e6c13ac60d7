"""The files of one class folder, sorted as Keras reads them, without opening any.

``keras.utils.image_dataset_from_directory`` walks a class folder with ``os.walk`` (links to
folders not followed), keeps the names ending in one of its extensions, and sorts them by
folder, then name. Here the same walk also sorts out what must never be opened (named
pipes, sockets, devices, links to them) and merges class folders whose names are the same
once normalized (``고양이`` composed, as Windows and Linux write it, and decomposed, as macOS
does). Standard library only.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from core.data.image_checks import special_kind

# keras.src.utils.image_dataset_utils.ALLOWLIST_FORMATS: Keras skips every other file.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


@dataclass(frozen=True)
class ClassFiles:
    """The files below one class's folder (or folders).

    Attributes:
        images: Regular files with an image extension, in the order Keras reads them.
        others: Visible files that are not images by their names, relative to the top.
        special: Files that are not regular files, relative to the top, with what they are.
        clashes: Paths inside the class found in both spellings of its folder's name.
    """

    images: tuple[Path, ...] = ()
    others: tuple[str, ...] = ()
    special: dict[str, str] = field(default_factory=dict)
    clashes: tuple[str, ...] = ()


def is_image_name(name: str) -> bool:
    """Whether Keras reads a file of this name (by its extension, in any case)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def class_groups(folders: list[Path]) -> dict[str, list[Path]]:
    """Class folders by class name: their names in composed Unicode form (NFC)."""
    groups: dict[str, list[Path]] = {}
    for folder in folders:
        groups.setdefault(unicodedata.normalize("NFC", folder.name), []).append(folder)
    return groups


def class_files(folders: list[Path], top: Path) -> ClassFiles:
    """List the files below a class's folders, as Keras would read them merged into one.

    Args:
        folders: The class's folders (one, or one per spelling of its name).
        top: The folder the person gave, which ``others`` and ``special`` are relative to.
    """
    images: dict[str, Path] = {}  # path inside the class folder -> the file
    others: list[str] = []
    special: dict[str, str] = {}
    clashes: list[str] = []
    for folder in folders:
        for current, _, names in os.walk(folder):
            for name in names:
                path = Path(current) / name
                if name.startswith(".") and not is_image_name(name):
                    continue  # .DS_Store and the like: Keras never reads them
                kind = special_kind(path)
                if kind:
                    special[path.relative_to(top).as_posix()] = kind
                elif not is_image_name(name):
                    others.append(path.relative_to(top).as_posix())
                elif (inner := path.relative_to(folder).as_posix()) in images:
                    clashes.append(inner)
                else:
                    images[inner] = path
    ordered = sorted(images, key=_keras_order)
    return ClassFiles(
        images=tuple(images[inner] for inner in ordered),
        others=tuple(sorted(others)),
        special=dict(sorted(special.items())),
        clashes=tuple(clashes),
    )


def _keras_order(inner: str) -> tuple[str, str]:
    """Sort key of a path inside a class folder: its folder as os.walk names it, then name.

    Keras sorts ``os.walk``'s folders by their full path, so a class folder's own files
    (key ``""``) come first and ``sub/deeper`` comes before ``sub2``.
    """
    path = PurePosixPath(inner)
    parent = path.parent.as_posix()
    return ("" if parent == "." else "/" + parent, path.name)
