"""A resident's call-back number reaches the centre, not the grid's workers: the case (and its
events) that a worker of the grid may read carry no trace of it, the operator's copy names it."""

from __future__ import annotations

import uuid

from gateway.residents.models import ResidentReport
from gateway.residents.proof import solve
from tests.support.world import World

PHONE = "139 8765 4321"


def test_a_residents_phone_reaches_the_centre_not_the_grid_workers(world: World) -> None:
    h, client = world.harness, world.client
    where = h.ctx.site.areas[world.inside["grid"]].centroid  # the matrix worker's own grid
    report_id = str(uuid.uuid4())
    bits = client.get("/api/v1/public/site").json()["pow_bits"]
    body = {
        "id": report_id,
        "hazard_type": "illegal_workshop",
        "location": {"lon": where.lon, "lat": where.lat},
        "phone": PHONE,
        "proof": solve(bits, h.ctx.site.settings.site.id, report_id, int(h.clock.now().timestamp())),
    }
    sent = client.post("/api/v1/public/reports", json=body)
    assert sent.status_code == 201, sent.text
    with h.sessions() as s:
        case_id = s.get(ResidentReport, report_id).case_id
    base = f"/api/v1/cases/{case_id}"
    for path in (base, f"{base}/events", f"{base}/related", f"{base}/supervision"):
        seen = client.get(path, headers=world.headers["worker"])
        assert seen.status_code == 200, (path, seen.text)  # the worker may read the case ...
        assert "8765" not in seen.text, path  # ... but not the resident's number
    centre = client.get(base, headers=world.headers["operator"])  # (a department: once escalated)
    assert centre.status_code == 200, centre.text
    assert centre.json()["call_back"] == [PHONE]
