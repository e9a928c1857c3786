"""Is the camera still looking at its scene? Dark or uniform views (lens covered,
sprayed, unplugged sensor) and a whole-scene change (camera turned or moved).

The view is compared with a slowly refreshed reference thumbnail by normalised
cross-correlation, which ignores overall brightness and contrast, so lights
switching on or dusk do not look like a moved camera. Lights do show up in
:class:`ZoneLights`: a zone much brighter than its dark level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

from edge.video.settings import CameraHealthSettings

THUMB = (64, 36)


@dataclass(frozen=True, slots=True)
class ViewStatus:
    uniform: bool  # dark or featureless
    changed: bool  # does not look like the reference scene
    ncc: float  # correlation with the reference, -1..1
    std: float  # grey-level spread of the view


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-6 else 0.0


class ViewMonitor:
    def __init__(self, settings: CameraHealthSettings) -> None:
        self.settings = settings
        self._reference: np.ndarray | None = None
        self._changed_since: datetime | None = None

    def update(self, grey: np.ndarray, now: datetime) -> ViewStatus:
        thumb = cv2.resize(grey, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        std = float(thumb.std())
        if std < self.settings.uniform_std:
            # Nothing to compare; keep the reference for when the view comes back.
            return ViewStatus(True, False, 0.0, std)
        if self._reference is None:
            self._reference = thumb
            return ViewStatus(False, False, 1.0, std)
        ncc = _ncc(thumb, self._reference)
        changed = ncc < self.settings.scene_change_ncc
        if changed:
            self._changed_since = self._changed_since or now
            if (now - self._changed_since).total_seconds() >= self.settings.accept_new_view_s:
                self._reference = thumb  # the new view has lasted: it is the scene now
                self._changed_since = None
                changed = False
        else:
            self._changed_since = None
            if ncc > 0.8:  # follow slow drift (daylight, seasons) only while the view matches
                cv2.accumulateWeighted(thumb, self._reference, 0.02)
        return ViewStatus(False, changed, ncc, std)


class ZoneLights:
    """Lights on in a zone: its brightness well above the level it had while dark.

    The dark level follows slow changes (dusk, dawn) but freezes while the zone
    is lit, so the state holds for as long as the lights stay on.
    """

    def __init__(self, jump: float) -> None:
        self.jump = jump
        self.dark_level: float | None = None
        self.on = False

    def update(self, level: float) -> bool:
        if self.dark_level is None:
            self.dark_level = level
            return False
        self.on = level >= self.dark_level + self.jump and level >= 1.5 * self.dark_level
        if not self.on:
            self.dark_level = 0.95 * self.dark_level + 0.05 * level
        return self.on
