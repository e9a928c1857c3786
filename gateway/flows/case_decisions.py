"""What a command-centre operator does to a case: confirm, dismiss, close, reopen; and a
department's acknowledgement (部门报到).

Every action is on the case's trail with the actor ``operator:<id>``; a move
that is not in the transition table is refused with :class:`TransitionError`
(which says which moves are allowed) and changes nothing. Dismissing or
closing a case ends its live task (the worker's phone is told) and stops
its SLA timers; a dismissal is kept as false-alarm feedback (with the reason
picked from a list) for the device and zone that raised it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts import HazardCategory, TaskAction, TaskUpdate, topics
from gateway.cases.audit import note
from gateway.cases.feedback import FalseAlarmReason
from gateway.cases.lifecycle import OPEN_STATUSES, CaseStatus, check_transition
from gateway.cases.models import Case, CaseTransition, FalseAlarmFeedback
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.dispatch.models import ACTIVE_TASK_STATUSES, Task, TaskStatus
from gateway.flows import task_steps
from gateway.flows.dispatch import dispatch_case
from gateway.notify import service as notify
from gateway.outbound import service as outbound
from gateway.sla import service as timers
from gateway.sla.models import Outcome, Phase

log = logging.getLogger(__name__)
_OPEN = [s.value for s in OPEN_STATUSES]


class CaseNotFound(LookupError):
    pass


class CaseActionRefused(ValueError):
    """A well-formed request that does not fit the case (already confirmed, place taken, ...)."""


def acknowledge(
    session: Session,
    case: Case,
    actor: str,
    department: str,
    note_text: str,
    now: datetime,
    responsible: str = "",
) -> Case:
    """A department says it has taken the escalated case up (部门报到), naming who answers for
    it; once per department. Its acknowledgement deadline stops."""
    already = session.scalar(
        select(CaseTransition.at).where(
            CaseTransition.case_id == case.id,
            CaseTransition.change == "acknowledged",
            CaseTransition.actor.startswith(actor.rsplit("/", 1)[0] + "/"),
        )
    )
    if already is not None:
        raise CaseActionRefused(f"{department} already acknowledged case {case.id}")
    text = f"{department}: {note_text}".rstrip(": ")
    if responsible:
        text += f" (responsible: {responsible})"
    note(session, case, "acknowledged", actor, text, now)
    case.updated_at = now
    department_id = actor.removeprefix("department:").split("/", 1)[0]
    for timer in timers.running(session, case.id, Phase.ACKNOWLEDGE):
        if timer.detail == department_id:
            timers.close(timer, now, Outcome.MET)
    _log(case, "acknowledged", actor)
    return case


def locked_case(session: Session, case_id: str) -> Case:
    query = select(Case).where(Case.id == case_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # the gateway may be folding an event into it right now
    case = session.scalars(query).first()
    if case is None:
        raise CaseNotFound(f"no case {case_id!r}")
    return case


def confirm(
    session: Session, ctx: GatewayContext, case_id: str, operator: str, reason: str, now: datetime
) -> Case:
    """The centre looked at the evidence and takes the case as real (the centre's accept)."""
    case = locked_case(session, case_id)
    if case.status not in _OPEN:
        raise CaseActionRefused(f"case {case.id} is {case.status}; only an open case can be confirmed")
    if case.confirmed_at is not None:
        raise CaseActionRefused(f"case {case.id} was already confirmed by {case.confirmed_by}")
    actor = f"operator:{operator}"
    case.confirmed_at, case.confirmed_by, case.updated_at = now, actor, now
    note(session, case, "confirmed", actor, reason or "confirmed by the centre", now)
    timers.stop(session, case.id, [Phase.CENTRE_ACCEPT], now, Outcome.MET)
    _log(case, "confirmed", actor)
    return case


def dismiss(
    session: Session,
    ctx: GatewayContext,
    case_id: str,
    operator: str,
    reason: str,
    now: datetime,
    reason_code: FalseAlarmReason | None = None,
) -> Case:
    """A false alarm: the case ends, its task is withdrawn, the device and zone get the feedback.
    The reason is one of :class:`FalseAlarmReason` with a note, or a note alone."""
    if not reason.strip() and reason_code in (None, FalseAlarmReason.OTHER):
        raise CaseActionRefused("a dismissal needs a reason (what made it a false alarm)")
    case = locked_case(session, case_id)
    actor = f"operator:{operator}"
    said = f"[{reason_code.value}] {reason}".strip() if reason_code is not None else reason
    transition(session, case, CaseStatus.DISMISSED, actor, f"false alarm: {said}", now)
    wind_down(session, ctx, case, actor, f"dismissed as a false alarm: {said}", now)
    session.add(
        FalseAlarmFeedback(
            at=now,
            case_id=case.id,
            hazard_type=case.hazard_type,
            node_id=case.node_id,
            device_id=case.device_id,
            zone_id=case.zone_id,
            grid_id=case.grid_id,
            actor=actor,
            reason=reason,
            reason_code=reason_code.value if reason_code is not None else None,
        )
    )
    notify.tell_centre(session, ctx, case, "dismissed", f"false alarm: {said}", now)
    _log(case, "dismissed", actor)
    return case


def close(
    session: Session, ctx: GatewayContext, case_id: str, operator: str, reason: str, now: datetime
) -> Case:
    """The centre closes the case (after a resolution, or a new case needing no one)."""
    case = locked_case(session, case_id)
    actor = f"operator:{operator}"
    transition(session, case, CaseStatus.CLOSED, actor, reason or "closed by the centre", now)
    wind_down(session, ctx, case, actor, f"case closed by the centre: {reason}".rstrip(": "), now)
    notify.tell_centre(session, ctx, case, "closed", reason or "closed by the centre", now)
    _log(case, "closed", actor)
    return case


def reopen(
    session: Session, ctx: GatewayContext, case_id: str, operator: str, reason: str, now: datetime
) -> Case:
    """Bring a resolved, closed or dismissed case back; an emergency is offered to a worker again."""
    if not reason.strip():
        raise CaseActionRefused("reopening needs a reason")
    case = locked_case(session, case_id)
    check_transition(case.id, CaseStatus(case.status), CaseStatus.REOPENED)
    other = session.scalars(
        select(Case.id).where(
            Case.hazard_type == case.hazard_type,
            Case.place_key == case.place_key,
            Case.status.in_(_OPEN),
            Case.id != case.id,
        )
    ).first()
    if other is not None:
        # The database would refuse it anyway (one open case per hazard and place).
        raise CaseActionRefused(
            f"case {other} is already open for {case.hazard_type} at {case.place_key}; "
            "new events go there — work on that case instead"
        )
    actor = f"operator:{operator}"
    transition(session, case, CaseStatus.REOPENED, actor, reason, now)
    _log(case, "reopened", actor)
    if case.category == HazardCategory.EMERGENCY.value and case.grid_id is not None:
        dispatch_case(session, ctx, case, now, context=f"reopened by {operator}; ")
    return case


def wind_down(session: Session, ctx: GatewayContext, case: Case, actor: str, why: str, now: datetime) -> None:
    """The case needs no one any more: end its live task (telling the phone) and its timers."""
    live = session.scalars(
        select(Task).where(Task.case_id == case.id, Task.status.in_([s.value for s in ACTIVE_TASK_STATUSES]))
    ).all()
    for task in live:
        task_steps.end_offer(session, task, case, TaskStatus.CANCELLED, actor, why, now)
        cancel = TaskUpdate(
            **ctx.envelope(session),
            task_id=task.id,
            worker_id=task.worker_id,
            action=TaskAction.CANCEL,
            note=why[:2000],
        )
        outbound.enqueue(session, topics.worker_task(task.worker_id), cancel, now)
    timers.stop(session, case.id, list(Phase), now, Outcome.CANCELLED)


def _log(case: Case, what: str, actor: str) -> None:
    log.info("case %s %s by %s", case.id, what, actor, extra={"case_id": case.id})
