"""A grid worker's photo (拍照上报): kept as evidence, on the case of the task it was taken for.

The bytes were checked and cleaned before this runs (gateway.evidence.photos — outside any
transaction: decoding is the slow part). Here, in the caller's transaction:

1. the photo is stored as the worker's evidence (its device and source are the worker's id),
   with when it was taken (the camera's EXIF time; else what the phone says; else now) and
   where (EXIF GPS; else the phone's position);
2. taken for a task, it is listed on the task's case and noted on the case's trail (who,
   when, how far from the site) — whatever became of the task meanwhile: a photo taken on
   site is evidence even when the task was reassigned while the phone had no signal;
3. taken for a report (随手拍), it waits for the report that names it (flows.worker_reports).

A step that names photos (resolve with photos, ``TaskUpdate.photo``) puts them on the case
through :func:`name_on_case`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from contracts import GeoPoint
from contracts.geo import haversine_m
from gateway.cases.audit import note
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.dispatch.models import Task
from gateway.evidence.models import Evidence
from gateway.evidence.photos import Photo
from gateway.evidence.service import attach, store_photo

log = logging.getLogger(__name__)

CLOCK_SLACK = timedelta(minutes=5)  # a camera clock further ahead of ours is not believed


class PhotoNotTaken(ValueError):
    """The photo cannot be kept as asked (its id is taken, it is not the worker's ...)."""


def take_photo(
    session: Session,
    ctx: GatewayContext,
    worker_id: str,
    photo_id: str,
    photo: Photo,
    now: datetime,
    task: Task | None = None,
    phone_time: datetime | None = None,
    phone_where: GeoPoint | None = None,
) -> Evidence:
    if session.get(Evidence, photo_id) is not None:
        raise PhotoNotTaken(f"photo id {photo_id} is already used by another photo: make a new id")
    taken_at, how = _when(photo.taken_at, phone_time, now)
    if photo.lon is not None and photo.lat is not None:
        where: tuple[float, float] | None = (photo.lon, photo.lat)
    else:
        where = (phone_where.lon, phone_where.lat) if phone_where else None
    row = store_photo(session, photo_id, worker_id, photo, taken_at, now, task.id if task else None, where)
    if task is not None:
        case = session.get(Case, task.case_id)
        assert case is not None
        attach(case, photo_id)
        note(session, case, "photo", f"worker:{worker_id}", _describe(ctx, row, case, how), now)
        log.info(
            "photo %s of task %s kept on case %s",
            photo_id,
            task.id,
            case.id,
            extra={"worker_id": worker_id, "task_id": task.id, "case_id": case.id},
        )
    return row


def name_on_case(
    session: Session,
    case: Case,
    task: Task,
    worker_id: str,
    photo_ids: Iterable[str],
    sha256: str | None = None,
) -> list[str]:
    """Photos a step names: the worker's own, uploaded before; listed on the case if not yet.
    Raises PhotoNotTaken (the step is then refused) for one that is missing or someone else's."""
    named = []
    for photo_id in dict.fromkeys(photo_ids):
        row = session.get(Evidence, photo_id)
        if row is None:
            raise PhotoNotTaken(
                f"photo {photo_id} has not arrived: upload it first (PUT /api/v1/photos/{photo_id})"
            )
        if row.device_id != worker_id:
            raise PhotoNotTaken(f"photo {photo_id} is not {worker_id}'s")
        if sha256 is not None and row.sha256 != sha256:
            raise PhotoNotTaken(f"photo {photo_id} does not match its sha256")
        if row.task_id is None:
            row.task_id = task.id
        attach(case, photo_id)
        named.append(photo_id)
    return named


def _when(exif: datetime | None, phone: datetime | None, now: datetime) -> tuple[datetime, str]:
    if exif is not None and exif <= now + CLOCK_SLACK:
        return exif, "camera time"
    if phone is not None and phone <= now + CLOCK_SLACK:
        return phone, "phone time"
    return now, "received"


def _describe(ctx: GatewayContext, row: Evidence, case: Case, how: str) -> str:
    local = row.taken_at.astimezone(ctx.site.settings.site.tz).strftime("%Y-%m-%d %H:%M:%S")
    text = f"photo {row.id} ({row.width}×{row.height}) taken {local} ({how})"
    if row.lon is not None and row.lat is not None and case.lon is not None and case.lat is not None:
        text += f", {haversine_m(row.lon, row.lat, case.lon, case.lat):.0f} m from the site"
    return text
