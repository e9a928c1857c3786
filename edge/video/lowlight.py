"""Low light and infrared: enhance a picture before detection only where it was measured
to help, and recognise a greyscale (IR night mode) view.

Local contrast enhancement (CLAHE on lightness) is not free recall: on the shared photos
it found nobody more for YOLOX-Nano on dark colour copies and added boxes on dim ones,
while it helped on dark greyscale copies (docs/benchmarks.md, "Low light"). So each model's
calibration says below which mean grey level it is applied, for colour and for greyscale
frames apart; ``DetectorSettings.enhance_below`` overrides both.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.video.detector.registry import LowLight

GREY_SPREAD = 4.0  # mean |R-G| + |G-B| below this: no colour (an IR camera's night mode)


def is_greyscale(image: np.ndarray) -> bool:
    """True when the picture carries no colour (IR night mode, a greyscale stream)."""
    if image.ndim == 2 or image.shape[2] == 1:
        return True
    # ~160 columns of samples are plenty for a mean: every 8th pixel of every 8th row of a
    # 1280x720 frame, every other one of the cameras' 320-wide shared copy.
    step = max(1, image.shape[1] // 160)
    sample = image[::step, ::step].astype(np.int16)
    b, g, r = sample[..., 0], sample[..., 1], sample[..., 2]
    return float(np.abs(r - g).mean() + np.abs(g - b).mean()) < GREY_SPREAD


def mean_level(image: np.ndarray) -> float:
    # Every 4th pixel of every 4th row is plenty for a mean brightness, at 1/16 of the cost.
    return float(image[::4, ::4].mean())


def clahe(image: np.ndarray, grey: bool) -> np.ndarray:
    tool = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    if grey:  # one channel carries everything: no colour conversion needed
        plane = tool.apply(np.ascontiguousarray(image[..., 0]))
        return cv2.merge((plane, plane, plane))
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    lab[..., 0] = tool.apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


@dataclass(frozen=True, slots=True)
class LowLightPolicy:
    colour_below: float
    grey_below: float

    @classmethod
    def of(cls, calibration: LowLight, override: float | None) -> LowLightPolicy:
        if override is not None:
            return cls(override, override)
        return cls(calibration.colour_below, calibration.grey_below)

    def prepare(self, image: np.ndarray, grey: bool) -> np.ndarray:
        """The picture the detector should see: enhanced only below the measured level."""
        below = self.grey_below if grey else self.colour_below
        if below <= 0 or mean_level(image) >= below:
            return np.ascontiguousarray(image)
        return clahe(image, grey)


class InfraredWatch:
    """Whether a camera is in greyscale (IR) mode, with a little inertia so one odd frame
    does not flip it: infrared cameras switch at dusk and dawn, not frame by frame."""

    def __init__(self, frames: int = 5) -> None:
        self.frames = frames
        self.active: bool | None = None  # unknown until the first frame
        self._streak = 0

    def update(self, image: np.ndarray) -> bool:
        grey = is_greyscale(image)
        if self.active is None or grey == self.active:
            self.active, self._streak = grey, 0
        else:
            self._streak += 1
            if self._streak >= self.frames:
                self.active, self._streak = grey, 0
        return self.active
