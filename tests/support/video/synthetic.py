"""Frames derived from the shared media for the detection-quality tests: orange and red
non-fire objects (a traffic cone, red-and-white tape fluttering, a sand heap) painted into
the real pedestrian clip where people walk past and in front of them, a static
person-like cut-out, people arriving in an empty room. Made by the tests, never stored."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from tests.support.video.media import PEDESTRIANS, clip, photo

ORANGE = (0, 120, 255)  # BGR: a traffic cone's fluorescent orange
RED = (30, 30, 220)
WHITE = (235, 235, 235)
SAND = (60, 150, 215)


def traffic_cone(image: np.ndarray, x: int, base: int, height: int) -> None:
    """An orange cone with two white bands, standing on ``base`` (in place)."""
    half = height // 3
    pts = np.array([[x, base - height], [x - half, base], [x + half, base]], np.int32)
    cv2.fillPoly(image, [pts], ORANGE)
    for frac in (0.35, 0.65):
        y = int(base - height + frac * height)
        w = int(half * frac)
        cv2.rectangle(image, (x - w, y), (x + w, y + max(2, height // 12)), WHITE, -1)
    cv2.rectangle(image, (x - half - 3, base - 3), (x + half + 3, base + 2), ORANGE, -1)


def warning_tape(image: np.ndarray, x1: int, x2: int, y: int, t: int) -> None:
    """Red-and-white barrier tape between two posts, fluttering in the wind."""
    stripe = 8
    for sx in range(x1, x2, stripe):
        sag = 3 * np.sin((sx - x1) / 11 + t * 1.7) + 2 * np.sin(t * 2.9 + sx / 5)
        colour = RED if ((sx - x1) // stripe) % 2 == 0 else WHITE
        top = int(y + sag)
        cv2.rectangle(image, (sx, top), (min(sx + stripe, x2), top + 5), colour, -1)


def sand_heap(image: np.ndarray, cx: int, base: int, w: int, h: int) -> None:
    cv2.ellipse(image, (cx, base), (w // 2, h), 0, 180, 360, SAND, -1)


def with_street_props(frame: np.ndarray, t: int) -> np.ndarray:
    """The pedestrian clip's street with a cone, tape and a sand heap where people walk."""
    out = frame.copy()
    sand_heap(out, 170, 112, 46, 14)
    warning_tape(out, 120, 300, 96, t)
    traffic_cone(out, 215, 122, 42)
    traffic_cone(out, 262, 135, 30)
    return out


@functools.cache
def street_with_props() -> tuple[np.ndarray, ...]:
    """30 s of the real pedestrian clip at 5 fps, props painted in (people pass in front)."""
    return tuple(with_street_props(f, i) for i, f in enumerate(clip(PEDESTRIANS, every=2)))


ROOM = "000000000139.jpg"  # living room, two people at the back (COCO val2017 139)
ROOM_PEOPLE = [(421, 157, 474, 300), (377, 168, 410, 218)]


@functools.cache
def empty_room() -> np.ndarray:
    """The room with its two people painted out (they have gone)."""
    image = photo(ROOM)
    mask = np.zeros(image.shape[:2], np.uint8)
    for x1, y1, x2, y2 in ROOM_PEOPLE:
        cv2.rectangle(mask, (x1, y1), (x2, y2), 255, -1)
    out = cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)
    out.setflags(write=False)
    return out


CUTOUT_AT = (60, 120)  # where the cut-out stands in the room (top-left, pixels)


@functools.cache
def person_cutout() -> np.ndarray:
    """A life-size person-like cut-out (a standee, a signpost with a figure): the footballer
    from messi5.jpg, cropped, standing still in the room."""
    player = photo("messi5.jpg")[57:334, 200:420]  # the player's body
    return np.ascontiguousarray(cv2.resize(player, (110, 150), interpolation=cv2.INTER_AREA))


def with_cutout(room: np.ndarray) -> np.ndarray:
    out = room.copy()
    cut = person_cutout()
    x, y = CUTOUT_AT
    out[y : y + cut.shape[0], x : x + cut.shape[1]] = cut
    return out
