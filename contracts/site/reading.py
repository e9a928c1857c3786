"""Reading a site's files: bytes on disk to raw data (dicts, lists, scalars), or a problem saying why not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from contracts.site.problems import Problem

# The files of a site directory (access.yaml: contracts.site.access.ACCESS_FILE).
SITE_FILE = "site.yaml"
GRIDS_FILE = "grids.geojson"
WORKERS_FILE = "workers.yaml"
ESCALATION_FILE = "escalation.yaml"
PATROLS_FILE = "patrols.yaml"
NODES_DIR = "nodes"


def read_yaml(root: Path, name: str, problems: list[Problem]) -> Any:
    path = root / name
    if not path.is_file():
        problems.append(Problem(name, "(file)", "file is missing", f"create {path}"))
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problems.append(
            Problem(
                name,
                where,
                f"not valid YAML: {getattr(exc, 'problem', exc)}",
                "check indentation and quoting around that line",
            )
        )
        return None
    except UnicodeDecodeError:
        problems.append(Problem(name, "(file)", "not UTF-8 text", "save the file as UTF-8"))
        return None
    if data is None:
        problems.append(Problem(name, "(file)", "file is empty"))
    return data


def read_json(root: Path, name: str, problems: list[Problem], missing_hint: str) -> Any:
    path = root / name
    if not path.is_file():
        problems.append(Problem(name, "(file)", "file is missing", missing_hint))
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, "(file)", f"not valid JSON: {exc}"))
        return None
