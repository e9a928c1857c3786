"""A burst of new cases (issue 19): prints ONE JSON line of figures.

    .venv/bin/python bench/case_burst.py [--cases 1000] [--no-postgres] [--no-sqlite] [--baseline DIR]
                                           [--profile]

A thousand smoke alarms at distinct places of a synthetic town (tests/support/sites/town.py: 4,096
square grids, ~2,500 workers, 80 % with a GPS fix, 5 % unavailable, at most two open tasks each)
arrive together: the gateway's ingest pipeline (in this process, no broker) takes them in batches
of ``batch_max`` (the gateway's default, 200) as it would from the broker's backlog. Every case is
opened, announced, timed and offered to a worker (or escalated when nobody can go), and commits
with its batch.

- ``last_offer_s``: first batch taken → the last batch committed (every case dispatched);
- ``per_case_ms``: p50/p99 of (commit of its batch − the burst's start), per case;
- ``ms_per_case``: ``last_offer_s`` / cases (the main thread does nothing else);
- ``--baseline DIR``: the same town and alarms through the code checked out in DIR (e.g. the
  commit before this work in a temporary worktree), in a subprocess of the same run; its
  figures go beside today's under ``baseline``.

Absolute times depend on the machine's load (2 cores shared here): compare with the baseline of
the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.util
import json
import logging
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if "--code" in sys.argv:  # run against another checkout (the baseline)
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])
else:
    sys.path.insert(0, str(REPO))

from contracts.clock import ManualClock  # noqa: E402
from gateway.context import GatewayContext  # noqa: E402
from gateway.flows.ingest import Pipeline  # noqa: E402
from gateway.schema.migrate import upgrade  # noqa: E402
from gateway.store.db import make_engine, session_factory  # noqa: E402

PG_URL = os.environ.get("GRIDWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai


def _town_module():  # type: ignore[no-untyped-def]
    """tests/support/sites/town.py of THIS checkout, by path (the baseline's tree does not have it)."""
    spec = importlib.util.spec_from_file_location(
        "burst_town", REPO / "tests" / "support" / "sites" / "town.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["burst_town"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def burst(url: str, cases: int, batch_max: int, profile: Path | None) -> dict[str, object]:
    logging.disable(logging.WARNING)  # a line per shortfall and escalation: not what is measured
    town_mod = _town_module()
    town = town_mod.make_town(cases)
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        town_mod.seed_workers(s, town, NOW)
    ctx = GatewayContext(town.site, "gateway-1", ManualClock(NOW))
    pipeline = Pipeline(sessions, ctx)
    incoming = town_mod.alarms(town, NOW)
    commits: list[tuple[int, float]] = []
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for k in range(0, len(incoming), batch_max):
        batch = incoming[k : k + batch_max]
        pipeline.process(batch)
        commits.append((len(batch), time.perf_counter() - started))
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(profile))
    total = time.perf_counter() - started
    from sqlalchemy import func, select

    from gateway.cases.models import Case
    from gateway.dispatch.models import Task

    with sessions() as s:
        opened = s.scalar(select(func.count()).select_from(Case)) or 0
        offered = s.scalar(select(func.count()).select_from(Task)) or 0
    engine.dispose()
    per_case = sorted(t for n, t in commits for _ in range(n))
    return {
        "cases": int(opened),
        "offers": int(offered),
        "batches": len(commits),
        "last_offer_s": round(total, 3),
        "per_case_ms": {
            "p50": round(per_case[len(per_case) // 2] * 1e3, 1),
            "p99": round(per_case[min(len(per_case) - 1, int(len(per_case) * 0.99))] * 1e3, 1),
        },
        "ms_per_case": round(total / max(1, int(opened)) * 1e3, 2),
    }


def fresh_pg_schema() -> tuple[str, object]:
    from sqlalchemy import text

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def run_stores(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {}
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            prof = Path(tmp) / "sqlite.prof" if args.profile else None
            out["sqlite"] = burst(f"sqlite:///{tmp}/burst.db", args.cases, args.batch_max, prof)
            if prof:
                pstats.Stats(str(prof), stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    if args.postgres:
        url, drop = fresh_pg_schema()
        try:
            out["postgres"] = burst(url, args.cases, args.batch_max, None)
        finally:
            drop()  # type: ignore[operator]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--batch-max", type=int, default=200, help="the gateway's batch_max")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false")
    parser.add_argument("--baseline", help="a checkout of the code to compare with (same run)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the SQLite burst to stderr")
    parser.add_argument("--code", help=argparse.SUPPRESS)  # set by --baseline for the subprocess
    args = parser.parse_args()
    out: dict[str, object] = {"bench": "case_burst", "cases_sent": args.cases, "batch_max": args.batch_max}
    with contextlib.suppress(OSError):
        out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    if args.code:
        print(json.dumps(run_stores(args)))
        return
    if args.baseline:
        cmd = [sys.executable, __file__, "--code", args.baseline, "--cases", str(args.cases)]
        cmd += ["--batch-max", str(args.batch_max)] + ([] if args.postgres else ["--no-postgres"])
        cmd += [] if args.sqlite else ["--no-sqlite"]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        out["baseline"] = json.loads(done.stdout.strip().splitlines()[-1])
    out.update(run_stores(args))
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
