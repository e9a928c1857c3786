"""Load a site directory and check it: every file, every cross-file rule.

A site directory holds::

    site.yaml          SiteFile        identity, time zone, gateway settings
    grids.geojson      GridProperties  district > street > community > grid > micro_grid
    workers.yaml       WorkersFile     grid workers and their duty hours
    escalation.yaml    EscalationFile  SLAs per hazard, tiers, departments
    patrols.yaml       PatrolsFile     (optional) checkpoints and daily patrol routes
    access.yaml        AccessFile      (optional) hashes of the API tokens
    nodes/<id>.yaml    EdgeNodeConfig  one per edge node: cameras, zones, sensors

:func:`check_site` runs :data:`CHECKS` in order and collects *every* problem (it never stops
at the first); :func:`load_site` returns a :class:`Site` or raises :class:`SiteConfigError`.
Reading files is :mod:`contracts.site.reading`, the loaded site :mod:`contracts.site.site`,
each family of checks a module of :mod:`contracts.site.checks`.
"""

from __future__ import annotations

from pathlib import Path

from contracts.site.checks import access, escalation, grids, nodes, patrols, settings, workers
from contracts.site.checks.draft import Check, SiteDraft
from contracts.site.models import EdgeNodeConfig
from contracts.site.problems import Problem, SiteConfigError, validate
from contracts.site.reading import read_yaml
from contracts.site.site import GridArea, Site

__all__ = ["CHECKS", "GridArea", "Site", "check_site", "load_node_config", "load_site"]

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
    nodes.read_nodes,
    patrols.check_patrols,
    access.check_access,
)


def check_site(root: str | Path) -> tuple[Site | None, list[Problem]]:
    """Read and check a site directory; return the site (if usable) and every problem."""
    root = Path(root)
    if not root.is_dir():
        return None, [Problem(str(root), "(directory)", "not a directory")]
    draft = SiteDraft(root)
    for check in CHECKS:
        check(draft)
    return draft.site(), draft.problems


def load_site(root: str | Path) -> Site:
    site, problems = check_site(root)
    if site is None:
        raise SiteConfigError(str(root), problems)
    return site


def load_node_config(path: str | Path) -> EdgeNodeConfig:
    """One node's file on its own (what an edge node reads at start-up)."""
    path = Path(path)
    problems: list[Problem] = []
    cfg = validate(path.name, EdgeNodeConfig, read_yaml(path.parent, path.name, problems), problems)
    if cfg is not None:
        nodes.check_node(path.name, cfg, [], problems)
    if cfg is None or problems:
        raise SiteConfigError(str(path), problems)
    return cfg
