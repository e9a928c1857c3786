"""The centre merges a duplicate case into another (two cameras, or a camera and a smoke
detector, saw one fire and correlation kept them apart).

1. both cases are read and locked (in id order: two operators merging the same pair the other
   way round take turns), and the move is checked: not into itself, not from or into a merged
   case, an open duplicate only into a case that is still open;
2. the duplicate's live task ends (the worker's phone is told) and its SLA timers stop;
3. the duplicate becomes ``merged``, pointing at the case it went into;
4. that case takes over its events, snapshots, event count, time span and — if worse — its
   severity, and says so on its trail.

Both trails name the operator; the command centre's notice says where the duplicate went.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from contracts import Severity
from gateway.cases.audit import note
from gateway.cases.lifecycle import FINISHED_STATUSES, OPEN_STATUSES, CaseStatus, check_transition
from gateway.cases.models import Case
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.events.models import EventRecord
from gateway.flows.case_decisions import CaseActionRefused, locked_case, wind_down
from gateway.notify import service as notify

log = logging.getLogger(__name__)
_FINISHED = {s.value for s in FINISHED_STATUSES}
_OPEN = {s.value for s in OPEN_STATUSES}


def merge(
    session: Session,
    ctx: GatewayContext,
    duplicate_id: str,
    target_id: str,
    operator: str,
    reason: str,
    now: datetime,
) -> Case:
    """Fold case ``duplicate_id`` into ``target_id``; returns the target."""
    if duplicate_id == target_id:
        raise CaseActionRefused("a case cannot be merged into itself")
    first, second = sorted((duplicate_id, target_id))
    locked = {first: locked_case(session, first), second: locked_case(session, second)}
    duplicate, target = locked[duplicate_id], locked[target_id]
    if target.status == CaseStatus.MERGED.value:
        raise CaseActionRefused(
            f"case {target.id} was itself merged into case {target.merged_into}: merge into that one"
        )
    if duplicate.status == CaseStatus.MERGED.value:
        raise CaseActionRefused(f"case {duplicate.id} was already merged into case {duplicate.merged_into}")
    if duplicate.status in _OPEN and target.status in _FINISHED:
        raise CaseActionRefused(
            f"case {target.id} is {target.status} while case {duplicate.id} is still open: "
            "merge the other way, or reopen it first"
        )
    check_transition(duplicate.id, CaseStatus(duplicate.status), CaseStatus.MERGED)
    actor = f"operator:{operator}"
    why = f"duplicate of case {target.id}" + (f": {reason}" if reason else "")
    wind_down(session, ctx, duplicate, actor, f"merged into case {target.id}", now)
    duplicate.merged_into = target.id
    transition(session, duplicate, CaseStatus.MERGED, actor, why, now)
    _take_over(session, target, duplicate, actor, reason, now)
    notify.tell_centre(session, ctx, duplicate, "closed", f"merged into case {target.id}", now)
    log.info(
        "case %s merged into case %s by %s",
        duplicate.id,
        target.id,
        actor,
        extra={"case_id": duplicate.id, "merged_into": target.id},
    )
    return target


def _take_over(
    session: Session, target: Case, duplicate: Case, actor: str, reason: str, now: datetime
) -> None:
    moved = session.execute(
        update(EventRecord).where(EventRecord.case_id == duplicate.id).values(case_id=target.id)
    ).rowcount
    new_evidence = [e for e in duplicate.evidence_ids if e not in target.evidence_ids]
    target.evidence_ids = [*target.evidence_ids, *new_evidence]
    target.event_count += duplicate.event_count
    target.first_seen_at = min(target.first_seen_at, duplicate.first_seen_at)
    target.last_seen_at = max(target.last_seen_at, duplicate.last_seen_at)
    target.updated_at = now
    if Severity(duplicate.severity).rank > Severity(target.severity).rank:
        raised = f"{target.severity} → {duplicate.severity} (merged case)"
        note(session, target, "severity", actor, raised, now)
        target.severity = duplicate.severity
    said = (
        f"case {duplicate.id} ({duplicate.title}) merged in: {moved} event(s), "
        f"{len(new_evidence)} snapshot(s)" + (f" — {reason}" if reason else "")
    )
    note(session, target, "merged", actor, said, now)
