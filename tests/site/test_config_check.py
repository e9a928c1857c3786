"""`gridwatch config check` finds every class of problem, with file, key and hint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts.site import SiteConfigError, check_site, load_site
from gridwatch.cli import app
from tests.support.sites.files import edit_yaml, only, problems_of

NODE = "nodes/node-gongye-1.yaml"


def test_demo_site_is_clean(demo_site) -> None:  # type: ignore[no-untyped-def]
    site, problems = check_site(demo_site.root)
    assert problems == []
    assert site is not None
    assert len([a for a in site.areas.values() if a.level == "community"]) >= 3
    assert len(site.grids) >= 12
    assert len(site.workers) >= 8
    assert {w.role.value for w in site.workers.values()} == {"full_time", "part_time", "grid_leader"}
    assert len(site.nodes) == 2
    zone_types = {z.type.value for n in site.nodes.values() for c in n.cameras for z in c.zones}
    assert {"factory_floor", "no_production_site"} <= zone_types
    kinds = {s.kind.value for n in site.nodes.values() for s in n.sensors}
    assert {"smoke", "combustible_gas"} <= kinds


def test_unknown_key_is_named_with_a_suggestion(site_copy: Path) -> None:
    edit_yaml(site_copy, NODE, lambda d: d["cameras"][0].update(resoluton=[640, 480]))
    p = only(problems_of(site_copy), "unknown key 'resoluton'")
    assert p.file == NODE
    assert p.where == "cameras[cam-factory-a].resoluton"
    assert "did you mean 'resolution'?" in p.hint
    assert "Allowed keys here:" in p.hint and "ignore_masks" in p.hint


def test_zone_outside_the_camera_frame(site_copy: Path) -> None:
    def grow(d: dict) -> None:
        d["cameras"][0]["zones"][0]["polygon"] = [[0, 60], [500, 60], [500, 288], [0, 288]]

    edit_yaml(site_copy, NODE, grow)
    p = only(problems_of(site_copy), "outside the 384x288 camera frame")
    assert p.where == "cameras[cam-factory-a].zones[floor].polygon"
    assert "pixels" in p.hint


def test_sensor_outside_every_grid(site_copy: Path) -> None:
    edit_yaml(site_copy, NODE, lambda d: d["sensors"][0].update(location={"lon": 121.5, "lat": 31.2}))
    p = only(problems_of(site_copy), "is outside every grid")
    assert p.where == "sensors[smk-factory-a1].location"
    assert "lon first" in p.hint


def test_worker_in_an_unknown_grid(site_copy: Path) -> None:
    edit_yaml(site_copy, "workers.yaml", lambda d: d["workers"][2].update(home_grid="g-nowhere"))
    p = only(problems_of(site_copy), "unknown grid 'g-nowhere'")
    assert (p.file, p.where) == ("workers.yaml", "workers[w-liu-yang].home_grid")


def test_overlapping_grids(site_copy: Path) -> None:
    path = site_copy / "grids.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    donor = next(f for f in doc["features"] if f["properties"]["id"] == "g-donghu-02")
    victim = next(f for f in doc["features"] if f["properties"]["id"] == "g-donghu-01")
    victim["geometry"] = donor["geometry"]  # two grids claiming the same ground
    path.write_text(json.dumps(doc), encoding="utf-8")
    p = only(problems_of(site_copy), "overlaps grid")
    assert p.file == "grids.geojson"
    assert "g-donghu-0" in p.where and "m²" in p.message


def test_schedule_that_does_not_parse(site_copy: Path) -> None:
    edit_yaml(site_copy, "workers.yaml", lambda d: d["workers"][0].update(duty=["Mon-Fry 08:30-17:30"]))
    p = only(problems_of(site_copy), "unknown day 'Fry'")
    assert p.where == "workers[w-li-na].duty[0]"


def test_yaml_syntax_error_gives_the_line(site_copy: Path) -> None:
    path = site_copy / "escalation.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nbroken: [unclosed\n", encoding="utf-8")
    p = only(problems_of(site_copy), "not valid YAML")
    assert p.where.startswith("line ")


def test_every_problem_is_reported_not_only_the_first(site_copy: Path) -> None:
    edit_yaml(site_copy, NODE, lambda d: d["cameras"][0].update(resoluton=[1, 1]))
    edit_yaml(site_copy, "workers.yaml", lambda d: d["workers"][2].update(home_grid="g-nowhere"))
    edit_yaml(site_copy, "escalation.yaml", lambda d: d["hazards"]["gas_leak"].update(department="police"))
    edit_yaml(
        site_copy, "nodes/node-donghu-1.yaml", lambda d: d["sensors"][0].update(near_cameras=["cam-ghost"])
    )
    problems = problems_of(site_copy)
    messages = " | ".join(p.message for p in problems)
    for words in (
        "unknown key 'resoluton'",
        "unknown grid 'g-nowhere'",
        "unknown department 'police'",
        "unknown camera 'cam-ghost'",
    ):
        assert words in messages
    with pytest.raises(SiteConfigError) as err:
        load_site(site_copy)
    assert len(err.value.problems) == len(problems)


def test_cli_passes_the_demo_site(demo_site) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["config", "check", str(demo_site.root)])
    assert result.exit_code == 0, result.output
    assert "OK site 'qingshan'" in result.output and "13 grids" in result.output


def test_cli_lists_problems_and_fails(site_copy: Path) -> None:
    edit_yaml(site_copy, "workers.yaml", lambda d: d["workers"][0].update(duty=["25:00-26:00"]))
    edit_yaml(site_copy, NODE, lambda d: d["cameras"][1].update(colour="red"))
    proc = subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", "config", "check", str(site_copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "2 problem(s)" in proc.stderr
    assert "workers.yaml · workers[w-li-na].duty[0]" in proc.stderr
    assert "cameras[cam-workshop-b].colour: unknown key 'colour'" in proc.stderr
    assert "hint:" in proc.stderr


def test_a_check_that_fails_inside_is_reported_and_the_others_still_run(
    site_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contracts.site import loader

    def broken_check(draft: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(loader, "CHECKS", (broken_check, *loader.CHECKS))
    edit_yaml(site_copy, "workers.yaml", lambda d: d["workers"][2].update(home_grid="g-nowhere"))
    problems = problems_of(site_copy)
    inside = only(problems, "internal error while checking: ZeroDivisionError: 'a bug'")
    assert inside.where.endswith("broken_check") and "please report it" in inside.hint
    only(problems, "unknown grid 'g-nowhere'")


def test_the_command_line_checks_a_site_without_loading_the_store_or_the_gateway() -> None:
    """An installer's `gridwatch config check` (and `--help`) starts with what it uses: SQLAlchemy
    and the gateway's tables are for the commands that open a store (~¼ of the start)."""
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from gridwatch.cli import app\n"
        "result = CliRunner().invoke(app, ['config', 'check', 'device_configs/demo_site'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')"
        " or m.startswith(('gateway.people.models', 'gateway.store'))))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
