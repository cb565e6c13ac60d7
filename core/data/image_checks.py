"""Whether one image file will decode in training, judged without TensorFlow.

The worker decodes images with TensorFlow's ``decode_image`` (through
``keras.utils.image_dataset_from_directory``), which reads files by their content, not their
name. Tried on files written with Pillow, TensorFlow 2.21 reads:

- JPEG: baseline, progressive, grey, CMYK, with EXIF, multi-picture (MPO), and with data
  appended after the end-of-image marker (phones' motion photos); not one cut short, even
  by the marker's two bytes.
- PNG: 1-, 8- and 16-bit, grey, grey with alpha, palette, RGBA, animated (first frame), and
  with data after the end chunk; not one whose end chunk is cut short, which Pillow's
  ``verify`` lets pass.
- GIF: still and animated (first frame; later frames cut short do not matter).
- WebP: still; not animated (TensorFlow wants four channels for those).
- BMP: only uncompressed 24- and 32-bit, and 8-bit whose palette is the grey ramp, with no
  byte after the pixels. 1-, 4- and 16-bit, RLE-compressed, OS/2 and padded BMPs fail
  without naming the file, and 8-bit colour BMPs decode as grey levels of their palette
  indices.

Pillow reads all of these, so what TensorFlow cannot read as it is but Pillow can (the BMPs,
animated WebP) is marked ``convert``: training reads a converted copy
(``core.engine.loading.folders``), and people's own files are never rewritten.

Images above ``MAX_PIXELS`` are refused from their header, before any pixel is decoded:
a 140 KB PNG can hold 12000 × 12000 pixels, which TensorFlow decodes at full size.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# Pillow's own decompression-bomb threshold (about 89 megapixels: an RGB image of 256 MiB).
# Read at each check, so it can be changed at run time. Phones' largest ordinary modes
# (48-64 MP) fit; TensorFlow decodes every image at full size before resizing it.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
# Pillow's format names -> the decoder TensorFlow uses (MPO is the multi-picture JPEG).
FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "GIF": "GIF", "BMP": "BMP", "WEBP": "WEBP"}

_CHUNK = 1024**2
_JPEG_END = b"\xff\xd9"
# The PNG end chunk is always the same 12 bytes: no data, then the CRC of "IEND".
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_BMP_RLE = (1, 2)


@dataclass(frozen=True)
class ImageCheck:
    """What checking one image file found.

    Attributes:
        size: ``(width, height)`` of a usable image, else ``None``.
        problem: Why the file cannot be used, without a final full stop; ``None`` if it can.
        convert: Why training reads a converted copy (``"a 1-bit BMP"``); ``None`` if
            TensorFlow reads the file as it is.
    """

    size: tuple[int, int] | None = None
    problem: str | None = None
    convert: str | None = None


def check_image(path: Path) -> ImageCheck:
    """Say whether training can read ``path``, as it is or converted, and its size.

    Only what is needed is decoded: headers for JPEG, PNG and most BMPs, the first frame
    of a GIF or WebP, a reduced-scale decode of a multi-picture JPEG, and the BMPs that
    are to be converted. The caller has made sure ``path`` is a regular file.
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns from its own threshold; MAX_PIXELS below decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                size = (int(image.size[0]), int(image.size[1]))
                kind = FORMATS.get(image.format or "")
                if problem := pixel_problem(size):
                    return ImageCheck(problem=problem)
                if kind is None:
                    return ImageCheck(
                        problem=f"it is a {image.format or 'unknown'} image, and only JPEG, "
                        "PNG, GIF, BMP and WebP are read"
                    )
                problem, convert = _CHECKS[kind](path, image)
    except Image.DecompressionBombError:
        return ImageCheck(problem=_too_large(None))
    except UnidentifiedImageError:  # its message holds the path, which may be a scratch one
        return ImageCheck(problem="its content is not an image (JPEG, PNG, GIF, BMP or WebP)")
    except Exception as exc:  # noqa: BLE001 - whatever Pillow trips on, the file is unusable
        reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else ""
        return ImageCheck(problem=f"it does not open as an image ({reason or type(exc).__name__})")
    return ImageCheck(problem=problem) if problem else ImageCheck(size, convert=convert)


def pixel_problem(size: tuple[int, int]) -> str | None:
    """Why an image of ``size`` (width, height) is refused, or ``None`` below ``MAX_PIXELS``."""
    return _too_large(size) if size[0] * size[1] > MAX_PIXELS else None


def special_kind(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (``"a named pipe"``), else ``None``.

    Decided from ``stat`` alone: opening a named pipe blocks until someone writes to it,
    and a link to ``/dev/zero`` never ends. A link to a regular file counts as one, since
    TensorFlow reads through links.
    """
    link = "a link to " if os.path.islink(path) else ""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "a link to nothing" if link else "a file that cannot be read"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        what = "a named pipe"
    elif stat.S_ISSOCK(mode):
        what = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "a device"
    else:
        what = "a special file"
    return f"{link}{what}" if link else what


def _too_large(size: tuple[int, int] | None) -> str:
    cap = f"{MAX_PIXELS / 1e6:.0f} megapixels"
    if size is None:
        return f"it has more pixels than the {cap} accepted; make it smaller"
    shown = f"{size[0]}×{size[1]} pixels ({size[0] * size[1] / 1e6:.0f} megapixels)"
    return f"it is {shown}, more than the {cap} accepted; make it smaller"


def _check_jpeg(path: Path, image: Image.Image) -> tuple[str | None, None]:
    # Pillow stops reading a JPEG's header at its first start-of-scan marker, so the file's
    # position is where the compressed data begins, past any EXIF thumbnail (which has an
    # end marker of its own). An end marker after it means the data is complete: the
    # marker cannot occur inside the compressed data, and what follows it does not matter.
    if image.format == "JPEG" and _find(path, _JPEG_END, image.fp.tell()):
        return None, None
    if image.format == "JPEG":
        return "the JPEG data is cut short", None
    # A multi-picture file's first image is what TensorFlow reads; Pillow does not say
    # where it ends, so decode it at an eighth of its size (scale is cheap, data is not).
    try:
        image.draft("RGB", (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))
        image.load()
    except Exception:  # noqa: BLE001 - any decoding failure is TensorFlow's too
        return "the JPEG data is cut short or damaged", None
    return None, None


def _check_png(path: Path, image: Image.Image) -> tuple[str | None, None]:
    image.verify()  # every chunk's CRC up to the end chunk, whose own CRC is not read
    if not _find(path, _PNG_END, 0):
        return "the PNG data is cut short (its end chunk is incomplete)", None
    return None, None


def _check_gif(path: Path, image: Image.Image) -> tuple[None, None]:
    image.load()  # the first frame, the only one TensorFlow keeps
    return None, None


def _check_webp(path: Path, image: Image.Image) -> tuple[None, str | None]:
    image.load()
    return None, ("an animated WebP" if getattr(image, "n_frames", 1) > 1 else None)


def _check_bmp(path: Path, image: Image.Image) -> tuple[None, str | None]:
    """Whether TensorFlow's BMP decoder reads this file right, from the fields it reads.

    That decoder takes the pixel offset, width, height and bits per pixel from a Windows
    header, ignores the compression and the palette, and wants the file to end exactly
    after the last row.
    """
    image.load()  # what cannot be decoded cannot be converted either
    with path.open("rb") as handle:
        head = handle.read(34)
    offset, header_size = struct.unpack_from("<II", head, 10)
    if header_size < 40:
        return None, "an OS/2 BMP"
    width, height, _, bits, compression = struct.unpack_from("<iiHHI", head, 18)
    if compression in _BMP_RLE:
        return None, "an RLE-compressed BMP"
    if bits not in (8, 24, 32):
        return None, f"a {bits}-bit BMP"
    if compression:
        return None, "a BMP with colour masks"
    if bits == 8 and image.mode != "L":  # Pillow says "L" when the palette is the grey ramp
        return None, "an 8-bit BMP with a colour palette"
    if path.stat().st_size != offset + (width * bits + 31) // 32 * 4 * abs(height):
        return None, "a BMP with bytes after its pixels"
    return None, None


_CHECKS = {
    "JPEG": _check_jpeg,
    "PNG": _check_png,
    "GIF": _check_gif,
    "WEBP": _check_webp,
    "BMP": _check_bmp,
}


def _find(path: Path, marker: bytes, start: int) -> bool:
    """Whether ``marker`` occurs in the file after ``start``, reading the end first."""
    with path.open("rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        # Nearly every file ends with its marker: look at the last kilobyte first.
        handle.seek(max(start, end - 1024))
        if marker in handle.read():
            return True
        handle.seek(start)
        carry = b""
        while chunk := handle.read(_CHUNK):
            if marker in carry + chunk:
                return True
            carry = chunk[-(len(marker) - 1) :]
    return False
