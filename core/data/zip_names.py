"""The names of a zip's members as the person who made the zip wrote them.

The zip format stores names as bytes: UTF-8 when a member's flag bit 11 is set, else in
"the IBM PC character set" (CP437), which is how ``zipfile`` decodes them. Many tools write
names in the computer's own encoding without the flag: UTF-8 on macOS and Linux, CP949 on
Korean Windows (Explorer's "compressed folder", ALZip). So a name without the flag is read
as the first of UTF-8, CP949 and CP437 that decodes it cleanly: UTF-8 almost never decodes
text written in another encoding, and CP437 decodes every byte.

Names are then composed (Unicode NFC), so that a folder that macOS stored decomposed (NFD)
and the same folder named on Windows are one class.
"""

from __future__ import annotations

import unicodedata
import zipfile

# APPNOTE 4.4.4: bit 11 of the general purpose flags, "language encoding flag" (EFS).
UTF8_FLAG = 0x800
# Tried in order for names without the flag, before CP437 (which decodes any bytes).
LEGACY_ENCODINGS = ("utf-8", "cp949")


def member_name(info: zipfile.ZipInfo) -> str:
    """Return a member's name decoded as its maker wrote it, in NFC.

    Args:
        info: A member of an archive opened without ``metadata_encoding``, so that names
            without the flag were decoded as CP437 (which gives their bytes back exactly).
    """
    name = info.filename
    if not info.flag_bits & UTF8_FLAG:
        name = decode_legacy(name.encode("cp437"))
    return unicodedata.normalize("NFC", name)


def decode_legacy(raw: bytes) -> str:
    """Decode a name stored without the UTF-8 flag with the first encoding that fits."""
    for encoding in LEGACY_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("cp437")
