"""The centre pushes a node's configuration to a real edge node process through a real Mosquitto:
applied and reported by version; a broken one refused with the node still running the last good one."""

from __future__ import annotations

from pathlib import Path

import yaml

from contracts.site import Site
from contracts.site.models import EdgeNodeConfig
from gateway.context import GatewayContext
from gateway.devices.models import Device
from gateway.flows.config_push import push_config, version_of
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import Mosquitto
from tests.support.clock import site_time
from tests.support.paths import DEMO_SITE
from tests.support.processes.edge_node import edge_node
from tests.support.processes.gateway import running_gateway
from tests.support.waiting import wait_until

NODE = "node-gongye-1"


def test_a_pushed_configuration_is_applied_and_a_broken_one_refused(
    mosquitto: Mosquitto, sqlite_url: str, demo_site: Site, tmp_path: Path
) -> None:
    node = EdgeNodeConfig(node=demo_site.nodes[NODE].node)
    config = tmp_path / f"{NODE}.yaml"
    config.write_text(yaml.safe_dump(node.model_dump(mode="json")))
    clock = site_time(10)
    sessions = session_factory(make_engine(sqlite_url))
    ctx = GatewayContext(demo_site, "gateway-1", clock)

    def row() -> Device:
        with sessions() as s:
            found = s.get(Device, NODE)
            assert found is not None
            return found

    with (
        running_gateway(mosquitto, sqlite_url, DEMO_SITE, clock=clock),
        edge_node(config, mosquitto, tmp_path / "e"),
    ):
        wait_until(lambda: row().status == "online", timeout=20, what="the node online")
        assert row().config_version is None  # running its own file
        renamed = node.model_dump(mode="json")
        renamed["node"]["name"] = "工业园节点（新）"
        with sessions.begin() as s:
            sent = push_config(s, ctx, NODE, renamed, clock.now())
        assert sent.config_version == version_of(renamed)
        wait_until(
            lambda: row().config_version == sent.config_version, timeout=20, what="the version applied"
        )
        assert row().health["config_error"] == ""

        broken = {"node": {"id": NODE, "name": "no location"}}
        with sessions.begin() as s:
            refused = push_config(s, ctx, NODE, broken, clock.now())
        wait_until(lambda: row().health.get("config_error"), timeout=20, what="the refusal in its health")
        assert "location" in row().health["config_error"]
        assert row().config_version == sent.config_version != refused.config_version  # the last good one
        assert row().status == "online"  # and still running
