"""The grid roster card (一长三员): its data, its PDF (rendered to PNG with pdftoppm: not blank,
every name on it as text) and its printable page; only phones the site marks public; config
mistakes named with file, key and fix.

The expected people are computed here from the site files (grids.geojson, workers.yaml).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import expect

from cloud_api.app import create_app
from contracts.site import Site
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE, REPO
from tests.support.people import api_settings
from tests.support.sites.files import edit_yaml, only, problems_of
from tests.support.web.browser import OPERATOR, TOKENS
from tests.support.web.console import open_console

SCREENSHOTS = REPO / "docs" / "screenshots"
GRID = "g-gongye-01"


def expected_people(site: Site, grid_id: str) -> list[tuple[str, str, str]]:
    """(role, name, phone shown) from the site's files, in the card's order."""
    grid = site.areas[grid_id]
    mine = [w for w in site.workers.values() if w.home_grid == grid_id]
    shown = lambda w: w.phone if w.phone_public else ""  # noqa: E731
    leaders = [w for w in mine if w.id == grid.leader or w.role.value == "grid_leader"]
    people = [("leader", w.name, shown(w)) for w in leaders]
    people += [("guide", g.name, g.phone if g.phone_public else "") for g in grid.guides]
    for role in ("full_time", "part_time"):
        people += [(role, w.name, shown(w)) for w in sorted(mine, key=lambda w: w.id) if w.role.value == role]
    return people


def test_the_card_shows_the_grids_people_and_only_public_phones_and_its_pdf_renders(
    harness: Harness, tmp_path: Path
) -> None:
    settings = api_settings(DEMO_SITE, str(harness.engine.url), api_tokens=TOKENS.env())
    api = TestClient(create_app(settings, clock=harness.clock), headers=OPERATOR)
    site = harness.ctx.site
    people = expected_people(site, GRID)
    roles = [p[0] for p in people]
    assert "leader" in roles and "guide" in roles and "full_time" in roles  # the demo site has them all
    private = [
        w.phone for w in site.workers.values() if w.home_grid == GRID and w.phone and not w.phone_public
    ]
    private += [g.phone for g in site.areas[GRID].guides if g.phone and not g.phone_public]

    card = api.get(f"/api/v1/grids/{GRID}/roster")
    assert card.status_code == 200, card.text
    body = card.json()
    assert [(m["role"], m["name"], m["phone"]) for m in body["members"]] == people
    assert body["report_url"].endswith(f"/ui/report/?grid={GRID}") and len(body["qr"]) == len(body["qr"][0])
    for phone in private:
        assert phone not in card.text
    assert api.get("/api/v1/grids/c-gongye/roster").status_code == 404  # a community is no grid

    pdf = api.get(f"/api/v1/grids/{GRID}/roster.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / f"intake-roster-{GRID}.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for _role, name, phone in people:
        assert name in text, name
        if phone:
            assert phone in text
    assert site.areas[GRID].name in text
    for phone in private:
        assert phone not in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-singlefile", str(path), str(tmp_path / "card")], check=True
    )
    rendered = Image.open(tmp_path / "card.png")
    image = np.asarray(rendered.convert("L"))
    assert image.shape[0] > image.shape[1]  # A4 portrait
    inked = float((image < 200).mean())
    assert 0.03 < inked < 0.5, inked  # drawn on, not blank, not a black page
    # the outline: the grid's own blue fill is there
    rgb = np.asarray(rendered.convert("RGB")).astype(int)
    bluish = ((rgb[..., 2] - rgb[..., 0]) > 25).mean()
    assert bluish > 0.005
    if os.environ.get("GRIDWATCH_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        rendered.save(SCREENSHOTS / "intake-roster-pdf.png")


def test_the_printable_page_shows_the_card(
    harness: Harness, serve_api, new_page, console_operator, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    site = harness.ctx.site
    base = serve_api(str(harness.engine.url), clock=harness.clock)
    page = open_console(new_page, base, width=1000, height=1400)
    page.goto(f"{base}/ui/roster/?grid={GRID}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#roster-title")).to_contain_text(site.areas[GRID].name)
    rows = page.locator("#roster-members tbody tr")
    people = expected_people(site, GRID)
    expect(rows).to_have_count(len(people))
    for i, (role, name, phone) in enumerate(people):
        expect(rows.nth(i)).to_have_attribute("data-role", role)
        expect(rows.nth(i).locator(".name")).to_contain_text(name)
        expect(rows.nth(i).locator(".phone")).to_have_text(phone or "—")
    expect(page.locator(".outline path.grid")).to_have_count(1)
    expect(page.locator("#pdf")).to_have_attribute("href", f"/api/v1/grids/{GRID}/roster.pdf")
    shot = tmp_path / "intake-roster.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("GRIDWATCH_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot.replace(SCREENSHOTS / shot.name)
    assert page.errors == []  # type: ignore[attr-defined]


def test_roster_mistakes_in_the_site_files_name_the_file_the_key_and_the_fix(site_copy: Path) -> None:
    edit_yaml(site_copy, "workers.yaml", lambda d: d["workers"][1].update(phone="", phone_public=True))
    p = only(problems_of(site_copy), "no phone to show")
    assert p.file == "workers.yaml" and p.where.startswith("workers[") and "phone" in p.message

    path = site_copy / "grids.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    community = next(f for f in doc["features"] if f["properties"]["id"] == "c-gongye")
    community["properties"]["guides"] = [{"name": "某人"}]
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    p = only(problems_of(site_copy), "guides are named per grid")
    assert (
        p.file == "grids.geojson" and p.where.endswith("properties.guides") and "grids of this area" in p.hint
    )
