"""access.yaml (optional): API tokens name known workers, and no token is given to two people."""

from __future__ import annotations

from contracts.site.access import ACCESS_FILE, check_grants, grants_from_file
from contracts.site.checks.draft import SiteDraft
from contracts.site.models import AccessFile
from contracts.site.problems import validate
from contracts.site.reading import read_yaml


def check_access(draft: SiteDraft) -> None:
    if not (draft.root / ACCESS_FILE).is_file():
        return  # optional: no tokens in the file
    raw = read_yaml(draft.root, ACCESS_FILE, draft.problems)
    draft.access = validate(ACCESS_FILE, AccessFile, raw, draft.problems)
    if draft.access is not None and draft.workers_file is not None:
        draft.problems += check_grants(grants_from_file(draft.access), draft.workers, ACCESS_FILE)
