"""Signing in and staying signed in: cookies and CSRF, refresh, sign-out, password change,
disabling a person, slow-down after failures, tampered tokens, hostile input — on SQLite and
PostgreSQL, on an injected clock."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud_api.app import create_app
from contracts.clock import ManualClock
from gateway.people import service
from gateway.people.models import Person, Role, SecurityEvent
from gateway.store.db import make_engine, session_factory
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person, api_settings

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
KEY = "k1:" + "s" * 64
PASSWORD = "correct horse 42"
DESK = ("10.1.0.7", 40000)  # op-zhang's own desk
ELSEWHERE = ("203.0.113.9", 40000)


@dataclass
class Api:
    clock: ManualClock
    sessions: sessionmaker[Session]
    app: object

    def client(self, address: tuple[str, int] = DESK) -> TestClient:
        return TestClient(self.app, client=address)  # type: ignore[arg-type]

    def log(self, kind: str) -> list[SecurityEvent]:
        with self.sessions() as s:
            return list(s.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)))


@pytest.fixture
def api(db_url: str, migrated_store: None) -> Iterator[Api]:
    clock = ManualClock(T0)
    app = create_app(api_settings(DEMO_SITE, db_url, jwt_keys=KEY), clock=clock)
    engine = make_engine(db_url)
    with TestClient(app):  # runs start-up: migrations, worker accounts
        sessions = session_factory(engine)
        add_person(sessions, "op-zhang", [Role.OPERATOR], ["c-gongye"], PASSWORD, name="张伟")
        add_person(sessions, "ad-min", [Role.ADMIN], ["d-binhu"], PASSWORD)
        yield Api(clock, sessions, app)
    engine.dispose()


def sign_in(client: TestClient, username: str = "op-zhang", password: str = PASSWORD) -> dict:
    r = client.post("/api/v1/auth/sign-in", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(session: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def test_a_page_signs_in_with_cookies_and_writes_only_with_the_csrf_header(api: Api) -> None:
    page = api.client()
    r = page.post("/api/v1/auth/sign-in", json={"username": "op-zhang", "password": PASSWORD})
    assert r.status_code == 200
    cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
    assert {"gw_access", "gw_refresh", "gw_csrf"} <= set(cookies)
    for name in ("gw_access", "gw_refresh"):
        assert "HttpOnly" in cookies[name] and "SameSite=strict" in cookies[name]
    assert "HttpOnly" not in cookies["gw_csrf"]  # the page reads it to send it back
    assert "Path=/api/v1/auth" in cookies["gw_refresh"]  # never sent with ordinary requests
    body = r.json()
    assert body["me"]["id"] == "op-zhang" and body["me"]["display_name"] == "张伟"
    assert body["me"]["roles"] == ["operator"] and body["me"]["areas"] == ["c-gongye"]
    csrf = body["csrf_token"]
    assert page.cookies["gw_csrf"] == csrf

    # reads with the cookie alone
    assert page.get("/api/v1/me").json()["id"] == "op-zhang"
    assert page.get("/api/v1/cases").status_code == 200
    # a write with the cookie but without the header is what a forged cross-site form sends
    away = {"available": False, "reason": "sick"}
    for headers in ({}, {"X-CSRF-Token": "guess"}, {"X-CSRF-Token": csrf + "x"}):
        r = page.put("/api/v1/workers/w-ma-li/availability", json=away, headers=headers)
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"].replace(
            "x-csrf-token", "X-CSRF-Token"
        )
    assert page.get("/api/v1/workers/w-ma-li/availability").json()["available"] is True  # nothing changed
    r = page.put("/api/v1/workers/w-ma-li/availability", json=away, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["updated_by"] == "op-zhang"
    # a bearer token needs no CSRF header: no browser sends Authorization by itself
    script = api.client()
    r = script.put("/api/v1/workers/w-ma-li/availability", json={"available": True}, headers=bearer(body))
    assert r.status_code == 200
    assert any("x-csrf-token" in e.reason for e in api.log("refused"))


def test_refresh_sign_out_and_expiry(api: Api) -> None:
    page = api.client()
    session = sign_in(page)
    csrf = session["csrf_token"]
    assert session["expires_in"] == 300
    api.clock.advance(301)  # the access token has run out
    r = page.get("/api/v1/me")
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert page.post("/api/v1/auth/refresh").status_code == 403  # refresh needs the CSRF header too
    r = page.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["csrf_token"] == csrf
    assert page.get("/api/v1/me").status_code == 200  # the new access cookie
    old_bearer = bearer(r.json())

    r = page.post("/api/v1/auth/sign-out", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert all("Max-Age=0" in c or "expires=" in c.lower() for c in r.headers.get_list("set-cookie"))
    # the access token of that session stops at once, the refresh cookie too
    assert api.client().get("/api/v1/me", headers=old_bearer).status_code == 401
    page.cookies.set("gw_refresh", "gwr_made-up", path="/api/v1/auth")
    assert page.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf}).status_code == 401
    # a missing cookie: the same error body as everything else
    r = api.client().post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 401 and set(r.json()) == {"detail"}


def test_a_disabled_person_is_out_within_seconds_everywhere(api: Api) -> None:
    mine = sign_in(api.client())
    phone = api.client(ELSEWHERE)
    phone_session = sign_in(phone)
    with api.sessions() as s, s.begin():
        token = service.add_token(s, "phone-zhang", Role.OPERATOR, (), "test", T0, person_id="op-zhang")
    api.clock.advance(5)
    assert api.client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    # an admin disables them from another process (the CLI): this API learns it from the store
    with api.sessions() as s, s.begin():
        service.set_active(s, s.get(Person, "op-zhang"), False, "cli", T0)  # type: ignore[arg-type]
    api.clock.advance(5)  # GRIDWATCH_ACCESS_CHECK_S
    for headers in (bearer(mine), {"Authorization": f"Bearer {token}"}):
        r = api.client().get("/api/v1/cases", headers=headers)
        assert r.status_code == 401, r.text
    assert phone.get("/api/v1/cases").status_code == 401  # the cookie session too
    r = phone.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": phone_session["csrf_token"]})
    assert r.status_code == 401
    r = api.client().post("/api/v1/auth/sign-in", json={"username": "op-zhang", "password": PASSWORD})
    assert r.status_code == 401 and r.json() == {"detail": "wrong username or password"}
    assert any("account disabled" in e.reason for e in api.log("sign_in_failed"))

    with api.sessions() as s, s.begin():
        service.set_active(s, s.get(Person, "op-zhang"), True, "cli", T0)  # type: ignore[arg-type]
    api.clock.advance(5)
    assert api.client().get("/api/v1/cases", headers=bearer(mine)).status_code == 401  # sessions stay ended
    assert api.client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(api: Api) -> None:
    desk, phone = api.client(), api.client(ELSEWHERE)
    here, there = sign_in(desk), sign_in(phone)
    bad = {"current_password": "not it", "new_password": "a new passphrase"}
    r = desk.post("/api/v1/auth/password", json=bad, headers={"X-CSRF-Token": here["csrf_token"]})
    assert r.status_code == 403
    weak = {"current_password": PASSWORD, "new_password": "short"}
    r = desk.post("/api/v1/auth/password", json=weak, headers={"X-CSRF-Token": here["csrf_token"]})
    assert r.status_code == 422 and "at least 10 characters" in r.json()["detail"]
    good = {"current_password": PASSWORD, "new_password": "a new passphrase"}
    r = desk.post("/api/v1/auth/password", json=good, headers={"X-CSRF-Token": here["csrf_token"]})
    assert r.status_code == 200
    assert desk.get("/api/v1/me").status_code == 200  # this session goes on (a new access cookie)
    assert phone.get("/api/v1/me").status_code == 401  # the other one has ended
    assert (
        phone.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": there["csrf_token"]}).status_code == 401
    )
    r = api.client().post("/api/v1/auth/sign-in", json={"username": "op-zhang", "password": PASSWORD})
    assert r.status_code == 401
    sign_in(api.client(), password="a new passphrase")


def test_a_one_time_password_must_be_replaced_before_anything_else(api: Api) -> None:
    admin = api.client()
    admin_session = sign_in(admin, "ad-min")
    r = admin.post(
        "/api/v1/people",
        json={"id": "inst-li", "display_name": "李工", "roles": ["installer"], "areas": ["c-donghu"]},
        headers={"X-CSRF-Token": admin_session["csrf_token"]},
    )
    assert r.status_code == 201
    otp = r.json()["one_time_password"]
    assert r.json()["person"]["must_change_password"] is True
    fresh = api.client(ELSEWHERE)
    session = sign_in(fresh, "inst-li", otp)
    assert session["me"]["must_change_password"] is True
    assert fresh.get("/api/v1/me").status_code == 200
    r = fresh.get("/api/v1/devices")
    assert r.status_code == 403 and "choose your own password" in r.json()["detail"]
    change = {"current_password": otp, "new_password": "李工的新密码-2026"}
    r = fresh.post("/api/v1/auth/password", json=change, headers={"X-CSRF-Token": session["csrf_token"]})
    assert r.status_code == 200 and r.json()["me"]["must_change_password"] is False
    devices = fresh.get("/api/v1/devices").json()
    assert devices and {d["grid_id"] for d in devices} <= {
        "g-donghu-01",
        "g-donghu-02",
        "g-donghu-03",
        "g-donghu-04",
    }


def test_failed_sign_ins_slow_down_without_locking_the_owner_out(api: Api) -> None:
    attacker = api.client(ELSEWHERE)
    wrong = {"username": "op-zhang", "password": "guess"}
    for _ in range(5):
        assert attacker.post("/api/v1/auth/sign-in", json=wrong).status_code == 401
    r = attacker.post("/api/v1/auth/sign-in", json=wrong)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    # even the right password waits: nothing is checked while slowed down
    right = {"username": "op-zhang", "password": PASSWORD}
    assert attacker.post("/api/v1/auth/sign-in", json=right).status_code == 429
    assert api.log("sign_in_throttled")
    # the owner at their own desk (where they signed in before) is not slowed by it
    with api.sessions() as s, s.begin():
        person = s.get(Person, "op-zhang")
        service.open_session(s, person, DESK[0], "", T0, 3600)  # type: ignore[arg-type]
    sign_in(api.client(DESK))
    # the slow-down doubles and stops at 30 s: the account is never locked for long
    waits = []
    for _ in range(8):
        api.clock.advance(31)
        attacker.post("/api/v1/auth/sign-in", json=wrong)
        r = attacker.post("/api/v1/auth/sign-in", json=wrong)
        waits.append(int(r.headers.get("retry-after", "0")))
    assert max(waits) == 30 and waits == sorted(waits)
    api.clock.advance(31)
    assert attacker.post("/api/v1/auth/sign-in", json=right).status_code == 200


def test_one_address_guessing_many_accounts_is_slowed_down(api: Api) -> None:
    spray = api.client(("198.51.100.4", 1))
    for i in range(20):
        r = spray.post("/api/v1/auth/sign-in", json={"username": f"user-{i}", "password": "Winter2026!"})
        assert r.status_code == 401
    r = spray.post("/api/v1/auth/sign-in", json={"username": "user-99", "password": "Winter2026!"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 2
    # another address is not affected
    sign_in(api.client(("198.51.100.5", 1)))


def _forge(claims: dict, key: bytes, alg: str = "HS256", kid: str = "k1") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_access_tokens_are_refused(api: Api) -> None:
    session = sign_in(api.client())
    token = session["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    anyone = api.client(ELSEWHERE)

    def refused(forged: str, why: str) -> None:
        r = anyone.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401, (why, r.text)
        assert set(r.json()) == {"detail"} and r.headers["www-authenticate"].startswith("Bearer")

    # alg "none": no signature at all
    refused(f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{payload}.", "alg none")
    refused(f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{payload}.{signature}", "alg none + sig")
    # signed with another key, or naming an unknown key
    refused(_forge(claims, b"x" * 64), "wrong key")
    refused(_forge(claims, b"s" * 64, kid="k2"), "unknown kid")
    # another person's sub (an admin!) on op-zhang's signature
    refused(f"{header}.{_b64({**claims, 'sub': 'ad-min'})}.{signature}", "other sub")
    # a later expiry on the old signature
    refused(f"{header}.{_b64({**claims, 'exp': claims['exp'] + 86400})}.{signature}", "longer exp")
    # HS512 with the right secret is still not the algorithm this site signs with
    refused(_forge(claims, b"s" * 64, alg="HS512"), "other alg")
    refused("a.b.c", "garbage")
    # the genuine token works, until it expires
    assert anyone.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    api.clock.advance(300)
    refused(token, "expired")


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nobody", "password": PASSWORD},
        {"username": "op-zhang", "password": "wrong"},
        {"username": "op-zhang", "password": "x" * 1_000_000},  # a 1 MB password: refused unhashed
        {"username": "ｏｐ－ｚｈａｎｇ", "password": PASSWORD},  # full-width look-alike
        {"username": "\u202eop-zhang", "password": PASSWORD},  # right-to-left override
        {"username": "😀" * 1000, "password": PASSWORD},
        {"username": "", "password": ""},
    ],
)
def test_bad_sign_ins_get_one_answer_shape_and_never_a_server_error(api: Api, body: dict) -> None:
    r = api.client(("192.0.2.1", 1)).post("/api/v1/auth/sign-in", json=body)
    assert r.status_code == 401 and r.json() == {"detail": "wrong username or password"}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b'{"username": 5, "password": []}',
        b'{"username": "\\ud800", "password": "x"}',
        b'{"username": "op-zhang\\u0000", "password": "x"}',
        b"NaN",
    ],
)
def test_malformed_sign_in_bodies_are_422_with_the_same_shape(api: Api, raw: bytes) -> None:
    r = api.client().post("/api/v1/auth/sign-in", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


def test_refusals_are_on_the_security_log_with_who_and_why(api: Api) -> None:
    session = sign_in(api.client())
    api.client().get("/api/v1/people", headers=bearer(session))  # an operator is not an admin
    api.client().get("/api/v1/cases/nope", headers={"Authorization": "Bearer gwt_stolen-looking"})
    admin = sign_in(api.client(), "ad-min")
    log = api.client().get("/api/v1/security-log?kind=refused", headers=bearer(admin)).json()
    reasons = [(e["actor"], e["route"], e["reason"]) for e in log]
    assert (
        "person:op-zhang",
        "GET /api/v1/people",
        "403: operator op-zhang may not do this (people:manage)",
    ) in reasons
    assert ("", "GET /api/v1/cases/nope", "401: unknown or revoked API token") in reasons
    assert all(e["address"] == DESK[0] for e in log)


def test_one_ipv6_prefix_guessing_many_accounts_is_slowed_down(api: Api) -> None:
    """A phone or a host on IPv6 has a whole /64 to pick its address from: counted by the
    address, a password spray from one machine moved to a fresh address each try and was never
    slowed down. Failures count against the /64, as residents' reports are counted."""
    for i in range(20):
        spray = api.client((f"2001:db8:7:1::{i + 1:x}", 1))
        r = spray.post("/api/v1/auth/sign-in", json={"username": f"user-{i}", "password": "Winter2026!"})
        assert r.status_code == 401
    r = api.client(("2001:db8:7:1:ffff::99", 1)).post(
        "/api/v1/auth/sign-in", json={"username": "user-99", "password": "Winter2026!"}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 2
    # another prefix is not affected
    sign_in(api.client(("2001:db8:7:2::1", 1)))
