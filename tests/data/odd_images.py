"""Writers of real image files in the odd forms people's folders hold.

Pillow writes most of them. It cannot write 4- and 16-bit, RLE-compressed or padded BMPs, so
those are laid out here byte by byte from the BMP format (a 14-byte file header, a 40-byte
info header, the palette, then bottom-up rows padded to four bytes).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import numpy as np
from PIL import Image


def noise(size: tuple[int, int] = (10, 12), seed: int = 0) -> Image.Image:
    """An RGB image of random pixels, ``size`` = (width, height)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved by Pillow in ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def bmp_bytes(
    width: int,
    height: int,
    bits: int,
    rows: bytes,
    palette: bytes = b"",
    compression: int = 0,
    masks: bytes = b"",
    trailer: bytes = b"",
) -> bytes:
    """A BMP with a 40-byte info header (plus ``masks``), laid out by hand."""
    colours = len(palette) // 4
    info = struct.pack(
        "<IiiHHIIiiII", 40, width, height, 1, bits, compression, len(rows), 2835, 2835, colours, 0
    )
    offset = 14 + len(info) + len(masks) + len(palette)
    size = offset + len(rows) + len(trailer)
    return (
        b"BM" + struct.pack("<IHHI", size, 0, 0, offset) + info + masks + palette + rows + trailer
    )


# A 16-colour palette (blue, green, red, unused), for the 4-bit BMPs.
PALETTE_16 = b"".join(bytes([i * 16, 255 - i * 16, 100, 0]) for i in range(16))
PALETTE_GREY = b"".join(bytes([i, i, i, 0]) for i in range(256))


def one_bit_bmp() -> bytes:
    """A 1-bit BMP, as scanners write them (Pillow mode "1")."""
    return saved(noise((16, 8)).convert("1"), "BMP")


def four_bit_bmp() -> bytes:
    """A 4 × 2 BMP of 4-bit palette indices."""
    return bmp_bytes(4, 2, 4, bytes([0x01, 0x23, 0, 0, 0x45, 0x67, 0, 0]), PALETTE_16)


def rle8_bmp() -> bytes:
    """A 4 × 2 RLE8 BMP: each row one run of four pixels, then end of line; end of bitmap."""
    return bmp_bytes(4, 2, 8, bytes([4, 10, 0, 0, 4, 200, 0, 0, 0, 1]), PALETTE_GREY, 1)


def rgb565_bmp() -> bytes:
    """A 4 × 2 16-bit BMP with RGB565 colour masks."""
    rows = struct.pack("<4H", 0xF800, 0x07E0, 0x001F, 0xFFFF) * 2
    masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
    return bmp_bytes(4, 2, 16, rows, compression=3, masks=masks)


def palette_bmp() -> bytes:
    """An 8-bit BMP with a colour palette (which TensorFlow would read as grey levels)."""
    return saved(noise().convert("P"), "BMP")


def padded_bmp() -> bytes:
    """A 24-bit BMP with two bytes after its pixels, as some editors write them."""
    return bmp_bytes(4, 2, 24, bytes(range(24)), trailer=b"\x00\x00")


def motion_photo() -> bytes:
    """A complete JPEG with a video appended after its end marker, as phones write them."""
    return saved(noise((64, 48)), "JPEG") + b"\x00\x00\x00\x18ftypmp42" + bytes(20_000)


def cut_jpeg_with_thumbnail() -> bytes:
    """A JPEG cut short whose last kilobyte still holds an end marker: its thumbnail's.

    The thumbnail (a whole JPEG) sits in a comment before the picture's data, as EXIF
    thumbnails sit in their header, and the picture is small enough to end within a
    kilobyte of it.
    """
    thumbnail = saved(noise((8, 8), seed=2), "JPEG")
    data = saved(noise((8, 8), seed=3), "JPEG", comment=thumbnail)
    return data[:-20]


def png_cut_in_its_end_chunk() -> bytes:
    """A PNG missing the last four bytes (its end chunk's CRC), which ``verify`` lets pass."""
    return saved(noise(), "PNG")[:-4]


def webp_named_png() -> bytes:
    """A still WebP, as web pages serve under a .png or .jpg name."""
    return saved(noise(), "WEBP", lossless=True)


def animated_webp() -> bytes:
    """A three-frame WebP (TensorFlow reads animated WebP only as four channels)."""
    frames = [noise(seed=s) for s in range(3)]
    return saved(frames[0], "WEBP", lossless=True, save_all=True, append_images=frames[1:])


def bomb_png(side: int = 12_000) -> bytes:
    """A flat grey PNG of ``side`` × ``side`` pixels: about 140 KB for 144 megapixels."""
    return saved(Image.new("L", (side, side), 128), "PNG")


# (file name, writer): TensorFlow reads these as they are.
AS_THEY_ARE: list[tuple[str, Callable[[], bytes]]] = [
    ("rgb.png", lambda: saved(noise(), "PNG")),
    ("grey-alpha.png", lambda: saved(noise().convert("LA"), "PNG")),
    ("sixteen-bit.png", lambda: saved(noise().convert("I;16"), "PNG")),
    ("one-bit.png", lambda: saved(noise().convert("1"), "PNG")),
    ("cmyk.jpg", lambda: saved(noise().convert("CMYK"), "JPEG")),
    ("progressive.jpg", lambda: saved(noise(), "JPEG", progressive=True)),
    ("motion.jpg", motion_photo),
    (
        "two.jpg",
        lambda: saved(noise(), "MPO", save_all=True, append_images=[noise(seed=1)]),
    ),
    (
        "animated.gif",
        lambda: saved(noise(), "GIF", save_all=True, append_images=[noise(seed=1)]),
    ),
    ("grey.bmp", lambda: saved(noise().convert("L"), "BMP")),
    ("rgb.bmp", lambda: saved(noise(), "BMP")),
    ("webp.png", webp_named_png),
]

# (file name, writer, why): Pillow reads these, TensorFlow does not (or reads them wrong).
CONVERTED = [
    ("scan.bmp", one_bit_bmp, "a 1-bit BMP"),
    ("four.bmp", four_bit_bmp, "a 4-bit BMP"),
    ("rle.bmp", rle8_bmp, "an RLE-compressed BMP"),
    ("565.bmp", rgb565_bmp, "a 16-bit BMP"),
    ("palette.bmp", palette_bmp, "an 8-bit BMP with a colour palette"),
    ("padded.bmp", padded_bmp, "a BMP with bytes after its pixels"),
    ("moving.png", animated_webp, "an animated WebP"),
]

# (file name, writer, words of the reason): nothing reads these.
REFUSED = [
    ("cut.jpg", cut_jpeg_with_thumbnail, "the JPEG data is cut short"),
    ("end.png", png_cut_in_its_end_chunk, "the PNG data is cut short"),
    ("cut.bmp", lambda: saved(noise(), "BMP")[:-5], "does not open as an image"),
    ("cut.gif", lambda: saved(noise(), "GIF")[:-40], "does not open as an image"),
    ("tiff.png", lambda: saved(noise(), "TIFF"), "it is a TIFF image"),
    ("text.jpg", lambda: b"not a picture at all", "its content is not an image"),
]
