"""Bad and unusual image files, generated in code (no fixtures on disk)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(width: int = 120, height: int = 80) -> Image.Image:
    """A colourful gradient with a red square: orientation and colours are checkable."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    rgb[:20, :20] = (255, 0, 0)
    return Image.fromarray(rgb, "RGB")


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares a huge image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def exif_rotated_jpeg() -> bytes:
    """A 120x80 JPEG whose EXIF orientation (6) says: rotate 90° clockwise to view."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(photo(), "JPEG", exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def palette_png_with_transparency() -> bytes:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 16, 32))
    return encode(image, "PNG", transparency=0)  # palette index 0 is transparent


def sixteen_bit_png() -> bytes:
    values = np.linspace(0, 65535, 64 * 64, dtype=np.uint16).reshape(64, 64)
    return encode(Image.fromarray(values), "PNG")  # uint16 -> mode I;16


def cmyk_jpeg() -> bytes:
    return encode(photo().convert("CMYK"), "JPEG")


def truncated_jpeg() -> bytes:
    data = encode(photo(400, 300), "JPEG", quality=95)
    return data[: len(data) // 2]


def large_image(side: int = 8000) -> bytes:
    return encode(Image.new("1", (side, side)), "PNG")
