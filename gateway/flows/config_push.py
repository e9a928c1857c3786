"""The centre pushes a node's configuration: the node validates it, applies what it can without a
restart, and says in its health which version it runs (or why it refused one, keeping the last good).

1. the configuration is the node's site file as it is now (``nodes/<node>.yaml``, the truth:
   docs/devices.md), its version the first 16 hex digits of the SHA-256 of its canonical JSON;
2. a retained ``ConfigPush`` on ``node/<id>/config`` goes into the outbox in the caller's
   transaction (the gateway's drain publishes it; retained, so a node that is off gets it when
   it connects);
3. the registry keeps the pushed version (``devices.config_desired``, the fleet view's "desired");
   the node's ``EdgeHealth.config_version`` / ``config_error`` come back through the fleet flow
   into the registry (``devices.config_version``, ``health.config_error``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from contracts import ConfigPush, topics
from gateway.context import GatewayContext
from gateway.devices.models import Device
from gateway.outbound import service as outbound

log = logging.getLogger(__name__)


def version_of(node_config: dict[str, Any]) -> str:
    canonical = json.dumps(node_config, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def push_config(
    session: Session, ctx: GatewayContext, node_id: str, node_config: dict[str, Any], now: datetime
) -> ConfigPush:
    """Queue ``node_config`` for ``node_id`` (it is the node that validates it, and reports)."""
    push = ConfigPush(
        **ctx.envelope(session),  # type: ignore[arg-type]
        ts=now,
        node_id=node_id,
        config_version=version_of(node_config),
        node_config=node_config,
    )
    outbound.enqueue(session, topics.node_config(node_id), push, now, retain=True)
    row = session.get(Device, node_id)
    if row is not None:  # what the fleet view holds against what the node says it runs
        row.config_desired = push.config_version
        row.updated_at = now
    log.info("configuration %s pushed to %s", push.config_version, node_id, extra={"node_id": node_id})
    return push
