"""The weekly report (周报) of one area: its figures, and the pages they are printed on.

:func:`weekly_figures` reads the week from the database (hotspots week on week, eight weeks of
trend, response per community or grid); :func:`render` draws the charts on the server with
matplotlib (no browser, no CDN) and makes the HTML page (charts inline, one file to forward)
and the PDF (A4). Chinese labels need a CJK font: Noto Sans CJK, which ``scripts/setup.sh``
installs (fonts-noto-cjk); without it the charts fall back to boxes and a warning is logged.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from contracts.site import Site
from gateway.cases.labels import hazard_label
from gateway.cases.models import Case
from gateway.escalation.models import Escalation
from gateway.performance.areas import By, Grids, SiteMap, in_grids
from gateway.performance.hotspots import Hotspot, hotspots, trend
from gateway.performance.periods import Period, weeks_ending
from gateway.performance.response import Response, response
from gateway.sla.models import Outcome, SlaTimer

log = logging.getLogger(__name__)

TREND_WEEKS = 8
TOP = 10
CJK_FONTS = (  # Debian's fonts-noto-cjk, then what other systems ship
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


class TrendPoint(BaseModel):
    start: datetime
    cases: int


class NoisyLine(BaseModel):
    """A device with false alarms (filled in by the flow from the cases domain)."""

    device_id: str
    name: str
    grid_name: str
    false_alarms: int
    cases: int


class Troubled(BaseModel):
    """A case of the week that went wrong: a deadline missed, or escalated (提级)."""

    case_id: str
    title: str
    grid_name: str
    severity: str
    status: str
    breaches: list[str]  # SLA phases breached
    escalations: int


class WeeklyFigures(BaseModel):
    area: str
    area_name: str
    site_name: str
    title: str
    week: str
    since: datetime
    until: datetime
    cases: int
    previous: int
    dismissed: int
    grids: list[Hotspot]  # most cases first
    hazards: list[Hotspot]
    trend: list[TrendPoint]
    response_by: str  # community or grid
    response: list[Response]
    overall: Response
    noisy: list[NoisyLine] = []
    troubled: list[Troubled] = []
    troubled_total: int = 0

    def headline(self) -> dict[str, Any]:
        """What lists and group messages show."""
        return {
            "cases": self.cases,
            "previous": self.previous,
            "dismissed": self.dismissed,
            "on_time_rate": self.overall.on_time_rate,
            "arrival_p50_s": self.overall.arrival.p50_s,
            "escalations": self.overall.escalations,
            "top_grid": self.grids[0].name if self.grids and self.grids[0].cases else None,
        }


def weekly_figures(session: Session, site: Site, area: str, grids: Grids, week: Period) -> WeeklyFigures:
    places = SiteMap(site)
    tz = site.settings.site.tz
    by_grid = hotspots(session, places, week, By.GRID, grids)
    by_hazard = hotspots(session, places, week, By.HAZARD_TYPE, grids)
    for h in by_hazard:
        h.name = hazard_label(h.key) if h.key else ""
    weeks = trend(session, places, weeks_ending(week.end, TREND_WEEKS, tz), By.ALL, grids)
    one_community = grids is not None and len({places.community_of(g) for g in grids}) <= 1
    by = By.GRID if one_community else By.COMMUNITY
    lines = [r for r in response(session, places, week.start, week.end, by, grids) if r.key is not None]
    overall = response(session, places, week.start, week.end, By.ALL, grids)[0]
    area_name = site.areas[area].name if area in site.areas else site.settings.site.name
    troubled, troubled_total = went_wrong(session, site, week, grids)
    return WeeklyFigures(
        troubled=troubled,
        troubled_total=troubled_total,
        area=area,
        area_name=area_name,
        site_name=site.settings.site.name,
        title=f"{area_name} 周报 {week.label}",
        week=week.label,
        since=week.start,
        until=week.end,
        cases=sum(h.cases for h in by_grid),
        previous=sum(h.previous for h in by_grid),
        dismissed=sum(h.dismissed for h in by_grid),
        grids=by_grid,
        hazards=[h for h in by_hazard if h.cases or h.previous],
        trend=[TrendPoint(start=w.start, cases=w.total) for w in weeks],
        response_by=by.value,
        response=lines,
        overall=overall,
    )


SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2, "info": 3}


def went_wrong(
    session: Session, site: Site, week: Period, grids: Grids, top: int = TOP
) -> tuple[list[Troubled], int]:
    """The cases opened in the week that missed a deadline or were escalated: the worst ``top``
    (most severe, then most breaches and escalations) and how many there were."""
    opened = and_(Case.opened_at >= week.start, Case.opened_at < week.end, in_grids(Case.grid_id, grids))
    breached = (
        select(SlaTimer.case_id, SlaTimer.phase)
        .join(Case, Case.id == SlaTimer.case_id)
        .where(opened, SlaTimer.outcome == Outcome.BREACHED.value)
    )
    told = (
        select(Escalation.case_id, func.count())
        .join(Case, Case.id == Escalation.case_id)
        .where(opened, Escalation.skipped.is_(False))
        .group_by(Escalation.case_id)
    )
    phases: dict[str, list[str]] = {}
    for case_id, phase in session.execute(breached):
        phases.setdefault(case_id, []).append(phase)
    escalated = {case_id: int(n) for case_id, n in session.execute(told)}
    ids = set(phases) | set(escalated)
    if not ids:
        return [], 0
    cases = session.execute(
        select(Case.id, Case.title, Case.grid_id, Case.severity, Case.status).where(Case.id.in_(sorted(ids)))
    ).all()
    out = [
        Troubled(
            case_id=c.id,
            title=c.title,
            grid_name=site.areas[c.grid_id].name if c.grid_id in site.areas else "",
            severity=c.severity,
            status=c.status,
            breaches=sorted(set(phases.get(c.id, []))),
            escalations=escalated.get(c.id, 0),
        )
        for c in cases
    ]
    out.sort(key=lambda t: (SEVERITY_ORDER.get(t.severity, 9), -len(t.breaches) - t.escalations, t.case_id))
    return out[:top], len(out)


# ---------------------------------------------------------------- charts
@cache
def _matplotlib() -> Any:
    """matplotlib set up once: no display, a CJK font, fonts embedded in PDFs as TrueType."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    names = []
    for path in CJK_FONTS:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            names.append(font_manager.FontProperties(fname=path).get_name())
    if not names:
        log.warning("no CJK font found (%s): Chinese in report charts shows as boxes", ", ".join(CJK_FONTS))
    matplotlib.rcParams.update(
        {
            "font.family": [*names, "DejaVu Sans"],
            "pdf.fonttype": 42,  # TrueType: the PDF's text can be searched and copied
            "axes.unicode_minus": False,  # the CJK fonts have no U+2212
            # Every text drawn is as typed: a case title (a worker's note) with two '$' in it is
            # not TeX (matplotlib's mathtext would fail the whole report on '$x^$').
            "text.parse_math": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return matplotlib


def _figure(width: float, height: float) -> Any:
    _matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _trend_chart(ax: Any, f: WeeklyFigures, tz: Any) -> None:
    labels = [p.start.astimezone(tz).strftime("%m-%d") for p in f.trend]
    values = [p.cases for p in f.trend]
    ax.bar(labels, values, color=["#9db4d6"] * (len(values) - 1) + ["#1f5fbf"])
    for x, v in enumerate(values):
        ax.annotate(str(v), (x, v), ha="center", va="bottom", fontsize=8)
    ax.set_title("近八周案件数 Cases per week", fontsize=11)
    ax.tick_params(labelsize=8)


def _grid_chart(ax: Any, f: WeeklyFigures) -> None:
    top = [g for g in f.grids if g.cases or g.previous][:TOP][::-1]
    names = [g.name for g in top]
    y = range(len(top))
    ax.barh([i + 0.2 for i in y], [g.cases for g in top], height=0.4, color="#d9534f", label="本周 this week")
    ax.barh(
        [i - 0.2 for i in y], [g.previous for g in top], height=0.4, color="#cccccc", label="上周 last week"
    )
    ax.set_yticks(list(y), names, fontsize=8)
    ax.set_title("案件热点网格 Hotspot grids", fontsize=11)
    ax.legend(fontsize=7, loc="lower right")
    ax.tick_params(axis="x", labelsize=8)


def _hazard_chart(ax: Any, f: WeeklyFigures) -> None:
    top = f.hazards[:TOP][::-1]
    ax.barh([h.name.split(" ")[0] for h in top], [h.cases for h in top], color="#f0ad4e")
    ax.set_title("案件类型 Cases by type", fontsize=11)
    ax.tick_params(labelsize=8)


def _png(fig: Any) -> str:
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return base64.b64encode(out.getvalue()).decode()


def _minutes(s: float | None) -> str:
    return "-" if s is None else f"{s / 60:.1f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _response_rows(f: WeeklyFigures) -> list[list[str]]:
    rows = []
    for r in [*f.response, f.overall]:
        rows.append(
            [
                r.name if r is not f.overall else "合计 total",
                str(r.offered),
                _minutes(r.accept.p50_s),
                _minutes(r.arrival.p50_s),
                _minutes(r.arrival.p90_s),
                _minutes(r.resolve.p50_s),
                _pct(r.on_time_rate),
                str(r.sent_back),
                str(r.escalations),
            ]
        )
    return rows


RESPONSE_HEAD = [
    "",
    "派单 tasks",
    "签收 p50 (分)",
    "到场 p50 (分)",
    "到场 p90 (分)",
    "办结 p50 (分)",
    "按时率 on time",
    "返工 rework",
    "升级 escalated",
]


def _change(f: WeeklyFigures) -> str:
    diff = f.cases - f.previous
    pct = f" ({100 * diff / f.previous:+.0f}%)" if f.previous else ""
    return f"{diff:+d}{pct}"


def render(f: WeeklyFigures, tz: Any, made_at: datetime) -> tuple[str, bytes]:
    """(HTML, PDF) of the report."""
    charts = []
    for draw, size in ((_trend_chart, (7.5, 2.6)), (_grid_chart, (7.5, 3.6)), (_hazard_chart, (7.5, 2.8))):
        fig = _figure(*size)
        ax = fig.add_subplot()
        if draw is _trend_chart:
            _trend_chart(ax, f, tz)
        else:
            draw(ax, f)  # type: ignore[operator]
        charts.append(_png(fig))
    return _html(f, tz, made_at, charts), _pdf(f, tz, made_at)


def _local(at: datetime, tz: Any) -> str:
    return f"{at.astimezone(tz):%Y-%m-%d %H:%M}"


def _period_text(f: WeeklyFigures, tz: Any) -> str:
    last = (f.until - timedelta(seconds=1)).astimezone(tz)
    return f"{f.since.astimezone(tz):%Y-%m-%d} – {last:%Y-%m-%d}"


def _html(f: WeeklyFigures, tz: Any, made_at: datetime, charts: list[str]) -> str:
    e = html.escape
    noisy = "".join(
        f"<tr><td>{e(n.name)}</td><td>{e(n.grid_name)}</td><td>{n.false_alarms}</td><td>{n.cases}</td></tr>"
        for n in f.noisy
    )
    resp = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in _response_rows(f))
    wrong = "".join(
        f'<tr data-case="{e(w.case_id)}"><td>{e(w.title)}</td><td>{e(w.grid_name)}</td>'
        f"<td>{e(w.severity)}</td>"
        f"<td>{e(', '.join(w.breaches) or '-')}</td><td>{w.escalations}</td></tr>"
        for w in f.troubled
    )
    imgs = "".join(f'<img alt="chart" src="data:image/png;base64,{c}">' for c in charts)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{e(f.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;
max-width:820px;margin:24px auto;padding:0 12px;color:#222}}
h1{{font-size:24px;margin:0}} .sub{{color:#666;margin:4px 0 16px}}
.kpis{{display:flex;gap:12px;flex-wrap:wrap}} .kpi{{border:1px solid #ddd;border-radius:6px;padding:8px 14px}}
.kpi b{{display:block;font-size:22px}} img{{width:100%;margin:12px 0}}
table{{border-collapse:collapse;width:100%;font-size:13px}}
td,th{{border:1px solid #ddd;padding:4px 6px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}
</style></head><body>
<h1>{e(f.title)}</h1>
<p class="sub">{e(f.site_name)} · {e(_period_text(f, tz))} · 生成于 {e(_local(made_at, tz))}</p>
<div class="kpis">
<div class="kpi">案件 cases<b>{f.cases}</b>较上周 {e(_change(f))}</div>
<div class="kpi">误报 false alarms<b>{f.dismissed}</b></div>
<div class="kpi">按时率 on time<b>{_pct(f.overall.on_time_rate)}</b></div>
<div class="kpi">到场 p50<b>{_minutes(f.overall.arrival.p50_s)} 分</b></div>
<div class="kpi">升级 escalations<b>{f.overall.escalations}</b></div>
</div>
{imgs}
<h2>响应时效 Response</h2>
<table><tr>{"".join(f"<th>{e(h)}</th>" for h in RESPONSE_HEAD)}</tr>{resp}</table>
<h2>出了问题的案件 Cases that went wrong ({f.troubled_total})</h2>
<table><tr><th>案件 case</th><th>网格 grid</th><th>级别</th><th>超时 missed</th><th>升级</th></tr>
{wrong}</table>
<h2>误报最多的设备 Devices with most false alarms</h2>
<table><tr><th>设备 device</th><th>网格 grid</th><th>误报 false</th><th>案件 cases</th></tr>{noisy}</table>
</body></html>
"""


def _pdf(f: WeeklyFigures, tz: Any, made_at: datetime) -> bytes:
    _matplotlib()
    from matplotlib.backends.backend_pdf import PdfPages

    out = io.BytesIO()
    with PdfPages(out, metadata={"Title": f.title, "Creator": "GridWatch"}) as pdf:
        page = _figure(8.27, 11.69)  # A4
        grid = page.add_gridspec(4, 1, height_ratios=[0.55, 1, 1.35, 1.05])
        head = page.add_subplot(grid[0])
        head.axis("off")
        head.text(0, 0.95, f.title, fontsize=20, va="top")  # one font: each embedded costs a subset
        head.text(
            0,
            0.55,
            f"{f.site_name} · {_period_text(f, tz)} · 生成于 {made_at.astimezone(tz):%Y-%m-%d %H:%M}",
            fontsize=9,
            color="#666",
            va="top",
        )
        head.text(
            0,
            0.25,
            f"案件 {f.cases}（较上周 {_change(f)}） · 误报 {f.dismissed}"
            f" · 按时率 {_pct(f.overall.on_time_rate)}"
            f" · 到场 p50 {_minutes(f.overall.arrival.p50_s)} 分 · 升级 {f.overall.escalations}",
            fontsize=11,
            va="top",
        )
        _trend_chart(page.add_subplot(grid[1]), f, tz)
        _grid_chart(page.add_subplot(grid[2]), f)
        _hazard_chart(page.add_subplot(grid[3]), f)
        pdf.savefig(page)
        page = _figure(8.27, 11.69)
        ax = page.add_subplot(311)
        ax.axis("off")
        ax.set_title("响应时效 Response", fontsize=13, loc="left")
        table = ax.table(
            cellText=_response_rows(f),
            colLabels=RESPONSE_HEAD,
            colWidths=[0.24] + [0.095] * 8,  # the first column holds names
            cellLoc="left",
            loc="upper center",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        ax = page.add_subplot(312)
        ax.axis("off")
        ax.set_title(f"出了问题的案件 Cases that went wrong ({f.troubled_total})", fontsize=13, loc="left")
        rows = [
            [w.title[:40], w.grid_name[:14], w.severity, ", ".join(w.breaches) or "-", str(w.escalations)]
            for w in f.troubled
        ] or [["-", "", "", "", ""]]
        table = ax.table(
            cellText=rows,
            colLabels=["案件 case", "网格 grid", "级别", "超时 missed", "升级"],
            colWidths=[0.42, 0.16, 0.1, 0.24, 0.08],
            cellLoc="left",
            loc="upper center",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        ax = page.add_subplot(313)
        ax.axis("off")
        ax.set_title("误报最多的设备 Devices with most false alarms", fontsize=13, loc="left")
        rows = [[n.name, n.grid_name, str(n.false_alarms), str(n.cases)] for n in f.noisy] or [
            ["-", "", "", ""]
        ]
        table = ax.table(
            cellText=rows,
            colLabels=["设备 device", "网格 grid", "误报", "案件"],
            colWidths=[0.4, 0.3, 0.15, 0.15],
            cellLoc="left",
            loc="upper center",
        )
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        pdf.savefig(page)
    return out.getvalue()
