"""patrols.yaml (optional): checkpoints inside the grids and one daily route per worker."""

from __future__ import annotations

import contextlib
import difflib
from typing import Any

from pydantic import ValidationError
from shapely.geometry import Point

from contracts.site.checks.draft import SiteDraft
from contracts.site.models import Checkpoint, PatrolRoute, PatrolsFile
from contracts.site.problems import validate
from contracts.site.reading import PATROLS_FILE, WORKERS_FILE, read_yaml


def check_patrols(draft: SiteDraft) -> None:
    if not (draft.root / PATROLS_FILE).is_file():
        return  # optional: draft.patrols stays empty
    raw = read_yaml(draft.root, PATROLS_FILE, draft.problems)
    draft.patrols = validate(PATROLS_FILE, PatrolsFile, raw, draft.problems)
    # Cross-check what did validate too, so that one bad entry does not hide the others' problems.
    checkable, declared = (draft.patrols, set()) if draft.patrols is not None else _salvage(raw)
    _check_checkpoints(draft, checkable)
    _check_routes(draft, checkable, declared)


def _salvage(raw: Any) -> tuple[PatrolsFile, set[str]]:
    """The entries of a patrols file that are valid on their own, and every checkpoint id declared."""
    if not isinstance(raw, dict):
        return PatrolsFile(), set()
    checkpoints, routes, declared = [], [], set()
    for item in raw.get("checkpoints") or []:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            declared.add(item["id"])
        with contextlib.suppress(ValidationError):
            checkpoints.append(Checkpoint.model_validate(item))
    for item in raw.get("routes") or []:
        with contextlib.suppress(ValidationError):
            routes.append(PatrolRoute.model_validate(item))
    return PatrolsFile(checkpoints=checkpoints, routes=routes), declared


def _check_checkpoints(draft: SiteDraft, patrols: PatrolsFile) -> None:
    grids = draft.grids
    known: set[str] = set()
    for cp in patrols.checkpoints:
        where = f"checkpoints[{cp.id}]"
        if cp.id in known:
            draft.report(PATROLS_FILE, where, f"duplicate checkpoint id {cp.id!r}")
        known.add(cp.id)
        p = Point(cp.location.lon, cp.location.lat)
        if grids and not any(g.geometry.covers(p) for g in grids):
            draft.report(
                PATROLS_FILE,
                f"{where}.location",
                f"checkpoint at ({cp.location.lon:.6f}, {cp.location.lat:.6f}) is outside every grid",
                "check the coordinates (lon first) or draw the grid",
            )


def _check_routes(draft: SiteDraft, patrols: PatrolsFile, declared: set[str]) -> None:
    workers = draft.known_workers
    known = {cp.id for cp in patrols.checkpoints} | declared
    walkers: set[str] = set()
    for i, route in enumerate(patrols.routes):
        where = f"routes[{i}]"
        if workers is not None and route.worker not in workers:
            close = difflib.get_close_matches(route.worker, list(workers), n=1)
            draft.report(
                PATROLS_FILE,
                f"{where}.worker",
                f"unknown worker {route.worker!r}",
                f"did you mean {close[0]!r}?" if close else f"use a worker id from {WORKERS_FILE}",
            )
        if route.worker in walkers:
            draft.report(
                PATROLS_FILE,
                f"{where}.worker",
                f"worker {route.worker!r} already has a route",
                "merge the two routes: one daily route per worker",
            )
        walkers.add(route.worker)
        seen: set[str] = set()
        for j, cp_id in enumerate(route.checkpoints):
            if cp_id not in known:
                close = difflib.get_close_matches(cp_id, sorted(known), n=1)
                draft.report(
                    PATROLS_FILE,
                    f"{where}.checkpoints[{j}]",
                    f"unknown checkpoint {cp_id!r}",
                    f"did you mean {close[0]!r}?" if close else "declare it under 'checkpoints'",
                )
            elif cp_id in seen:
                draft.report(
                    PATROLS_FILE,
                    f"{where}.checkpoints[{j}]",
                    f"checkpoint {cp_id!r} is listed twice",
                    "a daily route visits each checkpoint once",
                )
            seen.add(cp_id)
