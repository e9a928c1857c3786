"""escalation.yaml against the grids: a tier that needs someone in every grid says where nobody is."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from contracts.site import check_site
from gridwatch.cli import app
from tests.support.sites.files import edit_json, edit_yaml


def leaderless_grids(site: Path) -> set[str]:
    doc = json.loads((site / "grids.geojson").read_text(encoding="utf-8"))
    return {
        f["properties"]["id"]
        for f in doc["features"]
        if f["properties"]["level"] == "grid" and not f["properties"].get("leader")
    }


def leader_warnings(site: Path) -> dict[str, str]:
    loaded, problems = check_site(site, warnings=True)
    assert loaded is not None, [str(p) for p in problems]
    return {p.where: p.message for p in problems if "no leader" in p.message and not p.is_error}


def test_grids_without_a_leader_are_named_when_escalation_starts_with_the_grid_leader(
    site_copy: Path,
) -> None:
    expected = leaderless_grids(site_copy)
    assert expected, "the demo site has grids without a leader"
    found = leader_warnings(site_copy)
    assert set(found) == {f"features[{g}].properties.leader" for g in expected}
    assert all("skip the grid_leader tier" in m and "community tier" in m for m in found.values())
    assert check_site(site_copy)[1] == [], "a warning, not an error: the site loads and escalation climbs on"


def test_no_warning_once_every_grid_has_a_leader_or_the_tier_is_gone(site_copy: Path) -> None:
    edit_yaml(
        site_copy, "escalation.yaml", lambda d: d.update(tiers=["community", "street_centre", "department"])
    )
    assert leader_warnings(site_copy) == {}

    edit_yaml(site_copy, "escalation.yaml", lambda d: d.update(tiers=["grid_leader", "community"]))

    def lead_all(doc: dict) -> None:
        for f in doc["features"]:
            if f["properties"]["level"] == "grid":
                f["properties"].setdefault("leader", "w-li-na")
                f["properties"]["leader"] = f["properties"]["leader"] or "w-li-na"

    edit_json(site_copy, "grids.geojson", lead_all)
    assert leader_warnings(site_copy) == {}


def test_config_check_shows_warnings_and_strict_fails_on_them(site_copy: Path) -> None:
    n = len(leaderless_grids(site_copy))
    ok = CliRunner().invoke(app, ["config", "check", str(site_copy)])
    assert ok.exit_code == 0, ok.output
    assert f"{n} warning(s) in {site_copy}" in ok.output and f"; {n} warning(s) above" in ok.output
    assert ok.output.count("grid has no leader") == 1, "the same warning at several grids is listed once"
    strict = CliRunner().invoke(app, ["config", "check", str(site_copy), "--strict"])
    assert strict.exit_code == 1
