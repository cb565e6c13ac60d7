"""The scan's verdict on each odd image agrees with what TensorFlow does with it.

Every file of ``tests.data.odd_images`` is given to TensorFlow's ``decode_image`` as Keras
calls it: what the scan passes as it is decodes to Pillow's pixels, what it marks for
conversion fails or decodes wrong and comes out right through the folder loader, and what it
refuses fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.folder_scan import FolderInfo, scan_folder
from core.data.image_checks import check_image
from core.engine.loading.image_files import ImageFiles, folder_cache
from tests.data.odd_images import AS_THEY_ARE, CONVERTED, REFUSED, noise, padded_bmp, saved

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tf_decode(path: Path) -> np.ndarray | None:
    """The pixels ``image_dataset_from_directory`` decodes, or ``None`` when it fails."""
    import tensorflow as tf

    try:
        image = tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
    except tf.errors.InvalidArgumentError:
        return None
    return image.numpy().astype(int)


def pillow_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def write_all(folder: Path, cases: list) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for name, writer, *_ in cases:
        paths.append(folder / name)
        paths[-1].write_bytes(writer())
    return paths


def test_what_the_scan_passes_as_it_is_tensorflow_decodes_alike(tmp_path: Path) -> None:
    for path in write_all(tmp_path / "as-is", AS_THEY_ARE):
        assert check_image(path).convert is None
        decoded = tf_decode(path)
        assert decoded is not None, path.name
        if path.name.startswith("sixteen-bit"):
            continue  # Pillow clips 16-bit grey to 8 bits where TensorFlow scales it
        tolerance = 6 if path.suffix == ".jpg" else 0  # two JPEG decoders round apart
        assert np.abs(decoded - pillow_rgb(path)).max() <= tolerance, path.name


def test_what_the_scan_refuses_tensorflow_cannot_decode(tmp_path: Path) -> None:
    for path in write_all(tmp_path / "refused", REFUSED):
        assert check_image(path).problem
        assert tf_decode(path) is None, path.name


def test_what_the_scan_converts_tensorflow_misreads_and_the_loader_reads_right(
    tmp_path: Path,
) -> None:
    import tensorflow as tf

    folder = tmp_path / "odd"
    for path in write_all(folder / "odd", CONVERTED):
        decoded = tf_decode(path)
        assert decoded is None or not np.array_equal(decoded, pillow_rgb(path)), path.name
    write_all(folder / "plain", [(f"{i}.png", lambda: saved(noise(), "PNG")) for i in range(3)])
    info = scan_folder(folder)
    assert len(info.converted) == len(CONVERTED)
    cache = folder_cache(info, 8, tmp_path / "cache")
    x = ImageFiles(cache, np.flatnonzero(cache.kept)).load()
    assert x.shape == (info.n_images, 8, 8, 3) and sorted(cache.labels) == [0] * 7 + [1] * 3
    assert not cache.skipped
    for image, path in zip(x, cache.paths, strict=True):
        expected = tf.image.resize(pillow_rgb(Path(path)), (8, 8)).numpy()
        assert np.abs(image - np.rint(expected)).max() <= 1, path
    # The converted copies were made beside the cache while it was written, and removed.
    assert not list(cache.prefix.parent.glob(".writing-*"))


def test_an_image_tensorflow_fails_on_anyway_is_skipped_and_named(tmp_path: Path) -> None:
    moon = tmp_path / "jelly" / "moon"
    moon.mkdir(parents=True)
    for i in range(2):
        (moon / f"{i}.png").write_bytes(saved(noise(seed=i), "PNG"))
    (moon / "padded.bmp").write_bytes(padded_bmp())
    # A scan that missed the padding (none does): the loader must still say which file.
    info = FolderInfo(
        moon.parent,
        "jelly",
        ("moon",),
        (tuple(sorted(moon.iterdir())),),
        source="jelly.zip",
        top=moon.parent,
    )
    cache = folder_cache(info, 8, tmp_path / "cache")
    assert list(cache.skipped) == ["moon/padded.bmp"]
    assert cache.skipped["moon/padded.bmp"].startswith("Input size")
    assert (
        int(cache.kept.sum()) == 2
        and len(ImageFiles(cache, np.flatnonzero(cache.kept)).load()) == 2
    )
