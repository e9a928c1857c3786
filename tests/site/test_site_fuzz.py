"""Property: whatever an edit does to the demo site's YAML or JSON, the checker answers with
problems (each naming file, key and fix) or with a loaded site, and never raises."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.site import check_site
from tests.support.paths import DEMO_SITE
from tests.support.sites.files import assert_well_formed

FILES = sorted(str(p.relative_to(DEMO_SITE)) for p in DEMO_SITE.rglob("*") if p.is_file())
DOCS: dict[str, Any] = {
    rel: json.loads(text) if rel.endswith(".geojson") else yaml.safe_load(text)
    for rel in FILES
    for text in [(DEMO_SITE / rel).read_text(encoding="utf-8")]
}

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


def paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*path, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += paths(child, (*path, i))
    return found


def at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, Any]:
    """One of the site's files, its structure changed by one to four edits."""
    rel = draw(st.sampled_from(FILES))
    data = copy.deepcopy(DOCS[rel])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(data)))
        node = at(data, path)
        parent = at(data, path[:-1]) if path else None
        op = draw(st.sampled_from(["replace", "delete", "add", "repeat", "swap"]))
        if op == "replace" or not path:
            value = draw(values)
            if path:
                parent[path[-1]] = value  # type: ignore[index]
            else:
                data = value
        elif op == "delete":
            del parent[path[-1]]  # type: ignore[union-attr]
        elif op == "add" and isinstance(node, dict):
            node[draw(st.text(max_size=8))] = draw(values)
        elif op == "repeat" and isinstance(parent, list):
            parent.append(copy.deepcopy(node))  # a duplicate entry, id and all
        elif op == "swap" and isinstance(node, list) and len(node) >= 2:
            node[0], node[1] = node[1], node[0]  # [lat, lon], [h, w] ...
    return rel, data


@pytest.mark.timeout(300)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit=edits())
def test_any_edit_gets_problems_or_a_site_never_an_exception(edit: tuple[str, Any]) -> None:
    rel, data = edit
    with tempfile.TemporaryDirectory(prefix="gw-fuzz-") as tmp:
        site_dir = Path(tmp) / "site"
        shutil.copytree(DEMO_SITE, site_dir)
        text = json.dumps(data) if rel.endswith(".geojson") else yaml.safe_dump(data)
        (site_dir / rel).write_text(text, encoding="utf-8")
        site, problems = check_site(site_dir)
        assert_well_formed(problems)
        assert (site is None) == bool(problems), [str(p) for p in problems]
