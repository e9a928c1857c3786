"""Load a site directory and check it: every file, every cross-file rule.

A site directory holds::

    site.yaml          SiteFile        identity, time zone, gateway settings
    grids.geojson      GridProperties  district > street > community > grid > micro_grid
    workers.yaml       WorkersFile     grid workers and their duty hours
    escalation.yaml    EscalationFile  SLAs per hazard, tiers, departments
    patrols.yaml       PatrolsFile     (optional) checkpoints and daily patrol routes
    access.yaml        AccessFile      (optional) hashes of the API tokens
    analytics.yaml     AnalyticsFile   (optional) assessment scheme (量化考核), weekly report
    nodes/<id>.yaml    EdgeNodeConfig  one per edge node: cameras, zones, sensors

:func:`check_site` runs :data:`CHECKS` in order and collects *every* problem (it never stops
at the first); :func:`load_site` returns a :class:`Site` or raises :class:`SiteConfigError`.
Reading files is :mod:`contracts.site.reading`, the loaded site :mod:`contracts.site.site`,
each family of checks a module of :mod:`contracts.site.checks`.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

from contracts.site.checks import access, analytics, escalation, grids, nodes, patrols, settings, workers
from contracts.site.checks.draft import Check, SiteDraft
from contracts.site.models import EdgeNodeConfig
from contracts.site.problems import Problem, SiteConfigError, capped, errors, short_repr, validate
from contracts.site.reading import (
    ESCALATION_FILE,
    GRIDS_FILE,
    SITE_FILE,
    WORKERS_FILE,
    ReadLimits,
    SiteReader,
)
from contracts.site.site import GridArea, Site

__all__ = ["CHECKS", "GridArea", "Site", "check_site", "load_node_config", "load_site"]

log = logging.getLogger(__name__)

# Each reads its file into the draft or checks what earlier ones read: order matters.
CHECKS: tuple[Check, ...] = (
    settings.read_settings,
    grids.read_grids,
    grids.check_hierarchy,
    grids.check_overlaps,
    workers.read_workers,
    workers.check_home_grids,
    workers.check_leaders,
    escalation.read_escalation,
    escalation.check_departments,
    escalation.check_communities,
    escalation.check_tiers,
    escalation.check_grid_leaders,
    nodes.read_nodes,
    patrols.check_patrols,
    access.check_access,
    analytics.check_analytics,
)
REQUIRED = (SITE_FILE, GRIDS_FILE, WORKERS_FILE, ESCALATION_FILE)


def check_site(
    root: str | Path, limits: ReadLimits | None = None, *, warnings: bool = False
) -> tuple[Site | None, list[Problem]]:
    """Read and check a site directory; return the site (if it has no errors) and every error,
    with ``warnings`` every warning too (things that will not work as the files suggest).

    ``limits`` default to :meth:`ReadLimits.from_env`.
    """
    root = Path(root)
    problems: list[Problem] = []
    if limits is None:
        limits, problems = ReadLimits.from_env()
    wrong = _not_a_site(root)
    if wrong is not None:
        return None, [*problems, wrong]
    draft = SiteDraft(SiteReader(root, problems, limits))
    for check in CHECKS:
        try:
            check(draft)
        except Exception as exc:  # a bug in one check must not hide what the others find
            log.debug("site check %s failed on %s", check.__name__, root, exc_info=True)
            draft.report(
                "(gridwatch)",
                f"{check.__module__.rsplit('.', 1)[-1]}.{check.__name__}",
                f"internal error while checking: {type(exc).__name__}: {short_repr(str(exc))}",
                "please report it with the site files; every other check still ran",
            )
    found = draft.problems if warnings else errors(draft.problems)
    return draft.site(), capped(found)


def _not_a_site(root: Path) -> Problem | None:
    where, here = "(directory)", root.absolute()
    try:
        st = os.stat(root)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Problem(
                str(root), where, "symbolic link loop", f"point it at the real site directory ({here})"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return Problem(
                str(root),
                where,
                "cannot be read: permission denied",
                f"let the user running GridWatch (uid {os.geteuid()}) read {here}",
            )
        return Problem(
            str(root),
            where,
            f"no such directory (looked for {here})",
            "give the path of the site directory, the one holding site.yaml; a relative path starts "
            f"from the current directory, {Path.cwd()}",
        )
    if not stat.S_ISDIR(st.st_mode):
        return Problem(
            str(root), where, "is a file, not a directory", "give the directory holding site.yaml, not a file"
        )
    if not any(os.path.lexists(root / name) for name in REQUIRED):
        return Problem(
            str(root),
            where,
            f"not a site directory: none of {', '.join(REQUIRED)} is here",
            "give the directory holding the site's files, e.g. device_configs/demo_site",
        )
    return None


def load_site(root: str | Path, limits: ReadLimits | None = None) -> Site:
    site, problems = check_site(root, limits)
    if site is None:
        raise SiteConfigError(str(root), problems)
    return site


def load_node_config(path: str | Path, limits: ReadLimits | None = None) -> EdgeNodeConfig:
    """One node's file on its own (what an edge node reads at start-up)."""
    path = Path(path)
    problems: list[Problem] = []
    if limits is None:
        limits, problems = ReadLimits.from_env()
    reader = SiteReader(path.parent, problems, limits)
    cfg = validate(path.name, EdgeNodeConfig, reader.yaml(path.name), problems)
    if cfg is not None:
        nodes.check_node(path.name, cfg, problems)
    if cfg is None or problems:
        raise SiteConfigError(str(path), problems)
    return cfg
