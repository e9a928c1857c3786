"""The command centre's console in headless Chromium against the API served for real: the list,
the map and a case's detail; filters and the CSV export against the API's own answer; countdowns
that turn amber and red on the API's clock; sound and notification for a new critical case;
Chinese that is drawn as Chinese (not empty boxes), on a wall screen and a laptop."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from gateway.cases.models import Case
from tests.support.harness import Harness
from tests.support.paths import SCREENSHOTS
from tests.support.web.console import api_get, open_case, open_console, open_console_with, row_ids


def case_of(h: Harness, device: str) -> Case:
    with h.sessions() as s:
        return s.scalars(select(Case).where(Case.device_id == device)).one()


def test_the_operator_sees_cases_on_the_list_the_map_and_opens_one(
    harness: Harness, serve_api, new_page, console_operator
) -> None:  # type: ignore[no-untyped-def]
    harness.raise_event("smk-rental-15", severity="major")
    harness.clock.advance(5)
    harness.raise_event("smk-factory-a1", severity="critical")
    page = open_console(new_page, serve_api(str(harness.engine.url), clock=harness.clock))

    rows = page.locator("#case-table tbody tr.case")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("烟感报警 Smoke alarm · 车间烟感 1")  # newest first
    expect(rows.nth(0)).to_contain_text("特急")
    expect(rows.nth(0)).to_contain_text("马丽")  # w-ma-li, by name
    expect(rows.nth(0)).to_contain_text("工业园一网格")
    expect(page.locator("#page-info")).to_contain_text("共 2 条")
    expect(page.locator('[data-counter="open"] .n')).to_have_text("2")
    expect(page.locator('[data-counter="critical"] .n')).to_have_text("1")
    expect(page.locator("#map path.area.grid")).to_have_count(13)
    expect(page.locator("#map circle.case")).to_have_count(2)

    page.locator("#map circle.case.critical").click()  # the map opens the case too
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text("烟感报警 Smoke alarm · 车间烟感 1")
    expect(detail.locator("ol.trail")).to_contain_text("待受理 → 已派单")
    expect(detail.locator('[data-section="dispatch"]')).to_contain_text("本网格就近")  # reason code, in words
    expect(detail.locator(".shortlist tbody tr").first).to_contain_text("马丽")
    expect(detail.locator(".shortlist tbody tr.chosen")).to_contain_text(" m")  # distance
    expect(detail.locator('.timers li.running[data-phase="centre_accept"] .countdown')).to_have_attribute(
        "data-state", "on_time"
    )
    expect(page.locator("#map circle.case.selected")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()
    assert page.errors == []  # type: ignore[attr-defined]


RAISED = [
    ("smk-factory-a1", "smoke_alarm", "critical"),
    ("smk-rental-12", "smoke_alarm", "major"),
    ("gas-restaurant-3", "gas_leak", "critical"),
    ("cam-factory-a", "occupied_factory_dorm", "major"),
    ("smk-rental-15", "low_battery", "minor"),
    ("cam-rental-yard", "fire_smoke", "critical"),
    ("gas-workshop-b1", "gas_leak", "major"),
]


def test_filters_and_the_csv_export_match_what_the_api_answers(
    harness: Harness, serve_api, new_page, console_operator
) -> None:  # type: ignore[no-untyped-def]
    for device, hazard, severity in RAISED:
        harness.raise_event(device, hazard_type=hazard, severity=severity)
        harness.clock.advance(60)
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    page = open_console(new_page, base)
    expect(page.locator("#case-table tbody tr.case")).to_have_count(len(RAISED))

    page.locator("#f-severity label.critical").click()
    page.select_option("#f-area", "c-gongye")
    page.select_option("#f-sort", "-severity")
    expected = api_get(
        base,
        "/api/v1/cases",
        {"open": "true", "severity": "critical", "area": "c-gongye", "sort": "-severity"},
    )
    assert expected["count"] == 1  # the industrial park's smoke alarm; the others are elsewhere or lesser
    expect(page.locator("#case-table tbody tr.case")).to_have_count(1)
    assert row_ids(page) == [c["id"] for c in expected["items"]]
    expect(page.locator("#page-info")).to_contain_text("共 1 条")

    page.locator("#f-severity label.critical").click()  # all severities again
    page.fill("#f-text", "燃气")
    expected = api_get(
        base, "/api/v1/cases", {"open": "true", "area": "c-gongye", "q": "燃气", "sort": "-severity"}
    )
    expect(page.locator("#case-table tbody tr.case")).to_have_count(expected["count"])
    assert row_ids(page) == [c["id"] for c in expected["items"]]

    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert [r["案件编号 case id"] for r in csv.DictReader(io.StringIO(exported))] == row_ids(page)

    # the filter is in the address: a reload (or a colleague's link) shows the same list
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#f-text")).to_have_value("燃气")
    expect(page.locator("#case-table tbody tr.case")).to_have_count(expected["count"])
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_countdown_turns_amber_at_the_warning_and_red_at_the_breach(
    harness: Harness, serve_api, new_page, console_operator
) -> None:  # type: ignore[no-untyped-def]
    """smoke_alarm: the centre has 300 s to take the case up; the warning comes at 80 % (240 s)."""
    harness.raise_event("smk-factory-a1", severity="critical")
    case = case_of(harness, "smk-factory-a1")
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    page: Page = new_page()
    page.clock.install(time=harness.clock.now())  # the browser's clock starts where the API's is
    open_console_with(page, base)
    open_case(page, case.id)
    timer = page.locator('#detail .timers li.running[data-phase="centre_accept"] .countdown')
    row_timer = page.locator(f'#case-table tr[data-case-id="{case.id}"] .countdown')
    expect(timer).to_have_attribute("data-state", "on_time")
    expect(timer).to_contain_text("剩")

    harness.clock.advance(250)  # both clocks move on together
    page.clock.fast_forward(250_000)
    expect(timer).to_have_attribute("data-state", "warning")
    expect(timer).to_have_class("sla countdown warning")

    harness.clock.advance(60)  # 310 s: over the limit
    page.clock.fast_forward(60_000)
    expect(timer).to_have_attribute("data-state", "breached")
    expect(timer).to_contain_text("超")
    expect(row_timer).to_have_attribute("data-state", "breached")
    # 310 s on the API's clock: the 300 s access token ran out and the page renewed it (401, then on)
    assert [e for e in page.errors if "401" not in e] == []  # type: ignore[attr-defined]


# Records every tone and notification while letting the real ones happen.
SPY = """
window.__tones = 0; window.__notes = [];
const RealAudio = window.AudioContext;
window.AudioContext = class extends RealAudio {
  createOscillator() { window.__tones += 1; return super.createOscillator(); }
};
const RealNote = window.Notification;
window.Notification = class extends RealNote {
  constructor(title, options) { super(title, options); window.__notes.push([title, options.body]); }
};
"""


def test_a_new_critical_case_is_heard_and_notified_unless_muted(
    harness: Harness, serve_api, new_page, console_operator
) -> None:  # type: ignore[no-untyped-def]
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    page: Page = new_page(permissions=["notifications"])
    page.add_init_script(SPY)
    open_console_with(page, base)
    expect(page.locator("#notify-toggle")).to_be_hidden()  # granted: nothing to ask

    harness.raise_event("smk-rental-15", severity="major")
    expect(page.locator("#case-table tbody tr.case")).to_have_count(1)
    assert page.evaluate("window.__tones") == 0 and page.evaluate("window.__notes") == []

    harness.raise_event("smk-factory-a1", severity="critical")
    expect(page.locator("#case-table tbody tr.case")).to_have_count(2)
    page.wait_for_function("window.__notes.length === 1")
    assert page.evaluate("window.__notes") == [["新的特急案件", "烟感报警 Smoke alarm · 车间烟感 1"]]
    assert page.evaluate("window.__tones") > 0
    expect(page.locator("#announcer")).to_contain_text("新的特急案件")

    page.click("#sound-toggle")  # mute
    expect(page.locator("#sound-toggle")).to_have_text("声音：静音")
    tones = page.evaluate("window.__tones")
    harness.clock.advance(10)
    harness.raise_event("gas-restaurant-3", hazard_type="gas_leak", severity="critical")
    expect(page.locator("#case-table tbody tr.case")).to_have_count(3)
    expect(page.locator("#announcer")).to_contain_text("燃气泄漏")  # still said to screen readers
    assert page.evaluate("window.__tones") == tones and len(page.evaluate("window.__notes")) == 1
    page.reload()  # the choice is kept in this browser
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#sound-toggle")).to_have_text("声音：静音")
    page.click("#sound-toggle")  # sound on again: the next one is heard
    harness.clock.advance(10)
    harness.raise_event("cam-rental-yard", hazard_type="fire_smoke", severity="critical")
    page.wait_for_function("window.__notes.length === 1 && window.__tones > 0")  # counted since the reload
    assert page.errors == []  # type: ignore[attr-defined]


# Draws text with the page's own font on a canvas: a missing glyph is the font's empty box (.notdef),
# the same box an unassigned code point gets. Returns ink and difference from the box, per text.
GLYPHS = """(texts) => {
  const font = getComputedStyle(document.body).fontFamily;
  const canvas = document.createElement("canvas");
  canvas.width = 400; canvas.height = 80;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const draw = (s) => {
    g.clearRect(0, 0, 400, 80); g.font = `48px ${font}`; g.fillStyle = "#000"; g.fillText(s, 4, 60);
    return g.getImageData(0, 0, 400, 80).data;
  };
  const box = draw("\\u{10FFFD}\\u{10FFFD}");
  return texts.map((s) => {
    const d = draw(s);
    let ink = 0, differ = 0;
    for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) ink++; if ((d[i] > 0) !== (box[i] > 0)) differ++; }
    return { text: s, ink, differ, width: g.measureText(s).width };
  });
}"""


def _ink(png: bytes) -> tuple[int, np.ndarray]:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return int((img > 110).sum()), img


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["wall", "laptop"])
def test_chinese_labels_are_drawn_as_chinese_on_a_wall_and_a_laptop(
    harness: Harness, serve_api, new_page, console_operator, tmp_path: Path, size: tuple[int, int]
) -> None:  # type: ignore[no-untyped-def]
    for device, hazard, severity in RAISED:
        harness.raise_event(device, hazard_type=hazard, severity=severity)
        harness.clock.advance(40)
    page = open_console(
        new_page, serve_api(str(harness.engine.url), clock=harness.clock), width=size[0], height=size[1]
    )
    expect(page.locator("#case-table tbody tr.case")).to_have_count(len(RAISED))
    expect(page.locator('[data-counter="open"] .k')).to_have_text("待处置")

    *labels, control = page.evaluate(GLYPHS, ["待处置", "网格员", "案件", "\U0010fffc\U0010fffc"])
    assert control["ink"] > 0 and control["differ"] == 0, control  # the measure sees empty boxes as such
    for glyph in labels:
        assert glyph["ink"] > 300, glyph  # something is drawn
        assert glyph["differ"] > 300, f"{glyph['text']} is drawn as empty boxes: {glyph}"

    # The screenshot itself: a Chinese label's pixels against empty boxes drawn the same way.
    page.evaluate(
        """() => { const s = document.createElement('span'); s.id = 'tofu';
          s.textContent = '\\u{10FFFD}\\u{10FFFD}\\u{10FFFD}';
          const k = document.querySelector('[data-counter="open"] .k');
          s.style.cssText = getComputedStyle(k).cssText; s.style.font = getComputedStyle(k).font;
          s.style.position = 'fixed'; s.style.left = '0'; s.style.top = '0';
          s.style.color = getComputedStyle(k).color;
          s.style.background = '#0d141c'; document.body.append(s); }"""
    )
    label_ink, label_img = _ink(page.locator('[data-counter="open"] .k').screenshot())
    tofu_ink, tofu_img = _ink(page.locator("#tofu").screenshot())
    assert label_ink > 0 and tofu_ink > 0
    h = min(label_img.shape[0], tofu_img.shape[0])
    w = min(label_img.shape[1], tofu_img.shape[1])
    assert not np.array_equal(label_img[:h, :w] > 110, tofu_img[:h, :w] > 110), "labels look like empty boxes"
    page.evaluate("() => document.getElementById('tofu').remove()")

    shot = tmp_path / f"console-{size[0]}x{size[1]}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 50_000  # a screen full of text and a map, not a blank page
    if os.environ.get("GRIDWATCH_UPDATE_SCREENSHOTS"):  # docs/screenshots/ keeps the ones we show
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot.replace(SCREENSHOTS / shot.name)
    assert page.errors == []  # type: ignore[attr-defined]
