"""The message catalogue (cloud_api/static/common/messages.js) as the tests read it."""

from __future__ import annotations

import re

from tests.support.paths import REPO

STATIC = REPO / "cloud_api" / "static"

_ENTRY = re.compile(r'^\s*"([\w.\-]+)":\s*"', re.M)


def catalogue() -> dict[str, set[str]]:
    text = (STATIC / "common" / "messages.js").read_text(encoding="utf-8")
    zh_start, en_start = text.index('"zh-CN": {'), text.index("\n  en: {")
    return {"zh-CN": set(_ENTRY.findall(text[zh_start:en_start])), "en": set(_ENTRY.findall(text[en_start:]))}
