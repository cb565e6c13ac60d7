"""Checking one image file as training will read it: usable, converted, or refused (and why).

Every file is real, written with Pillow or laid out by ``tests.data.odd_images``. Whether
TensorFlow agrees is ``tests/engine/loading/test_folder_decoding.py``'s question.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from core.data import image_checks
from core.data.image_checks import ImageCheck, check_image, pixel_problem, special_kind
from tests.data import odd_images as odd
from tests.data.odd_images import AS_THEY_ARE, CONVERTED, REFUSED


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("name", "writer"), AS_THEY_ARE, ids=[n for n, _ in AS_THEY_ARE])
def test_what_tensorflow_reads_as_it_is_passes(
    tmp_path: Path, name: str, writer: Callable[[], bytes]
) -> None:
    path = write(tmp_path, name, writer())
    with Image.open(path) as image:
        size = image.size
    assert check_image(path) == ImageCheck(size=size)


@pytest.mark.parametrize(("name", "writer", "why"), CONVERTED, ids=[n for n, *_ in CONVERTED])
def test_what_only_pillow_reads_is_marked_for_conversion(
    tmp_path: Path, name: str, writer: Callable[[], bytes], why: str
) -> None:
    check = check_image(write(tmp_path, name, writer()))
    assert (check.problem, check.convert) == (None, why)
    assert check.size is not None


@pytest.mark.parametrize(("name", "writer", "words"), REFUSED, ids=[n for n, *_ in REFUSED])
def test_what_nothing_reads_is_refused_with_a_reason(
    tmp_path: Path, name: str, writer: Callable[[], bytes], words: str
) -> None:
    path = write(tmp_path, name, writer())
    check = check_image(path)
    assert check.size is None and check.convert is None
    assert words in check.problem
    assert str(tmp_path) not in check.problem and not check.problem.endswith(".")


def test_an_image_above_the_pixel_cap_is_refused_from_its_header(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.png", odd.bomb_png())
    assert path.stat().st_size < 200_000
    check = check_image(path)
    assert check.problem == (
        "it is 12000×12000 pixels (144 megapixels), more than the 89 megapixels accepted; "
        "make it smaller"
    )


def test_the_cap_is_read_at_each_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "a.png", odd.saved(odd.noise((100, 100)), "PNG"))
    monkeypatch.setattr(image_checks, "MAX_PIXELS", 9_999)
    assert "100×100 pixels" in check_image(path).problem
    assert pixel_problem((99, 101)) is None


def test_an_image_pillow_itself_refuses_as_a_bomb_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "a.png", odd.saved(odd.noise((100, 100)), "PNG"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # 10,000 > 2 × 1,000: an error
    assert check_image(path).problem == (
        "it has more pixels than the 89 megapixels accepted; make it smaller"
    )


def test_special_files_are_named_from_stat_alone(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "sock.png"))
        (tmp_path / "zero.jpg").symlink_to("/dev/zero")
        (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
        (tmp_path / "real.png").write_bytes(odd.saved(odd.noise(), "PNG"))
        (tmp_path / "link.png").symlink_to(tmp_path / "real.png")
        kinds = {p.name: special_kind(p) for p in tmp_path.iterdir()}
    assert kinds == {
        "pipe.png": "a named pipe",
        "sock.png": "a socket",
        "zero.jpg": "a link to a device",
        "gone.png": "a link to nothing",
        "real.png": None,
        "link.png": None,
    }
