"""协查通报 — the centre (or a department) asks the grid workers of chosen areas to look out for
someone or something; a worker who sees it answers with a sighting, which opens a case.

1. ``send_broadcast``: the notice (text, photos uploaded before, an expiry) goes to every worker
   whose home grid lies in the chosen areas; each gets a receipt row (unread). The rows reach the
   phones and the console through the change log (live feed), like a case. The communities'
   group robots (escalation.yaml ``communities``, their ``webhooks``) are told too.
2. ``read_broadcast``: the worker opened it — the receipt says when (once; the sender sees it).
3. ``take_sighting``: "seen here" (photo, position, note) — a worker's report (flows.worker_reports,
   the same case-opening flow as 随手拍 and a device's event) of kind ``sighting``, linked to the
   broadcast (gateway.broadcasts ``Sighting``) and named on the case's trail. The centre confirms.
4. ``close_broadcast``: found, or called off — every recipient's app shows it closed, with why,
   and the same group robots hear of it.

Each refuses with ``BroadcastRefused`` (the route answers 409/422) and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts import GeoPoint, HazardType, Severity
from contracts.site.models import GridLevel
from gateway.broadcasts.models import Broadcast, BroadcastPhoto, BroadcastRecipient, Sighting
from gateway.broadcasts.queries import grids_under, state_of
from gateway.cases.audit import note
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.flows.worker_reports import Report, Reported, take_report
from gateway.notify import service as notify

log = logging.getLogger(__name__)

MAX_LIFETIME = timedelta(days=30)


class BroadcastRefused(ValueError):
    def __init__(self, detail: str, status: int = 409) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class Notice:
    id: str
    title: str
    body: str
    areas: Sequence[str]
    photo_ids: Sequence[str]
    expires_at: datetime


def send_broadcast(
    session: Session,
    ctx: GatewayContext,
    notice: Notice,
    sender: str,
    sender_name: str,
    now: datetime,
    link: str = "",
) -> Broadcast:
    if session.get(Broadcast, notice.id) is not None:
        raise BroadcastRefused(f"broadcast id {notice.id} is taken: make a new one")
    if notice.expires_at <= now:
        raise BroadcastRefused("the expiry is in the past", 422)
    if notice.expires_at > now + MAX_LIFETIME:
        raise BroadcastRefused(f"a broadcast lasts at most {MAX_LIFETIME.days} days", 422)
    unknown = [a for a in notice.areas if a not in ctx.site.areas]
    if unknown:
        raise BroadcastRefused(f"unknown areas: {', '.join(unknown)}", 422)
    grids = grids_under(ctx.site, list(notice.areas))
    workers = sorted((w for w in ctx.site.workers.values() if w.home_grid in set(grids)), key=lambda w: w.id)
    if not workers:
        raise BroadcastRefused("no grid worker has a home grid in these areas", 422)
    photos = []
    for photo_id in dict.fromkeys(notice.photo_ids):
        photo = session.get(BroadcastPhoto, photo_id)
        if photo is None or photo.uploaded_by != sender or photo.broadcast_id not in (None, notice.id):
            raise BroadcastRefused(f"photo {photo_id} has not arrived from {sender}: upload it first")
        photo.broadcast_id = notice.id
        photos.append(photo_id)
    broadcast = Broadcast(
        id=notice.id,
        title=notice.title,
        body=notice.body,
        areas=list(notice.areas),
        grids=grids,
        photo_ids=photos,
        sender=sender,
        sender_name=sender_name,
        created_at=now,
        expires_at=notice.expires_at,
        close_note="",
    )
    session.add(broadcast)
    session.flush()  # the broadcast's row before its receipts' (their foreign key)
    session.add_all(
        BroadcastRecipient(broadcast_id=notice.id, worker_id=w.id, grid_id=w.home_grid) for w in workers
    )
    _tell_groups(session, ctx, broadcast, "broadcast", f"协查通报：{notice.title}", notice.body, link, now)
    log.info(
        "broadcast %s sent by %s to %d workers in %d grids",
        notice.id,
        sender,
        len(workers),
        len(grids),
        extra={"broadcast_id": notice.id, "actor": sender},
    )
    return broadcast


def read_broadcast(
    session: Session, broadcast: Broadcast, worker_id: str, now: datetime
) -> BroadcastRecipient:
    receipt = _recipient(session, broadcast, worker_id)
    if receipt.read_at is None:  # the first reading counts; opening it again changes nothing
        receipt.read_at = now
        log.info(
            "broadcast %s read by %s",
            broadcast.id,
            worker_id,
            extra={"broadcast_id": broadcast.id, "worker_id": worker_id},
        )
    return receipt


def close_broadcast(
    session: Session,
    ctx: GatewayContext,
    broadcast: Broadcast,
    actor: str,
    why: str,
    now: datetime,
    link: str = "",
) -> Broadcast:
    if broadcast.closed_at is not None:
        raise BroadcastRefused(f"broadcast {broadcast.id} was closed at {broadcast.closed_at.isoformat()}")
    broadcast.closed_at = now
    broadcast.closed_by = actor
    broadcast.close_note = why
    _tell_groups(
        session, ctx, broadcast, "broadcast_closed", f"协查结束：{broadcast.title}", why or "—", link, now
    )
    log.info("broadcast %s closed by %s", broadcast.id, actor, extra={"broadcast_id": broadcast.id})
    return broadcast


@dataclass(frozen=True)
class Seen:
    id: str  # made on the phone: the sighting's id and its report's
    location: GeoPoint
    note: str
    photos: Sequence[str] = ()


def take_sighting(
    session: Session, ctx: GatewayContext, broadcast: Broadcast, worker_id: str, seen: Seen, now: datetime
) -> tuple[Sighting, Reported]:
    if state_of(broadcast, now) != "open":
        raise BroadcastRefused(f"broadcast {broadcast.id} is {state_of(broadcast, now)}: nothing to report")
    read_broadcast(session, broadcast, worker_id, now)  # a sighting says it was read
    report = Report(
        id=seen.id,
        worker_id=worker_id,
        hazard_type=HazardType.SIGHTING,
        severity=Severity.MAJOR,
        location=seen.location,
        note=f"协查通报「{broadcast.title}」: {seen.note}".strip(),
        taken_at=now,
        photos=tuple(seen.photos),
    )
    reported = take_report(session, ctx, report, now)
    if reported.case is None:
        raise BroadcastRefused(f"sighting {seen.id} was already received")
    case: Case = reported.case
    sighting = Sighting(
        id=seen.id,
        broadcast_id=broadcast.id,
        worker_id=worker_id,
        case_id=case.id,
        lon=seen.location.lon,
        lat=seen.location.lat,
        note=seen.note,
        at=now,
    )
    session.add(sighting)
    note(
        session,
        case,
        "broadcast",
        f"worker:{worker_id}",
        f"sighting for broadcast {broadcast.id} 「{broadcast.title}」"
        f" from {broadcast.sender_name or broadcast.sender}",
        now,
    )
    log.info(
        "sighting %s for broadcast %s opened case %s",
        seen.id,
        broadcast.id,
        case.id,
        extra={"broadcast_id": broadcast.id, "worker_id": worker_id, "case_id": case.id},
    )
    return sighting, reported


def _tell_groups(
    session: Session,
    ctx: GatewayContext,
    broadcast: Broadcast,
    event: str,
    title: str,
    text: str,
    link: str,
    now: datetime,
) -> int:
    """The group robots of the communities the broadcast's grids lie in (企业微信, 钉钉 ...)."""
    communities = {
        c.id for g in broadcast.grids if (c := ctx.site.ancestor(g, GridLevel.COMMUNITY)) is not None
    }
    told = 0
    for community_id in sorted(communities):
        contact = ctx.site.escalation.communities.get(community_id)
        if contact is not None and contact.webhooks:
            told += len(
                notify.queue_link(
                    session,
                    contact.webhooks,
                    event,
                    title,
                    text[:500],
                    link,
                    "打开网格员App Open the worker app",
                    now,
                )
            )
    return told


def _recipient(session: Session, broadcast: Broadcast, worker_id: str) -> BroadcastRecipient:
    receipt = session.scalars(
        select(BroadcastRecipient).where(
            BroadcastRecipient.broadcast_id == broadcast.id, BroadcastRecipient.worker_id == worker_id
        )
    ).first()
    if receipt is None:
        raise BroadcastRefused(f"broadcast {broadcast.id} was not sent to {worker_id}", 403)
    return receipt
