"""The gateway's main-thread work per ingested message, in one process (issue 19): ONE JSON line.

    .venv/bin/python bench/ingest_profile.py [--messages 20000] [--baseline DIR] [--profile]

bench/ingest.py's workload (half hazard events from 40 places, folding into their cases after the
first batch; half sensor readings) handed to the gateway's ``Pipeline`` in batches of 500 on a
SQLite store, no broker: the part of a gateway the broker ceiling does not include. Reports CPU
microseconds per message (``time.process_time``). ``--baseline DIR`` runs the same in a subprocess
with the code checked out in DIR, alternating with today's (``--rounds``, 3). ``--profile``: cProfile with
a CPU clock, to stderr (cumulative order).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(REPO))


def measure(messages: int, profile: bool) -> float:
    logging.disable(logging.WARNING)
    import bench.ingest as workload_of
    from contracts.clock import SystemClock
    from contracts.site import load_site
    from gateway.context import GatewayContext
    from gateway.flows.ingest import Incoming, Pipeline
    from gateway.schema.migrate import upgrade
    from gateway.store.db import make_engine, session_factory

    tmp = Path(tempfile.mkdtemp())
    site = load_site(workload_of.bench_site(tmp))
    iters = {t: iter(p) for t, p in workload_of.workload(messages).items()}
    incoming = []
    while iters:  # topics interleaved, as the broker hands them over
        for topic in list(iters):
            try:
                incoming.append(Incoming(topic, next(iters[topic])))
            except StopIteration:
                del iters[topic]
    engine = make_engine(f"sqlite:///{tmp}/gateway.db")
    upgrade(engine)
    sessions = session_factory(engine)
    ctx = GatewayContext(site, "bench-gw", SystemClock())
    pipeline = Pipeline(sessions, ctx)
    try:  # the device registry follows the site, as Gateway.run syncs it before its loop: without
        # rows, the fleet notes looked every bench device up again in every batch
        from gateway.devices.registry import sync_from_site

        with sessions.begin() as session:
            sync_from_site(session, site, ctx.grids, ctx.now())
    except ImportError:
        pass
    try:  # as Gateway.run does before its loop (code from before settle_heap does not)
        from gateway.service import settle_heap

        settle_heap()
    except ImportError:
        pass
    pipeline.process(incoming[:500])  # the 40 cases open: not what is measured
    rest = incoming[500:]
    profiler = cProfile.Profile(time.process_time) if profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    for k in range(0, len(rest), 500):
        pipeline.process(rest[k : k + 500])
    if profiler:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    cpu = time.process_time() - started
    engine.dispose()
    return cpu / len(rest) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--baseline", help="a checkout of the code to compare with (same run)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="alternations with --baseline")
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.code:
        print(json.dumps(measure(args.messages, False)))
        return
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.rounds if args.baseline else 1):
        if args.baseline:
            cmd = [sys.executable, __file__, "--code", args.baseline, "--messages", str(args.messages)]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            theirs.append(round(json.loads(done.stdout.strip().splitlines()[-1]), 1))
        ours.append(round(measure(args.messages, args.profile), 1))
    out: dict[str, object] = {
        "bench": "ingest_profile",
        "messages": args.messages,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpu_us_per_message": ours,
    }
    if theirs:
        out["baseline_cpu_us_per_message"] = theirs
        # On a shared machine contention only ever adds CPU time: the least of each is the steadier figure.
        out["min_ratio"] = round(min(ours) / min(theirs), 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
