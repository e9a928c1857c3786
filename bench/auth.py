"""What access control costs: checking a request's token and areas on a read, and a sign-in.

- ``read``: ``GET /api/v1/cases?limit=10`` through the whole app (ASGI, in process) on a SQLite
  store holding cases in two communities, by an operator of one of them with a real access token
  (JWT check, account state, area filter in the query) — and, interleaved in the same loop, the
  same read with the token check short-circuited to a whole-site caller (no token to verify, no
  area filter). The difference of the two is what auth adds.
- ``identify``: the token check alone (``Guard.identify``) on a prepared request;
  ``guard_step_in_requests``: the guard's whole step (token, account state, role) timed inside the
  ``with`` requests; ``area_filter``: the case list query with and without the caller's areas.
- ``argon2``: one password check with the shipped parameters, and a whole ``POST /auth/sign-in``.

    .venv/bin/python bench/auth.py            # about a minute; --quick for a smoke run

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from starlette.requests import Request

from cloud_api.app import create_app
from cloud_api.auth.caller import Caller
from cloud_api.auth.permissions import Access, Perm, reaches
from cloud_api.auth.places import case_filter
from cloud_api.settings import ApiSettings
from contracts import HazardEvent, encode, topics
from contracts.clock import ManualClock
from contracts.site import load_site
from gateway.cases import queries
from gateway.context import GatewayContext
from gateway.flows.ingest import Incoming, Pipeline
from gateway.people import service
from gateway.people.areas import EVERYWHERE
from gateway.people.models import Role
from gateway.people.passwords import Passwords
from gateway.store.db import make_engine, session_factory

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "device_configs" / "demo_site"
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai
PASSWORD = "bench passphrase 1"
DEVICES = ["smk-factory-a1", "gas-workshop-b1", "smk-gongye-dorm-3", "smk-rental-12", "smk-rental-15"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary_us(values_s: list[float]) -> dict[str, float]:
    us = [v * 1e6 for v in values_s]
    return {"p50_us": round(pct(us, 0.5), 1), "p99_us": round(pct(us, 0.99), 1), "n": len(us)}


def fill_store(db_url: str, cases: int) -> None:
    """Cases in both communities, raised through the gateway's own pipeline."""
    site = load_site(SITE)
    sessions = session_factory(make_engine(db_url))
    clock = ManualClock(T0)
    pipeline = Pipeline(sessions, GatewayContext(site, "bench", clock))
    seqs: dict[str, int] = {}
    for i in range(cases):
        device = DEVICES[i % len(DEVICES)]
        node_id, _ = site.device(device)  # type: ignore[misc]
        seqs[node_id] = seqs.get(node_id, 0) + 1
        event = HazardEvent(
            source=node_id,
            seq=seqs[node_id],
            ts=clock.now(),
            hazard_type=["smoke_alarm", "gas_leak", "fire_smoke", "tamper"][i // len(DEVICES) % 4],
            severity="major",
            confidence=0.9,
            state="new",
            episode_id=f"ep-{i}",
            device_id=device,
        )
        pipeline.process([Incoming(topics.node_event(node_id), encode(event))])
        clock.advance(7)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    reads = 300 if args.quick else 4000
    checks = 5 if args.quick else 30

    workdir = Path(tempfile.mkdtemp(prefix="gw-auth-bench-"))
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    settings = ApiSettings(site_dir=SITE, database_url=db_url, jwt_keys="k1:" + "b" * 64)
    app = create_app(settings, clock=ManualClock(T0))
    out: dict[str, Any] = {"bench": "auth", "loadavg_1m": round(os.getloadavg()[0], 2)}
    with TestClient(app) as client:
        fill_store(db_url, 40)
        passwords = Passwords()  # the shipped argon2id parameters
        with app.state.sessions() as s, s.begin():
            spec = service.PersonSpec("op-park", "Park operator", (Role.OPERATOR,), ("c-gongye",))
            person = service.add_person(s, spec, "bench", T0, passwords.hash(PASSWORD))
            person.must_change_password = False

        # --- argon2: one check, and a whole sign-in
        digest = passwords.hash(PASSWORD)
        check_s = []
        for _ in range(checks):
            started = time.perf_counter()
            assert passwords.check(digest, PASSWORD)
            check_s.append(time.perf_counter() - started)
        sign_in_s = []
        token = ""
        for _ in range(max(3, checks // 3)):
            started = time.perf_counter()
            r = client.post("/api/v1/auth/sign-in", json={"username": "op-park", "password": PASSWORD})
            sign_in_s.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
        out["argon2"] = {
            "params": "argon2id t=2 m=65536KiB p=1",
            "check_ms_p50": round(statistics.median(check_s) * 1e3, 1),
            "check_ms_min": round(min(check_s) * 1e3, 1),
            "check_ms_max": round(max(check_s) * 1e3, 1),
            "sign_in_ms_p50": round(statistics.median(sign_in_s) * 1e3, 1),
            "sign_in_ms_max": round(max(sign_in_s) * 1e3, 1),
        }
        client.cookies.clear()

        # --- the token check alone
        guard = app.state.guard
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/cases",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "query_string": b"",
        }
        identify_s = []
        for _ in range(reads):
            request = Request(dict(scope))
            started = time.perf_counter()
            guard.identify(request)
            identify_s.append(time.perf_counter() - started)
        out["identify"] = summary_us(identify_s)

        # --- a read with and without (interleaved: the same load on both)
        everyone = Caller("bench", "person", "bench", frozenset({Role.OPERATOR}), EVERYWHERE)
        real_identify = guard.identify
        real_admit = guard.admit
        admit_s: list[float] = []

        def timed_admit(request: Request, permission: Any) -> None:
            started = time.perf_counter()
            real_admit(request, permission)
            admit_s.append(time.perf_counter() - started)

        guard.admit = timed_admit  # the guard's whole step, inside real requests

        def without(_request: Request) -> tuple[Caller, bool, str]:
            return everyone, False, ""

        headers = {"Authorization": f"Bearer {token}"}
        url = "/api/v1/cases?limit=10"  # the operator sees more than 10: both answers carry 10 cases
        with_s, without_s = [], []
        for i in range(reads + 200):
            for mode in ("with", "without") if i % 2 else ("without", "with"):
                guard.identify = real_identify if mode == "with" else without
                started = time.perf_counter()
                r = client.get(url, headers=headers)
                elapsed = time.perf_counter() - started
                assert r.status_code == 200
                if i >= 200:  # warm-up left out
                    (with_s if mode == "with" else without_s).append(elapsed)
        guard.identify, guard.admit = real_identify, real_admit

        # --- the area filter alone: the same list query with and without it, interleaved
        operator = app.state.book.current().people["op-park"].caller
        access = Access(operator, Perm.READ_CASES, reaches(operator, Perm.READ_CASES))
        filtered_s, plain_s = [], []
        with app.state.read_sessions() as session:
            for i in range(reads):
                for mode in ("filtered", "plain") if i % 2 else ("plain", "filtered"):
                    started = time.perf_counter()
                    where = case_filter(access, app.state.site) if mode == "filtered" else None
                    queries.list_cases(session, None, False, None, None, 10, 0, where)
                    (filtered_s if mode == "filtered" else plain_s).append(time.perf_counter() - started)
                session.rollback()
        out["area_filter"] = {
            "filtered": summary_us(filtered_s),
            "plain": summary_us(plain_s),
            "added_p99_us": round((pct(filtered_s, 0.99) - pct(plain_s, 0.99)) * 1e6, 1),
        }
        seen_with = len(client.get(url, headers=headers).json()["items"])
        out["read"] = {
            "with_auth": summary_us(with_s),
            "without_auth": summary_us(without_s),
            "added_p50_us": round((pct(with_s, 0.5) - pct(without_s, 0.5)) * 1e6, 1),
            "added_p99_us": round((pct(with_s, 0.99) - pct(without_s, 0.99)) * 1e6, 1),
            "guard_step_in_requests": summary_us(admit_s),
            "cases_seen_by_the_operator": seen_with,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
