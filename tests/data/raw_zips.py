"""Real zips whose member names are exact bytes, with the UTF-8 flag (bit 11) set or not.

``zipfile`` writes a name as ASCII, or as UTF-8 with the flag set, so a zip made on Korean
Windows (CP949 bytes, no flag) or by a tool that writes UTF-8 without the flag is written here
with placeholder names of the same length, whose bytes and flags are then replaced in the local
headers and the central directory (APPNOTE 4.3.7 and 4.3.12: flags at offsets 6 and 8, the
name at 30 and 46).
"""

from __future__ import annotations

import io
import struct
import zipfile

UTF8_FLAG = 0x800


def raw_name_zip(members: list[tuple[bytes, bytes]], *, utf8_flag: bool = False) -> bytes:
    """A zip of ``(name bytes, data)`` members, every name flagged UTF-8 or none."""
    placeholders = [_placeholder(i, len(raw)) for i, (raw, _) in enumerate(members)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for placeholder, (_, data) in zip(placeholders, members, strict=True):
            archive.writestr(placeholder.decode(), data)
    patched = bytearray(buffer.getvalue())
    for placeholder, (raw, _) in zip(placeholders, members, strict=True):
        for at in (
            _at(patched, b"PK\x03\x04", 30, placeholder),
            _at(patched, b"PK\x01\x02", 46, placeholder),
        ):
            patched[at[0] : at[0] + len(raw)] = raw
            flags = struct.unpack_from("<H", patched, at[1])[0]
            flags = flags | UTF8_FLAG if utf8_flag else flags & ~UTF8_FLAG
            struct.pack_into("<H", patched, at[1], flags)
    return bytes(patched)


def _placeholder(index: int, length: int) -> bytes:
    stem = f"m{index}-".encode()
    assert len(stem) <= length, "names must be longer than their placeholders"
    return stem.ljust(length, b"x")


def _at(data: bytearray, signature: bytes, name_offset: int, name: bytes) -> tuple[int, int]:
    """Offsets of ``name`` and of the flags in the header of ``signature`` that holds it."""
    start = data.index(signature)
    while data[start + name_offset : start + name_offset + len(name)] != name:
        start = data.index(signature, start + 4)
    flags_offset = 6 if signature == b"PK\x03\x04" else 8
    return start + name_offset, start + flags_offset
