"""patrols.yaml: checkpoints and daily routes are checked like every other site file."""

from __future__ import annotations

from pathlib import Path

from contracts.site import check_site, load_site
from tests.support.sites.files import edit_yaml, only, problems_of

PATROLS = "patrols.yaml"


def test_demo_site_has_patrol_routes(demo_site) -> None:  # type: ignore[no-untyped-def]
    patrols = demo_site.patrols
    assert len(patrols.checkpoints) >= 10 and len(patrols.routes) >= 5
    route = patrols.route_of("w-ma-li")
    assert route is not None and {"cp-factory-a", "cp-warehouse-1"} <= set(route.checkpoints)
    assert patrols.checkpoint("cp-factory-a").kind == "factory"  # type: ignore[union-attr]


def test_route_problems_name_file_key_and_fix(site_copy: Path) -> None:
    def break_it(d: dict) -> None:
        d["routes"][0]["worker"] = "w-chen-jei"  # typo
        d["routes"][1]["checkpoints"].append("cp-rentl-12")  # unknown
        d["routes"][2]["checkpoints"].append(d["routes"][2]["checkpoints"][0])  # twice
        d["routes"].append({"worker": "w-ma-li", "checkpoints": ["cp-factory-a"]})  # second route
        d["checkpoints"][0]["location"] = {"lon": 121.5, "lat": 31.2}  # far away
        d["checkpoints"][1]["kind"] = "castle"

    edit_yaml(site_copy, PATROLS, break_it)
    problems = problems_of(site_copy)
    assert all(p.file == PATROLS for p in problems), problems
    typo = only(problems, "unknown worker 'w-chen-jei'")
    assert typo.where == "routes[0].worker" and "did you mean 'w-chen-jie'?" in typo.hint
    unknown = only(problems, "unknown checkpoint 'cp-rentl-12'")
    assert unknown.where == "routes[1].checkpoints[3]" and "did you mean 'cp-rental-12'?" in unknown.hint
    only(problems, "is listed twice")
    assert "one daily route per worker" in only(problems, "already has a route").hint
    assert only(problems, "outside every grid").where == "checkpoints[cp-rental-12].location"
    assert only(problems, "value 'castle' is not allowed").where == "checkpoints[cp-rental-15].kind"


def test_patrols_file_is_optional(site_copy: Path) -> None:
    (site_copy / PATROLS).unlink()
    site, problems = check_site(site_copy)
    assert problems == [] and site is not None and site.patrols.routes == []


def test_unknown_key_in_a_route_is_refused(site_copy: Path) -> None:
    edit_yaml(site_copy, PATROLS, lambda d: d["routes"][0].update(checkpoint=["cp-rental-15"]))
    p = only(problems_of(site_copy), "unknown key 'checkpoint'")
    assert "did you mean 'checkpoints'?" in p.hint


def test_loaded_site_keeps_routes_in_walking_order(site_copy: Path) -> None:
    site = load_site(site_copy)
    assert site.patrols.route_of("w-chen-jie").checkpoints == ["cp-rental-15", "cp-rental-21", "cp-rental-30"]  # type: ignore[union-attr]
