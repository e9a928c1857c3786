"""Where the detector looks: crops around motion and tracked objects, or the
whole frame.

Crops are at least the network's input size and centred on what moved, so a
small person far away in a 1280x720 view reaches the network at full
resolution instead of shrunk with the whole frame. Overlapping crops merge;
too many, or one that covers most of the frame, become a full-frame pass.
"""

from __future__ import annotations

PixelBox = tuple[int, int, int, int]


def _expand(b: PixelBox, margin: float, min_side: tuple[int, int], frame: tuple[int, int]) -> PixelBox:
    fw, fh = frame
    w, h = b[2] - b[0], b[3] - b[1]
    cw = min(fw, max(int(w * (1 + 2 * margin)), min_side[0]))
    ch = min(fh, max(int(h * (1 + 2 * margin)), min_side[1]))
    cx, cy = (b[0] + b[2]) // 2, (b[1] + b[3]) // 2
    x1 = min(max(0, cx - cw // 2), fw - cw)
    y1 = min(max(0, cy - ch // 2), fh - ch)
    return x1, y1, x1 + cw, y1 + ch


def _overlap(a: PixelBox, b: PixelBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _union(a: PixelBox, b: PixelBox) -> PixelBox:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def plan_regions(
    boxes: list[PixelBox],
    frame: tuple[int, int],
    model_input: tuple[int, int],
    margin: float,
    max_crops: int,
) -> list[PixelBox] | None:
    """Crops covering ``boxes``; ``None`` means one full-frame pass; ``[]`` means nothing to do."""
    if not boxes:
        return []
    fw, fh = frame
    # A frame barely larger than the network input gains nothing from cropping.
    if fw <= model_input[0] * 1.3 and fh <= model_input[1] * 1.3:
        return None
    side = min(model_input[0], fw), min(model_input[1], fh)
    regions = [_expand(b, margin, side, frame) for b in boxes]
    merged = True
    while merged:
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                union = _union(regions[i], regions[j])
                # Merge overlapping crops, but not into long strips the network would shrink.
                small_enough = union[2] - union[0] <= 2 * side[0] and union[3] - union[1] <= 2 * side[1]
                if _overlap(regions[i], regions[j]) and small_enough:
                    regions[i] = union
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    area = sum((r[2] - r[0]) * (r[3] - r[1]) for r in regions)
    if len(regions) > max_crops or area > 0.6 * fw * fh:
        return None
    return regions
