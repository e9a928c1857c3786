"""协查通报: the centre or a department sends a notice to the grid workers of chosen areas; each
worker's read receipt comes back; a worker answers with a sighting, which opens a case linked to
the broadcast; closing it tells everyone (gateway/flows/broadcasts.py).

Photos are uploaded first (``PUT /api/v1/broadcasts/photos/{id}``, the image as the body, checked
and cleaned like a worker's photo), then named by the notice. Everything a page shows arrives live
(``GET /api/v1/live``, event ``broadcast``) through the change log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, Place, Refusal, allow, same_person
from cloud_api.auth.guard import GuardedRoute, UploadRoute
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from cloud_api.idempotency import KEY, Conflict, OnceDep
from cloud_api.params import AwareTime
from cloud_api.routes.photos import clean_photo
from contracts import GeoPoint
from contracts.envelope import Envelope
from gateway.broadcasts import queries
from gateway.broadcasts.models import Broadcast, BroadcastPhoto
from gateway.cases.service import outside_by
from gateway.flows.broadcasts import (
    BroadcastRefused,
    Notice,
    Seen,
    close_broadcast,
    read_broadcast,
    send_broadcast,
    take_sighting,
)
from gateway.flows.worker_photos import PhotoNotTaken

router = APIRouter(prefix="/api/v1/broadcasts", tags=["broadcasts"], route_class=GuardedRoute)
# Photos get their own cap (UploadRoute); cloud_api/app.py includes both routers.
uploads = APIRouter(prefix="/api/v1/broadcasts", tags=["broadcasts"], route_class=UploadRoute)

Id = Annotated[str, Path(pattern=KEY.pattern, max_length=36)]
Sender = Annotated[Access, Depends(allow(Perm.SEND_BROADCASTS))]
Reader = Annotated[Access, Depends(allow(Perm.READ_BROADCASTS))]


class PhotoAnswer(BaseModel):
    id: str
    width: int
    height: int


class BroadcastRequest(BaseModel):
    model_config = {"extra": "forbid"}

    id: str = Field(pattern=KEY.pattern, max_length=36, description="Made by the page (a UUID).")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=5000)
    areas: list[Annotated[str, StringConstraints(max_length=64)]] = Field(min_length=1, max_length=50)
    photo_ids: list[Annotated[str, StringConstraints(max_length=36)]] = Field(
        default_factory=list, max_length=6
    )
    expires_at: AwareTime


class ReceiptView(BaseModel):
    worker_id: str
    worker_name: str
    grid_id: str
    read_at: datetime | None


class SightingView(BaseModel):
    id: str
    worker_id: str
    case_id: str
    lon: float
    lat: float
    note: str
    at: datetime


class BroadcastView(BaseModel):
    id: str
    title: str
    body: str
    areas: list[str]
    grids: list[str]
    photos: list[str]  # URLs
    sender: str
    sender_name: str
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    close_note: str
    state: str  # open, expired, closed
    recipients: int
    read: int
    read_at: datetime | None = None  # the calling worker's own receipt
    receipts: list[ReceiptView] = []  # for senders: each worker, read or not
    sightings: list[SightingView] = []


class BroadcastList(BaseModel):
    items: list[BroadcastView]


class CloseRequest(BaseModel):
    model_config = {"extra": "forbid"}
    note: str = Field(default="", max_length=1000)


class SightingRequest(BaseModel):
    model_config = {"extra": "forbid"}

    id: str = Field(description="Made on the phone (a UUID): the sighting's id and its retry key.")
    location: GeoPoint
    note: str = Field(default="", max_length=2000)
    photos: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=6)


class SightingAnswer(BaseModel):
    sighting_id: str
    broadcast_id: str
    case_id: str
    grid_id: str | None
    status: str


def views(
    session: Session, ctx: CtxDep, items: list[Broadcast], worker_id: str | None, access: Access | None = None
) -> list[BroadcastView]:
    """``access``: who looks; a sender of a notice that reaches beyond their areas (a street's,
    seen by a community's operator) is shown the receipts and sightings of their own grids only."""
    ids = [b.id for b in items]
    got = queries.receipts(session, ids)
    seen = queries.sightings(session, ids)
    now = ctx.now()
    workers = ctx.site.workers
    out = []
    for b in items:
        rows = got[b.id]
        own = next((r for r in rows if r.worker_id == worker_id), None)
        shown, sightings = rows, seen[b.id]
        if access is not None and b.sender != access.caller.actor:
            shown = [r for r in rows if access.allows(Place(frozenset({r.grid_id})))]
            theirs = {r.worker_id for r in shown}
            sightings = [s for s in sightings if s.worker_id in theirs]
        out.append(
            BroadcastView(
                id=b.id,
                title=b.title,
                body=b.body,
                areas=b.areas,
                grids=b.grids,
                photos=[f"/api/v1/broadcasts/{b.id}/photos/{p}.jpg" for p in b.photo_ids],
                sender=b.sender,
                sender_name=b.sender_name,
                created_at=b.created_at,
                expires_at=b.expires_at,
                closed_at=b.closed_at,
                close_note=b.close_note,
                state=queries.state_of(b, now),
                recipients=len(rows),
                read=sum(1 for r in rows if r.read_at is not None),
                read_at=own.read_at if own else None,
                receipts=[]
                if worker_id
                else [
                    ReceiptView(
                        worker_id=r.worker_id,
                        worker_name=workers[r.worker_id].name if r.worker_id in workers else r.worker_id,
                        grid_id=r.grid_id,
                        read_at=r.read_at,
                    )
                    for r in shown
                ],
                sightings=[]
                if worker_id
                else [
                    SightingView(
                        id=s.id,
                        worker_id=s.worker_id,
                        case_id=s.case_id,
                        lon=s.lon,
                        lat=s.lat,
                        note=s.note,
                        at=s.at,
                    )
                    for s in sightings
                ],
            )
        )
    return out


def _app_link(request: Request) -> str:
    """Where a group robot's message sends a worker: the app's notices."""
    return str(request.base_url).rstrip("/") + "/ui/worker/#broadcasts"


def _visible(access: Access, b: Broadcast) -> bool:
    if access.own_worker is not None:
        return False  # a worker sees only what was sent to them (checked on the receipts)
    return access.allows(Place(frozenset(b.grids))) or b.sender == access.caller.actor


def _get(session: Session, broadcast_id: str) -> Broadcast:
    b = session.get(Broadcast, broadcast_id)
    if b is None:
        raise HTTPException(404, f"no broadcast {broadcast_id!r}")
    return b


async def _body(request: Request) -> bytes:
    return await request.body()


@uploads.put(
    "/photos/{photo_id}",
    response_model=PhotoAnswer,
    status_code=201,
    summary="Upload a photo for a broadcast that follows (the image is the body)",
)
def put_photo(
    photo_id: Id, request: Request, data: Annotated[bytes, Depends(_body)], ctx: CtxDep, access: Sender
) -> PhotoAnswer:
    photo = clean_photo(request, data, request.headers.get("content-type", ""), None)
    with request.app.state.sessions() as session, session.begin():
        held = session.get(BroadcastPhoto, photo_id)
        if held is not None:
            if held.uploaded_by != access.caller.actor:
                raise HTTPException(409, f"photo id {photo_id} is taken")
            return PhotoAnswer(id=held.id, width=held.width, height=held.height)
        session.add(
            BroadcastPhoto(
                id=photo_id,
                broadcast_id=None,
                uploaded_by=access.caller.actor,
                width=photo.width,
                height=photo.height,
                jpeg=photo.jpeg,
                received_at=ctx.now(),
            )
        )
    return PhotoAnswer(id=photo_id, width=photo.width, height=photo.height)


@router.post("", response_model=BroadcastView, status_code=201, summary="Send a broadcast (协查通报)")
def send(
    body: BroadcastRequest, request: Request, session: SessionDep, ctx: CtxDep, access: Sender
) -> BroadcastView:
    unknown = [a for a in body.areas if a not in ctx.site.areas]
    if unknown:
        raise HTTPException(422, f"unknown areas: {', '.join(unknown)}")
    for grid in queries.grids_under(ctx.site, body.areas):
        access.require(Place(frozenset({grid})), f"grid {grid}")
    notice = Notice(body.id, body.title, body.body, body.areas, body.photo_ids, body.expires_at)
    with session.begin():
        try:
            b = send_broadcast(
                session, ctx, notice, access.caller.actor, access.caller.display_name, ctx.now()
            )
        except BroadcastRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        session.flush()
        return views(session, ctx, [b], None, access)[0]


@router.get(
    "", response_model=BroadcastList, summary="Broadcasts: a worker's own, or those of the caller's areas"
)
def list_broadcasts(session: ReadSessionDep, ctx: CtxDep, access: Reader) -> BroadcastList:
    worker_id = access.own_worker
    if worker_id is not None:
        return BroadcastList(items=views(session, ctx, queries.of_worker(session, worker_id), worker_id))
    items = [b for b in queries.recent(session) if _visible(access, b)]
    return BroadcastList(items=views(session, ctx, items, None, access))


@router.get(
    "/{broadcast_id}/photos/{photo_id}.jpg",
    summary="A broadcast's photo (JPEG)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def photo(broadcast_id: Id, photo_id: Id, session: ReadSessionDep, access: Reader) -> Response:
    b = _get(session, broadcast_id)
    worker_id = access.own_worker
    if worker_id is not None:
        if worker_id not in {r.worker_id for r in queries.receipts(session, [b.id])[b.id]}:
            raise Refusal(403, f"broadcast {broadcast_id} was not sent to {worker_id}")
    elif not _visible(access, b):
        raise Refusal(403, f"broadcast {broadcast_id} is outside the caller's areas")
    row = session.get(BroadcastPhoto, photo_id)
    if row is None or row.broadcast_id != b.id:
        raise HTTPException(404, f"no photo {photo_id!r} on broadcast {broadcast_id}")
    return Response(row.jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@router.post("/{broadcast_id}/read", response_model=BroadcastView, summary="A worker read the broadcast")
def read(broadcast_id: Id, session: SessionDep, ctx: CtxDep, access: Reader) -> BroadcastView:
    worker_id = same_person(access, None, "worker_id")
    with session.begin():
        b = _get(session, broadcast_id)
        try:
            read_broadcast(session, b, worker_id, ctx.now())
        except BroadcastRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        session.flush()
        return views(session, ctx, [b], worker_id)[0]


@router.post(
    "/{broadcast_id}/sightings",
    response_model=SightingAnswer,
    status_code=201,
    summary="A worker saw what the broadcast asks for: opens a case linked to it",
)
def sighting(
    broadcast_id: Id,
    body: SightingRequest,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.REPORT_CASES))],
    once: OnceDep,
) -> Response:
    worker_id = same_person(access, None, "worker_id")
    try:
        Envelope.model_validate({"id": body.id, "source": worker_id, "seq": 0})
    except ValueError:
        raise HTTPException(422, "id must be a UUID made on the phone") from None
    far = outside_by(ctx, body.location)
    if far is not None:  # a stale fix: nobody is sent hundreds of km for a sighting
        raise HTTPException(
            422,
            f"this position is {far / 1000:.0f} km outside every grid of {ctx.site.settings.site.name}: "
            "check the phone's position (wait for a fresh fix, or pick the place on the map)",
        )
    once.key = once.key or body.id
    now = ctx.now()
    seen = Seen(body.id, body.location, body.note.strip(), tuple(body.photos))

    def work() -> SightingAnswer:
        b = _get(session, broadcast_id)
        try:
            found, reported = take_sighting(session, ctx, b, worker_id, seen, now)
        except BroadcastRefused as exc:
            if exc.status == 409:
                raise Conflict(str(exc)) from None
            raise HTTPException(exc.status, str(exc)) from None
        except PhotoNotTaken as exc:
            raise Conflict(str(exc)) from None
        assert reported.case is not None
        return SightingAnswer(
            sighting_id=found.id,
            broadcast_id=b.id,
            case_id=reported.case.id,
            grid_id=reported.case.grid_id,
            status=reported.case.status,
        )

    return once.run(session, now, work, status=201)


@router.post(
    "/{broadcast_id}/close", response_model=BroadcastView, summary="Close a broadcast: tells everyone"
)
def close(
    broadcast_id: Id, body: CloseRequest, request: Request, session: SessionDep, ctx: CtxDep, access: Sender
) -> BroadcastView:
    with session.begin():
        b = _get(session, broadcast_id)
        if not _visible(access, b):
            raise Refusal(403, f"broadcast {broadcast_id} is outside the caller's areas")
        if b.sender != access.caller.actor:  # closing tells every grid of it: as sending needs, all of them
            for grid in b.grids:
                access.require(Place(frozenset({grid})), f"grid {grid} of broadcast {broadcast_id}")
        try:
            close_broadcast(
                session, ctx, b, access.caller.actor, body.note.strip(), ctx.now(), _app_link(request)
            )
        except BroadcastRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        session.flush()
        return views(session, ctx, [b], None, access)[0]
