"""Messages between the gateway, grid workers' phones and the command centre."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from contracts.envelope import Envelope, Identifier, StrictBool, StrictFloat, Text, UtcDatetime
from contracts.geo import GeoPoint
from contracts.hazards import EvidenceRef, HazardType, Severity


class TaskOffer(Envelope):
    """An inspection task offered to one worker (gateway → worker)."""

    kind: Literal["task_offer"] = "task_offer"
    task_id: Text = Field(max_length=64)
    case_id: Text = Field(max_length=64)
    worker_id: Identifier
    hazard_type: HazardType
    severity: Severity
    urgent: StrictBool = Field(description="Go now; non-urgent tasks are folded into the patrol.")
    location: GeoPoint
    grid_id: Identifier
    title: Text = Field(max_length=200)
    detail: Text = Field(default="", max_length=2000)
    accept_by: UtcDatetime | None = None
    on_site_by: UtcDatetime | None = None
    reason: Text = Field(default="", max_length=200, description="Why this worker was chosen.")
    evidence: EvidenceRef | None = None


class TaskAction(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CHECK_IN = "check_in"
    RESOLVE = "resolve"
    CANNOT_HANDLE = "cannot_handle"  # worker asks to escalate (网格吹哨)
    CANCEL = "cancel"  # centre withdrew the task
    REASSIGN = "reassign"  # centre moved it to someone else


class TaskResult(StrEnum):
    HAZARD_CONFIRMED = "hazard_confirmed"
    FALSE_ALARM = "false_alarm"
    HANDLED = "handled"


class TaskUpdate(Envelope):
    """A step on a task, from the worker (accept, check in, resolve ...) or the centre."""

    kind: Literal["task_update"] = "task_update"
    task_id: Text = Field(max_length=64)
    worker_id: Identifier
    action: TaskAction
    result: TaskResult | None = None
    note: Text = Field(default="", max_length=2000)
    location: GeoPoint | None = None
    photo: EvidenceRef | None = Field(
        default=None,
        description="A photo the phone uploaded over HTTP (PUT /api/v1/photos/{evidence_id}) that this step "
        "shows: the gateway checks it is this worker's (and its sha256) and lists it on the case; a step "
        "naming a photo that has not arrived is refused. Photo bytes never travel over MQTT.",
    )

    @model_validator(mode="after")
    def _resolve_needs_result(self) -> TaskUpdate:
        if self.action is TaskAction.RESOLVE and self.result is None:
            raise ValueError("action 'resolve' needs a result: hazard_confirmed, false_alarm or handled")
        return self


class LocationFix(Envelope):
    """A worker's phone position."""

    kind: Literal["location_fix"] = "location_fix"
    worker_id: Identifier
    location: GeoPoint
    accuracy_m: StrictFloat = Field(default=10.0, ge=0, le=10_000)
    on_patrol: StrictBool = False


# What a case notice is about (CaseNotice.event).
NoticeEvent = Literal[
    "opened",
    "updated",
    "dispatched",
    "escalated",
    "sla_warning",
    "sla_breach",
    "resolved",
    "closed",
    "dismissed",
    "shortfall",
]


class CaseNotice(Envelope):
    """Operator alert wall / escalation notification (gateway → centre, a grid leader's phone)."""

    kind: Literal["case_notice"] = "case_notice"
    case_id: Text = Field(max_length=64)
    event: NoticeEvent
    hazard_type: HazardType
    severity: Severity
    status: Text = Field(max_length=32)
    grid_id: Identifier | None = None
    location: GeoPoint | None = None
    tier: Text = Field(default="", max_length=64, description="Escalation tier, when escalated.")
    worker_id: Identifier | None = Field(
        default=None,
        description="Set when the notice goes to a worker's phone (the grid leader an escalation reached); "
        "it must match the worker id in the topic.",
    )
    text: Text = Field(default="", max_length=1000)
