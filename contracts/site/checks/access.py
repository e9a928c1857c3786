"""access.yaml (optional): API tokens name known workers, and no token is given to two people."""

from __future__ import annotations

from typing import Any

from contracts.site.access import ACCESS_FILE, check_grants, grants_from_file
from contracts.site.checks.draft import SiteDraft
from contracts.site.models import AccessFile, TokenEntry
from contracts.site.problems import salvage, validate


def check_access(draft: SiteDraft) -> None:
    if not draft.reader.exists(ACCESS_FILE):
        return  # optional: no tokens in the file
    raw = draft.reader.yaml(ACCESS_FILE)
    draft.access = validate(ACCESS_FILE, AccessFile, raw, draft.problems)
    # A malformed entry must not hide the other entries' problems: cross-check the sound ones.
    checkable = draft.access if draft.access is not None else _salvage(raw)
    if draft.workers_file is None:
        return
    for p in check_grants(grants_from_file(checkable), draft.workers, ACCESS_FILE):
        # a grant's origin names its file too ("access.yaml workers[w-li]"): the key is the rest
        draft.report(p.file, p.where.removeprefix(f"{ACCESS_FILE} "), p.message, p.hint)


def _salvage(raw: Any) -> AccessFile:
    if not isinstance(raw, dict):
        return AccessFile()
    return AccessFile(
        operators=salvage(TokenEntry, raw.get("operators")), workers=salvage(TokenEntry, raw.get("workers"))
    )
