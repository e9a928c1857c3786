"""The API while its database goes away: a 503 with the one error body and Retry-After (phones and
the console retry), not a bare 500; and back to normal once the database answers again.

PostgreSQL itself is shared by the suite, so it "goes away" behind a TCP relay the test cuts
(tests/support/net/cutter.py): the API's connections are dropped and new ones closed at once, as
when the database host or its network fails.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from cloud_api.app import create_app
from gateway.people.models import Role
from gateway.store.db import make_engine, session_factory
from tests.support.net.cutter import Cutter
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person, api_settings

PASSWORD = "operator-pass-1"


def test_a_database_that_goes_away_is_a_503_to_retry_and_the_api_recovers(pg_url: str) -> None:
    host_port = "127.0.0.1:5432"
    assert host_port in pg_url
    proxy = Cutter("127.0.0.1", 5432)
    try:
        settings = api_settings(DEMO_SITE, pg_url.replace(host_port, f"127.0.0.1:{proxy.port}"))
        with TestClient(create_app(settings)) as client:  # migrates the schema through the proxy
            direct = make_engine(pg_url)
            add_person(session_factory(direct), "op-1", (Role.OPERATOR,), (), PASSWORD)
            direct.dispose()
            signed = client.post("/api/v1/auth/sign-in", json={"username": "op-1", "password": PASSWORD})
            assert signed.status_code == 200, signed.text
            client.cookies.clear()
            auth = {"Authorization": f"Bearer {signed.json()['access_token']}"}
            assert client.get("/api/v1/cases", headers=auth).status_code == 200

            proxy.cut()
            for path in ("/api/v1/cases", "/api/v1/cases", "/api/v1/workers"):  # dropped, then closed at once
                down = client.get(path, headers=auth)
                assert down.status_code == 503, (path, down.status_code, down.text)
                assert down.headers["retry-after"] == "5"
                assert "database" in down.json()["detail"]

            proxy.restore()
            back = client.get("/api/v1/cases", headers=auth)
            assert back.status_code == 200, back.text
    finally:
        proxy.close()
