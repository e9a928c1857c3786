"""analytics.yaml (optional): the assessment scheme, and weekly-report editions of areas that exist."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from contracts.site.analytics import ANALYTICS_FILE, AnalyticsFile, Edition
from contracts.site.checks.draft import SiteDraft
from contracts.site.models import GridLevel
from contracts.site.problems import validate
from contracts.site.reading import GRIDS_FILE


def check_analytics(draft: SiteDraft) -> None:
    if not draft.reader.exists(ANALYTICS_FILE):
        return  # optional: the default scheme, one on-demand report for the whole site
    raw = draft.reader.yaml(ANALYTICS_FILE)
    draft.analytics = validate(ANALYTICS_FILE, AnalyticsFile, raw, draft.problems)
    # The areas of the editions that are sound on their own, even when another key is wrong.
    editions = draft.analytics.weekly_report.editions if draft.analytics is not None else _salvage(raw)
    for i, edition in enumerate(editions) if draft.analytics is not None else editions:
        if not draft.area_missing(edition.area):
            area = draft.areas.get(edition.area)
            if area is not None and area.level is GridLevel.MICRO_GRID:
                draft.report(
                    ANALYTICS_FILE,
                    f"weekly_report.editions[{i}].area",
                    f"{edition.area!r} is a micro grid; figures are kept per grid",
                    f"use its grid, {area.parent!r}",
                )
            continue
        known = sorted(a.id for a in draft.areas.values() if a.level is not GridLevel.MICRO_GRID)
        close = difflib.get_close_matches(edition.area, known, n=1)
        draft.report(
            ANALYTICS_FILE,
            f"weekly_report.editions[{i}].area",
            f"no area {edition.area!r} in {GRIDS_FILE}",
            f"did you mean {close[0]!r}?"
            if close
            else f"use a district, street, community or grid id of {GRIDS_FILE}",
        )


def _salvage(raw: Any) -> list[tuple[int, Edition]]:
    report = raw.get("weekly_report") if isinstance(raw, dict) else None
    items = report.get("editions") if isinstance(report, dict) else None
    found = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        try:
            found.append((i, Edition.model_validate(item)))
        except ValidationError:
            continue
    return found
