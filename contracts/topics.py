"""The topic scheme: ``gridwatch/v1/<role>/<owner id>/<channel>[/<device id>]``,
and who may publish and read what in it.

Everything a node, device or worker publishes or reads sits under its own id.
The broker knows a client by its **login** (username and password), never by the
client id it picks: each login gets the rule set of its kind (:func:`rules`), for
Mosquitto's ``acl_file`` (:func:`mosquitto_acl`) or its dynamic-security plugin
(:func:`dynsec_role`, :func:`dynsec_config`). The gateway is the only client that
reads across ids.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contracts.site import Site

from contracts.envelope import ID_PATTERN

ROOT = "gridwatch/v1"
_ID = re.compile(ID_PATTERN)


class Role(StrEnum):
    NODE = "node"  # an edge node (cameras and the sensors wired or paired to it)
    DEVICE = "device"  # a sensor that speaks GridWatch's contract by itself
    WORKER = "worker"  # a grid worker's phone
    CENTRE = "centre"  # the gateway speaking to the command centre


class Channel(StrEnum):
    STATUS = "status"  # NodeStatus / DeviceStatus, retained, last will
    HEALTH = "health"  # EdgeHealth
    EVENT = "event"  # HazardEvent
    EVIDENCE = "evidence"  # EvidenceSnapshot
    READING = "reading"  # SensorReading
    DEVICE = "device"  # node/<id>/device/<device id>: DeviceStatus of a hosted device, retained
    CONFIG = "config"  # ConfigPush to a node, retained (down)
    TASK = "task"  # TaskOffer / TaskUpdate to a worker (down)
    TASK_UPDATE = "task_update"  # TaskUpdate from a worker (up)
    LOCATION = "location"  # LocationFix from a worker (up)
    NOTICE = "notice"  # CaseNotice to the command centre
    RECEIPT = "receipt"  # DeliveryReceipt to a node or device: what the gateway has committed (down)


# Which channels each role publishes (up) and reads (down). The ACL and the
# gateway's subscriptions are derived from this one table.
UPLINK: dict[Role, tuple[Channel, ...]] = {
    Role.NODE: (
        Channel.STATUS,
        Channel.HEALTH,
        Channel.EVENT,
        Channel.EVIDENCE,
        Channel.READING,
        Channel.DEVICE,
    ),
    Role.DEVICE: (Channel.STATUS, Channel.EVENT, Channel.EVIDENCE, Channel.READING),
    Role.WORKER: (Channel.TASK_UPDATE, Channel.LOCATION),
}
DOWNLINK: dict[Role, tuple[Channel, ...]] = {
    Role.NODE: (Channel.CONFIG, Channel.RECEIPT),
    Role.DEVICE: (Channel.RECEIPT,),
    Role.WORKER: (Channel.TASK,),
    Role.CENTRE: (Channel.NOTICE,),
}


class TopicError(ValueError):
    """A topic outside the scheme."""


@dataclass(frozen=True, slots=True)
class Topic:
    role: Role
    owner: str
    channel: Channel
    device: str | None = None

    def __str__(self) -> str:
        parts = [ROOT, self.role.value, self.owner, self.channel.value]
        if self.device is not None:
            parts.append(self.device)
        return "/".join(parts)


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise TopicError(f"{what} {value!r} is not a valid id: lower-case letters, digits, '-' and '_' only")
    return value


def build(role: Role, owner: str, channel: Channel, device: str | None = None) -> str:
    _check_id(owner, f"{role.value} id")
    if (channel is Channel.DEVICE) != (device is not None):
        raise TopicError("the 'device' channel (and only it) takes a device id")
    if device is not None:
        _check_id(device, "device id")
    allowed = UPLINK.get(role, ()) + DOWNLINK.get(role, ())
    if channel not in allowed:
        raise TopicError(f"role {role.value!r} has no channel {channel.value!r}")
    return str(Topic(role, owner, channel, device))


# Convenience builders, one per thing people actually publish.
def node_status(node_id: str) -> str:
    return build(Role.NODE, node_id, Channel.STATUS)


def node_health(node_id: str) -> str:
    return build(Role.NODE, node_id, Channel.HEALTH)


def node_event(node_id: str) -> str:
    return build(Role.NODE, node_id, Channel.EVENT)


def node_evidence(node_id: str) -> str:
    return build(Role.NODE, node_id, Channel.EVIDENCE)


def node_reading(node_id: str) -> str:
    return build(Role.NODE, node_id, Channel.READING)


def node_device_status(node_id: str, device_id: str) -> str:
    return build(Role.NODE, node_id, Channel.DEVICE, device_id)


def node_config(node_id: str) -> str:
    return build(Role.NODE, node_id, Channel.CONFIG)


def receipt_topic(role: Role, owner: str) -> str:
    """Where the gateway tells a node or device what it has committed of its stream."""
    return build(role, owner, Channel.RECEIPT)


def node_receipt(node_id: str) -> str:
    return build(Role.NODE, node_id, Channel.RECEIPT)


def device_topic(device_id: str, channel: Channel) -> str:
    return build(Role.DEVICE, device_id, channel)


def worker_task(worker_id: str) -> str:
    return build(Role.WORKER, worker_id, Channel.TASK)


def worker_task_update(worker_id: str) -> str:
    return build(Role.WORKER, worker_id, Channel.TASK_UPDATE)


def worker_location(worker_id: str) -> str:
    return build(Role.WORKER, worker_id, Channel.LOCATION)


def centre_notice(gateway_id: str) -> str:
    return build(Role.CENTRE, gateway_id, Channel.NOTICE)


@functools.lru_cache(maxsize=4096)  # consumers parse the same few topics all day; Topic is immutable
def parse(topic: str) -> Topic:
    """Split a concrete topic into its parts; :class:`TopicError` says what is wrong."""
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        raise TopicError(f"topic {topic!r} is not under {ROOT}/")
    parts = topic[len(prefix) :].split("/")
    if len(parts) not in (3, 4):
        raise TopicError(f"topic {topic!r} should be {ROOT}/<role>/<id>/<channel>[/<device>]")
    try:
        role = Role(parts[0])
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise TopicError(f"unknown role {parts[0]!r} in {topic!r}; expected one of {roles}") from None
    try:
        channel = Channel(parts[2])
    except ValueError:
        raise TopicError(f"unknown channel {parts[2]!r} in {topic!r}") from None
    device = parts[3] if len(parts) == 4 else None
    try:
        build(role, parts[1], channel, device)
    except TopicError as exc:
        raise TopicError(f"{exc} (topic {topic!r})") from None
    return Topic(role, parts[1], channel, device)


def gateway_subscriptions(share_group: str | None = None) -> list[str]:
    """Filters for everything the gateway consumes. With ``share_group`` the
    filters are MQTT 5 shared subscriptions, so several gateways split the load."""
    filters = []
    for role, channels in UPLINK.items():
        for channel in channels:
            suffix = "/+" if channel is Channel.DEVICE else ""
            filters.append(f"{ROOT}/{role.value}/+/{channel.value}{suffix}")
    if share_group:
        _check_id(share_group, "share group")
        filters = [f"$share/{share_group}/{f}" for f in filters]
    return filters


# ------------------------------------------------------------------ broker access
# The broker's own notices (``log_dest topic``): the gateway reads which logins it refused
# (gateway/devices/broker_log.py); nothing else may.
BROKER_LOG = "$SYS/broker/log/N"


class Login(StrEnum):
    """The kinds of broker login; each has one rule set (:func:`rules`)."""

    NODE = "node"  # an edge node; username = node id
    DEVICE = "device"  # a sensor that speaks GridWatch itself; username = device id
    WORKER = "worker"  # a grid worker's phone; username = worker id
    GATEWAY = "gateway"  # a gateway (several gateway processes may share one login)
    OPERATOR = "operator"  # a screen or bot of the command centre: reads the centre's notices
    BRIDGE = "bridge"  # zigbee2mqtt on the site's broker: its own base topic only


# Logins that hold one connection at a time: their client id can be bound to the login (Mosquitto's
# use_username_as_clientid, or dynsec's client id), so nobody takes over their session by naming it.
# Nodes (uplink + sensor connections) and gateways (several processes) hold more than one.
SINGLE_CONNECTION = frozenset({Login.DEVICE, Login.WORKER})


class Access(StrEnum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"  # subscribe to the filter and receive what is published under it


@dataclass(frozen=True, slots=True)
class Rule:
    access: Access
    topic: str  # a topic filter ('+' and '#' allowed)


def rules(
    kind: Login, login: str, *, reads: Iterable[str] = (), base_topic: str = "zigbee2mqtt"
) -> tuple[Rule, ...]:
    """What a login of this kind may do: publish under its own id and read what is addressed to it.

    ``reads``: extra topics a node listens to (its GridWatch-speaking sensors' topics, its
    zigbee2mqtt devices' topics); ``base_topic``: a zigbee2mqtt bridge's base topic.
    """
    pub, sub = Access.PUBLISH, Access.SUBSCRIBE
    if kind in (Login.NODE, Login.DEVICE, Login.WORKER):
        role = Role(kind.value)
        _check_id(login, f"{kind.value} login")
        own = [
            Rule(pub, f"{ROOT}/{role.value}/{login}/{c.value}{'/+' if c is Channel.DEVICE else ''}")
            for c in UPLINK[role]
        ]
        own += [Rule(sub, f"{ROOT}/{role.value}/{login}/{c.value}") for c in DOWNLINK[role]]
        return (*own, *(Rule(sub, t) for t in reads))
    if kind is Login.GATEWAY:
        return (
            *(Rule(sub, f) for f in gateway_subscriptions()),
            Rule(sub, BROKER_LOG),
            *(Rule(pub, f"{ROOT}/{r.value}/+/{c.value}") for r, chans in DOWNLINK.items() for c in chans),
        )
    if kind is Login.OPERATOR:
        return (Rule(sub, f"{ROOT}/{Role.CENTRE.value}/+/{Channel.NOTICE.value}"),)
    if kind is Login.BRIDGE:
        return (Rule(pub, f"{base_topic}/#"), Rule(sub, f"{base_topic}/#"))
    raise ValueError(f"unknown login kind {kind!r}")


@dataclass(frozen=True)
class Roster:
    """Every broker login of a site, by kind: what the ACL and the dynsec roles are made from."""

    nodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # node id -> topics it reads
    devices: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()
    gateways: tuple[str, ...] = ("gateway",)
    operators: tuple[str, ...] = ()
    bridges: Mapping[str, str] = field(default_factory=dict)  # login -> zigbee2mqtt base topic

    def __post_init__(self) -> None:
        seen: dict[str, Login] = {}
        for kind, login, _ in self.logins():
            if login in seen:
                raise ValueError(
                    f"{login!r} would be both a {seen[login].value} and a {kind.value} login; "
                    "broker logins must be unique: rename one of them"
                )
            seen[login] = kind

    @classmethod
    def from_site(
        cls, site: Site, gateways: Iterable[str] = ("gateway",), operators: Iterable[str] = ()
    ) -> Roster:
        """Logins for the site's nodes, GridWatch-speaking sensors and workers, and a zigbee2mqtt
        bridge per base topic its sensors use (login ``zigbee2mqtt`` for the default one)."""
        nodes: dict[str, tuple[str, ...]] = {}
        devices: list[str] = []
        bases: set[str] = set()
        for node_id, config in site.nodes.items():
            reads: list[str] = []
            for sensor in config.sensors:
                source = sensor.source
                if source.protocol == "gridwatch":
                    devices.append(sensor.id)
                    reads += [f"{ROOT}/device/{sensor.id}/{c}" for c in ("reading", "status")]
                elif source.protocol == "zigbee2mqtt":
                    base = source.base_topic  # type: ignore[union-attr]
                    bases.add(base)
                    name = source.friendly_name  # type: ignore[union-attr]
                    reads += [f"{base}/{name}", f"{base}/{name}/availability"]
            nodes[node_id] = tuple(reads)
        bridges = {_bridge_login(b): b for b in sorted(bases)}
        return cls(
            nodes=nodes,
            devices=tuple(devices),
            workers=tuple(site.workers),
            gateways=tuple(gateways),
            operators=tuple(operators),
            bridges=bridges,
        )

    def logins(self) -> Iterator[tuple[Login, str, tuple[Rule, ...]]]:
        """(kind, login, rules) for every login, in a stable order."""
        for login in self.gateways:
            yield Login.GATEWAY, login, rules(Login.GATEWAY, login)
        for login in self.operators:
            yield Login.OPERATOR, login, rules(Login.OPERATOR, login)
        for login, reads in sorted(self.nodes.items()):
            yield Login.NODE, login, rules(Login.NODE, login, reads=reads)
        for login in sorted(self.devices):
            yield Login.DEVICE, login, rules(Login.DEVICE, login)
        for login in sorted(self.workers):
            yield Login.WORKER, login, rules(Login.WORKER, login)
        for login, base in sorted(self.bridges.items()):
            yield Login.BRIDGE, login, rules(Login.BRIDGE, login, base_topic=base)


def _bridge_login(base_topic: str) -> str:
    login = re.sub(r"[^a-z0-9_-]+", "-", base_topic.lower()).strip("-") or "zigbee2mqtt"
    return login if login.startswith("zigbee2mqtt") else f"zigbee2mqtt-{login}"


def mosquitto_acl(roster: Roster) -> str:
    """A Mosquitto ``acl_file``: one block per login (``user`` = the authenticated username),
    default deny.

    No ``pattern`` lines: a pattern applies to every client whatever its kind (a worker's login
    could publish a hazard on ``node/<its own id>/event``), and ``%c`` trusts the client id a
    client picks. Anonymous clients get nothing (and shipped configurations refuse them).
    """
    lines = ["# generated by contracts.topics.mosquitto_acl: one block per login, default deny", ""]
    verb = {Access.PUBLISH: "write", Access.SUBSCRIBE: "read"}
    for kind, login, login_rules in roster.logins():
        lines += [f"# {kind.value}", f"user {login}"]
        lines += [f"topic {verb[r.access]} {r.topic}" for r in login_rules]
        lines.append("")
    return "\n".join(lines)


# Mosquitto's dynamic-security plugin (2.0) has no %u/%c in ACLs: each login gets its own role.
DYNSEC_ROLE_PREFIX = "gw"


def dynsec_rolename(kind: Login, login: str) -> str:
    return f"{DYNSEC_ROLE_PREFIX}-{kind.value}-{login}"


def dynsec_acls(login_rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """dynsec ACL entries for a rule set: publish → publishClientSend; subscribe → subscribePattern
    and publishClientReceive."""
    acls: list[dict[str, Any]] = []
    for r in login_rules:
        types = (
            ("publishClientSend",)
            if r.access is Access.PUBLISH
            else ("subscribePattern", "publishClientReceive")
        )
        acls += [{"acltype": t, "topic": r.topic, "priority": 0, "allow": True} for t in types]
    return acls


def dynsec_role(kind: Login, login: str, login_rules: Iterable[Rule] | None = None) -> dict[str, Any]:
    """The dynsec role of one login (``createRole`` over ``$CONTROL`` or the plugin's JSON file)."""
    acls = dynsec_acls(rules(kind, login) if login_rules is None else login_rules)
    if kind is Login.GATEWAY:
        # Gateways share the stream (MQTT 5 shared subscriptions): the plugin checks the filter
        # as sent, with its $share/<group>/ prefix.
        acls += [
            {"acltype": "subscribePattern", "topic": f"$share/+/{f}", "priority": 0, "allow": True}
            for f in gateway_subscriptions()
        ]
    return {
        "rolename": dynsec_rolename(kind, login),
        "textdescription": f"GridWatch {kind.value} {login}: its own topics only",
        "acls": acls,
    }


def dynsec_client(kind: Login, login: str, credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The dynsec client of one login; ``credentials`` are the plugin's password fields
    (``password``, ``salt``, ``iterations``) or, over ``$CONTROL``, ``{"password": <plain>}``.

    A login that holds one connection has its client id bound to it (dynsec refuses any other)."""
    client: dict[str, Any] = {
        "username": login,
        "textname": f"GridWatch {kind.value}",
        "roles": [{"rolename": dynsec_rolename(kind, login), "priority": 0}],
        **credentials,
    }
    if kind in SINGLE_CONNECTION:
        client["clientid"] = login
    return client


# Deny unless a role allows; unsubscribing is always fine.
DYNSEC_DEFAULT_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}


def dynsec_config(
    roster: Roster, credentials: Mapping[str, Mapping[str, Any]], admin: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The dynamic-security plugin's configuration file for a roster, default deny.

    ``credentials``: login -> the plugin's password fields; ``admin``: an optional client
    (username + password fields) that may manage the plugin over ``$CONTROL``.
    """
    roles, clients = [], []
    for kind, login, login_rules in roster.logins():
        roles.append(dynsec_role(kind, login, login_rules))
        clients.append(dynsec_client(kind, login, credentials[login]))
    if admin is not None:
        roles.append(
            {
                "rolename": "admin",
                "acls": [
                    {"acltype": t, "topic": "$CONTROL/dynamic-security/#", "priority": 0, "allow": True}
                    for t in ("publishClientSend", "publishClientReceive", "subscribePattern")
                ],
            }
        )
        clients.append({**admin, "textname": "dynsec admin", "roles": [{"rolename": "admin"}]})
    return {"defaultACLAccess": DYNSEC_DEFAULT_ACCESS, "roles": roles, "clients": clients, "groups": []}
