"""The topic scheme: ``gridwatch/v1/<role>/<owner id>/<channel>[/<device id>]``.

Everything a node, device or worker publishes or reads sits under its own id,
so one broker ACL pattern per role (``%c`` = MQTT client id) confines it; see
:func:`mosquitto_acl`. The gateway is the only client that reads across ids.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

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


def mosquitto_acl(gateway_users: tuple[str, ...] = ("gateway",), operator_users: tuple[str, ...] = ()) -> str:
    """A Mosquitto ``acl_file`` that confines each client to its own subtree.

    Clients authenticate with their node, device or worker id as both username
    and client id; ``%c`` patterns then pin them to their own topics.
    """
    lines = ["# generated by contracts.topics.mosquitto_acl; default deny", ""]
    for user in gateway_users:
        lines += [f"user {user}", f"topic readwrite {ROOT}/#", ""]
    for user in operator_users:
        lines += [f"user {user}", f"topic read {ROOT}/{Role.CENTRE.value}/#", ""]
    lines.append("# every other client: only its own subtree, by role")
    for role in (Role.NODE, Role.DEVICE, Role.WORKER):
        for channel in UPLINK[role]:
            suffix = "/+" if channel is Channel.DEVICE else ""
            lines.append(f"pattern write {ROOT}/{role.value}/%c/{channel.value}{suffix}")
        for channel in DOWNLINK[role]:
            lines.append(f"pattern read {ROOT}/{role.value}/%c/{channel.value}")
    return "\n".join(lines) + "\n"
