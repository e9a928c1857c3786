"""The built wheel, installed into a clean virtualenv outside the repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WheelVenv:
    wheel: Path
    build_log: str
    venv: Path

    @property
    def gridwatch(self) -> Path:
        return self.venv / "bin" / "gridwatch"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"
