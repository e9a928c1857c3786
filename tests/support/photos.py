"""Photos for tests: a real photo (../shared/media) as a phone camera would write it — EXIF time,
GPS, orientation, a maker's comment — and hostile files (a decompression bomb, a lying header)."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

from tests.support.paths import REPO

PHOTO = REPO.parent / "shared" / "media" / "photos" / "messi5.jpg"


def drawn(folder: Path, scene: str = "person") -> Path:
    """A drawn picture to take instead of :data:`PHOTO` where a screenshot of the page is kept in
    docs/: what lies in ../shared/media is referenced, never copied into the repository, and a
    screenshot showing it would be a copy. ``person`` (a grey-haired man with a stick) or ``room``
    (bunk beds under a workshop's roof)."""
    image = Image.new("RGB", (300, 400), (214, 222, 230))
    draw = ImageDraw.Draw(image)
    if scene == "person":
        draw.ellipse((105, 60, 195, 160), fill=(236, 200, 170))  # head
        draw.rectangle((110, 55, 190, 85), fill=(200, 200, 200))  # grey hair
        draw.rounded_rectangle((70, 170, 230, 400), radius=40, fill=(120, 124, 128))  # grey coat
        draw.line((240, 230, 260, 400), fill=(90, 60, 30), width=8)  # walking stick
    else:
        draw.polygon([(0, 120), (150, 40), (300, 120)], fill=(150, 160, 170))  # the roof's truss
        for top in (200, 290):  # two bunks
            draw.rectangle((40, top, 260, top + 20), fill=(60, 90, 140))
            draw.rectangle((50, top - 25, 120, top), fill=(235, 235, 225))  # pillow and quilt
        draw.rectangle((35, 170, 45, 380), fill=(70, 70, 70))
        draw.rectangle((255, 170, 265, 380), fill=(70, 70, 70))
    path = folder / f"drawn-{scene}.png"
    image.save(path)
    return path


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60 * 10000)
    return IFDRational(d), IFDRational(m), IFDRational(s, 10000)


def camera_jpeg(
    size: tuple[int, int] = (4000, 3000),
    taken: datetime | None = None,
    where: tuple[float, float] | None = None,
    orientation: int = 1,
    quality: int = 92,
    noise: int = 0,
    source: Path = PHOTO,
) -> bytes:
    """A JPEG like a phone camera's: the shared photo at ``size``, with EXIF (local time, no offset,
    as most phones write it), GPS ``where`` = (lon, lat), an orientation and a comment."""
    image = Image.open(source).convert("RGB").resize(size)
    if noise:  # sensor noise: what makes a real 12 MP photo weigh megabytes
        rng = np.random.default_rng(7)
        pixels = np.asarray(image, dtype=np.int16) + rng.integers(-noise, noise + 1, (*size[::-1], 3))
        image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "TestPhone"  # Make
    exif[0x0110] = "TP-1 (serial 0042)"  # Model: the kind of detail that must not be kept
    exif[0x0112] = orientation
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if where is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = ("N" if where[1] >= 0 else "S"), _dms(abs(where[1]))
        gps[3], gps[4] = ("E" if where[0] >= 0 else "W"), _dms(abs(where[0]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes(), comment=b"owner: someone's phone")
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` × ``height`` black pixels: a few hundred kB that would decode
    to ``width * height`` bytes (Pillow keeps 1-bit images a byte per pixel)."""
    row = b"\x00" + bytes((width + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF) says it is ``width`` × ``height``."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)
