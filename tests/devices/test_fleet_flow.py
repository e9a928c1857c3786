"""What devices say of themselves reaches the registry; a maintenance trouble that clears closes its case."""

from __future__ import annotations

from sqlalchemy import select

from contracts import DeviceStatus, EdgeHealth, topics
from contracts.devices import CameraHealth
from gateway.cases.models import Case
from gateway.devices.models import Device
from gateway.devices.registry import sync_from_site
from gateway.flows.fleet import open_offline_cases
from tests.support.harness import Harness

CAMERA = "cam-factory-a"
NODE = "node-gongye-1"


def _row(h: Harness, ident: str) -> Device:
    with h.sessions() as s:
        row = s.get(Device, ident)
        assert row is not None
        return row


def test_statuses_health_and_a_cleared_trouble(harness: Harness) -> None:
    h = harness
    with h.sessions() as s, s.begin():
        sync_from_site(s, h.ctx.site, h.ctx.grids, h.clock.now())
    assert _row(h, CAMERA).status == "provisioned"

    def health(state: str, error: str = "") -> EdgeHealth:
        h.seq += 1
        camera = CameraHealth(
            camera_id=CAMERA,
            state=state,  # type: ignore[arg-type]
            frames_in=10,
            frames_analysed=5,
            frames_dropped=0,
            decode_ms=1.0,
            inference_ms=2.0,
            queue_depth=0,
            error=error,
        )
        return EdgeHealth(source=NODE, seq=h.seq, ts=h.clock.now(), uptime_s=5, cameras=[camera])

    h.send(topics.node_health(NODE), health("streaming"))
    row = _row(h, CAMERA)
    assert (row.status, row.health["state"]) == ("online", "streaming")
    assert row.commissioned_at == h.clock.now() and row.last_seen_at == h.clock.now()
    assert (_row(h, NODE).status, _row(h, NODE).status_reason) == ("online", "heard from")  # a node speaking
    h.clock.advance(5)
    h.send(topics.node_health(NODE), health("offline", "rtsp: connection refused"))
    row = _row(h, CAMERA)
    assert (row.status, row.status_reason) == ("offline", "rtsp: connection refused")
    assert row.status_since == h.clock.now()

    h.seq += 1
    sensor = "smk-factory-a1"
    status = DeviceStatus(source=NODE, seq=h.seq, ts=h.clock.now(), device_id=sensor, state="offline")  # type: ignore[arg-type]
    h.send(topics.node_device_status(NODE, sensor), status)
    assert _row(h, sensor).status == "offline"

    # the edge's own maintenance event opens a case; its clear closes it (nobody needs to go)
    h.raise_event(CAMERA, hazard_type="camera_offline", severity="major", episode_id="ep-off")
    assert _row(h, CAMERA).status == "offline"
    h.clock.advance(30)
    h.raise_event(CAMERA, hazard_type="camera_offline", severity="major", episode_id="ep-off", state="clear")
    with h.sessions() as s:
        [case] = s.scalars(select(Case).where(Case.device_id == CAMERA))
    assert (case.status, case.category) == ("closed", "maintenance")
    assert _row(h, CAMERA).status == "online"


def test_a_node_silent_past_the_offline_time_gets_its_case_and_speaking_again_closes_it(
    harness: Harness,
) -> None:
    h = harness
    with h.sessions() as s, s.begin():
        sync_from_site(s, h.ctx.site, h.ctx.grids, h.clock.now())
    h.seq += 1
    h.send(topics.node_health(NODE), EdgeHealth(source=NODE, seq=h.seq, ts=h.clock.now(), uptime_s=1))
    heard = h.clock.now()
    assert _row(h, NODE).status == "online"
    after = h.ctx.site.settings.fleet.node_offline_after_s
    h.clock.advance(after - 1)
    with h.sessions() as s, s.begin():
        assert open_offline_cases(s, h.ctx, h.clock.now()) == []
    assert _row(h, NODE).status == "online"
    h.clock.advance(2)
    with h.sessions() as s, s.begin():
        [case] = open_offline_cases(s, h.ctx, h.clock.now())
        case_id = case.id
    row = _row(h, NODE)
    assert (row.status, row.status_since) == ("offline", heard)
    assert row.status_reason == f"silent since {heard.isoformat()}"
    h.clock.advance(5)
    h.seq += 1
    h.send(topics.node_health(NODE), EdgeHealth(source=NODE, seq=h.seq, ts=h.clock.now(), uptime_s=400))
    with h.sessions() as s:
        assert s.get(Case, case_id).status == "closed"  # type: ignore[union-attr]
    assert _row(h, NODE).status == "online"
