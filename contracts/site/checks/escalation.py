"""escalation.yaml: departments, communities and tiers that exist, and someone at each tier."""

from __future__ import annotations

from contracts.site.checks.draft import SiteDraft
from contracts.site.models import EscalationFile, GridLevel, Tier
from contracts.site.problems import Severity, validate
from contracts.site.reading import ESCALATION_FILE, GRIDS_FILE, WORKERS_FILE

_DECLARE = "declare it under 'departments', or use one declared there"


def read_escalation(draft: SiteDraft) -> None:
    draft.escalation = validate(
        ESCALATION_FILE, EscalationFile, draft.reader.yaml(ESCALATION_FILE), draft.problems
    )


def check_departments(draft: SiteDraft) -> None:
    escalation = draft.escalation
    if escalation is None:
        return
    for hazard, policy in [("default", escalation.default), *escalation.hazards.items()]:
        base = f"hazards.{hazard}" if hazard != "default" else "default"
        if policy.department and policy.department not in escalation.departments:
            draft.report(
                ESCALATION_FILE, f"{base}.department", f"unknown department {policy.department!r}", _DECLARE
            )
        for kind, department in policy.department_by_sensor.items():
            if department not in escalation.departments:
                draft.report(
                    ESCALATION_FILE,
                    f"{base}.department_by_sensor.{kind}",
                    f"unknown department {department!r}",
                    _DECLARE,
                )


def check_communities(draft: SiteDraft) -> None:
    if draft.escalation is None or not draft.areas:
        return
    communities = sorted(a.id for a in draft.areas.values() if a.level is GridLevel.COMMUNITY)
    for community_id in draft.escalation.communities:
        area = draft.areas.get(community_id)
        if community_id in draft.broken_areas and area is None:
            continue  # the feature has its own problems
        if area is None or area.level is not GridLevel.COMMUNITY:
            draft.report(
                ESCALATION_FILE,
                f"communities.{community_id}",
                f"{community_id!r} is not a community in {GRIDS_FILE}",
                f"use a community id: {', '.join(communities[:8])}"
                if communities
                else f"add the community to {GRIDS_FILE} (level 'community')",
            )


def check_tiers(draft: SiteDraft) -> None:
    if draft.escalation is None:
        return
    tiers = draft.escalation.tiers
    if len(set(tiers)) != len(tiers):
        draft.report(ESCALATION_FILE, "tiers", "a tier is listed twice", "list each tier once, lowest first")


def check_grid_leaders(draft: SiteDraft) -> None:
    """Escalation starting at the grid leader needs one in each grid, or that tier is skipped there."""
    if draft.escalation is None or Tier.GRID_LEADER not in draft.escalation.tiers:
        return
    tiers = draft.escalation.tiers
    after = tiers[tiers.index(Tier.GRID_LEADER) + 1 :]
    goes_to = f"go straight to the {after[0].value} tier" if after else "reach nobody"
    for grid in draft.grids:
        if grid.leader is None:
            draft.report(
                GRIDS_FILE,
                f"features[{grid.id}].properties.leader",
                f"grid has no leader: its escalations skip the grid_leader tier of {ESCALATION_FILE} "
                f"and {goes_to}",
                f"set 'leader' to the grid leader's (网格长) worker id from {WORKERS_FILE} (one may "
                f"lead several grids), or remove grid_leader from 'tiers' in {ESCALATION_FILE}",
                Severity.WARNING,
            )
