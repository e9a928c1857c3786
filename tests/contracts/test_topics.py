"""The topic scheme, its helpers, and the broker rules derived from it (on a real Mosquitto:
tests/system/test_broker_identity.py)."""

from __future__ import annotations

import pytest

from contracts import topics
from contracts.site import Site
from contracts.topics import Access, Channel, Login, Role, Roster, Rule, TopicError


def test_builders_and_parse_round_trip() -> None:
    built = [
        topics.node_event("node-a"),
        topics.node_status("node-a"),
        topics.node_health("node-a"),
        topics.node_reading("node-a"),
        topics.node_evidence("node-a"),
        topics.node_device_status("node-a", "smk-1"),
        topics.node_config("node-a"),
        topics.device_topic("gas-9", Channel.READING),
        topics.worker_task("w-li"),
        topics.worker_task_update("w-li"),
        topics.worker_location("w-li"),
        topics.centre_notice("gateway-1"),
    ]
    for topic in built:
        assert str(topics.parse(topic)) == topic
    assert topics.node_event("node-a") == "gridwatch/v1/node/node-a/event"
    assert topics.parse("gridwatch/v1/node/node-a/device/smk-1") == topics.Topic(
        Role.NODE, "node-a", Channel.DEVICE, "smk-1"
    )


@pytest.mark.parametrize(
    ("topic", "words"),
    [
        ("zigbee2mqtt/kitchen", "not under gridwatch/v1/"),
        ("gridwatch/v1/node/node-a", "should be gridwatch/v1/<role>/<id>/<channel>"),
        ("gridwatch/v1/robot/r1/event", "unknown role 'robot'"),
        ("gridwatch/v1/node/node-a/coffee", "unknown channel 'coffee'"),
        ("gridwatch/v1/node/Node A/event", "not a valid id"),
        ("gridwatch/v1/worker/w-1/event", "role 'worker' has no channel 'event'"),
        ("gridwatch/v1/node/node-a/event/extra", "only it) takes a device id"),
    ],
)
def test_parse_explains_what_is_wrong(topic: str, words: str) -> None:
    with pytest.raises(TopicError, match=None) as err:
        topics.parse(topic)
    assert words in str(err.value)


def test_ids_with_mqtt_wildcards_cannot_build_topics() -> None:
    for bad in ("a/b", "a+", "#", "$sys", "UPPER", ""):
        with pytest.raises(TopicError):
            topics.node_event(bad)


def test_gateway_subscriptions_cover_every_uplink_and_can_be_shared() -> None:
    plain = topics.gateway_subscriptions()
    assert "gridwatch/v1/node/+/event" in plain
    assert "gridwatch/v1/node/+/device/+" in plain
    assert "gridwatch/v1/worker/+/location" in plain
    assert "gridwatch/v1/worker/+/task" not in plain  # downlink: the gateway sends it
    shared = topics.gateway_subscriptions("gateways")
    assert all(f.startswith("$share/gateways/gridwatch/v1/") for f in shared)


def test_each_login_kind_publishes_only_under_its_own_id(demo_site: Site) -> None:
    roster = Roster.from_site(demo_site, operators=("wall",))
    by_login = {login: (kind, rules) for kind, login, rules in roster.logins()}
    assert {kind for kind, _ in by_login.values()} == set(Login)
    for login, (kind, rules) in by_login.items():
        published = [r.topic for r in rules if r.access is Access.PUBLISH]
        if kind in (Login.NODE, Login.DEVICE, Login.WORKER):
            assert all(t.startswith(f"{topics.ROOT}/{kind.value}/{login}/") for t in published), login
    worker = by_login["w-ma-li"][1]
    assert set(worker) == {
        Rule(Access.PUBLISH, "gridwatch/v1/worker/w-ma-li/task_update"),
        Rule(Access.PUBLISH, "gridwatch/v1/worker/w-ma-li/location"),
        Rule(Access.SUBSCRIBE, "gridwatch/v1/worker/w-ma-li/task"),
    }
    # A node reads its own sensors: the GridWatch-speaking one's topics and its zigbee2mqtt devices'.
    donghu = {r.topic for r in by_login["node-donghu-1"][1] if r.access is Access.SUBSCRIBE}
    assert {"gridwatch/v1/device/gas-restaurant-3/reading", "zigbee2mqtt/rental_12_smoke"} <= donghu
    assert not any("rental" in r.topic for r in by_login["node-gongye-1"][1])
    assert by_login["zigbee2mqtt"] == (
        Login.BRIDGE,
        (Rule(Access.PUBLISH, "zigbee2mqtt/#"), Rule(Access.SUBSCRIBE, "zigbee2mqtt/#")),
    )


def test_the_acl_file_binds_rules_to_logins_never_to_client_ids(demo_site: Site) -> None:
    acl = topics.mosquitto_acl(Roster.from_site(demo_site))
    lines = [line for line in acl.splitlines() if line and not line.startswith("#")]
    assert not any(line.startswith("pattern") or "%c" in line or "%u" in line for line in lines)
    assert lines[0].startswith("user ")  # no rule for anonymous clients before the first user block
    assert "user w-ma-li\ntopic write gridwatch/v1/worker/w-ma-li/task_update" in acl


def test_a_login_cannot_have_two_kinds() -> None:
    with pytest.raises(ValueError, match="'node-a' would be both a node and a worker login"):
        Roster(nodes={"node-a": ()}, workers=("node-a",))


def test_dynsec_roles_deny_by_default_and_bind_phones_client_ids(demo_site: Site) -> None:
    roster = Roster.from_site(demo_site)
    config = topics.dynsec_config(roster, {login: {"password": "x"} for _, login, _ in roster.logins()})
    assert not any(
        config["defaultACLAccess"][k] for k in ("publishClientSend", "publishClientReceive", "subscribe")
    )
    clients = {c["username"]: c for c in config["clients"]}
    assert (
        clients["w-ma-li"]["clientid"] == "w-ma-li"
        and clients["gas-restaurant-3"]["clientid"] == "gas-restaurant-3"
    )
    assert "clientid" not in clients["node-gongye-1"] and "clientid" not in clients["gateway"]
    roles = {r["rolename"]: r for r in config["roles"]}
    assert clients["w-ma-li"]["roles"] == [{"rolename": "gw-worker-w-ma-li", "priority": 0}]
    assert {(a["acltype"], a["topic"]) for a in roles["gw-worker-w-ma-li"]["acls"]} == {
        ("publishClientSend", "gridwatch/v1/worker/w-ma-li/task_update"),
        ("publishClientSend", "gridwatch/v1/worker/w-ma-li/location"),
        ("subscribePattern", "gridwatch/v1/worker/w-ma-li/task"),
        ("publishClientReceive", "gridwatch/v1/worker/w-ma-li/task"),
    }
    gateway = {a["topic"] for a in roles["gw-gateway-gateway"]["acls"] if a["acltype"] == "subscribePattern"}
    assert "$share/+/gridwatch/v1/node/+/event" in gateway  # gateways share the stream
