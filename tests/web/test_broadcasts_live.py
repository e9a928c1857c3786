"""协查通报 end to end in Debian's Chromium: the operator sends a notice with a photo from the
console; it reaches two grid workers' phones live; both read receipts show in the console live;
one worker's sighting opens a case linked to the notice; closing it shows on both phones.

Recipients are computed here from the site (workers whose home grid lies in the chosen community).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from contracts import GeoPoint
from gateway.broadcasts.models import Sighting
from gateway.cases.models import Case
from gateway.people.models import Role
from tests.support.harness import Harness
from tests.support.people import add_person
from tests.support.photos import camera_jpeg, drawn
from tests.support.web.browser import PIXEL_7
from tests.support.web.console import open_console
from tests.support.web.screenshots import keep

WORKERS = {"w-ma-li": ("马丽", "g-gongye-01"), "w-zhu-tao": ("朱涛", "g-gongye-02")}
PASSWORD = "phone-password-1"


def worker_phone(browser: Browser, base: str, worker_id: str, where: GeoPoint) -> Page:
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
    page.goto("/ui/worker/")
    page.wait_for_url("**/ui/signin.html**")
    page.fill("#username", worker_id)
    page.fill("#password", PASSWORD)
    page.tap("#signin-submit")
    page.wait_for_url("**/ui/worker/")
    expect(page.locator("#who")).to_contain_text(WORKERS[worker_id][0])
    page.goto("/ui/worker/#broadcasts")
    expect(page.locator("#broadcasts-empty")).to_be_visible()
    expect(page.locator("#net")).to_have_class("m-pill ok")  # the live feed is connected
    return page


def test_a_broadcast_reaches_two_phones_live_receipts_show_and_a_sighting_opens_a_linked_case(
    harness: Harness, serve_api, new_page, chromium, console_operator, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    site = harness.ctx.site
    for worker_id, (name, grid) in WORKERS.items():
        add_person(
            harness.sessions, worker_id, [Role.WORKER], [grid], PASSWORD, worker_id=worker_id, name=name
        )
    gongye = {g.id for g in site.grids if g.parent == "c-gongye"}
    recipients = [w for w in site.workers.values() if w.home_grid in gongye]
    assert set(WORKERS) <= {w.id for w in recipients}
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    phones = {w: worker_phone(chromium, base, w, site.areas[g].centroid) for w, (_, g) in WORKERS.items()}

    console = open_console(new_page, base)
    console.click("#tab-broadcasts")
    expect(console.locator("#bc-form")).to_be_visible()
    console.fill("#bc-title", "协查：寻找走失老人")
    console.fill("#bc-body", "男，75岁，灰色外套，拄拐杖。<b>见到请上报</b>")
    console.select_option("#bc-areas", ["c-gongye"])
    photo = tmp_path / "wanted.jpg"
    photo.write_bytes(camera_jpeg((900, 1200), source=drawn(tmp_path)))
    console.set_input_files("#bc-photos", str(photo))
    console.click("#bc-send")
    card = console.locator(".bc-card").first
    expect(card.locator(".bc-read-count")).to_have_text(f"已阅 0/{len(recipients)}", timeout=20_000)
    expect(card.locator(".bc-receipts tbody tr")).to_have_count(len(recipients))

    for worker_id, page in phones.items():  # arrives without a reload: the live feed
        notice = page.locator(".m-card[data-broadcast-id]")
        expect(notice.locator("h2")).to_have_text("协查：寻找走失老人", timeout=15_000)
        expect(notice.locator(".bc-body")).to_have_text("男，75岁，灰色外套，拄拐杖。<b>见到请上报</b>")
        expect(notice.locator("img.m-photo")).to_have_count(1)
        expect(page.locator("#badge-broadcasts")).to_have_text("1")
        page.tap(".bc-read")
        expect(notice.locator(".bc-was-read")).to_be_visible()
        expect(card.locator(f'.bc-receipts tr[data-worker-id="{worker_id}"] td.when')).not_to_have_text(
            "未读", timeout=15_000
        )
    expect(card.locator(".bc-read-count")).to_have_text(f"已阅 2/{len(recipients)}")
    keep(phones["w-ma-li"].screenshot(), "intake-broadcast-phone.png", halve=True)

    # 朱涛 saw him: photo, position (the phone's), note
    zhu = phones["w-zhu-tao"]
    # the phone in the worker's hand (with several browser contexts open, Chromium answers a
    # position only to the page in front, after the emulated position is set again)
    zhu.bring_to_front()
    seen_at = site.areas["g-gongye-02"].centroid
    zhu.context.set_geolocation({"longitude": seen_at.lon, "latitude": seen_at.lat, "accuracy": 8})
    zhu.tap(".bc-seen")
    expect(zhu.locator(".bc-where")).to_contain_text("精度约 8 米")
    with zhu.expect_file_chooser() as chooser:
        zhu.tap(".bc-add-photo")
    chooser.value.set_files(str(photo))
    expect(zhu.locator(".bc-sighting .m-thumbs img")).to_have_count(1, timeout=30_000)
    zhu.fill(".bc-note", "菜场门口，往北走了")
    zhu.tap(".bc-send")
    sighting_link = card.locator(".bc-sightings li")
    expect(sighting_link).to_have_count(1, timeout=15_000)
    with harness.sessions() as s:
        found = s.scalars(select(Sighting)).one()
        case = s.get(Case, found.case_id)
        assert found.worker_id == "w-zhu-tao" and case.hazard_type == "sighting"
        assert case.grid_id == "g-gongye-02" and len(case.evidence_ids) == 1
    expect(sighting_link).to_have_attribute("data-case-id", case.id)

    card.locator(".bc-close-note").fill("已找到，谢谢各位")
    card.locator(".bc-close-button").click()
    expect(card.locator(".bc-closed")).to_contain_text("已找到")
    for page in phones.values():
        expect(page.locator(".bc-closed")).to_contain_text("协查已结束：已找到，谢谢各位", timeout=15_000)
    keep(console.screenshot(), "intake-broadcast-console.png")
    sighting_link.locator("a").click()  # the linked case opens in the console
    expect(console.locator("#detail")).to_contain_text("协查线索")
    assert console.errors == []  # type: ignore[attr-defined]
    for page in phones.values():
        assert page.errors == []  # type: ignore[attr-defined]
