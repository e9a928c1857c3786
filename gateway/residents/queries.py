"""Reads for residents' reports: the per-address limit and the public status of one report."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cases.lifecycle import CaseStatus
from gateway.cases.models import Case, CaseTransition
from gateway.dispatch.models import Task
from gateway.people.queries import sender
from gateway.residents.models import ResidentReport


def address_hash(site_id: str, address: str, key: bytes) -> str:
    """An IPv6 sender is counted by its /64 (one household's prefix: a phone changes the rest);
    an IPv4 one seen through a dual-stack socket (``::ffff:a.b.c.d``) by its IPv4 address, not by
    the /64 every IPv4 sender shares. Keyed (HMAC with a server secret): a bare hash of an IPv4
    address is undone by trying them all."""
    return hmac.new(key, f"{site_id}|{sender(address)}".encode(), hashlib.sha256).hexdigest()


def sent_since(session: Session, address: str, since: datetime) -> list[datetime]:
    """When the reports this address had accepted since ``since`` arrived, oldest first."""
    return list(
        session.scalars(
            select(ResidentReport.received_at)
            .where(ResidentReport.address_hash == address, ResidentReport.received_at > since)
            .order_by(ResidentReport.received_at)
        )
    )


def retry_after(times: list[datetime], limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until this address may send again; None: it may now."""
    if len(times) < limit:
        return None
    frees_at = times[len(times) - limit] + window
    return max(1, int((frees_at - now).total_seconds()) + 1)


def call_backs(session: Session, case_id: str) -> list[str]:
    """The phone numbers residents left on this case's reports (and on cases merged into it), for
    the centre only: the status link and the grid's workers never see them."""
    merged = select(Case.id).where(Case.merged_into == case_id)
    return list(
        session.scalars(
            select(ResidentReport.phone)
            .where(
                ResidentReport.phone != "",
                (ResidentReport.case_id == case_id) | ResidentReport.case_id.in_(merged),
            )
            .order_by(ResidentReport.received_at)
        )
    )


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ResidentReport)) or 0)


@dataclass(frozen=True)
class PublicStatus:
    """What the resident's status link shows: the case's progress, nothing personal (no names,
    no phone numbers, no note, no photo)."""

    report_id: str
    hazard_type: str
    grid_id: str | None
    status: str  # the case's status
    steps: list[tuple[str, datetime]]  # (received | dispatched | accepted | on_site | resolved | closed ...)


def public_status(session: Session, report_id: str) -> PublicStatus | None:
    report = session.get(ResidentReport, report_id)
    if report is None:
        return None
    case = session.get(Case, report.case_id)
    assert case is not None
    while case.merged_into:  # folded into another case: that one's progress is the report's
        target = session.get(Case, case.merged_into)
        if target is None:
            break
        case = target
    steps: list[tuple[str, datetime]] = [("received", report.received_at)]
    tasks = list(session.scalars(select(Task).where(Task.case_id == case.id).order_by(Task.offered_at)))
    if tasks:
        steps.append(("dispatched", tasks[0].offered_at))
    for step, attr in (("accepted", "accepted_at"), ("on_site", "on_site_at"), ("resolved", "resolved_at")):
        times = [getattr(t, attr) for t in tasks if getattr(t, attr) is not None]
        if times:
            steps.append((step, min(times)))
    ended = session.scalar(
        select(CaseTransition.at)
        .where(
            CaseTransition.case_id == case.id,
            CaseTransition.to_status.in_((CaseStatus.CLOSED.value, CaseStatus.DISMISSED.value)),
            CaseTransition.change == "status",
        )
        .order_by(CaseTransition.id.desc())
        .limit(1)
    )
    if case.status in (CaseStatus.CLOSED.value, CaseStatus.DISMISSED.value) and ended is not None:
        steps.append((case.status, ended))
    return PublicStatus(report.id, report.hazard_type, report.grid_id, case.status, steps)
