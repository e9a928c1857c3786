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


def test_only_who_covers_every_grid_of_a_notice_may_close_it(world: World) -> None:
    """A street's 协查通报 (a missing child, every grid of 青山街道) is sent by a street operator.
    An operator of one community saw it (it touches their grids) and could close it: "closed"
    went to every worker of the street, the other communities' too, on the word of someone who
    could not have sent it; and they read every receipt and sighting, other communities' workers
    by name and where they were. Closing needs what sending needs (every grid of the notice, or
    being its sender); receipts and sightings shown are those of the caller's grids."""
    from tests.support.people import add_person
    from tests.support.world import PASSWORD

    client, headers = world.client, world.headers
    add_person(world.harness.sessions, "op-street", ["operator"], ["s-qingshan"], PASSWORD)
    signed = client.post("/api/v1/auth/sign-in", json={"username": "op-street", "password": PASSWORD})
    street = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    client.cookies.clear()
    sent = client.post("/api/v1/broadcasts", json=_notice(world, ["s-qingshan"]), headers=street)
    assert sent.status_code == 201, sent.text
    notice = sent.json()["id"]
    listed = client.get("/api/v1/broadcasts", headers=headers["operator"]).json()["items"]
    seen = next(b for b in listed if b["id"] == notice)  # the park's operator sees it: their grids get it
    park = {g.id for g in world.harness.ctx.site.grids if g.parent == "c-gongye"}
    assert seen["receipts"] and {r["grid_id"] for r in seen["receipts"]} <= park  # not Donghu's workers
    assert seen["recipients"] == len(sent.json()["receipts"]) > len(seen["receipts"])
    refused = client.post(
        f"/api/v1/broadcasts/{notice}/close", json={"note": "已找到"}, headers=headers["operator"]
    )
    assert refused.status_code == 403, refused.text
    still = client.get("/api/v1/broadcasts", headers=street).json()["items"]
    assert next(b for b in still if b["id"] == notice)["state"] != "closed"
    # the park's own notice stays theirs to close; the street's sender closes the street's
    own = client.post("/api/v1/broadcasts", json=_notice(world, ["c-gongye"]), headers=headers["operator"])
    assert (
        client.post(
            f"/api/v1/broadcasts/{own.json()['id']}/close", json={}, headers=headers["operator"]
        ).status_code
        == 200
    )
    assert client.post(f"/api/v1/broadcasts/{notice}/close", json={}, headers=street).status_code == 200
