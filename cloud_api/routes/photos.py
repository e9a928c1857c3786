"""Workers' photos (拍照上报): the phone uploads a photo under an id it made, for a task or for a
report (随手拍) that follows.

``PUT /api/v1/photos/{photo_id}`` with the image itself as the body (``Content-Type:
image/jpeg``, ``image/png`` or ``image/webp``; the file name, if sent, in ``Content-Disposition``).
PUT under the phone's id makes it idempotent by nature: a retry of the same upload answers as the
first did (cloud_api/idempotency.py, the photo id is the key). The server checks the type against
the bytes, refuses more than GRIDWATCH_MAX_PHOTO_BYTES (413) and more than
GRIDWATCH_MAX_PHOTO_PIXELS before decoding (422), reads the time and position from EXIF, strips
everything else and keeps a clean JPEG as evidence (gateway.evidence.photos): on the task's case,
where the operator sees it, at once.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel

from cloud_api.auth import Access, Perm, Refusal, allow, same_person
from cloud_api.auth.guard import UploadRoute
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from cloud_api.idempotency import KEY, Conflict, OnceDep
from cloud_api.params import AwareTime
from contracts import GeoPoint
from gateway.dispatch.models import Task
from gateway.evidence import photos
from gateway.evidence.models import Evidence
from gateway.flows.worker_photos import PhotoNotTaken, take_photo

router = APIRouter(prefix="/api/v1/photos", tags=["photos"], route_class=UploadRoute)

PhotoId = Annotated[
    str,
    Path(pattern=KEY.pattern, description="Made by the phone (a UUID): the photo's id and its retry key."),
]
_FILENAME = re.compile(
    r"""filename\*\s*=\s*[^']*'[^']*'([^;]+)|filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;\s]+)"""
)


class PhotoView(BaseModel):
    id: str
    task_id: str | None
    case_id: str | None
    width: int
    height: int
    size_bytes: int
    sha256: str
    taken_at: datetime
    lon: float | None
    lat: float | None
    url: str


def filename_of(request: Request) -> str | None:
    """The file name from ``Content-Disposition`` (RFC 6266), if the phone sent one."""
    header = request.headers.get("content-disposition", "")
    match = _FILENAME.search(header)
    if match is None:
        return None
    extended, quoted, bare = match.groups()
    return unquote(extended) if extended else (quoted if quoted is not None else bare)


async def _body(request: Request) -> bytes:
    return await request.body()


def clean_photo(request: Request, data: bytes, content_type: str, name: str | None) -> photos.Photo:
    """A phone's photo checked and cleaned as every upload is (a worker's, a resident's, a
    broadcast's): 415 not an image or not what it says, 413/422 too large or too many pixels."""
    settings = request.app.state.settings
    site = request.app.state.site
    try:
        return photos.process(
            data,
            content_type,
            name,
            site.settings.site.tz,
            photos.PhotoLimits(max_pixels=settings.max_photo_pixels),
        )
    except photos.PhotoRefused as exc:
        raise HTTPException(exc.status, exc.detail) from None


@router.put(
    "/{photo_id}",
    response_model=PhotoView,
    status_code=201,
    summary="Upload a photo taken on the phone (the image is the body)",
    responses={
        409: {"description": "The id is used by another photo"},
        413: {"description": "Larger than GRIDWATCH_MAX_PHOTO_BYTES"},
        415: {"description": "Not a JPEG, PNG or WebP, or not what its type or file name says"},
        422: {"description": "Too many pixels to decode safely, or cut off"},
    },
)
def put_photo(
    photo_id: PhotoId,
    request: Request,
    data: Annotated[bytes, Depends(_body)],
    session: SessionDep,
    read: ReadSessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.STEP_TASKS))],
    once: OnceDep,
    task_id: Annotated[
        str | None, Query(max_length=64, description="The task it shows; empty: for a report that follows.")
    ] = None,
    lon: Annotated[
        float | None, Query(ge=-180, le=180, description="Where the phone was (no EXIF GPS).")
    ] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    taken_at: Annotated[AwareTime | None, Query(description="When the phone took it (no EXIF time).")] = None,
) -> Response:
    worker_id = same_person(access, None, "worker_id")
    if task_id is not None:
        task = read.get(Task, task_id)
        if task is None:
            raise HTTPException(404, f"no task {task_id!r}")
        if task.worker_id != worker_id:
            raise Refusal(403, f"task {task_id} is not yours: it is {task.worker_id}'s")
    once.key = once.key or photo_id
    replayed = once.replay(read)  # a retry: no need to decode it again
    if replayed is not None:
        return replayed
    photo = clean_photo(request, data, request.headers.get("content-type", ""), filename_of(request))
    where = GeoPoint(lon=lon, lat=lat) if lon is not None and lat is not None else None
    now = ctx.now()

    def work() -> PhotoView:
        task = session.get(Task, task_id) if task_id else None
        try:
            row = take_photo(session, ctx, worker_id, photo_id, photo, now, task, taken_at, where)
        except PhotoNotTaken as exc:
            raise Conflict(str(exc)) from None
        return view(row, task.case_id if task else None)

    return once.run(session, now, work, status=201)


def view(row: Evidence, case_id: str | None) -> PhotoView:
    return PhotoView(
        id=row.id,
        task_id=row.task_id,
        case_id=case_id,
        width=row.width,
        height=row.height,
        size_bytes=len(row.jpeg),
        sha256=row.sha256,
        taken_at=row.taken_at,
        lon=row.lon,
        lat=row.lat,
        url=f"/api/v1/evidence/{row.id}.jpg",
    )
