"""The device registry: filled from the site files, serials from a CSV, positions from the installer."""

from __future__ import annotations

import dataclasses

import yaml
from sqlalchemy import select

from contracts.geo import GeoPoint
from contracts.site import Site
from gateway.devices import registry
from gateway.devices.models import Device
from gateway.people.models import Role
from tests.support.desk import PARK, Desk

# A point in the industrial park (a grid of c-gongye in the demo site's grids.geojson).
IN_PARK = (120.3045, 31.5055)


def _expected(site: Site) -> dict[str, str | None]:
    """device id -> the grid its configured position lies in (computed here with shapely)."""
    out: dict[str, str | None] = {}
    for node_id, node in site.nodes.items():
        grid = site.grid_containing(node.node.location)
        out[node_id] = grid.id if grid else None
        for d in (*node.cameras, *node.sensors):
            grid = site.grid_containing(d.location)
            out[d.id] = grid.id if grid else None
    return out


def test_the_registry_follows_the_site_files_and_takes_serials_from_a_csv(desk: Desk) -> None:
    h = desk.harness
    site = h.ctx.site
    with h.sessions() as s:
        rows = {d.id: d for d in s.scalars(select(Device))}
    expected = _expected(site)
    assert {i: r.grid_id for i, r in rows.items()} == expected
    assert {r.status for r in rows.values()} == {"provisioned"}
    assert rows["smk-factory-a1"].node_id == "node-gongye-1" and rows["node-gongye-1"].kind == "node"

    admin = desk.sign_in("ad-min", (Role.ADMIN,), ("d-binhu",))
    csv_text = (
        "serial,device_id,model\n"
        "SN-0001,smk-factory-a1,JTY-GD-H361\n"
        "SN-0002,smk-new-9,JTY-GD-H361\n"
        "SN-0001,cam-factory-a,DS-2CD\n"  # the same serial again: refused
        "bad serial!,cam-factory-a,DS-2CD\n"
    )
    sent = desk.client.post(
        "/api/v1/registry/import", content=csv_text, headers={**admin, "Content-Type": "text/csv"}
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["bound"] == ["smk-factory-a1"] and body["planned"] == ["smk-new-9"]
    assert [p.split(":")[0] for p in body["problems"]] == ["line 4", "line 5"]
    assert "already belongs to smk-factory-a1" in body["problems"][0]
    again = desk.client.post(
        "/api/v1/registry/import", content=csv_text, headers={**admin, "Content-Type": "text/csv"}
    )
    assert again.json()["unchanged"] == ["smk-factory-a1", "smk-new-9"]
    found = desk.client.get("/api/v1/registry", params={"serial": "SN-0001"}, headers=admin).json()
    assert [d["id"] for d in found] == ["smk-factory-a1"] and found[0]["model"] == "JTY-GD-H361"

    # A device taken out of the site files is retired; the planned one stays planned.
    node = site.nodes["node-donghu-1"]
    smaller = dataclasses.replace(site, nodes={k: v for k, v in site.nodes.items() if k != "node-donghu-1"})
    with h.sessions() as s, s.begin():
        report = registry.sync_from_site(s, smaller, h.ctx.grids, h.clock.now())
    gone = {"node-donghu-1", *(d.id for d in (*node.cameras, *node.sensors))}
    assert set(report.retired) == gone and report.added == []
    with h.sessions() as s:
        assert s.get(Device, "smk-new-9").status == "planned"  # type: ignore[union-attr]
        assert {s.get(Device, i).status for i in gone} == {"retired"}  # type: ignore[union-attr]


def test_an_installer_puts_up_devices_of_their_area_only(desk: Desk) -> None:
    h = desk.harness
    installer = desk.sign_in("inst-park", (Role.INSTALLER,), (PARK,))
    listed = desk.client.get("/api/v1/registry", headers=installer).json()
    expected = _expected(h.ctx.site)
    park = {i for i, g in expected.items() if g and g.startswith("g-gongye")}
    assert {d["id"] for d in listed} == park

    put = desk.client.post(
        "/api/v1/registry/smk-factory-a1/install",
        json={"serial": "SN-77", "lon": IN_PARK[0], "lat": IN_PARK[1], "model": "JTY"},
        headers=installer,
    )
    assert put.status_code == 200, put.text
    row = put.json()
    assert row["serial"] == "SN-77" and row["installer"] == "inst-park"
    here = h.ctx.site.grid_containing(GeoPoint(lon=IN_PARK[0], lat=IN_PARK[1]))
    assert here is not None and row["installed_grid_id"] == here.id

    # the serial is taken; another area's device; an unknown one
    taken = desk.client.post(
        "/api/v1/registry/cam-factory-a/install",
        json={"serial": "SN-77", "lon": IN_PARK[0], "lat": IN_PARK[1]},
        headers=installer,
    )
    assert taken.status_code == 409 and "belongs to smk-factory-a1" in taken.json()["detail"]
    away = desk.client.post(
        "/api/v1/registry/smk-rental-12/install",
        json={"serial": "SN-78", "lon": IN_PARK[0], "lat": IN_PARK[1]},
        headers=installer,
    )
    assert away.status_code == 403

    config = desk.client.get("/api/v1/registry/smk-factory-a1/config", headers=installer)
    assert config.status_code == 200 and config.headers["content-type"].startswith("application/yaml")
    doc = yaml.safe_load(config.text)
    assert doc["node"]["id"] == "node-gongye-1"
    assert "smk-factory-a1" in [s["id"] for s in doc["sensors"]]
    assert "GRIDWATCH_EDGE_UPLINK__USERNAME=node-gongye-1" in config.text
