"""The weekly report and the monthly assessment over a year of a 500-grid street, on PostgreSQL.

    flock /work/bench.lock .venv/bin/python bench/analytics.py   # ~3 min; [--grids 500] [--weeks 52]

A street of ``--grids`` grids (10 communities, one worker homed in each grid) is written as a site
directory; ``--base-weeks`` weeks of history are drawn by tests/support/analytics_history.py and streamed
into a fresh schema with COPY, then copied forward set-based (INSERT ... SELECT over
generate_series, ids re-derived with md5, times shifted) to fill ``--weeks`` weeks — a year of
cases, tasks, SLA timers, escalations, false alarms, reports and patrols in a few minutes rather
than hours of Python. Then, on the last full week and month:

- the weekly report of the whole street: its figures (hotspots week on week, 8 weeks of trend,
  response per community, the noisy devices) and the pages (charts, HTML, PDF);
- the monthly assessment of every worker and every grid.

Each is timed ``--repeat`` times; one JSON line is printed. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts.clock import ManualClock
from contracts.site import Site, load_site
from gateway.context import GatewayContext
from gateway.flows.weekly_report import draw_report
from gateway.performance.areas import SiteMap
from gateway.performance.assessment import assess
from gateway.performance.periods import last_full_week, month_of
from gateway.performance.weekly import weekly_figures
from gateway.schema.migrate import upgrade
from gateway.schema.models import Base
from gateway.store.db import make_engine, session_factory
from tests.support.analytics_history import TABLES, History, copy_rows

DEMO = Path(__file__).resolve().parent.parent / "device_configs" / "demo_site"
PG = os.environ.get("GRIDWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COMMUNITIES = 10
CELL = 0.004  # a grid is about 380 m × 440 m


# ---------------------------------------------------------------- the street
def street(root: Path, grids: int) -> Path:
    """A site directory: district > street > 10 communities > ``grids`` grids, a worker each."""
    site = root / "site"
    site.mkdir(parents=True)
    per = -(-grids // COMMUNITIES)
    cols = 10
    rows_per = -(-per // cols)
    lon0, lat0 = 120.0, 31.0
    width, height = cols * CELL, COMMUNITIES * rows_per * CELL

    def box(x: float, y: float, w: float, h: float) -> dict[str, Any]:
        ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
        return {"type": "Polygon", "coordinates": [[[round(a, 6), round(b, 6)] for a, b in ring]]}

    features = [
        {"type": "Feature", "properties": {"id": "d-bench", "name": "区", "level": "district"},
         "geometry": box(lon0 - 0.01, lat0 - 0.01, width + 0.02, height + 0.02)},
        {"type": "Feature",
         "properties": {"id": "s-bench", "name": "基准街道", "level": "street", "parent": "d-bench"},
         "geometry": box(lon0, lat0, width, height)},
    ]  # fmt: skip
    workers = []
    n = 0
    for c in range(COMMUNITIES):
        cy = lat0 + c * rows_per * CELL
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "id": f"c-{c:02d}",
                    "name": f"第{c + 1}社区",
                    "level": "community",
                    "parent": "s-bench",
                },
                "geometry": box(lon0, cy, width, rows_per * CELL),
            }
        )
        for i in range(per):
            if n >= grids:
                break
            gid = f"g-{c:02d}-{i:03d}"
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "id": gid,
                        "name": f"{c + 1}社区{i + 1}网格",
                        "level": "grid",
                        "parent": f"c-{c:02d}",
                        "households": 400,
                    },
                    "geometry": box(lon0 + (i % cols) * CELL, cy + (i // cols) * CELL, CELL, CELL),
                }
            )
            workers.append(
                {"id": f"w-{c:02d}-{i:03d}", "name": f"网格员{n + 1}", "role": "full_time", "home_grid": gid,
                 "duty": ["always"]}
            )  # fmt: skip
            n += 1
    (site / "grids.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    (site / "workers.yaml").write_text(yaml.safe_dump({"workers": workers}, allow_unicode=True))
    (site / "site.yaml").write_text(
        yaml.safe_dump(
            {"site": {"id": "bench", "name": "基准街道", "timezone": "Asia/Shanghai"}}, allow_unicode=True
        )
    )
    escalation = yaml.safe_load((DEMO / "escalation.yaml").read_text(encoding="utf-8"))
    escalation["communities"] = {f"c-{c:02d}": {"name": f"第{c + 1}社区居委会"} for c in range(COMMUNITIES)}
    (site / "escalation.yaml").write_text(yaml.safe_dump(escalation, allow_unicode=True))
    node = {
        "node": {"id": "node-bench", "name": "基准节点",
                 "location": {"lon": lon0 + 0.001, "lat": lat0 + 0.001}},
        "sensors": [
            {"id": "smk-bench-1", "name": "烟感", "kind": "smoke", "report_interval_s": 3600,
             "location": {"lon": lon0 + 0.001, "lat": lat0 + 0.001},
             "source": {"protocol": "zigbee2mqtt", "friendly_name": "bench_smoke_1"}}
        ],
    }  # fmt: skip
    (site / "nodes").mkdir()
    (site / "nodes" / "node-bench.yaml").write_text(yaml.safe_dump(node, allow_unicode=True))
    (site / "analytics.yaml").write_text(
        yaml.safe_dump({"weekly_report": {"editions": [{"area": "s-bench"}]}})
    )
    return site


# ---------------------------------------------------------------- the year, set-based
IDS = {  # string columns holding a case's or task's id (or a key unique per copy)
    "cases": {"id", "merged_into", "place_key"},
    "tasks": {"id", "case_id"},
    "sla_timers": {"key", "case_id", "task_id"},
    "escalations": {"case_id"},
    "false_alarm_feedback": {"case_id"},
    "events": {"id", "case_id", "task_id"},
    "patrol_stops": {"task_id"},
}
KEPT_IDS = {"patrol_plans": "id", "patrol_stops": "plan_id"}  # integer ids that others point at


def copy_forward(conn: Any, copies: int, span_days: int) -> None:
    """Each table's rows again ``copies`` times, ``span_days`` apart: one INSERT ... SELECT each."""
    stride = int(conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM patrol_plans")).scalar())
    for table in TABLES:
        cols, exprs = [], []
        for col in Base.metadata.tables[table].columns:
            name = col.name
            kind = type(col.type).__name__
            if name in IDS.get(table, ()):
                expr = f"CASE WHEN {name} IS NULL THEN NULL ELSE md5({name} || ':' || k)::uuid::text END"
            elif KEPT_IDS.get(table) == name:
                expr = f"{name} + k * {stride}"
            elif name == "id" and kind in ("Integer", "BigInteger"):
                continue  # the sequence gives it
            elif kind == "UtcDateTime":
                expr = f"{name} + k * interval '{span_days} days'"
            elif name == "day":
                expr = f"to_char({name}::date + k * {span_days}, 'YYYY-MM-DD')"
            else:
                expr = name
            cols.append(name)
            exprs.append(expr)
        conn.execute(
            text(
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} "
                f"FROM {table} CROSS JOIN generate_series(1, {copies}) AS k"
            )
        )


def advance(conn: Any) -> None:
    for table in (
        "sla_timers",
        "escalations",
        "false_alarm_feedback",
        "patrol_plans",
        "patrol_stops",
        "patrol_tracks",
    ):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        )


def fill(
    engine: Any, site: Site, start: datetime, base_weeks: int, weeks: int, rate: float
) -> dict[str, Any]:
    t0 = time.perf_counter()
    columns: dict[str, list[str]] = {}  # what the generator fills (serial ids are the database's)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            for day in History(site, start, base_weeks, cases_per_grid_week=rate).days():
                for t in TABLES:
                    if t not in columns and day.tables[t]:
                        columns[t] = list(day.tables[t][0])
                copy_rows(cur, day, columns)
        raw.commit()
    finally:
        raw.close()
    drawn = time.perf_counter() - t0
    with engine.begin() as conn:
        advance(conn)
        # Plain indexes are dropped while the year is copied and built once after: maintaining
        # them row by row took most of the fill (220 s of 232 s for a year of 500 grids).
        names = ", ".join(f"'{t}'" for t in TABLES)
        plain = conn.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                f"AND i.tablename IN ({names}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "WHERE c.conname = i.indexname)"
            )
        ).all()
        for name, _ in plain:
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        copy_forward(conn, weeks // base_weeks - 1, 7 * base_weeks)
        for _, definition in plain:
            conn.execute(text(definition))
        advance(conn)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        counts = {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in TABLES}
    return {"generate_s": round(drawn, 1), "fill_s": round(time.perf_counter() - t0, 1), "rows": counts}


# ---------------------------------------------------------------- the measures
def timed(fn: Any, repeat: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grids", type=int, default=500)
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--base-weeks", type=int, default=4)
    ap.add_argument("--rate", type=float, default=15.0, help="cases per grid and week (before hotspots)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg", default=PG)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    site = load_site(street(tmp, args.grids))
    tz = site.settings.site.tz
    first = date(2025, 12, 1)  # a Monday; the year runs to the end of November 2026
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end = start + timedelta(days=7 * args.weeks)
    schema = f"bench_analytics_{os.getpid()}"
    admin = make_engine(args.pg)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(f"{args.pg}?options=-csearch_path%3D{schema}")
    try:
        upgrade(engine)
        filled = fill(engine, site, start, args.base_weeks, args.weeks, args.rate)
        sessions = session_factory(engine)
        now = end + timedelta(days=1, hours=9)  # Tuesday morning after the year
        ctx = GatewayContext(site, clock=ManualClock(now))
        week = last_full_week(now, tz)
        month = month_of(
            (end - timedelta(days=1)).astimezone(tz).date().replace(day=1) - timedelta(days=1), tz
        )

        def report() -> int:
            with sessions() as s:
                drawn = draw_report(s, ctx, "s-bench", week, now)
            return len(drawn.pdf)

        def figures() -> int:
            with sessions() as s:
                return weekly_figures(s, site, "s-bench", None, week).cases

        def assessment() -> int:
            with sessions() as s:
                places = SiteMap(site)
                scheme = site.analytics.assessment
                workers = assess(s, places, scheme, month, "worker")
                grids = assess(s, places, scheme, month, "grid")
            return len(workers) + len(grids)

        figures_s, week_cases = timed(figures, args.repeat)  # the database's part of the report
        report_s, pdf_bytes = timed(report, args.repeat)  # the first run also loads matplotlib
        assess_s, lines = timed(assessment, args.repeat)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    rows = filled["rows"]
    print(
        json.dumps(
            {
                "bench": "analytics",
                "grids": args.grids,
                "weeks": args.weeks,
                "cases": rows["cases"],
                "tasks": rows["tasks"],
                "rows_total": sum(rows.values()),
                "rows": rows,
                "generate_s": filled["generate_s"],
                "fill_s": filled["fill_s"],
                "week": week.label,
                "month": month.label,
                "week_cases": week_cases,
                "weekly_figures_s": [round(x, 2) for x in figures_s],
                "weekly_report_s": [round(x, 2) for x in report_s],
                "weekly_report_median_s": round(statistics.median(report_s), 2),
                "pdf_bytes": pdf_bytes,
                "assessment_s": [round(x, 2) for x in assess_s],
                "assessment_median_s": round(statistics.median(assess_s), 2),
                "assessment_lines": lines,
            }
        )
    )


if __name__ == "__main__":
    main()
