"""The site configuration: schema (models), loader and checks."""

from contracts.site.loader import GridArea, Site, check_site, load_node_config, load_site
from contracts.site.problems import Problem, SiteConfigError
from contracts.site.schedule import Schedule, ScheduleError

__all__ = [
    "GridArea",
    "Problem",
    "Schedule",
    "ScheduleError",
    "Site",
    "SiteConfigError",
    "check_site",
    "load_node_config",
    "load_site",
]
