"""A case title can carry a resident's note (群众吹哨, sent by anyone): in a group robot's markdown
it reads as itself — no link, image, heading or mention of its own."""

from __future__ import annotations

import json

from contracts.site.models import WebhookFormat
from gateway.notify.formats import WebhookNotice, link_body, render

HOSTILE = (
    "群众吹哨: [点此领补贴](http://evil.example)\n### 假通报 ![x](http://evil.example/a.png) "
    '<font color="red">@所有人</font>'
)
SMUGGLED = ("![", "\n### 假", "<font", "](http://evil")


def _markdown_texts(body: str) -> list[str]:
    md = json.loads(body)["markdown"]
    return [md.get("content", ""), md.get("text", ""), md.get("title", "")]


def test_free_text_cannot_add_links_or_headings_to_a_robots_message() -> None:
    notice = WebhookNotice(
        event="opened",
        case_id="case-1",
        title=HOSTILE,
        hazard_type="fire_smoke",
        severity="critical",
        status="dispatched",
        tier="",
        target="",
        grid_id="g-1",
        grid_name="工业园一网格",
        lon=None,
        lat=None,
        text=HOSTILE,
        at="2026-11-18T08:00:00+08:00",
    )
    for fmt in (WebhookFormat.WECOM, WebhookFormat.DINGTALK):
        link = link_body(fmt, "broadcast", HOSTILE, HOSTILE, "https://gw/ui/", "打开", "")
        bodies = [render(fmt, notice), link]
        for body in bodies:
            for text in _markdown_texts(body):
                for bad in SMUGGLED:
                    assert bad not in text, (fmt, bad, text)
            assert "点此领补贴" in body  # the words still arrive, as words
        # the product's own link is still a link
        assert "[打开](https://gw/ui/)" in _markdown_texts(bodies[1])[0] + _markdown_texts(bodies[1])[1]
