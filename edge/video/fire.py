"""Flames and smoke by colour + flicker + motion (no small, permissively
licensed fire model exists; see docs/video-fire-smoke.md for the method and
its limits).

Flames: pixels in flame colours (red dominant, R >= G > B, bright and
saturated, or a yellow-white core next to them) that stay in place over the
recent frames while flickering: the colour test toggles or the brightness
jumps from frame to frame. A red wall is fire-coloured but still; a person in
a red coat moves on, so no pixel of them stays fire-coloured long enough.

Smoke: grey (low saturation) pixels, brighter than the learnt background, in
which the background's fine detail is washed out, drifting slowly, in one
region that persists. Much weaker evidence than flames; documented as such.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edge.video.settings import FireRuleSettings

WIDTH = 256  # about this wide; flames are large, fine detail does not help
SMOKE_BLOCK = 8
SMOKE_WINDOW = 25  # analysed frames (5 s at 5 fps): smoke lingers, people walk on
SMOKE_SAMPLE_EVERY = 10
SMOKE_HISTORY = 9  # background samples: 90 analysed frames (18 s at 5 fps)


@dataclass(frozen=True, slots=True)
class FireRegion:
    label: str  # "flame" or "smoke"
    box: tuple[int, int, int, int]  # frame pixels
    area: float  # share of the frame
    flicker: float  # share of the region that flickers (flames) or drifts (smoke)
    score: float  # 0..1


@dataclass(frozen=True, slots=True)
class FireFrame:
    regions: list[FireRegion]

    @property
    def positive(self) -> bool:
        return bool(self.regions)

    @property
    def score(self) -> float:
        return max((r.score for r in self.regions), default=0.0)


def flame_colour(bgr: np.ndarray, hsv: np.ndarray | None = None) -> np.ndarray:
    """uint8 0/1 mask of flame-coloured pixels (``hsv``: the same image in HSV, if at hand)."""
    b, g, r = cv2.split(bgr)
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV) if hsv is None else hsv
    s, v = hsv[..., 1], hsv[..., 2]
    # uint8 throughout: comparisons need no wider type, and r - b saturates at 0 (never > 80 then).
    red_orange = (r > 150) & (r >= g) & (g > b) & (s > 90) & (v > 150) & (cv2.subtract(r, b) > 80)
    core = (r > 230) & (g > 180) & (b < 200) & (r >= g) & (g >= b)  # yellow-white hot core
    return (red_orange | core).astype(np.uint8)


class FireAnalyzer:
    def __init__(self, settings: FireRuleSettings, frame: tuple[int, int], ignore: np.ndarray | None) -> None:
        """``ignore``: uint8 mask at frame size, 255 where nothing is analysed (or None)."""
        self.settings = settings
        fw, fh = frame
        self.frame = frame
        # An integer shrink factor keeps the resize cheap (INTER_AREA on whole pixel blocks).
        factor = max(1, round(fw / WIDTH))
        self.size = (max(1, fw // factor), max(1, fh // factor))
        self.scale = fw / self.size[0]
        self.keep = None
        if ignore is not None:
            small = cv2.resize(ignore, self.size, interpolation=cv2.INTER_NEAREST)
            self.keep = (small == 0).astype(np.uint8)
        # Windows kept as running sums (add the newest, subtract the oldest): the
        # analysis runs on every camera at every analysed frame, so it must be cheap.
        self._colour: deque[np.ndarray] = deque(maxlen=settings.window)
        self._jumps: deque[np.ndarray] = deque(maxlen=settings.window - 1)
        self._colour_sum = np.zeros((self.size[1], self.size[0]), np.uint8)
        self._jump_sum = np.zeros((self.size[1], self.size[0]), np.uint8)
        self._last_grey: np.ndarray | None = None
        self._background: np.ndarray | None = None
        self._bg_blocks: _BlockStats | None = None  # the background's per-block statistics
        self._keep_blocks: np.ndarray | None = None
        self._smoke: deque[np.ndarray] = deque(maxlen=SMOKE_WINDOW)
        self._history: deque[np.ndarray] = deque(maxlen=SMOKE_HISTORY)
        self._frames_seen = 0
        self._hazy_frames = 0
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def reset(self) -> None:
        self._colour.clear()
        self._jumps.clear()
        self._colour_sum[:] = 0
        self._jump_sum[:] = 0
        self._last_grey = None
        self._smoke.clear()
        self._history.clear()
        self._frames_seen = 0
        self._hazy_frames = 0
        self._background = None
        self._bg_blocks = None

    def update(self, image: np.ndarray) -> FireFrame:
        small = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        colour = flame_colour(small, hsv)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if self.keep is not None:
            colour &= self.keep
        if len(self._colour) == self._colour.maxlen:
            self._colour_sum -= self._colour[0]
        self._colour.append(colour)
        self._colour_sum += colour
        if self._last_grey is not None:
            # Flicker: the brightness jumps by more than compression noise or a slow
            # exposure change could. (Colour-threshold toggles alone are mostly noise
            # at the threshold's edge.)
            jump = (cv2.absdiff(grey, self._last_grey) > 18).astype(np.uint8)
            if len(self._jumps) == self._jumps.maxlen:
                self._jump_sum -= self._jumps[0]
            self._jumps.append(jump)
            self._jump_sum += jump
        self._last_grey = grey
        regions = self._flames()
        if self.settings.smoke:
            regions += self._smoke_regions(hsv, grey)
        return FireFrame(regions)

    # ------------------------------------------------------------------ flames
    def _flames(self) -> list[FireRegion]:
        n = len(self._colour)
        if n < 4:
            return []
        # fire-coloured in place over the window, not passing by
        persistent = self._colour_sum >= max(2, int(0.3 * n))
        if not persistent.any():
            return []
        flicker = self._jump_sum >= 2  # and jumping in brightness again and again
        candidate = cv2.morphologyEx(persistent.astype(np.uint8), cv2.MORPH_CLOSE, self._kernel)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
        total = float(self.size[0] * self.size[1])
        out = []
        for i in range(1, count):
            x, y, w, h, area = stats[i]
            share = area / total
            if share < self.settings.min_area:
                continue
            region = labels == i
            flick = float(flicker[region].mean())
            if flick < self.settings.flicker_min:
                continue
            score = min(1.0, 0.5 + flick + min(share * 5, 0.25))
            out.append(FireRegion("flame", self._to_frame(x, y, w, h), share, flick, score))
        return out

    # ------------------------------------------------------------------ smoke
    def _smoke_regions(self, hsv: np.ndarray, grey: np.ndarray) -> list[FireRegion]:
        """Blocks where the background still shows through, washed out by something grey.

        Per 8x8 block: the background's fine detail (edge energy) is weakened but not
        gone, what remains still correlates with the background (semi-transparent, not
        an object in front), the block is low in saturation and not darker. Such a
        block must persist over most of a longer window while changing slowly.
        """
        # Background = median of frames sampled over the last ~20 s: people passing by
        # vanish from it, and no ghost of the first frame lingers.
        self._frames_seen += 1
        hazy = bool(self._smoke) and int(self._smoke[-1].sum()) >= 4
        self._hazy_frames = self._hazy_frames + 1 if hazy else 0
        # While something looks like smoke the background does not learn it (for a
        # minute at most, so a lasting change of the scene is learnt in the end).
        learn = not hazy or self._hazy_frames > 3 * SMOKE_HISTORY * SMOKE_SAMPLE_EVERY
        if self._frames_seen % SMOKE_SAMPLE_EVERY == 1 and learn:
            self._history.append(grey)
            if len(self._history) == self._history.maxlen:
                self._background = np.median(np.stack(self._history), axis=0).astype(np.float32)
                self._bg_blocks = _BlockStats.of(self._background)
        if self._background is None or self._bg_blocks is None:
            return []
        cur, bg = _BlockStats.of(grey), self._bg_blocks
        # Correlation of each block with the background's, from block means
        # (E[cb] - E[c]E[b]) / sqrt(var c * var b): no per-pixel copies of the blocks.
        cross = _block_mean(cur.centred * bg.centred) - (cur.mean - 128) * (bg.mean - 128)
        corr = cross / np.sqrt(cur.var * bg.var + 1e-6 / SMOKE_BLOCK**4)
        ratio = cur.edges / np.maximum(bg.edges, 1e-3)
        sat = _block_mean(hsv[..., 1])
        smoke = (
            (bg.edges > 6)
            & (ratio > 0.15)
            & (ratio < 0.7)
            & (corr > 0.4)
            & (sat < 45)
            & (cur.mean >= bg.mean - 2)
        )
        if self.keep is not None:
            if self._keep_blocks is None:
                self._keep_blocks = _block_mean(self.keep.astype(np.float32)) > 0.5
            smoke &= self._keep_blocks
        self._smoke.append(smoke)
        n = len(self._smoke)
        if n < self._smoke.maxlen:
            return []
        persistent = (np.stack(self._smoke).sum(axis=0) >= int(0.7 * n)).astype(np.uint8)
        if not persistent.any():
            return []
        count, _labels, stats, _ = cv2.connectedComponentsWithStats(persistent, connectivity=4)
        total_blocks = float(persistent.size)
        bs = SMOKE_BLOCK
        out = []
        for i in range(1, count):
            x, y, bw, bh, area = stats[i]
            share = area / total_blocks
            if area < 4 or share < 4 * self.settings.min_area:
                continue
            score = min(0.9, 0.5 + share)
            out.append(
                FireRegion("smoke", self._to_frame(x * bs, y * bs, bw * bs, bh * bs), share, 0.0, score)
            )
        return out

    def _to_frame(self, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
        s = self.scale
        fw, fh = self.frame
        return int(x * s), int(y * s), min(fw, int((x + w) * s)), min(fh, int((y + h) * s))


def _block_mean(a: np.ndarray) -> np.ndarray:
    """Mean of each whole SMOKE_BLOCK x SMOKE_BLOCK block (float32; a partial edge block is dropped)."""
    bs = SMOKE_BLOCK
    h, w = (a.shape[0] // bs) * bs, (a.shape[1] // bs) * bs
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    # INTER_AREA at an integer factor averages whole blocks exactly, in one C pass.
    return cv2.resize(a[:h, :w], (w // bs, h // bs), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True, slots=True)
class _BlockStats:
    centred: np.ndarray  # the grey image minus 128, float32 (keeps E[x²] - E[x]² well conditioned)
    mean: np.ndarray  # grey-level mean per block
    var: np.ndarray  # grey-level variance per block
    edges: np.ndarray  # mean edge energy (|Laplacian|) per block

    @classmethod
    def of(cls, grey: np.ndarray) -> _BlockStats:
        c = grey.astype(np.float32) - 128.0
        m = _block_mean(c)
        var = np.maximum(_block_mean(c * c) - m * m, 0.0)
        edges = _block_mean(np.abs(cv2.Laplacian(c, cv2.CV_32F, ksize=3)))
        return cls(c, m + 128.0, var, edges)
