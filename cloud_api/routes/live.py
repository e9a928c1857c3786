"""Server-Sent Events: what committed, pushed to the pages (see cloud_api/live.py).

Each page gets only the cases its caller may read (areas, own tasks, its department's
escalations), and the stream ends when the caller's session or token stops holding.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, Place, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import case_place
from cloud_api.live import LiveHub, Update, parse_since, sse_headers
from contracts.site import Site
from gateway.cases.models import Case

router = APIRouter(prefix="/api/v1", tags=["live"], route_class=GuardedRoute)


def visibility(access: Access, site: Site, read_sessions: Callable[[], Session]) -> Callable[[Update], bool]:
    if access.everywhere:
        return lambda _update: True
    seen: set[str] = set()  # a department's escalated cases stay escalated: remember the yeses

    def visible(update: Update) -> bool:
        if update.event == "broadcast":  # its grids, its recipients, or its sender
            return (
                access.allows(Place(update.grids, update.worker_ids)) or update.sender == access.caller.actor
            )
        grids = frozenset((update.grid_id,)) if update.grid_id else frozenset()
        if access.allows(Place(grids, update.worker_ids)) or update.case_id in seen:
            return True
        if access.department is None:
            return False
        with read_sessions() as session:
            case = session.get(Case, update.case_id)
            allowed = case is not None and access.allows(case_place(session, site, case))
        if allowed:
            seen.add(update.case_id)
        return allowed

    return visible


async def _while_allowed(request: Request, stream: AsyncIterator[str]) -> AsyncIterator[str]:
    """Stops when the caller is disabled, signs out or loses the token (checked on every update
    and keep-alive, at least every 15 s)."""
    guard = request.app.state.guard
    async for chunk in stream:
        if not guard.still_valid(request):
            return
        yield chunk


@router.get(
    "/live",
    summary="Live updates of the cases the caller may see (text/event-stream)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An endless event stream"}},
)
async def live(
    request: Request,
    access: Annotated[Access, Depends(allow(Perm.READ_CASES))],
    since: Annotated[
        int | None, Query(ge=0, le=2**62, description="Resume after this update id (or Last-Event-ID).")
    ] = None,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StreamingResponse:
    hub: LiveHub = request.app.state.live
    state = request.app.state
    stream = hub.stream(
        parse_since(last_event_id, since), visibility(access, state.site, state.read_sessions)
    )
    return StreamingResponse(
        _while_allowed(request, stream), media_type="text/event-stream", headers=sse_headers()
    )
