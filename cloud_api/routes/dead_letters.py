"""Dead letters: what the contracts refused, readable in full and replayable after a fix.

Each caller sees the dead letters of the sources in their areas (an installer's
devices, an operator's nodes); letters from unknown sources only whole-site callers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, allow, same_person
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import source_ids, source_place
from cloud_api.deps import AreasDep, CtxDep, ReadSessionDep
from cloud_api.params import BodyDbId, DbId, Limit, Offset
from contracts.envelope import Identifier
from gateway.events import queries as dead_letters
from gateway.events.models import DeadLetter
from gateway.events.schemas import DeadLetterView
from gateway.flows import replay
from gateway.flows.ingest import Pipeline
from gateway.people.areas import SiteAreas

router = APIRouter(prefix="/api/v1/dead-letters", tags=["operations"], route_class=GuardedRoute)
DeviceReader = Annotated[Access, Depends(allow(Perm.READ_DEVICES))]


class ReplayRequest(BaseModel):
    model_config = {"extra": "forbid"}

    operator: Identifier | None = Field(
        default=None,
        description="Who replays (kept on each dead letter as operator:<id>): the caller.",
    )
    ids: list[BodyDbId] = Field(default_factory=list, max_length=1000, description="These dead letters ...")
    reason: str | None = Field(default=None, max_length=32, description="... or all with this reason ...")
    source: str | None = Field(default=None, max_length=64, description="... and/or from this source.")
    include_replayed: bool = Field(
        default=False, description="Also those already replayed successfully (by reason/source)."
    )
    limit: int = Field(default=1000, ge=1, le=10_000)

    @model_validator(mode="after")
    def _something_chosen(self) -> ReplayRequest:
        if not (self.ids or self.reason or self.source):
            raise ValueError("say which dead letters: ids, reason or source")
        return self


class ReplayItem(BaseModel):
    id: int
    result: str
    detail: str


class ReplayReport(BaseModel):
    replayed: int
    accepted: int
    items: list[ReplayItem]


def visible_sources(session: Session, access: Access, areas: SiteAreas) -> set[str] | None:
    known = [s for s in session.scalars(select(DeadLetter.source).distinct()) if s is not None]
    return source_ids(access, areas, known)


@router.get("", response_model=list[DeadLetterView], summary="Refused payloads, newest first")
def list_dead_letters(
    session: ReadSessionDep,
    access: DeviceReader,
    areas: AreasDep,
    reason: str | None = Query(default=None, max_length=32),
    source: str | None = Query(default=None, max_length=64),
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DeadLetterView]:
    only = visible_sources(session, access, areas)
    return dead_letters.list_dead_letters(session, reason, source, limit, offset, only)


@router.get("/summary", summary="Dead letters counted by reason")
def dead_letter_summary(session: ReadSessionDep, access: DeviceReader, areas: AreasDep) -> dict[str, int]:
    return dead_letters.dead_letter_counts(session, visible_sources(session, access, areas))


@router.get(
    "/{letter_id}/payload",
    summary="The raw payload as received (as far as it was kept)",
    response_class=Response,
)
def payload(letter_id: DbId, session: ReadSessionDep, access: DeviceReader, areas: AreasDep) -> Response:
    row = session.get(DeadLetter, letter_id)
    if row is None:
        raise HTTPException(404, f"no dead letter {letter_id}")
    access.require(source_place(areas, row.source), f"dead letter {letter_id}")
    return Response(
        bytes(row.payload),
        media_type="application/octet-stream",
        headers={
            "X-Payload-Size": str(row.payload_size),
            "X-Topic": row.topic.encode("ascii", "backslashreplace").decode(),
        },
    )


@router.post("/replay", response_model=ReplayReport, summary="Run dead letters through the pipeline again")
def replay_dead_letters(
    body: ReplayRequest,
    request: Request,
    ctx: CtxDep,
    areas: AreasDep,
    access: Annotated[Access, Depends(allow(Perm.REPLAY_DEAD_LETTERS))],
) -> ReplayReport:
    """Each payload goes through the same pipeline as live traffic (cases, dispatch, outbox);
    telemetry replayed here is counted but not stored (the API has no telemetry store).
    Only dead letters of sources in the caller's areas are replayed."""
    operator_id = same_person(access, body.operator, "operator")
    sessions = request.app.state.sessions
    with sessions() as session:
        ids = replay.select_letters(
            session, body.ids, body.reason, body.source, body.include_replayed, body.limit
        )
        if not access.everywhere:
            sources = dict(
                session.execute(select(DeadLetter.id, DeadLetter.source).where(DeadLetter.id.in_(ids))).all()
            )
            outside = [i for i in ids if not access.allows(source_place(areas, sources.get(i)))]
            if body.ids and outside:
                access.require(source_place(areas, sources.get(outside[0])), f"dead letter {outside[0]}")
            ids = [i for i in ids if i not in set(outside)]
    if body.ids and not ids:
        raise HTTPException(404, f"no dead letters with ids {body.ids}")
    results = replay.replay(sessions, Pipeline(sessions, ctx), ids, f"operator:{operator_id}")
    return ReplayReport(
        replayed=len(results),
        accepted=sum(r.accepted for r in results),
        items=[ReplayItem(id=r.id, result=r.result, detail=r.detail) for r in results],
    )
