"""What the checks share: the site as read so far, and every problem found so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contracts.site.models import (
    AccessFile,
    Camera,
    EdgeNodeConfig,
    EscalationFile,
    GridLevel,
    PatrolsFile,
    Sensor,
    SiteFile,
    Worker,
    WorkersFile,
)
from contracts.site.problems import Problem
from contracts.site.site import GridArea, Site


@dataclass
class SiteDraft:
    """A site being read. A part left ``None`` could not be read; checks that need it skip."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    settings: SiteFile | None = None
    areas: dict[str, GridArea] = field(default_factory=dict)
    workers_file: WorkersFile | None = None
    workers: dict[str, Worker] = field(default_factory=dict)
    escalation: EscalationFile | None = None
    nodes: dict[str, EdgeNodeConfig] = field(default_factory=dict)
    devices: dict[str, tuple[str, Camera | Sensor]] = field(default_factory=dict)
    patrols: PatrolsFile | None = field(default_factory=PatrolsFile)
    access: AccessFile | None = field(default_factory=AccessFile)

    def report(self, file: str, where: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(file, where, message, hint))

    @property
    def grids(self) -> list[GridArea]:
        return [a for a in self.areas.values() if a.level is GridLevel.GRID]

    @property
    def known_workers(self) -> dict[str, Worker] | None:
        """The workers, or None when workers.yaml could not be read (nothing to check names against)."""
        return self.workers if self.workers_file is not None else None

    def site(self) -> Site | None:
        """The loaded site, when every part was read and nothing is wrong."""
        if (
            self.problems
            or self.settings is None
            or self.escalation is None
            or self.patrols is None
            or self.access is None
        ):
            return None
        return Site(
            self.root,
            self.settings,
            self.areas,
            self.workers,
            self.escalation,
            self.nodes,
            self.devices,
            self.patrols,
            self.access,
        )


Check = Callable[[SiteDraft], None]
