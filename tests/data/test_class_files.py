"""Listing a class folder as Keras reads it, without opening a file, on real folders."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from core.data.class_files import class_files, class_groups, is_image_name


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_files_come_in_keras_order_folder_by_folder(tmp_path: Path) -> None:
    moon = tmp_path / "moon"
    touch(moon, "b.png", "a.JPG", "sub2/c.png", "sub/deeper/d.gif", "sub/e.bmp", ".hidden.png")
    files = class_files([moon], tmp_path)
    # os.walk's folders sorted by path: "moon/sub/deeper" before "moon/sub2".
    assert [p.relative_to(moon).as_posix() for p in files.images] == [
        ".hidden.png",
        "a.JPG",
        "b.png",
        "sub/e.bmp",
        "sub/deeper/d.gif",
        "sub2/c.png",
    ]


def test_non_images_are_listed_and_hidden_ones_left_out(tmp_path: Path) -> None:
    touch(tmp_path / "moon", "notes.txt", ".DS_Store", "clip.mp4", "x.png")
    files = class_files([tmp_path / "moon"], tmp_path)
    assert files.others == ("moon/clip.mp4", "moon/notes.txt")
    assert [p.name for p in files.images] == ["x.png"]


@pytest.mark.timeout(30)
def test_special_files_are_set_aside_unopened(tmp_path: Path) -> None:
    moon = tmp_path / "moon"
    touch(moon, "x.png")
    os.mkfifo(moon / "pipe.png")
    os.mkfifo(moon / "pipe.txt")
    (moon / "zero.jpg").symlink_to("/dev/zero")
    files = class_files([moon], tmp_path)
    assert files.special == {
        "moon/pipe.png": "a named pipe",
        "moon/pipe.txt": "a named pipe",
        "moon/zero.jpg": "a link to a device",
    }
    assert [p.name for p in files.images] == ["x.png"] and files.others == ()


def test_two_spellings_of_a_name_are_one_class_and_clashes_are_reported(tmp_path: Path) -> None:
    composed = tmp_path / "고양이"
    decomposed = tmp_path / unicodedata.normalize("NFD", "고양이")
    touch(composed, "1.png", "same.png")
    touch(decomposed, "2.png", "same.png")
    groups = class_groups(sorted([composed, decomposed, tmp_path / "dog"]))
    assert sorted(groups) == ["dog", "고양이"]
    files = class_files(groups["고양이"], tmp_path)
    assert [p.name for p in files.images] == ["1.png", "2.png", "same.png"]
    assert files.clashes == ("same.png",)


def test_image_names_are_kerass_extensions_in_any_case() -> None:
    assert all(map(is_image_name, ["a.png", "b.JPEG", "c.Jpg", "d.gif", "e.BMP"]))
    assert not any(map(is_image_name, ["a.webp", "b.tiff", "c.png.txt", "png"]))
