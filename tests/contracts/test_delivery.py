"""Delivery receipts: what they cover, what the contract refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import ContractError, DeliveryReceipt, decode, encode, topics
from contracts.delivery import MAX_RANGES, merge_ranges


def test_a_receipt_covers_its_run_and_the_ranges_past_a_gap_and_nothing_else() -> None:
    receipt = DeliveryReceipt.of("gateway-1", "node-a", [(5, 9), (12, 12), (20, 25)])
    assert (receipt.since, receipt.through, receipt.also) == (5, 9, [(12, 12), (20, 25)])
    covered = {n for n in range(1, 30) if receipt.covers(n)}
    assert covered == {5, 6, 7, 8, 9, 12, *range(20, 26)}
    assert receipt.ranges() == [(5, 9), (12, 12), (20, 25)]
    empty = DeliveryReceipt.of("gateway-1", "node-a", [])
    assert not any(empty.covers(n) for n in range(0, 5)) and empty.ranges() == []


def test_ranges_merge_and_a_huge_receipt_leaves_out_the_smallest_ranges_only() -> None:
    assert merge_ranges([(4, 6), (1, 3), (10, 12), (11, 15)]) == [(1, 6), (10, 15)]
    held = [(1, 100)] + [(200 + 10 * i, 200 + 10 * i + i % 3) for i in range(MAX_RANGES + 40)]
    receipt = DeliveryReceipt.of("gateway-1", "node-a", held)
    assert len(receipt.also) == MAX_RANGES
    kept = set(receipt.also)
    # Every range it keeps is really held, and none it left out is longer than one it kept.
    assert kept <= set(held[1:])
    assert max(b - a for a, b in set(held[1:]) - kept) <= min(b - a for a, b in kept)
    assert decode(topics.node_receipt("node-a"), encode(receipt)) == receipt


def test_the_contract_refuses_unordered_ranges_and_a_receipt_on_another_sources_topic() -> None:
    with pytest.raises(ValidationError, match="ascending, disjoint"):
        DeliveryReceipt(source="gateway-1", seq=0, stream="node-a", since=1, through=3, also=[(9, 9), (5, 6)])
    with pytest.raises(ValidationError, match="ascending, disjoint"):
        DeliveryReceipt(source="gateway-1", seq=0, stream="node-a", since=1, through=3, also=[(7, 5)])
    receipt = DeliveryReceipt.of("gateway-1", "node-a", [(1, 3)])
    with pytest.raises(ContractError) as refused:
        decode(topics.node_receipt("node-b"), encode(receipt))
    assert refused.value.reason == "source_mismatch"
    device = DeliveryReceipt.of("gateway-1", "gas-9", [(1, 3)])
    assert decode(topics.receipt_topic(topics.Role.DEVICE, "gas-9"), encode(device)) == device


def test_receipt_topics_are_in_the_acl_for_their_owner_only() -> None:
    acl = topics.mosquitto_acl(topics.Roster(nodes={"node-a": ()}, devices=("gas-9",)))
    assert f"user node-a\n{_block(topics.Login.NODE, 'node-a')}" in acl
    assert f"topic read {topics.ROOT}/node/node-a/receipt" in acl
    assert f"topic read {topics.ROOT}/device/gas-9/receipt" in acl
    assert f"topic write {topics.ROOT}/node/+/receipt" in acl  # the gateway sends them
    assert not any(f.endswith("/receipt") for f in topics.gateway_subscriptions())


def _block(kind: topics.Login, login: str) -> str:
    verb = {topics.Access.PUBLISH: "write", topics.Access.SUBSCRIBE: "read"}
    return "\n".join(f"topic {verb[r.access]} {r.topic}" for r in topics.rules(kind, login))
