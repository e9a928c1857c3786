"""Escalation webhooks posted to a real local HTTP receiver (generic JSON, WeCom, DingTalk),
retried with back-off while the receiver is down, never holding up the case."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from contracts.site import load_site
from gateway.notify.models import Delivery, DeliveryAttempt
from gateway.notify.sender import WebhookSender
from tests.support.dispatching import act, harness_for, tasks, the_case, tick
from tests.support.harness import Harness
from tests.support.net.receiver import Receiver
from tests.support.sites.files import edit_yaml

SMOKE = "smk-factory-a1"  # g-gongye-01, community c-gongye, fire brigade for smoke
SECRET = "SEC0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


def hook_up(site: Path, receiver: Receiver, tiers: list[str] | None = None) -> None:
    def change(d: dict) -> None:
        d["communities"]["c-gongye"]["webhooks"] = [
            {"url": f"{receiver.base}/wecom?key=k-1", "format": "wecom"}
        ]
        d["street_centre"]["webhooks"] = [
            {"url": f"{receiver.base}/dingtalk?access_token=t-1", "format": "dingtalk", "secret": SECRET}
        ]
        d["departments"]["fire_brigade"]["webhooks"] = [{"url": f"{receiver.base}/brigade"}]
        if tiers:
            d["tiers"] = tiers

    edit_yaml(site, "escalation.yaml", change)
    edit_yaml(site, "site.yaml", lambda d: d.update(notify={"backoff_s": 5, "max_attempts": 4}))


def sender_for(h: Harness) -> WebhookSender:
    return WebhookSender(h.sessions, h.clock, h.ctx.site.settings.notify)


def deliveries(h: Harness) -> list[Delivery]:
    with h.sessions() as s:
        return list(s.scalars(select(Delivery).where(Delivery.channel == "webhook").order_by(Delivery.id)))


def attempts(h: Harness, delivery_id: int) -> list[DeliveryAttempt]:
    with h.sessions() as s:
        rows = s.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id))
        return list(rows.all())


def test_each_tier_gets_its_webhook_in_its_format(
    db_url: str, migrated_store: None, site_copy: Path, receiver: Receiver
) -> None:
    receiver.up()
    hook_up(site_copy, receiver)
    with harness_for(db_url, load_site(site_copy)) as h:
        h.raise_event(SMOKE)
        act(h, tasks(h)[0], "accept")
        tick(h, 301)  # on-site breach: grid leader (phone only)
        sender = sender_for(h)
        try:
            assert sender.run_once() == 0
            arrived = []
            for _ in range(3):
                tick(h, 601)  # community, street centre, department
                assert sender.run_once() == 1
                arrived.append(receiver.received()[-1].path)
        finally:
            sender.stop()
        assert arrived == ["/wecom", "/dingtalk", "/brigade"]  # tier order
        [wecom] = receiver.received("/wecom")
        [ding] = receiver.received("/dingtalk")
        [brigade] = receiver.received("/brigade")
        case = the_case(h)

        assert wecom.query == {"key": "k-1"}
        assert wecom.body["msgtype"] == "markdown"
        assert (
            "烟感报警" in wecom.body["markdown"]["content"] and case.id in wecom.body["markdown"]["content"]
        )

        assert ding.body["msgtype"] == "markdown" and ding.body["markdown"]["title"].startswith("GridWatch")
        assert ding.body["at"] == {"atMobiles": [], "isAtAll": False}
        ts = ding.query["timestamp"]
        expected = base64.b64encode(
            hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
        )
        assert ding.query["sign"] == expected.decode() and ding.query["access_token"] == "t-1"

        assert brigade.body["event"] == "escalated" and brigade.body["tier"] == "department"
        assert brigade.body["case_id"] == case.id and brigade.body["hazard_type"] == "smoke_alarm"
        assert brigade.body["trigger"] == "climb:street_centre" and brigade.body["grid_id"] == "g-gongye-01"
        assert brigade.headers["Content-Type"].startswith("application/json")
        assert all(d.status == "sent" and d.attempts == 1 for d in deliveries(h))


def test_endpoint_down_is_retried_with_back_off_and_the_case_goes_on(
    db_url: str, migrated_store: None, site_copy: Path, receiver: Receiver
) -> None:
    hook_up(site_copy, receiver, tiers=["community", "street_centre", "department"])  # receiver is down
    with harness_for(db_url, load_site(site_copy)) as h:
        h.raise_event(SMOKE)
        [task] = tasks(h)
        act(h, task, "accept")
        act(h, task, "check_in")
        act(h, task, "cannot_handle", note="need the brigade")  # → community (WeCom)
        sender = sender_for(h)
        try:
            assert sender.run_once() == 1  # connection refused
            [d] = deliveries(h)
            assert d.status == "pending" and d.attempts == 1 and "ConnectError" in d.last_error
            assert (d.next_attempt_at - h.clock.now()).total_seconds() == 5
            assert sender.run_once() == 0  # backing off
            h.clock.advance(5)
            assert sender.run_once() == 1
            [d] = deliveries(h)
            assert (d.next_attempt_at - h.clock.now()).total_seconds() == 10  # doubled
            # Meanwhile the worker finishes: case handling never waited for the webhook.
            assert act(h, task, "resolve", result="handled", note="brigade came") is not None
            assert the_case(h).status == "resolved"
            receiver.up()
            h.clock.advance(9)
            assert sender.run_once() == 0
            h.clock.advance(1)
            assert sender.run_once() == 1
        finally:
            sender.stop()
        [d] = deliveries(h)
        assert d.status == "sent" and d.attempts == 3 and d.last_error == ""
        assert [a.ok for a in attempts(h, d.id)] == [False, False, True]
        assert len(receiver.received("/wecom")) == 1
        assert the_case(h).status == "resolved"  # delivery status is not case status


def test_robot_refusal_is_retried_then_marked_failed(
    db_url: str, migrated_store: None, site_copy: Path, receiver: Receiver
) -> None:
    receiver.up().mode = "errcode"  # WeCom answers 200 with errcode 93000
    hook_up(site_copy, receiver, tiers=["community"])
    with harness_for(db_url, load_site(site_copy)) as h:
        h.raise_event(SMOKE)
        act(h, tasks(h)[0], "accept")
        act(h, tasks(h)[0], "cannot_handle")
        sender = sender_for(h)
        try:
            for wait in (0, 5, 10, 20):
                h.clock.advance(wait)
                assert sender.run_once() == 1
            h.clock.advance(3600)
            assert sender.run_once() == 0  # gave up after max_attempts = 4
        finally:
            sender.stop()
        [d] = deliveries(h)
        assert d.status == "failed" and d.attempts == 4 and "errcode 93000" in d.last_error
        assert len(receiver.received()) == 4


def test_a_missing_hook_fails_at_once(
    db_url: str, migrated_store: None, site_copy: Path, receiver: Receiver
) -> None:
    receiver.up().mode = "404"
    hook_up(site_copy, receiver, tiers=["department"])
    with harness_for(db_url, load_site(site_copy)) as h:
        h.raise_event(SMOKE)
        act(h, tasks(h)[0], "accept")
        act(h, tasks(h)[0], "cannot_handle")
        sender = sender_for(h)
        try:
            assert sender.run_once() == 1
            h.clock.advance(3600)
            assert sender.run_once() == 0
        finally:
            sender.stop()
        [d] = deliveries(h)
        assert d.status == "failed" and d.attempts == 1 and d.last_error.startswith("HTTP 404")


def test_a_duty_group_hears_of_each_new_critical_case(
    db_url: str, migrated_store: None, site_copy: Path, receiver: Receiver
) -> None:
    """escalation.yaml new_case_alerts: a group robot told of a new case as it opens, not only when a
    deadline slips; lesser cases and other hazards are left to the console."""
    receiver.up()
    edit_yaml(
        site_copy,
        "escalation.yaml",
        lambda d: d.update(
            new_case_alerts=[
                {
                    "name": "值班群",
                    "min_severity": "critical",
                    "webhooks": [{"url": f"{receiver.base}/duty?key=k", "format": "wecom"}],
                },
                {
                    "name": "燃气专班",
                    "min_severity": "major",
                    "hazards": ["gas_leak"],
                    "webhooks": [{"url": f"{receiver.base}/gas"}],
                },
            ]
        ),
    )
    with harness_for(db_url, load_site(site_copy)) as h:
        h.raise_event("smk-rental-15", severity="major")  # not critical, not gas: nobody
        h.raise_event(SMOKE, severity="critical")
        h.raise_event("gas-restaurant-3", hazard_type="gas_leak", severity="major")
        h.raise_event(SMOKE, severity="critical", state="update")  # the same case: told once
        assert sender_for(h).run_once() == 2
        posts = sorted(receiver.received(), key=lambda p: p.path)  # the two are sent side by side
        assert [p.path for p in posts] == ["/duty", "/gas"]
        duty = posts[0].body["markdown"]["content"]
        assert "新案件 New case" in duty and "烟感报警 Smoke alarm · 车间烟感 1" in duty
        assert posts[1].body["event"] == "opened" and posts[1].body["target"] == "燃气专班"
        assert [d.event for d in deliveries(h)] == ["opened", "opened"]
        assert all(d.status == "sent" for d in deliveries(h))
