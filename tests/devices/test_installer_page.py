"""The installer's page in Debian's Chromium as an Android phone: serial, position, configuration,
and the commissioning check — success when the simulator publishes, and each failure it can name,
produced for real (a real Mosquitto, the gateway, dead letters made by the gateway itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from sqlalchemy import select

from contracts import encode, topics
from contracts.devices import SensorReading
from contracts.hazards import Measurement
from contracts.site import Site
from edge.simulator import Broker, sensor_alarm
from gateway.devices.models import Device
from gateway.people.models import Role
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.conftest import DEMO_SITE, REPO
from tests.devices.conftest import SteppedClock
from tests.helpers import publisher, running_gateway, site_time
from tests.people import add_person
from tests.web.conftest import CHROMIUM_FLAGS, chromium_path, serve_api  # noqa: F401

INSTALLER = ("inst-park", "park-ladder-1")
SHOTS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> Iterator[tuple[Playwright, Browser]]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield pw, browser
        browser.close()


def _commission(
    page: Page, serial: str, device_id: str, lon: float, lat: float, *, phone: bool = False
) -> None:
    """What the installer does on the ladder: the serial, which device, where, then the check."""
    page.goto("/ui/installer/#install")
    page.fill("#serial", serial)
    page.tap("#find button[type=submit]")
    page.select_option("#bind", device_id)
    expect(page.locator("#device .dev-id")).to_have_text(device_id)
    if phone:
        page.tap("#use-here")
        expect(page.locator("#lon")).to_have_value(f"{lon:.6f}")
    else:
        page.fill("#lon", str(lon))
        page.fill("#lat", str(lat))
    page.tap("#install")
    expect(page.locator("#installed-where")).to_have_text(f"{lon:.6f}, {lat:.6f}")
    page.tap("#check")


def _shoot(page: Page, name: str) -> None:
    """The phone's screen at the check's answer (the toasts gone, as a moment later)."""
    page.evaluate("document.getElementById('toasts')?.remove()")
    page.evaluate("document.getElementById('check-result').scrollIntoView({block: 'center'})")
    page.screenshot(path=str(SHOTS / name))


def _result(page: Page, state: str, reason: str = "") -> None:
    box = page.locator("#check-result .m-msg")
    expect(box).to_have_attribute("data-state", state, timeout=15_000)
    expect(box).to_have_attribute("data-reason", reason)


def test_commissioning_on_the_phone_succeeds_or_says_exactly_why_not(
    chromium: tuple[Playwright, Browser],
    mosquitto: Mosquitto,
    sqlite_url: str,
    demo_site: Site,
    serve_api,  # noqa: F811
    tmp_path: Path,
) -> None:
    pw, browser = chromium
    clock = SteppedClock(site_time(10))
    site = demo_site
    where = {
        d: site.device(d)[1].location
        for d in ("smk-factory-a1", "gas-workshop-b1", "smk-gongye-dorm-3", "cam-workshop-b")
    }  # type: ignore[index]
    with running_gateway(mosquitto, sqlite_url, DEMO_SITE, clock=clock):
        base = serve_api(sqlite_url, clock=clock)
        sessions = session_factory(make_engine(sqlite_url))
        add_person(sessions, INSTALLER[0], [Role.INSTALLER], ["c-gongye"], INSTALLER[1], name="李师傅")
        device = {k: v for k, v in pw.devices["Pixel 7"].items() if k != "default_browser_type"}
        here = where["smk-factory-a1"]
        context = browser.new_context(
            **device,
            locale="zh-CN",
            base_url=base,
            permissions=["geolocation"],
            geolocation={"longitude": here.lon, "latitude": here.lat, "accuracy": 6},
            accept_downloads=True,
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/ui/installer/")
        page.wait_for_url("**/ui/signin.html**")
        page.fill("#username", INSTALLER[0])
        page.fill("#password", INSTALLER[1])
        page.tap("#signin-submit")
        page.wait_for_url("**/ui/installer/**")

        # 1. success: the phone's position, the configuration downloaded, the simulator's node reports
        _commission(page, "SN-SMK-0001", "smk-factory-a1", round(here.lon, 6), round(here.lat, 6), phone=True)
        _result(page, "waiting")
        with page.expect_download() as download:
            page.tap("#download")
        config = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))
        assert config["node"]["id"] == "node-gongye-1"
        sensor_alarm(site, "smk-factory-a1", Broker(mosquitto.host, mosquitto.port), tmp_path, clock=clock)
        _result(page, "ok")
        expect(page.locator("#device-status")).to_have_text("已调试")
        _shoot(page, "installer-success.png")
        with sessions() as s:
            row = s.get(Device, "smk-factory-a1")
            assert row is not None and (row.serial, row.installer, row.status) == (
                "SN-SMK-0001",
                INSTALLER[0],
                "commissioned",
            )

        # 2. payload refused by the contract: the dead letter's reason, word for word
        _commission(
            page, "SN-GAS-0002", "gas-workshop-b1", where["gas-workshop-b1"].lon, where["gas-workshop-b1"].lat
        )
        _result(page, "waiting")
        good = SensorReading(source="node-gongye-1", seq=9, ts=clock.now(), device_id="gas-workshop-b1")
        bad = json.dumps({**json.loads(encode(good)), "measurements": "38 %LEL"}).encode()  # not a list
        client = publisher(mosquitto)
        client.publish(topics.node_reading("node-gongye-1"), bad, qos=1).wait_for_publish(5)
        _result(page, "failed", "refused")
        expect(page.locator("#check-letter")).to_contain_text("invalid")
        expect(page.locator("#check-detail")).to_contain_text("measurements")
        _shoot(page, "installer-refused.png")

        # 3. wrong topic: the sensor publishes as if it were a node
        dorm = where["smk-gongye-dorm-3"]
        _commission(page, "SN-SMK-0003", "smk-gongye-dorm-3", dorm.lon, dorm.lat)
        _result(page, "waiting")
        reading = SensorReading(
            source="smk-gongye-dorm-3",
            seq=1,
            ts=clock.now(),
            device_id="smk-gongye-dorm-3",
            measurements=[Measurement(quantity="battery", value=90)],
        )
        client.publish(topics.node_reading("smk-gongye-dorm-3"), encode(reading), qos=1).wait_for_publish(5)
        _result(page, "failed", "wrong_topic")
        expect(page.locator("#check-letter")).to_contain_text("unknown_source")
        client.disconnect()

        # 4. outside its grid: put up in Donghu
        donghu = site.nodes["node-donghu-1"].node.location
        _commission(page, "SN-CAM-0004", "cam-factory-a", donghu.lon, donghu.lat)
        _result(page, "failed", "outside_grid")
        grid = site.grid_containing(donghu)
        assert grid is not None
        expect(page.locator("#check-detail")).to_contain_text(grid.name)

        # 5. never connected: nothing within the commissioning time (the clock moves past it)
        cam = where["cam-workshop-b"]
        _commission(page, "SN-CAM-0005", "cam-workshop-b", cam.lon, cam.lat)
        _result(page, "waiting")
        clock.advance(site.settings.fleet.commissioning_timeout_s + 1)
        _result(page, "failed", "never_connected")
        expect(page.locator("#check-detail")).to_contain_text("node-gongye-1 is online")

        # the maintenance tab lists the area's devices by status
        page.goto("/ui/installer/#fleet")
        expect(page.locator(".m-card h2")).to_have_text("我片区的设备")
        with sessions() as s:
            statuses = dict(s.execute(select(Device.id, Device.status)).all())
        assert statuses["smk-factory-a1"] == "commissioned" and statuses["cam-workshop-b"] == "provisioned"
        assert errors == []
        context.close()
