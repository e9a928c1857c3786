"""Server-Sent Events: what committed, pushed to the pages (see cloud_api/live.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from cloud_api.live import LiveHub, parse_since, sse_headers

router = APIRouter(prefix="/api/v1", tags=["live"])


@router.get(
    "/live",
    summary="Live updates of cases and tasks (text/event-stream)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An endless event stream"}},
)
async def live(
    request: Request,
    since: Annotated[
        int | None, Query(ge=0, le=2**62, description="Resume after this update id (or Last-Event-ID).")
    ] = None,
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StreamingResponse:
    hub: LiveHub = request.app.state.live
    stream = hub.stream(parse_since(last_event_id, since))
    return StreamingResponse(stream, media_type="text/event-stream", headers=sse_headers())
