"""Managing people and machines: API tokens with their own role and areas, revoked without a
restart; tokens from access.yaml imported; grid workers' accounts following workers.yaml; who
did it on the trail; the CLI's first admin."""

from __future__ import annotations

from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from cloud_api.app import create_app
from contracts.site.access import hash_token
from gateway.cases.models import Case, CaseTransition
from gateway.people.models import Person, Role
from gridwatch.cli import app as cli
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person, api_settings
from tests.support.world import World


def _trail(world: World, case_id: str) -> list[CaseTransition]:
    with world.harness.sessions() as s:
        query = select(CaseTransition).where(CaseTransition.case_id == case_id).order_by(CaseTransition.id)
        return list(s.scalars(query))


def test_a_machine_token_has_its_role_and_areas_and_is_revoked_at_once(world: World) -> None:
    admin = world.headers["admin"]
    r = world.client.post(
        "/api/v1/tokens",
        json={"id": "hik-bridge", "role": "operator", "areas": ["c-donghu"], "note": "video platform"},
        headers=admin,
    )
    assert r.status_code == 201
    secret = r.json()["secret"]
    assert secret.startswith("gwt_") and "secret" not in r.json()["token"]
    machine = {"Authorization": f"Bearer {secret}"}
    me = world.client.get("/api/v1/me", headers=machine).json()
    assert me["kind"] == "token" and me["roles"] == ["operator"] and me["areas"] == ["c-donghu"]
    listed = {c["id"] for c in world.client.get("/api/v1/cases", headers=machine).json()["items"]}
    assert listed == {world.value("case", "out")}  # Donghu's case only
    # who did it: the trail names the token
    reopen = {"reason": "the kitchen called again"}
    r = world.client.post(f"/api/v1/cases/{world.value('case', 'out')}/reopen", json=reopen, headers=machine)
    assert r.status_code == 200, r.text
    reopened = [t for t in _trail(world, world.value("case", "out")) if t.to_status == "reopened"]
    assert [t.actor for t in reopened] == ["operator:token:hik-bridge"]
    # the store keeps only its hash
    listed_tokens = {t["id"]: t for t in world.client.get("/api/v1/tokens", headers=admin).json()}
    assert "sha256" not in listed_tokens["hik-bridge"] and listed_tokens["hik-bridge"]["areas"] == [
        "c-donghu"
    ]

    assert world.client.delete("/api/v1/tokens/hik-bridge", headers=admin).status_code == 200
    r = world.client.get("/api/v1/cases", headers=machine)
    assert r.status_code == 401 and r.json()["detail"] == "unknown or revoked API token"
    log = world.client.get("/api/v1/security-log", headers=admin).json()
    assert {"token_added", "token_revoked"} <= {e["kind"] for e in log}


def test_an_admin_changes_areas_and_roles_and_they_apply_at_once(world: World) -> None:
    admin, operator = world.headers["admin"], world.headers["operator"]
    case_out = world.value("case", "out")
    assert world.client.get(f"/api/v1/cases/{case_out}", headers=operator).status_code == 403
    r = world.client.patch("/api/v1/people/op-park", json={"areas": ["s-qingshan"]}, headers=admin)
    assert r.status_code == 200 and r.json()["areas"] == ["s-qingshan"]
    # a street covers all its communities: Donghu's case now
    assert world.client.get(f"/api/v1/cases/{case_out}", headers=operator).status_code == 200
    r = world.client.patch("/api/v1/people/op-park", json={"areas": ["m-gongye-03-a"]}, headers=admin)
    assert r.status_code == 422 and "micro_grid" in r.json()["detail"]
    r = world.client.patch("/api/v1/people/op-park", json={"areas": ["c-nowhere"]}, headers=admin)
    assert r.status_code == 422 and "no area 'c-nowhere'" in r.json()["detail"]
    # the last active admin can neither be disabled nor lose the role
    r = world.client.patch("/api/v1/people/ad-min", json={"active": False}, headers=admin)
    assert r.status_code == 422 and "last active admin" in r.json()["detail"]
    r = world.client.patch("/api/v1/people/ad-min", json={"roles": ["operator"]}, headers=admin)
    assert r.status_code == 422
    r = world.client.patch("/api/v1/people/op-park", json={"active": False}, headers=admin)
    assert r.status_code == 200
    assert world.client.get("/api/v1/me", headers=operator).status_code == 401


def test_a_department_acknowledges_an_escalated_case_once(world: World) -> None:
    desk = world.headers["department"]
    case_in = world.value("case", "in")
    r = world.client.post(
        f"/api/v1/cases/{case_in}/acknowledge", json={"note": "crew on the way"}, headers=desk
    )
    assert r.status_code == 200
    last = _trail(world, case_in)[-1]
    assert last.change == "acknowledged" and last.actor == "department:fire_brigade/fire-desk"
    assert last.reason.endswith(": crew on the way") and "消防" in last.reason
    again = world.client.post(f"/api/v1/cases/{case_in}/acknowledge", json={}, headers=desk)
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]


def test_access_yaml_tokens_keep_working_and_can_be_moved_into_the_store(
    site_copy: Path, harness: Harness, db_url: str
) -> None:
    (site_copy / "access.yaml").write_text(
        yaml.safe_dump(
            {
                "operators": [{"id": "op-zhao", "sha256": hash_token("s3cret-zhao-desk")}],
                "workers": [{"id": "w-ma-li", "sha256": hash_token("s3cret-ma-phone")}],
            }
        )
    )
    zhao = {"Authorization": "Bearer s3cret-zhao-desk"}
    ma = {"Authorization": "Bearer s3cret-ma-phone"}
    with TestClient(create_app(api_settings(site_copy, db_url), clock=harness.clock)) as api:
        assert api.get("/api/v1/me", headers=zhao).json()["everywhere"] is True  # the whole site, as before
        assert api.get("/api/v1/me", headers=ma).json()["worker_id"] == "w-ma-li"

        runner = CliRunner()
        done = runner.invoke(cli, ["users", "import-access", "--db", db_url, "--site", str(site_copy)])
        assert done.exit_code == 0 and "2 token(s) imported of 2" in done.output, done.output
        again = runner.invoke(cli, ["users", "import-access", "--db", db_url, "--site", str(site_copy)])
        assert "0 token(s) imported of 2" in again.output
        # now revocable without a restart (the file's line is still there: remove it, as told)
        with harness.sessions() as s:
            zhao_person = s.get(Person, "op-zhao")
            assert zhao_person is not None and zhao_person.roles == ["operator"]
        name = f"operator-op-zhao-{hash_token('s3cret-zhao-desk')[:8]}"
        assert runner.invoke(cli, ["users", "revoke", name, "--db", db_url]).exit_code == 0
        harness.clock.advance(5)
        # the store's revocation is known; access.yaml's line alone would still let it in
        assert api.get("/api/v1/me", headers=zhao).status_code == 200


def test_grid_workers_accounts_follow_workers_yaml(site_copy: Path, harness: Harness, db_url: str) -> None:
    with (
        TestClient(create_app(api_settings(site_copy, db_url), clock=harness.clock)),
        harness.sessions() as s,
    ):
        ma = s.get(Person, "w-ma-li")
        assert ma is not None and ma.roles == ["worker"] and ma.areas == ["g-gongye-01"]
        assert ma.display_name == "马丽" and ma.phone == "13800000011" and ma.password_hash is None
    # w-guo-xia leaves; w-hu-bin moves grid
    workers = yaml.safe_load((site_copy / "workers.yaml").read_text(encoding="utf-8"))
    workers["workers"] = [w for w in workers["workers"] if w["id"] != "w-guo-xia"]
    for w in workers["workers"]:
        if w["id"] == "w-hu-bin":
            w["home_grid"] = "g-gongye-04"
    (site_copy / "workers.yaml").write_text(yaml.safe_dump(workers, allow_unicode=True), encoding="utf-8")
    add_person(harness.sessions, "w-guo-xia", [Role.WORKER], ["g-gongye-04"], "guo-xia-password", "w-guo-xia")
    with TestClient(create_app(api_settings(site_copy, db_url), clock=harness.clock)) as api:
        r = api.post("/api/v1/auth/sign-in", json={"username": "w-guo-xia", "password": "guo-xia-password"})
        assert r.status_code == 401  # disabled: no longer a worker of the site
        with harness.sessions() as s:
            assert s.get(Person, "w-hu-bin").areas == ["g-gongye-04"]  # type: ignore[union-attr]
            assert s.get(Person, "w-guo-xia").active is False  # type: ignore[union-attr]
            assert s.scalars(select(Case)).all() == []  # nothing else touched


def test_the_first_admin_comes_from_the_cli_with_a_one_time_password(harness: Harness, db_url: str) -> None:
    runner = CliRunner()
    done = runner.invoke(cli, ["users", "init", "--db", db_url, "--site", str(DEMO_SITE)])
    assert done.exit_code == 0, done.output
    otp = done.output.split("first sign-in):")[1].split()[0]
    assert len(otp) == 19 and otp.count("-") == 3
    assert runner.invoke(cli, ["users", "init", "--db", db_url, "--site", str(DEMO_SITE)]).exit_code == 2
    with TestClient(create_app(api_settings(DEMO_SITE, db_url), clock=harness.clock)) as api:
        r = api.post("/api/v1/auth/sign-in", json={"username": "admin", "password": otp})
        assert r.status_code == 200 and r.json()["me"]["must_change_password"] is True
        assert r.json()["me"]["roles"] == ["admin"] and r.json()["me"]["everywhere"] is True
    added = runner.invoke(
        cli,
        [
            "users",
            "add",
            "op-zhang",
            "--name",
            "张伟",
            "--role",
            "operator",
            "--area",
            "c-gongye",
            "--db",
            db_url,
        ],
    )
    assert added.exit_code == 0 and "one-time password" in added.output
    bad = runner.invoke(cli, ["users", "add", "op-x", "--name", "X", "--role", "operator", "--db", db_url])
    assert bad.exit_code == 2 and "give the areas they cover" in bad.output
    listed = runner.invoke(cli, ["users", "list", "--db", db_url])
    assert "op-zhang" in listed.output and "w-ma-li" in listed.output
    assert runner.invoke(cli, ["users", "disable", "op-zhang", "--db", db_url]).exit_code == 0
    with harness.sessions() as s:
        assert s.get(Person, "op-zhang").active is False  # type: ignore[union-attr]
    key = runner.invoke(cli, ["users", "jwt-key"]).output.strip()
    assert ":" in key and len(key.split(":", 1)[1]) >= 32
