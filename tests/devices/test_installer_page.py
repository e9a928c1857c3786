"""The installer's page in Debian's Chromium as an Android phone: serial, position, configuration,
and the commissioning check — success when the simulator publishes, and each failure it can name,
produced for real (a real Mosquitto, the gateway, dead letters made by the gateway itself; a wrong
password refused by Mosquitto's dynamic-security plugin and read from the broker's own log).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from sqlalchemy import select

from contracts import encode, topics
from contracts.devices import SensorReading
from contracts.geo import GeoPoint
from contracts.hazards import Measurement
from contracts.site import Site
from contracts.topics import Channel, Roster
from edge.simulator import Broker, sensor_alarm
from gateway.devices.models import Device
from gateway.people.models import Role
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.brokers.mqtt import publisher
from tests.support.brokers.secured import Login as Connect
from tests.support.brokers.secured import secured_broker
from tests.support.clock import SteppedClock, site_time
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until
from tests.support.web.browser import CHROMIUM_FLAGS, chromium_path
from tests.support.web.screenshots import keep

INSTALLER = ("inst-park", "park-ladder-1")


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
    """The phone's screen at the check's answer (the toasts gone, as a moment later); kept in
    docs/screenshots with GRIDWATCH_UPDATE_SCREENSHOTS=1, at half size in 256 colours."""
    page.evaluate("document.getElementById('toasts')?.remove()")
    page.evaluate("document.getElementById('check-result')?.scrollIntoView({block: 'center'})")
    keep(page.screenshot(), name, halve=True)


def _result(page: Page, state: str, reason: str = "") -> None:
    box = page.locator("#check-result .m-msg")
    expect(box).to_have_attribute("data-state", state, timeout=15_000)
    expect(box).to_have_attribute("data-reason", reason)


def test_commissioning_on_the_phone_succeeds_or_says_exactly_why_not(
    chromium: tuple[Playwright, Browser],
    mosquitto: Mosquitto,
    sqlite_url: str,
    demo_site: Site,
    serve_api,
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


def test_a_wrong_password_is_credentials_refused_in_both_languages_and_the_right_one_commissions(
    chromium: tuple[Playwright, Browser],
    sqlite_url: str,
    demo_site: Site,
    serve_api,
    tmp_path: Path,
) -> None:
    pw, browser = chromium
    clock = SteppedClock(site_time(10))
    gas = "gas-restaurant-3"  # speaks GridWatch itself: its own login (Donghu)
    where = demo_site.device(gas)[1].location  # type: ignore[index]
    with secured_broker(tmp_path / "broker", "dynsec", Roster.from_site(demo_site)) as sb:
        login = ("gateway", sb.password("gateway"))
        with running_gateway(sb.broker, sqlite_url, DEMO_SITE, clock=clock, login=login) as gw:
            assert gw.broker_log is not None
            wait_until(gw.broker_log.watching.is_set, timeout=10, what="the gateway reads the broker's log")
            admin = {
                "dynsec_host": "127.0.0.1",
                "dynsec_port": sb.site_port,
                "dynsec_password": sb.password("admin"),
            }
            base = serve_api(sqlite_url, clock=clock, **admin)
            sessions = session_factory(make_engine(sqlite_url))
            add_person(sessions, "inst-donghu", [Role.INSTALLER], ["c-donghu"], INSTALLER[1], name="王师傅")
            device = {k: v for k, v in pw.devices["Pixel 7"].items() if k != "default_browser_type"}
            context = browser.new_context(**device, locale="zh-CN", base_url=base)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto("/ui/installer/")
            page.wait_for_url("**/ui/signin.html**")
            page.fill("#username", "inst-donghu")
            page.fill("#password", INSTALLER[1])
            page.tap("#signin-submit")
            page.wait_for_url("**/ui/installer/**")

            _commission(page, "SN-GAS-0301", gas, where.lon, where.lat)
            _result(page, "waiting")
            # its own broker login, issued from the page (dynamic security over $CONTROL), shown once
            page.tap("#credentials")
            expect(page.locator("#login-name")).to_have_text(gas)
            password = page.locator("#login-password").inner_text()
            assert len(password) >= 20
            # the installer typed the password wrong into the detector: Mosquitto refuses it
            wrong = Connect(sb.site_port, gas, password + "x", client_id=gas)
            assert not wrong.accepted
            wrong.close()
            _result(page, "failed", "credentials_refused")
            expect(page.locator("#check-head")).to_have_text("设备的账号或密码被拒绝")
            expect(page.locator("#check-detail")).to_contain_text("127.0.0.1")
            expect(page.locator("#check-detail")).to_contain_text(gas)
            _shoot(page, "installer-credentials-refused.png")
            page.tap("#lang button")  # the same answer in English, from the one catalogue
            expect(page.locator("#check-head")).to_have_text("The device's login or password was refused")
            page.tap("#lang button")

            # the right password: the check, run again, sees it report
            page.tap("#check")
            _result(page, "waiting")
            good = Connect(sb.site_port, gas, password, client_id=gas)
            assert good.accepted
            reading = SensorReading(
                source=gas,
                seq=1,
                ts=clock.now(),
                device_id=gas,
                measurements=[Measurement(quantity="battery", value=88)],
            )
            assert not good.publish(topics.device_topic(gas, Channel.READING), encode(reading)).is_failure
            good.close()
            _result(page, "ok")
            expect(page.locator("#device-status")).to_have_text("已调试")
            assert errors == []
            context.close()


BARCODE_STUB = """
// The platform's barcode reader (Chrome on Android has one; Debian's desktop Chromium does not):
// it "reads" the label the test photographs, so the page's scanning path runs end to end.
window.BarcodeDetector = class {
  async detect(_image) { return [{ rawValue: "SN-MAP-0001", format: "code_128" }]; }
};
"""


def _label_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 20), "white").save(out, format="PNG")
    return out.getvalue()


def _tap_area(page: Page, area_id: str) -> None:
    """A finger on the middle of a grid's outline on the map."""
    page.locator("#place-map").scroll_into_view_if_needed()
    box = page.locator(f'#place-map path.area.grid[data-area-id="{area_id}"]').bounding_box()
    assert box is not None, area_id
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_the_installer_scans_the_label_and_places_the_device_by_tapping_the_grid_map(
    chromium: tuple[Playwright, Browser],
    sqlite_url: str,
    demo_site: Site,
    serve_api,
) -> None:
    pw, browser = chromium
    clock = SteppedClock(site_time(10))
    base = serve_api(sqlite_url, clock=clock)
    sessions = session_factory(make_engine(sqlite_url))
    add_person(sessions, INSTALLER[0], [Role.INSTALLER], ["c-gongye"], INSTALLER[1], name="李师傅")
    device = {k: v for k, v in pw.devices["Pixel 7"].items() if k != "default_browser_type"}
    context = browser.new_context(**device, locale="zh-CN", base_url=base)
    context.add_init_script(BARCODE_STUB)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/ui/installer/")
    page.wait_for_url("**/ui/signin.html**")
    page.fill("#username", INSTALLER[0])
    page.fill("#password", INSTALLER[1])
    page.tap("#signin-submit")
    page.wait_for_url("**/ui/installer/**")

    # the serial from the label's barcode (a photo; the browser reads it), then which device it is
    page.set_input_files(
        "#scan-file", files=[{"name": "label.png", "mimeType": "image/png", "buffer": _label_png()}]
    )
    expect(page.locator("#serial")).to_have_value("SN-MAP-0001")
    page.select_option("#bind", "smk-factory-a1")
    expect(page.locator("#device .dev-id")).to_have_text("smk-factory-a1")

    # the map shows the site's grids, drawn from its own outlines (nothing from elsewhere)
    grid = demo_site.areas["g-gongye-01"]
    expect(page.locator("#place-map path.area.grid")).to_have_count(
        sum(1 for a in demo_site.areas.values() if a.level.value == "grid")
    )
    # a tap outside every grid is refused, and sets nothing
    page.tap("#map-all")
    page.locator("#place-map").tap(position={"x": 6, "y": 6})
    expect(page.locator("#map-grid .m-msg.error")).to_have_text(
        "这个点不在任何网格内，不能作为安装位置：请点在网格里面"
    )
    lon, lat = map(float, page.locator("#place-map").get_attribute("data-last-pick").split(","))  # type: ignore[union-attr]
    assert demo_site.grid_containing(GeoPoint(lon=lon, lat=lat)) is None
    expect(page.locator("#lon")).to_have_value("")

    # a tap inside the device's grid: its position, its grid named and outlined
    _tap_area(page, grid.id)
    expect(page.locator("#map-grid-name")).to_be_visible()
    lon, lat = float(page.locator("#lon").input_value()), float(page.locator("#lat").input_value())
    there = demo_site.grid_containing(GeoPoint(lon=lon, lat=lat))
    assert there is not None and there.id == grid.id
    expect(page.locator("#map-grid-name")).to_have_text(f"所在网格：{grid.name}")
    expect(page.locator(f'#place-map path.area.grid.picked[data-area-id="{grid.id}"]')).to_have_count(1)
    page.evaluate("document.getElementById('toasts')?.remove()")
    page.evaluate("document.getElementById('map-grid').scrollIntoView({block: 'center'})")
    keep(page.screenshot(), "installer-map.png", halve=True)

    page.tap("#install")
    expect(page.locator("#installed-where")).to_have_text(f"{lon:.6f}, {lat:.6f}")
    with sessions() as s:
        row = s.get(Device, "smk-factory-a1")
        assert row is not None
        assert (row.serial, row.installed_grid_id, row.installer) == ("SN-MAP-0001", grid.id, INSTALLER[0])
        assert (row.installed_lon, row.installed_lat) == (lon, lat)
    assert all(u.startswith(base) for u in requests), [u for u in requests if not u.startswith(base)]
    assert errors == []
    context.close()
