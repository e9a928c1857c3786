"""Log lines with their context: ``... case_id=... device_id=...``.

Modules log with ``extra={"case_id": ..., "device_id": ...}``; this formatter
appends whichever of the known context keys a record carries, so logs can be
grepped by case, device, worker or event.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

CONTEXT_KEYS = (
    "case_id",
    "event_id",
    "device_id",
    "node_id",
    "source",
    "worker_id",
    "task_id",
    "gateway_id",
    "topic",
    "reason",
)


class ContextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        context = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_KEYS if hasattr(record, k))
        return f"{base} [{context}]" if context else base


def setup_logging(level: str = "INFO", file: Path | None = None) -> None:
    """Log lines to stderr, or to ``file`` (the demo keeps its console for the story)."""
    handler: logging.Handler = logging.FileHandler(file) if file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(ContextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
