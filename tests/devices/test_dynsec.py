"""Per-device logins through the dynamic-security plugin of a real Mosquitto (the shipped dynsec
configuration), managed by the product over $CONTROL: own topics only, rotate, revoke."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from cloud_api.app import create_app
from contracts import topics
from contracts.dynsec import Dynsec
from contracts.site import Site
from contracts.topics import Channel, Login, Roster
from gateway.people.models import Role
from tests.support.brokers.secured import Login as Connect
from tests.support.brokers.secured import secured_broker
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person, api_settings
from tests.support.processes.gateway import run_gridwatch
from tests.support.waiting import wait_until

NEW = "gas-new-7"  # a GridWatch-speaking gas detector put up today: no login in the site's files


def test_a_provisioned_device_publishes_on_its_own_topics_only_and_rotation_and_revocation_hold(
    tmp_path: Path, demo_site: Site, sqlite_url: str
) -> None:
    with secured_broker(tmp_path, "dynsec", Roster.from_site(demo_site)) as sb:
        admin = Dynsec("127.0.0.1", sb.site_port, "admin", sb.password("admin"))
        first = admin.provision(Login.DEVICE, NEW)
        assert admin.client(NEW)["roles"] == [{"rolename": f"gw-device-{NEW}", "priority": 0}]  # type: ignore[index]

        device = Connect(sb.site_port, NEW, first, client_id=NEW)
        assert device.accepted
        assert not device.publish(topics.device_topic(NEW, Channel.READING), b"{}").is_failure
        others = (
            topics.device_topic("gas-restaurant-3", Channel.READING),  # another device
            topics.node_event("node-gongye-1"),  # a node
            topics.worker_location("w-ma-li"),  # a worker
        )
        for topic in others:
            assert device.publish(topic, b"{}").getName() == "Not authorized", topic
        assert not Connect(sb.site_port, NEW, first, client_id="someone-else").accepted  # id bound

        # rotation: the new secret works, the old one no longer
        second = admin.rotate(NEW)
        assert second != first
        assert not Connect(sb.site_port, NEW, first, client_id=NEW).accepted
        device.close()
        device = Connect(sb.site_port, NEW, second, client_id=NEW)
        assert device.accepted
        assert not device.publish(topics.device_topic(NEW, Channel.STATUS), b"{}").is_failure

        # revocation: the live connection is dropped and it cannot come back
        admin.revoke(NEW)
        wait_until(device.disconnected.is_set, timeout=10, what="the revoked device disconnected")
        assert not Connect(sb.site_port, NEW, second, client_id=NEW).accepted
        assert admin.client(NEW) is None
        device.close()

        # provisioning an existing login (a node of the site) gives it a new password and keeps it working
        node_pw = admin.provision(Login.NODE, "node-gongye-1")
        assert not Connect(sb.site_port, "node-gongye-1", sb.password("node-gongye-1")).accepted
        node = Connect(sb.site_port, "node-gongye-1", node_pw)
        assert node.accepted and not node.publish(topics.node_status("node-gongye-1"), b"{}").is_failure
        node.close()

        # the same from the command line: rotate the node's login, the printed password works
        done = run_gridwatch(
            "devices",
            "credentials",
            "node-gongye-1",
            "--rotate",
            "--broker-port",
            str(sb.site_port),
            "--dynsec-password",
            sb.password("admin"),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        printed = done.stdout.strip().splitlines()[-1]
        assert not Connect(sb.site_port, "node-gongye-1", node_pw).accepted
        assert Connect(sb.site_port, "node-gongye-1", printed).accepted

        # an installer of Donghu gets the login of Donghu's GridWatch-speaking gas detector from the API
        settings = api_settings(
            DEMO_SITE,
            sqlite_url,
            access_check_s=0,
            dynsec_host="127.0.0.1",
            dynsec_port=sb.site_port,
            dynsec_password=sb.password("admin"),
        )
        with TestClient(create_app(settings)) as api:
            sessions = api.app.state.sessions  # type: ignore[attr-defined]
            headers = {}
            for person, area in (("inst-donghu", "c-donghu"), ("inst-park", "c-gongye")):
                add_person(sessions, person, [Role.INSTALLER], [area], "dynsec-pass-1")
                signed = api.post(
                    "/api/v1/auth/sign-in", json={"username": person, "password": "dynsec-pass-1"}
                )
                headers[person] = {"Authorization": f"Bearer {signed.json()['access_token']}"}
                api.cookies.clear()
            gas = "gas-restaurant-3"
            issued = api.post(f"/api/v1/registry/{gas}/credentials", json={}, headers=headers["inst-donghu"])
            assert issued.status_code == 200, issued.text
            given = issued.json()
            assert (given["login"], given["kind"], given["broker_port"]) == (gas, "device", sb.site_port)
            sensor = Connect(sb.site_port, gas, given["password"], client_id=gas)
            assert (
                sensor.accepted
                and not sensor.publish(topics.device_topic(gas, Channel.READING), b"{}").is_failure
            )
            sensor.close()
            other = api.post(f"/api/v1/registry/{gas}/credentials", json={}, headers=headers["inst-park"])
            assert other.status_code == 403
            camera = api.post(
                "/api/v1/registry/cam-rental-yard/credentials", json={}, headers=headers["inst-donghu"]
            )
            assert camera.status_code == 409 and "through their node" in camera.json()["detail"]
            gone = api.post(
                f"/api/v1/registry/{gas}/credentials",
                json={"action": "revoke"},
                headers=headers["inst-donghu"],
            )
            assert gone.status_code == 200 and gone.json()["password"] is None
            assert not Connect(sb.site_port, gas, given["password"], client_id=gas).accepted
