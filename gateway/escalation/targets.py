"""Who stands at each escalation tier for a given case, from the site configuration."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.hazards import HazardType
from contracts.site import Site
from contracts.site.models import Contact, GridLevel, Sensor, Tier, Webhook


@dataclass(frozen=True)
class Target:
    tier: Tier
    name: str
    phone: str = ""
    worker_id: str | None = None  # a grid worker: told on their phone's topic
    webhooks: tuple[Webhook, ...] = ()
    department: str | None = None  # a department's id in escalation.yaml: it acknowledges (报到)


@dataclass(frozen=True)
class Missing:
    tier: Tier
    why: str


def resolve(
    site: Site,
    grid_id: str | None,
    hazard: HazardType,
    tier: Tier,
    assigned: str | None = None,
    device_id: str | None = None,
) -> Target | Missing:
    """Who to tell at ``tier``; ``assigned`` is the worker holding the task (not told about themselves),
    ``device_id`` what raised the case (its sensor kind may pick the department)."""
    if tier is Tier.GRID_LEADER:
        found = _leader(site, grid_id)
        if isinstance(found, Target) and found.worker_id == assigned:
            return Missing(tier, f"the grid leader {assigned} is the worker assigned to the case")
        return found
    if tier is Tier.COMMUNITY:
        community = site.ancestor(grid_id, GridLevel.COMMUNITY) if grid_id else None
        if community is None:
            return Missing(tier, "the case has no grid, so no community")
        contact = site.escalation.communities.get(community.id)
        if contact is not None:
            return _from_contact(tier, contact)
        if community.leader and community.leader in site.workers:
            worker = site.workers[community.leader]
            return Target(tier, f"{worker.name} (leader of {community.name})", worker.phone, worker.id)
        return Missing(tier, f"no contact for community {community.id!r} in escalation.yaml")
    if tier is Tier.STREET_CENTRE:
        centre = site.escalation.street_centre
        return _from_contact(tier, centre) if centre else Missing(tier, "no street_centre in escalation.yaml")
    if tier is Tier.SUPERVISION:
        above = site.escalation.supervision
        return _from_contact(tier, above) if above else Missing(tier, "no supervision in escalation.yaml")
    policy = site.escalation.policy(hazard)
    known = site.device(device_id) if device_id else None
    kind = known[1].kind if known is not None and isinstance(known[1], Sensor) else None
    department = policy.department_by_sensor.get(kind, policy.department) if kind else policy.department
    if department is None:
        return Missing(tier, f"no department for {hazard.value} in escalation.yaml")
    return department_target(site, department)


def department_target(site: Site, department: str) -> Target:
    """A department of escalation.yaml as the one told (a whistle names it; the policy picks it)."""
    contact = site.escalation.departments[department]
    return Target(Tier.DEPARTMENT, contact.name, contact.phone, None, tuple(contact.webhooks), department)


def _leader(site: Site, grid_id: str | None) -> Target | Missing:
    if grid_id is None:
        return Missing(Tier.GRID_LEADER, "the case has no grid")
    grid = site.areas.get(grid_id)
    if grid is None or not grid.leader or grid.leader not in site.workers:
        return Missing(Tier.GRID_LEADER, f"grid {grid_id!r} has no leader in grids.geojson")
    worker = site.workers[grid.leader]
    return Target(Tier.GRID_LEADER, f"{worker.name} (leader of {grid.name})", worker.phone, worker.id)


def _from_contact(tier: Tier, contact: Contact) -> Target:
    return Target(tier, contact.name, contact.phone, None, tuple(contact.webhooks))
