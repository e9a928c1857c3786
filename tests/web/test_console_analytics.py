"""The console's analytics panel (分析) over 8 weeks of generated history: the hotspot map coloured
by case density, the week's hotspots, and the month's assessment ranked within each community —
each checked against a count made here from the generated rows."""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect

from contracts.clock import ManualClock
from contracts.site import Site
from gateway.store.db import make_engine
from tests.support.analytics_figures import FIRST_MONDAY, WEEKS, community, local_midnight
from tests.support.analytics_history import History, write
from tests.support.paths import SCREENSHOTS
from tests.support.web.console import api_get, open_console

SHADES = [
    "rgb(255, 245, 235)",
    "rgb(253, 208, 162)",
    "rgb(253, 141, 60)",
    "rgb(217, 72, 1)",
    "rgb(127, 39, 4)",
]


def test_hotspot_map_and_assessment_on_the_console(
    serve_api,  # type: ignore[no-untyped-def]
    new_page,  # type: ignore[no-untyped-def]
    console_operator: tuple[str, str],
    db_url: str,
    demo_site: Site,
    tmp_path: Path,
) -> None:
    start = local_midnight(demo_site, FIRST_MONDAY)
    rows = History(demo_site, start, WEEKS).all()
    engine = make_engine(db_url)
    write(engine, rows)
    engine.dispose()
    end = start + timedelta(days=7 * WEEKS)
    clock = ManualClock(end + timedelta(days=2, hours=2))  # Wednesday 10:00 after the last week
    base = serve_api(db_url, clock=clock)
    page = open_console(new_page, base, console_operator)
    page.click("#analytics-tab")
    expect(page.locator("#hotspot-map path.area.grid").first).to_be_visible(timeout=20_000)
    expect(page.locator("#a-week")).to_have_value("2026-W17")

    # the week's counts, by hand
    last = end - timedelta(days=7)
    per_grid: dict[str, int] = defaultdict(int)
    for c in rows.tables["cases"]:
        if last <= c["opened_at"] < end and c["status"] != "merged" and c["grid_id"]:
            per_grid[c["grid_id"]] += 1
    expect(page.locator('[data-figure="cases"]')).to_have_text(
        str(sum(1 for c in rows.tables["cases"] if last <= c["opened_at"] < end and c["status"] != "merged"))
    )
    painted = page.locator("#hotspot-map path.area.grid").evaluate_all(
        "ps => ps.map(p => [p.dataset.areaId, Number(p.dataset.cases), Number(p.dataset.perKm2),"
        " p.style.fill])"
    )
    assert {g: n for g, n, _, _ in painted} == {g.id: per_grid.get(g.id, 0) for g in demo_site.grids}
    # darker where denser: the shades never go down as the density goes up
    ranked = sorted(painted, key=lambda p: p[2])
    order = [SHADES.index(p[3]) for p in ranked]
    assert order == sorted(order) and order[-1] == len(SHADES) - 1 and order[0] <= 1
    hottest = max(painted, key=lambda p: p[1])[0]
    expect(page.locator("table.spots.grid tbody tr").first).to_have_attribute("data-key", hottest)

    # response per community: the on-time share the API gives, and every community is there
    lines = api_get(base, "/api/v1/analytics/response", {"week": "2026-W17", "by": "community"})["items"]
    for line in (x for x in lines if x["key"]):
        rate = line["on_time_rate"]
        expect(page.locator(f'.response-table tr[data-key="{line["key"]}"] .on-time')).to_have_text(
            "—" if rate is None else f"{100 * rate:.1f}%"
        )

    # the assessment of April: ranked within each community, the scores the API gives
    page.fill("#a-month", "2026-04")
    page.locator("#a-month").dispatch_event("change")
    # April drawn, and no other load still on its way to redraw it (the screenshots below)
    april = '#analytics-view:not([aria-busy]) section.assessment[data-month="2026-04"]'
    expect(page.locator(april)).to_be_visible(timeout=20_000)  # a month's ranking: ~5 s under load
    want = api_get(base, "/api/v1/analytics/assessment", {"month": "2026-04", "kind": "worker"})["items"]
    table = page.locator(".assessment-table tbody tr[data-key]")
    expect(table).to_have_count(len(want))
    shown = table.evaluate_all(
        "rs => rs.map(r => [r.dataset.key, r.querySelector('.rank').textContent,"
        " r.querySelector('.score').textContent])"
    )
    by_key = {a["key"]: a for a in want}
    for key, rank, score in shown:
        a = by_key[key]
        assert score == (f"{a['score']:.1f}" if a["score"] is not None else "—")
        assert rank == (f"{a['rank']}/{a['ranked']}" if a["rank"] else "—")
    # within each community the rows run from rank 1 down, and a community's ranks are its own
    homes = {w.id: community(demo_site, w.home_grid) for w in demo_site.workers.values()}
    seen: dict[str | None, list[int]] = defaultdict(list)
    for key, rank, _ in shown:
        if rank != "—":
            seen[homes[key]].append(int(rank.split("/")[0]))
    assert all(r == sorted(r) and r[0] == 1 for r in seen.values()) and len(seen) >= 2

    # what the docs show: the map and the week at the top, the assessment table on its own
    page.locator("#analytics-view").evaluate("el => el.scrollTo(0, 0)")
    shots = [tmp_path / "analytics-1920x1080.png", tmp_path / "analytics-assessment.png"]
    page.screenshot(path=str(shots[0]))
    page.locator("section.assessment").screenshot(path=str(shots[1]))
    assert all(s.stat().st_size > 50_000 for s in shots)
    if os.environ.get("GRIDWATCH_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shot.replace(SCREENSHOTS / shot.name)
    assert page.errors == []  # type: ignore[attr-defined]
