"""Real media for the video tests, read from ../shared and cached per session.

Night footage with a clear licence does not exist, so the tests make their
own stand-ins the way MEDIA.md suggests: a darkened, noisy copy (gamma 2.2,
gain 0.35, Gaussian noise sigma 6) and a greyscale copy (like an IR camera).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from tests.support.paths import SHARED

MEDIA = SHARED / "media"
MODELS = SHARED / "models"
PEDESTRIANS = MEDIA / "clips" / "pedestrians_vtest_300f.mp4"
FIRE = MEDIA / "clips" / "fire_fuel_bed.mp4"

# Clearly visible people and beds per photo (MEDIA.md).
PEOPLE = {
    "coco_fastestdet_0.jpg": 4,
    "coco_fastestdet_1.jpg": 2,
    "coco_fastestdet_2.jpg": 4,
    "coco_fastestdet_3.jpg": 4,
    "coco_fastestdet_4.jpg": 0,
    "000000000139.jpg": 2,
    "000000000632.jpg": 0,
    "000000004495.jpg": 0,
    "astronaut.png": 1,
    "messi5.jpg": 1,
}
BEDS = {"000000000632.jpg": 1}
PERSON_FREE = [name for name, n in PEOPLE.items() if n == 0]


@functools.cache
def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(MEDIA / "photos" / name), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {name}"
    image.setflags(write=False)
    return image


_DARK = ((np.arange(256) / 255.0) ** 2.2 * 0.35 * 255).astype(np.float32)


def darkened(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """Gamma 2.2, gain 0.35, Gaussian noise sigma 6 (fresh for every seed, like a sensor's)."""
    rng = np.random.default_rng(seed)
    dark = _DARK[image] + rng.standard_normal(image.shape, dtype=np.float32) * 6
    return np.clip(dark, 0, 255).astype(np.uint8)


def greyscale(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def frames(path: Path, every: int = 1, limit: int | None = None) -> Iterator[np.ndarray]:
    """Decoded frames of a clip: every ``every``-th, at most ``limit``."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"cannot open {path}"
    i = n = 0
    try:
        while limit is None or n < limit:
            ok, image = cap.read()
            if not ok:
                return
            if i % every == 0:
                n += 1
                yield image
            i += 1
    finally:
        cap.release()


@functools.cache
def clip(path: Path, every: int = 1, limit: int | None = None) -> tuple[np.ndarray, ...]:
    return tuple(frames(path, every, limit))
