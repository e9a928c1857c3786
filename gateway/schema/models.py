"""Import every domain's tables so that Base.metadata is complete (for Alembic)."""

from gateway.broadcasts.models import Broadcast, BroadcastPhoto, BroadcastRecipient, Sighting
from gateway.cases.models import Case, CaseTransition, FalseAlarmFeedback
from gateway.devices.models import Device, LoginRefusal
from gateway.dispatch.models import Task
from gateway.escalation.models import Escalation
from gateway.events.models import ApiReceipt, DeadLetter, EventRecord, SourceProgress
from gateway.evidence.models import Evidence
from gateway.heartbeat.models import GatewayHeartbeat
from gateway.notify.models import Delivery, DeliveryAttempt
from gateway.outbound.models import OutboundMessage, SourceCounter
from gateway.patrol.models import PatrolPlan, PatrolPoint, PatrolStop, PatrolTrack
from gateway.people.models import (
    AccessRevision,
    ApiToken,
    Person,
    SecurityEvent,
    SignInFailure,
    SignInSession,
)
from gateway.performance.models import Report
from gateway.residents.models import ResidentReport
from gateway.sla.models import SlaTimer
from gateway.store.base import Base
from gateway.store.change_log import Change
from gateway.workers.models import WorkerAvailability, WorkerPosition

__all__ = [
    "AccessRevision",
    "ApiReceipt",
    "ApiToken",
    "Base",
    "Broadcast",
    "BroadcastPhoto",
    "BroadcastRecipient",
    "Case",
    "CaseTransition",
    "Change",
    "DeadLetter",
    "Delivery",
    "DeliveryAttempt",
    "Device",
    "Escalation",
    "EventRecord",
    "Evidence",
    "FalseAlarmFeedback",
    "GatewayHeartbeat",
    "LoginRefusal",
    "OutboundMessage",
    "PatrolPlan",
    "PatrolPoint",
    "PatrolStop",
    "PatrolTrack",
    "Person",
    "Report",
    "ResidentReport",
    "SecurityEvent",
    "Sighting",
    "SignInFailure",
    "SignInSession",
    "SlaTimer",
    "SourceCounter",
    "SourceProgress",
    "Task",
    "WorkerAvailability",
    "WorkerPosition",
]
