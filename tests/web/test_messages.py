"""The pages' one message catalogue: both languages complete, every key a page uses defined."""

from __future__ import annotations

import re

from tests.support.web.catalogue import STATIC, catalogue

# t("key"), t('key'), data-i18n="key", data-i18n-placeholder="key" ...
_USES = (
    re.compile(r"""\bt\(\s*["']([\w.\-]+)["']"""),
    re.compile(r"""data-i18n(?:-[\w-]+)?=["']([\w.\-]+)["']"""),
)


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
