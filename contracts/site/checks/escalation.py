"""escalation.yaml: departments, communities and tiers that exist."""

from __future__ import annotations

from contracts.site.checks.draft import SiteDraft
from contracts.site.models import EscalationFile, GridLevel
from contracts.site.problems import validate
from contracts.site.reading import ESCALATION_FILE, GRIDS_FILE, read_yaml


def read_escalation(draft: SiteDraft) -> None:
    draft.escalation = validate(
        ESCALATION_FILE,
        EscalationFile,
        read_yaml(draft.root, ESCALATION_FILE, draft.problems),
        draft.problems,
    )


def check_departments(draft: SiteDraft) -> None:
    escalation = draft.escalation
    if escalation is None:
        return
    for hazard, policy in [("default", escalation.default), *escalation.hazards.items()]:
        base = f"hazards.{hazard}" if hazard != "default" else "default"
        if policy.department and policy.department not in escalation.departments:
            draft.report(
                ESCALATION_FILE,
                f"{base}.department",
                f"unknown department {policy.department!r}",
                "declare it under 'departments'",
            )
        for kind, department in policy.department_by_sensor.items():
            if department not in escalation.departments:
                draft.report(
                    ESCALATION_FILE,
                    f"{base}.department_by_sensor.{kind}",
                    f"unknown department {department!r}",
                    "declare it under 'departments'",
                )


def check_communities(draft: SiteDraft) -> None:
    if draft.escalation is None or not draft.areas:
        return
    for community_id in draft.escalation.communities:
        area = draft.areas.get(community_id)
        if area is None or area.level is not GridLevel.COMMUNITY:
            draft.report(
                ESCALATION_FILE,
                f"communities.{community_id}",
                f"{community_id!r} is not a community in {GRIDS_FILE}",
            )


def check_tiers(draft: SiteDraft) -> None:
    if draft.escalation is None:
        return
    tiers = draft.escalation.tiers
    if len(set(tiers)) != len(tiers):
        draft.report(ESCALATION_FILE, "tiers", "a tier is listed twice")
