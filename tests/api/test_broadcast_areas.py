"""Who may send a 协查通报 where: an operator or a department liaison to the grids of their own
areas only (a street that reaches beyond them is refused whole); a sender sees the receipts of
what they sent, a worker only their own notices."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.support.world import World


def _notice(world: World, areas: list[str]) -> dict[str, object]:
    expires = world.harness.clock.now() + timedelta(hours=6)
    return {"id": str(uuid.uuid4()), "title": "协查", "areas": areas, "expires_at": expires.isoformat()}


def test_a_notice_goes_only_to_grids_inside_the_senders_areas(world: World) -> None:
    client, headers = world.client, world.headers
    site = world.harness.ctx.site
    park = {g.id for g in site.grids if g.parent == "c-gongye"}
    for role in ("operator", "department"):
        sent = client.post("/api/v1/broadcasts", json=_notice(world, ["c-gongye"]), headers=headers[role])
        assert sent.status_code == 201, sent.text
        assert {r["grid_id"] for r in sent.json()["receipts"]} <= park
        for areas in (["c-donghu"], ["s-qingshan"], ["g-gongye-01", "g-donghu-01"]):
            refused = client.post("/api/v1/broadcasts", json=_notice(world, areas), headers=headers[role])
            assert refused.status_code == 403, (role, areas, refused.text)
    mine = client.get("/api/v1/broadcasts", headers=headers["worker"]).json()["items"]
    assert len(mine) == 2 and all(b["receipts"] == [] for b in mine)
    assert (
        client.post(
            "/api/v1/broadcasts", json=_notice(world, ["c-gongye"]), headers=headers["worker"]
        ).status_code
        == 403
    )
    listed = client.get("/api/v1/broadcasts", headers=headers["operator"]).json()["items"]
    assert len(listed) == 2 and all(b["receipts"] for b in listed)
