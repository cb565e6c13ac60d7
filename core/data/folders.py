"""People's own photos as datasets: unpacking an uploaded zip safely, and describing a folder.

A dataset is either a built-in key (``core.spec.catalog.DATASETS``) or the path of a folder of class
folders (see ``core.data.folder_scan`` for the rules). An uploaded zip is unpacked once into its own
fresh folder, ``paths.cache_dir()/uploads/<first 16 hex digits of its SHA-256>/``, which then
serves as the dataset's path. ``dataset_info`` answers the run config's questions about either
kind without TensorFlow.

Unpacking refuses, with one sentence and without leaving anything behind: files that are not
zips; members whose path is absolute, climbs out with ``..`` or resolves outside the folder;
links and other special files; more than ``MAX_FILES`` members; more than ``MAX_BYTES``
unpacked (judged from the headers, and counted again while unpacking); and compression ratios
above ``MAX_RATIO``, member by member or overall. The limits are read when a zip is unpacked,
so they can be changed at run time. Images above ``image_checks.MAX_PIXELS`` are left out
unopened, like damaged ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from core.data.class_files import IMAGE_EXTENSIONS
from core.data.folder_scan import (
    FOLDER_TEST_SHARE,
    MANIFEST,
    MIN_CLASS_FOR_TEST,
    MIN_TEST_PER_CLASS,
    FolderInfo,
    UploadError,
    class_root,
    folder_test_size,
    read_manifest,
    scan_folder,
)
from core.data.image_checks import check_image
from core.data.zip_names import member_name
from core.spec.catalog import DATASETS, DatasetInfo
from core.spec.config import ConfigError
from core.store import paths

__all__ = [
    "FOLDER_IMAGE_SIZE",
    "default_side",
    "FOLDER_TEST_SHARE",
    "FolderInfo",
    "MIN_CLASS_FOR_TEST",
    "MIN_TEST_PER_CLASS",
    "UploadError",
    "add_upload",
    "class_root",
    "dataset_info",
    "extract_zip",
    "folder_info",
    "folder_test_size",
    "read_manifest",
    "scan_folder",
    "uploaded_folders",
    "uploads_dir",
]

MAX_FILES = 20_000
MAX_BYTES = 2 * 1024**3
MAX_RATIO = 200
# Members (and whole zips) smaller than this are not held to MAX_RATIO: a bomb needs a large
# output, while a small blank BMP or text file legitimately compresses a thousand to one.
RATIO_FLOOR = 1024**2
# Side of the square images a folder is loaded at when the run sets no image size.
FOLDER_IMAGE_SIZE = 128

_CHUNK = 1024**2
_SKIPPED_EXAMPLES = 5
_DRIVE = re.compile(r"^[A-Za-z]:")


def uploads_dir(root: Path | None = None) -> Path:
    """Return the folder that holds one sub-folder per unpacked zip."""
    return (root or paths.cache_dir()).expanduser().resolve() / "uploads"


def extract_zip(data: bytes | Path, root: Path | None = None, *, name: str = "") -> Path:
    """Unpack a zip of class folders into a fresh folder of its own, once.

    Only images (by extension, then checked as training reads them, see
    ``core.data.image_checks``) are kept; other files are skipped and counted, unusable
    images are left out with the reason noted, hidden files and ``__MACOSX`` folders are left
    out silently. Member names are decoded as their maker wrote them (``core.data.zip_names``).
    The members are streamed one by one with a byte budget (never ``extractall``) into a hidden
    temporary folder, which is renamed into place when complete, so a refused or interrupted
    zip leaves nothing, and two people unpacking the same zip at once get the same folder.

    Args:
        data: The zip's bytes, or the path of a zip file.
        root: The cache folder; defaults to ``paths.cache_dir()``.
        name: The zip's file name, shown to people (defaults to the path's name).

    Returns:
        ``uploads_dir(root)/<sha256[:16]>``: the same folder for the same zip, unpacked only
        the first time. Pass it to ``scan_folder`` or use it as the run's ``dataset``.

    Raises:
        UploadError: if the zip is refused (see the module docstring).
    """
    if isinstance(data, (str, Path)):
        source = Path(data).expanduser()
        if not source.is_file():
            raise UploadError(f"there is no zip file at {source.resolve()}.")
        name = name or source.name
        digest, size = _file_digest(source)
    else:
        source = io.BytesIO(data)
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
    target = uploads_dir(root) / digest[:16]
    if target.is_dir():
        return target
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadError(f"{name or 'the upload'} is not a zip file.") from None
    with archive:
        members, ignored = _plan(archive, size)
        new_parent = not target.parent.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".unpacking-{digest[:16]}-", dir=target.parent))
        try:
            dropped = _unpack(archive, members, scratch)
            note = {
                "name": name or "upload.zip",
                "sha256": digest,
                "images": sum(not m.is_dir() for m in members) - len(dropped),
                "skipped": len(ignored),
                "skipped_examples": ignored[:_SKIPPED_EXAMPLES],
                # Every name, so that a class left empty can say what became of its files.
                "not_images": ignored,
                "unreadable": dropped,
                "unpacked_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            (scratch / MANIFEST).write_text(json.dumps(note, indent=1))
            try:
                scratch.rename(target)
            except OSError:
                if not target.is_dir():  # pragma: no cover - a failing disk, not a race
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            if new_parent and not target.exists():
                _remove_if_empty(target.parent)
    return target


def add_upload(data: bytes | Path, root: Path | None = None, *, name: str = "") -> Path:
    """Unpack a zip with ``extract_zip`` and check it with ``scan_folder``.

    An unpacked zip that is not a usable dataset (one class, a broken image) is removed
    again, so that only usable uploads are offered later.

    Returns:
        The upload's folder.

    Raises:
        UploadError: from either step.
    """
    folder = extract_zip(data, root, name=name)
    try:
        scan_folder(folder)
    except UploadError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def uploaded_folders(root: Path | None = None) -> list[Path]:
    """Return the folders of unpacked zips, most recently unpacked first."""
    folder = uploads_dir(root)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda p: (p / MANIFEST).stat().st_mtime_ns, reverse=True)


def default_side(info: FolderInfo) -> int:
    """The side images load at when the run sets no image size.

    The longer side of the most common photo size, so small images are not blown up (and the
    model stays small), capped at ``FOLDER_IMAGE_SIZE`` so large photos stay affordable.
    """
    if not info.sizes:
        return FOLDER_IMAGE_SIZE
    (width, height), _ = max(info.sizes.items(), key=lambda item: item[1])
    return max(1, min(FOLDER_IMAGE_SIZE, max(width, height)))


def folder_info(path: Path | str) -> DatasetInfo:
    """Describe a folder of class folders the way ``core.spec.catalog`` describes a dataset.

    The test set is ``folder_test_size`` images (20%, at least 10 per class; none for a
    folder whose smallest class has fewer than 50); ``n_train`` is the rest, from which the
    run's validation split is held out. Images are square at load
    time: the run's image size, else ``default_side`` (the photos' usual size, at most
    ``FOLDER_IMAGE_SIZE``), which ``shape`` gives.

    Raises:
        UploadError: as ``scan_folder`` does.
    """
    folder = Path(path).expanduser().resolve()
    info = scan_folder(folder)
    n_test = folder_test_size(info.counts)
    return DatasetInfo(
        name=str(folder),
        title=info.title,
        n_train=info.n_images - n_test,
        n_test=n_test,
        shape=(default_side(info), default_side(info), 3),
        num_classes=len(info.class_names),
    )


def dataset_info(name: str) -> DatasetInfo:
    """Return the facts about a run's ``dataset``: a built-in key or a folder's path.

    A built-in key wins over a folder of the same name in the working directory. For a
    folder, ``name`` of the result is its absolute path, the form run configs keep.

    Raises:
        ConfigError: (field ``dataset``) for neither a built-in key nor an existing folder;
            UploadError for a folder that is not a usable dataset.
    """
    if name in DATASETS:
        return DATASETS[name]
    path = Path(name).expanduser()
    if path.is_dir():
        return folder_info(path)
    choices = ", ".join(DATASETS)
    if path.is_file():
        if path.suffix.lower() == ".zip":
            raise ConfigError(
                "dataset",
                f"{path.resolve()} is a zip file; unpack it first (upload it on the Train page, "
                "or run python -m core train --dataset with it).",
            )
        raise ConfigError("dataset", f"{path.resolve()} is a file, not a folder of class folders.")
    if "/" in name or os.sep in name or name.startswith((".", "~")):
        raise ConfigError(
            "dataset",
            f"there is no folder at {path.resolve()}; give a built-in dataset ({choices}) or "
            "an existing folder of class folders.",
        )
    raise ConfigError(
        "dataset",
        f"unknown value {name!r}; choose one of: {choices}, or give the path of a folder of "
        "class folders.",
    )


def _remove_if_empty(folder: Path) -> None:
    """Remove a folder this module created for a zip that was then refused."""
    with contextlib.suppress(OSError):  # not empty: another upload arrived meanwhile
        folder.rmdir()


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _plan(archive: zipfile.ZipFile, size: int) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """Check every member's name, type and sizes before anything is written.

    Returns:
        The members to unpack (folders and image files) and the names of the visible files
        skipped because they are not images.
    """
    infos = archive.infolist()
    for info in infos:
        # Decoded as made and composed (NFC): every later check and path uses this name.
        info.filename = member_name(info)
    if len(infos) > MAX_FILES:
        raise UploadError(
            f"the zip holds {len(infos):,} entries; the most accepted is {MAX_FILES:,}."
        )
    if sum(i.compress_size for i in infos) > size:
        # Only possible when members overlap, the trick of the most efficient zip bombs.
        raise UploadError("the zip's entries overlap one another, so it is not unpacked.")
    members: list[zipfile.ZipInfo] = []
    skipped: list[str] = []
    for info in infos:
        parts = _safe_parts(info.filename)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            what = "a symbolic link" if kind == stat.S_IFLNK else "a link or special file"
            raise UploadError(f"{info.filename} in the zip is {what}; only files are accepted.")
        if not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue  # macOS resource forks, .DS_Store, hidden folders
        if info.flag_bits & 0x1:
            raise UploadError(f"{info.filename} is password-protected; zip it without a password.")
        if not info.is_dir() and not parts[-1].lower().endswith(IMAGE_EXTENSIONS):
            skipped.append("/".join(parts))
            continue
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise UploadError(_ratio_message(info.filename))
        members.append(info)
    declared = sum(i.file_size for i in members)
    if declared > MAX_BYTES:
        raise UploadError(_size_message(declared))
    packed = sum(i.compress_size for i in members)
    if declared > RATIO_FLOOR and declared > MAX_RATIO * max(packed, 1):
        raise UploadError(_ratio_message("the zip as a whole"))
    return members, skipped


def _safe_parts(filename: str) -> list[str]:
    """Split a member name into path parts, refusing any that could land outside the folder."""
    posix = filename.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        raise UploadError(
            f"{filename} in the zip has an absolute path; only relative paths are accepted."
        )
    parts = [p for p in PurePosixPath(posix).parts if p not in ("", ".")]
    if ".." in parts:
        raise UploadError(f"{filename} in the zip points outside its folder with '..'.")
    return parts


def _unpack(
    archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], folder: Path
) -> dict[str, str]:
    """Stream the planned members into ``folder``; return the unusable images and why."""
    base = folder.resolve()
    budget = MAX_BYTES
    dropped: dict[str, str] = {}
    for info in members:
        parts = _safe_parts(info.filename)
        dest = base.joinpath(*parts)
        if not dest.resolve().is_relative_to(base):
            raise UploadError(f"{info.filename} in the zip resolves outside its folder.")
        try:
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            budget -= _copy(archive, info, dest, budget)
        except FileExistsError:
            raise UploadError(f"{info.filename} is in the zip twice.") from None
        except (zipfile.BadZipFile, zlib.error, EOFError):
            raise UploadError(
                f"{info.filename} in the zip is damaged (its data does not match its header)."
            ) from None
        except NotImplementedError:
            raise UploadError(
                f"{info.filename} uses a compression method that cannot be read here; "
                "make the zip with ordinary (deflate) compression."
            ) from None
        except OSError as exc:
            raise UploadError(f"{info.filename} could not be written ({exc.strerror}).") from None
        problem = check_image(dest).problem
        if problem:
            dest.unlink()
            dropped["/".join(parts)] = problem
    return dropped


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget: int) -> int:
    """Copy one member, enforcing the byte budget and the ratio on the bytes really produced."""
    written = 0
    with archive.open(info) as source, dest.open("xb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > budget:
                raise UploadError(_size_message(MAX_BYTES - budget + written))
            if written > info.file_size:  # pragma: no cover - zipfile already stops there
                raise UploadError(f"{info.filename} unpacks to more than its header says.")
            if written > RATIO_FLOOR and written > MAX_RATIO * max(info.compress_size, 1):
                raise UploadError(_ratio_message(info.filename))
            out.write(chunk)
    return written


def _size_message(size: int) -> str:
    return (
        f"the images in the zip unpack to more than {_mib(MAX_BYTES)} (at least {_mib(size)}); "
        "upload fewer or smaller images."
    )


def _ratio_message(what: str) -> str:
    return (
        f"{what} is compressed more than {MAX_RATIO} to 1, as zip bombs are, so it is not unpacked."
    )


def _mib(size: int) -> str:
    return f"{size / 1024**2:,.0f} MiB" if size >= 1024**2 else f"{size:,} bytes"
