"""协查通报 over the HTTP API: a notice reaches exactly the workers of the chosen areas, each read
receipt comes back once, a sighting opens a case linked to the notice, closing ends it for all.

Expected recipients are computed here from the site (workers whose home grid lies under the
chosen area), not read from the product's answer.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.broadcasts.models import BroadcastRecipient, Sighting
from gateway.cases.models import Case, CaseTransition
from tests.support.harness import ApiTokens, Harness
from tests.support.photos import camera_jpeg


def _key() -> str:
    return str(uuid.uuid4())


def test_a_broadcast_reaches_its_areas_workers_who_read_it_and_answer_with_a_sighting(
    harness: Harness, api: TestClient, api_tokens: ApiTokens
) -> None:
    site = harness.ctx.site
    gongye = {g.id for g in site.grids if g.parent == "c-gongye"}
    expected = sorted(w.id for w in site.workers.values() if w.home_grid in gongye)
    assert len(expected) >= 2

    photo_id = _key()
    up = api.put(
        f"/api/v1/broadcasts/photos/{photo_id}",
        content=camera_jpeg((800, 600)),
        headers={"Content-Type": "image/jpeg"},
    )
    assert up.status_code == 201, up.text
    not_a_photo = api.put(
        f"/api/v1/broadcasts/photos/{_key()}", content=b"%PDF-1.4 ...", headers={"Content-Type": "image/jpeg"}
    )
    assert not_a_photo.status_code == 415
    expires = harness.clock.now() + timedelta(hours=12)
    body = {
        "id": _key(),
        "title": "协查：寻找走失老人",
        "body": "男，75岁，灰色外套，<b>不是标记</b>",
        "areas": ["c-gongye"],
        "photo_ids": [photo_id],
        "expires_at": expires.isoformat(),
    }
    sent = api.post("/api/v1/broadcasts", json=body)
    assert sent.status_code == 201, sent.text
    b = sent.json()
    assert sorted(r["worker_id"] for r in b["receipts"]) == expected
    assert b["recipients"] == len(expected) and b["read"] == 0 and b["state"] == "open"
    assert api.post("/api/v1/broadcasts", json=body).status_code == 409  # the same id again
    past = {**body, "id": _key(), "expires_at": (harness.clock.now() - timedelta(minutes=1)).isoformat()}
    assert api.post("/api/v1/broadcasts", json=past).status_code == 422

    ma, donghu = api_tokens.worker("w-ma-li"), api_tokens.worker("w-li-na")
    mine = api.get("/api/v1/broadcasts", headers=ma).json()["items"]
    assert [x["id"] for x in mine] == [b["id"]] and mine[0]["receipts"] == []  # no one else's receipts
    assert api.get("/api/v1/broadcasts", headers=donghu).json()["items"] == []  # not sent to Donghu
    photo = api.get(b["photos"][0], headers=ma)
    assert photo.status_code == 200 and photo.content.startswith(b"\xff\xd8")
    assert api.get(b["photos"][0], headers=donghu).status_code == 403

    harness.clock.advance(60)
    first = api.post(f"/api/v1/broadcasts/{b['id']}/read", json={}, headers=ma)
    assert first.status_code == 200 and first.json()["read_at"] is not None
    harness.clock.advance(60)
    again = api.post(f"/api/v1/broadcasts/{b['id']}/read", json={}, headers=ma)
    assert again.json()["read_at"] == first.json()["read_at"]  # the first reading counts
    assert api.post(f"/api/v1/broadcasts/{b['id']}/read", json={}, headers=donghu).status_code == 403
    seen_by_sender = api.get("/api/v1/broadcasts").json()["items"][0]
    assert seen_by_sender["read"] == 1
    assert [r["worker_id"] for r in seen_by_sender["receipts"] if r["read_at"]] == ["w-ma-li"]

    where = site.areas["g-gongye-02"].centroid
    stale = {"id": _key(), "location": {"lon": 114.3, "lat": 30.6}, "note": "在菜场门口"}  # a stale fix
    r = api.post(f"/api/v1/broadcasts/{b['id']}/sightings", json=stale, headers=ma)
    assert r.status_code == 422 and "outside every grid" in r.json()["detail"], r.text
    sighting = {"id": _key(), "location": {"lon": where.lon, "lat": where.lat}, "note": "在菜场门口"}
    r = api.post(
        f"/api/v1/broadcasts/{b['id']}/sightings",
        json=sighting,
        headers={**ma, "Idempotency-Key": sighting["id"]},
    )
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["grid_id"] == "g-gongye-02"
    with harness.sessions() as s:
        case = s.get(Case, answer["case_id"])
        assert case.hazard_type == "sighting" and case.grid_id == "g-gongye-02"
        assert case.title.startswith("协查线索")  # its title says what it is
        link = s.get(Sighting, sighting["id"])
        assert link.broadcast_id == b["id"] and link.case_id == case.id and link.worker_id == "w-ma-li"
        trail = [t.reason for t in s.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id))]
        assert any(b["id"] in reason and "寻找走失老人" in reason for reason in trail)
    replay = api.post(
        f"/api/v1/broadcasts/{b['id']}/sightings",
        json=sighting,
        headers={**ma, "Idempotency-Key": sighting["id"]},
    )
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert api.get("/api/v1/broadcasts").json()["items"][0]["sightings"][0]["case_id"] == case.id

    closed = api.post(f"/api/v1/broadcasts/{b['id']}/close", json={"note": "已找到，谢谢各位"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert api.post(f"/api/v1/broadcasts/{b['id']}/close", json={}).status_code == 409
    late = {**sighting, "id": _key()}
    assert api.post(f"/api/v1/broadcasts/{b['id']}/sightings", json=late, headers=ma).status_code == 409
    mine = api.get("/api/v1/broadcasts", headers=ma).json()["items"][0]
    assert mine["state"] == "closed" and mine["close_note"] == "已找到，谢谢各位"
    with harness.sessions() as s:
        assert s.scalar(select(BroadcastRecipient).where(BroadcastRecipient.read_at.is_(None))) is not None


def test_the_communities_group_robots_hear_of_a_broadcast_and_of_its_end(harness: Harness, site_copy) -> None:  # type: ignore[no-untyped-def]
    from contracts.site import load_site
    from gateway.broadcasts.models import Broadcast
    from gateway.context import GatewayContext
    from gateway.flows.broadcasts import Notice, close_broadcast, send_broadcast
    from gateway.notify.models import Delivery
    from tests.support.sites.files import edit_yaml

    hook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=park"
    edit_yaml(
        site_copy,
        "escalation.yaml",
        lambda d: d["communities"]["c-gongye"].update(webhooks=[{"url": hook, "format": "wecom"}]),
    )
    ctx = GatewayContext(load_site(site_copy), "gateway-1", harness.clock)
    now = harness.clock.now()
    link = "https://gw.example/ui/worker/#broadcasts"
    notice = Notice(
        _key(), "协查：寻找走失老人", "灰色外套", ["g-gongye-02", "g-donghu-01"], [], now + timedelta(hours=2)
    )
    with harness.sessions() as s, s.begin():
        send_broadcast(s, ctx, notice, "op-1", "张伟", now, link)
    with harness.sessions() as s, s.begin():
        close_broadcast(s, ctx, s.get(Broadcast, notice.id), "op-1", "已找到", now, link)
    with harness.sessions() as s:
        sent = list(s.scalars(select(Delivery).order_by(Delivery.id)))
    # Donghu's community has no robot; the park's hears both, in its own format, with the link
    assert [(d.event, d.target, d.format) for d in sent] == [
        ("broadcast", hook, "wecom"),
        ("broadcast_closed", hook, "wecom"),
    ]
    assert "寻找走失老人" in sent[0].body and link in sent[0].body and "已找到" in sent[1].body
