"""The installer's commissioning check: has the device just put up reported, and if not, exactly why.

1. the installer starts the check (:func:`start`): what counts comes after this moment;
2. :func:`verdict` reads what the gateway made of the device's traffic since then, first what
   would make it wrong even if it talks, then whether it talked:
   - **outside_grid**: where the installer put it lies in another grid than the site files
     place it (or in none): its cases would go to the wrong grid worker;
   - **ok**: a valid message of the device (a camera: streaming, with its latest snapshot);
   - **wrong_topic** / **refused**: its messages reached the gateway but were dead-lettered —
     on a topic that is not its own (``unknown_source``, ``source_mismatch``, ``bad_topic``),
     or refused by the contract (the dead letter's reason and detail, word for word);
   - **credentials_refused**: nothing from it, but the broker refused a login since the check
     started that may be its own (or its node's): a wrong password, a revoked or never issued
     login (read from the broker's log: gateway/devices/broker_log.py);
   - **never_connected**: nothing at all within ``fleet.commissioning_timeout_s`` (its node
     offline, or online without a word from the device);
   - **waiting**: nothing yet, still within the time.

The driver (an HTTP route) owns the transaction; nothing here commits.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.site import Site
from gateway.context import GatewayContext
from gateway.devices import broker_log
from gateway.devices.logins import login_of
from gateway.devices.models import Device, DeviceKind, Lifecycle
from gateway.events.models import DeadLetter
from gateway.evidence.models import Evidence

log = logging.getLogger(__name__)

WRONG_TOPIC = {"unknown_source", "source_mismatch", "bad_topic"}


class CheckRefused(ValueError):
    """The check cannot run for this device (retired, planned); the route answers 409."""


class CheckView(BaseModel):
    device_id: str
    state: str  # not_started, waiting, ok, failed
    reason: str | None = None  # outside_grid, wrong_topic, refused, credentials_refused, never_connected
    detail: str = ""
    started_at: datetime | None = None
    deadline: datetime | None = None
    heard_at: datetime | None = None
    grid_id: str | None = None  # where the site files place it
    installed_grid_id: str | None = None  # where the installer put it
    dead_letter_id: int | None = None
    dead_letter_reason: str | None = None
    topic: str | None = None
    evidence_id: str | None = None  # a camera's latest snapshot (zones drawn by the node)


def start(session: Session, row: Device, installer: str, now: datetime) -> None:
    if row.status in (Lifecycle.RETIRED.value, Lifecycle.PLANNED.value):
        raise CheckRefused(f"{row.id} is {row.status} ({row.status_reason}): nothing to check yet")
    row.check_started_at = now
    row.updated_at = now
    log.info("commissioning check of %s started by %s", row.id, installer, extra={"device_id": row.id})


def verdict(session: Session, ctx: GatewayContext, row: Device, now: datetime) -> CheckView:
    started = row.check_started_at
    view = CheckView(
        device_id=row.id,
        state="not_started",
        started_at=started,
        grid_id=row.grid_id,
        installed_grid_id=row.installed_grid_id,
        heard_at=row.last_seen_at,
    )
    if started is None:
        return view
    timeout = timedelta(seconds=ctx.site.settings.fleet.commissioning_timeout_s)
    view.deadline = started + timeout
    misplaced = _misplaced(ctx, row)
    if misplaced:
        return view.model_copy(update={"state": "failed", "reason": "outside_grid", "detail": misplaced})
    heard = row.last_seen_at is not None and row.last_seen_at >= started
    if heard:
        view.state = "ok"  # heard_at says when (pages show it in the site's time)
        if row.kind == DeviceKind.CAMERA.value:
            view.evidence_id = session.scalar(
                select(Evidence.id)
                .where(Evidence.device_id == row.id, Evidence.received_at >= started)
                .order_by(Evidence.received_at.desc())
                .limit(1)
            )
        return view
    letter = _letter(session, row, started)
    if letter is not None:
        wrong = letter.reason in WRONG_TOPIC
        return view.model_copy(
            update={
                "state": "failed",
                "reason": "wrong_topic" if wrong else "refused",
                "detail": letter.detail,
                "dead_letter_id": letter.id,
                "dead_letter_reason": letter.reason,
                "topic": letter.topic,
            }
        )
    refused = _refused(session, ctx, row, started)
    if refused:
        return view.model_copy(update={"state": "failed", "reason": "credentials_refused", "detail": refused})
    if now < started + timeout:
        view.state = "waiting"
        return view
    return view.model_copy(
        update={"state": "failed", "reason": "never_connected", "detail": _silence(session, row, started)}
    )


def _misplaced(ctx: GatewayContext, row: Device) -> str:
    if row.installed_lon is None or row.installed_lat is None:
        return ""
    if row.installed_grid_id is None:
        return f"the position given for {row.id} lies outside every grid of the site"
    if row.grid_id is not None and row.installed_grid_id != row.grid_id:
        there = ctx.site.areas.get(row.installed_grid_id)
        meant = ctx.site.areas.get(row.grid_id)
        return (
            f"put up in grid {there.name if there else row.installed_grid_id}, but the site files place "
            f"{row.id} in grid {meant.name if meant else row.grid_id}"
        )
    return ""


def _letter(session: Session, row: Device, since: datetime) -> DeadLetter | None:
    """The latest dead letter since ``since`` from the device, or from its node about it."""
    sources = sorted({row.id, *([row.node_id] if row.node_id else [])})
    letters = session.scalars(
        select(DeadLetter)
        .where(DeadLetter.received_at >= since, DeadLetter.source.in_(sources))
        .order_by(DeadLetter.id.desc())
        .limit(50)
    )
    needle = row.id.encode()
    for letter in letters:
        if letter.source == row.id or f"/device/{row.id}" in letter.topic or needle in letter.payload:
            return letter
    return None


def logins_of(site: Site, row: Device) -> set[str]:
    """The broker logins the device's messages come through: its own (an edge node, a sensor that
    speaks GridWatch) or its node's (a camera, a zigbee2mqtt or Modbus sensor)."""
    try:
        login_of(site, row.id)
        return {row.id}
    except ValueError:
        return {row.node_id} if row.node_id else set()


def _refused(session: Session, ctx: GatewayContext, row: Device, since: datetime) -> str:
    """Why the broker may have kept the device out: logins it refused since the check started.

    Mosquitto 2.0 does not name a refused login (gateway/devices/broker_log.py): a refusal from
    an address where only this device's login was seen before is called its own; any other
    refusal counts for every device being checked then whose login is not working (online), with
    its address so the installer can tell.
    """
    logins = logins_of(ctx.site, row)
    if not logins:
        return ""
    rows = broker_log.since(session, since, logins)
    mine = [r for r in rows if r.login in logins or r.client_id in logins]
    # A login whose device is online now works: a refusal not named as its own is someone else's.
    working = any(
        d is not None and d.status == Lifecycle.ONLINE.value for d in (session.get(Device, x) for x in logins)
    )
    if not mine and (working or not rows):
        return ""
    login = sorted(logins)[0]
    if mine:
        addresses = ", ".join(sorted({r.address for r in mine if r.address})) or "an unknown address"
        return (
            f"the broker refused the login {login!r} {len(mine)} time(s) since the check started "
            f"(from {addresses}, where it logged in before): its password is not the one the broker "
            "has. Issue or rotate its credentials and load them onto it again"
        )
    addresses = ", ".join(sorted({r.address for r in rows if r.address})) or "an unknown address"
    return (
        f"the broker refused {len(rows)} login(s) from {addresses} since the check started and "
        f"nothing came from {row.id}. The broker does not say which login it refused; if it is this "
        f"device's, check that it logs in as {login!r} with the password it was given (issue or "
        "rotate its credentials and load them again)"
    )


def _silence(session: Session, row: Device, since: datetime) -> str:
    """Why nothing came, as far as the registry can tell (times are the view's, not in the words)."""
    del since
    if row.kind == DeviceKind.NODE.value:
        return (
            f"no message from node {row.id} since the check started: is it powered, on the site's "
            f"network, and logging in to the broker as {row.id!r}?"
        )
    node = session.get(Device, row.node_id) if row.node_id else None
    if node is not None and node.status == Lifecycle.ONLINE.value:
        return (
            f"its node {node.id} is online but has not heard from {row.id} since the check started: "
            "check the device's address or pairing in its node's configuration"
        )
    state = node.status if node is not None else "unknown"
    return f"no message about {row.id} since the check started; its node {row.node_id} is {state}"
