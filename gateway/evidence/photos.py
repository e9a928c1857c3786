"""A grid worker's photo made safe to keep: checked, measured before decoding, read for its
time and place, stripped of everything else and re-encoded as an evidence JPEG.

What comes from a phone is untrusted bytes. In order:

1. the declared type (``Content-Type``, the file name's extension) must be a photo type and
   must agree with what the bytes are (their magic numbers): JPEG, PNG or WebP;
2. the size in pixels is read from the header and refused above ``max_pixels`` *before*
   any pixel is decoded (a 50 kB PNG can claim 100 000 × 100 000 pixels: a decompression
   bomb would take tens of gigabytes);
3. EXIF gives the time it was taken (``DateTimeOriginal`` with its offset, else in the
   site's time zone) and the GPS position, if the camera wrote them;
4. the pixels are decoded (a JPEG at a reduced scale when it is much larger than needed),
   turned upright by the EXIF orientation, shrunk to ``max_side`` and written as a fresh
   JPEG: no EXIF, no maker notes, no thumbnails, no ICC profile — nothing of the original
   file but its pixels — at most ``max_bytes`` (the evidence budget edge snapshots keep).

Every refusal is a :class:`PhotoRefused` with an HTTP status and one sentence for people.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# The types a phone's camera or gallery gives; what else arrives is not a photo.
MIME_OF_FORMAT = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {
    "image/jpeg": {".jpg", ".jpeg", ".jfif"},
    "image/png": {".png"},
    "image/webp": {".webp"},
}
NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}

# EXIF tags (TIFF/EXIF 2.32)
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME, _DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x0132, 0x9003, 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4


class PhotoRefused(ValueError):
    """The upload is not a photo we keep; ``status`` is the HTTP answer (413, 415, 422)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class PhotoLimits:
    max_pixels: int = 50_000_000  # a 50 MP phone photo is the largest a camera makes today
    max_side: int = 1600  # the stored photo's longer side
    max_bytes: int = 200_000  # the stored JPEG; the same budget as an edge snapshot
    quality: int = 82


@dataclass(frozen=True)
class Photo:
    """What is kept: a clean JPEG, and what the original said about when and where."""

    jpeg: bytes
    sha256: str
    width: int
    height: int
    taken_at: datetime | None  # from EXIF
    lon: float | None  # from EXIF GPS
    lat: float | None
    source_format: str  # JPEG, PNG or WebP
    source_pixels: tuple[int, int]


def sniff(data: bytes) -> str | None:
    """The photo type the bytes really are (their magic numbers), or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _describe(data: bytes) -> str:
    """A few words on what a non-photo is, for the refusal."""
    known = {
        b"%PDF": "a PDF document",
        b"PK\x03\x04": "a ZIP archive (or an Office document)",
        b"GIF8": "a GIF",
        b"\x1f\x8b": "a gzip archive",
        b"BM": "a BMP bitmap",
    }
    for magic, what in known.items():
        if data.startswith(magic):
            return what
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "a HEIC photo (take it as JPEG, or let the app convert it)"
    if data[4:8] == b"ftyp":
        return "a video or HEIF file"
    try:
        data[:512].decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "not an image"


def check_declared(data: bytes, content_type: str, filename: str | None) -> str:
    """The photo's real type, after checking the declared ones agree with it (415 otherwise)."""
    declared = content_type.split(";", 1)[0].strip().lower()
    if not data:
        raise PhotoRefused(422, "the body is empty: send the photo's bytes")
    real = sniff(data)
    if real is None:
        raise PhotoRefused(
            415, f"this is not a photo: the bytes are {_describe(data)}, not JPEG, PNG or WebP"
        )
    if declared not in EXTENSIONS:
        raise PhotoRefused(
            415, f"send the photo with Content-Type image/jpeg, image/png or image/webp (not {declared!r})"
        )
    if declared != real:
        raise PhotoRefused(415, f"the bytes are {NAMES[real]} but were sent as {declared}")
    if filename:
        dot = filename.rfind(".")
        ext = filename[dot:].lower() if dot >= 0 else ""
        if ext and ext not in EXTENSIONS[real]:
            raise PhotoRefused(415, f"the file name says {ext} but the bytes are {NAMES[real]}")
    return real


# Decoding is the costly, memory-hungry part: a few at a time per process, whatever the load.
_DECODERS = threading.BoundedSemaphore(2)


def process(data: bytes, content_type: str, filename: str | None, tz: tzinfo, limits: PhotoLimits) -> Photo:
    real = check_declared(data, content_type, filename)
    try:
        # Only the decoder of the type the bytes are: no other plugin gets to parse them.
        image = Image.open(io.BytesIO(data), formats=[f for f, m in MIME_OF_FORMAT.items() if m == real])
        width, height = image.size  # from the header: nothing decoded yet
        if width * height > limits.max_pixels:
            raise PhotoRefused(
                422,
                f"the image claims {width}×{height} pixels ({width * height / 1e6:.0f} MP); "
                f"at most {limits.max_pixels / 1e6:.0f} MP is accepted",
            )
        taken_at, lon, lat = _exif_facts(image, tz)
        with _DECODERS:
            clean = _clean_pixels(image, limits)
    except PhotoRefused:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own guard, past twice its default limit
        raise PhotoRefused(422, f"the image is too large to decode safely: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoRefused(
            422, f"the photo could not be decoded ({type(exc).__name__}): it may be cut off"
        ) from None
    jpeg = _encode(clean, limits)
    return Photo(
        jpeg=jpeg,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        width=clean.width,
        height=clean.height,
        taken_at=taken_at,
        lon=lon,
        lat=lat,
        source_format=NAMES[real],
        source_pixels=(width, height),
    )


def _clean_pixels(image: Image.Image, limits: PhotoLimits) -> Image.Image:
    side = limits.max_side
    if image.format == "JPEG":
        # Decode at 1/2, 1/4 or 1/8 scale when the photo is that much larger: a 12 MP photo
        # costs a quarter of the time and memory, and the result is shrunk further anyway.
        w, h = image.size
        wanted = (side, max(1, side * h // w)) if w >= h else (max(1, side * w // h), side)
        image.draft("RGB", wanted)
    image.load()
    upright = ImageOps.exif_transpose(image)  # the stored photo has no orientation tag: apply it
    if upright.mode not in ("RGB", "L"):
        if "A" in upright.getbands() or upright.mode == "P":
            rgba = upright.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            upright = flat
        else:
            upright = upright.convert("RGB")
    if max(upright.size) > side:
        upright.thumbnail((side, side), Image.Resampling.LANCZOS)
    upright.info = {}  # Pillow would carry the original's comment (and more) into the new file
    return upright


def _encode(image: Image.Image, limits: PhotoLimits) -> bytes:
    """A fresh baseline JPEG within the byte budget: lower quality first, then fewer pixels."""
    for _ in range(6):
        for quality in (limits.quality, limits.quality - 12, limits.quality - 24):
            out = io.BytesIO()
            image.save(out, "JPEG", quality=quality, optimize=True)  # no exif=, icc_profile=: none kept
            if out.tell() <= limits.max_bytes:
                return out.getvalue()
        image = image.resize(
            (max(1, image.width * 4 // 5), max(1, image.height * 4 // 5)), Image.Resampling.LANCZOS
        )
    raise PhotoRefused(422, "the photo cannot be stored within the evidence size budget")


def _exif_facts(image: Image.Image, tz: tzinfo) -> tuple[datetime | None, float | None, float | None]:
    """When and where the camera says the photo was taken; (None, None, None) when it does not."""
    try:
        exif = image.getexif()
    except Exception:  # a broken EXIF block is not a broken photo: it just says nothing
        return None, None, None
    taken_at = lon = lat = None
    try:
        sub = exif.get_ifd(_EXIF_IFD)
        taken_at = _exif_time(
            sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), sub.get(_OFFSET_ORIGINAL), tz
        )
    except Exception:
        taken_at = None
    try:
        lon, lat = _exif_position(exif.get_ifd(_GPS_IFD))
    except Exception:
        lon = lat = None
    return taken_at, lon, lat


def _exif_time(value: Any, offset: Any, tz: tzinfo) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip("\x00 ")
    try:
        naive = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        try:
            return datetime.strptime(
                f"{text[:19]} {offset.strip(chr(0) + ' ')}", "%Y:%m:%d %H:%M:%S %z"
            ).astimezone(UTC)
        except ValueError:
            pass
    return naive.replace(tzinfo=tz).astimezone(UTC)  # phones write local time: the site's


def _exif_position(gps: Any) -> tuple[float | None, float | None]:
    if not gps or _GPS_LAT not in gps or _GPS_LON not in gps:
        return None, None

    def degrees(dms: Any, ref: Any, negative: str) -> float:
        d, m, s = (float(v) for v in dms)
        value = d + m / 60 + s / 3600
        return -value if str(ref).strip("\x00 ").upper() == negative else value

    lat = degrees(gps[_GPS_LAT], gps.get(_GPS_LAT_REF, "N"), "S")
    lon = degrees(gps[_GPS_LON], gps.get(_GPS_LON_REF, "E"), "W")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None  # (0, 0) is what a camera without a fix writes
    return round(lon, 7), round(lat, 7)
