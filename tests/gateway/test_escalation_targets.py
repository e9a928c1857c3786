"""Who each escalation tier is for a case, from the demo site's configuration."""

from __future__ import annotations

from pathlib import Path

from contracts.hazards import HazardType
from contracts.site import load_site
from contracts.site.models import Tier
from gateway.escalation.targets import Missing, Target, resolve
from tests.support.sites.files import edit_yaml, only, problems_of

NODE = "nodes/node-gongye-1.yaml"


def test_tiers_for_a_smoke_alarm_in_the_industrial_park(demo_site) -> None:  # type: ignore[no-untyped-def]
    def at(tier: Tier, assigned: str | None = None) -> Target | Missing:
        return resolve(demo_site, "g-gongye-01", HazardType.SMOKE_ALARM, tier, assigned, "smk-factory-a1")

    leader = at(Tier.GRID_LEADER)
    assert isinstance(leader, Target) and leader.worker_id == "w-zhao-lei" and leader.phone
    assert isinstance(at(Tier.GRID_LEADER, assigned="w-zhao-lei"), Missing)  # not told about their own task
    community = at(Tier.COMMUNITY)
    assert isinstance(community, Target) and community.name == "工业园社区居委会"
    assert isinstance(at(Tier.STREET_CENTRE), Target)
    department = at(Tier.DEPARTMENT)
    assert isinstance(department, Target) and department.name.startswith("青山消防救援站")
    no_leader = resolve(demo_site, "g-gongye-02", HazardType.SMOKE_ALARM, Tier.GRID_LEADER)
    assert isinstance(no_leader, Missing) and "no leader" in no_leader.why
    maintenance = resolve(demo_site, "g-gongye-01", HazardType.LOW_BATTERY, Tier.DEPARTMENT)
    assert isinstance(maintenance, Missing)


def test_chemical_fumes_go_to_the_environment_bureau(site_copy: Path) -> None:
    def toxic(d: dict) -> None:
        sensor = next(s for s in d["sensors"] if s["id"] == "gas-workshop-b1")
        sensor["kind"] = "toxic_gas"

    edit_yaml(site_copy, NODE, toxic)
    site = load_site(site_copy)
    fumes = resolve(site, "g-gongye-02", HazardType.GAS_LEAK, Tier.DEPARTMENT, None, "gas-workshop-b1")
    assert isinstance(fumes, Target) and fumes.name.startswith("生态环境分局")
    lpg = resolve(site, "g-donghu-03", HazardType.GAS_LEAK, Tier.DEPARTMENT, None, "gas-restaurant-3")
    assert isinstance(lpg, Target) and lpg.name.startswith("青山消防救援站")  # combustible gas: fire brigade


def test_unknown_department_by_sensor_is_a_config_problem(site_copy: Path) -> None:
    edit_yaml(
        site_copy,
        "escalation.yaml",
        lambda d: d["hazards"]["gas_leak"]["department_by_sensor"].update(toxic_gas="chem_police"),
    )
    p = only(problems_of(site_copy), "unknown department 'chem_police'")
    assert p.where == "hazards.gas_leak.department_by_sensor.toxic_gas" and "departments" in p.hint
