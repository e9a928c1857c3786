"""The pages' one message catalogue: both languages complete, every key a page uses defined."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "cloud_api" / "static"
_ENTRY = re.compile(r'^\s*"([\w.\-]+)":\s*"', re.M)
# t("key"), t('key'), data-i18n="key", data-i18n-placeholder="key" ...
_USES = (
    re.compile(r"""\bt\(\s*["']([\w.\-]+)["']"""),
    re.compile(r"""data-i18n(?:-[\w-]+)?=["']([\w.\-]+)["']"""),
)


def catalogue() -> dict[str, set[str]]:
    text = (STATIC / "common" / "messages.js").read_text(encoding="utf-8")
    zh_start, en_start = text.index('"zh-CN": {'), text.index("\n  en: {")
    return {"zh-CN": set(_ENTRY.findall(text[zh_start:en_start])), "en": set(_ENTRY.findall(text[en_start:]))}


def test_both_languages_have_the_same_keys() -> None:
    langs = catalogue()
    assert langs["zh-CN"], "no zh-CN messages found"
    assert langs["zh-CN"] - langs["en"] == set(), "missing in English"
    assert langs["en"] - langs["zh-CN"] == set(), "missing in Chinese"


def test_every_key_used_by_a_page_is_in_the_catalogue() -> None:
    known = catalogue()["zh-CN"]
    missing: dict[str, set[str]] = {}
    for path in [*STATIC.rglob("*.js"), *STATIC.rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        used = {key for pattern in _USES for key in pattern.findall(text)}
        if used - known:
            missing[str(path.relative_to(STATIC))] = used - known
    assert missing == {}
