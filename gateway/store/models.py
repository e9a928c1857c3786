"""Import every domain's tables so that Base.metadata is complete (for Alembic)."""

from gateway.cases.models import Case, CaseTransition
from gateway.dispatch.models import Task
from gateway.events.models import DeadLetter, EventRecord
from gateway.evidence.models import Evidence
from gateway.outbound.models import OutboundMessage, SourceCounter
from gateway.store.base import Base
from gateway.workers.models import WorkerPosition

__all__ = [
    "Base",
    "Case",
    "CaseTransition",
    "DeadLetter",
    "EventRecord",
    "Evidence",
    "OutboundMessage",
    "SourceCounter",
    "Task",
    "WorkerPosition",
]
