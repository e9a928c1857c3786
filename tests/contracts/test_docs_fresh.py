"""docs/asyncapi.yaml and docs/schemas/ are generated from the models and must be current."""

from __future__ import annotations

import yaml

from contracts.asyncapi import render
from tests.support.paths import REPO


def test_committed_contract_docs_are_fresh() -> None:
    stale = []
    for rel, content in render().items():
        path = REPO / "docs" / rel
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            stale.append(rel)
    assert not stale, f"run `gridwatch contracts export docs` and commit; stale: {stale}"


def test_asyncapi_document_is_complete() -> None:
    doc = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert doc["asyncapi"].startswith("3.")
    assert "node_event" in doc["channels"] and "worker_task" in doc["channels"]
    assert doc["operations"]["receive_node_event"]["action"] == "receive"
    assert doc["operations"]["send_worker_task"]["action"] == "send"
    for message in doc["components"]["messages"].values():
        assert message["examples"], message["name"]
        ref = message["payload"]["$ref"].rsplit("/", 1)[1]
        assert ref in doc["components"]["schemas"]
