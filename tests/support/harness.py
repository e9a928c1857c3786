"""A pipeline on a fresh store with a controllable clock (no broker needed), and API tokens for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from contracts import Envelope, HazardEvent, encode, topics
from contracts.clock import ManualClock
from contracts.site import Site
from contracts.site.access import IssuedTokens, Role
from gateway.context import GatewayContext
from gateway.flows.ingest import Incoming, Outcome, Pipeline
from gateway.outbound.models import OutboundMessage
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory

# Wednesday 2026-11-18 10:00 in Shanghai: day-shift workers are on duty.
WEDNESDAY_10AM = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


@dataclass
class Harness:
    engine: Engine
    sessions: sessionmaker[Session]
    ctx: GatewayContext
    clock: ManualClock
    pipeline: Pipeline
    seq: int = 0

    def send(self, topic: str, message: Envelope | bytes) -> Outcome:
        payload = message if isinstance(message, bytes) else encode(message)
        return self.pipeline.process([Incoming(topic, payload)])[0]

    def event(self, device_id: str, **fields: object) -> HazardEvent:
        node_id, _ = self.ctx.site.device(device_id) or ("node-x", None)
        self.seq += 1
        base: dict[str, object] = dict(
            source=node_id,
            seq=self.seq,
            ts=self.clock.now(),
            hazard_type="smoke_alarm",
            severity="critical",
            confidence=0.9,
            state="new",
            episode_id=f"ep-{device_id}",
            device_id=device_id,
        )
        base.update(fields)
        return HazardEvent.model_validate(base)

    def raise_event(self, device_id: str, **fields: object) -> tuple[HazardEvent, Outcome]:
        event = self.event(device_id, **fields)
        return event, self.send(topics.node_event(event.source), event)

    def outbound(self, topic_prefix: str = "") -> list[OutboundMessage]:
        with self.sessions() as s:
            rows = s.scalars(select(OutboundMessage).order_by(OutboundMessage.id))
            return [r for r in rows if r.topic.startswith(topic_prefix)]


def open_harness(url: str, site: Site) -> Harness:
    """The gateway's pipeline on the store at ``url`` (migrated here if it is not yet), at
    Wednesday 10:00 on a manual clock. The caller disposes of ``engine``."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = ManualClock(WEDNESDAY_10AM)
    ctx = GatewayContext(site, "gateway-1", clock)
    return Harness(engine, sessions, ctx, clock, Pipeline(sessions, ctx))


OPERATORS = ("op-1", "op-li", "op-wang")


class ApiTokens(IssuedTokens):
    """A token for every worker of the demo site and a few operators, and the headers to use them."""

    def worker(self, worker_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(Role.WORKER, worker_id)}"}

    def operator(self, operator_id: str = "op-1") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(Role.OPERATOR, operator_id)}"}
