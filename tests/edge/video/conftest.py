"""Fixtures for the video tests: real detector models and real media from ../shared
(see ../shared/models/MODELS.md and ../shared/media/MEDIA.md), never copies in the repo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.video.detector.engine import DetectorService
from tests.support.paths import SHARED
from tests.support.video.media import MEDIA, MODELS


@pytest.fixture(scope="session")
def shared_models() -> Path:
    if not (MODELS / "yolox_nano" / "yolox_nano.onnx").is_file():
        pytest.fail(f"detector weights are missing under {MODELS}; the video tests need {SHARED}")
    return MODELS


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not (MEDIA / "clips" / "pedestrians_vtest_300f.mp4").is_file():
        pytest.fail(f"test media are missing under {MEDIA}; the video tests need {SHARED}")
    return MEDIA


@pytest.fixture(scope="session")
def yolox(shared_models: Path) -> DetectorService:
    """YOLOX-Nano, run inline in the caller's thread (no worker thread to manage)."""
    service = DetectorService.from_settings("yolox_nano", [shared_models], threads=2)
    assert service.available, service.reason
    return service


@pytest.fixture(scope="session")
def fastestdet(shared_models: Path) -> DetectorService:
    service = DetectorService.from_settings("fastestdet", [shared_models], threads=2)
    assert service.available, service.reason
    return service


@pytest.fixture
def media_env(shared_media: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """GRIDWATCH_MEDIA set the way the demo sets it, for ${GRIDWATCH_MEDIA} sources."""
    monkeypatch.setenv("GRIDWATCH_MEDIA", str(shared_media))
    yield shared_media
