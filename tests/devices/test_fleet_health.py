"""Fleet health against the real thing: an edge node process killed and started again, a real
Mosquitto delivering its last will, the gateway's timer on a clock the test moves on."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud_api.app import create_app
from contracts.site import Site
from contracts.site.models import EdgeNodeConfig
from gateway.cases.models import Case, CaseTransition
from gateway.devices.models import Device
from gateway.dispatch.models import Task
from gateway.people.models import Role
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.clock import SteppedClock, site_time
from tests.support.paths import DEMO_SITE
from tests.support.people import add_person, api_settings
from tests.support.processes.edge_node import edge_node
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until

NODE = "node-gongye-1"


def test_a_killed_edge_node_raises_one_maintenance_case_for_its_installers_and_it_closes_when_back(
    mosquitto: Mosquitto, db_url: str, demo_site: Site, tmp_path: Path
) -> None:
    # The node alone, without its sensors: what is tested is the node's own status and will.
    config = tmp_path / f"{NODE}.yaml"
    node = EdgeNodeConfig(node=demo_site.nodes[NODE].node)
    config.write_text(yaml.safe_dump(node.model_dump(mode="json")))
    after = demo_site.settings.fleet.node_offline_after_s
    grid = demo_site.grid_containing(node.node.location)
    assert grid is not None
    clock = SteppedClock(site_time(10))
    sessions = session_factory(make_engine(db_url))

    def row() -> Device:
        with sessions() as s:
            found = s.get(Device, NODE)
            assert found is not None
            return found

    def cases() -> list[Case]:
        with sessions() as s:
            return list(s.scalars(select(Case).where(Case.device_id == NODE)))

    with running_gateway(mosquitto, db_url, DEMO_SITE, clock=clock, timer_interval_s=0.1):
        with edge_node(config, mosquitto, tmp_path / "edge") as proc:
            wait_until(lambda: row().status == "online", timeout=20, what="the node online in the registry")
            assert row().commissioned_at is not None and row().last_seen_at is not None
            proc.send_signal(signal.SIGKILL)  # a power cut: no goodbye, the broker sends the will
            proc.wait(timeout=10)
            wait_until(lambda: row().status == "offline", timeout=20, what="the last will in the registry")
        assert row().status_reason == "connection lost (last will)"
        assert cases() == []  # not yet: offline for less than node_offline_after_s
        clock.advance(after - 5)
        time.sleep(0.5)  # several timer ticks (every 0.1 s) on the moved clock
        assert cases() == []
        clock.advance(10)
        [case] = wait_until(cases, timeout=10, what="a maintenance case for the offline node")
        assert (case.hazard_type, case.category, case.status) == ("device_offline", "maintenance", "new")
        assert case.grid_id == grid.id and case.node_id == NODE
        with sessions() as s:  # maintenance is the installers', never offered to a grid worker
            assert s.scalars(select(Task).where(Task.case_id == case.id)).all() == []
        clock.advance(600)  # still offline: still one case
        time.sleep(0.5)

        # the installer of the park sees it in the fleet view; Donghu's does not
        with TestClient(create_app(api_settings(DEMO_SITE, db_url, access_check_s=0), clock=clock)) as api:
            views = {}
            for person, area in (("inst-park", "c-gongye"), ("inst-donghu", "c-donghu")):
                add_person(sessions, person, [Role.INSTALLER], [area], "fleet-pass-1")
                token = api.post(
                    "/api/v1/auth/sign-in", json={"username": person, "password": "fleet-pass-1"}
                ).json()["access_token"]
                api.cookies.clear()
                views[person] = api.get(
                    "/api/v1/fleet", params={"troubled": True}, headers={"Authorization": f"Bearer {token}"}
                ).json()
        [item] = [i for i in views["inst-park"]["items"] if i["id"] == NODE]
        assert [t["case_id"] for t in item["troubles"]] == [case.id] and item["status"] == "offline"
        assert NODE not in {i["id"] for i in views["inst-donghu"]["items"]}
        assert len(cases()) == 1

        with edge_node(config, mosquitto, tmp_path / "edge"):
            wait_until(lambda: cases()[0].status == "closed", timeout=20, what="the case closed by itself")
            assert row().status == "online"
    with sessions() as s:
        trail = s.scalars(
            select(CaseTransition).where(CaseTransition.case_id == case.id).order_by(CaseTransition.id)
        ).all()
    assert [t.to_status for t in trail] == ["new", "closed"]
    assert trail[-1].reason == f"node {NODE} back online"
    assert len(cases()) == 1
