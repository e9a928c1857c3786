"""Dead letters: what the contracts refused, readable in full and replayable after a fix."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, model_validator

from cloud_api.auth import OperatorDep, same_person
from cloud_api.deps import CtxDep, ReadSessionDep
from contracts.envelope import Identifier
from gateway.events import queries as dead_letters
from gateway.events.models import DeadLetter
from gateway.events.schemas import DeadLetterView
from gateway.flows import replay
from gateway.flows.ingest import Pipeline

router = APIRouter(prefix="/api/v1/dead-letters", tags=["operations"])


class ReplayRequest(BaseModel):
    model_config = {"extra": "forbid"}

    operator: Identifier | None = Field(
        default=None,
        description="Who replays (kept on each dead letter as operator:<id>): the token's holder.",
    )
    ids: list[int] = Field(default_factory=list, max_length=1000, description="These dead letters ...")
    reason: str | None = Field(default=None, description="... or all with this reason ...")
    source: str | None = Field(default=None, description="... and/or from this source.")
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


@router.get("", response_model=list[DeadLetterView], summary="Refused payloads, newest first")
def list_dead_letters(
    session: ReadSessionDep,
    reason: str | None = None,
    source: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> list[DeadLetterView]:
    return dead_letters.list_dead_letters(session, reason, source, limit, offset)


@router.get("/summary", summary="Dead letters counted by reason")
def dead_letter_summary(session: ReadSessionDep) -> dict[str, int]:
    return dead_letters.dead_letter_counts(session)


@router.get(
    "/{letter_id}/payload",
    summary="The raw payload as received (as far as it was kept)",
    response_class=Response,
)
def payload(letter_id: int, session: ReadSessionDep) -> Response:
    row = session.get(DeadLetter, letter_id)
    if row is None:
        raise HTTPException(404, f"no dead letter {letter_id}")
    return Response(
        bytes(row.payload),
        media_type="application/octet-stream",
        headers={"X-Payload-Size": str(row.payload_size), "X-Topic": row.topic},
    )


@router.post("/replay", response_model=ReplayReport, summary="Run dead letters through the pipeline again")
def replay_dead_letters(body: ReplayRequest, request: Request, ctx: CtxDep, who: OperatorDep) -> ReplayReport:
    """Each payload goes through the same pipeline as live traffic (cases, dispatch, outbox);
    telemetry replayed here is counted but not stored (the API has no telemetry store)."""
    operator_id = same_person(who, request, body.operator, "operator")
    sessions = request.app.state.sessions
    with sessions() as session:
        ids = replay.select_letters(
            session, body.ids, body.reason, body.source, body.include_replayed, body.limit
        )
    if body.ids and not ids:
        raise HTTPException(404, f"no dead letters with ids {body.ids}")
    results = replay.replay(sessions, Pipeline(sessions, ctx), ids, f"operator:{operator_id}")
    return ReplayReport(
        replayed=len(results),
        accepted=sum(r.accepted for r in results),
        items=[ReplayItem(id=r.id, result=r.result, detail=r.detail) for r in results],
    )
