"""The fire stage on the node's two decoders' pixels (issue 19 item 3). Prints ONE JSON line.

    .venv/bin/python bench/video_decoders.py            # ~30 s; run bench/video_eval.py once first

PyAV frames stay in YUV and the stages' small copy is scaled from the planes
(``edge.video.sources``); OpenCV converts the whole frame to BGR and ``cv2.INTER_AREA`` shrinks
it. The fire stage is the one most sensitive to those pixels (flame colours, flicker), so this
counts its positive frames per clip through each decoder, same frames, at 5 analysed fps: the
fire clip (truth: fire), the evaluation's street clips with orange and red objects and tape
(truth: none; bench/video_eval.py builds them) and the busy footage at 1280x720.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench.video_eval import FOLDER
from bench.video_media import MEDIA, footage
from edge.video.fire import FireAnalyzer
from edge.video.motion import small_size
from edge.video.settings import SourceSettings, VideoSettings
from edge.video.sources import Frame, FrameGate, Interpolation, Scaler, open_source, resolve_source


def positives(path: Path, decoder: str, every: int) -> dict[str, int]:
    """Frames the fire stage finds flames or smoke in, of every ``every``-th frame of ``path``."""
    settings = VideoSettings()
    source = open_source(resolve_source(str(path)), SourceSettings(decoder=decoder))  # type: ignore[arg-type]
    assert source.backend == decoder, (path, source.backend)
    gate, scaler, fire, frames, positive, i = FrameGate(None), Scaler(), None, 0, 0, -1
    try:
        while True:
            ok, picture = source.read(gate)
            if not ok:
                break
            i += 1
            if i % every:
                continue
            if isinstance(picture, np.ndarray):
                frame = Frame(picture, i, None, 0.0)  # type: ignore[arg-type]
            else:
                frame = Frame(None, i, None, 0.0, picture, scaler)  # type: ignore[arg-type]
            size = small_size(*frame.size, settings.motion.width)
            fire = fire or FireAnalyzer(settings.fire, frame.size, None, size)
            small = frame.resized(size, Interpolation.AREA)
            positive += fire.update(small, small=small).positive
            frames += 1
    finally:
        source.release()
    return {"frames": frames, "positive": positive}


def main() -> None:
    clips = {
        "fire_clip": (MEDIA / "clips" / "fire_fuel_bed.mp4", 2),
        "street_props": (FOLDER / "derived" / "street_props.mp4", 1),  # 5 fps already
        "street_props_dark": (FOLDER / "derived" / "street_props_dark.mp4", 1),
        "pedestrians": (MEDIA / "clips" / "pedestrians_vtest_300f.mp4", 2),
        "busy_1280x720": (footage("busy", 1280, 720), 2),
    }
    out: dict[str, object] = {"bench": "video_decoders", "load_avg_1m": round(os.getloadavg()[0], 2)}
    for name, (path, every) in clips.items():
        if not path.is_file():
            out[name] = "missing: run bench/video_eval.py once to build it"
            continue
        out[name] = {dec: positives(path, dec, every) for dec in ("opencv", "pyav")}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
