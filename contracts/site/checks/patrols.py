"""patrols.yaml (optional): checkpoints inside the grids and one daily route per worker."""

from __future__ import annotations

import difflib
from typing import Any

from contracts.site.checks.draft import SiteDraft
from contracts.site.models import Checkpoint, PatrolRoute, PatrolsFile
from contracts.site.problems import salvage, validate
from contracts.site.reading import PATROLS_FILE, WORKERS_FILE


def check_patrols(draft: SiteDraft) -> None:
    if not draft.reader.exists(PATROLS_FILE):
        return  # optional: draft.patrols stays empty
    raw = draft.reader.yaml(PATROLS_FILE)
    draft.patrols = validate(PATROLS_FILE, PatrolsFile, raw, draft.problems)
    # Cross-check what did validate too, so that one bad entry does not hide the others' problems.
    checkable, declared = (draft.patrols, set()) if draft.patrols is not None else _salvage(raw)
    _check_checkpoints(draft, checkable)
    _check_routes(draft, checkable, declared)


def _salvage(raw: Any) -> tuple[PatrolsFile, set[str] | None]:
    """The entries of a patrols file that are valid on their own, and every checkpoint id declared
    (None: the checkpoints cannot be read, so no route's checkpoint can be called unknown)."""
    if not isinstance(raw, dict):
        return PatrolsFile(), None
    items = raw.get("checkpoints", [])
    if not isinstance(items, list):
        return PatrolsFile(routes=salvage(PatrolRoute, raw.get("routes"))), None
    declared = {item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)}
    checkpoints = salvage(Checkpoint, items)
    return PatrolsFile(checkpoints=checkpoints, routes=salvage(PatrolRoute, raw.get("routes"))), declared


def _check_checkpoints(draft: SiteDraft, patrols: PatrolsFile) -> None:
    known: set[str] = set()
    for cp in patrols.checkpoints:
        where = f"checkpoints[{cp.id}]"
        if cp.id in known:
            draft.report(
                PATROLS_FILE, where, f"duplicate checkpoint id {cp.id!r}", "give each checkpoint its own id"
            )
        known.add(cp.id)
        draft.locate(PATROLS_FILE, f"{where}.location", "checkpoint", cp.location)


def _check_routes(draft: SiteDraft, patrols: PatrolsFile, declared: set[str] | None) -> None:
    workers = draft.known_workers
    known = {cp.id for cp in patrols.checkpoints} | (declared or set())
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
            if declared is not None and cp_id not in known:
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
