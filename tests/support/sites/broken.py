"""A corpus of broken sites, each made from a copy of the demo site by one careless or hostile edit.

Every case says which file a problem must name and what its message must say; the expected
truth comes from the edit itself (and, for the generated cases, from walking the demo's files).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts.site.access import hash_token
from tests.support.paths import DEMO_SITE
from tests.support.sites.files import edit_json, edit_yaml

GRIDS = "grids.geojson"
WORKERS = "workers.yaml"
PATROLS = "patrols.yaml"
ACCESS = "access.yaml"
ANALYTICS = "analytics.yaml"
NODE = "nodes/node-gongye-1.yaml"
OTHER_NODE = "nodes/node-donghu-1.yaml"


@dataclass(frozen=True)
class Breakage:
    id: str
    breaks: Callable[[Path], None]  # edits a copy of the demo site in place
    file: str  # a problem names this file ...
    words: str  # ... and says this
    where: str | None = None  # ... at this key (or a key above or below it)
    hint: str = ""  # ... and its fix says this


# ---------------------------------------------------------------- edits
def swap_positions(coordinates: Any) -> Any:
    """[lon, lat] -> [lat, lon] at any depth of a GeoJSON coordinates array."""
    if coordinates and isinstance(coordinates[0], int | float):
        return [coordinates[1], coordinates[0], *coordinates[2:]]
    return [swap_positions(c) for c in coordinates]


def swap_all_grids(site: Path) -> None:
    def swap(doc: dict) -> None:
        for feature in doc["features"]:
            feature["geometry"]["coordinates"] = swap_positions(feature["geometry"]["coordinates"])

    edit_json(site, GRIDS, swap)


def swap_one_grid(site: Path) -> None:
    def swap(doc: dict) -> None:
        feature = next(f for f in doc["features"] if f["properties"]["id"] == "g-gongye-02")
        feature["geometry"]["coordinates"] = swap_positions(feature["geometry"]["coordinates"])

    edit_json(site, GRIDS, swap)


def swap_sensor(site: Path) -> None:
    def swap(d: dict) -> None:
        loc = d["sensors"][0]["location"]
        loc["lon"], loc["lat"] = loc["lat"], loc["lon"]

    edit_yaml(site, NODE, swap)


def edit_feature(site: Path, area_id: str, change: Callable[[dict], Any]) -> None:
    def edit(doc: dict) -> None:
        change(next(f for f in doc["features"] if f["properties"]["id"] == area_id))

    edit_json(site, GRIDS, edit)


def link_loop(name: str) -> Callable[[Path], None]:
    def breaks(site: Path) -> None:
        (site / name).unlink()
        (site / name).symlink_to(f"{name}.2")
        (site / f"{name}.2").symlink_to(name)

    return breaks


def replace(name: str, content: bytes) -> Callable[[Path], None]:
    def breaks(site: Path) -> None:
        (site / name).write_bytes(content)

    return breaks


def with_dir(name: str) -> Callable[[Path], None]:
    def breaks(site: Path) -> None:
        (site / name).unlink()
        (site / name).mkdir()
        (site / name / "inside.txt").write_text("a directory where a file should be")

    return breaks


def sparse(name: str, size: int) -> Callable[[Path], None]:
    """A file of ``size`` bytes that takes no disk space (its size alone must get it refused)."""

    def breaks(site: Path) -> None:
        with open(site / name, "r+b") as f:
            f.truncate(size)

    return breaks


def long_workers_file(site: Path) -> None:
    """A real YAML workers file of ~5 MB: the demo's workers repeated with new ids."""
    data = yaml.safe_load((site / WORKERS).read_text(encoding="utf-8"))
    lines, size = ["workers:"], 0
    while size < 5_000_000:
        for w in data["workers"]:
            lines.append(f"  - {json.dumps({**w, 'id': f'w-copy-{len(lines)}'})}")
            size += len(lines[-1]) + 1
    (site / WORKERS).write_text("\n".join(lines), encoding="utf-8")


def fifo(name: str) -> Callable[[Path], None]:
    def breaks(site: Path) -> None:
        (site / name).unlink()
        os.mkfifo(site / name)  # opening it would wait for a writer for ever

    return breaks


def billion_laughs(site: Path) -> None:
    levels = ["a0: &a0 [[1, 2], [3, 4], [5, 6]]"]
    for i in range(1, 12):
        levels.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    camera = yaml.safe_load((site / NODE).read_text(encoding="utf-8"))
    camera["cameras"][0]["ignore_masks"] = "ALIAS"
    text = yaml.safe_dump(camera, allow_unicode=True, sort_keys=False).replace("ALIAS", "*a11")
    (site / NODE).write_text("\n".join(["x-anchors:", *("  " + line for line in levels)]) + "\n" + text)


def access_file(data: object) -> Callable[[Path], None]:
    def breaks(site: Path) -> None:
        (site / ACCESS).write_text(yaml.safe_dump(data), encoding="utf-8")

    return breaks


def duplicate_json_key(site: Path) -> None:
    text = (site / GRIDS).read_text(encoding="utf-8").lstrip()
    (site / GRIDS).write_text('{"features": [], ' + text[1:], encoding="utf-8")


def borrowed_sensor(site: Path) -> None:
    other = yaml.safe_load((site / OTHER_NODE).read_text(encoding="utf-8"))
    edit_yaml(site, NODE, lambda d: d["sensors"].append(other["sensors"][0]))


def duplicate_node_file(site: Path) -> None:
    shutil.copy(site / NODE, site / "nodes" / "node-gongye-2.yaml")


def many_bad_workers(site: Path) -> None:
    bad = [
        {"id": f"w-{i}", "name": "", "role": "boss", "home_grid": "g-gongye-01", "duty": []}
        for i in range(3000)
    ]
    (site / WORKERS).write_text(yaml.safe_dump({"workers": bad}), encoding="utf-8")


# ---------------------------------------------------------------- the corpus
TOKEN_A, TOKEN_B = hash_token("a"), hash_token("b")

CORPUS: list[Breakage] = [
    # the seven tracebacks of issue 11
    Breakage(
        "features-is-a-number",
        lambda s: edit_json(s, GRIDS, lambda d: d.update(features=5)),
        GRIDS,
        "must be a list",
        "features",
    ),
    Breakage(
        "checkpoints-is-a-number",
        lambda s: edit_yaml(s, PATROLS, lambda d: d.update(checkpoints=5)),
        PATROLS,
        "valid list",
        "checkpoints",
    ),
    Breakage(
        "routes-is-a-number",
        lambda s: edit_yaml(s, PATROLS, lambda d: d.update(routes=5)),
        PATROLS,
        "valid list",
        "routes",
    ),
    Breakage(
        "deep-yaml-flow",
        replace(WORKERS, b"workers: " + b"[" * 100_000 + b"]" * 100_000),
        WORKERS,
        "nested deeper",
    ),
    Breakage(
        "deep-yaml-block",
        replace(WORKERS, "\n".join(" " * i + f"k{i}:" for i in range(2000)).encode() + b" 1\n"),
        WORKERS,
        "nested deeper",
    ),
    Breakage("deep-json", replace(GRIDS, b"[" * 100_000 + b"]" * 100_000), GRIDS, "nested deeper"),
    Breakage(
        "deep-json-objects", replace(GRIDS, b'{"a":' * 5000 + b"1" + b"}" * 5000), GRIDS, "nested deeper"
    ),
    # swapped coordinates, named as such
    Breakage("grids-swapped", swap_all_grids, GRIDS, "latitude and longitude swapped"),
    Breakage(
        "one-grid-swapped",
        swap_one_grid,
        GRIDS,
        "latitude and longitude are swapped",
        "features[g-gongye-02].geometry",
    ),
    Breakage(
        "sensor-swapped",
        swap_sensor,
        NODE,
        "less than or equal to 90",
        "sensors[smk-factory-a1].location.lat",
        "look swapped",
    ),
    # links, directories, special files
    Breakage("symlink-loop", link_loop(WORKERS), WORKERS, "symbolic link loop"),
    Breakage(
        "symlink-self-loop",
        lambda s: ((s / "site.yaml").unlink(), (s / "site.yaml").symlink_to("site.yaml")),
        "site.yaml",
        "symbolic link loop",
    ),
    Breakage(
        "symlink-dangling",
        lambda s: ((s / WORKERS).unlink(), (s / WORKERS).symlink_to("gone.yaml")),
        WORKERS,
        "which does not exist",
    ),
    Breakage("optional-file-loops", link_loop(PATROLS), PATROLS, "symbolic link loop"),
    Breakage(
        "node-dir-loops",
        lambda s: (shutil.rmtree(s / "nodes"), (s / "nodes").symlink_to("nodes")),
        "nodes",
        "symbolic link loop",
    ),
    Breakage("directory-for-workers", with_dir(WORKERS), WORKERS, "is a directory"),
    Breakage("directory-for-grids", with_dir(GRIDS), GRIDS, "is a directory"),
    Breakage(
        "directory-for-a-node",
        lambda s: (s / "nodes" / "node-x.yaml").mkdir(),
        "nodes/node-x.yaml",
        "is a directory",
    ),
    Breakage(
        "nodes-is-a-file",
        lambda s: (shutil.rmtree(s / "nodes"), (s / "nodes").write_text("x")),
        "nodes",
        "is a file, not a directory",
    ),
    Breakage("fifo-for-escalation", fifo("escalation.yaml"), "escalation.yaml", "named pipe"),
    Breakage(
        "device-for-workers",
        lambda s: ((s / WORKERS).unlink(), (s / WORKERS).symlink_to("/dev/zero")),
        WORKERS,
        "is a device",
    ),
    Breakage("missing-workers", lambda s: (s / WORKERS).unlink(), WORKERS, "file is missing"),
    # size
    Breakage(
        "workers-50-mb", sparse(WORKERS, 50_000_000), WORKERS, "file is 50.0 MB", hint="--max-file-mb 51"
    ),
    Breakage("grids-2-gb", sparse(GRIDS, 2_000_000_000), GRIDS, "limited to 4 MB"),
    Breakage(
        "workers-5-mb-of-yaml",
        long_workers_file,
        WORKERS,
        "limited to 4 MB",
        hint="GRIDWATCH_SITE_MAX_FILE_MB=6",
    ),
    Breakage("billion-laughs", billion_laughs, NODE, "expand to more than"),
    # encodings and bytes
    Breakage("empty-workers", replace(WORKERS, b""), WORKERS, "file is empty"),
    Breakage("comments-only-site", replace("site.yaml", b"# nothing yet\n"), "site.yaml", "file is empty"),
    Breakage("empty-grids", replace(GRIDS, b""), GRIDS, "not valid JSON"),
    Breakage("empty-patrols", replace(PATROLS, b""), PATROLS, "file is empty"),
    Breakage("binary-workers", replace(WORKERS, bytes(range(256)) * 40), WORKERS, "binary data"),
    Breakage(
        "gbk-workers",
        lambda s: (s / WORKERS).write_bytes((s / WORKERS).read_text(encoding="utf-8").encode("gb18030")),
        WORKERS,
        "not UTF-8",
    ),
    Breakage(
        "utf16-escalation",
        lambda s: (s / "escalation.yaml").write_text(
            (s / "escalation.yaml").read_text(encoding="utf-8"), encoding="utf-16"
        ),
        "escalation.yaml",
        "UTF-16",
    ),
    Breakage(
        "utf16-grids",
        lambda s: (s / GRIDS).write_text((s / GRIDS).read_text(encoding="utf-8"), encoding="utf-16"),
        GRIDS,
        "UTF-16",
    ),
    Breakage(
        "nul-in-node",
        lambda s: (s / NODE).write_bytes((s / NODE).read_bytes() + b"\x00"),
        NODE,
        "binary data",
    ),
    # YAML and JSON that parse into the wrong thing
    Breakage(
        "workers-top-level-list", replace(WORKERS, b"- 1\n- 2\n"), WORKERS, "valid dictionary", "(top level)"
    ),
    Breakage(
        "site-top-level-string", replace("site.yaml", b"just a sentence\n"), "site.yaml", "valid dictionary"
    ),
    Breakage("grids-top-level-list", replace(GRIDS, b"[1, 2]"), GRIDS, "FeatureCollection"),
    Breakage(
        "two-yaml-documents",
        lambda s: (s / WORKERS).write_text(
            (s / WORKERS).read_text(encoding="utf-8") + "\n---\nworkers: []\n", encoding="utf-8"
        ),
        WORKERS,
        "not valid YAML",
    ),
    Breakage(
        "python-tag",
        replace("site.yaml", b"site: !!python/object/apply:os.system ['true']\n"),
        "site.yaml",
        "not valid YAML",
    ),
    Breakage(
        "duplicate-yaml-key",
        lambda s: (s / "escalation.yaml").write_text(
            (s / "escalation.yaml").read_text(encoding="utf-8") + "\ntiers: [community]\n", encoding="utf-8"
        ),
        "escalation.yaml",
        "appears twice",
    ),
    Breakage("duplicate-json-key", duplicate_json_key, GRIDS, "key 'features' appears twice"),
    Breakage(
        "feature-is-a-number",
        lambda s: edit_json(s, GRIDS, lambda d: d["features"].append(5)),
        GRIDS,
        "is 5, not a feature",
    ),
    Breakage(
        "feature-of-another-type",
        lambda s: edit_feature(s, "g-donghu-02", lambda f: f.update(type="Polygon")),
        GRIDS,
        "not 'Feature'",
        "features[g-donghu-02].type",
    ),
    Breakage(
        "feature-without-geometry",
        lambda s: edit_feature(s, "g-donghu-02", lambda f: f.pop("geometry")),
        GRIDS,
        "not a geometry",
        "features[g-donghu-02].geometry",
    ),
    Breakage(
        "feature-empty-polygon",
        lambda s: edit_feature(s, "g-donghu-02", lambda f: f["geometry"].update(coordinates=[])),
        GRIDS,
        "no positions",
        "features[g-donghu-02].geometry",
    ),
    Breakage(
        "feature-nan-position",
        lambda s: edit_feature(
            s, "g-donghu-02", lambda f: f["geometry"]["coordinates"][0][1].__setitem__(0, float("nan"))
        ),
        GRIDS,
        "not a number",
        "features[g-donghu-02].geometry",
    ),
    Breakage(
        "feature-in-metres",
        lambda s: edit_feature(
            s,
            "g-donghu-02",
            lambda f: f["geometry"].update(
                coordinates=[[[500000, 3480000], [500100, 3480000], [500100, 3480100], [500000, 3480000]]]
            ),
        ),
        GRIDS,
        "not on Earth",
        "features[g-donghu-02].geometry",
    ),
    Breakage(
        "feature-is-a-point",
        lambda s: edit_feature(
            s, "g-donghu-02", lambda f: f.update(geometry={"type": "Point", "coordinates": [120.3, 31.5]})
        ),
        GRIDS,
        "must be Polygon",
        "features[g-donghu-02].geometry",
    ),
    Breakage(
        "zone-nan-vertex",
        lambda s: edit_yaml(
            s, NODE, lambda d: d["cameras"][0]["zones"][0]["polygon"][0].__setitem__(0, float("nan"))
        ),
        NODE,
        "not a number",
        "cameras[cam-factory-a].zones[floor].polygon",
    ),
    Breakage(
        "huge-id",
        lambda s: edit_yaml(s, WORKERS, lambda d: d["workers"][0].update(id="w" * 100_000)),
        WORKERS,
        "should match pattern",
        "workers[0].id",
    ),
    # duplicate ids
    Breakage(
        "duplicate-worker",
        lambda s: edit_yaml(s, WORKERS, lambda d: d["workers"].append(dict(d["workers"][0]))),
        WORKERS,
        "duplicate worker id 'w-li-na'",
    ),
    Breakage(
        "duplicate-grid",
        lambda s: edit_json(
            s,
            GRIDS,
            lambda d: d["features"].append(
                next(f for f in d["features"] if f["properties"]["id"] == "g-donghu-02")
            ),
        ),
        GRIDS,
        "duplicate id 'g-donghu-02'",
    ),
    Breakage("duplicate-node", duplicate_node_file, "nodes/node-gongye-2.yaml", "differs from the file name"),
    Breakage("duplicate-device", borrowed_sensor, NODE, "is already used on node 'node-donghu-1'"),
    Breakage(
        "duplicate-checkpoint",
        lambda s: edit_yaml(s, PATROLS, lambda d: d["checkpoints"].append(d["checkpoints"][0])),
        PATROLS,
        "duplicate checkpoint id",
    ),
    Breakage(
        "duplicate-zone",
        lambda s: edit_yaml(s, NODE, lambda d: d["cameras"][0]["zones"].append(d["cameras"][0]["zones"][0])),
        NODE,
        "duplicate zone id",
    ),
    # unknown keys
    Breakage(
        "unknown-top-key",
        lambda s: edit_yaml(s, "site.yaml", lambda d: d.update(dispach={})),
        "site.yaml",
        "unknown key 'dispach'",
        "dispach",
    ),
    Breakage(
        "unknown-deep-key",
        lambda s: edit_yaml(
            s, "escalation.yaml", lambda d: d["hazards"]["gas_leak"]["sla"].update(onsite=300)
        ),
        "escalation.yaml",
        "unknown key 'onsite'",
        "hazards.gas_leak.sla.onsite",
    ),
    Breakage(
        "unknown-grid-property",
        lambda s: edit_feature(s, "g-donghu-02", lambda f: f["properties"].update(leeder="w-li-na")),
        GRIDS,
        "unknown key 'leeder'",
        "features[g-donghu-02].properties.leeder",
    ),
    # access.yaml: a malformed entry does not hide the others' problems
    Breakage(
        "access-malformed-and-unknown",
        access_file(
            {
                "operators": [{"id": "op-li", "sha256": "nope"}],
                "workers": [{"id": "w-ghost", "sha256": TOKEN_A}],
            }
        ),
        ACCESS,
        "unknown worker 'w-ghost'",
        "workers[w-ghost]",
    ),
    Breakage(
        "access-malformed-and-shared",
        access_file(
            {
                "operators": [{"id": "op-li", "sha256": TOKEN_A}, {"id": 5}],
                "workers": [{"id": "w-ma-li", "sha256": TOKEN_A}],
            }
        ),
        ACCESS,
        "same token is also given to operator 'op-li'",
    ),
    Breakage(
        "access-operators-is-a-number",
        access_file({"operators": 5, "workers": [{"id": "w-ghost", "sha256": TOKEN_B}]}),
        ACCESS,
        "unknown worker 'w-ghost'",
    ),
    # analytics.yaml: the assessment scheme and the weekly report
    Breakage(
        "assessment-weights-not-100",
        lambda s: edit_yaml(
            s, ANALYTICS, lambda d: d["assessment"]["measures"]["patrol_coverage"].update(weight=40)
        ),
        ANALYTICS,
        "the weights add up to 110, not 100",
        "assessment.measures",
    ),
    Breakage(
        "assessment-share-as-percent",
        lambda s: edit_yaml(
            s, ANALYTICS, lambda d: d["assessment"]["measures"]["on_time_arrival"].update(target=95)
        ),
        ANALYTICS,
        "on_time_arrival.target is 95, but it is a share",
        "assessment.measures",
    ),
    Breakage(
        "assessment-measure-misspelt",
        lambda s: edit_yaml(
            s,
            ANALYTICS,
            lambda d: d["assessment"]["measures"].update(
                reports_rasied=d["assessment"]["measures"].pop("reports_raised")
            ),
        ),
        ANALYTICS,
        "unknown key 'reports_rasied'",
        "assessment.measures.reports_rasied",
        "did you mean 'reports_raised'?",
    ),
    Breakage(
        "report-edition-unknown-area",
        lambda s: edit_yaml(
            s, ANALYTICS, lambda d: d["weekly_report"]["editions"][1].update(area="c-gongyee")
        ),
        ANALYTICS,
        "no area 'c-gongyee' in grids.geojson",
        "weekly_report.editions[1].area",
        "did you mean 'c-gongye'?",
    ),
    Breakage(
        "report-robot-without-link",
        lambda s: edit_yaml(
            s,
            ANALYTICS,
            lambda d: d["weekly_report"]["editions"][0].update(
                send_to=[{"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", "format": "wecom"}]
            ),
        ),
        ANALYTICS,
        "'link_base' is not set",
        "weekly_report",
    ),
    Breakage(
        "report-time-not-hhmm",
        lambda s: edit_yaml(s, ANALYTICS, lambda d: d["weekly_report"].update(at="8am")),
        ANALYTICS,
        "'8am' is not a time of day",
        "weekly_report.at",
    ),
    # a careless site that is long broken
    Breakage("three-thousand-bad-workers", many_bad_workers, WORKERS, "more problems in this file"),
]


# ---------------------------------------------------------------- wrong types at every level
def _wrong(value: Any) -> Any:
    """A value of a type the schema never takes where ``value`` stood."""
    if isinstance(value, dict):
        return 5
    if isinstance(value, list):
        return "a sentence"
    if isinstance(value, bool | str) or value is None:
        return [1]
    return {"x": 1}  # a number


def _walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _walk(child, (*path, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _walk(child, (*path, i))


def key_label(data: Any, path: tuple[Any, ...], file: str) -> str:
    """How a problem names ``path``: list items by their id (grid features by their properties' id)."""
    out, node = "", data
    for part in path:
        node = node[part]
        if isinstance(part, int):
            named = node.get("properties") if file == GRIDS and isinstance(node, dict) else node
            ident = named.get("id") if isinstance(named, dict) else None
            out += f"[{ident if isinstance(ident, str) else part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _load(file: str) -> Any:
    text = (DEMO_SITE / file).read_text(encoding="utf-8")
    return json.loads(text) if file.endswith(".geojson") else yaml.safe_load(text)


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return data


def _with_wrong_type(file: str, path: tuple[Any, ...]) -> Any:
    data = _load(file)
    old = data
    for part in path:
        old = old[part]
    return _set(data, path, _wrong(old))


def wrong_type_cases() -> list[Breakage]:
    """For each file of the demo site and each depth of it, the first value there given a wrong type."""
    files = sorted(
        str(p.relative_to(DEMO_SITE)) for p in DEMO_SITE.rglob("*") if p.suffix in (".yaml", ".geojson")
    )
    cases = []
    for file in files:
        data = _load(file)
        first_at: dict[int, tuple[Any, ...]] = {}
        for path in _walk(data):
            first_at.setdefault(len(path), path)
        for depth, path in sorted(first_at.items()):
            changed = _with_wrong_type(file, path)
            text = json.dumps(changed) if file.endswith(".geojson") else yaml.safe_dump(changed)

            def breaks(site: Path, file: str = file, text: str = text) -> None:
                (site / file).write_text(text, encoding="utf-8")

            label = key_label(changed, path, file)
            cases.append(Breakage(f"wrong-type:{file}:depth-{depth}", breaks, file, "", label))
    return cases
