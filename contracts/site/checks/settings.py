"""site.yaml: who the site is and how its gateway behaves."""

from __future__ import annotations

from contracts.site.checks.draft import SiteDraft
from contracts.site.models import SiteFile
from contracts.site.problems import validate
from contracts.site.reading import SITE_FILE


def read_settings(draft: SiteDraft) -> None:
    draft.settings = validate(SITE_FILE, SiteFile, draft.reader.yaml(SITE_FILE), draft.problems)
