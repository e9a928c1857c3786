"""``Idempotency-Key``: a phone's step is applied once, whatever the retries.

A grid worker's phone keeps every step taken without signal, each with an id made on the
phone, and sends it until it gets an answer — after a timeout it cannot know whether the
server applied the step and the answer was lost, so it sends it again. With the header

    Idempotency-Key: 0193a1c2-…   (1-64 letters, digits, '-', '_', '.', ':')

the first request is applied and its answer stored **in the same transaction** as the change
(``api_receipts``: caller, key, status, body); a retry with the same key gets that stored answer
back — same status, same body, with ``Idempotent-Replayed: true`` — and changes nothing. Two
copies arriving at the same moment take turns on the receipt's primary key (one applies, the
other waits for its commit and replays it). The same key with a different request (another
path or body) is refused with 422: keys are per step, not per session.

What is kept: success (2xx) and 409 (the step did not fit the state *when it arrived*: a later
retry must say the same, not apply it against a newer state). Other refusals (401, 403, 413,
415, 422) keep nothing: the request can be fixed and sent again under its key. Without the
header a write behaves as it always did. Receipts are kept ``receipt_days`` (30) and pruned
now and then by the API itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloud_api.auth.errors import printable
from gateway.events.models import ApiReceipt

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
PRUNE_EVERY_S = 3600.0
_receipts = ApiReceipt.__table__


class Conflict(HTTPException):
    """409 with facts besides the sentence (e.g. how far a check-in was), kept like any 409."""

    def __init__(self, detail: str, **facts: Any) -> None:
        super().__init__(409, detail)
        self.facts = facts


def conflict_body(exc: HTTPException) -> dict[str, Any]:
    return {"detail": printable(exc.detail), **getattr(exc, "facts", {})}


@dataclass
class Once:
    """One write request, applied at most once per (caller, key)."""

    key: str | None
    caller: str
    route: str
    fingerprint: str
    keep: timedelta

    def run(
        self,
        session: Session,
        now: datetime,
        work: Callable[[], BaseModel | dict[str, Any]],
        status: int = 200,
    ) -> Response:
        """Run ``work`` (which must not begin or commit: it runs inside this transaction) once."""
        if self.key is None:
            with session.begin():
                try:
                    return _json(status, _encode(work()))
                except Conflict as exc:
                    return _json(409, json.dumps(conflict_body(exc), ensure_ascii=False))
        with session.begin():
            stored = self._claim(session, now)
            if stored is None:
                try:
                    with session.begin_nested():  # a 409 undoes the work, not the receipt
                        code, body = status, _encode(work())
                except HTTPException as exc:
                    if exc.status_code != 409:
                        raise  # nothing kept: the transaction (and the claim) roll back
                    code, body = 409, json.dumps(conflict_body(exc), ensure_ascii=False)
                session.execute(
                    _receipts.update()
                    .where(_receipts.c.caller == self.caller, _receipts.c.key == self.key)
                    .values(status=code, body=body)
                )
        if stored is not None:
            return self._answer(stored)
        prune(session, now, self.keep)
        return _json(code, body)

    def replay(self, session: Session) -> Response | None:
        """The stored answer, if this key was answered before (to skip slow work on a retry)."""
        if self.key is None:
            return None
        stored = session.get(ApiReceipt, (self.caller, self.key))
        return self._answer(stored) if stored is not None and stored.status else None

    def _answer(self, stored: ApiReceipt) -> Response:
        if stored.fingerprint != self.fingerprint:
            raise HTTPException(
                422, f"this {HEADER} was used for another request ({stored.route}): make a new key per step"
            )
        log.info("%s %s answered again from its receipt", self.route, self.key, extra={"caller": self.caller})
        return _json(stored.status, stored.body, {REPLAYED: "true"})

    def _claim(self, session: Session, now: datetime) -> ApiReceipt | None:
        """Insert the receipt (status 0 until the work is done); the stored one if it exists.
        On PostgreSQL a second copy waits here for the first one's commit."""
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        won = session.execute(
            insert(_receipts)
            .values(
                caller=self.caller,
                key=self.key,
                route=self.route[:300],
                fingerprint=self.fingerprint,
                status=0,
                body="",
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["caller", "key"])
            .returning(_receipts.c.key)
        ).first()
        if won is not None:
            return None
        stored = session.scalars(
            select(ApiReceipt).where(ApiReceipt.caller == self.caller, ApiReceipt.key == self.key)
        ).one()
        session.expunge(stored)
        return stored


def _encode(result: BaseModel | dict[str, Any]) -> str:
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    return json.dumps(result, ensure_ascii=False, default=str)


def _json(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


_last_prune = 0.0


def prune(session: Session, now: datetime, keep: timedelta) -> int:
    """Drop receipts older than ``keep`` (at most once an hour per process)."""
    global _last_prune
    if time.monotonic() - _last_prune < PRUNE_EVERY_S:
        return 0
    _last_prune = time.monotonic()
    with session.begin():
        gone = session.execute(delete(ApiReceipt).where(ApiReceipt.created_at < now - keep)).rowcount
    if gone:
        log.info("pruned %d idempotency receipts older than %s", gone, keep)
    return int(gone or 0)


async def once(request: Request) -> Once:
    """The dependency: the key (if any), who sends it, and what exactly is sent."""
    key = request.headers.get(HEADER)
    if key is not None and not KEY.match(key):
        raise HTTPException(422, f"{HEADER} must be 1-64 letters, digits, '-', '_', '.' or ':'")
    caller = request.state.caller
    body = await request.body()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    settings = request.app.state.settings
    return Once(
        key=key,
        # A worker's phone may come with the session cookie or a phone token: the same person.
        caller=(f"worker:{caller.worker_id}" if caller.worker_id else caller.log_name) if caller else "",
        route=f"{request.method} {request.url.path}",
        fingerprint=digest.hexdigest(),
        keep=timedelta(days=settings.receipt_days),
    )


OnceDep = Annotated[Once, Depends(once)]
