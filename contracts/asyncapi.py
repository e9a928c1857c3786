"""Generate docs/asyncapi.yaml (AsyncAPI 3.0) and JSON Schemas from the models.

The committed files are checked by a test: change a model, run
``gridwatch contracts export`` and commit the result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from contracts.codec import ALL_MESSAGES, CHANNEL_MESSAGES, kind_of
from contracts.envelope import SCHEMA_VERSION
from contracts.examples import examples
from contracts.site import models as site_models
from contracts.site.analytics import AnalyticsFile
from contracts.topics import DOWNLINK, ROOT, Channel, Role

OWNER_PARAM = {
    Role.NODE: "nodeId",
    Role.DEVICE: "deviceId",
    Role.WORKER: "workerId",
    Role.CENTRE: "gatewayId",
}
RETAINED = {Channel.STATUS, Channel.DEVICE, Channel.CONFIG}
CHANNEL_TEXT = {
    Channel.STATUS: "Availability, retained; the broker publishes the last will (offline) on a lost link.",
    Channel.HEALTH: "Periodic health of the node: cameras, sensors, outbox, detector.",
    Channel.EVENT: "Hazard and maintenance events; at-least-once from a disk outbox (QoS 1).",
    Channel.EVIDENCE: "JPEG evidence snapshots referenced by events.",
    Channel.READING: "Sensor telemetry; stored in InfluxDB by the gateway.",
    Channel.DEVICE: "Retained availability of one device hosted by the node.",
    Channel.CONFIG: "Configuration pushed to the node by the centre, retained.",
    Channel.TASK: "Inspection tasks offered to the worker, updates from the centre, escalation notices.",
    Channel.TASK_UPDATE: "The worker's steps on a task: accept, decline, check in, resolve.",
    Channel.LOCATION: "The worker's phone position.",
    Channel.NOTICE: "Case notices for the command centre's alert wall and escalations.",
    Channel.RECEIPT: "What the gateway has committed of this source's stream, sent after each commit "
    "(cumulative ranges of sequence numbers); the source keeps events, statuses and evidence until "
    "a receipt covers them.",
}
SITE_SCHEMAS: dict[str, type[BaseModel]] = {
    "site": site_models.SiteFile,
    "workers": site_models.WorkersFile,
    "escalation": site_models.EscalationFile,
    "patrols": site_models.PatrolsFile,
    "access": site_models.AccessFile,
    "analytics": AnalyticsFile,
    "node": site_models.EdgeNodeConfig,
    "grid-properties": site_models.GridProperties,
}


def _schemas() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for model in ALL_MESSAGES:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
    return dict(sorted(defs.items()))


def _channel_key(role: Role, channel: Channel) -> str:
    return f"{role.value}_{channel.value}"


def build_document() -> dict[str, Any]:
    samples = examples()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for model in ALL_MESSAGES:
        kind = kind_of(model)
        messages[model.__name__] = {
            "name": kind,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
            "examples": [{"payload": json.loads(samples[kind].model_dump_json(exclude_none=True))}],
        }
    for (role, channel), models in CHANNEL_MESSAGES.items():
        key = _channel_key(role, channel)
        owner = OWNER_PARAM[role]
        address = f"{ROOT}/{role.value}/{{{owner}}}/{channel.value}"
        params = {owner: {"description": f"The {role.value}'s id; the broker ACL pins it to the client id."}}
        if channel is Channel.DEVICE:
            address += "/{deviceId}"
            params["deviceId"] = {"description": "Id of the hosted device."}
        channels[key] = {
            "address": address,
            "description": CHANNEL_TEXT[channel],
            "parameters": params,
            "messages": {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in models},
        }
        downlink = channel in DOWNLINK.get(role, ())
        operations[f"{'send' if downlink else 'receive'}_{key}"] = {
            "action": "send" if downlink else "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{m.__name__}"} for m in models],
            "bindings": {"mqtt": {"qos": 1, "retain": channel in RETAINED, "bindingVersion": "0.2.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "GridWatch MQTT contracts",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": (
                "Messages between edge nodes, devices, grid workers' phones and the GridWatch gateway. "
                "Written from the gateway's point of view: it receives what nodes, devices and phones "
                "publish and sends tasks, configuration and notices. Every message carries the envelope "
                "(id = UUIDv7 idempotency key, source, per-source seq, ts in UTC, schema_version, kind). "
                "Generated by `gridwatch contracts export`; do not edit by hand."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "site-broker": {
                "host": "localhost:1883",
                "protocol": "mqtt",
                "protocolVersion": "5",
                "description": "Mosquitto (or an EMQX cluster) of the site.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _schemas()},
    }


def render() -> dict[str, str]:
    """Relative path -> file content, for everything we generate."""
    files = {
        "asyncapi.yaml": yaml.safe_dump(build_document(), sort_keys=False, allow_unicode=True, width=100)
    }
    for model in ALL_MESSAGES:
        schema = model.model_json_schema(mode="serialization")
        files[f"schemas/{kind_of(model)}.schema.json"] = (
            json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        )
    for name, model in SITE_SCHEMAS.items():
        schema = model.model_json_schema(mode="validation")
        files[f"schemas/site/{name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return files


def write_docs(directory: Path) -> list[Path]:
    written = []
    for rel, content in render().items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
