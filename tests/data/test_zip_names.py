"""Zip member names read as their makers wrote them, from real zips with hand-set flags."""

from __future__ import annotations

import io
import unicodedata
import zipfile

import pytest

from core.data.zip_names import decode_legacy, member_name
from tests.data.raw_zips import raw_name_zip

CAT = "고양이"  # composed (NFC), as Windows and Linux write it
CAT_NFD = unicodedata.normalize("NFD", CAT)  # decomposed, as macOS writes it


def names_of(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [member_name(info) for info in archive.infolist()]


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (f"{CAT}/1.png".encode("cp949"), f"{CAT}/1.png"),  # Korean Windows
        (f"{CAT}/1.png".encode(), f"{CAT}/1.png"),  # UTF-8 written without the flag
        ("café/1.png".encode("cp437"), "café/1.png"),  # an old DOS or Western zip
        (b"plain/1.png", "plain/1.png"),
    ],
    ids=["cp949", "utf8-unflagged", "cp437", "ascii"],
)
def test_names_without_the_utf8_flag_are_decoded_as_made(raw: bytes, name: str) -> None:
    with zipfile.ZipFile(io.BytesIO(raw_name_zip([(raw, b"x")]))) as archive:
        (info,) = archive.infolist()
        assert not info.flag_bits & 0x800
        assert member_name(info) == name


def test_flagged_names_are_utf8_and_decomposed_ones_are_composed() -> None:
    data = raw_name_zip([(f"{CAT_NFD}/1.png".encode(), b"x")], utf8_flag=True)
    assert names_of(data) == [f"{CAT}/1.png"]
    assert names_of(raw_name_zip([(f"{CAT_NFD}/2.png".encode(), b"x")])) == [f"{CAT}/2.png"]


def test_legacy_decoding_prefers_utf8_then_cp949_then_cp437() -> None:
    assert decode_legacy("강아지".encode()) == "강아지"
    assert decode_legacy("강아지".encode("cp949")) == "강아지"
    assert decode_legacy(bytes([0x82, 0x41, 0xFF])) == bytes([0x82, 0x41, 0xFF]).decode("cp437")
