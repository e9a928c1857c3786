"""workers.yaml: the grid workers, their home grids, and the grid leaders named in grids.geojson."""

from __future__ import annotations

from contracts.site.checks.draft import SiteDraft
from contracts.site.models import GridLevel, WorkersFile
from contracts.site.problems import validate
from contracts.site.reading import GRIDS_FILE, WORKERS_FILE


def read_workers(draft: SiteDraft) -> None:
    draft.workers_file = validate(WORKERS_FILE, WorkersFile, draft.reader.yaml(WORKERS_FILE), draft.problems)
    for w in draft.workers_file.workers if draft.workers_file else []:
        if w.id in draft.workers:
            draft.report(
                WORKERS_FILE,
                f"workers[{w.id}]",
                f"duplicate worker id {w.id!r}",
                "give each worker their own id, or merge the two entries",
            )
        draft.workers[w.id] = w


def check_home_grids(draft: SiteDraft) -> None:
    for w in draft.workers_file.workers if draft.workers_file else []:
        where = f"workers[{w.id}].home_grid"
        home = draft.areas.get(w.home_grid)
        if home is None:
            if draft.area_missing(w.home_grid):
                draft.report(
                    WORKERS_FILE, where, f"unknown grid {w.home_grid!r}", f"use a grid id from {GRIDS_FILE}"
                )
        elif home.level is not GridLevel.GRID:
            inside = sorted(a.id for a in draft.grids if a.parent == home.id)
            draft.report(
                WORKERS_FILE,
                where,
                f"{w.home_grid!r} is a {home.level.value}, not a grid",
                f"use one of its grids: {', '.join(inside[:5])}"
                if inside
                else f"use an area of level 'grid' from {GRIDS_FILE}",
            )


def check_leaders(draft: SiteDraft) -> None:
    """Every leader named in grids.geojson is a worker."""
    if draft.workers_file is None:
        return
    for area in draft.areas.values():
        if area.leader and area.leader not in draft.workers:
            draft.report(
                GRIDS_FILE,
                f"features[{area.id}].properties.leader",
                f"unknown worker {area.leader!r}",
                f"add them to {WORKERS_FILE}",
            )
