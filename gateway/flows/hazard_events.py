"""A device reports a hazard: it joins its case, or it opens one and the response starts.

1. the event joins the open case of its place (or the nearest open case of its kind
   within the correlation radius), or opens a new case — ``cases.service.record_hazard``;
2. a new case may have been cleared already: a clear that overtook its alarm on the way
   (out-of-order delivery) was ledgered without a case, and now ends the source state;
3. a new case is announced on the command centre's console, and to the group robots that want
   every new case of its severity (``new_case_alerts``);
4. an emergency starts the centre's SLA clock and is offered to the nearest on-duty
   worker, or escalated at once when nobody can go (``flows.dispatch.start_case``);
   maintenance (a camera offline, a low battery) goes to installers via the centre, and
   closes itself when the device says the trouble is gone (``close_recovered``).

Runs inside the ingest batch's transaction; what it returns is counted after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from contracts import EventState, HazardCategory, HazardEvent
from gateway.cases.audit import note
from gateway.cases.correlation import CaseBook
from gateway.cases.lifecycle import OPEN_STATUSES, TRANSITIONS, CaseStatus
from gateway.cases.models import Case
from gateway.cases.service import Place, mark_cleared, record_hazard, transition
from gateway.context import GatewayContext
from gateway.dispatch.book import WorkerBook
from gateway.dispatch.choice import Decision
from gateway.events import service as ledger
from gateway.events.service import EventKey, LateClears, key_of
from gateway.flows.dispatch import start_case
from gateway.notify import service as notify

LATE_CLEAR_WINDOW = timedelta(hours=1)  # how far back a clear that overtook its alarm is looked for


@dataclass(frozen=True, slots=True)
class Taken:
    """What became of one hazard event."""

    # (source, event id) -> case id: this event, and an earlier clear it ended
    case_of_event: dict[EventKey, str]
    opened: Case | None = None  # the case it opened, if it opened one
    decision: Decision | None = None  # the first dispatch decision of an emergency case


def take_hazard(
    session: Session,
    ctx: GatewayContext,
    event: HazardEvent,
    place: Place,
    now: datetime,
    book: CaseBook,
    workers: WorkerBook | None = None,
    clears: LateClears | None = None,
) -> Taken:
    """``workers`` and ``clears``: what the batch read once for all its new cases (a batch
    opening many cases then costs a few queries, not a dozen per case); None reads per case."""
    case, created = record_hazard(session, ctx, event, place.node_id, now, book, place)
    if case is None:
        return Taken({})  # a clear with no open case: only the ledger keeps it
    if not created:
        if event.state is EventState.CLEAR and event.category is HazardCategory.MAINTENANCE:
            close_recovered(session, ctx, case, f"cleared at the source ({event.device_id})", now, event.id)
        return Taken({key_of(event): case.id})
    joined = {key_of(event): case.id}
    since = now - LATE_CLEAR_WINDOW
    device, hazard = event.device_id, event.hazard_type.value
    if clears is not None and device in clears.devices:
        earlier = clears.later(device, hazard, event.ts, since)
    else:
        earlier = ledger.later_clear(session, device, hazard, event.ts, since)
    if earlier is not None:
        mark_cleared(session, ctx, case, earlier.ts, earlier.id, now)
        joined[(earlier.source, earlier.id)] = case.id
    return Taken(joined, case, open_case(session, ctx, case, event.category, now, workers))


def open_case(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    category: HazardCategory,
    now: datetime,
    workers: WorkerBook | None = None,
) -> Decision | None:
    """What follows a new case: the centre's notice and, for an emergency, the first offer."""
    notify.tell_centre(session, ctx, case, "opened", case.title, now)
    notify.alert_groups(session, ctx, case, now)
    if category is not HazardCategory.EMERGENCY:
        return None  # maintenance goes to installers via the centre, not to grid workers
    # SLA clock, first offer, and immediate escalation when nobody can go.
    return start_case(session, ctx, case, now, workers)


def close_recovered(
    session: Session, ctx: GatewayContext, case: Case, reason: str, now: datetime, event_id: str | None = None
) -> None:
    """A maintenance trouble that went away (the camera streams again, the node is back): nobody
    needs to go, so its case closes; one already taken further by the centre is only noted."""
    status = CaseStatus(case.status)
    if status not in OPEN_STATUSES:
        return
    if CaseStatus.CLOSED in TRANSITIONS[status]:
        transition(session, case, CaseStatus.CLOSED, ctx.gateway_id, reason, now, event_id)
        notify.tell_centre(session, ctx, case, "closed", f"{case.title}: {reason}", now)
    else:
        note(session, case, "cleared", ctx.gateway_id, reason, now, event_id)
