"""Alarm episodes that outlive the process: saved when they change, given back at start.

A node restarted during a gas leak (update, power blip, SIGKILL) must go on
with the same episode: its later updates and its clear carry the id the
gateway already knows, instead of a second ``new`` and an episode never
cleared. The snapshot of each sensor's open episodes is saved in the node's
state (the outbox database) after the event that changed it is queued: were the
process killed in between, the restarted node would open a fresh episode,
which the gateway folds into the same case; the other order could leave an
alarm in force that the gateway never heard of.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)

PREFIX = "episodes:"


class StateStore(Protocol):
    def load_state(self, prefix: str) -> dict[str, str]: ...

    def save_state(self, key: str, value: str | None) -> None: ...


class EpisodeBook:
    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._saved: dict[str, str] = {}  # what the store holds, to skip writes that change nothing

    def load(self) -> dict[str, dict[str, Any]]:
        """Saved snapshots by sensor id (unreadable ones are logged and skipped)."""
        out: dict[str, dict[str, Any]] = {}
        for key, text in self._store.load_state(PREFIX).items():
            sensor_id = key.removeprefix(PREFIX)
            self._saved[sensor_id] = text
            try:
                data = json.loads(text)
            except ValueError as exc:
                log.warning(
                    "saved alarm episodes unreadable (%s); starting afresh",
                    exc,
                    extra={"device_id": sensor_id},
                )
                continue
            if isinstance(data, dict):
                out[sensor_id] = data
        return out

    def save(self, sensor_id: str, snapshot: dict[str, Any] | None) -> None:
        text = json.dumps(snapshot, sort_keys=True, ensure_ascii=False) if snapshot else None
        if self._saved.get(sensor_id) == text:
            return
        self._store.save_state(PREFIX + sensor_id, text)
        if text is None:
            self._saved.pop(sensor_id, None)
        else:
            self._saved[sensor_id] = text
