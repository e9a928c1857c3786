"""The demo's console feed: each case as it opens and each change of its status.

It reads the same HTTP API an operator's screen reads, so what it prints is what
the command centre sees.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

from rich.console import Console

ICONS = {"critical": "🔴", "major": "🟠", "minor": "🟡", "info": "⚪"}


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as resp:
        return json.loads(resp.read())


class CaseFeed:
    def __init__(
        self, api: str, console: Console, interval_s: float = 0.5, headers: dict[str, str] | None = None
    ) -> None:
        self.api = api
        self.headers = headers or {}  # an operator's credentials: the API answers nobody else
        self.console = console
        self.interval_s = interval_s
        self.cases: dict[str, dict[str, Any]] = {}  # id -> last seen view
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-feed", daemon=True)

    def start(self) -> CaseFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def find(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        with self._lock:
            return next((c for c in self.cases.values() if match(c)), None)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):  # the API is starting or stopping
                self.poll()
            self._stop.wait(self.interval_s)

    def poll(self) -> None:
        for case in reversed(get_json(f"{self.api}/api/v1/cases?limit=200", self.headers)["items"]):
            with self._lock:
                before = self.cases.get(case["id"])
                self.cases[case["id"]] = case
            if before is None:
                self._print_new(case)
            else:
                if before["status"] != case["status"] or before["severity"] != case["severity"]:
                    self._print_change(before, case)
                if len(case["evidence_ids"]) > len(before["evidence_ids"]):
                    self.console.print(
                        f"   📷 case {case['id'][:8]}… {case['hazard_type']}: snapshot "
                        f"{self.api}/api/v1/evidence/{case['evidence_ids'][-1]}.jpg"
                    )

    def _print_new(self, case: dict[str, Any]) -> None:
        where = case["grid_id"] or "no grid"
        source = case["device_id"] or case["node_id"] or ""
        if case["zone_id"]:
            source += f"/{case['zone_id']}"
        evidence = (
            f", snapshot {self.api}/api/v1/evidence/{case['evidence_ids'][-1]}.jpg"
            if case["evidence_ids"]
            else ""
        )
        self.console.print(
            f"{ICONS.get(case['severity'], '•')} new case [bold]{case['hazard_type']}[/] "
            f"({case['severity']}) from {source} in {where}: {case['title']}{evidence}"
        )

    def _print_change(self, before: dict[str, Any], case: dict[str, Any]) -> None:
        worker = f" → {case['assigned_worker_id']}" if case["assigned_worker_id"] else ""
        self.console.print(
            f"   case {case['id'][:8]}… {case['hazard_type']}: {before['status']} → "
            f"[bold]{case['status']}[/]{worker} ({case['severity']})"
        )
