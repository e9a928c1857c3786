"""Pre- and post-processing per model family (see ../shared/models/MODELS.md).

An adapter turns a BGR uint8 image of any size into the network's input tensor
and the network's raw output back into boxes in that image's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from edge.video.detector.registry import Calibration, Family, ModelSpec, NmsMode


@dataclass(frozen=True, slots=True)
class RawDetection:
    """One detection in pixel coordinates of the image that was analysed."""

    class_id: int
    label: str
    score: float
    x1: float
    y1: float
    x2: float
    y2: float

    def shifted(self, dx: float, dy: float) -> RawDetection:
        return RawDetection(
            self.class_id, self.label, self.score, self.x1 + dx, self.y1 + dy, self.x2 + dx, self.y2 + dy
        )

    def scaled(self, sx: float, sy: float) -> RawDetection:
        return RawDetection(
            self.class_id, self.label, self.score, self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy
        )


@dataclass(frozen=True, slots=True)
class Prepared:
    tensor: np.ndarray  # 1x3xHxW float32
    scale_x: float  # network pixels per image pixel
    scale_y: float
    width: int  # of the original image
    height: int


class Adapter(Protocol):
    def prepare(self, image: np.ndarray) -> Prepared: ...

    def fitted(self, width: int, height: int) -> tuple[tuple[int, int], str]:
        """The size ``prepare`` scales a width x height image to, and how ("linear" or "area"):
        an image already at that size is taken as it is, so a caller holding the frame in
        another form (a decoder's YUV) can make the network's input from it directly."""
        ...

    def decode(
        self, output: np.ndarray, prep: Prepared, threshold: float | None = None
    ) -> list[RawDetection]:
        """Boxes in image pixels; ``threshold`` overrides the calibration's per-class thresholds."""
        ...


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best first."""
    if len(boxes) == 0:
        return []
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
    return keep


def _inside(inner: np.ndarray, outer: np.ndarray) -> float:
    """Share of ``inner``'s area that lies inside ``outer`` (boxes x1, y1, x2, y2)."""
    w = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    h = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = max((inner[2] - inner[0]) * (inner[3] - inner[1]), 1e-9)
    return float(w * h / area)


def _groups(boxes: np.ndarray, idx: list[int]) -> set[int]:
    """Boxes that only span two or more separate boxes of the same class: the model saw
    two beds side by side (or two people close together) as one as well as each."""
    out: set[int] = set()
    for i in idx:
        parts = [j for j in idx if j != i and _inside(boxes[j], boxes[i]) >= 0.8]
        separate = [
            (a, b)
            for k, a in enumerate(parts)
            for b in parts[k + 1 :]
            if _inside(boxes[a], boxes[b]) < 0.3 and _inside(boxes[b], boxes[a]) < 0.3
        ]
        if separate:
            out.add(i)
    return out


def _contained(boxes: np.ndarray, idx: list[int], share: float) -> set[int]:
    """Boxes lying ``share`` inside a better box of their class (``idx`` best first)."""
    out: set[int] = set()
    for n, i in enumerate(idx):
        if any(j not in out and _inside(boxes[i], boxes[j]) >= share for j in idx[:n]):
            out.add(i)
    return out


def _finish(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    classes: list[str],
    prep: Prepared,
    calibration: Calibration,
    threshold: float | None,
    class_thresholds: np.ndarray | None = None,
) -> list[RawDetection]:
    """Per-class thresholds, NMS and the calibration's clean-ups, in image pixels.
    ``class_thresholds``: the calibration's threshold of each class id, looked up at once."""
    if len(scores) == 0:
        return []
    if threshold is None:
        if class_thresholds is not None and int(class_ids.max()) < len(class_thresholds):
            limits = class_thresholds[class_ids]
        else:
            names = [classes[c] if c < len(classes) else str(c) for c in class_ids.tolist()]
            limits = np.array([calibration.threshold(label) for label in names], dtype=np.float32)
        wanted = scores >= limits
        if not wanted.all():
            boxes, scores, class_ids = boxes[wanted], scores[wanted], class_ids[wanted]
        if len(scores) == 0:
            return []
    boxes = boxes.copy()
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]] / prep.scale_x, 0, prep.width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]] / prep.scale_y, 0, prep.height)
    iou = calibration.nms_iou
    keep: list[int] = []
    if calibration.nms is NmsMode.PER_CLASS:
        for cid in np.unique(class_ids):
            idx = np.flatnonzero(class_ids == cid)
            keep.extend(int(idx[k]) for k in nms(boxes[idx], scores[idx], iou))
    else:
        keep = nms(boxes, scores, iou)
    keep.sort(key=lambda k: -float(scores[k]))
    dropped: set[int] = set()
    for cid in {int(class_ids[k]) for k in keep}:
        same = [k for k in keep if int(class_ids[k]) == cid]
        if len(same) < 2:
            continue
        if calibration.split_groups:
            dropped |= _groups(boxes, same)
        if calibration.contained is not None:
            dropped |= _contained(boxes, [k for k in same if k not in dropped], calibration.contained)
    out = []
    for k in keep:
        if k in dropped:
            continue
        x1, y1, x2, y2 = (float(v) for v in boxes[k])
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        c = int(class_ids[k])
        label = classes[c] if c < len(classes) else str(c)
        out.append(RawDetection(c, label, float(scores[k]), x1, y1, x2, y2))
    return out


def class_thresholds(calibration: Calibration, classes: list[str]) -> np.ndarray:
    """The calibration's score threshold of each class id (float32, as _finish compares)."""
    return np.array([calibration.threshold(label) for label in classes], dtype=np.float32)


def _lowest(calibration: Calibration, threshold: float | None) -> float:
    """The score below which no class can pass (candidates are cut there first, cheaply)."""
    if threshold is not None:
        return threshold
    return min([calibration.score_threshold, *calibration.classes.values()])


class YoloxAdapter:
    """YOLOX (Megvii) export: BGR 0-255, letterbox at the top-left padded with 114,
    no normalisation. Output 1xNx85: x, y, log w, log h relative to anchor points of
    strides 8/16/32; objectness and class scores already sigmoid-ed; score = obj * cls.
    Thresholds and NMS: the model's calibration."""

    STRIDES = (8, 16, 32)

    def __init__(self, spec: ModelSpec) -> None:
        self.width, self.height = spec.input
        self.classes = spec.classes
        self.calibration = spec.calibration
        self._thresholds = class_thresholds(spec.calibration, list(spec.classes))
        grids, strides = [], []
        for stride in self.STRIDES:
            gh, gw = self.height // stride, self.width // stride
            ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
            grids.append(np.stack((xs, ys), axis=-1).reshape(-1, 2))
            strides.append(np.full((gh * gw, 1), stride))
        self._grid = np.concatenate(grids).astype(np.float32)
        self._stride = np.concatenate(strides).astype(np.float32)

    def fitted(self, width: int, height: int) -> tuple[tuple[int, int], str]:
        r = min(self.height / height, self.width / width)
        return (max(1, int(width * r)), max(1, int(height * r))), "linear"

    def prepare(self, image: np.ndarray) -> Prepared:
        h, w = image.shape[:2]
        canvas = np.full((self.height, self.width, 3), 114, dtype=np.uint8)
        if w <= self.width and h <= self.height and (w == self.width or h == self.height):
            r = 1.0  # already fitted (see fitted()): no second resize
            canvas[:h, :w] = image
        else:
            r = min(self.height / h, self.width / w)
            nw, nh = max(1, int(w * r)), max(1, int(h * r))
            canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        return Prepared(cv2.dnn.blobFromImage(canvas), r, r, w, h)  # HWC uint8 -> 1xCxHxW float32

    def decode(
        self, output: np.ndarray, prep: Prepared, threshold: float | None = None
    ) -> list[RawDetection]:
        pred = output.reshape(-1, output.shape[-1])
        if pred.shape[0] != self._grid.shape[0]:
            raise ValueError(f"YOLOX output has {pred.shape[0]} rows, expected {self._grid.shape[0]}")
        cls_scores = pred[:, 5:]
        class_ids = cls_scores.argmax(axis=1)
        scores = pred[:, 4] * cls_scores[np.arange(len(pred)), class_ids]
        sel = scores >= _lowest(self.calibration, threshold)
        if not sel.any():
            return []
        p, grid, stride = pred[sel], self._grid[sel], self._stride[sel]
        cxy = (p[:, :2] + grid) * stride
        wh = np.exp(np.minimum(p[:, 2:4], 10.0)) * stride
        boxes = np.concatenate((cxy - wh / 2, cxy + wh / 2), axis=1)
        cal, table = self.calibration, self._thresholds
        return _finish(boxes, scores[sel], class_ids[sel], self.classes, prep, cal, threshold, table)


class FastestDetAdapter:
    """FastestDet: BGR/255, plain resize (no letterbox). Output 1x85xHxW per cell:
    objectness, tanh x/y offsets, sigmoid w/h (relative to the image), 80 class
    probabilities; score = obj^0.6 * cls^0.4. Thresholds and NMS: the model's calibration
    (the upstream example's class-agnostic NMS merged a bed with the person on it)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.width, self.height = spec.input
        self.classes = spec.classes
        self.calibration = spec.calibration
        self._thresholds = class_thresholds(spec.calibration, list(spec.classes))

    def fitted(self, width: int, height: int) -> tuple[tuple[int, int], str]:
        return (self.width, self.height), "area"

    def prepare(self, image: np.ndarray) -> Prepared:
        h, w = image.shape[:2]
        if (w, h) == (self.width, self.height):
            resized = image
        else:
            resized = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        tensor = cv2.dnn.blobFromImage(resized, scalefactor=1.0 / 255.0)
        return Prepared(tensor, self.width / w, self.height / h, w, h)

    def decode(
        self, output: np.ndarray, prep: Prepared, threshold: float | None = None
    ) -> list[RawDetection]:
        fmap = output[0]  # 85 x H x W
        channels, fh, fw = fmap.shape
        cells = fmap.reshape(channels, -1).T  # (H*W) x 85
        cls_scores = cells[:, 5:]
        class_ids = cls_scores.argmax(axis=1)
        cls_best = cls_scores[np.arange(len(cells)), class_ids]
        obj = np.clip(cells[:, 0], 0, None)
        scores = np.power(obj, 0.6) * np.power(np.clip(cls_best, 0, None), 0.4)
        sel = scores >= _lowest(self.calibration, threshold)
        if not sel.any():
            return []
        idx = np.flatnonzero(sel)
        gy, gx = idx // fw, idx % fw
        c = cells[sel]
        cx = (gx + np.tanh(c[:, 1])) / fw
        cy = (gy + np.tanh(c[:, 2])) / fh
        bw = 1.0 / (1.0 + np.exp(-c[:, 3]))
        bh = 1.0 / (1.0 + np.exp(-c[:, 4]))
        # normalised -> network pixels, so _finish can map back like the other families
        boxes = np.stack(
            (
                (cx - bw / 2) * self.width,
                (cy - bh / 2) * self.height,
                (cx + bw / 2) * self.width,
                (cy + bh / 2) * self.height,
            ),
            axis=1,
        )
        cal, table = self.calibration, self._thresholds
        return _finish(boxes, scores[sel], class_ids[sel], self.classes, prep, cal, threshold, table)


def adapter_for(spec: ModelSpec) -> Adapter:
    if spec.family is Family.YOLOX:
        return YoloxAdapter(spec)
    if spec.family is Family.FASTESTDET:
        return FastestDetAdapter(spec)
    raise ValueError(f"no adapter for model family {spec.family!r}")  # pragma: no cover - enum is closed
