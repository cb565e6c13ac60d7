"""A folder's images read from a cache on disk, never held in memory as a whole.

A folder dataset is decoded once: ``tf.data`` reads each file, decodes it (``decode_image``,
three channels, first frame), resizes it to ``side`` × ``side`` (bilinear, as
``keras.utils.image_dataset_from_directory`` does) and rounds it back to uint8, and
``Dataset.cache`` writes the images to ``<cache folder>/datasets/folders/<key>/images``, where
``key`` is the folder's fingerprint (``core.data.fingerprint.folder_fingerprint``) and the side.
A file that fails to decode is skipped (``Dataset.ignore_errors``) and named, with the reason,
in ``images.json`` beside the cache; that note is written last, so a cache without it is
incomplete and is written again. Two workers writing the same cache at once each write their
own copy under a temporary name and rename it into place.

The cache holds the images in a fixed order that looks random (by a hash of each file's path
in the folder), so a bounded shuffle buffer over any split of it mixes every class. A split is
an :class:`ImageFiles`: the cache and the rows of it that belong to the split, in the split's
own order (the order its labels are in, the order an array of it would have). Reading a split
reads the cache from start to end, ``BLOCK`` images at a time, and keeps its rows, each with
its place in the split; splits are made from paths and labels alone, without decoding.

TensorFlow is imported inside the functions that read or write the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.data.fingerprint import folder_fingerprint
from core.data.folder_scan import FolderInfo

CACHE_NOTE = "images.json"
# Images per element of the cache: it is written and read a block at a time.
BLOCK = 256
_PREFIX = "images"


@dataclass(frozen=True, eq=False)
class FolderCache:
    """A folder's decoded images on disk, in cache order.

    Attributes:
        prefix: The ``Dataset.cache`` file name (its files add ``.index`` and ``.data-*``).
        side: Height and width of every image.
        paths: Every file the scan accepted, in cache order (absolute paths).
        names: The same files as the person knows them (relative to their folder).
        labels: Class index of each file, int64.
        kept: Whether each file decoded (the cache holds only those).
        scan_rows: The cache row of each file in the scan's order (class by class, each
            class's files sorted, as ``keras.utils.image_dataset_from_directory`` lists them).
        skipped: The files that did not decode, by name, with why.
        key: The folder's fingerprint and the side: what the cache is named by.
    """

    prefix: Path
    side: int
    paths: tuple[str, ...]
    names: tuple[str, ...]
    labels: np.ndarray
    kept: np.ndarray
    scan_rows: np.ndarray
    skipped: dict[str, str]
    key: str


@dataclass(frozen=True, eq=False)
class ImageFiles:
    """The images of one split of a folder: rows of its disk cache, in the split's order.

    Stands where a split's uint8 image array stands elsewhere (``len``, ``shape``, ``take``),
    but reads its images from the cache each time they are needed, in cache order, each with
    its position in the split (the index of its label).

    Attributes:
        cache: The folder's cache.
        rows: The cache row of each of the split's images, in the split's order.
    """

    cache: FolderCache
    rows: np.ndarray

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(images, side, side, 3)``, as an array of the split would have."""
        return (len(self.rows), self.cache.side, self.cache.side, 3)

    @property
    def size(self) -> int:
        """Pixel values in the split, as an array's ``size``."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """What the split would take as a uint8 array (it is never held as one)."""
        return self.size

    def subset(self, picks: np.ndarray) -> ImageFiles:
        """The images at ``picks`` (positions in this split), in that order: ``x[picks]``."""
        return ImageFiles(self.cache, self.rows[np.asarray(picks, dtype=np.int64)])

    def identity(self) -> np.ndarray:
        """Bytes that name the split's images: the cache's key and the split's rows."""
        digest = hashlib.sha256(self.cache.key.encode())
        digest.update(np.ascontiguousarray(self.rows, dtype=np.int64).tobytes())
        return np.frombuffer(digest.digest(), dtype=np.uint8)

    def placed_blocks(self) -> Any:
        """The cache's ``(images, positions)`` blocks of ``BLOCK`` images, in cache order.

        Each image comes with its position in this split, or -1 for an image of another
        split: a reader that gathers images anyway (a shuffle window) keeps the split's own
        with the same gather, instead of copying each block once more to drop the others.
        """
        import tensorflow as tf

        where = np.full(len(self.cache.paths), -1, dtype=np.int64)
        where[self.rows] = np.arange(len(self.rows))
        where_t = tf.constant(where)
        return _cached(self.cache).map(lambda images, rows: (images, tf.gather(where_t, rows)))

    def blocks(self) -> Any:
        """A ``tf.data.Dataset`` of ``(images, positions)`` blocks of the split, in cache order.

        The cache is read a block of ``BLOCK`` images at a time (a cache read image by image
        costs several times more) and each block keeps the split's images, with their places
        in the split; blocks with none of them are dropped.
        """
        import tensorflow as tf

        def select(images: Any, at: Any) -> tuple:
            keep = at >= 0
            return tf.boolean_mask(images, keep), tf.boolean_mask(at, keep)

        return self.placed_blocks().map(select).filter(lambda _, at: tf.size(at) > 0)

    def stream(self) -> Any:
        """A ``tf.data.Dataset`` of ``(image, position)``: each image with its place here."""
        return self.blocks().unbatch()

    def batches(self, size: int) -> Iterator[np.ndarray]:
        """All the split's images, ``size`` at a time, as uint8 arrays, in cache order."""
        for images, _ in self.blocks().rebatch(size).as_numpy_iterator():
            yield images

    def load(self) -> np.ndarray:
        """The whole split as one uint8 array, in its order: for a split known to fit in memory."""
        out = np.zeros(self.shape, dtype=np.uint8)
        for images, positions in self.blocks().as_numpy_iterator():
            out[positions] = images
        return out

    def take(self, indices: np.ndarray, axis: int = 0) -> np.ndarray:
        """The images at ``indices`` (positions in this split), read in one pass.

        Args:
            indices: Positions; only these images are held (the grid of mistakes takes 24).
            axis: Only 0, as ``np.take(images, indices, axis=0)``.

        Returns:
            uint8 ``(len(indices), side, side, 3)``, in the order of ``indices``.
        """
        if axis != 0:
            raise ValueError("images are taken along the first axis only.")
        indices = np.asarray(indices, dtype=np.int64)
        wanted = set(indices.tolist())
        found: dict[int, np.ndarray] = {}
        for images, positions in self.blocks().as_numpy_iterator():
            for image, position in zip(images, positions.tolist(), strict=True):
                if position in wanted:
                    found[position] = image
            if len(found) == len(wanted):
                break
        side = self.cache.side
        out = np.zeros((len(indices), side, side, 3), dtype=np.uint8)
        for k, position in enumerate(indices.tolist()):
            out[k] = found[position]
        return out


def join(first: ImageFiles, second: ImageFiles) -> ImageFiles:
    """Two splits of one cache as one: ``concatenate([first, second])``."""
    return ImageFiles(first.cache, np.concatenate([first.rows, second.rows]))


def folder_cache(info: FolderInfo, side: int, root: Path) -> FolderCache:
    """Return a scanned folder's cache at ``side``, decoding and writing it the first time.

    Args:
        info: The folder's scan (``core.data.folder_scan.scan_folder``).
        side: Height and width the images are resized to.
        root: The cache folder.

    Returns:
        The cache, with the files that did not decode named in ``skipped``.
    """
    scanned = [(path, label) for label, files in enumerate(info.images) for path in files]
    order = sorted(
        range(len(scanned)),
        key=lambda i: hashlib.blake2b(info.shown(scanned[i][0]).encode(), digest_size=8).digest(),
    )
    entries = [scanned[i] for i in order]
    scan_rows = np.empty(len(order), dtype=np.int64)
    scan_rows[order] = np.arange(len(order))
    key = f"{folder_fingerprint(info)[:16]}-{side}"
    folder = root / "datasets" / "folders" / key
    prefix = folder / _PREFIX
    names = tuple(info.shown(path) for path, _ in entries)
    note = _read_note(folder / CACHE_NOTE, names)
    if note is None:
        note = _write(info, entries, side, folder)
    skipped = {str(k): str(v) for k, v in note["skipped"].items()}
    return FolderCache(
        prefix=prefix,
        side=side,
        paths=tuple(str(path) for path, _ in entries),
        names=names,
        labels=np.array([label for _, label in entries], dtype=np.int64),
        kept=np.array([name not in skipped for name in names], dtype=bool),
        scan_rows=scan_rows,
        skipped=skipped,
        key=key,
    )


def _read_note(path: Path, names: tuple[str, ...]) -> dict | None:
    """The note of a complete cache of these files, else None."""
    try:
        note = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or note.get("names") != list(names):
        return None
    if note.get("block") != BLOCK:  # laid out otherwise: written again
        return None
    if not (path.parent / f"{_PREFIX}.index").is_file():  # its images were removed
        return None
    return note


def _write(info: FolderInfo, entries: list[tuple[Path, int]], side: int, folder: Path) -> dict:
    """Decode every file once into the cache; return its note (the skipped files)."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".writing-", dir=folder))
    try:
        sources = _sources(info, entries, scratch)
        decoded = _decoded(sources, side)
        written = set()
        for _, rows in decoded.batch(BLOCK).cache(str(scratch / _PREFIX)).as_numpy_iterator():
            written.update(rows.tolist())
        skipped = {
            info.shown(path): _why(source)
            for row, ((path, _), source) in enumerate(zip(entries, sources, strict=True))
            if row not in written
        }
        for part in scratch.glob(f"{_PREFIX}.*"):
            if part.suffix != ".index":
                os.replace(part, folder / part.name)
        os.replace(scratch / f"{_PREFIX}.index", folder / f"{_PREFIX}.index")
        names = [info.shown(path) for path, _ in entries]
        note = {"names": names, "skipped": skipped, "block": BLOCK}
        staged = scratch / CACHE_NOTE
        staged.write_text(json.dumps(note))
        os.replace(staged, folder / CACHE_NOTE)  # last: the cache is complete
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return note


def _sources(info: FolderInfo, entries: list[tuple[Path, int]], scratch: Path) -> list[str]:
    """The file each image is decoded from: its own, or a PNG copy Pillow converted.

    TensorFlow misreads some images that Pillow reads (``core.data.image_checks``); those
    are decoded from a converted copy. The person's files are never written to.
    """
    from PIL import Image

    sources = []
    for row, (path, _) in enumerate(entries):
        if path not in info.converted:
            sources.append(str(path))
            continue
        copy = scratch / f"converted-{row}.png"
        try:
            with Image.open(path) as image:
                image.convert("RGB").save(copy, format="PNG", compress_level=1)
        except OSError:
            pass  # left missing: it is skipped as a file that cannot be read
        sources.append(str(copy))
    return sources


def _decode(source: Any, side: int) -> Any:
    """One file's pixels, three channels, resized to ``side`` and rounded to uint8."""
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(source), channels=3, expand_animations=False)
    image = tf.image.resize(image, (side, side))
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def _decoded(sources: list[str], side: int) -> Any:
    """``(image, row)`` of every file that decodes, in order."""
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices(tf.constant(sources, tf.string))
        .enumerate()
        .map(
            lambda row, source: (_decode(source, side), row),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        .ignore_errors()
    )


def _cached(cache: FolderCache) -> Any:
    """The cache's ``(images, rows)`` blocks (decoded again only if its files are gone)."""
    kept = [p for p, ok in zip(cache.paths, cache.kept, strict=True) if ok]
    return _decoded_rows(cache, kept).batch(BLOCK).cache(str(cache.prefix))


def _decoded_rows(cache: FolderCache, kept: list[str]) -> Any:
    """The decode the cache stands for, numbered by the cache's rows."""
    import tensorflow as tf

    rows = np.flatnonzero(cache.kept).astype(np.int64)
    return (
        tf.data.Dataset.from_tensor_slices((tf.constant(kept, tf.string), tf.constant(rows)))
        .map(lambda source, row: (_decode(source, cache.side), row))
        .ignore_errors()
    )


def _why(source: str) -> str:
    """Why TensorFlow could not decode one file, in a few words."""
    import tensorflow as tf

    try:
        tf.io.decode_image(tf.io.read_file(source), channels=3, expand_animations=False)
    except tf.errors.NotFoundError:
        return "it cannot be read"
    except tf.errors.OpError as exc:
        # "{{function_node ...}} Input size should match ... [Op:DecodeImage]"
        return exc.message.split("}}")[-1].split("[Op:")[0].strip().rstrip(".") or "damaged"
    return "it did not decode"
