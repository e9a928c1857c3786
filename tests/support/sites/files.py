"""Helpers for tests that break a copy of the demo site and read what the checker says."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from contracts.site import Problem, check_site


def edit_yaml(site: Path, rel: str, change: Callable[[Any], Any]) -> None:
    """Load ``rel``, let ``change`` edit it in place (or return a replacement), write it back."""
    path = site / rel
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    replaced = change(data)
    data = data if replaced is None else replaced
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def edit_json(site: Path, rel: str, change: Callable[[Any], Any]) -> None:
    path = site / rel
    data = json.loads(path.read_text(encoding="utf-8"))
    replaced = change(data)
    data = data if replaced is None else replaced
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def problems_of(site: Path) -> list[Problem]:
    loaded, problems = check_site(site)
    assert loaded is None, "a broken site must not load"
    return problems


def only(problems: list[Problem], words: str) -> Problem:
    hits = [p for p in problems if words in p.message]
    assert len(hits) == 1, f"expected one problem with {words!r}, got {[str(p) for p in problems]}"
    return hits[0]


def assert_well_formed(problems: list[Problem]) -> None:
    """Every problem names its file, its key and a fix, and none is a check that failed inside."""
    for p in problems:
        assert p.file and p.where and p.message, p
        assert p.hint, f"no fix given for: {p}"
        assert p.file != "(gridwatch)", f"a check failed inside: {p}"
