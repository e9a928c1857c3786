"""The console's fleet view (设备) in headless Chromium against the API served for real: counts per
status, pages of fifty, filters and search against the API's own answer, configuration pushed vs
applied with a refused push's error, a device's maintenance case opened from its row; and, all
real, an edge node process killed on a real Mosquitto shows offline with its maintenance case and
comes back online."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import yaml
from playwright.sync_api import Page, expect
from sqlalchemy import select

from contracts.site import Site
from contracts.site.models import EdgeNodeConfig
from gateway.cases.models import Case
from gateway.devices.models import Device
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.clock import SteppedClock, site_time
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE
from tests.support.processes.edge_node import edge_node
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until
from tests.support.web.console import api_get, open_console
from tests.support.web.screenshots import keep

BULK = 120  # more than two pages of fifty
NODE = "node-gongye-1"


def fleet_rows(page: Page) -> list[str]:
    return page.locator("#fleet-table tbody tr.device").evaluate_all(
        "rows => rows.map(r => r.dataset.deviceId)"
    )


def open_fleet(page: Page) -> None:
    page.locator("#tab-fleet").click()
    expect(page.locator("#fleet-table tbody tr.device").first).to_be_visible()


def keep_screenshot(page: Page, tmp_path: Path, name: str) -> None:
    """docs/screenshots/ keeps the ones we show (GRIDWATCH_UPDATE_SCREENSHOTS=1), in 256 colours."""
    shot = tmp_path / name
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 30_000  # a screen full of rows, not a blank page
    keep(shot.read_bytes(), name)


def test_the_fleet_counts_pages_filters_and_opens_a_maintenance_case(
    harness: Harness, serve_api, new_page, console_operator, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    now = harness.clock.now()
    harness.raise_event("cam-factory-a", hazard_type="camera_offline", severity="minor")
    with harness.sessions() as s:
        case_id = s.scalars(select(Case.id).where(Case.device_id == "cam-factory-a")).one()
    base = serve_api(str(harness.engine.url), clock=harness.clock)  # its start fills the registry
    with harness.sessions.begin() as s:
        node = s.get(Device, NODE)
        assert node is not None
        node.status, node.last_seen_at, node.software = "online", now - timedelta(seconds=20), "0.9.3"
        node.config_version, node.config_desired = "5f1c0a9e7d3b2c10", "a81e44b0c2d9f377"
        node.health = {"uptime_s": 86400, "warnings": [], "config_error": "node.location: Field required"}
        other = s.get(Device, "node-donghu-1")
        assert other is not None
        other.status, other.last_seen_at, other.software = "online", now - timedelta(minutes=2), "0.9.3"
        camera = s.get(Device, "cam-factory-a")
        assert camera is not None
        camera.status, camera.status_reason = "offline", "rtsp: connection timed out"
        camera.last_seen_at = now - timedelta(hours=3)
        camera.health = {"state": "offline", "error": "rtsp: connection timed out"}
        for i in range(BULK):
            grid = ("g-gongye-01", "g-donghu-02", "g-qingshan-01")[i % 3]
            s.add(
                Device(
                    id=f"smk-bulk-{i:03d}",
                    kind="sensor",
                    node_id="node-donghu-1",
                    type="smoke",
                    name=f"出租屋烟感 {i:03d}",
                    serial=f"SN-BULK-{i:04d}",
                    model="JTY-GD-01",
                    grid_id=grid,
                    status="online",
                    status_reason="",
                    status_since=now - timedelta(days=3),
                    last_seen_at=now - timedelta(seconds=30 + i),
                    software="",
                    health={"state": "ok", "error": ""},
                    updated_at=now,
                )
            )
    truth = api_get(base, "/api/v1/fleet", {"limit": 1})
    page = open_console(new_page, base)
    open_fleet(page)

    # counts per status at the top, as the API counts them; fifty rows a page, by id
    for status, n in truth["counts"].items():
        expect(page.locator(f'[data-fleet-count="{status}"] .n')).to_have_text(str(n))
    expect(page.locator('[data-fleet-count="all"] .n')).to_have_text(str(truth["total"]))
    expect(page.locator('[data-fleet-count="problems"] .n')).to_have_text(str(truth["problems"]))
    first = api_get(base, "/api/v1/fleet", {"limit": 50})
    assert fleet_rows(page) == [d["id"] for d in first["items"]]
    expect(page.locator("#fleet-page-info")).to_have_text(f"第 1–50 条，共 {truth['total']} 条")
    node_row = page.locator(f'#fleet-table tr[data-device-id="{NODE}"]')
    expect(node_row).to_contain_text("在线")
    expect(node_row).to_contain_text("刚刚")  # 20 s ago on the API's clock
    expect(node_row.locator(".config")).to_contain_text("5f1c0a9e7d3b2c10")  # what it runs
    expect(node_row.locator(".config")).to_contain_text("下发的 a81e44b0c2d9f377 被拒绝")  # what was pushed
    expect(node_row.locator(".health")).to_contain_text("配置下发失败：node.location: Field required")
    expect(page.locator('#fleet-table tr[data-device-id="node-donghu-1"] .ago')).to_have_text("2 分钟前")
    keep_screenshot(page, tmp_path, "console-fleet.png")
    page.locator("#fleet-next").click()
    expect(page.locator("#fleet-page-info")).to_have_text(f"第 51–100 条，共 {truth['total']} 条")
    second = api_get(base, "/api/v1/fleet", {"limit": 50, "offset": 50})
    assert fleet_rows(page) == [d["id"] for d in second["items"]]

    # problems only: the node whose push was refused and the offline camera with its case
    page.locator('[data-fleet-count="problems"]').click()
    expect(page.locator("#fl-problems")).to_be_checked()
    problems = api_get(base, "/api/v1/fleet", {"problems": "true"})
    expect(page.locator("#fleet-table tbody tr.device")).to_have_count(problems["total"])
    assert set(fleet_rows(page)) == {d["id"] for d in problems["items"]} >= {NODE, "cam-factory-a"}
    cam_row = page.locator('#fleet-table tr[data-device-id="cam-factory-a"]')
    expect(cam_row).to_contain_text("离线")
    expect(cam_row.locator(".health")).to_contain_text("离线：rtsp: connection timed out")
    expect(cam_row.locator(".ago")).to_have_text("3 小时前")
    link = cam_row.locator(f'a.case-link[data-case-id="{case_id}"]')
    expect(link).to_contain_text("摄像头离线")
    keep_screenshot(page, tmp_path, "console-fleet-problems.png")
    link.click()
    expect(page.locator("#detail")).to_have_attribute("data-case-id", case_id)
    page.keyboard.press("Escape")

    # search by serial; an area; a kind — each the API's answer
    page.locator('[data-fleet-count="all"]').click()
    page.fill("#fl-q", "SN-BULK-0007")
    expect(page.locator("#fleet-table tbody tr.device")).to_have_count(1)
    assert fleet_rows(page) == ["smk-bulk-007"]
    page.fill("#fl-q", "")
    page.select_option("#fl-area", "c-donghu")
    page.select_option("#fl-kind", "sensor")
    donghu = api_get(base, "/api/v1/fleet", {"area": "c-donghu", "kind": "sensor", "limit": 50})
    expect(page.locator("#fleet-page-info")).to_contain_text(f"共 {donghu['total']} 条")
    assert fleet_rows(page) == [d["id"] for d in donghu["items"]]
    assert {d["kind"] for d in donghu["items"]} == {"sensor"}
    assert page.errors == []  # type: ignore[attr-defined]

    # English, for the other half of the catalogue
    page.locator("#lang button").click()
    expect(page.locator("#tab-fleet")).to_have_text("Devices")
    expect(page.locator('[data-fleet-count="problems"] .k')).to_have_text("With problems")


def test_an_edge_node_killed_shows_offline_with_its_case_and_comes_back_online(
    mosquitto: Mosquitto,
    db_url: str,
    demo_site: Site,
    serve_api,
    new_page,
    console_operator,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    # The node alone (as tests/devices/test_fleet_health.py): its status, last will and health.
    config = tmp_path / f"{NODE}.yaml"
    config.write_text(yaml.safe_dump(EdgeNodeConfig(node=demo_site.nodes[NODE].node).model_dump(mode="json")))
    after = demo_site.settings.fleet.node_offline_after_s
    clock = SteppedClock(site_time(10))
    sessions = session_factory(make_engine(db_url))

    def status() -> str:
        with sessions() as s:
            row = s.get(Device, NODE)
            return row.status if row else ""

    def cases() -> list[Case]:
        with sessions() as s:
            return list(s.scalars(select(Case).where(Case.device_id == NODE)))

    with running_gateway(mosquitto, db_url, DEMO_SITE, clock=clock, timer_interval_s=0.1):
        with edge_node(config, mosquitto, tmp_path / "edge") as proc:
            wait_until(lambda: status() == "online", timeout=20, what="the node online in the registry")
            page = open_console(new_page, serve_api(db_url, clock=clock))
            open_fleet(page)
            row = page.locator(f'#fleet-table tr[data-device-id="{NODE}"]')
            expect(row).to_have_attribute("data-status", "online")
            page.locator("#fl-problems").check()
            expect(row).to_have_count(0)  # nothing wrong with it
            proc.send_signal(signal.SIGKILL)  # a power cut: the broker publishes its last will
            proc.wait(timeout=10)
            # offline on the page by itself (the view asks again while it is shown)
            expect(row).to_have_attribute("data-status", "offline", timeout=20_000)
            expect(row.locator(".health")).to_contain_text("connection lost (last will)")
            expect(row.locator("a.case-link")).to_have_count(0)  # not yet: offline for less than the limit

        clock.advance(after + 5)
        [case] = wait_until(cases, timeout=10, what="a maintenance case for the offline node")
        link = row.locator(f'a.case-link[data-case-id="{case.id}"]')
        expect(link).to_contain_text("设备离线", timeout=15_000)  # its case, from the live feed

        with edge_node(config, mosquitto, tmp_path / "edge"):
            wait_until(lambda: cases()[0].status == "closed", timeout=20, what="the case closed by itself")
            expect(row).to_have_count(0, timeout=20_000)  # no longer a problem: gone from the list
            page.locator("#fl-problems").uncheck()
            expect(row).to_have_attribute("data-status", "online")
            expect(row.locator("a.case-link")).to_have_count(0)
            expect(row.locator(".health")).to_contain_text("正常")
    # The clock moved past the access cookie's life: the page's next request met a 401 and renewed
    # it (api.js, once); Chromium logs that 401. Anything else is an error of the page.
    expired = "the server responded with a status of 401"
    assert [e for e in page.errors if expired not in e] == []  # type: ignore[attr-defined]
