"""Replay dead letters after a fix: each payload goes through today's pipeline again.

A payload that still fails the contract is *not* dead-lettered a second time;
its row records the new verdict. Each row keeps when, by whom and with what
result it was last replayed, and how often.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contracts import ContractError, decode
from gateway.events.models import DeadLetter
from gateway.flows.ingest import Incoming, Outcome, Pipeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayResult:
    id: int
    result: str  # applied, duplicate, refused, telemetry, stale, still_invalid, not_replayable, ...
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.result in {o.value for o in Outcome} - {Outcome.DEAD_LETTER.value}


def select_letters(
    session: Session,
    ids: list[int] | None = None,
    reason: str | None = None,
    source: str | None = None,
    include_replayed: bool = False,
    limit: int = 1000,
) -> list[int]:
    query = select(DeadLetter.id).order_by(DeadLetter.id)
    if ids:
        query = query.where(DeadLetter.id.in_(ids))
    if reason:
        query = query.where(DeadLetter.reason == reason)
    if source:
        query = query.where(DeadLetter.source == source)
    if not include_replayed and not ids:
        # "not replayed yet, or replayed without success"
        query = query.where(
            DeadLetter.replayed_at.is_(None) | DeadLetter.replay_result.like("still_invalid%")
        )
    return list(session.scalars(query.limit(limit)))


def replay(
    sessions: sessionmaker[Session], pipeline: Pipeline, ids: list[int], actor: str
) -> list[ReplayResult]:
    results = []
    for letter_id in ids:
        with sessions() as session:
            letter = session.get(DeadLetter, letter_id)
            if letter is None:
                results.append(ReplayResult(letter_id, "not_found", f"no dead letter {letter_id}"))
                continue
            topic, payload, size = letter.topic, bytes(letter.payload), letter.payload_size
        result = _replay_one(pipeline, letter_id, topic, payload, size)
        with sessions.begin() as session:
            letter = session.get(DeadLetter, letter_id)
            assert letter is not None
            letter.replayed_at = pipeline.ctx.now()
            letter.replayed_by = actor
            letter.replay_count = (letter.replay_count or 0) + 1
            letter.replay_result = f"{result.result}: {result.detail}"[:200].rstrip(": ")
        log.info(
            "dead letter %d replayed by %s: %s %s",
            letter_id,
            actor,
            result.result,
            result.detail,
            extra={"topic": topic},
        )
        results.append(result)
    return results


def _replay_one(pipeline: Pipeline, letter_id: int, topic: str, payload: bytes, size: int) -> ReplayResult:
    if size > len(payload):
        return ReplayResult(letter_id, "not_replayable", f"only {len(payload)} of {size} bytes were kept")
    try:
        decode(topic, payload)
    except ContractError as exc:
        return ReplayResult(letter_id, "still_invalid", f"{exc.reason}: {exc.detail}"[:180])
    [outcome] = pipeline.process([Incoming(topic, payload)])
    detail = (
        "failed again while being applied; see the newest dead letter"
        if outcome is Outcome.DEAD_LETTER
        else ""
    )
    return ReplayResult(letter_id, outcome.value, detail)
