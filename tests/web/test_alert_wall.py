"""The command-centre alert wall in a real browser: cases appear, sorted, on the map, with their trail."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.gateway.conftest import Harness
from tests.web.conftest import sign_in


def test_operator_sees_open_cases_on_the_wall_and_the_map_and_opens_one(
    harness: Harness,
    serve_api,
    page: Page,
    wall_operator,  # type: ignore[no-untyped-def]
) -> None:
    harness.raise_event("smk-rental-15", severity="major")
    harness.clock.advance(5)
    harness.raise_event("smk-factory-a1", severity="critical")
    base = serve_api(str(harness.engine.url))

    sign_in(page, base)
    rows = page.locator("#case-table tbody tr.case")
    expect(rows).to_have_count(2)
    # most severe first, whatever the arrival order
    expect(rows.nth(0)).to_contain_text("critical")
    expect(rows.nth(0)).to_contain_text("烟感报警 Smoke alarm · 车间烟感 1")
    expect(rows.nth(0)).to_contain_text("w-ma-li")
    expect(rows.nth(1)).to_contain_text("major")
    expect(page.locator("#case-count")).to_have_text("2")
    expect(page.locator("#map circle.case")).to_have_count(2)
    expect(page.locator("#map path.grid")).to_have_count(13)

    rows.nth(0).click()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(detail).to_contain_text("new → dispatched")
    expect(detail).to_contain_text("w-ma-li · offered")
    expect(page.locator("#map circle.case[r='11']")).to_have_count(1)  # the selected case stands out
    assert page.errors == []  # type: ignore[attr-defined]


def test_wall_picks_up_new_cases_without_a_reload(
    harness: Harness,
    serve_api,
    page: Page,
    wall_operator,  # type: ignore[no-untyped-def]
) -> None:
    base = serve_api(str(harness.engine.url))
    sign_in(page, base)
    expect(page.locator("#empty")).to_be_visible()
    harness.raise_event("gas-restaurant-3", hazard_type="gas_leak", severity="critical")
    expect(page.locator("#case-table tbody tr.case")).to_have_count(1, timeout=10_000)
    expect(page.locator("#case-table tbody")).to_contain_text("燃气泄漏 Gas leak")
    assert page.errors == []  # type: ignore[attr-defined]
