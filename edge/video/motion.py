"""The cheap motion stage: a running background on a small grey copy of the frame.

It tells the detector where to look (boxes around moving blobs, in full-frame
pixels) and how much of each zone moves. A change over most of the frame
(lights switched, camera knocked) resets the background and is reported as a
global change instead of as motion everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.video.settings import MotionSettings

PixelBox = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class MotionResult:
    boxes: list[PixelBox]  # full-frame pixels
    mask: np.ndarray  # small-scale uint8 0/255, ignore masks removed
    fraction: float  # share of the analysed (not ignored) area that moves
    global_change: bool
    grey: np.ndarray  # small blurred grey frame (the scene monitor reuses it)
    scale: float  # full-frame pixels per small pixel


def small_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    w = min(target_width, width)
    return w, max(1, round(height * w / width))


class MotionDetector:
    def __init__(
        self, settings: MotionSettings, frame_size: tuple[int, int], ignore: np.ndarray | None
    ) -> None:
        """``ignore``: small-scale uint8 mask, 255 where nothing is analysed (or None)."""
        self.settings = settings
        self.frame_w, self.frame_h = frame_size
        self.size = small_size(self.frame_w, self.frame_h, settings.width)
        self.scale = self.frame_w / self.size[0]
        self.keep = None if ignore is None else cv2.bitwise_not(ignore)
        self.analysed_px = float(
            self.size[0] * self.size[1] - (0 if ignore is None else np.count_nonzero(ignore))
        )
        self._background: np.ndarray | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def small(self, image: np.ndarray) -> np.ndarray:
        """The frame at the motion stage's size: the one downscaled copy a camera's stages share
        (motion, scene and fire read it; downscaling a 1280x720 frame costs ~1 ms each time)."""
        return cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)

    def grey(self, image: np.ndarray | None, small: np.ndarray | None = None) -> np.ndarray:
        if small is None:
            assert image is not None
            small = self.small(image)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def update(self, image: np.ndarray | None, small: np.ndarray | None = None) -> MotionResult:
        """``small``: :meth:`small` of this frame, when the caller made it already (``image`` is
        then not read and may be None)."""
        grey = self.grey(image, small)
        if self._background is None:
            self._background = grey.astype(np.float32)
            empty = np.zeros_like(grey)
            return MotionResult([], empty, 0.0, False, grey, self.scale)
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._background))
        _, mask = cv2.threshold(diff, self.settings.threshold, 255, cv2.THRESH_BINARY)
        if self.keep is not None:
            mask = cv2.bitwise_and(mask, self.keep)
        fraction = float(np.count_nonzero(mask)) / max(self.analysed_px, 1.0)
        if fraction > self.settings.global_change:
            self._background = grey.astype(np.float32)
            return MotionResult([], np.zeros_like(mask), fraction, True, grey, self.scale)
        cv2.accumulateWeighted(grey, self._background, self.settings.background_alpha)
        mask = cv2.dilate(mask, self._kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_px = self.settings.min_area * self.size[0] * self.size[1]
        boxes: list[PixelBox] = []
        for contour in contours:
            if cv2.contourArea(contour) < min_px:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            s = self.scale
            boxes.append(
                (
                    int(x * s),
                    int(y * s),
                    min(self.frame_w, int((x + w) * s + 0.5)),
                    min(self.frame_h, int((y + h) * s + 0.5)),
                )
            )
        return MotionResult(boxes, mask, fraction, False, grey, self.scale)


def share_in(mask: np.ndarray, region: np.ndarray) -> float:
    """Share of ``region`` (small-scale 0/255 mask) where ``mask`` is set."""
    area = np.count_nonzero(region)
    if not area:
        return 0.0
    return float(np.count_nonzero(cv2.bitwise_and(mask, region))) / area
