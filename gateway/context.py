"""What every gateway service needs to know: the site, its grid index, the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from contracts import topics
from contracts.clock import Clock, SystemClock
from contracts.site import Site
from gateway.grids.index import GridIndex
from gateway.outbound import service as outbound
from gateway.workers.roster import WorkerRoster


@dataclass
class GatewayContext:
    site: Site
    gateway_id: str = "gateway-1"
    clock: Clock = field(default_factory=SystemClock)
    grids: GridIndex = field(init=False)
    roster: WorkerRoster = field(init=False)

    def __post_init__(self) -> None:
        self.grids = GridIndex(self.site.grids)
        self.roster = WorkerRoster(self.site.workers.values(), self.grids)

    def now(self) -> datetime:
        return self.clock.now()

    def envelope(self, session: Session) -> dict[str, object]:
        """Source and next sequence number for a message this gateway publishes."""
        return {"source": self.gateway_id, "seq": outbound.next_seq(session, self.gateway_id)}

    @property
    def notice_topic(self) -> str:
        return topics.centre_notice(self.gateway_id)
