"""Where things are: this checkout, the demo site, the shared media and models next to it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


DEMO_SITE = REPO / "device_configs" / "demo_site"


SHARED = REPO.parent / "shared"


SCREENSHOTS = REPO / "docs" / "screenshots"
