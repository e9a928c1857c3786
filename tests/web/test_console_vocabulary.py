"""Every value the console shows through a label has words in both languages: statuses, phases,
tiers, false-alarm reasons, actions, counters — checked against the server's own enumerations, so
a new status or phase cannot reach the screen as a raw id."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from contracts.hazards import HazardType
from contracts.site.models import Tier, WorkerRole
from contracts.tasks import TaskResult
from gateway.cases.audit import Change
from gateway.cases.feedback import FalseAlarmReason
from gateway.cases.lifecycle import CaseStatus
from gateway.dispatch.models import TaskStatus
from gateway.sla.models import Outcome, Phase
from tests.support.web.catalogue import STATIC, catalogue

CONSOLE = STATIC / "console"


def _js_list(path: str, name: str) -> list[str]:
    text = (CONSOLE / path).read_text(encoding="utf-8")
    found = re.search(rf"{name} = \[([^\]]*)\]", text)
    assert found, f"{name} not found in {path}"
    return re.findall(r'"([\w\-]+)"', found.group(1))


def test_the_false_alarm_reasons_are_the_servers() -> None:
    assert _js_list("actions.js", "FALSE_ALARM_REASONS") == [r.value for r in FalseAlarmReason]


def _actions() -> list[str]:
    return re.findall(r'case "(\w+)":', (CONSOLE / "actions.js").read_text(encoding="utf-8"))


def _board() -> list[str]:
    return re.findall(r'\["(\w+)", (?:\{|null)', (CONSOLE / "main.js").read_text(encoding="utf-8"))


KINDS = {
    "case_status": [s.value for s in CaseStatus],
    "task_status": [s.value for s in TaskStatus],
    "task_result": [r.value for r in TaskResult],
    "phase": [p.value for p in Phase],
    "change": ["status", *get_args(Change)],
    "hazard": [h.value for h in HazardType],
    "outcome": [o.value for o in Outcome],
    "tier": [t.value for t in Tier],
    "false_alarm": [r.value for r in FalseAlarmReason],
    "worker_role": [r.value for r in WorkerRole],
    "device_state": ["online", "offline", "unknown"],
    "reason_code": ["own_grid", "neighbour_grid", "centre_assigned"],
    "console.action": _actions(),
    "console.done": _actions(),
    "console.board": _board(),
    "console.sort": [s.replace("-", "desc_") for s in _js_list("filter.js", "SORTS")],
    "console.evidence": ["camera", "worker", "device"],
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_value_shown_has_words_in_both_languages(kind: str) -> None:
    assert KINDS[kind], f"nothing found for {kind}"
    for lang, keys in catalogue().items():
        missing = [v for v in KINDS[kind] if f"{kind}.{v}" not in keys]
        assert missing == [], f"{lang}: no words for {kind} {missing}"
