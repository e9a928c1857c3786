"""Flames and smoke from the picture itself (no small, permissively licensed fire
model exists; see docs/video-fire-smoke.md for the method, its figures and limits).

Flames: a region in flame colours (red dominant, R >= G > B, bright and saturated,
or a yellow-white hot core) that stays in place, and whose evidence over the recent
frames is that of fire, not of a coloured object:

- it **flickers while staying flame-coloured** (a pixel's brightness jumps again and
  again and it is flame-coloured on both sides of the jump: people passing in front of
  a traffic cone or tape fluttering swap flame colour for another colour instead);
- its brightness **flickers broadband**: most of the variation of the region's mean
  brightness is at the fast end of the spectrum, not one slow swing;
- its **shape keeps changing** from frame to frame;
- and it is not a **long-static** flame-coloured patch: a place flame-coloured nearly
  all of the last minutes while barely flickering (a red sign, a cone under a street
  light's flicker) is suppressed;
- its flicker is **not in step**: a flame's tongues brighten in one place while they
  darken in another, a lamp (a flashing warning light, a turn signal, a neon tube)
  brightens and darkens as one;
- its pixels do **not follow one signal**: a flame's tongues flicker each their own way, a
  lamp's pixels (or two lamps' flashing in turn) brighten and darken together or in opposition;
- it has **hot parts**: a share of its flame-coloured pixels orange or hotter, not all
  deep red (a red flag in the sun, a tail light, an unlit lantern);
- it is not **banded sideways**: glints on rippling water are streaks much wider
  than tall, flames rise;
- and it does not **move as one**: followed from frame to frame, a swaying lantern's
  glow pattern comes along with it, a flame's brightness does not.

Growth (the region getting bigger over the window) raises the score but is not
required: a steady fire does not grow.

Smoke: grey (low saturation) pixels, brighter than the learnt background, in
which the background's fine detail is washed out, drifting slowly, in one
region that persists. Much weaker evidence than flames; documented as such.
"""

from __future__ import annotations

import itertools
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
JUMP = 18  # grey levels: more than compression noise or a slow exposure change
SPECTRUM_WINDOW = 16  # analysed frames of a region's brightness for its flicker spectrum
STATIC_EVERY = 5  # the long-static memory samples every 5th analysed frame
STATIC_ALPHA = 1 / 120  # ... averaging over ~120 samples (2 minutes at 5 fps)
# The last three checks run only on a region that passed all the others (rare: cheap).
STEP_FRAMES = 8  # analysed frame pairs looked at for flicker in step
SAMPLE = 256  # pixels of a region looked at (about: every k-th row and column)
IN_STEP_MAX = 0.35  # fire clip 0.04-0.12, painted lamps 0.83-1, a waiting car's lights 0.46-0.85
# Share of the strongly flickering pixels' variance that one signal explains (their first principal
# component): fire clip 0.13-0.19 as shot and at night, painted lamps (one, irregular, a pair in turn)
# 0.98-1.0. (Pixels "near their two extremes" did not work: flames on a dark night background are.)
ONE_SIGNAL_MAX = 0.6
# Share of samples near a pixel's two extremes (within a fifth of its range), for pixels whose low
# level is lit (grey > SWITCHED_FLOOR): glints switching on a sunlit pond; fire clip 0.44-0.69.
# Pixels with a dark low level are left out: flames on a night background swing from dark to full.
SWITCHED_MAX = 0.75
SWITCHED_FLOOR = 60
HOT_G = 0.4  # G > 0.4 R: orange or hotter (the fire clip's flame pixels: G/R 0.45 at the 1st percentile)
_HOT_R = np.floor(np.arange(256) * HOT_G).astype(
    np.uint8
)  # G > this (a table: no float pass) <=> G > HOT_G R
HOT_MIN = 0.4  # share of the region's flame pixels over the window: fire clip >= 0.93, a red flag ~0.1
RIGID_PAIRS = 4  # analysed frame pairs followed for moving as one
RIGID_MAX = 0.3  # brightness correlation after following the motion: fire clip <= 0.17, lanterns 0.26-0.87
BANDED_MAX = 2.0  # brightness change down / across: fire clip 0.86-1.05, water glints 3.0-3.4


@dataclass(frozen=True, slots=True)
class FireRegion:
    label: str  # "flame" or "smoke"
    box: tuple[int, int, int, int]  # frame pixels
    area: float  # share of the frame
    flicker: float  # share of the region that flickers while flame-coloured (flames)
    score: float  # 0..1
    fast: float = 0.0  # share of the brightness variation at the fast end of the spectrum
    shape: float = 0.0  # mean change of the region's outline between frames (1 - IoU)
    growth: float = 0.0  # area now / area at the start of the window


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
    return _flame_and_hot(bgr, hsv)[0]


def _flame_and_hot(bgr: np.ndarray, hsv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 0/1 masks: flame-coloured pixels, and those of them orange or hotter (G > HOT_G R)."""
    b, g, r = cv2.split(bgr)
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV) if hsv is None else hsv
    s, v = hsv[..., 1], hsv[..., 2]
    # uint8 throughout: comparisons need no wider type, and r - b saturates at 0 (never > 80 then).
    red_orange = (r > 150) & (r >= g) & (g > b) & (s > 90) & (v > 150) & (cv2.subtract(r, b) > 80)
    core = (r > 230) & (g > 180) & (b < 200) & (r >= g) & (g >= b)  # yellow-white hot core
    colour = (red_orange | core).astype(np.uint8)
    hot = cv2.bitwise_and(colour, cv2.compare(g, cv2.LUT(r, _HOT_R), cv2.CMP_GT))  # 1 & 255 = 1: 0/1
    return colour, hot


class FireAnalyzer:
    def __init__(
        self,
        settings: FireRuleSettings,
        frame: tuple[int, int],
        ignore: np.ndarray | None,
        size: tuple[int, int] | None = None,
    ) -> None:
        """``ignore``: uint8 mask at frame size, 255 where nothing is analysed (or None).
        ``size``: analyse at this size (a camera's shared small copy, see :meth:`update`)."""
        self.settings = settings
        fw, fh = frame
        self.frame = frame
        if size is None:
            # An integer shrink factor keeps the resize cheap (INTER_AREA on whole pixel blocks).
            factor = max(1, round(fw / WIDTH))
            size = (max(1, fw // factor), max(1, fh // factor))
        self.size = size
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
        self._last_colour: np.ndarray | None = None
        self._hot: deque[np.ndarray] = deque(maxlen=settings.window)  # flame-coloured and orange or hotter
        self._hot_sum = np.zeros((self.size[1], self.size[0]), np.uint8)
        self._greys: deque[np.ndarray] = deque(maxlen=max(SPECTRUM_WINDOW, settings.window))
        # Long-static memory: how often each pixel was flame-coloured, and flickered so,
        # over the last minutes (exponential averages of samples).
        self._static_colour = np.zeros((self.size[1], self.size[0]), np.float32)
        self._static_flicker = np.zeros((self.size[1], self.size[0]), np.float32)
        self._static_samples = 0
        self._frames = 0
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
        self._last_colour = None
        self._hot.clear()
        self._hot_sum[:] = 0
        self._greys.clear()
        self._static_colour[:] = 0
        self._static_flicker[:] = 0
        self._static_samples = 0
        self._frames = 0
        self._smoke.clear()
        self._history.clear()
        self._frames_seen = 0
        self._hazy_frames = 0
        self._background = None
        self._bg_blocks = None

    def update(self, image: np.ndarray, infrared: bool = False, small: np.ndarray | None = None) -> FireFrame:
        """One analysed frame. ``infrared``: the view carries no colour, so the flame test is
        skipped (it cannot pass on grey pixels) and only the smoke cue runs. ``small``: the
        frame already downscaled to :attr:`size` (the camera's shared copy), else made here."""
        if small is None or small.shape[1::-1] != self.size:
            small = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        regions: list[FireRegion] = []
        if not infrared:
            self._flame_update(small, hsv, grey)
            regions = self._flames()
        else:
            self._last_grey = self._last_colour = None
        if self.settings.smoke:
            regions += self._smoke_regions(hsv, grey)
        return FireFrame(regions)

    # ------------------------------------------------------------------ flames
    def _flame_update(self, small: np.ndarray, hsv: np.ndarray, grey: np.ndarray) -> None:
        colour, hot = _flame_and_hot(small, hsv)
        if self.keep is not None:
            colour &= self.keep
            hot &= self.keep
        if len(self._colour) == self._colour.maxlen:
            self._colour_sum -= self._colour[0]
        self._colour.append(colour)
        self._colour_sum += colour
        if len(self._hot) == self._hot.maxlen:
            self._hot_sum -= self._hot[0]
        self._hot.append(hot)
        self._hot_sum += hot
        self._greys.append(grey)
        self._frames += 1
        held = None
        if self._last_grey is not None and self._last_colour is not None:
            # Flicker counts only while the pixel stays flame-coloured on both sides of the
            # jump: occlusion and fluttering swap flame colour for another colour instead.
            jump = cv2.compare(cv2.absdiff(grey, self._last_grey), JUMP, cv2.CMP_GT)  # 0/255
            held = cv2.bitwise_and(cv2.bitwise_and(colour, self._last_colour), jump)  # 0/1
            if len(self._jumps) == self._jumps.maxlen:
                self._jump_sum -= self._jumps[0]
            self._jumps.append(held)
            self._jump_sum += held
        self._last_grey, self._last_colour = grey, colour
        if held is not None and self._frames % STATIC_EVERY == 0:
            a = max(STATIC_ALPHA * STATIC_EVERY, 1.0 / (self._static_samples + 1))
            cv2.accumulateWeighted(colour.astype(np.float32), self._static_colour, a)
            recent = (self._jump_sum >= 2).astype(np.float32)
            cv2.accumulateWeighted(recent, self._static_flicker, a)
            self._static_samples += 1

    def _long_static(self) -> np.ndarray | None:
        """Pixels flame-coloured nearly all of the last minutes while hardly flickering."""
        if self._static_samples * STATIC_EVERY < 60 * 5:  # a minute of history first
            return None
        return (self._static_colour > 0.9) & (self._static_flicker < 0.15)

    def _flames(self) -> list[FireRegion]:
        n = len(self._colour)
        s = self.settings
        if n < 4:
            return []
        # fire-coloured in place over the window, not passing by
        persistent = self._colour_sum >= max(2, int(0.3 * n))
        if not persistent.any():
            return []
        flicker = self._jump_sum >= 2  # and flickering while flame-coloured, again and again
        candidate = cv2.morphologyEx(persistent.astype(np.uint8), cv2.MORPH_CLOSE, self._kernel)
        if not np.logical_and(flicker, candidate).any():
            # No region can pass (its flicker share would be 0, and flicker_min > 0): skip the
            # labelling, the costliest step, on scenes with flame-coloured things that never flicker.
            return []
        # Grana's block-based labelling: the labels and statistics of OpenCV's default, at about a
        # third of its cost on these masks when OpenCV runs single-threaded (as a node sets it).
        count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
            candidate, 8, cv2.CV_32S, cv2.CCL_BBDT
        )
        total = float(self.size[0] * self.size[1])
        static = self._long_static()
        out = []
        for i in range(1, count):
            x, y, w, h, area = stats[i]
            share = area / total
            if share < s.min_area:
                continue
            region = labels[y : y + h, x : x + w] == i
            flick = float(flicker[y : y + h, x : x + w][region].mean())
            if flick < s.flicker_min:
                continue
            if static is not None and float(static[y : y + h, x : x + w][region].mean()) > 0.5:
                continue
            fast = self._fast_share(region, x, y)
            shape, growth = self._shape_change(region, x, y)
            if fast < s.spectrum_min or shape < s.shape_min:
                continue
            if self._not_a_flame(region, x, y):
                continue
            score = min(1.0, 0.4 + flick * 0.5 + fast * 0.2 + min(shape, 0.3) + (0.1 if growth > 1.2 else 0))
            box = self._to_frame(x, y, w, h)
            out.append(FireRegion("flame", box, share, flick, score, fast, shape, growth))
        return out

    def _not_a_flame(self, region: np.ndarray, x: int, y: int) -> bool:
        """Evidence that a flickering, flame-coloured, changing region is not a flame (checked
        only on regions that passed everything else):

        - **in step**: over the last frames the region's big brightness jumps go one way at a
          time (all up, or all down): one light switching or dimming as a whole (a flashing
          warning light at any rhythm, a turn signal, a neon tube; a camera's exposure step).
          Flames brighten here while they darken there: the fire clip's jumps cancel out.
        - **one signal**: the pixels that flicker strongly (by over 2 x JUMP in the window) follow
          one brightness signal, each with its sign and gain (the first principal component of
          their series explains over ONE_SIGNAL_MAX of the variance): a lamp on and off at any
          rhythm, also two lamps flashing in turn (then the region is not in step). A flame's
          tongues are independent: the fire clip's first component explains under a fifth, at
          night too (bright flames on a dark ground, which a two-level test took for a lamp).
        - **switched on a lit ground**: strongly flickering pixels whose low level is lit (over
          SWITCHED_FLOOR) spend most frames near one of their two extremes: glints on a sunlit
          pond. Flames take all levels between; on a dark ground they are not judged so.
        - **no hot part**: over the window, fewer than HOT_MIN of its flame-coloured pixels
          are orange or hotter (G > HOT_G R): deep red is a red object or lamp in the sun or
          the dark (a flag, an unlit lantern, tail lights), burning things show orange-yellow. Over
          the window, not one frame: a flag's yellow stars can be a third of its sunlit part.
        - **banded sideways**: its brightness changes far more from row to row than from column
          to column: glints on water seen at a low angle are flattened streaks; flames rise
          in tongues (the fire clip is about even both ways).
        - **moves as one** (:meth:`_moves_as_one`): a swaying lantern."""
        # About SAMPLE pixels of the region, on a grid: the shares below need no more, and
        # the cost stays flat however big the region (a fire filling the view).
        k = max(1, int((np.count_nonzero(region) / SAMPLE) ** 0.5))  # a grid of every k-th row and column
        ys, xs = np.nonzero(region[::k, ::k])
        ys, xs = ys * k + y, xs * k + x
        width, height = self.size
        at = ys * width + xs
        recent = list(self._greys)[-self.settings.window :]
        stack = np.stack([g.ravel()[at] for g in recent]).astype(np.int16)  # frames x pixels
        d = np.diff(stack[-STEP_FRAMES - 1 :], axis=0)
        up, down = np.count_nonzero(d > JUMP, axis=1), np.count_nonzero(d < -JUMP, axis=1)
        moved = up + down >= 3
        if moved.any() and float(np.mean(np.abs(up - down)[moved] / (up + down)[moved])) > IN_STEP_MAX:
            return True
        strong = (stack.max(axis=0) - stack.min(axis=0)) > 2 * JUMP
        if np.count_nonzero(strong) >= 3:
            series = stack[:, strong].astype(np.float32)
            series -= series.mean(axis=0)
            power = np.linalg.svd(series, compute_uv=False) ** 2  # frames x pixels: <= 12 values
            if float(power[0]) > ONE_SIGNAL_MAX * float(power.sum()):
                return True
        lo = stack.min(axis=0)
        span = stack.max(axis=0) - lo
        lit = strong & (lo > SWITCHED_FLOOR)
        if np.count_nonzero(lit) >= 3:
            above, span = stack[:, lit] - lo[lit], span[lit]
            near = (above <= span // 5) | (above >= span - span // 5)
            if float(near.mean()) > SWITCHED_MAX:
                return True
        coloured = int(self._colour_sum.ravel()[at].sum(dtype=np.int64))
        if int(self._hot_sum.ravel()[at].sum(dtype=np.int64)) < HOT_MIN * coloured:
            return True
        grey = recent[-1]  # differences to the next pixel across and down, at the sampled pixels
        right, below = np.minimum(xs + 1, width - 1), np.minimum(ys + 1, height - 1)
        gx = float(np.abs(grey[ys, right].astype(np.int16) - grey[ys, xs]).mean())
        gy = float(np.abs(grey[below, xs].astype(np.int16) - grey[ys, xs]).mean())
        if gy > BANDED_MAX * max(gx, 1e-3):
            return True
        return self._moves_as_one(x, y, *region.shape[::-1])

    def _moves_as_one(self, x: int, y: int, w: int, h: int) -> bool:
        """Whether the region's flame-coloured pixels move as one thing: shift the last frames'
        pixels by the move of their centroid (a margin around the region, so a swing is not
        cut off) and correlate their brightness with the frame before. A swaying lantern or
        a moving lit object keeps its pattern (0.26-0.87 on painted lanterns); at 5 fps a
        flame's pattern is new every frame (fire clip -0.08-0.17)."""
        width, height = self.size
        m = 8
        x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(width, x + w + m), min(height, y + h + m)
        # every k-th row and column (about 4 x SAMPLE points): centroids and samples need no more
        k = max(1, int(((x1 - x0) * (y1 - y0) / (4 * SAMPLE)) ** 0.5))
        colours = list(self._colour)[-RIGID_PAIRS - 1 :]
        greys = list(self._greys)[-len(colours) :]
        corr = []
        before = None
        for c, g in zip(colours, greys, strict=True):
            grid = c[y0:y1:k, x0:x1:k]
            mo = cv2.moments(grid, True)
            grey = g[y0:y1, x0:x1]
            if before is not None and mo["m00"] >= 5 and before[0]["m00"] >= 5:
                last, last_grey = before
                dx = k * (mo["m10"] / mo["m00"] - last["m10"] / last["m00"])
                dy = k * (mo["m01"] / mo["m00"] - last["m01"] / last["m00"])
                ys, xs = np.nonzero(grid)
                ys, xs = ys * k, xs * k
                px = np.clip(np.rint(xs - dx).astype(np.intp), 0, x1 - x0 - 1)
                py = np.clip(np.rint(ys - dy).astype(np.intp), 0, y1 - y0 - 1)
                a, b = last_grey[py, px].astype(np.float32), grey[ys, xs].astype(np.float32)
                a -= a.mean()
                b -= b.mean()
                aa, bb = float(a @ a), float(b @ b)
                if min(aa, bb) > len(a):  # both vary (standard deviation over 1 level)
                    corr.append(float(a @ b) / (aa * bb) ** 0.5)
            before = (mo, grey)
        return bool(corr) and float(np.mean(corr)) > RIGID_MAX

    def _fast_share(self, region: np.ndarray, x: int, y: int) -> float:
        """Share of the region's brightness variation above a third of the analysis rate
        (above ~1.7 Hz at 5 fps): flames flicker broadband, a passer-by or a slow swing is
        one slow bump."""
        greys = list(self._greys)[-SPECTRUM_WINDOW:]
        if len(greys) < 8:
            return 0.0
        h, w = region.shape
        inside = region.view(np.uint8)  # cv2.mean under a mask: the boolean-indexed mean, in one C pass
        series = np.array([cv2.mean(g[y : y + h, x : x + w], mask=inside)[0] for g in greys], np.float32)
        series -= series.mean()
        power = np.abs(np.fft.rfft(series * np.hanning(len(series)))) ** 2
        power[0] = 0.0
        total = float(power.sum())
        if total < 1e-6:
            return 0.0
        cut = len(power) * 2 // 3  # bins above ~1/3 of the sampling rate
        return float(power[cut:].sum() / total)

    def _shape_change(self, region: np.ndarray, x: int, y: int) -> tuple[float, float]:
        """Mean 1 - IoU of the flame-coloured pixels inside the region between consecutive
        frames, and the growth of their area over the window."""
        h, w = region.shape
        inside = region.view(np.uint8)  # the same counts as boolean indexing, without the copies
        masks = [cv2.bitwise_and(c[y : y + h, x : x + w], inside) for c in self._colour]
        changes = []
        for a, b in itertools.pairwise(masks):
            union = cv2.countNonZero(cv2.bitwise_or(a, b))
            if union:
                changes.append(1.0 - cv2.countNonZero(cv2.bitwise_and(a, b)) / union)
        first = max(cv2.countNonZero(masks[0]), 1)
        growth = cv2.countNonZero(masks[-1]) / first
        return (float(np.mean(changes)) if changes else 0.0), growth

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
