"""群众吹哨 from a resident's phone (Debian's Chromium emulating a Pixel 7, position set by the test):
no account, a photo, the place picked on the map; the report becomes a case in the grid under the
tap, its status link shows the dispatch, and what the resident typed is text on the console.

The expected grid is computed here from the site (the grid that covers the stored position, and
the label the test tapped), not read from the product's answer.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from contracts import GeoPoint
from gateway.cases.models import Case
from gateway.dispatch.models import Task
from gateway.residents.models import ResidentReport
from tests.support.harness import Harness
from tests.support.photos import camera_jpeg, drawn
from tests.support.web.browser import PIXEL_7
from tests.support.web.console import open_console
from tests.support.web.screenshots import keep

NOTE = '<img src=x onerror="window.__hacked=1"><script>window.__hacked=2</script>仓库夜里有人住'


def resident_phone(browser: Browser, base: str, where: GeoPoint) -> Page:
    context = browser.new_context(
        **PIXEL_7,
        locale="zh-CN",
        base_url=base,
        permissions=["geolocation"],
        geolocation={"longitude": where.lon, "latitude": where.lat, "accuracy": 8},
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def test_a_resident_reports_from_a_phone_with_a_photo_and_follows_the_dispatch(
    harness: Harness, serve_api, new_page, chromium, console_operator, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    base = serve_api(str(harness.engine.url), clock=harness.clock, resident_pow_bits=8)
    site = harness.ctx.site
    phone_at = site.areas["g-gongye-01"].centroid
    page = resident_phone(chromium, base, phone_at)
    target = site.areas["g-gongye-03"]
    page.goto(f"/ui/report/?grid={target.id}")  # the QR code on that grid's roster card
    expect(page.locator("#report-hazards button")).to_have_count(4)
    expect(page.locator("#report-grid-hint")).to_contain_text(target.name)
    expect(page.locator("#report-where")).to_contain_text("手机定位")  # the phone's position first
    page.tap('#report-hazards [data-hazard="occupied_factory_dorm"]')

    photo = tmp_path / "IMG_20261118_095800.jpg"
    # larger than sent: the phone shrinks it
    photo.write_bytes(camera_jpeg((1800, 2400), quality=90, source=drawn(tmp_path, "room")))
    with page.expect_file_chooser() as chooser:
        page.tap("#report-add-photo")
    chooser.value.set_files(str(photo))
    expect(page.locator("#report-photo img")).to_have_count(1, timeout=30_000)

    # the place is not where the phone is: the resident taps the map, on the label of 工业园三网格
    label = page.locator("#report-map text.area-label", has_text=target.name)
    box = label.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] + 2)
    expect(page.locator("#report-where")).to_contain_text("地图上选定")
    expect(page.locator("#map-pin")).to_have_count(1)
    page.fill("#report-note", NOTE)
    page.fill("#report-phone", "13912345678")
    keep(page.screenshot(full_page=True), "intake-report-form.png", halve=True)
    page.tap("#report-send")
    result = page.locator("#report-result")
    expect(result).to_contain_text("已收到", timeout=20_000)
    expect(result).to_contain_text(target.name)

    with harness.sessions() as s:
        report = s.scalars(select(ResidentReport)).one()
        case = s.get(Case, report.case_id)
        covering = site.grid_containing(GeoPoint(lon=report.lon, lat=report.lat))
        assert report.picked_on_map and covering is not None and covering.id == target.id
        assert case.grid_id == target.id and case.device_id == "resident"
        assert report.photo_id in case.evidence_ids and report.phone == "13912345678"
        task = s.scalars(select(Task).where(Task.case_id == case.id)).one()

    page.tap("#report-status-link")
    expect(page.locator("#report-status-now")).to_have_text("已派单")
    expect(page.locator("#report-steps li")).to_have_count(2)
    expect(page.locator('#report-steps li[data-step="dispatched"]')).to_contain_text("已派网格员")
    status_text = page.locator("#report-status").inner_text()
    for private in ("13912345678", "仓库", site.workers[task.worker_id].name):
        assert private not in status_text
    keep(page.screenshot(full_page=True), "intake-report-status.png", halve=True)
    assert page.errors == []  # type: ignore[attr-defined]

    # what the resident typed is text on the operator's console, never markup
    console = open_console(new_page, base)
    row = console.locator(f'#case-table tr[data-case-id="{case.id}"]')
    expect(row).to_contain_text('<img src=x onerror="window.__hacked=1">')
    row.click()
    expect(console.locator("#detail ol.trail")).to_contain_text("<script>window.__hacked=2</script>")
    assert console.evaluate("() => window.__hacked") is None
    # the call-back number is the centre's: in the case's facts, not on the trail workers read
    expect(console.locator("#detail dl.facts")).to_contain_text("13912345678")
    expect(console.locator("#detail ol.trail")).not_to_contain_text("13912345678")
    assert console.errors == []  # type: ignore[attr-defined]
