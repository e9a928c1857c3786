"""The grid worker's phone app in Debian's Chromium, emulating an Android phone: touch, a small
screen, geolocation set by the test, the network switched off and on.

Signed in through the page as the worker would. The expected truths (distances, grids, what the
store holds and in which order) are computed here from the site and the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect, sync_playwright
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contracts import GeoPoint
from contracts.geo import haversine_m
from contracts.site import Site
from edge.simulator import Broker, sensor_alarm
from gateway.cases.models import Case, CaseTransition
from gateway.dispatch.models import Task
from gateway.events.models import ApiReceipt
from gateway.evidence.models import Evidence
from gateway.people.models import Role
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.clock import site_time
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person
from tests.support.photos import camera_jpeg
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until
from tests.support.web.browser import CHROMIUM_FLAGS, OPERATOR, chromium_path
from tests.support.web.screenshots import keep

WORKER = ("w-ma-li", "ma-li-phone-1")
# What the page's vibration and sound did: a phone in a pocket must buzz and ring for a new task.
SPIES = """
window.__vibrations = [];
navigator.vibrate = (pattern) => { window.__vibrations.push(pattern); return true; };
window.__tones = 0;
const ctxClass = window.AudioContext || window.webkitAudioContext;
if (ctxClass) {
  const make = ctxClass.prototype.createOscillator;
  ctxClass.prototype.createOscillator = function () { window.__tones += 1; return make.call(this); };
}
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[tuple[Playwright, Browser]]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield pw, browser
        browser.close()


PhoneFactory = Callable[[str, GeoPoint], tuple[BrowserContext, Page]]


@pytest.fixture
def phone(chromium: tuple[Playwright, Browser]) -> Iterator[PhoneFactory]:
    """An Android phone (Pixel 7: 412×915, touch, mobile Chrome) with its position set by the test."""
    pw, browser = chromium
    contexts: list[BrowserContext] = []

    def make(base: str, where: GeoPoint) -> tuple[BrowserContext, Page]:
        device = {k: v for k, v in pw.devices["Pixel 7"].items() if k != "default_browser_type"}
        context = browser.new_context(
            **device,
            locale="zh-CN",
            base_url=base,
            permissions=["geolocation"],
            geolocation={"longitude": where.lon, "latitude": where.lat, "accuracy": 8},
        )
        context.add_init_script(SPIES)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors  # type: ignore[attr-defined]
        return context, page

    yield make
    for context in contexts:
        context.close()


def worker_account(db_url: str) -> sessionmaker[Session]:
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = session_factory(engine)
    add_person(
        sessions, WORKER[0], [Role.WORKER], ["g-gongye-01"], WORKER[1], worker_id=WORKER[0], name="马丽"
    )
    return sessions


def sign_in(page: Page) -> None:
    """Open the app like a worker: the sign-in page, then back to the app."""
    page.goto("/ui/worker/")
    page.wait_for_url("**/ui/signin.html**")
    page.fill("#username", WORKER[0])
    page.fill("#password", WORKER[1])
    page.tap("#signin-submit")
    page.wait_for_url("**/ui/worker/")
    expect(page.locator("#who")).to_contain_text("马丽")


def north(point: GeoPoint, metres: float) -> GeoPoint:
    return GeoPoint(lon=point.lon, lat=point.lat + metres / 111_195.0)


def move(context: BrowserContext, where: GeoPoint) -> None:
    context.set_geolocation({"longitude": where.lon, "latitude": where.lat, "accuracy": 8})


def photo_file(tmp_path: Path, name: str = "IMG_20261202_101500.jpg") -> Path:
    path = tmp_path / name
    # larger than the app sends (1600 px): the phone shrinks it first, as it does a camera's
    path.write_bytes(camera_jpeg((1800, 2400), quality=90, taken=None))
    return path


def add_photo(page: Page, button: str, path: Path, shown: str) -> None:
    """Take a photo through the file chooser (the camera on a phone); wait until the phone has
    shrunk it and shows it (decoding a camera photo takes a loaded machine some seconds)."""
    before = page.locator(shown).count()
    with page.expect_file_chooser() as chooser:
        page.tap(button)
    chooser.value.set_files(str(path))
    expect(page.locator(shown)).to_have_count(before + 1, timeout=30_000)


def worker_steps(sessions: sessionmaker[Session], case_id: str) -> list[tuple[str, str]]:
    with sessions() as s:
        rows = s.scalars(
            select(CaseTransition)
            .where(CaseTransition.case_id == case_id, CaseTransition.actor == f"worker:{WORKER[0]}")
            .order_by(CaseTransition.id)
        )
        return [(r.change, r.to_status) for r in rows]


def test_a_dispatched_task_arrives_live_and_is_accepted_checked_in_and_resolved_with_a_photo(
    mosquitto: Mosquitto,
    sqlite_url: str,
    demo_site: Site,
    tmp_path: Path,
    serve_api: Any,
    phone: PhoneFactory,
) -> None:
    sessions = worker_account(sqlite_url)
    clock = site_time(10)
    sensor = demo_site.device("smk-factory-a1")
    assert sensor is not None
    site_point = sensor[1].location
    with running_gateway(mosquitto, sqlite_url, DEMO_SITE, clock=clock):
        base = serve_api(sqlite_url, clock=clock)
        context, page = phone(base, north(site_point, 800))
        sign_in(page)
        expect(page.locator("#no-tasks")).to_be_visible()
        expect(page.locator("#net")).to_have_text("实时")
        page.locator("#view").tap()  # a first touch: the page may make sound from now on

        # the smoke detector goes off; its edge node publishes; the gateway dispatches to w-ma-li
        sensor_alarm(
            demo_site, "smk-factory-a1", Broker(mosquitto.host, mosquitto.port), tmp_path, clock=clock
        )
        card = page.locator(".task-card").first
        expect(card).to_contain_text("烟感报警", timeout=15_000)
        expect(card.locator(".countdown")).to_contain_text("剩余")
        expect(card.locator(".distance")).to_contain_text("距我 8")  # about 800 m
        expect(page.locator("#badge-tasks")).to_have_text("1")
        keep(page.screenshot(), "worker-tasks.png", halve=True)
        assert page.evaluate("window.__vibrations.length") >= 1
        assert page.evaluate("window.__tones") >= 2
        with sessions() as s:
            task = s.scalars(select(Task)).one()
            case = s.get(Case, task.case_id)
            assert case is not None and case.lon is not None and case.lat is not None
        assert task.worker_id == WORKER[0]
        # An urgent task says what to do (go now), not a second severity word beside 特急.
        assert task.urgent
        expect(card.locator(".m-pill.bad")).to_have_text("立即前往")
        expect(card).not_to_contain_text("紧急")
        here = GeoPoint(lon=case.lon, lat=case.lat)

        card.tap()
        expect(page.locator("#task-detail")).to_contain_text("工业")
        assert (page.get_attribute("#navigate", "href") or "").startswith(f"geo:{case.lat},{case.lon}")
        page.tap("#accept")
        expect(page.locator("#step-message")).to_have_text("已接单，请尽快到场")
        expect(page.locator("#check-in")).to_be_visible()

        far = north(here, 300)
        expected = round(haversine_m(far.lon, far.lat, here.lon, here.lat))
        move(context, far)
        expect(page.locator("#task-detail .distance")).to_have_text(f"距我 {expected} 米")
        page.tap("#check-in")
        expect(page.locator("#step-message")).to_have_text(f"距离现场 {expected} 米，需在 50 米内签到")
        assert worker_steps(sessions, case.id) == [("status", "accepted")]

        move(context, north(here, 20))
        expect(page.locator("#task-detail .distance")).to_have_text("距我 20 米")
        page.tap("#check-in")
        expect(page.locator("#resolve-form")).to_be_visible()
        add_photo(page, "#add-photo", photo_file(tmp_path), "#photos img")
        page.tap("[data-result='hazard_confirmed']")
        page.fill("#resolve-note", "二楼仓库有人吸烟，已劝离并检查烟感")
        page.screenshot(path=str(tmp_path / "resolve.png"), full_page=True)
        page.tap("#resolve")
        expect(page.locator("#step-message")).to_have_text("处置结果已提交，等待中心核查")

    # the operator's case shows the photo, served by the evidence route
    with sessions() as s:
        [photo] = s.scalars(select(Evidence).where(Evidence.device_id == WORKER[0])).all()
    operator_case = httpx.get(f"{base}/api/v1/cases/{case.id}", headers=OPERATOR).json()
    assert photo.id in operator_case["evidence_ids"] and operator_case["status"] == "resolved"
    image = httpx.get(f"{base}/api/v1/evidence/{photo.id}.jpg", headers=OPERATOR)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert worker_steps(sessions, case.id) == [
        ("status", "accepted"),
        ("status", "on_site"),
        ("photo", "on_site"),
        ("status", "resolved"),
    ]
    assert page.errors == []  # type: ignore[attr-defined]


def test_steps_taken_without_signal_are_kept_and_applied_once_in_order_when_it_returns(
    harness: Harness, serve_api: Any, phone: PhoneFactory, tmp_path: Path
) -> None:
    sessions = worker_account(str(harness.engine.url))
    harness.raise_event("smk-factory-a1", severity="critical")
    with harness.sessions() as s:
        task = s.scalars(select(Task)).one()
        case = s.get(Case, task.case_id)
    assert case is not None and case.lon is not None and case.lat is not None
    here = GeoPoint(lon=case.lon, lat=case.lat)
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    context, page = phone(base, north(here, 15))
    sign_in(page)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # the app is kept on the phone
    page.locator(".task-card").first.tap()
    expect(page.locator("#accept")).to_be_visible()

    context.set_offline(True)
    page.tap("#accept")
    expect(page.locator("#step-message")).to_have_text("已保存在手机上，有信号后自动提交")
    page.tap("#check-in")
    expect(page.locator("#resolve-form")).to_be_visible()  # on site, as far as the phone knows
    add_photo(page, "#add-photo", photo_file(tmp_path), "#photos img")
    page.tap("[data-result='handled']")
    page.fill("#resolve-note", "无信号处置")
    page.tap("#resolve")
    expect(page.locator("#task-detail")).to_contain_text("4 步待同步")
    expect(page.locator("#steps")).to_contain_text("已提交处置结果")

    # the phone is restarted with no signal: the app opens from the phone, the steps are still there
    page.reload()
    expect(page.locator("#net")).to_have_text("无信号")
    page.tap("a[data-tab='outbox']")
    expect(page.locator("#outbox-count")).to_have_text("4 条等待发送")
    expect(page.locator("#outbox-list .outbox-item.waiting")).to_have_count(4)
    keep(page.screenshot(full_page=True), "worker-offline.png", halve=True)
    assert worker_steps(sessions, case.id) == []  # nothing reached the server

    # the check-in's answer is lost on the way back: the server applied it, the phone sends it again
    calls: dict[str, int] = {"check-in": 0}

    def lose_first_answer(route: Route) -> None:
        calls["check-in"] += 1
        if calls["check-in"] == 1:
            route.fetch()  # the server gets it and answers ...
            route.abort("connectionreset")  # ... and the answer never reaches the phone
        else:
            route.continue_()

    context.route(re.compile(r".*/api/v1/tasks/[^/]+/check-in$"), lose_first_answer)
    harness.clock.advance(600)  # ten minutes later, the signal returns
    context.set_offline(False)
    expect(page.locator("#outbox-count")).to_have_text("全部已同步", timeout=20_000)

    steps = worker_steps(sessions, case.id)
    assert steps == [
        ("status", "accepted"),
        ("status", "on_site"),
        ("photo", "on_site"),
        ("status", "resolved"),
    ]
    assert calls["check-in"] >= 2  # sent again after the lost answer, applied once
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 1
        assert s.scalar(select(func.count()).select_from(ApiReceipt)) == 4
        accepted = s.scalars(
            select(CaseTransition).where(
                CaseTransition.case_id == case.id, CaseTransition.to_status == "accepted"
            )
        ).one()
        assert s.get(Task, task.id).status == "resolved"  # type: ignore[union-attr]
    assert "taken on the phone at" in accepted.reason  # the trail says it was done offline
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_step_that_no_longer_applies_is_explained_not_lost(
    harness: Harness, serve_api: Any, phone: PhoneFactory
) -> None:
    worker_account(str(harness.engine.url))
    harness.raise_event("smk-factory-a1", severity="critical")
    with harness.sessions() as s:
        task = s.scalars(select(Task)).one()
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    context, page = phone(base, GeoPoint(lon=120.31, lat=31.495))
    sign_in(page)
    page.locator(".task-card").first.tap()
    context.set_offline(True)
    page.tap("#accept")
    expect(page.locator("#step-message")).to_have_text("已保存在手机上，有信号后自动提交")
    # meanwhile the centre gives the task to someone else
    moved = httpx.post(f"{base}/api/v1/tasks/{task.id}/reassign", json={"note": "离得更近"}, headers=OPERATOR)
    assert moved.status_code == 200, moved.text
    context.set_offline(False)
    page.tap("a[data-tab='outbox']")
    item = page.locator("#outbox-list .outbox-item.refused")
    expect(item).to_contain_text("未执行：任务已被指挥中心改派给他人", timeout=15_000)
    expect(item).to_contain_text("接单")
    item.get_by_role("button").tap()
    expect(page.locator("#outbox-count")).to_have_text("全部已同步")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_report_with_a_photo_opens_a_case_in_its_grid_and_dispatches_it(
    harness: Harness, serve_api: Any, phone: PhoneFactory, demo_site: Site, tmp_path: Path
) -> None:
    sessions = worker_account(str(harness.engine.url))
    where = GeoPoint(lon=120.3178, lat=31.4969)  # by workshop B, in the industrial park
    grid = demo_site.grid_containing(where)
    assert grid is not None
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    _context, page = phone(base, where)
    sign_in(page)
    page.tap("a[data-tab='report']")
    expect(page.locator("#report-where")).to_contain_text(f"{where.lon:.5f}")
    page.tap("[data-hazard='illegal_workshop']")
    add_photo(page, "#report-add-photo", photo_file(tmp_path, "workshop.jpg"), "#report-photos img")
    page.fill("#report-note", "卷帘门后有机器声，门口堆放纸箱")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.tap("#report-send")
    expect(page.locator("#report-result")).to_contain_text("已上报，案件已立案并派单给")
    with sessions() as s:
        [case] = s.scalars(select(Case)).all()
        [task] = s.scalars(select(Task).where(Task.case_id == case.id)).all()
        [photo] = s.scalars(select(Evidence)).all()
    assert case.grid_id == grid.id and case.hazard_type == "illegal_workshop" and case.status == "dispatched"
    assert case.device_id == WORKER[0] and case.evidence_ids == [photo.id]
    assert haversine_m(case.lon, case.lat, where.lon, where.lat) < 1  # type: ignore[arg-type]
    assert task.status == "offered"
    assert page.errors == []  # type: ignore[attr-defined]


def test_patrol_duty_and_the_app_installs(
    harness: Harness, serve_api: Any, phone: PhoneFactory, demo_site: Site, tmp_path: Path
) -> None:
    worker_account(str(harness.engine.url))
    route = demo_site.patrols.route_of(WORKER[0])
    assert route is not None
    first = demo_site.patrols.checkpoint(route.checkpoints[0])
    assert first is not None
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    context, page = phone(base, first.location)
    sign_in(page)
    page.tap("a[data-tab='patrol']")
    page.tap("#patrol-toggle")
    expect(page.locator("#stops li")).to_have_count(len(route.checkpoints))
    expect(page.locator("#patrol-state")).to_contain_text("巡查中")
    # starting at the first checkpoint checked the worker in there: a tap on check-in says so (no error)
    expect(page.locator("#coverage")).to_have_text(f"{round(100 / len(route.checkpoints))}%")
    page.tap("#patrol-check-in")
    expect(page.locator("#toasts .toast.ok")).to_have_text(f"「{first.name}」今天 10:00 已签到")
    expect(page.locator("#toasts .toast.error")).to_have_count(0)
    expect(page.locator("#stops li.visited")).to_contain_text(first.name)
    page.tap("#duty-toggle")
    expect(page.locator("#duty-state")).to_have_text("离岗")  # drawn at once, sent from the phone's queue
    availability_url = f"{base}/api/v1/workers/{WORKER[0]}/availability"
    wait_until(
        lambda: httpx.get(availability_url, headers=OPERATOR).json()["available"] is False,
        what="the server to hear the worker is off duty",
    )
    harness.clock.advance(120)
    page.tap("#patrol-toggle")
    expect(page.locator("#patrol-state")).to_have_text("未在巡查")
    sessions = session_factory(harness.engine)

    def stop_received() -> bool:
        with sessions() as s:
            routes = s.scalars(select(ApiReceipt.route)).all()
        return any(r.endswith("/patrol/stop") for r in routes)

    wait_until(stop_received, what="the patrol's stop to reach the server")  # then the badge's word counts
    expect(page.locator("#badge-outbox")).to_be_hidden()  # every step is through
    expect(page.locator("#track")).to_have_text("今日轨迹 0.00 公里，用时 2:00")  # the stop's answer drawn
    expect(page.locator("#roster")).to_have_text("排班：全天值守")
    keep(page.screenshot(), "worker-patrol.png", halve=True)

    # installable: a manifest, icons, a service worker controlling the app (Chrome says what is missing)
    page.goto("/ui/worker/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp = context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # a test browser context is an incognito one (nothing installs there); nothing else may be missing
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == [], errors
    manifest = httpx.get(f"{base}/ui/worker/manifest.webmanifest").json()
    assert manifest["start_url"] == "/ui/worker/" and manifest["display"] == "standalone"
    assert page.errors == []  # type: ignore[attr-defined]
