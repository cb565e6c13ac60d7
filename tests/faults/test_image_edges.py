"""Odd images, special files and odd zips: what the scan accepts trains, and messages name them.

Every case is a real file: images written with Pillow (or laid out by ``tests.data.odd_images``
where Pillow cannot write them), named pipes from ``os.mkfifo``, sockets, links to devices,
and zips written with ``zipfile`` whose name bytes and flags are set by hand
(``tests.data.raw_zips``). Images that reach training are decoded by the engine's folder loader,
through TensorFlow, as a run decodes them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from core.data.folders import UploadError, add_upload, scan_folder
from core.engine.loading.folders import folder_files
from core.views.folder_preview import folder_summary
from tests.data import odd_images as odd
from tests.data.raw_zips import raw_name_zip
from tests.data.test_folders import make_zip as zipped
from tests.data.test_folders import write_folder as write

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]


def folder_arrays(folder: Path, side: int, root: Path) -> tuple:
    """A small folder's splits as arrays, read whole from its cache."""
    x_train, y_train, x_test, y_test, names, _ = folder_files(folder, side, root)
    return x_train.load(), y_train, x_test.load(), y_test, names


def png(seed: int = 0) -> bytes:
    return odd.saved(odd.noise((12, 10), seed), "PNG")


def plain_class(name: str, n: int = 3) -> dict[str, bytes]:
    return {f"{name}/{i}.png": png(i) for i in range(n)}


# ---------------------------------------------------------------------------------------------
# What the scan accepts trains; what training reads is not refused
# ---------------------------------------------------------------------------------------------


def test_bmps_tensorflow_cannot_read_are_accepted_and_decode_as_pillow_reads_them(
    tmp_path: Path,
) -> None:
    members = {
        "scans/page.bmp": odd.one_bit_bmp(),
        "scans/four.bmp": odd.four_bit_bmp(),
        "scans/rle.bmp": odd.rle8_bmp(),
        "colour/palette.bmp": odd.palette_bmp(),
        **plain_class("colour", 2),
    }
    folder = write(tmp_path / "mixed", members)
    x_train, y_train, x_test, y_test, names = folder_arrays(folder, 8, tmp_path / "cache")
    assert names == ["colour", "scans"] and len(y_train) + len(y_test) == 6
    # The 1-bit page is black and white in training too, not the grey levels 0 and 1.
    pages = np.concatenate([x_train[y_train == 1], x_test[y_test == 1]])
    assert pages.max() > 200
    info = scan_folder(folder)
    assert info.converted[folder / "scans" / "page.bmp"] == "a 1-bit BMP"
    assert "4 images TensorFlow cannot read as they are converted for training" in (
        folder_summary(info)
    )


def test_a_motion_photo_and_a_webp_named_png_are_accepted_and_decode(tmp_path: Path) -> None:
    members = {
        "photos/motion.jpg": odd.motion_photo(),
        "photos/web.png": odd.webp_named_png(),
        "photos/plain.png": png(),
        **plain_class("other"),
    }
    folder = write(tmp_path / "phone", members)
    assert scan_folder(folder).counts == (3, 3)
    _, y_train, _, y_test, _ = folder_arrays(folder, 8, tmp_path / "cache")
    assert len(y_train) + len(y_test) == 6


def test_a_motion_photo_in_an_upload_is_kept(cache: Path) -> None:
    folder = add_upload(
        zipped(
            {**plain_class("cats"), "dogs/motion.jpg": odd.motion_photo(), **plain_class("dogs", 2)}
        ),
        name="phone.zip",
    )
    assert scan_folder(folder).counts == (3, 3)


def test_images_training_cannot_read_are_refused_each_named(tmp_path: Path) -> None:
    members = {
        **plain_class("moon"),
        **plain_class("blue"),
        "moon/cut.jpg": odd.cut_jpeg_with_thumbnail(),
        "blue/end.png": odd.png_cut_in_its_end_chunk(),
    }
    with pytest.raises(UploadError) as caught:
        scan_folder(write(tmp_path / "d", members))
    assert caught.value.message == (
        "2 images cannot be used (blue/end.png: the PNG data is cut short (its end chunk is "
        "incomplete); moon/cut.jpg: the JPEG data is cut short); delete or replace them."
    )


# ---------------------------------------------------------------------------------------------
# Files that are not regular files are skipped without being opened
# ---------------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_named_pipe_is_skipped_without_being_opened(tmp_path: Path) -> None:
    import os

    folder = write(tmp_path / "d", {**plain_class("moon"), **plain_class("blue")})
    os.mkfifo(folder / "moon" / "pipe.png")  # opening it would wait for a writer forever
    info = scan_folder(folder)
    assert info.special == {"moon/pipe.png": "a named pipe"} and info.counts == (3, 3)
    _, y_train, _, y_test, _ = folder_arrays(folder, 8, tmp_path / "cache")
    assert len(y_train) + len(y_test) == 6


@pytest.mark.timeout(60)
def test_pipes_sockets_and_device_links_are_skipped_unopened_and_not_trained_on(
    tmp_path: Path,
) -> None:
    import os

    folder = write(tmp_path / "d", {**plain_class("moon"), **plain_class("blue")})
    os.mkfifo(folder / "moon" / "pipe.png")
    (folder / "moon" / "zero.jpg").symlink_to("/dev/zero")
    (folder / "blue" / "gone.png").symlink_to(folder / "blue" / "nowhere.png")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(folder / "blue" / "sock.gif"))
        info = scan_folder(folder)
        assert info.special == {
            "blue/gone.png": "a link to nothing",
            "blue/sock.gif": "a socket",
            "moon/pipe.png": "a named pipe",
            "moon/zero.jpg": "a link to a device",
        }
        assert info.counts == (3, 3)
        assert "4 files that are not regular files skipped unopened (blue/gone.png: a link" in (
            folder_summary(info)
        )
        _, y_train, _, y_test, _ = folder_arrays(folder, 8, tmp_path / "cache")
    assert len(y_train) + len(y_test) == 6


# ---------------------------------------------------------------------------------------------
# Decompression bombs are refused from their header
# ---------------------------------------------------------------------------------------------


def test_a_bomb_is_refused_by_the_scan_and_left_out_of_an_upload(
    tmp_path: Path, cache: Path
) -> None:
    bomb = odd.bomb_png()
    assert len(bomb) < 200_000
    with pytest.raises(
        UploadError, match=r"moon/big\.png cannot be used: it is 12000×12000 pixels"
    ):
        scan_folder(
            write(
                tmp_path / "d", {**plain_class("moon"), **plain_class("blue"), "moon/big.png": bomb}
            )
        )
    folder = add_upload(
        zipped({**plain_class("moon"), **plain_class("blue"), "moon/big.png": bomb})
    )
    info = scan_folder(folder)
    assert info.counts == (3, 3) and not (folder / "moon" / "big.png").exists()
    assert "1 image that cannot be used left out (moon/big.png: it is 12000×12000 pixels" in (
        folder_summary(info)
    )


def test_a_bombs_thumbnail_is_refused_without_decoding_it(tmp_path: Path) -> None:
    bomb = tmp_path / "big.png"
    bomb.write_bytes(odd.bomb_png())
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from core.views.folder_preview import thumbnail\n"
        "try:\n"
        "    thumbnail(Path(sys.argv[1]))\n"
        "except ValueError as exc:\n"
        "    print('refused:', exc)\n"
        # This process's own peak (ru_maxrss would carry over the parent's across exec).
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(bomb)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    refusal, peak_mib = done.stdout.strip().splitlines()
    assert refusal.startswith("refused: big.png: it is 12000×12000 pixels")
    assert int(peak_mib) < 300  # decoding it takes about 800 MiB


# ---------------------------------------------------------------------------------------------
# Messages name what the person gave
# ---------------------------------------------------------------------------------------------


def test_a_refused_upload_is_named_by_its_zip_not_the_unpacked_folder(cache: Path) -> None:
    with pytest.raises(UploadError) as caught:
        add_upload(zipped(plain_class("cats")), name="photos.zip")
    assert caught.value.message == (
        "photos.zip needs at least two class folders, one per class, with the images inside; "
        "it has one: cats/."
    )
    with pytest.raises(UploadError) as caught:
        add_upload(zipped({**plain_class("all/train"), **plain_class("all/test")}), name="s.zip")
    assert caught.value.message == (
        "s.zip holds split folders (test, train), not class folders; zip the folder that "
        "holds the class folders, such as all/test/, on its own."
    )
    assert "uploads" not in caught.value.message


def test_a_class_whose_files_are_all_broken_says_so(cache: Path) -> None:
    members = {**plain_class("cats"), **{f"dogs/{i}.jpg": b"not a jpeg" for i in range(3)}}
    with pytest.raises(UploadError) as caught:
        add_upload(zipped(members), name="pets.zip")
    assert caught.value.message.startswith(
        "class 'dogs' has no readable images: its 3 files are not images or are damaged; "
    )


# ---------------------------------------------------------------------------------------------
# Zip names: legacy encodings, and one class however its name is normalized
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp949", "utf-8"])
def test_korean_names_without_the_utf8_flag_are_read_as_written(cache: Path, encoding: str) -> None:
    members = [
        (f"{label}/{i}.png".encode(encoding), png(i))
        for label in ("고양이", "강아지")
        for i in range(3)
    ]
    info = scan_folder(add_upload(raw_name_zip(members), name="동물.zip"))
    assert info.class_names == ("강아지", "고양이")


def test_composed_and_decomposed_spellings_are_one_class(cache: Path, tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "고양이")
    members = [(f"고양이/{i}.png".encode(), png(i)) for i in range(2)]
    members += [(f"{nfd}/{i}.png".encode(), png(i + 2)) for i in range(2, 4)]
    members += [(f"개/{i}.png".encode(), png(i)) for i in range(3)]
    info = scan_folder(add_upload(raw_name_zip(members, utf8_flag=True), name="mac.zip"))
    assert (info.class_names, info.counts) == (("개", "고양이"), (3, 4))
    # A folder on disk with both spellings, as copying from a Mac leaves it.
    folder = write(
        tmp_path / "d",
        {
            **{f"고양이/{i}.png": png(i) for i in range(2)},
            **{f"{nfd}/{i}.png": png(i) for i in range(2, 4)},
            **plain_class("개"),
        },
    )
    on_disk = scan_folder(folder)
    assert (on_disk.class_names, on_disk.counts) == (("개", "고양이"), (3, 4))
    _, y_train, _, y_test, names = folder_arrays(folder, 8, tmp_path / "cache")
    assert names == ["개", "고양이"]
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == [3, 4]
