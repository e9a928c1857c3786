"""The screenshots docs/ shows, rewritten only on request (GRIDWATCH_UPDATE_SCREENSHOTS=1).

Kept small: 256 colours, and a phone's shot (drawn at 2-3 device pixels per CSS pixel) at half
its size, which still reads at the phone's own width.
"""

from __future__ import annotations

import io
import os

from PIL import Image

from tests.support.paths import SCREENSHOTS


def keep(png: bytes, name: str, *, halve: bool = False) -> None:
    """docs/screenshots/``name`` from ``png`` when asked to update them; otherwise nothing."""
    if not os.environ.get("GRIDWATCH_UPDATE_SCREENSHOTS"):
        return
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if halve:
        image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image.quantize(256).save(SCREENSHOTS / name, optimize=True)
