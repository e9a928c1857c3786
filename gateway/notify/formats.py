"""Webhook bodies: generic JSON, and the WeCom (企业微信) and DingTalk (钉钉) group-robot formats.

WeCom and DingTalk robots take ``{"msgtype": "markdown", ...}`` and answer
HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` on success — a non-zero
errcode in a 200 answer is a failure. DingTalk robots with 加签 security need
``timestamp`` and ``sign`` query parameters, made fresh for every attempt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from contracts.site.models import WebhookFormat

WECOM_MARKDOWN_MAX_BYTES = 4096
# Free text in a robot's markdown (a case title can hold a resident's note, sent by anyone):
# its markup characters become their full-width look-alikes and its line breaks spaces, so it
# cannot add a link, an image, a heading or an <at> of its own to the group's message.
_PLAIN = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "!": "！",
        "\r": " ",
        "\n": " ",
    }
)


def plain(text: str) -> str:
    """Text shown as itself in a WeCom or DingTalk markdown message."""
    return text.translate(_PLAIN)


@dataclass(frozen=True)
class WebhookNotice:
    """What a notification says, independent of how it is sent."""

    event: str  # escalated, sla_breach ...
    case_id: str
    title: str  # e.g. "烟感报警 Smoke alarm · 车间烟感 1"
    hazard_type: str
    severity: str
    status: str
    tier: str
    target: str
    grid_id: str | None
    grid_name: str
    lon: float | None
    lat: float | None
    text: str
    at: str  # RFC 3339
    trigger: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": "gridwatch",
            "event": self.event,
            "case_id": self.case_id,
            "title": self.title,
            "hazard_type": self.hazard_type,
            "severity": self.severity,
            "status": self.status,
            "tier": self.tier,
            "target": self.target,
            "trigger": self.trigger,
            "grid_id": self.grid_id,
            "grid_name": self.grid_name,
            "location": {"lon": self.lon, "lat": self.lat} if self.lon is not None else None,
            "text": self.text,
            "at": self.at,
        }


def _markdown(n: WebhookNotice) -> str:
    heading = {
        "escalated": "升级通报 Escalation",
        "sla_breach": "超时 SLA breach",
        "opened": "新案件 New case",
    }.get(n.event, n.event)
    lines = [
        f"### GridWatch {heading}",
        f"**{plain(n.title)}**",
        f"> 级别 Tier: {n.tier} · {plain(n.target)}" if n.tier else "",
        f"> 网格 Grid: {plain(n.grid_name or n.grid_id or '-')}",
        f"> 严重 Severity: {n.severity} · 状态 Status: {n.status}",
        f"> 位置 Location: {n.lon:.6f}, {n.lat:.6f}" if n.lon is not None and n.lat is not None else "",
        f"> 原因 Reason: {plain(n.text)}",
        f"> 案件 Case: {n.case_id} · {n.at}",
    ]
    return "\n".join(line for line in lines if line)


def render(fmt: WebhookFormat, notice: WebhookNotice) -> str:
    """The JSON body to post, as text (stored with the delivery so a retry sends the same)."""
    if fmt is WebhookFormat.WECOM:
        content = _markdown(notice).encode()[:WECOM_MARKDOWN_MAX_BYTES].decode(errors="ignore")
        body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": content}}
    elif fmt is WebhookFormat.DINGTALK:
        body = {
            "msgtype": "markdown",
            "markdown": {"title": f"GridWatch: {plain(notice.title)}"[:100], "text": _markdown(notice)},
            "at": {"atMobiles": [], "isAtAll": False},
        }
    else:
        body = notice.as_dict()
    return json.dumps(body, ensure_ascii=False)


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """Add DingTalk's ``timestamp`` and ``sign`` (HMAC-SHA256 of "timestamp\\nsecret", base64)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    joiner = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def robot_error(fmt: WebhookFormat, response_text: str) -> str | None:
    """For WeCom/DingTalk robots, the error in a 200 answer (None when it says ok)."""
    if fmt is WebhookFormat.JSON:
        return None
    try:
        data = json.loads(response_text)
    except ValueError:
        return f"answer is not JSON: {response_text[:200]!r}"
    if not isinstance(data, dict) or "errcode" not in data:
        return f"answer has no errcode: {response_text[:200]!r}"
    if data["errcode"] != 0:
        return f"robot refused: errcode {data['errcode']}: {data.get('errmsg', '')}"
    return None


def report_link_body(fmt: WebhookFormat, title: str, text: str, url: str, at: str) -> str:
    """A report is ready (the weekly report): its title, a line of figures and the link."""
    return link_body(fmt, "report", title, text, url, "打开周报 Open the report", at)


def link_body(fmt: WebhookFormat, event: str, title: str, text: str, url: str, words: str, at: str) -> str:
    """A message with a link, no case (a report is ready, a 协查通报 was sent or closed)."""
    markdown = f"### {plain(title)}\n> {plain(text)}\n[{words}]({url})"
    if fmt is WebhookFormat.WECOM:
        content = markdown.encode()[:WECOM_MARKDOWN_MAX_BYTES].decode(errors="ignore")
        body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": content}}
    elif fmt is WebhookFormat.DINGTALK:
        body = {
            "msgtype": "markdown",
            "markdown": {"title": plain(title)[:100], "text": markdown},
            "at": {"atMobiles": [], "isAtAll": False},
        }
    else:
        body = {"source": "gridwatch", "event": event, "title": title, "text": text, "url": url, "at": at}
    return json.dumps(body, ensure_ascii=False)
