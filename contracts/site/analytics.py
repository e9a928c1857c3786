"""``analytics.yaml`` (optional): the monthly assessment (量化考核) and the weekly report.

Without the file a site gets :data:`DEFAULT_MEASURES` (the weights most street offices start
from) and an on-demand weekly report for the whole site, sent nowhere. Checked by
``gridwatch config check`` like every other site file (contracts/site/checks/analytics.py).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from contracts.envelope import Identifier
from contracts.site.models import ConfigModel, Webhook

ANALYTICS_FILE = "analytics.yaml"


class Measure(StrEnum):
    """What a grid worker is assessed on (考核指标), each a share of a target."""

    PATROL_COVERAGE = "patrol_coverage"  # 巡查覆盖率: checkpoints visited ÷ planned
    ON_TIME_ARRIVAL = "on_time_arrival"  # 按时到场率: on site within the SLA ÷ judged
    ON_TIME_RESOLUTION = "on_time_resolution"  # 按时办结率: resolved within the SLA ÷ judged
    VERIFIED_RESOLUTIONS = "verified_resolutions"  # 核查通过率: verified ÷ (verified + sent back)
    REPORTS_RAISED = "reports_raised"  # 随手拍: reports a worker raised in the month

    @property
    def is_count(self) -> bool:
        """A count per month (its target is a number of reports), not a share (target 0-1)."""
        return self is Measure.REPORTS_RAISED


class MeasureRule(ConfigModel):
    weight: float = Field(
        ge=0, le=100, description="Points this measure is worth; the weights add up to 100."
    )
    target: float = Field(
        gt=0,
        description="Full points at or above this: a share from 0 to 1 (0.9 = 90 %), or for "
        "reports_raised a number of reports a month.",
    )


class NoData(StrEnum):
    SKIP = "skip"  # the other measures' weights are scaled up to 100
    ZERO = "zero"  # the measure scores 0


class Measures(ConfigModel):
    """Weight and target per measure; a measure left out is not scored."""

    patrol_coverage: MeasureRule | None = Field(
        default=None, description="巡查覆盖率: patrol checkpoints visited ÷ planned (a share)."
    )
    on_time_arrival: MeasureRule | None = Field(
        default=None, description="按时到场率: tasks on site within the SLA ÷ those judged (a share)."
    )
    on_time_resolution: MeasureRule | None = Field(
        default=None, description="按时办结率: tasks resolved within the SLA ÷ those judged (a share)."
    )
    verified_resolutions: MeasureRule | None = Field(
        default=None,
        description="核查通过率: results the centre verified ÷ (verified + sent back) (a share).",
    )
    reports_raised: MeasureRule | None = Field(
        default=None, description="随手拍: reports the worker raised in the month (a count)."
    )

    @model_validator(mode="after")
    def _shares_and_weights(self) -> Measures:
        rules = self.rules()
        if not rules:
            raise ValueError("list at least one measure, e.g. patrol_coverage: {weight: 100, target: 0.9}")
        for measure, rule in rules.items():
            if not measure.is_count and rule.target > 1:
                raise ValueError(
                    f"{measure.value}.target is {rule.target:g}, but it is a share: write it from 0 to 1 "
                    f"(e.g. 0.9 for 90 %)"
                )
        total = sum(rule.weight for rule in rules.values())
        if abs(total - 100) > 1e-6:
            raise ValueError(
                f"the weights add up to {total:g}, not 100: change them so that they add up to 100"
            )
        return self

    def rules(self) -> dict[Measure, MeasureRule]:
        """The measures scored, in the order of :class:`Measure`."""
        return {m: rule for m in Measure if (rule := getattr(self, m.value)) is not None}


DEFAULT_MEASURES = Measures(
    patrol_coverage=MeasureRule(weight=30, target=0.9),
    on_time_arrival=MeasureRule(weight=25, target=0.95),
    on_time_resolution=MeasureRule(weight=20, target=0.9),
    verified_resolutions=MeasureRule(weight=15, target=0.95),
    reports_raised=MeasureRule(weight=10, target=8),
)


class AssessmentScheme(ConfigModel):
    """How a month's figures become a score out of 100 (量化考核).

    Each measure earns ``weight × min(1, actual ÷ target)`` points. A measure with nothing to
    judge in the month (no checkpoint planned, no task judged) follows ``no_data``.
    """

    measures: Measures = Field(
        default=DEFAULT_MEASURES,
        description="Weight and target per measure (patrol_coverage, on_time_arrival, "
        "on_time_resolution, verified_resolutions, reports_raised); a measure left out is not scored.",
    )
    no_data: NoData = Field(
        default=NoData.SKIP,
        description="A measure with nothing to judge in the month: 'skip' (the other weights scale "
        "up to 100) or 'zero' (it scores nothing).",
    )


_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Edition(ConfigModel):
    """One weekly report: the figures of one area, sent to its receivers."""

    area: Identifier = Field(
        description="A district, street, community or grid id of grids.geojson: the report covers "
        "the grids under it."
    )
    send_to: list[Webhook] = Field(
        default_factory=list,
        max_length=20,
        description="Webhooks or group robots (format json, wecom or dingtalk) told that the report "
        "is ready, with its link.",
    )


class WeeklyReport(ConfigModel):
    """The weekly report (周报): made after each site-local week (Monday to Sunday) ends."""

    weekday: Weekday = Field(default="Mon", description="The day it is made, site time (Mon ... Sun).")
    at: str = Field(default="08:00", description="The time it is made on that day, site time, HH:MM.")
    keep: int = Field(default=12, ge=1, le=520, description="Reports kept per edition; older ones go.")
    link_base: str | None = Field(
        default=None,
        max_length=300,
        pattern=r"^https?://[^\s]+$",
        description="The address people open GridWatch at (e.g. https://gridwatch.example.cn): the "
        "link sent to the receivers starts with it. Without it no link can be sent.",
    )
    share_days: int = Field(
        default=14,
        ge=0,
        le=366,
        description="For this many days the link opens the report without signing in (anyone holding "
        "the link: a group chat's members); 0 = the link asks to sign in.",
    )
    editions: list[Edition] = Field(
        default_factory=list,
        max_length=200,
        description="One report per area; empty = one report for the whole site, sent nowhere.",
    )

    @field_validator("at")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day: write HH:MM on a 24-hour clock, e.g. '08:00'")
        return value

    @model_validator(mode="after")
    def _link_to_send(self) -> WeeklyReport:
        if any(e.send_to for e in self.editions) and not self.link_base:
            raise ValueError(
                "editions send the report to receivers, but 'link_base' is not set: set it to the "
                "address people open GridWatch at, e.g. https://gridwatch.example.cn"
            )
        areas = [e.area for e in self.editions]
        twice = sorted({a for a in areas if areas.count(a) > 1})
        if twice:
            raise ValueError(f"area {twice[0]!r} has two editions: merge their send_to lists")
        return self

    @property
    def minutes(self) -> int:
        """``at`` as minutes after midnight."""
        hours, minutes = self.at.split(":")
        return int(hours) * 60 + int(minutes)


class AnalyticsFile(ConfigModel):
    """``analytics.yaml`` (optional): the assessment scheme and the weekly report."""

    assessment: AssessmentScheme = AssessmentScheme()
    weekly_report: WeeklyReport = WeeklyReport()
