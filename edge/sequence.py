"""Per-source sequence numbers that survive restarts (a small file per source)."""

from __future__ import annotations

import os
import threading
from pathlib import Path


class FileSequence:
    """Monotonic counter persisted next to the node's state.

    Written with write-then-rename so a crash never leaves a torn file; a
    restart continues after the last number handed out, so the gateway sees
    no false gaps.
    """

    def __init__(self, state_dir: Path, source: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._path = state_dir / f"seq-{source}"
        self._lock = threading.Lock()
        try:
            self._value = int(self._path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            self._value = 0

    def next(self) -> int:
        with self._lock:
            self._value += 1
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(str(self._value))
            os.replace(tmp, self._path)
            return self._value
